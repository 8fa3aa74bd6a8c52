//! OSV import into the local index, and matching the fixture hosts against it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use vigie_checks::host::{self, vulndb};
use vigie_model::{Check, Severity, Status};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/host")
        .join(rel)
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn index_of(source: &str) -> (tempfile::TempDir, PathBuf, vulndb::ImportStats) {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("vulndb.sqlite");
    let stats = host::import_osv(&testdata(source), &index).unwrap();
    (dir, index, stats)
}

fn scanned(root: &str, index: &Path) -> host::HostObservation {
    let mut obs = host::probe(&testdata(root), now());
    obs.vulnerabilities = Some(vulndb::scan(&obs, index).unwrap());
    obs
}

#[test]
fn import_counts_what_it_keeps_and_leaves_out() {
    let (_dir, _index, stats) = index_of("osv");
    // 4 Debian + 1 Ubuntu + 4 Alpine + 1 Rocky; the PyPI record and the withdrawn one left
    // out. The zip holds the Alpine folder again: files are read once each.
    assert_eq!(stats.advisories, 10, "{stats:?}");
    assert_eq!(stats.withdrawn, 1);
    assert_eq!(stats.other_ecosystems, 1);
    assert_eq!(
        stats.ecosystems,
        BTreeSet::from([
            "Alpine:v3.19".to_owned(),
            "Debian:12".to_owned(),
            "Rocky Linux:9".to_owned(),
            "Ubuntu:22.04:LTS".to_owned()
        ])
    );
}

#[test]
fn debian_matches_by_source_package_and_version() {
    let (_dir, index, _) = index_of("osv/debian");
    let obs = scanned("debian12", &index);
    let scan = obs.vulnerabilities.as_ref().unwrap();
    assert_eq!(scan.ecosystems, vec!["Debian:12"]);
    let hits: BTreeSet<(&str, &str)> = scan
        .matches
        .iter()
        .map(|m| (m.package.as_str(), m.advisory.as_str()))
        .collect();
    // openssl 3.0.11-1~deb12u2 is the fixed version of DSA-5532-1 (not affected) and older
    // than DSA-5764-1's; glibc 2.36-9+deb12u4 is DSA-5611-1's fix, older than DSA-5673-1's.
    assert_eq!(
        hits,
        BTreeSet::from([("glibc", "DSA-5673-1"), ("openssl", "DSA-5764-1")])
    );
    let openssl = scan
        .matches
        .iter()
        .find(|m| m.package == "openssl")
        .unwrap();
    assert_eq!(openssl.binaries, vec!["libssl3", "openssl"]);
    assert_eq!(openssl.installed, "3.0.11-1~deb12u2");
    assert_eq!(openssl.fixed.as_deref(), Some("3.0.14-1~deb12u2"));
    assert_eq!(openssl.aliases, vec!["CVE-2024-5535", "CVE-2024-6119"]);
    assert_eq!(openssl.severity, None);

    let v = vigie_grade::host::evaluate(&obs, now());
    let vuln = v
        .iter()
        .find(|v| v.check == Check::HostVulnerabilities)
        .unwrap();
    assert_eq!(vuln.status, Status::Fail);
    // Debian advisories state no severity: the check's default.
    assert_eq!(vuln.severity, Severity::High);
    assert_eq!(vuln.evidence["cves_total"], 3);
    assert_eq!(
        vuln.summary.render(vigie_model::Lang::En),
        "2 known vulnerabilities affect 2 installed package(s) (3 CVE ids)"
    );
}

#[test]
fn alpine_zip_import_severity_and_security_classification() {
    let (_dir, index, stats) = index_of("osv/alpine-all.zip");
    assert_eq!(stats.advisories, 4);
    let obs = scanned("alpine319", &index);
    let scan = obs.vulnerabilities.as_ref().unwrap();
    let ids: BTreeSet<&str> = scan.matches.iter().map(|m| m.advisory.as_str()).collect();
    // openssl 3.1.4-r2 is before all three fixes; zlib 1.3.1-r0 is after its fix.
    assert_eq!(
        ids,
        BTreeSet::from([
            "ALPINE-CVE-2023-6129",
            "ALPINE-CVE-2023-6237",
            "ALPINE-CVE-2024-0727"
        ])
    );
    // CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H = 7.4 (high), worst first.
    assert_eq!(scan.matches[0].advisory, "ALPINE-CVE-2023-6129");
    assert_eq!(scan.matches[0].severity, Some(Severity::High));
    let v = vigie_grade::host::evaluate(&obs, now());
    let vuln = v
        .iter()
        .find(|v| v.check == Check::HostVulnerabilities)
        .unwrap();
    assert_eq!(vuln.severity, Severity::High);
    // The pending libcrypto3/libssl3 3.1.4-r5 fix known vulnerabilities: security updates.
    let sec = v
        .iter()
        .find(|v| v.check == Check::HostUpdatesSecurity)
        .unwrap();
    assert_eq!(sec.status, Status::Fail);
    assert_eq!(sec.evidence["count"], 2);
    assert_eq!(sec.evidence["classified_by"], "vulnerability_data");
}

#[test]
fn rpm_and_ubuntu_ecosystems() {
    let (_dir, index, _) = index_of("osv");
    let rocky = scanned("rocky9", &index);
    let scan = rocky.vulnerabilities.as_ref().unwrap();
    assert_eq!(scan.ecosystems, vec!["Rocky Linux:9"]);
    let pkgs: BTreeSet<&str> = scan.matches.iter().map(|m| m.package.as_str()).collect();
    // Rocky names binary packages: openssl and openssl-libs 1:3.0.7-24 < 1:3.0.7-27.
    assert_eq!(pkgs, BTreeSet::from(["openssl", "openssl-libs"]));
    assert!(scan
        .matches
        .iter()
        .all(|m| m.severity == Some(Severity::Medium)));

    let ubuntu = scanned("ubuntu2204", &index);
    let scan = ubuntu.vulnerabilities.as_ref().unwrap();
    assert_eq!(scan.ecosystems, vec!["Ubuntu:22.04:LTS"]);
    // curl 7.81.0-1ubuntu1.15 is after the fix 1ubuntu1.14.
    assert!(scan.matches.is_empty(), "{:?}", scan.matches);
    let v = vigie_grade::host::evaluate(&ubuntu, now());
    let vuln = v
        .iter()
        .find(|v| v.check == Check::HostVulnerabilities)
        .unwrap();
    assert_eq!(vuln.status, Status::Pass);
}

#[test]
fn index_without_the_host_release_is_an_error_not_a_pass() {
    let (_dir, index, _) = index_of("osv/alpine");
    let obs = scanned("debian12", &index);
    assert!(obs.vulnerabilities.as_ref().unwrap().ecosystems.is_empty());
    let v = vigie_grade::host::evaluate(&obs, now());
    let vuln = v
        .iter()
        .find(|v| v.check == Check::HostVulnerabilities)
        .unwrap();
    assert_eq!(vuln.status, Status::Error);
}

#[test]
fn a_bad_advisory_fails_the_import_by_name_and_keeps_the_old_index() {
    let (dir, index, _) = index_of("osv/debian");
    let before = std::fs::read(&index).unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::copy(
        testdata("osv/alpine/ALPINE-CVE-2024-0727.json"),
        bad.join("a.json"),
    )
    .unwrap();
    std::fs::write(bad.join("broken.json"), "{\"id\": \"X\", \"affected\": [").unwrap();
    let err = host::import_osv(&bad, &index).unwrap_err().to_string();
    assert!(err.contains("broken.json"), "{err}");
    assert_eq!(
        std::fs::read(&index).unwrap(),
        before,
        "previous index kept"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary index removed");
}

#[test]
fn not_an_index_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('format', 'something.else');")
        .unwrap();
    let obs = host::probe(&testdata("debian12"), now());
    let err = vulndb::scan(&obs, &path).unwrap_err().to_string();
    assert!(
        err.contains("other.sqlite") && err.contains("re-import"),
        "{err}"
    );
    let missing = vulndb::scan(&obs, &dir.path().join("none.sqlite"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("none.sqlite"), "{missing}");
}

#[test]
fn a_later_record_with_the_same_id_replaces_the_earlier() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("osv");
    std::fs::create_dir(&src).unwrap();
    let record = |fixed: &str| {
        format!(
            r#"{{"id":"DSA-1-1","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"Debian:12","name":"openssl"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
        )
    };
    // Files are read in name order: b.json wins.
    std::fs::write(src.join("a.json"), record("9.9-1")).unwrap();
    std::fs::write(src.join("b.json"), record("3.0.11-1~deb12u1")).unwrap();
    let index = dir.path().join("i.sqlite");
    let stats = host::import_osv(&src, &index).unwrap();
    assert_eq!((stats.advisories, stats.affected), (1, 1));
    let obs = scanned("debian12", &index);
    // With the first record, openssl 3.0.11-1~deb12u2 would be affected.
    assert!(obs.vulnerabilities.unwrap().matches.is_empty());
}
