//! The upgrade path: a SQLite database left at schema version 4 by an older collector, with
//! history in it, is brought to the newest version by `vigie-collector migrate`, which says
//! from which version to which, and keeps every row (migration 5 rebuilds `transitions`,
//! migration 13 compresses the report bodies).

use std::process::Command;

use vigie_collector::Store;
use vigie_model::Status;

#[tokio::test]
async fn migrate_brings_a_version_4_database_up_to_date_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    {
        // What a collector of schema version 4 wrote: its migrations, then some history.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,
                                             name TEXT NOT NULL, applied_at TEXT NOT NULL);",
        )
        .unwrap();
        for (version, name, sql) in [
            (
                1,
                "initial",
                include_str!("../../migrations/0001_initial.sql"),
            ),
            (
                2,
                "assessments",
                include_str!("../../migrations/0002_assessments.sql"),
            ),
            (3, "audit", include_str!("../../migrations/0003_audit.sql")),
            (
                4,
                "current_state",
                include_str!("../../migrations/0004_current_state.sql"),
            ),
        ] {
            db.execute_batch(sql).unwrap();
            db.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-11-01T00:00:00.000000000Z')",
                rusqlite::params![version, name],
            )
            .unwrap();
        }
        db.execute_batch(
            "INSERT INTO orgs VALUES ('maple', '2026-11-01T00:00:00.000000000Z');
             INSERT INTO reports VALUES ('r1', 'maple', 'a1', 'ab', '2026-11-01T00:00:00.000000000Z',
                 '2026-11-01T00:00:00.000000000Z', '2026-11-01T00:00:00.000000000Z', '{}');
             INSERT INTO transitions (id, org, target, check_id, from_status, to_status, at, report_id)
             VALUES (7, 'maple', 'www:443', 'tls.connect', NULL, 'pass', '2026-11-01T00:00:00.000000000Z', 'r1'),
                    (9, 'maple', 'www:443', 'tls.connect', 'pass', 'fail', '2026-11-02T00:00:00.000000000Z', 'r1');",
        )
        .unwrap();
    }
    let url = format!("sqlite://{}", path.display());
    let output = Command::new(env!("CARGO_BIN_EXE_vigie-collector"))
        .args(["migrate", "--database-url", &url])
        .env_remove("VIGIE_CONFIG")
        .env_remove("VIGIE_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let known = Store::known_schema_version();
    assert!(
        stderr.contains(&format!("migrated from schema version 4 to {known}")),
        "{stderr}"
    );

    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), known);
    let history = store
        .transitions("maple", "www:443", "tls.connect")
        .await
        .unwrap();
    let steps: Vec<_> = history.iter().map(|t| (t.0, t.1, t.3.as_str())).collect();
    assert_eq!(
        steps,
        vec![
            (None, Status::Pass, "r1"),
            (Some(Status::Pass), Status::Fail, "r1")
        ]
    );
    // Migration 13 compressed the body stored as text; it reads back the same, and the
    // organization's stored bytes are the compressed ones.
    assert_eq!(
        store.report_body("r1").await.unwrap().as_deref(),
        Some("{}")
    );
    let db = rusqlite::Connection::open(&path).unwrap();
    let (kind, stored, counted): (String, i64, i64) = db
        .query_row(
            "SELECT typeof(body), length(CAST(body AS BLOB)),
                    (SELECT report_bytes FROM orgs WHERE org = 'maple')
             FROM reports WHERE report_id = 'r1'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(kind, "blob");
    assert_eq!(stored, counted);
    // The report a transition names may now be pruned: history no longer holds it.
    db.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM reports WHERE report_id = 'r1';")
        .unwrap();
    let ids: Vec<i64> = db
        .prepare("SELECT id FROM transitions ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, vec![7, 9], "ids kept");
}
