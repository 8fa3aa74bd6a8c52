//! Patch posture of the agent's host (`vigie-agent scan host`): the `host.*` checks.
//!
//! Probe, then evaluate:
//! ```text
//! let mut observation = host::probe(Path::new("/"), now);           // reads files only
//! if let Some(index) = vulndb_path {                                 // optional
//!     match host::vulndb::scan(&observation, index) {
//!         Ok(scan) => observation.vulnerabilities = Some(scan),
//!         Err(e) => { observation.errors.insert("vulnerabilities".into(), e.to_string()); }
//!     }
//! }
//! let verdicts = host::evaluate(&observation, now);                  // pure
//! ```
//! The observation goes into the report's `observations.host` (typed in `vigie-model`),
//! the verdicts into `findings`. `root` is `/` for the running system or the `--root DIR`
//! of a mounted image; every path is read inside it, symbolic links included.
//!
//! Nothing here modifies the system: databases are opened read-only (SQLite `immutable`),
//! the only command ever run is `rpm -qa` for rpm database formats not parsed here.
//!
//! Modules:
//! - [`os`]: os-release, family, kernel, architecture, uptime;
//! - [`version`]: dpkg, rpm and apk version ordering;
//! - [`dpkg`], [`rpm`], [`apk`]: package databases and the package indexes already on the
//!   host (apt lists, dnf/zypper rpm-md caches, APKINDEX);
//! - [`updates`]: pending updates from those indexes, security told apart;
//! - [`eol`]: the bundled end-of-life dataset (`checks/data/os-eol.toml`);
//! - [`automatic`], [`reboot`]: automatic updates configuration, reboot needed;
//! - [`vulndb`]: OSV import into a local index, matching;
//! - [`windows`]: the boundary of the planned Windows Server probe;
//! - [`observation`], [`evaluate`](mod@evaluate): facts, and their grading.

pub mod apk;
pub mod automatic;
pub mod dpkg;
pub mod os;
pub mod reboot;
pub mod rootfs;
pub mod rpm;
pub mod updates;
pub mod vulndb;
pub mod windows;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

pub use observation::{HostObservation, Inventory, Package, PendingUpdate};
pub use os::{OsFamily, PackageManager};
pub use vigie_model::observation::host as observation;
pub use vulndb::{import_osv, ImportStats, VulnDbError, VulnScan};

use observation::Updates;
use rootfs::Root;
use updates::Candidates;
use vigie_grade::host::version::VersionSchemeOf;

/// Why part of a host could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is corrupt or truncated: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Unsupported { path: PathBuf, reason: String },
}

/// Gathers every fact the `host.*` checks grade. Never fails as a whole: a part that
/// cannot be read is recorded in `errors` (and graded `error`), the others still are.
pub fn probe(root: &Path, now: DateTime<Utc>) -> HostObservation {
    let root = Root::new(root);
    let mut obs = HostObservation {
        root: root.dir().display().to_string(),
        probed_at: now,
        os: None,
        system: Default::default(),
        inventory: None,
        updates: None,
        automatic: None,
        reboot: None,
        vulnerabilities: None,
        errors: Default::default(),
    };
    let record = |obs: &mut HostObservation, part: &str, e: HostError| {
        tracing::warn!(part, error = %e, "host probe");
        obs.errors.insert(part.to_owned(), e.to_string());
    };

    if windows::looks_like_windows(&root) {
        obs.os = Some(windows::placeholder_release());
        for part in ["inventory", "updates", "automatic", "reboot"] {
            obs.errors.insert(part.into(), windows::NOT_YET.to_owned());
        }
        return obs;
    }

    match os::read_os_release(&root) {
        Ok(Some(r)) => obs.os = Some(r),
        Ok(None) => {
            obs.errors.insert(
                "os".into(),
                format!(
                    "no /etc/os-release or /usr/lib/os-release under {}",
                    root.dir().display()
                ),
            );
        }
        Err(e) => record(&mut obs, "os", e),
    }
    match os::read_system_info(&root) {
        Ok(s) => obs.system = s,
        Err(e) => record(&mut obs, "system", e),
    }
    let family = obs.os.as_ref().map(|o| o.family).unwrap_or(OsFamily::Other);

    // The inventory: the family's database; without os-release, whichever database exists.
    let managers: Vec<PackageManager> = match family.package_manager() {
        Some(m) => vec![m],
        None => vec![
            PackageManager::Dpkg,
            PackageManager::Rpm,
            PackageManager::Apk,
        ],
    };
    for manager in managers {
        let read = match manager {
            PackageManager::Dpkg => dpkg::read_status(&root),
            PackageManager::Rpm => rpm::read_inventory(&root),
            PackageManager::Apk => apk::read_inventory(&root),
        };
        match read {
            Ok(Some(inv)) => {
                obs.inventory = Some(inv);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                record(&mut obs, "inventory", e);
                break;
            }
        }
    }
    if obs.inventory.is_none() && !obs.errors.contains_key("inventory") {
        obs.errors.insert(
            "inventory".into(),
            format!(
                "no package database found under {} (dpkg status, rpmdb.sqlite, apk installed)",
                root.dir().display()
            ),
        );
    }
    if obs.system.architecture.is_none() {
        obs.system.architecture = obs.inventory.as_ref().and_then(native_arch);
    }

    if let Some(inv) = &obs.inventory {
        match read_updates(&root, inv, now) {
            Ok(u) => obs.updates = Some(u),
            Err(e) => record(&mut obs, "updates", e),
        }
    }
    match automatic::read(&root, family, obs.inventory.as_ref()) {
        Ok(a) => obs.automatic = Some(a),
        Err(e) => record(&mut obs, "automatic", e),
    }
    match reboot::read(
        &root,
        obs.inventory.as_ref(),
        obs.system.kernel_release.as_deref(),
    ) {
        Ok(r) => obs.reboot = Some(r),
        Err(e) => record(&mut obs, "reboot", e),
    }
    obs
}

/// The architecture most installed packages are built for (an image has no `/proc`).
fn native_arch(inv: &Inventory) -> Option<String> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for p in &inv.packages {
        if let Some(a) = p.arch.as_deref() {
            if !matches!(a, "all" | "noarch" | "any") {
                *counts.entry(a).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(a, _)| a.to_owned())
}

fn read_updates(root: &Root, inv: &Inventory, now: DateTime<Utc>) -> Result<Updates, HostError> {
    let scheme = inv.manager.version_scheme();
    let mut candidates = Candidates::new(scheme, &inv.packages, inv.manager == PackageManager::Apk);
    let mut updates = Updates::default();
    let (read, skipped) = match inv.manager {
        PackageManager::Dpkg => {
            let (read, skipped) = dpkg::read_apt_lists(root, &mut candidates)?;
            updates.security_known = true;
            updates.security_indexes = read
                .iter()
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| dpkg::is_security_list(&n.to_string_lossy()))
                })
                .count();
            (read, skipped)
        }
        PackageManager::Rpm => {
            let (read, skipped, security) = rpm::read_repodata(root, &mut candidates)?;
            updates.security_indexes = security;
            updates.security_known = security > 0;
            (read, skipped)
        }
        PackageManager::Apk => (apk::read_indexes(root, &mut candidates)?, Vec::new()),
    };
    let now_system = SystemTime::from(now);
    updates.newest_index_age_seconds = read
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok()?.modified().ok())
        .filter_map(|m| now_system.duration_since(m).ok())
        .map(|d| d.as_secs())
        .min();
    updates.indexes = read.iter().map(|p| root.display(p)).collect();
    updates.unreadable = skipped.iter().map(|p| root.display(p)).collect();
    updates.pending = candidates.pending(&inv.packages);
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vigie_model::{Check, Status};

    #[test]
    fn a_host_whose_facts_could_not_be_read_gets_no_pass() {
        // An empty root: no os-release, no package database, no flag file.
        let root = tempfile::tempdir().expect("a scratch directory");
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let observation = probe(root.path(), now);
        let verdicts = vigie_grade::host::evaluate(&observation, now);
        assert_eq!(verdicts.len(), 7);
        for verdict in &verdicts {
            assert!(
                matches!(verdict.status, Status::Error | Status::Skip),
                "{}: {:?}",
                verdict.check.id(),
                verdict.status
            );
            assert!(verdict.summary.is_defined(), "{}", verdict.summary.key);
        }
        let reboot = verdicts
            .iter()
            .find(|v| v.check == Check::HostRebootRequired)
            .expect("host.reboot_required is graded");
        assert_eq!(reboot.status, Status::Error);
        assert!(reboot
            .summary
            .render(vigie_model::Lang::Fr)
            .contains("os-release"));
    }
}
