//! `evaluate` at its boundaries: end of life (past, the 90-day window, fine), security
//! updates against other updates, evidence truncation, severity of vulnerability matches.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use vigie_checks::host::{self, HostObservation, PendingUpdate};
use vigie_grade::host::evaluate::EVIDENCE_LIST_MAX;
use vigie_model::{Check, Lang, Severity, Status, Verdict};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/host")
        .join(rel)
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn debian() -> HostObservation {
    host::probe(&testdata("debian12"), day(2026, 11, 22))
}

fn verdict(obs: &HostObservation, now: DateTime<Utc>, check: Check) -> Verdict {
    vigie_grade::host::evaluate(obs, now)
        .into_iter()
        .find(|v| v.check == check)
        .unwrap()
}

#[test]
fn eol_boundaries_debian12() {
    // Debian 12 security support (LTS) ends 2028-06-30.
    let obs = debian();
    let at = |now| verdict(&obs, now, Check::HostOsEol);
    let fine = at(day(2028, 3, 31));
    assert_eq!(fine.status, Status::Pass);
    assert_eq!(fine.evidence["days_left"], 91);
    let window = at(day(2028, 4, 1));
    assert_eq!(
        (window.status, window.severity),
        (Status::Warn, Severity::High)
    );
    assert_eq!(window.evidence["days_left"], 90);
    let last_day = at(day(2028, 6, 30));
    assert_eq!(last_day.status, Status::Warn);
    let past = at(day(2028, 7, 1));
    assert_eq!(
        (past.status, past.severity),
        (Status::Fail, Severity::Critical)
    );
    assert_eq!(
        past.summary.render(Lang::En),
        "Debian 12 (bookworm) has received no security updates since 2028-06-30 (1 days ago)"
    );
    assert!(past
        .summary
        .render(Lang::Fr)
        .contains("depuis le 2028-06-30"));
    assert!(past.remediation.is_some());
}

#[test]
fn eol_unknown_rolling_and_extended_support() {
    let mut obs = debian();
    let now = day(2026, 11, 22);
    obs.os.as_mut().unwrap().version_id = Some("99".into());
    let v = verdict(&obs, now, Check::HostOsEol);
    assert_eq!(
        (v.status, v.summary.key),
        (Status::Error, "host.os.eol.unknown_release")
    );
    obs.os.as_mut().unwrap().version_id = None;
    assert_eq!(verdict(&obs, now, Check::HostOsEol).status, Status::Skip);
    obs.os.as_mut().unwrap().id = "gentoo".into();
    obs.os.as_mut().unwrap().version_id = Some("2.15".into());
    let v = verdict(&obs, now, Check::HostOsEol);
    assert_eq!(
        (v.status, v.summary.key),
        (Status::Error, "host.os.eol.unknown_os")
    );

    // Ubuntu 20.04: standard support ended 2025-05-31; with Ubuntu Pro (ESM lists present)
    // it runs to 2030-04-30.
    let mut focal = host::probe(&testdata("ubuntu2204"), now);
    focal.os.as_mut().unwrap().version_id = Some("20.04".into());
    assert_eq!(verdict(&focal, now, Check::HostOsEol).status, Status::Fail);
    focal.updates.as_mut().unwrap().indexes.push(
        "/var/lib/apt/lists/esm.ubuntu.com_infra_ubuntu_dists_focal-infra-security_main_binary-amd64_Packages".into(),
    );
    let v = verdict(&focal, now, Check::HostOsEol);
    assert_eq!(v.status, Status::Pass);
    assert_eq!(v.evidence["end_used"], "2030-04-30");
}

fn update(name: &str, security: bool) -> PendingUpdate {
    PendingUpdate {
        name: name.into(),
        arch: Some("amd64".into()),
        installed: "1.0-1".into(),
        available: "1.0-2".into(),
        security,
        held: false,
    }
}

#[test]
fn security_pending_against_only_other_pending() {
    let now = day(2026, 11, 22);
    let mut obs = debian();
    let set = |obs: &mut HostObservation, pending: Vec<PendingUpdate>| {
        obs.updates.as_mut().unwrap().pending = pending;
    };

    set(&mut obs, vec![update("libssl3", true)]);
    let sec = verdict(&obs, now, Check::HostUpdatesSecurity);
    let other = verdict(&obs, now, Check::HostUpdatesPending);
    assert_eq!((sec.status, sec.severity), (Status::Fail, Severity::High));
    assert_eq!(other.status, Status::Pass);
    assert_eq!(sec.evidence["packages"][0], "libssl3:amd64 1.0-1 -> 1.0-2");

    set(
        &mut obs,
        vec![update("tzdata", false), update("bash", false)],
    );
    let sec = verdict(&obs, now, Check::HostUpdatesSecurity);
    let other = verdict(&obs, now, Check::HostUpdatesPending);
    assert_eq!(sec.status, Status::Pass);
    assert_eq!(
        (other.status, other.severity),
        (Status::Warn, Severity::Low)
    );
    assert_eq!(other.evidence["count"], 2);

    set(&mut obs, vec![]);
    assert_eq!(
        verdict(&obs, now, Check::HostUpdatesSecurity).status,
        Status::Pass
    );
    assert_eq!(
        verdict(&obs, now, Check::HostUpdatesPending).status,
        Status::Pass
    );

    // No index at all: nothing can be said (never a pass).
    obs.updates.as_mut().unwrap().indexes.clear();
    assert_eq!(
        verdict(&obs, now, Check::HostUpdatesSecurity).status,
        Status::Error
    );
    assert_eq!(
        verdict(&obs, now, Check::HostUpdatesPending).status,
        Status::Error
    );
}

#[test]
fn long_lists_are_truncated_with_the_full_count() {
    let now = day(2026, 11, 22);
    let mut obs = debian();
    obs.updates.as_mut().unwrap().pending = (0..120)
        .map(|i| update(&format!("pkg{i:03}"), true))
        .collect();
    let sec = verdict(&obs, now, Check::HostUpdatesSecurity);
    assert_eq!(sec.evidence["count"], 120);
    assert_eq!(
        sec.evidence["packages"].as_array().unwrap().len(),
        EVIDENCE_LIST_MAX
    );
    assert_eq!(sec.evidence["truncated"], true);
    assert_eq!(
        sec.summary.render(Lang::En),
        "120 security update(s) pending: pkg000, pkg001, pkg002, pkg003, pkg004, +115"
    );
}

#[test]
fn automatic_updates_and_vulnerability_severity() {
    let now = day(2026, 11, 22);
    let mut obs = debian();
    assert_eq!(
        verdict(&obs, now, Check::HostUpdatesAutomatic).status,
        Status::Pass
    );
    obs.automatic.as_mut().unwrap().enabled = false;
    let v = verdict(&obs, now, Check::HostUpdatesAutomatic);
    assert_eq!((v.status, v.severity), (Status::Fail, Severity::Medium));
    assert_eq!(v.remediation.unwrap().key, "host.updates.automatic.fix.apt");

    // Without imported data the check is skipped, and says how to import.
    let v = verdict(&obs, now, Check::HostVulnerabilities);
    assert_eq!(v.status, Status::Skip);
    assert!(v
        .remediation
        .unwrap()
        .render(Lang::En)
        .contains("vulndb import"));

    // The verdict's severity is the worst match's.
    let m = |id: &str, severity| host::vulndb::VulnMatch {
        package: "openssl".into(),
        binaries: vec!["libssl3".into()],
        installed: "1".into(),
        advisory: id.into(),
        aliases: vec![format!("CVE-2024-{id}")],
        fixed: Some("2".into()),
        severity,
        summary: None,
    };
    obs.vulnerabilities = Some(host::VulnScan {
        index: "/x".into(),
        index_imported_at: None,
        advisories_in_index: 3,
        ecosystems: vec!["Debian:12".into()],
        packages_checked: 10,
        matches: vec![
            m("1", Some(Severity::Low)),
            m("2", Some(Severity::Critical)),
            m("3", None),
        ],
    });
    let v = verdict(&obs, now, Check::HostVulnerabilities);
    assert_eq!((v.status, v.severity), (Status::Fail, Severity::Critical));
    assert_eq!(v.evidence["cves_total"], 3);
    // A failed scan is an error with its reason.
    obs.errors
        .insert("vulnerabilities".into(), "cannot read /x: denied".into());
    let v = verdict(&obs, now, Check::HostVulnerabilities);
    assert_eq!(v.status, Status::Error);
    assert!(v.summary.render(Lang::En).contains("/x"));
}

#[test]
fn every_fixture_renders_in_both_languages() {
    for fixture in ["debian12", "ubuntu2204", "rocky9", "alpine319", "sles15"] {
        let obs = host::probe(&testdata(fixture), day(2026, 11, 22));
        for v in vigie_grade::host::evaluate(&obs, day(2026, 11, 22)) {
            assert!(v.summary.is_defined(), "{fixture}: {}", v.summary.key);
            if let Some(r) = &v.remediation {
                assert!(r.is_defined(), "{fixture}: {}", r.key);
            }
            let en = v.summary.render(Lang::En);
            assert!(!en.contains('{'), "{fixture}: unfilled placeholder in {en}");
        }
    }
}
