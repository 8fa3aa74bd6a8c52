//! The schema migrations of both dialects: the same numbers, names and meaning, one file each
//! (`migrations/` for SQLite, `migrations/postgres/`), applied in order, each once;
//! `schema_migrations` records them.

/// A dialect's migrations: `(version, name, SQL)`, ascending.
pub(super) type Migrations = [(u32, &'static str, &'static str)];

/// The two lists, from one table of `version name file;`.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal;)*) => {
        pub(super) const SQLITE: &Migrations =
            &[$(($version, $name, include_str!(concat!("../../migrations/", $file)))),*];
        pub(super) const POSTGRES: &Migrations =
            &[$(($version, $name, include_str!(concat!("../../migrations/postgres/", $file)))),*];
    };
}

migrations! {
    1 "initial" "0001_initial.sql";
    2 "assessments" "0002_assessments.sql";
    3 "audit" "0003_audit.sql";
    4 "current_state" "0004_current_state.sql";
    5 "retention" "0005_retention.sql";
    6 "org_meta" "0006_org_meta.sql";
    7 "matrix_snapshots" "0007_matrix_snapshots.sql";
    8 "latest_by_agent" "0008_latest_by_agent.sql";
    9 "report_compression" "0009_report_compression.sql";
    10 "scraper_tokens" "0010_scraper_tokens.sql";
    11 "org_report_bytes" "0011_org_report_bytes.sql";
    12 "viewer_roles" "0012_viewer_roles.sql";
    13 "report_body_zstd" "0013_report_body_zstd.sql";
}

/// The SQLite migration whose file runs after the collector compressed the stored bodies
/// (`sqlite/body.rs`).
pub(super) const COMPRESS_BODIES: u32 = 13;

/// Numbers given to work not landed yet; a number is never reused, so a gap here is a
/// migration to come, not one skipped.
#[cfg(test)]
const RESERVED: [u32; 0] = [];

/// The migrations a database at schema `current` still needs (`None` when only checking, as
/// `apply` is false); refuses a database newer than this build, whatever `apply`.
pub(super) fn pending(
    migrations: &'static Migrations,
    current: u32,
    apply: bool,
) -> Result<Option<&'static Migrations>, super::StoreError> {
    let known = migrations.last().map_or(0, |m| m.0);
    if current > known {
        return Err(super::StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let first = migrations.partition_point(|m| m.0 <= current);
    Ok(apply.then(|| &migrations[first..]))
}

#[cfg(test)]
mod tests {
    /// Both dialects carry every migration, numbered from 1 without a gap but the reserved
    /// numbers.
    #[test]
    fn both_dialects_know_the_same_migrations() {
        let names = |list: &[(u32, &'static str, &str)]| {
            list.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>()
        };
        assert_eq!(names(super::SQLITE), names(super::POSTGRES));
        let versions: Vec<u32> = super::SQLITE.iter().map(|m| m.0).collect();
        let last = versions.last().copied().unwrap_or(0);
        let expected: Vec<u32> = (1..=last)
            .filter(|v| !super::RESERVED.contains(v) || versions.contains(v))
            .collect();
        assert_eq!(versions, expected);
    }
}
