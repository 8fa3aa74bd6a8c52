//! A full host scan at scale: a generated 2,000-package dpkg status with apt lists,
//! matched against a generated 50,000-advisory OSV index. Prints each phase's time and the
//! peak memory (VmHWM). `cargo bench -p vigie-checks --bench host`; under `cargo test`
//! (no `--bench` argument) it runs a tiny size, as a smoke test.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use vigie_checks::host;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn write_root(root: &Path, packages: usize) {
    let w = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    w(
        "etc/apt/sources.list",
        "deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n",
    );
    let mut status = String::new();
    let mut main = String::new();
    let mut security = String::new();
    for i in 0..packages {
        // 10 binaries per source package, as real systems have (libfoo1, libfoo-dev…).
        let source = format!("src{:04}", i / 10);
        let version = format!("{}.{}.{}-{}+deb12u1", 1 + i % 7, i % 13, i % 5, 1 + i % 3);
        writeln!(
            status,
            "Package: pkg{i:05}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: {source}\nVersion: {version}\nDescription: generated\n long description\n"
        )
        .unwrap();
        let newer = format!("{version}.1");
        writeln!(
            main,
            "Package: pkg{i:05}\nVersion: {}\nArchitecture: amd64\n",
            if i % 4 == 0 { &newer } else { &version }
        )
        .unwrap();
        if i % 9 == 0 {
            writeln!(
                security,
                "Package: pkg{i:05}\nVersion: {newer}\nArchitecture: amd64\n"
            )
            .unwrap();
        }
    }
    // Packages nobody installed, as in a real 60,000-entry list.
    for i in 0..packages * 10 {
        writeln!(
            main,
            "Package: other{i:06}\nVersion: 1.0-1\nArchitecture: amd64\n"
        )
        .unwrap();
    }
    w("var/lib/dpkg/status", &status);
    w(
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
        &main,
    );
    w(
        "var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
        &security,
    );
}

fn write_advisories(dir: &Path, count: usize, sources: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        // Half of them name an installed source package, half other packages.
        let package = if i % 2 == 0 {
            format!("src{:04}", i % sources)
        } else {
            format!("absent{i}")
        };
        let fixed = format!("{}.{}.0-1", 1 + i % 9, i % 17);
        let json = format!(
            r#"{{"schema_version":"1.6.0","id":"DEBIAN-CVE-{y}-{i}","modified":"2026-01-01T00:00:00Z","upstream":["CVE-{y}-{i}"],"affected":[{{"package":{{"ecosystem":"Debian:12","name":"{package}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#,
            y = 2000 + i % 26
        );
        std::fs::write(dir.join(format!("{i}.json")), json).unwrap();
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (packages, advisories) = if full { (2_000, 50_000) } else { (50, 200) };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let osv = dir.path().join("osv");
    let index = dir.path().join("vulndb.sqlite");

    let t = Instant::now();
    write_root(&root, packages);
    write_advisories(&osv, advisories, packages / 10);
    println!(
        "generate: {:?} ({packages} packages, {advisories} advisories)",
        t.elapsed()
    );

    let t = Instant::now();
    let stats = host::import_osv(&osv, &index).unwrap();
    println!(
        "import_osv: {:?} ({} advisories, index {} KiB)",
        t.elapsed(),
        stats.advisories,
        std::fs::metadata(&index).unwrap().len() / 1024
    );

    let now = chrono::Utc::now();
    let t = Instant::now();
    let mut obs = host::probe(&root, now);
    let probe_time = t.elapsed();
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    let t = Instant::now();
    let scan = host::vulndb::scan(&obs, &index).unwrap();
    let scan_time = t.elapsed();
    let matches = scan.matches.len();
    obs.vulnerabilities = Some(scan);
    let t = Instant::now();
    let verdicts = vigie_grade::host::evaluate(&obs, now);
    let evaluate_time = t.elapsed();
    let pending = obs.updates.as_ref().map(|u| u.pending.len()).unwrap_or(0);
    println!("probe: {probe_time:?} ({pending} pending updates)");
    println!("scan: {scan_time:?} ({matches} matches)");
    println!("evaluate: {evaluate_time:?} ({} verdicts)", verdicts.len());
    println!(
        "full scan (probe + scan + evaluate): {:?}",
        probe_time + scan_time + evaluate_time
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak memory (VmHWM): {} MiB", kib / 1024),
        None => println!("peak memory: not available on this platform"),
    }
    assert_eq!(verdicts.len(), 7);
    assert!(matches > 0 && pending > 0);
}
