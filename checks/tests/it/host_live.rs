//! The host probe on the machine running the tests (root `/`), checked against the
//! package manager's own answer. Skipped, with a notice, where the tools are absent.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use vigie_checks::host::{self, PackageManager};

/// `apt-get -s upgrade`: the packages it would upgrade from a security suite, and those it
/// keeps back (new dependencies needed: `upgrade` leaves them, our count does not).
fn apt_security_upgrades() -> Option<(BTreeSet<String>, BTreeSet<String>, BTreeSet<String>)> {
    let out = Command::new("apt-get")
        .args(["-s", "-o", "Debug::NoLocking=1", "upgrade"])
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "notice: apt-get -s upgrade failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut security = BTreeSet::new();
    let mut all = BTreeSet::new();
    let mut kept = BTreeSet::new();
    let mut in_kept = false;
    for line in text.lines() {
        if line.starts_with("The following packages have been kept back") {
            in_kept = true;
            continue;
        }
        if in_kept {
            if line.starts_with(' ') {
                kept.extend(line.split_whitespace().map(str::to_owned));
                continue;
            }
            in_kept = false;
        }
        if let Some(rest) = line.strip_prefix("Inst ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            // `Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])`
            let origin = rest.split_once('(').map(|(_, o)| o).unwrap_or_default();
            if origin.contains("-security") || origin.contains("-Security") {
                security.insert(name.clone());
            }
            all.insert(name);
        }
    }
    Some((security, all, kept))
}

#[test]
fn live_debian_pending_security_updates_agree_with_apt_get() {
    if !Path::new("/var/lib/dpkg/status").exists() {
        eprintln!("notice: not a dpkg system, live apt comparison skipped");
        return;
    }
    let Some((apt_security, apt_all, kept)) = apt_security_upgrades() else {
        eprintln!("notice: apt-get is not available, live apt comparison skipped");
        return;
    };
    let now = chrono::Utc::now();
    let obs = host::probe(Path::new("/"), now);
    assert!(obs.errors.is_empty(), "errors: {:?}", obs.errors);
    let inv = obs.inventory.as_ref().expect("inventory");
    assert_eq!(inv.manager, PackageManager::Dpkg);
    assert!(inv.packages.len() > 50, "a real system has packages");
    let updates = obs.updates.as_ref().expect("updates");
    let ours_security: BTreeSet<String> = updates
        .pending
        .iter()
        .filter(|u| u.security && !u.held && !kept.contains(&u.name))
        .map(|u| u.name.clone())
        .collect();
    let ours_all: BTreeSet<String> = updates
        .pending
        .iter()
        .filter(|u| !u.held && !kept.contains(&u.name))
        .map(|u| u.name.clone())
        .collect();
    eprintln!(
        "live: {} packages, {} index files, apt security {} / ours {}, apt all {} / ours {}",
        inv.packages.len(),
        updates.indexes.len(),
        apt_security.len(),
        ours_security.len(),
        apt_all.len(),
        ours_all.len()
    );
    assert_eq!(
        ours_all, apt_all,
        "pending updates differ from apt-get -s upgrade"
    );
    // apt names the origin of the version it picks; a security fix superseded by a newer
    // point release is still a security update for us, so ours may only be a superset.
    assert!(
        apt_security.is_subset(&ours_security),
        "apt-get reports security updates we miss: {:?}",
        apt_security.difference(&ours_security).collect::<Vec<_>>()
    );
    for extra in ours_security.difference(&apt_security) {
        let u = updates.pending.iter().find(|u| &u.name == extra).unwrap();
        eprintln!(
            "live: security for us, not by apt's chosen origin: {extra} {} -> {}",
            u.installed, u.available
        );
    }
    // Every verdict renders in both languages.
    for v in vigie_grade::host::evaluate(&obs, now) {
        assert!(v.summary.is_defined(), "{} undefined", v.summary.key);
        if let Some(r) = &v.remediation {
            assert!(r.is_defined(), "{} undefined", r.key);
        }
    }
}
