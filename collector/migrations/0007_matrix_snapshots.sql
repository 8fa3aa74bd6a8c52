-- The capability levels of every organization as they stood at a past date (a quarter end or
-- an export's `--since`), graded once and kept: rebuilding a past state means walking the
-- status history and re-reading old reports, which costs more than the rest of an export.
--
-- `grading` names what the levels depend on besides the data (TLS profile, rules version);
-- `inputs` fingerprints the data at `at` (transitions, answers and organizations up to that
-- date). A late report, an answer dated before `at` or a new organization changes the
-- fingerprint, and the snapshot is graded again on the next export.
CREATE TABLE matrix_snapshots (
    at          TEXT NOT NULL,
    grading     TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    levels      TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (at, grading)
);

-- The fingerprint counts the transitions up to a date.
CREATE INDEX transitions_by_at ON transitions (at);
