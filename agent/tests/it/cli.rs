//! The `vigie-agent` binary as a user runs it: exit statuses, what goes to stdout and
//! stderr, formats and languages. Targets are closed ports on 127.0.0.1, so no TLS server
//! and no network are needed.

use std::path::Path;
use std::process::{Command, Output};

use vigie_model::{Report, Status};

fn agent() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie-agent"));
    // The tests decide the language and the logs; the caller's environment must not.
    command
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .env_remove("NO_COLOR");
    command
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn closed_target() -> String {
    format!("127.0.0.1:{}", closed_port())
}

/// `scan tls` of a closed port, hermetic (a resolver that is never asked, short timeout).
fn scan_closed(extra: &[&str]) -> Output {
    agent()
        .args([
            "scan",
            "tls",
            &closed_target(),
            "--resolver",
            "127.0.0.1:9",
            "--timeout",
            "2s",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn json_output_is_a_v1_report_and_an_error_passes_without_a_gate() {
    let output = scan_closed(&["--format", "json", "--org", "example-org"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let report: Report = serde_json::from_slice(&output.stdout).expect("stdout is a report");
    vigie_model::validate::validate(&report).unwrap();
    assert_eq!(report.schema, "vigie.report.v1");
    assert_eq!(report.org, "example-org");
    assert_eq!(report.profile.as_deref(), Some("modern"));
    assert_eq!(report.agent.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(report.report_id.get_version_num(), 4);
    assert_eq!(report.targets.len(), 1);
    assert_eq!(report.observations.tls.len(), 1);
    let connect = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "tls.connect")
        .unwrap();
    assert_eq!(connect.status, Status::Error);
}

#[test]
fn an_unreachable_endpoint_fails_a_high_gate() {
    let output = scan_closed(&["--format", "json", "--fail-on", "high"]);
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    serde_json::from_slice::<Report>(&output.stdout).expect("the report is still printed");
    let output = scan_closed(&["--fail-on", "high"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("failed or in error at severity high or above"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn piped_text_has_no_colour_and_a_total() {
    let output = scan_closed(&[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let text = stdout(&output);
    assert!(
        !text.contains('\x1b'),
        "ANSI escapes in piped output: {text:?}"
    );
    assert!(text.contains("TLS target 127.0.0.1:"), "{text}");
    assert!(text.contains("error"), "{text}");
    assert!(text.contains("tls.connect"), "{text}");
    assert!(text.contains("1 target(s)"), "{text}");
}

#[test]
fn french_is_chosen_by_flag_or_environment() {
    let output = scan_closed(&["--lang", "fr"]);
    let text = stdout(&output);
    assert!(text.contains("Cible TLS 127.0.0.1:"), "{text}");
    assert!(text.contains("erreur"), "{text}");
    assert!(text.contains("1 cible(s)"), "{text}");
    assert!(
        text.contains("Aucune connexion TLS") || !text.contains("No TLS connection"),
        "{text}"
    );

    let output = agent()
        .env("VIGIE_LANG", "fr")
        .args(["scan", "tls", &closed_target(), "--resolver", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(stdout(&output).contains("Cible TLS"), "{}", stdout(&output));
}

#[test]
fn output_goes_to_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let output = scan_closed(&["--format", "json", "--output", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let report: Report = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(report.targets.len(), 1);

    let output = scan_closed(&["--output", "/nonexistent-folder/report.txt"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent-folder/report.txt"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bad_fail_on_is_a_usage_error_that_lists_the_choices() {
    let output = agent()
        .args(["scan", "tls", "127.0.0.1:1", "--fail-on", "urgent"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("urgent"), "{message}");
    assert!(message.contains("critical"), "{message}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_config_is_exit_2_with_file_line_and_key() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config/bad_duration.toml");
    for command in [
        &["scan", "all", "--config"][..],
        &["run", "--once", "--config"],
    ] {
        let output = agent().args(command).arg(&config).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let message = stderr(&output);
        assert!(message.contains("bad_duration.toml"), "{message}");
        assert!(message.contains("line 4"), "{message}");
        assert!(message.contains("agent.schedule"), "{message}");
        assert_eq!(
            message.matches("error").count(),
            1,
            "printed once: {message}"
        );
    }
}

/// `scan all` with every family is in `email_host.rs`.
#[test]
fn scan_all_scans_the_configured_targets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"org = "example-org"
[dns]
resolvers = ["127.0.0.1:9"]
[tls]
targets = ["{}"]
timeout = "2s"
[email]
dkim_selectors = ["selector1"]
[host]
enabled = false
"#,
            closed_target()
        ),
    )
    .unwrap();
    let output = agent()
        .args(["scan", "all", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.org, "example-org");
    assert_eq!(report.targets.len(), 1, "no domain, host disabled");
    assert!(report.observations.email.is_empty());
    assert!(report.observations.host.is_none());
    let warnings = stderr(&output);
    assert!(!warnings.contains("not available"), "{warnings}");
}

#[test]
fn run_once_exits_3_when_the_collector_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let token = dir.path().join("token");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"org = "example-org"
[collector]
url = "http://127.0.0.1:{}"
token_file = "token"
timeout = "1s"
[agent]
outbox = "outbox"
retry_initial = "50ms"
retry_max = "100ms"
once_deadline = "500ms"
"#,
            closed_port()
        ),
    )
    .unwrap();
    let output = agent()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let logs = stderr(&output);
    assert!(!logs.contains("t0ken"), "the token is never logged: {logs}");
    #[cfg(unix)]
    assert!(
        logs.contains("readable by group or others"),
        "mode 644 is warned about: {logs}"
    );
    let pending: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .collect();
    assert_eq!(pending.len(), 1, "the report waits in the outbox");
}

#[test]
fn run_without_token_file_is_exit_2_naming_the_key() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config/token_missing.toml");
    let output = agent()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("collector.token_file"), "{message}");
    assert!(message.contains("line 5"), "{message}");
    assert!(message.contains("no-such-token-file"), "{message}");
}
