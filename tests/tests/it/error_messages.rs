//! Every error path of both binaries that a person can reach without the network, run as
//! a person would (the real `vigie-agent` and `vigie-collector`, bad invocations and bad
//! files): the process fails, its stderr is not empty, names what failed, and says no
//! sentence twice.
//!
//! The convention it holds the code to: an error's message shows its cause's text, so the
//! error has no `source()` (no `#[source]`, `#[from]` or field named `source`); `main`
//! prints anyhow's chain with `{:#}`, in which each layer then appears once.
//!
//! Nothing here sends a packet off the machine: the only addresses are loopback, the scope
//! refusals happen before any packet, and the one non-loopback listen address is refused
//! before the collector binds it.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vigie_tests::harness;
use vigie_tests::pki::{self, LeafSpec};

/// One bad invocation.
struct Case {
    name: &'static str,
    binary: &'static str,
    args: Vec<String>,
    /// Texts stderr must contain: what failed (a path, a key, an address).
    names: Vec<String>,
}

fn case(name: &'static str, binary: &'static str, args: &[&str], names: &[&str]) -> Case {
    Case {
        name,
        binary,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

/// Segments of a message, split where a printer joins layers (`: `) and where sentences
/// end, normalized (case, spaces, trailing punctuation); short ones (`line 3`, an error
/// code) may repeat legitimately and are left out.
fn segments(stderr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in stderr.lines() {
        for part in line
            .split(": ")
            .flat_map(|p| p.split(". "))
            .flat_map(|p| p.split("; "))
        {
            let normal = part
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
                .to_lowercase();
            if normal.chars().count() >= 16 {
                out.push(normal);
            }
        }
    }
    out
}

/// The segments that appear more than once.
fn repeated(stderr: &str) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for segment in segments(stderr) {
        *counts.entry(segment).or_default() += 1;
    }
    let mut out: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(s, _)| s)
        .collect();
    out.sort();
    out
}

#[test]
fn the_repeat_detector_finds_a_cause_printed_twice() {
    let doubled = "vigie-agent: error: the scan could not run: the service scan was refused, \
         nothing was sent: 127.0.200.1 is outside the scope allowlist: 127.0.200.1 is outside \
         the scope allowlist";
    assert_eq!(
        repeated(doubled),
        vec!["127.0.200.1 is outside the scope allowlist"]
    );
    assert!(repeated("error: cannot read the config file x.toml: No such file").is_empty());
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path.display().to_string()
}

fn agent_cases(dir: &Path) -> Vec<Case> {
    let d = |name: &str| dir.join(name).display().to_string();
    let bad_toml = write(dir, "bad.toml", "org = [\n");
    let unknown = write(dir, "unknown.toml", "org = \"acme\"\nlistn = 1\n");
    let bad_pem = write(dir, "bad.pem", "not a certificate\n");
    let token = write(dir, "token", "vigie_agent_token_for_tests\n");
    // A regular file where a folder is expected: unwritable even for root.
    let file = write(dir, "a-file", "");
    let scope = write(
        dir,
        "scope.toml",
        "org = \"acme\"\n[scope]\nallow = [\"127.0.201.0/24\"]\n",
    );
    let run = |name: &str, outbox: &str, token_file: &str, ca_file: Option<&str>| {
        let ca = ca_file
            .map(|c| format!("ca_file = \"{c}\"\n"))
            .unwrap_or_default();
        write(
            dir,
            name,
            &format!(
                "org = \"acme\"\n[agent]\nid = \"srv01\"\noutbox = \"{outbox}\"\n\
                 [collector]\nurl = \"https://127.0.0.1:1\"\ntoken_file = \"{token_file}\"\n{ca}"
            ),
        )
    };
    let outbox = d("outbox");
    let unwritable_outbox = format!("{file}/outbox");
    let bad_outbox = run("bad-outbox.toml", &unwritable_outbox, &token, None);
    let no_token = run("no-token.toml", &outbox, &d("missing-token"), None);
    let no_ca = run("no-ca.toml", &outbox, &token, Some(&d("missing-ca.pem")));
    let bad_ca = run("bad-ca.toml", &outbox, &token, Some(&bad_pem));
    let missing = d("missing.toml");
    let missing_pem = d("missing.pem");
    let a = "vigie-agent";
    vec![
        case(
            "config not found",
            a,
            &["run", "--once", "--config", &missing],
            &[&missing],
        ),
        case(
            "bad TOML",
            a,
            &["run", "--once", "--config", &bad_toml],
            &[&bad_toml, "line 1"],
        ),
        case(
            "unknown key",
            a,
            &["run", "--once", "--config", &unknown],
            &["listn"],
        ),
        case(
            "unwritable outbox",
            a,
            &["run", "--once", "--config", &bad_outbox],
            &[&unwritable_outbox],
        ),
        case(
            "missing token file",
            a,
            &["run", "--once", "--config", &no_token],
            &["missing-token"],
        ),
        case(
            "missing collector CA file",
            a,
            &["run", "--once", "--config", &no_ca],
            &["missing-ca.pem"],
        ),
        case(
            "collector CA file without a certificate",
            a,
            &["run", "--once", "--config", &bad_ca],
            &[&bad_pem],
        ),
        case(
            "missing CA file (tls)",
            a,
            &["scan", "tls", "127.0.0.1:1", "--ca-file", &missing_pem],
            &[&missing_pem],
        ),
        case(
            "bad PEM (tls)",
            a,
            &["scan", "tls", "127.0.0.1:1", "--ca-file", &bad_pem],
            &[&bad_pem],
        ),
        case(
            "missing CA file (email)",
            a,
            &[
                "scan",
                "email",
                "example.test",
                "--resolver",
                "127.0.0.1:1",
                "--ca-file",
                &missing_pem,
            ],
            &[&missing_pem],
        ),
        case(
            "bad PEM (email)",
            a,
            &[
                "scan",
                "email",
                "example.test",
                "--resolver",
                "127.0.0.1:1",
                "--ca-file",
                &bad_pem,
            ],
            &["--ca-file", "CERTIFICATE"],
        ),
        case(
            "target outside the scope (flag)",
            a,
            &[
                "scan",
                "services",
                "127.0.200.1",
                "--scope",
                "127.0.201.0/24",
            ],
            &["127.0.200.1", "scope", "--scope 127.0.200.1"],
        ),
        case(
            "target outside the scope (config)",
            a,
            &["scan", "services", "127.0.200.1", "--config", &scope],
            &["127.0.200.1", "scope"],
        ),
        case(
            "too many addresses",
            a,
            &["scan", "services", "127.0.0.0/8", "--scope", "127.0.0.0/8"],
            &["cap", "--max-addresses"],
        ),
        case(
            "missing host root",
            a,
            &["scan", "host", "--root", &d("no-such-root")],
            &["no-such-root"],
        ),
        case(
            "missing OSV source",
            a,
            &[
                "vulndb",
                "import",
                &d("no-osv"),
                "--db",
                &d("vulndb.sqlite"),
            ],
            &["no-osv"],
        ),
        case(
            "unwritable output file",
            a,
            &[
                "scan",
                "host",
                "--root",
                dir.to_str().unwrap(),
                "--output",
                &format!("{file}/out.json"),
            ],
            &["out.json"],
        ),
    ]
}

fn collector_cases(dir: &Path) -> Vec<Case> {
    let d = |name: &str| dir.join(name).display().to_string();
    let db = format!("sqlite://{}", d("collector.db"));
    let bad_toml = write(dir, "collector-bad.toml", "listen = [\n");
    let unknown = write(dir, "collector-unknown.toml", "listn = \"127.0.0.1:1\"\n");
    let bad_pem = write(dir, "collector-bad.pem", "not a certificate\n");
    let file = write(dir, "collector-file", "");
    let leaf = pki::self_signed(&LeafSpec::valid_for(&["127.0.0.1"]));
    let cert = write(dir, "collector-cert.pem", &leaf.chain_pem);
    let answers = write(
        dir,
        "answers.csv",
        "org,question,answer,respondent_role,answered_on,evidence\n\
         acme,no-such-question,perhaps,it,2026-13-45,\n",
    );
    let regions = write(dir, "regions.csv", "org,region\nacme,north\n");
    let missing = d("collector-missing.toml");
    let missing_cert = d("missing-cert.pem");
    let missing_key = d("missing-key.pem");
    let unopenable = format!("sqlite://{file}/v.db");
    let c = "vigie-collector";
    let serve = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["serve", "--database-url", &db];
        args.extend_from_slice(extra);
        args.iter().map(|a| (*a).to_owned()).collect()
    };
    let mut cases = vec![
        case(
            "config not found",
            c,
            &["--config", &missing, "migrate"],
            &[&missing],
        ),
        case(
            "bad TOML",
            c,
            &["--config", &bad_toml, "migrate"],
            &["collector-bad.toml"],
        ),
        case(
            "unknown key",
            c,
            &["--config", &unknown, "migrate"],
            &["listn"],
        ),
        case(
            "bad database URL",
            c,
            &["--database-url", "mysql://x/y", "migrate"],
            &["mysql"],
        ),
        case(
            "unopenable SQLite file",
            c,
            &["--database-url", &unopenable, "migrate"],
            &["v.db"],
        ),
        case(
            "unreachable PostgreSQL",
            c,
            &[
                "--database-url",
                "postgres://vigie@127.0.0.1:1/vigie",
                "migrate",
            ],
            &["PostgreSQL"],
        ),
        case(
            "invalid organization id",
            c,
            &[
                "--database-url",
                &db,
                "agent",
                "add",
                "--create",
                "--org",
                "NOT VALID",
                "--name",
                "srv01",
            ],
            &["NOT VALID"],
        ),
        case(
            "bad assessment answers",
            c,
            &["--database-url", &db, "assess", "import", &answers],
            &["answers.csv", "line 2"],
        ),
        case(
            "bad organization CSV",
            c,
            &["--database-url", &db, "org", "import", &regions],
            &["regions.csv"],
        ),
    ];
    for (name, extra, names) in [
        (
            "bad listen address",
            vec!["--listen", "nonsense"],
            vec!["nonsense"],
        ),
        (
            "non-loopback listen without TLS",
            vec!["--listen", "192.0.2.1:8080"],
            vec!["192.0.2.1:8080", "--tls-cert"],
        ),
        (
            "TLS certificate missing",
            vec![
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &missing_cert,
                "--tls-key",
                &missing_key,
            ],
            vec!["missing-cert.pem"],
        ),
        (
            "TLS certificate not PEM",
            vec![
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &bad_pem,
                "--tls-key",
                &bad_pem,
            ],
            vec!["collector-bad.pem"],
        ),
        (
            "TLS key missing",
            vec![
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &cert,
                "--tls-key",
                &missing_key,
            ],
            vec!["missing-key.pem"],
        ),
    ] {
        cases.push(Case {
            name,
            binary: c,
            args: serve(&extra),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        });
    }
    cases
}

#[test]
fn no_error_message_of_either_binary_repeats_itself() {
    let dir = tempfile::tempdir().expect("scratch folder");
    let mut failures = Vec::new();
    let cases: Vec<Case> = agent_cases(dir.path())
        .into_iter()
        .chain(collector_cases(dir.path()))
        .collect();
    for case in &cases {
        let output = harness::run(
            Command::new(harness::binary(case.binary))
                .args(&case.args)
                .current_dir(dir.path())
                .env_remove("VIGIE_CONFIG")
                .env_remove("VIGIE_LOG")
                .env_remove("VIGIE_LANG")
                .env_remove("LANG")
                .env_remove("LC_ALL")
                .env_remove("LC_MESSAGES")
                .env_remove("VIGIE_DATABASE_URL")
                .env_remove("VIGIE_LISTEN")
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "warn"),
            Duration::from_secs(60),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut wrong = Vec::new();
        if output.status.success() {
            wrong.push("exited with status 0".to_owned());
        }
        if stderr.trim().is_empty() {
            wrong.push("printed nothing on stderr".to_owned());
        }
        for name in &case.names {
            if !stderr.contains(name.as_str()) {
                wrong.push(format!("does not name `{name}`"));
            }
        }
        let repeats = repeated(&stderr);
        if !repeats.is_empty() {
            wrong.push(format!("repeats {repeats:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} `{}` ({}): {}\n  stderr: {}",
                case.binary,
                case.args.join(" "),
                case.name,
                wrong.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} error paths are wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The agent's errors in French: the frame always, and the whole text for those a newcomer
/// meets first (config, scope, cap, CA file, token, outbox), with what failed still named.
#[test]
fn the_agents_errors_speak_french() {
    let dir = tempfile::tempdir().expect("scratch folder");
    let translated = [
        "config not found",
        "unwritable outbox",
        "missing token file",
        "missing CA file (tls)",
        "bad PEM (tls)",
        "target outside the scope (flag)",
        "target outside the scope (config)",
        "too many addresses",
        "missing host root",
    ];
    let mut failures = Vec::new();
    for case in agent_cases(dir.path()) {
        let output = harness::run(
            Command::new(harness::binary(case.binary))
                .args(&case.args)
                .current_dir(dir.path())
                .env_remove("VIGIE_CONFIG")
                .env_remove("VIGIE_LOG")
                .env_remove("VIGIE_LANG")
                .env_remove("LC_ALL")
                .env_remove("LC_MESSAGES")
                .env("LANG", "fr_CA.UTF-8")
                .env("NO_COLOR", "1"),
            Duration::from_secs(60),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut wrong = Vec::new();
        let frame = "vigie-agent\u{a0}: erreur\u{a0}: ";
        // The error itself, after any log line.
        let error = stderr.find(frame).map_or("", |at| &stderr[at..]);
        if error.is_empty() {
            wrong.push("no French frame".to_owned());
        }
        for name in &case.names {
            let name = match name.strip_prefix("line ") {
                Some(number) => format!("ligne {number}"),
                None => name.clone(),
            };
            if name != "cap" && !error.contains(name.as_str()) {
                wrong.push(format!("does not name `{name}`"));
            }
        }
        if translated.contains(&case.name) {
            for english in ["cannot", "the ", " is ", "error:"] {
                if error.contains(english) {
                    wrong.push(format!("English `{english}` left"));
                }
            }
        }
        if !repeated(&stderr).is_empty() {
            wrong.push("repeats itself".to_owned());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n  stderr: {}",
                case.name,
                wrong.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
