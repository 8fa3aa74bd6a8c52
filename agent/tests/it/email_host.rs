//! `scan email`, `scan host`, `vulndb import` and `scan all` with every family, as a user
//! runs them: the binary, a real DNS responder on 127.0.0.1 (`--resolver`), the host
//! fixture trees of `checks/testdata/host` and OSV advisories imported from there.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::dns::{DnsResponder, Zone};
use vigie_model::{Report, Status, TargetKind};

fn agent() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie-agent"));
    command
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .env_remove("NO_COLOR");
    command
}

fn host_testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../checks/testdata/host")
        .join(rel)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The report on stdout, checked against the v1 rules.
fn report(output: &Output) -> Report {
    let report: Report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not a report ({e}): {}", stdout(output)));
    vigie_model::validate::validate(&report).expect("a valid v1 report");
    report
}

/// The status of `check` on `target`; panics when the report has no such finding.
fn status(report: &Report, target: &str, check: &str) -> Status {
    report
        .findings
        .iter()
        .find(|f| f.target == target && f.check.as_str() == check)
        .unwrap_or_else(|| panic!("no {check} finding for {target}"))
        .status
}

/// good.test: SPF ending in -all, DMARC p=reject with a report address in the domain, an MX.
/// nodmarc.test: the same SPF, no DMARC record at all.
fn mail_zone() -> Zone {
    Zone::new()
        .txt("good.test", "v=spf1 ip4:127.0.0.25 -all")
        .txt("good.test", "google-site-verification=abc")
        .mx("good.test", 10, "mail.good.test")
        .a("mail.good.test", "127.0.0.25".parse().unwrap())
        .txt(
            "_dmarc.good.test",
            "v=DMARC1; p=reject; rua=mailto:dmarc@good.test",
        )
        .txt("sel1._domainkey.good.test", "v=DKIM1; k=rsa; p=")
        .txt("nodmarc.test", "v=spf1 ip4:127.0.0.26 -all")
        .mx("nodmarc.test", 10, "mail.nodmarc.test")
}

fn scan_email(dns: &DnsResponder, extra: &[&str]) -> Output {
    agent()
        .args(["scan", "email", "good.test", "NoDmarc.Test."])
        .args(["--resolver", &dns.addr().to_string(), "--timeout", "2s"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn scan_email_grades_each_domain_from_the_named_resolver() {
    let dns = DnsResponder::start(mail_zone());
    let output = scan_email(&dns, &["--format", "json", "--dkim-selector", "sel1"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(dns.queries() > 0, "the responder was asked");
    let report = report(&output);

    let targets: Vec<(TargetKind, &str)> = report
        .targets
        .iter()
        .map(|t| (t.kind, t.target.as_str()))
        .collect();
    assert_eq!(
        targets,
        [
            (TargetKind::Email, "good.test"),
            (TargetKind::Email, "nodmarc.test")
        ],
        "names normalized, command-line order"
    );
    for check in [
        "email.spf.missing",
        "email.spf.multiple",
        "email.spf.syntax",
        "email.spf.all",
        "email.spf.lookup_limit",
        "email.dmarc.missing",
        "email.dmarc.syntax",
        "email.dmarc.policy",
        "email.dmarc.rua",
        "email.mx.missing",
    ] {
        assert_eq!(status(&report, "good.test", check), Status::Pass, "{check}");
    }
    assert_eq!(
        status(&report, "nodmarc.test", "email.dmarc.missing"),
        Status::Fail
    );
    assert_eq!(
        status(&report, "nodmarc.test", "email.spf.all"),
        Status::Pass
    );
    // Every finding is an email.* or dns.* check about one of the two domains.
    for finding in &report.findings {
        let check = finding.check.as_str();
        assert!(
            check.starts_with("email.") || check.starts_with("dns."),
            "{check}"
        );
        assert!(
            ["good.test", "nodmarc.test"].contains(&finding.target.as_str()),
            "{}",
            finding.target
        );
    }
    assert!(report
        .findings
        .iter()
        .any(|f| f.check.as_str() == "dns.dnssec" && f.target == "good.test"));

    // The observations: one per domain, with the selector given on the command line tried.
    let email: Vec<serde_json::Value> = report
        .observations
        .email
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(email.len(), 2);
    assert_eq!(email[0]["domain"], "good.test");
    assert_eq!(email[1]["domain"], "nodmarc.test");
    let selectors: Vec<&str> = email[0]["dkim"]
        .as_array()
        .expect("dkim facts")
        .iter()
        .filter_map(|s| s["selector"].as_str())
        .collect();
    assert_eq!(selectors.first(), Some(&"sel1"), "{selectors:?}");
    assert!(selectors.contains(&"selector1"), "common selectors too");
    assert_eq!(
        email[0]["dkim"][0]["txt"]["records"][0], "v=DKIM1; k=rsa; p=",
        "the record at sel1 was read"
    );
}

#[test]
fn domains_of_one_run_share_one_cache() {
    // Three domains include the same SPF record of their mail provider: one query for it.
    let dns = DnsResponder::start(
        Zone::new()
            .txt("a.test", "v=spf1 include:_spf.provider.test -all")
            .txt("b.test", "v=spf1 include:_spf.provider.test -all")
            .txt("c.test", "v=spf1 include:_spf.provider.test -all")
            .txt("_spf.provider.test", "v=spf1 ip4:127.0.0.0/8 -all"),
    );
    let output = agent()
        .args([
            "scan", "email", "a.test", "b.test", "c.test", "--format", "json",
        ])
        .args(["--resolver", &dns.addr().to_string(), "--timeout", "2s"])
        .args(["--concurrency", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let report = report(&output);
    for domain in ["a.test", "b.test", "c.test"] {
        assert_eq!(status(&report, domain, "email.spf.syntax"), Status::Pass);
        assert_eq!(status(&report, domain, "email.spf.all"), Status::Pass);
    }
    assert_eq!(dns.queries_for("_spf.provider.test"), 1);
    assert!(dns.queries_for("a.test") >= 1);
}

#[test]
fn scan_email_fail_on_and_text_in_both_languages() {
    let dns = DnsResponder::start(mail_zone());
    // The missing DMARC record is a high failure: a high gate fails, a critical one passes.
    let high = scan_email(&dns, &["--fail-on", "high"]);
    assert_eq!(high.status.code(), Some(1), "stderr: {}", stderr(&high));
    let text = stdout(&high);
    assert!(text.contains("Mail domain good.test"), "{text}");
    assert!(text.contains("Mail domain nodmarc.test"), "{text}");
    assert!(text.contains("email.dmarc.missing"), "{text}");
    assert!(text.contains("(--fail-on)"), "{text}");
    assert!(text.contains("2 target(s)"), "{text}");

    let critical = scan_email(&dns, &["--fail-on", "critical", "--lang", "fr"]);
    assert_eq!(
        critical.status.code(),
        Some(0),
        "stderr: {}",
        stderr(&critical)
    );
    let french = stdout(&critical);
    assert!(
        french.contains("Domaine de messagerie nodmarc.test"),
        "{french}"
    );
    assert!(french.contains("2 cible(s)"), "{french}");
}

#[test]
fn a_malformed_domain_is_a_usage_error_that_names_it() {
    for (domain, hint) in [
        ("exa mple.ca", "not a valid domain name"),
        ("192.0.2.1", "is an address"),
        ("admin@example.ca", "after @"),
        ("https://example.ca", "is a URL"),
    ] {
        let output = agent()
            .args(["scan", "email", "good.test", domain])
            .args(["--resolver", "127.0.0.1:9"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{domain}");
        let message = stderr(&output);
        assert!(
            message.contains(domain) && message.contains(hint),
            "{message}"
        );
        assert!(output.stdout.is_empty());
    }
}

fn scan_host(extra: &[&str]) -> Output {
    agent()
        .args(["scan", "host", "--root"])
        .arg(host_testdata("debian12"))
        .args(extra)
        .output()
        .unwrap()
}

/// The fixture's statuses that do not depend on vulnerability data (see
/// checks/testdata/host/README.md): 3 security updates, 2 others, unattended-upgrades on,
/// a reboot required; Debian 12 is supported until 2028.
fn assert_debian12_posture(report: &Report) {
    let target = "debian-fixture";
    assert_eq!(status(report, target, "host.os"), Status::Info);
    assert_eq!(status(report, target, "host.os.eol"), Status::Pass);
    assert_eq!(
        status(report, target, "host.updates.security"),
        Status::Fail
    );
    assert_eq!(status(report, target, "host.updates.pending"), Status::Warn);
    assert_eq!(
        status(report, target, "host.updates.automatic"),
        Status::Pass
    );
    assert_eq!(status(report, target, "host.reboot_required"), Status::Fail);
}

fn import(source: &Path, index: &Path) -> Output {
    agent()
        .args(["vulndb", "import"])
        .arg(source)
        .arg("--db")
        .arg(index)
        .output()
        .unwrap()
}

#[test]
fn scan_host_grades_the_fixture_without_and_with_a_vulnerability_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("state/vulndb.sqlite");
    // Named but not imported yet: the check is in error and says what to do.
    let before = scan_host(&["--format", "json", "--vulndb", index.to_str().unwrap()]);
    assert_eq!(before.status.code(), Some(0), "stderr: {}", stderr(&before));
    let report_before = report(&before);
    assert_eq!(report_before.targets.len(), 1);
    assert_eq!(report_before.targets[0].kind, TargetKind::Host);
    assert_eq!(report_before.targets[0].target, "debian-fixture");
    assert_debian12_posture(&report_before);
    let vulnerabilities = report_before
        .findings
        .iter()
        .find(|f| f.check.as_str() == "host.vulnerabilities")
        .unwrap();
    assert_eq!(vulnerabilities.status, Status::Error);
    assert!(
        vulnerabilities.summary.contains("vulndb.sqlite")
            && vulnerabilities.summary.contains("vulndb import"),
        "{}",
        vulnerabilities.summary
    );
    let host = report_before
        .observations
        .host
        .as_ref()
        .expect("observations.host");
    assert_eq!(host.os.as_ref().map(|os| os.id.as_str()), Some("debian"));

    let imported = import(&host_testdata("osv/debian"), &index);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "stderr: {}",
        stderr(&imported)
    );
    let counts = stdout(&imported);
    assert!(counts.contains("Imported 4 advisories"), "{counts}");
    assert!(counts.contains("Debian:12"), "{counts}");

    let after = scan_host(&["--format", "json", "--vulndb", index.to_str().unwrap()]);
    assert_eq!(after.status.code(), Some(0), "stderr: {}", stderr(&after));
    let report_after = report(&after);
    assert_debian12_posture(&report_after);
    assert_eq!(
        status(&report_after, "debian-fixture", "host.vulnerabilities"),
        Status::Fail
    );
    let matches: BTreeSet<&str> = report_after
        .observations
        .host
        .as_ref()
        .unwrap()
        .vulnerabilities
        .as_ref()
        .unwrap()
        .matches
        .iter()
        .map(|m| m.advisory.as_str())
        .collect();
    assert_eq!(matches, BTreeSet::from(["DSA-5673-1", "DSA-5764-1"]));

    // --fail-on works as for tls: high failures (security updates, vulnerabilities) fail a
    // high gate, not a critical one (Debian 12 is supported).
    let gate = scan_host(&["--vulndb", index.to_str().unwrap(), "--fail-on", "high"]);
    assert_eq!(gate.status.code(), Some(1), "stderr: {}", stderr(&gate));
    let text = stdout(&gate);
    assert!(text.contains("Host debian-fixture"), "{text}");
    assert!(text.contains("host.vulnerabilities"), "{text}");
    let critical = scan_host(&["--vulndb", index.to_str().unwrap(), "--fail-on", "critical"]);
    assert_eq!(
        critical.status.code(),
        Some(0),
        "stderr: {}",
        stderr(&critical)
    );
}

#[test]
fn a_corrupt_index_is_an_error_finding_and_a_failed_import_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.sqlite");
    std::fs::write(&corrupt, b"SQLite format 3\0 but then nothing of the sort").unwrap();
    let output = scan_host(&["--format", "json", "--vulndb", corrupt.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let report = report(&output);
    assert_debian12_posture(&report);
    let finding = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "host.vulnerabilities")
        .unwrap();
    assert_eq!(finding.status, Status::Error);
    assert!(
        finding.summary.contains("corrupt.sqlite"),
        "{}",
        finding.summary
    );
    assert!(
        stderr(&output).contains("corrupt.sqlite"),
        "{}",
        stderr(&output)
    );
    let gate = scan_host(&["--vulndb", corrupt.to_str().unwrap(), "--fail-on", "high"]);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "an index in error does not pass a gate"
    );

    // An import that meets a file that is not OSV fails by name, and the index stays.
    let index = dir.path().join("vulndb.sqlite");
    assert_eq!(
        import(&host_testdata("osv/debian"), &index).status.code(),
        Some(0)
    );
    let kept = std::fs::read(&index).unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("broken.json"), "{\"id\": \"X\", \"affected\": [").unwrap();
    let failed = import(&bad, &index);
    assert_eq!(failed.status.code(), Some(2));
    let message = stderr(&failed);
    assert!(message.contains("broken.json"), "{message}");
    assert!(message.contains("previous index is unchanged"), "{message}");
    assert_eq!(std::fs::read(&index).unwrap(), kept);
    assert!(failed.stdout.is_empty());

    let missing = import(&dir.path().join("none.zip"), &index);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("none.zip"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_missing_root_is_a_usage_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("no-such-root");
    let output = agent()
        .args(["scan", "host", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("no-such-root") && message.contains("--root"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    assert!(output.stdout.is_empty());
}

#[test]
fn scan_all_puts_tls_email_and_host_in_one_report() {
    let dns = DnsResponder::start(mail_zone());
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("vulndb.sqlite");
    assert_eq!(
        import(&host_testdata("osv/debian"), &index).status.code(),
        Some(0)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"org = "example-org"
[dns]
resolvers = ["{dns}"]
[tls]
targets = ["127.0.0.1:{closed}"]
timeout = "2s"
[email]
domains = ["nodmarc.test"]
dkim_selectors = ["sel1"]
timeout = "2s"
concurrency = 2
[host]
enabled = true
root = "{root}"
vulndb = "vulndb.sqlite"
"#,
            dns = dns.addr(),
            root = host_testdata("debian12").display(),
        ),
    )
    .unwrap();
    let output = agent()
        .args(["scan", "all", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let warnings = stderr(&output);
    assert!(!warnings.contains("not available"), "{warnings}");
    let report = report(&output);
    assert_eq!(report.org, "example-org");
    let kinds: Vec<TargetKind> = report.targets.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [TargetKind::Tls, TargetKind::Email, TargetKind::Host]
    );
    assert_eq!(
        status(&report, &format!("127.0.0.1:{closed}"), "tls.connect"),
        Status::Error
    );
    assert_eq!(
        status(&report, "nodmarc.test", "email.dmarc.missing"),
        Status::Fail
    );
    assert_debian12_posture(&report);
    assert_eq!(
        status(&report, "debian-fixture", "host.vulnerabilities"),
        Status::Fail,
        "[host] vulndb is relative to the config file"
    );
    assert_eq!(report.observations.tls.len(), 1);
    assert_eq!(report.observations.email.len(), 1);
    assert!(report.observations.host.is_some());

    // The same configuration, gated: the unreachable endpoint, the missing DMARC record and
    // the pending security updates are all high.
    let gated = agent()
        .args(["scan", "all", "--fail-on", "high", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(gated.status.code(), Some(1), "stderr: {}", stderr(&gated));
    let text = stdout(&gated);
    for heading in [
        format!("TLS target 127.0.0.1:{closed}"),
        "Mail domain nodmarc.test".to_owned(),
        "Host debian-fixture".to_owned(),
    ] {
        assert!(text.contains(&heading), "{heading}: {text}");
    }
    assert!(text.contains("3 target(s)"), "{text}");
}

#[test]
fn run_once_spools_email_and_host_in_the_report() {
    let dns = DnsResponder::start(mail_zone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"org = "example-org"
[collector]
url = "http://127.0.0.1:{nobody}"
token_file = "token"
[agent]
outbox = "outbox"
once_deadline = "1s"
retry_initial = "100ms"
[dns]
resolvers = ["{dns}"]
[email]
domains = ["good.test"]
timeout = "2s"
[host]
enabled = true
root = "{root}"
"#,
            dns = dns.addr(),
            root = host_testdata("debian12").display(),
        ),
    )
    .unwrap();
    let output = agent()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    // Nobody listens: the report waits in the outbox (exit status 3), where it can be read.
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let spooled: Vec<PathBuf> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    let report: Report = serde_json::from_slice(&std::fs::read(&spooled[0]).unwrap()).unwrap();
    vigie_model::validate::validate(&report).unwrap();
    let kinds: Vec<TargetKind> = report.targets.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [TargetKind::Email, TargetKind::Host]);
    assert_eq!(
        status(&report, "good.test", "email.dmarc.policy"),
        Status::Pass
    );
    assert_debian12_posture(&report);
    assert_eq!(report.observations.email.len(), 1);
    assert!(report.observations.host.is_some());
}
