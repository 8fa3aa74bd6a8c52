//! `probe` over the fixture root trees of `checks/testdata/host/`, one per family, then
//! `evaluate` on what it found. Each assertion names a fact that a wrong parser, a wrong
//! version ordering or a path escaping the root would change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use vigie_checks::host::{self, OsFamily, PackageManager};
use vigie_model::{Check, Status};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/host")
        .join(name)
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn names(updates: &host::observation::Updates, security: bool) -> BTreeSet<&str> {
    updates
        .pending
        .iter()
        .filter(|u| u.security == security)
        .map(|u| u.name.as_str())
        .collect()
}

fn status_of(verdicts: &[vigie_model::Verdict], check: Check) -> Status {
    verdicts
        .iter()
        .find(|v| v.check == check)
        .map(|v| v.status)
        .unwrap_or_else(|| panic!("no verdict for {}", check.id()))
}

#[test]
fn debian12_tree() {
    let obs = host::probe(&fixture("debian12"), now());
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    let os = obs.os.as_ref().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert_eq!(os.family, OsFamily::Debian);
    assert_eq!(obs.system.hostname.as_deref(), Some("debian-fixture"));
    assert_eq!(obs.system.kernel_release.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(obs.system.architecture.as_deref(), Some("x86_64"));
    assert_eq!(obs.system.uptime_seconds, Some(864_000));

    let inv = obs.inventory.as_ref().unwrap();
    assert_eq!(inv.manager, PackageManager::Dpkg);
    assert_eq!(inv.database, "/var/lib/dpkg/status");
    // 11 paragraphs, one only config-files: not installed.
    assert_eq!(inv.packages.len(), 10);
    assert!(!inv.packages.iter().any(|p| p.name == "oldpkg"));
    let bash = inv.packages.iter().find(|p| p.name == "bash").unwrap();
    assert_eq!(
        (bash.version.as_str(), bash.source_version()),
        ("5.2.15-2+b2", "5.2.15-2")
    );
    let libssl = inv.packages.iter().find(|p| p.name == "libssl3").unwrap();
    assert_eq!(libssl.source_name(), "openssl");
    assert!(
        inv.packages
            .iter()
            .find(|p| p.name == "tzdata")
            .unwrap()
            .held
    );

    let updates = obs.updates.as_ref().unwrap();
    // The list of the removed packages.example.org source is not read (it offers bash 9.9).
    assert_eq!(updates.indexes.len(), 3, "{:?}", updates.indexes);
    assert_eq!(updates.security_indexes, 1);
    assert_eq!(
        names(updates, true),
        BTreeSet::from(["libc6", "libssl3", "openssl"])
    );
    assert_eq!(
        names(updates, false),
        BTreeSet::from(["base-files", "tzdata"])
    );
    let libc = updates.pending.iter().find(|u| u.name == "libc6").unwrap();
    // The i386 build offers a newer version; only the installed architecture counts.
    assert_eq!(libc.available, "2.36-9+deb12u7");
    assert!(
        updates
            .pending
            .iter()
            .find(|u| u.name == "tzdata")
            .unwrap()
            .held
    );

    let auto = obs.automatic.as_ref().unwrap();
    assert!(auto.enabled, "{:?}", auto.evidence);

    let reboot = obs.reboot.as_ref().unwrap();
    // Reached through var/run -> /run, an absolute link resolved inside the root.
    assert_eq!(reboot.flag_file.as_deref(), Some("/run/reboot-required"));
    assert_eq!(reboot.flag_packages, vec!["libc6", "libssl3"]);
    assert_eq!(
        reboot.newest_installed_kernel.as_deref(),
        Some("6.1.0-20-amd64")
    );
    assert!(reboot.running_kernel_installed);

    let verdicts = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(verdicts.len(), 7);
    assert_eq!(status_of(&verdicts, Check::HostOs), Status::Info);
    assert_eq!(status_of(&verdicts, Check::HostOsEol), Status::Pass);
    assert_eq!(
        status_of(&verdicts, Check::HostUpdatesSecurity),
        Status::Fail
    );
    assert_eq!(
        status_of(&verdicts, Check::HostUpdatesPending),
        Status::Warn
    );
    assert_eq!(
        status_of(&verdicts, Check::HostUpdatesAutomatic),
        Status::Pass
    );
    assert_eq!(
        status_of(&verdicts, Check::HostRebootRequired),
        Status::Fail
    );
    assert_eq!(
        status_of(&verdicts, Check::HostVulnerabilities),
        Status::Skip
    );
    let sec = verdicts
        .iter()
        .find(|v| v.check == Check::HostUpdatesSecurity)
        .unwrap();
    assert_eq!(sec.evidence["count"], 3);
    assert_eq!(
        sec.summary.render(vigie_model::Lang::En),
        "3 security update(s) pending: libc6, libssl3, openssl"
    );
    assert!(sec
        .summary
        .render(vigie_model::Lang::Fr)
        .starts_with("3 mise(s) à jour de sécurité"));

    // The observation is the wire format: it round-trips through JSON.
    let json = serde_json::to_value(&obs).unwrap();
    let back: host::HostObservation = serde_json::from_value(json).unwrap();
    assert_eq!(back, obs);
}

#[test]
fn debian12_kernel_alone_asks_for_a_reboot() {
    let mut obs = host::probe(&fixture("debian12"), now());
    let reboot = obs.reboot.as_mut().unwrap();
    reboot.flag_file = None;
    let v = vigie_grade::host::evaluate(&obs, now());
    let r = v
        .iter()
        .find(|v| v.check == Check::HostRebootRequired)
        .unwrap();
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary.key, "host.reboot_required.kernel");
    // A running kernel that no package installed (a container) proves nothing.
    obs.reboot.as_mut().unwrap().running_kernel_installed = false;
    let v = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(status_of(&v, Check::HostRebootRequired), Status::Pass);
}

#[test]
fn ubuntu2204_image_tree() {
    let obs = host::probe(&fixture("ubuntu2204"), now());
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    let os = obs.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Ubuntu);
    assert_eq!(os.version_id.as_deref(), Some("22.04"));
    // No /proc in an image: no running kernel, architecture from the packages.
    assert_eq!(obs.system.kernel_release, None);
    assert_eq!(obs.system.architecture.as_deref(), Some("amd64"));
    let updates = obs.updates.as_ref().unwrap();
    assert_eq!(updates.indexes.len(), 3);
    assert!(names(updates, true).is_empty());
    assert_eq!(names(updates, false), BTreeSet::from(["bash"]));
    let auto = obs.automatic.as_ref().unwrap();
    // "0" in 20auto-upgrades; the .dpkg-old leftover saying "1" is ignored, as apt does.
    assert!(!auto.enabled, "{:?}", auto.evidence);
    let v = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(status_of(&v, Check::HostUpdatesSecurity), Status::Pass);
    assert_eq!(status_of(&v, Check::HostUpdatesPending), Status::Warn);
    assert_eq!(status_of(&v, Check::HostUpdatesAutomatic), Status::Fail);
    assert_eq!(status_of(&v, Check::HostRebootRequired), Status::Pass);
    assert_eq!(status_of(&v, Check::HostOsEol), Status::Pass);
}

#[test]
fn rocky9_tree_with_a_real_rpmdb() {
    let obs = host::probe(&fixture("rocky9"), now());
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    assert_eq!(obs.os.as_ref().unwrap().family, OsFamily::Rhel);
    let inv = obs.inventory.as_ref().unwrap();
    assert_eq!(inv.manager, PackageManager::Rpm);
    assert_eq!(inv.database, "/var/lib/rpm/rpmdb.sqlite");
    assert_eq!(inv.packages.len(), 10);
    let libs = inv
        .packages
        .iter()
        .find(|p| p.name == "openssl-libs")
        .unwrap();
    assert_eq!(libs.version, "1:3.0.7-24.el9");
    assert_eq!(libs.arch.as_deref(), Some("x86_64"));
    assert_eq!(libs.source_name(), "openssl");
    let automatic = inv
        .packages
        .iter()
        .find(|p| p.name == "dnf-automatic")
        .unwrap();
    assert_eq!(automatic.arch.as_deref(), Some("noarch"));

    let updates = obs.updates.as_ref().unwrap();
    assert_eq!(updates.indexes.len(), 2);
    assert!(updates.security_known);
    assert_eq!(
        names(updates, true),
        BTreeSet::from(["openssl", "openssl-libs"])
    );
    assert_eq!(names(updates, false), BTreeSet::from(["bash"]));
    assert!(obs.automatic.as_ref().unwrap().enabled);
    let reboot = obs.reboot.as_ref().unwrap();
    assert_eq!(
        reboot.newest_installed_kernel.as_deref(),
        Some("5.14.0-427.13.1.el9_4.x86_64")
    );
    let v = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(status_of(&v, Check::HostRebootRequired), Status::Pass);
    assert_eq!(status_of(&v, Check::HostUpdatesSecurity), Status::Fail);
}

/// The SQLite reader against rpm itself, when rpm is installed.
#[test]
fn rpmdb_reader_agrees_with_rpm_qa() {
    let db = fixture("rocky9/var/lib/rpm");
    let tmp = tempfile::tempdir().unwrap();
    // rpm may create lock and WAL files: give it a copy.
    std::fs::copy(db.join("rpmdb.sqlite"), tmp.path().join("rpmdb.sqlite")).unwrap();
    let out = match std::process::Command::new("rpm")
        .arg("--dbpath")
        .arg(tmp.path())
        .args([
            "-qa",
            "--qf",
            "%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE} %{ARCH}\\n",
        ])
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("notice: rpm is not installed, rpmdb cross-check skipped");
            return;
        }
    };
    let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let evr = if f[1] == "0" {
                f[2].to_owned()
            } else {
                format!("{}:{}", f[1], f[2])
            };
            format!("{} {} {}", f[0], evr, f[3])
        })
        .collect();
    let ours: BTreeSet<String> = host::rpm::read_sqlite_db(&db.join("rpmdb.sqlite"))
        .unwrap()
        .into_iter()
        .map(|p| format!("{} {} {}", p.name, p.version, p.arch.unwrap_or_default()))
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn alpine319_tree() {
    let obs = host::probe(&fixture("alpine319"), now());
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    let os = obs.os.as_ref().unwrap();
    assert_eq!(os.family, OsFamily::Alpine);
    let inv = obs.inventory.as_ref().unwrap();
    assert_eq!(inv.manager, PackageManager::Apk);
    assert_eq!(inv.packages.len(), 5);
    let crypto = inv
        .packages
        .iter()
        .find(|p| p.name == "libcrypto3")
        .unwrap();
    assert_eq!(crypto.source_name(), "openssl");
    let updates = obs.updates.as_ref().unwrap();
    assert_eq!(updates.indexes.len(), 1);
    assert!(!updates.security_known);
    let pending: BTreeSet<&str> = updates.pending.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(pending, BTreeSet::from(["libcrypto3", "libssl3"]));
    assert!(obs.automatic.as_ref().unwrap().enabled);
    let v = vigie_grade::host::evaluate(&obs, now());
    // Alpine's indexes cannot tell security apart without vulnerability data; the pending
    // updates are still reported.
    assert_eq!(status_of(&v, Check::HostUpdatesSecurity), Status::Error);
    let pending = v
        .iter()
        .find(|v| v.check == Check::HostUpdatesPending)
        .unwrap();
    assert_eq!(pending.status, Status::Warn);
    assert_eq!(pending.evidence["count"], 2);
    assert_eq!(pending.evidence["classified_by"], "none");
    // Alpine 3.19 ended on 2025-11-01.
    assert_eq!(status_of(&v, Check::HostOsEol), Status::Fail);
}

#[test]
fn sles15_unreadable_database_names_the_file() {
    let obs = host::probe(&fixture("sles15"), now());
    assert_eq!(obs.os.as_ref().unwrap().family, OsFamily::Suse);
    let err = obs.errors.get("inventory").expect("inventory error");
    assert!(
        err.contains("Packages.db") || err.contains("sysimage/rpm"),
        "{err}"
    );
    let v = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(status_of(&v, Check::HostUpdatesSecurity), Status::Error);
    assert_eq!(status_of(&v, Check::HostOsEol), Status::Fail);
}

#[test]
fn empty_root_reports_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let obs = host::probe(tmp.path(), now());
    assert!(obs.errors.contains_key("os"));
    assert!(obs.errors.contains_key("inventory"));
    let v = vigie_grade::host::evaluate(&obs, now());
    assert_eq!(v.len(), 7);
    assert_eq!(status_of(&v, Check::HostOs), Status::Error);
    assert_eq!(status_of(&v, Check::HostUpdatesSecurity), Status::Error);
    for verdict in &v {
        assert!(verdict.summary.is_defined(), "{}", verdict.summary.key);
    }
}
