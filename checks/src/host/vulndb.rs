//! Known vulnerabilities: OSV advisories imported into a compact local index, matched
//! against the installed packages with each ecosystem's version ordering.
//!
//! ```text
//! import_osv("debian-all.zip", "/var/lib/vigie/vulndb.sqlite")?;   // vigie-agent vulndb import
//! let scan = vulndb::scan(&observation, Path::new("/var/lib/vigie/vulndb.sqlite"))?;
//! observation.vulnerabilities = Some(scan);                         // then evaluate
//! ```
//!
//! The index is a SQLite file (one row per advisory, one per affected package, indexed by
//! ecosystem and package), written to a temporary file and renamed, so a failed import
//! leaves the previous index intact. Only distribution ecosystems are kept (Debian, Ubuntu,
//! Alpine, Rocky Linux, AlmaLinux, Red Hat, SUSE, openSUSE); only `ECOSYSTEM` ranges and
//! explicit `versions` are used (the OSV schema, <https://ossf.github.io/osv-schema/>).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigie_model::Severity;

use super::observation::HostObservation;
use super::os::OsRelease;
use vigie_grade::host::version::VersionScheme;

pub use vigie_model::observation::host::{VulnMatch, VulnScan};

/// Format version of the index file; a different one is refused with a message to
/// re-import.
pub const INDEX_FORMAT: &str = "vigie.vulndb.v1";

/// OSV ecosystem prefixes kept in the index, with their version ordering.
const ECOSYSTEMS: [(&str, VersionScheme); 8] = [
    ("Debian", VersionScheme::Dpkg),
    ("Ubuntu", VersionScheme::Dpkg),
    ("Alpine", VersionScheme::Apk),
    ("Rocky Linux", VersionScheme::Rpm),
    ("AlmaLinux", VersionScheme::Rpm),
    ("Red Hat", VersionScheme::Rpm),
    ("SUSE", VersionScheme::Rpm),
    ("openSUSE", VersionScheme::Rpm),
];

fn scheme_of(ecosystem: &str) -> Option<VersionScheme> {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    ECOSYSTEMS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, s)| *s)
}

#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a valid OSV advisory: {error}")]
    Json {
        path: String,
        error: serde_json::Error,
    },
    #[error("{path}: not a readable zip archive: {error}")]
    Zip {
        path: PathBuf,
        error: zip::result::ZipError,
    },
    #[error("vulnerability index {path}: {error}")]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("vulnerability index {path}: {reason}")]
    Index { path: PathBuf, reason: String },
}

// ---------------------------------------------------------------------------------------
// OSV records (the fields used; unknown fields are ignored)

#[derive(Debug, Deserialize)]
struct Osv {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

/// One range event as stored in the index: exactly one field is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Severity

/// CVSS v3.x base score of a vector (`CVSS:3.1/AV:N/AC:L/...`), per the FIRST
/// specification §7.1; `None` for other versions or a malformed vector.
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    let mut parts = vector.split('/');
    let head = parts.next()?;
    if head != "CVSS:3.0" && head != "CVSS:3.1" {
        return None;
    }
    let metrics: BTreeMap<&str, &str> = parts.filter_map(|p| p.split_once(':')).collect();
    let changed = match *metrics.get("S")? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match *metrics.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *metrics.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*metrics.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *metrics.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |m: &str| -> Option<f64> {
        match *metrics.get(m)? {
            "H" => Some(0.56),
            "L" => Some(0.22),
            "N" => Some(0.0),
            _ => None,
        }
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02_f64).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(roundup(raw))
}

/// CVSS v3.1 Roundup: the smallest one-decimal number ≥ x, computed on integers to avoid
/// floating-point artefacts (spec Appendix A).
fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

pub fn severity_of_score(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// A distribution's own rating word (Ubuntu priorities, Red Hat and SUSE ratings, GHSA).
fn severity_of_word(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" | "important" => Some(Severity::High),
        "medium" | "moderate" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        "negligible" | "unimportant" | "none" => Some(Severity::Info),
        _ => None,
    }
}

fn severity_of_entry(s: &OsvSeverity) -> Option<Severity> {
    match s.kind.as_str() {
        "CVSS_V3" => cvss3_base_score(&s.score).map(severity_of_score),
        "CVSS_V4" | "CVSS_V2" => None,
        _ => severity_of_word(&s.score),
    }
}

fn severity_in_json(v: &Option<serde_json::Value>) -> Option<Severity> {
    v.as_ref()?
        .get("severity")?
        .as_str()
        .and_then(severity_of_word)
}

/// The worst severity an advisory states, anywhere the schema allows it.
fn advisory_severity(osv: &Osv) -> Option<Severity> {
    let mut found: Vec<Severity> = osv.severity.iter().filter_map(severity_of_entry).collect();
    found.extend(severity_in_json(&osv.database_specific));
    for a in &osv.affected {
        found.extend(a.severity.iter().filter_map(severity_of_entry));
        found.extend(severity_in_json(&a.ecosystem_specific));
        found.extend(severity_in_json(&a.database_specific));
    }
    found.into_iter().max()
}

// ---------------------------------------------------------------------------------------
// Import

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportStats {
    pub files: u64,
    pub advisories: u64,
    pub affected: u64,
    /// Withdrawn advisories, left out.
    pub withdrawn: u64,
    /// Advisories with no distribution ecosystem this index keeps.
    pub other_ecosystems: u64,
    pub ecosystems: BTreeSet<String>,
}

struct Writer<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    stats: ImportStats,
    /// OSV id → row id of the advisories written so far.
    seen: std::collections::HashMap<String, i64>,
}

impl Writer<'_> {
    fn sql(&self, error: rusqlite::Error) -> VulnDbError {
        VulnDbError::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), VulnDbError> {
        self.stats.files += 1;
        let osv: Osv = serde_json::from_slice(bytes).map_err(|error| VulnDbError::Json {
            path: name.to_owned(),
            error,
        })?;
        if osv.withdrawn.is_some() {
            self.stats.withdrawn += 1;
            return Ok(());
        }
        let mut rows = Vec::new();
        for a in &osv.affected {
            let Some(pkg) = &a.package else { continue };
            if scheme_of(&pkg.ecosystem).is_none() {
                continue;
            }
            let events: Vec<Vec<Event>> = a
                .ranges
                .iter()
                .filter(|r| r.kind == "ECOSYSTEM")
                .map(|r| r.events.clone())
                .collect();
            if events.is_empty() && a.versions.is_empty() {
                continue;
            }
            rows.push((
                pkg.ecosystem.clone(),
                pkg.name.clone(),
                serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()),
                serde_json::to_string(&a.versions).unwrap_or_else(|_| "[]".into()),
            ));
        }
        if rows.is_empty() {
            self.stats.other_ecosystems += 1;
            return Ok(());
        }
        // CVE ids: aliases and, for distribution advisories (DSA, USN), `upstream`.
        let mut aliases: Vec<String> = osv.aliases.clone();
        aliases.extend(osv.upstream.iter().cloned());
        aliases.sort();
        aliases.dedup();
        let severity = advisory_severity(&osv).map(|s| s.as_str().to_owned());
        // A later file with the same id (a newer export) replaces the earlier one. Ids seen
        // are kept in memory: a lookup in the table per advisory would make a 50,000-file
        // import quadratic.
        if let Some(old) = self.seen.remove(&osv.id) {
            let removed = self
                .tx
                .execute("DELETE FROM affected WHERE advisory = ?1", [old])
                .map_err(|e| self.sql(e))?;
            self.stats.affected -= removed as u64;
            self.tx
                .execute("DELETE FROM advisory WHERE id = ?1", [old])
                .map_err(|e| self.sql(e))?;
            self.stats.advisories -= 1;
        }
        self.tx
            .prepare_cached(
                "INSERT INTO advisory (osv_id, aliases, summary, severity, modified) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    osv.id,
                    serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into()),
                    osv.summary,
                    severity,
                    osv.modified
                ])
            })
            .map_err(|e| self.sql(e))?;
        let id = self.tx.last_insert_rowid();
        self.seen.insert(osv.id.clone(), id);
        for (eco, name, ranges, versions) in rows {
            self.tx
                .prepare_cached(
                    "INSERT INTO affected (advisory, ecosystem, package, ranges, versions) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| stmt.execute(rusqlite::params![id, eco, name, ranges, versions]))
                .map_err(|e| self.sql(e))?;
            self.stats.affected += 1;
            self.stats.ecosystems.insert(eco);
        }
        self.stats.advisories += 1;
        Ok(())
    }
}

fn walk_json(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), VulnDbError> {
    // OSV exports are one or two levels deep; the bound stops symlink cycles.
    if depth > 8 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|error| VulnDbError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk_json(&p, out, depth + 1)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Imports OSV advisories from a directory of `.json` files (searched recursively), a
/// `.zip` export (e.g. osv.dev's `Debian/all.zip`) or one `.json` file into a new index at
/// `index_path`, replacing it atomically. Any file that is not valid OSV JSON fails the
/// import with its name.
pub fn import_osv(source: &Path, index_path: &Path) -> Result<ImportStats, VulnDbError> {
    let tmp = index_path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = import_into(source, &tmp);
    match result {
        Ok(stats) => {
            std::fs::rename(&tmp, index_path).map_err(|error| VulnDbError::Io {
                path: index_path.to_path_buf(),
                error,
            })?;
            Ok(stats)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn import_into(source: &Path, tmp: &Path) -> Result<ImportStats, VulnDbError> {
    let sql = |error: rusqlite::Error| VulnDbError::Sqlite {
        path: tmp.to_path_buf(),
        error,
    };
    let mut conn = rusqlite::Connection::open(tmp).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE advisory (id INTEGER PRIMARY KEY, osv_id TEXT NOT NULL UNIQUE,
             aliases TEXT NOT NULL, summary TEXT, severity TEXT, modified TEXT);
         CREATE TABLE affected (advisory INTEGER NOT NULL REFERENCES advisory(id),
             ecosystem TEXT NOT NULL, package TEXT NOT NULL, ranges TEXT NOT NULL,
             versions TEXT NOT NULL);",
    )
    .map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    let mut w = Writer {
        tx,
        path: tmp.to_path_buf(),
        stats: ImportStats::default(),
        seen: Default::default(),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| VulnDbError::Io { path, error }
    };
    if source.is_dir() {
        let mut files = Vec::new();
        walk_json(source, &mut files, 0)?;
        for f in files {
            let bytes = std::fs::read(&f).map_err(io(&f))?;
            w.add(&f.display().to_string(), &bytes)?;
        }
    } else if source.extension().is_some_and(|e| e == "zip") {
        let file = std::fs::File::open(source).map_err(io(source))?;
        let zip_err = |e| VulnDbError::Zip {
            path: source.to_path_buf(),
            error: e,
        };
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zip_err)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zip_err)?;
            if !entry.is_file() || !entry.name().ends_with(".json") {
                continue;
            }
            let name = format!("{}!{}", source.display(), entry.name());
            let mut bytes = Vec::with_capacity(entry.size().min(1 << 24) as usize);
            entry.read_to_end(&mut bytes).map_err(io(source))?;
            w.add(&name, &bytes)?;
        }
    } else {
        let bytes = std::fs::read(source).map_err(io(source))?;
        w.add(&source.display().to_string(), &bytes)?;
    }
    let Writer { tx, stats, .. } = w;
    tx.execute_batch("CREATE INDEX affected_by_package ON affected(ecosystem, package);")
        .map_err(sql)?;
    let now = chrono::Utc::now().to_rfc3339();
    for (k, v) in [
        ("format", INDEX_FORMAT.to_owned()),
        ("imported_at", now),
        ("source", source.display().to_string()),
        ("advisories", stats.advisories.to_string()),
    ] {
        tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, &v])
            .map_err(sql)?;
    }
    tx.commit().map_err(sql)?;
    Ok(stats)
}

// ---------------------------------------------------------------------------------------
// Matching

/// Whether `version` is inside one OSV range (events in any order, per the schema's
/// evaluation algorithm: sort by version, the last event at or below the version decides).
pub fn in_range(scheme: VersionScheme, version: &str, events: &[Event]) -> bool {
    let key = |e: &Event| -> (Option<String>, u8) {
        if let Some(v) = &e.introduced {
            (if v == "0" { None } else { Some(v.clone()) }, 0)
        } else if let Some(v) = &e.fixed {
            (Some(v.clone()), 1)
        } else if let Some(v) = &e.last_affected {
            (Some(v.clone()), 2)
        } else if let Some(v) = &e.limit {
            (Some(v.clone()), 3)
        } else {
            (None, 4)
        }
    };
    let mut sorted: Vec<(Option<String>, u8)> =
        events.iter().map(key).filter(|k| k.1 < 4).collect();
    sorted.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => a.1.cmp(&b.1),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => scheme.compare(x, y).then(a.1.cmp(&b.1)),
    });
    let mut affected = false;
    for (v, kind) in &sorted {
        let cmp = match v {
            None => Ordering::Greater, // introduced "0": every version is above it
            Some(v) => scheme.compare(version, v),
        };
        match kind {
            0 if cmp != Ordering::Less => affected = true,
            1 if cmp != Ordering::Less => affected = false,
            2 if cmp == Ordering::Greater => affected = false,
            3 if cmp != Ordering::Less => affected = false,
            _ => {}
        }
    }
    affected
}

/// The fixed version named in a set of ranges, when one is.
fn fixed_version(ranges: &[Vec<Event>]) -> Option<String> {
    ranges
        .iter()
        .flatten()
        .filter_map(|e| e.fixed.clone())
        .next_back()
}

/// The OSV ecosystems describing this release: exact names, and prefixes/suffixes for
/// vendors whose ecosystem names carry a product variant.
fn host_ecosystem_matches(os: &OsRelease, ecosystem: &str) -> bool {
    let Some(version) = os.version_id.as_deref() else {
        return false;
    };
    let major = version.split('.').next().unwrap_or(version);
    let major_minor = {
        let mut it = version.split('.');
        match (it.next(), it.next()) {
            (Some(a), Some(b)) => format!("{a}.{b}"),
            _ => version.to_owned(),
        }
    };
    match os.id.as_str() {
        "debian" => ecosystem == format!("Debian:{major}"),
        "ubuntu" => {
            ecosystem == format!("Ubuntu:{version}")
                || ecosystem == format!("Ubuntu:{version}:LTS")
                || ecosystem.starts_with(&format!("Ubuntu:Pro:{version}"))
        }
        "alpine" => ecosystem == format!("Alpine:v{major_minor}"),
        "rocky" => ecosystem == format!("Rocky Linux:{major}"),
        "almalinux" => ecosystem == format!("AlmaLinux:{major}"),
        "rhel" => ecosystem.starts_with(&format!("Red Hat:enterprise_linux:{major}::")),
        "sles" | "sled" => {
            let suffix = match version.split_once('.') {
                Some((m, sp)) if sp != "0" => format!(" {m} SP{sp}"),
                _ => format!(" {major}"),
            };
            ecosystem.starts_with("SUSE:Linux Enterprise") && ecosystem.ends_with(&suffix)
        }
        "opensuse-leap" => ecosystem == format!("openSUSE:Leap {version}"),
        _ => false,
    }
}

/// Matches the observation's installed packages against the index at `index_path`.
pub fn scan(obs: &HostObservation, index_path: &Path) -> Result<VulnScan, VulnDbError> {
    let sql = |error: rusqlite::Error| VulnDbError::Sqlite {
        path: index_path.to_path_buf(),
        error,
    };
    let index_err = |reason: String| VulnDbError::Index {
        path: index_path.to_path_buf(),
        reason,
    };
    if !index_path.is_file() {
        return Err(VulnDbError::Io {
            path: index_path.to_path_buf(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let conn = rusqlite::Connection::open_with_flags(
        index_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(sql)?;
    let meta = |key: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .ok()
    };
    match meta("format") {
        Some(f) if f == INDEX_FORMAT => {}
        Some(f) => {
            return Err(index_err(format!(
                "format {f}, expected {INDEX_FORMAT}; re-import it"
            )))
        }
        None => return Err(index_err("not a Vigie vulnerability index".into())),
    }
    let advisories_in_index = meta("advisories").and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut out = VulnScan {
        index: index_path.display().to_string(),
        index_imported_at: meta("imported_at"),
        advisories_in_index,
        ecosystems: Vec::new(),
        packages_checked: 0,
        matches: Vec::new(),
    };
    let (Some(os), Some(inv)) = (&obs.os, &obs.inventory) else {
        return Ok(out);
    };
    let all: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT DISTINCT ecosystem FROM affected")
            .map_err(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    out.ecosystems = all
        .into_iter()
        .filter(|e| host_ecosystem_matches(os, e))
        .collect();
    if out.ecosystems.is_empty() {
        return Ok(out);
    }
    // Name advisories use → (version to compare, binaries). Advisories name source
    // packages on Debian, Ubuntu and Alpine, binary ones on some rpm distributions: both
    // are looked up, the source with its own version.
    let mut names: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    for p in &inv.packages {
        names
            .entry(p.source_name())
            .or_insert((p.source_version(), BTreeSet::new()))
            .1
            .insert(&p.name);
        if p.source.is_some() {
            names
                .entry(&p.name)
                .or_insert((&p.version, BTreeSet::new()))
                .1
                .insert(&p.name);
        }
    }
    out.packages_checked = inv.packages.len();
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.osv_id, a.aliases, a.summary, a.severity, f.ranges, f.versions
             FROM affected f JOIN advisory a ON a.id = f.advisory
             WHERE f.ecosystem = ?1 AND f.package = ?2",
        )
        .map_err(sql)?;
    let mut seen = BTreeSet::new();
    for eco in &out.ecosystems {
        let Some(scheme) = scheme_of(eco) else {
            continue;
        };
        for (name, (version, binaries)) in &names {
            let rows = stmt
                .query_map([eco.as_str(), name], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .map_err(sql)?;
            for row in rows {
                let (id, aliases, summary, severity, ranges, versions) = row.map_err(sql)?;
                let ranges: Vec<Vec<Event>> = serde_json::from_str(&ranges)
                    .map_err(|e| index_err(format!("advisory {id}: bad ranges: {e}")))?;
                let versions: Vec<String> = serde_json::from_str(&versions)
                    .map_err(|e| index_err(format!("advisory {id}: bad versions: {e}")))?;
                let hit = versions.iter().any(|v| v == version)
                    || ranges.iter().any(|r| in_range(scheme, version, r));
                if !hit || !seen.insert((id.clone(), name.to_string())) {
                    continue;
                }
                out.matches.push(VulnMatch {
                    package: name.to_string(),
                    binaries: binaries.iter().map(|b| b.to_string()).collect(),
                    installed: version.to_string(),
                    advisory: id,
                    aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                    fixed: fixed_version(&ranges),
                    severity: severity.and_then(|s| s.parse().ok()),
                    summary,
                });
            }
        }
    }
    // Worst first, then by package, so that a truncated list keeps what matters.
    out.matches.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.advisory.cmp(&b.advisory))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event {
            introduced: None,
            fixed: None,
            last_affected: None,
            limit: None,
        };
        match kind {
            "i" => e.introduced = Some(v.into()),
            "f" => e.fixed = Some(v.into()),
            "l" => e.last_affected = Some(v.into()),
            _ => e.limit = Some(v.into()),
        }
        e
    }

    #[test]
    fn range_semantics() {
        let d = VersionScheme::Dpkg;
        let r = [ev("i", "0"), ev("f", "3.0.11-1~deb12u2")];
        assert!(in_range(d, "3.0.11-1~deb12u1", &r));
        assert!(!in_range(d, "3.0.11-1~deb12u2", &r));
        assert!(!in_range(d, "3.0.12-1", &r));
        // Events out of order, two introduced/fixed pairs.
        let r = [
            ev("f", "2.0"),
            ev("i", "3.0"),
            ev("i", "1.0"),
            ev("f", "4.0"),
        ];
        assert!(!in_range(d, "0.9", &r));
        assert!(in_range(d, "1.5", &r));
        assert!(!in_range(d, "2.5", &r));
        assert!(in_range(d, "3.0", &r));
        assert!(!in_range(d, "4.0", &r));
        let r = [ev("i", "1.0"), ev("l", "1.5")];
        assert!(in_range(d, "1.5", &r));
        assert!(!in_range(d, "1.5.1", &r));
        // introduced only: every later version.
        assert!(in_range(VersionScheme::Apk, "9.9-r0", &[ev("i", "0")]));
    }

    #[test]
    fn cvss_scores_match_the_first_calculator() {
        // Reference values from FIRST's CVSS v3.1 calculator.
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.9)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"),
            Some(7.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3_base_score("CVSS:2.0/AV:N"), None);
        assert_eq!(severity_of_score(9.8), Severity::Critical);
        assert_eq!(severity_of_score(5.9), Severity::Medium);
    }
}
