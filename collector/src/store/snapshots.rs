//! The fingerprint a kept past state of the matrix is checked against (migration 0007,
//! `matrix::past`): what a grading at a date reads — the transitions, the answers and the
//! organizations up to it. Dialect-free: both backends run these queries and build the
//! fingerprint here, so that they agree on what "unchanged" means.

/// The fingerprint of the data up to one date. Transitions are only ever appended (a late
/// report or a regrade adds some), answers are replaced in place but then move their
/// `imported_at`, organizations are only added: a change to any shows in these counts and
/// maxima.
use super::sql::{shared, Sql};

pub(super) fn inputs(
    (transitions, highest_id): (i64, i64),
    (answers, last_import): (i64, &str),
    orgs: i64,
) -> String {
    format!("{transitions}:{highest_id}/{answers}:{last_import}/{orgs}")
}

// The statements of both backends.

/// Count and latest import of the answers dated up to a day (`YYYY-MM-DD`).
pub(super) const ANSWERS_UP_TO: Sql = shared!(
    "SELECT COUNT(*), COALESCE(MAX(imported_at), '') FROM assessments WHERE answered_on <= $1"
);

/// The kept state of a date (`at`, `grading`): its fingerprint and levels.
pub(super) const SNAPSHOT: Sql =
    shared!("SELECT inputs, levels FROM matrix_snapshots WHERE at = $1 AND grading = $2");

/// Keeps (or replaces) the state of a date: at, grading, inputs, levels, computed_at.
pub(super) const SAVE_SNAPSHOT: Sql = shared!(
    "INSERT INTO matrix_snapshots (at, grading, inputs, levels, computed_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (at, grading) DO UPDATE SET
         inputs = excluded.inputs, levels = excluded.levels, computed_at = excluded.computed_at"
);

/// The transitions in one range of the `at` index (parameters: after, up to).
pub(super) const HISTORY_RANGE: Sql =
    shared!("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM transitions WHERE at > $1 AND at <= $2");

/// The dates in ascending order, each with the range of `at` since the previous one
/// (`(index in texts, after, up to)`): summed in that order, the ranges give every date's
/// count in one pass over the history up to the latest date, the one cost here that grows
/// with the years kept. A single query with a `FILTER` per date read the same rows three
/// times slower.
pub(super) fn history_ranges(texts: &[String]) -> Vec<(usize, &str, &str)> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by(|a, b| texts[*a].cmp(&texts[*b]));
    let mut after = "";
    order
        .into_iter()
        .map(|i| {
            let range = (i, after, texts[i].as_str());
            after = texts[i].as_str();
            range
        })
        .collect()
}

/// `(count, highest id)` of the transitions up to each date, from the ranges' parts in
/// ascending order.
pub(super) fn accumulate_history(dates: usize, parts: Vec<(usize, (i64, i64))>) -> Vec<(i64, i64)> {
    let mut out = vec![(0, 0); dates];
    let (mut count, mut highest) = (0, 0);
    for (i, (n, id)) in parts {
        count += n;
        highest = highest.max(id);
        out[i] = (count, highest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{accumulate_history, history_ranges};

    #[test]
    fn ranges_cover_every_date_once_in_ascending_order_and_sum_back() {
        let texts: Vec<String> = ["2026-10-01", "2026-04-01", "2026-07-01", "2026-07-01"]
            .map(str::to_owned)
            .to_vec();
        let ranges = history_ranges(&texts);
        let bounds: Vec<(&str, &str)> = ranges.iter().map(|(_, a, b)| (*a, *b)).collect();
        assert_eq!(
            bounds,
            [
                ("", "2026-04-01"),
                ("2026-04-01", "2026-07-01"),
                ("2026-07-01", "2026-07-01"),
                ("2026-07-01", "2026-10-01"),
            ]
        );
        // 3 transitions up to April (highest id 9), 2 more up to July (ids up to 7), none in
        // the empty range, 4 more up to October (highest 12).
        let parts: Vec<(usize, (i64, i64))> = ranges
            .iter()
            .zip([(3, 9), (2, 7), (0, 0), (4, 12)])
            .map(|((i, _, _), part)| (*i, part))
            .collect();
        assert_eq!(
            accumulate_history(texts.len(), parts),
            [(9, 12), (3, 9), (5, 9), (5, 9)]
        );
    }
}
