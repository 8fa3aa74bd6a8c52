-- Self-assessment answers (the capability matrix questionnaire), imported with
-- `vigie-collector assess import FILE`. Every import is kept: the newest answer to a
-- question wins, and answers older than 12 months are ignored when grading (the rules are in
-- vigie-matrix), so that the history of levels can be recomputed.
CREATE TABLE assessments (
    id              INTEGER PRIMARY KEY,
    org             TEXT NOT NULL REFERENCES orgs (org),
    question        TEXT NOT NULL,
    answer          TEXT NOT NULL,
    respondent_role TEXT NOT NULL,
    -- YYYY-MM-DD.
    answered_on     TEXT NOT NULL,
    evidence        TEXT,
    imported_at     TEXT NOT NULL,
    UNIQUE (org, question, answered_on)
);
CREATE INDEX assessments_by_org ON assessments (org, question, answered_on);
