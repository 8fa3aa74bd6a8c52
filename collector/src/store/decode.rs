//! Reading rows that the collector cannot parse, the same way on both backends.
//!
//! A database may hold a value this build cannot read: a date `+10000-01-01` an older
//! collector accepted from a hostile agent, a status renamed by hand. Such a row must cost
//! only itself: the reader skips it and says so in the log, and `/metrics`, the matrix and
//! the read API go on for every other organization. A read that fails as a whole (the
//! database away, a driver error) still fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::StoreError;

/// The longest stored value quoted in the log: a row's value may be long and is not trusted.
const LOGGED_VALUE_CHARS: usize = 64;

/// Skipped rows logged one by one per column and per [`LOG_WINDOW`] at most: a database
/// holding thousands of them must not flood the log at every scrape. The others are
/// counted, and the count is logged once the window is over.
const LOGGED_PER_WINDOW: u64 = 5;
const LOG_WINDOW: Duration = Duration::from_secs(60);

/// The window's start, and per column the rows logged in it and those skipped without a
/// line.
type LogWindow = (Instant, HashMap<&'static str, (u64, u64)>);

static LOGGED: Mutex<Option<LogWindow>> = Mutex::new(None);

/// Whether this skipped row of `column` gets a line of its own; says how many did not, once
/// a window is over.
fn may_log(column: &'static str) -> bool {
    let mut guard = LOGGED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = Instant::now();
    let (start, columns) = guard.get_or_insert_with(|| (now, HashMap::new()));
    if now.duration_since(*start) >= LOG_WINDOW {
        for (column, (_, unlogged)) in columns.drain() {
            if unlogged > 0 {
                tracing::warn!(
                    column,
                    rows = unlogged,
                    "more stored rows this collector cannot read were skipped in the last minute, without a line each"
                );
            }
        }
        *start = now;
    }
    let (logged, unlogged) = columns.entry(column).or_default();
    if *logged < LOGGED_PER_WINDOW {
        *logged += 1;
        true
    } else {
        *unlogged += 1;
        false
    }
}

/// Runs `decode` over one row already read from `table`; a value it cannot parse
/// ([`StoreError::Corrupt`]) is logged with the table, the column and the row's `key`, and
/// the row is skipped (`None`). Any other error is returned.
pub(super) fn row<T>(
    table: &'static str,
    key: &dyn std::fmt::Debug,
    decode: impl FnOnce() -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    match decode() {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Corrupt { column, value }) => {
            if !may_log(column) {
                return Ok(None);
            }
            let value: String = value.chars().take(LOGGED_VALUE_CHARS).collect();
            // Debug formatting quotes and escapes what came from the database.
            tracing::warn!(
                table,
                column,
                key = ?key,
                value = ?value,
                "skipped a stored row this collector cannot read; the other rows are served (fix or delete the row)"
            );
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_value_skips_the_row_and_other_errors_fail() {
        let skipped = row("agents", &("org", "agent"), || {
            Err::<(), _>(StoreError::Corrupt {
                column: "agents.last_report_at",
                value: "+10000-01-01T00:00:00.000000000Z".to_owned(),
            })
        });
        assert!(matches!(skipped, Ok(None)));
        assert!(matches!(row("agents", &"k", || Ok(3)), Ok(Some(3))));
        let failed = row("agents", &"k", || {
            Err::<(), _>(StoreError::SqliteOnly("this operation"))
        });
        assert!(matches!(failed, Err(StoreError::SqliteOnly(_))));
    }
}
