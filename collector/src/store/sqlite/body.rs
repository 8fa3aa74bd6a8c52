//! Report bodies on SQLite: zstd-compressed JSON (migration 13), as PostgreSQL keeps them
//! lz4-compressed by TOAST (migration 9). A body is ~56 KB of JSON at 200 findings and
//! compresses about tenfold: the raw reports were nearly all of the file's growth (issue 18).
//!
//! The column keeps its declared type: SQLite stores any value in any column, so a body is
//! a BLOB (compressed) or, in a database not yet migrated, TEXT; [`decode`] reads both.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::super::StoreError;
use super::sql as sql_error;

/// zstd's default level: at 200 findings a body compresses to about a tenth in ~0.2 ms on the
/// request's thread; higher levels saved little more for several times the CPU.
const LEVEL: i32 = 3;

/// Reads of one body are bounded by what ingest accepts; this bounds what a corrupt frame may
/// make the collector allocate.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A body as stored.
pub(super) fn compress(json: &str) -> Result<Vec<u8>, StoreError> {
    zstd::bulk::compress(json.as_bytes(), LEVEL).map_err(|error| StoreError::Corrupt {
        column: "reports.body",
        value: format!("a report that zstd could not compress ({error})"),
    })
}

/// A stored body as JSON text: decompressed if it is a BLOB, as is if it is TEXT.
pub(super) fn decode(value: ValueRef<'_>) -> Result<String, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt {
        column: "reports.body",
        value: what,
    };
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map_err(|_| corrupt("text that is not UTF-8".to_owned())),
        ValueRef::Blob(bytes) => {
            let json = zstd::bulk::decompress(bytes, MAX_BODY_BYTES).map_err(|error| {
                corrupt(format!("a zstd frame that does not decompress ({error})"))
            })?;
            String::from_utf8(json)
                .map_err(|_| corrupt("a compressed body that is not UTF-8".to_owned()))
        }
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => {
            Err(corrupt(format!("a {:?} value", value.data_type())))
        }
    }
}

/// Migration 13's conversion, inside its transaction: every body still stored as text is
/// compressed in place. Returns how many were. Rows are read in rowid order a batch at a
/// time, so memory stays bounded by the batch whatever the file's size.
pub(super) fn compress_stored(tx: &Connection) -> Result<u64, StoreError> {
    const BATCH: i64 = 500;
    let mut after = i64::MIN;
    let mut converted = 0;
    // Bounded: each round moves `after` past the rows it read, and ends when none are left.
    loop {
        let rows: Vec<(i64, String)> = {
            let mut statement = tx
                .prepare_cached(
                    "SELECT rowid, body FROM reports
                     WHERE rowid > ?1 AND typeof(body) = 'text' ORDER BY rowid LIMIT ?2",
                )
                .map_err(sql_error("preparing the read of text bodies"))?;
            let mut rows = statement
                .query(rusqlite::params![after, BATCH])
                .map_err(sql_error("reading text bodies"))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql_error("reading text bodies"))? {
                let rowid: i64 = row.get(0).map_err(sql_error("reading a rowid"))?;
                let body = decode(row.get_ref(1).map_err(sql_error("reading a body"))?)?;
                out.push((rowid, body));
            }
            out
        };
        let Some(&(last, _)) = rows.last() else {
            return Ok(converted);
        };
        let mut update = tx
            .prepare_cached("UPDATE reports SET body = ?2 WHERE rowid = ?1")
            .map_err(sql_error("preparing the body update"))?;
        for (rowid, body) in rows {
            update
                .execute(rusqlite::params![rowid, compress(&body)?])
                .map_err(sql_error("compressing a stored body"))?;
            converted += 1;
        }
        after = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_old_text_bodies_read_as_they_are() {
        let json = r#"{"schema":"vigie.report.v1","findings":[]}"#.repeat(50);
        let stored = compress(&json).unwrap();
        assert!(stored.len() < json.len() / 5, "{} bytes", stored.len());
        assert_eq!(decode(ValueRef::Blob(&stored)).unwrap(), json);
        assert_eq!(decode(ValueRef::Text(json.as_bytes())).unwrap(), json);
        assert!(decode(ValueRef::Blob(b"not zstd")).is_err());
        assert!(decode(ValueRef::Null).is_err());
    }

    #[test]
    fn the_migration_compresses_every_text_body_and_leaves_blobs() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE reports (report_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
            .unwrap();
        let json = |i: usize| format!("{{\"report\":{i},\"pad\":\"{}\"}}", "x".repeat(900));
        for i in 0..1203 {
            db.execute(
                "INSERT INTO reports VALUES (?1, ?2)",
                rusqlite::params![i.to_string(), json(i)],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO reports VALUES ('z', ?1)",
            [compress("{\"already\":1}").unwrap()],
        )
        .unwrap();
        assert_eq!(compress_stored(&db).unwrap(), 1203);
        let text: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM reports WHERE typeof(body) = 'text'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(text, 0);
        let read = |id: &str| {
            db.query_row("SELECT body FROM reports WHERE report_id = ?1", [id], |r| {
                Ok(decode(r.get_ref(0)?).unwrap())
            })
            .unwrap()
        };
        assert_eq!(read("1202"), json(1202));
        assert_eq!(read("z"), "{\"already\":1}");
        assert_eq!(compress_stored(&db).unwrap(), 0);
    }
}
