//! `scan services` and the `[services]` part of `scan all`, as a user runs them: the binary
//! against tokio servers on loopback (an old SSH banner; a server outside the scope that must
//! never be contacted).

use std::net::SocketAddr;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::Command;
use vigie_model::{Report, Status, TargetKind};

/// A listener that greets with an SSH banner, counts connections, and stops with the test.
struct Banner {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Banner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn banner(ip: &str) -> Banner {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        for _ in 0..50 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_7.4\r\n").await;
        }
    });
    Banner {
        addr,
        connections,
        task,
    }
}

async fn agent(args: &[&str]) -> Output {
    let run = Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .args(args)
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("vigie-agent finished within 60 s")
        .unwrap()
}

fn report(output: &Output) -> Report {
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not a report ({error}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    vigie_model::validate::validate(&report).unwrap();
    report
}

#[tokio::test]
async fn scan_services_reports_open_ports_identified_services_and_their_risk() {
    let ssh = banner("127.0.71.1").await;
    let closed = std::net::TcpListener::bind("127.0.71.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ports = format!("{},{closed}", ssh.addr.port());
    let args = [
        "scan",
        "services",
        "127.0.71.1",
        "--ports",
        &ports,
        "--timeout",
        "500ms",
        "--format",
        "json",
    ];
    let output = agent(&args).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report(&output);
    assert!(report
        .targets
        .iter()
        .any(|t| t.kind == TargetKind::Services && t.target == "127.0.71.1"));
    let target = format!("127.0.71.1:{}", ssh.addr.port());
    let open = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "service.open" && f.target == target)
        .expect("a service.open finding for the SSH port");
    assert_eq!(open.status, Status::Info);
    assert_eq!(open.evidence["service"], "ssh");
    assert_eq!(open.evidence["version"], "7.4");
    let outdated = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "service.outdated" && f.target == target)
        .expect("OpenSSH 7.4 is outdated");
    assert_eq!(outdated.status, Status::Fail);
    let seen = &report.observations.services[0].to_json()["hosts"][0];
    assert_eq!(seen["open"][0]["service"], "ssh");
    assert_eq!(seen["closed"], 1);

    let mut gated = args.to_vec();
    gated.extend(["--fail-on", "medium"]);
    assert_eq!(
        agent(&gated).await.status.code(),
        Some(1),
        "--fail-on medium"
    );
}

#[tokio::test]
async fn a_service_scan_outside_the_scope_is_refused_with_exit_2_and_sends_nothing() {
    let outside = banner("127.0.72.1").await;
    let port = outside.addr.port().to_string();
    let output = agent(&[
        "scan",
        "services",
        "127.0.72.1",
        "--ports",
        &port,
        "--scope",
        "127.0.71.0/24",
    ])
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("127.0.72.1") && stderr.contains("outside the scope allowlist"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no report");

    // The same through a configuration file's [scope] and [services].
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"lab\"\n[scope]\nallow = [\"127.0.71.0/24\"]\n[services]\ntargets = [\"127.0.72.1\"]\nports = \"{port}\"\n[host]\nenabled = false\n"
        ),
    )
    .unwrap();
    let output = agent(&["scan", "all", "--config", config.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("127.0.72.1"));
    assert_eq!(
        outside.connections.load(Ordering::SeqCst),
        0,
        "nothing sent"
    );
}

#[tokio::test]
async fn scan_all_includes_the_services_of_the_config() {
    let ssh = banner("127.0.73.1").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"lab\"\n[scope]\nallow = [\"127.0.73.0/24\"]\n[services]\ntargets = [\"127.0.73.1\"]\nports = \"{}\"\n[host]\nenabled = false\n",
            ssh.addr.port()
        ),
    )
    .unwrap();
    let output = agent(&[
        "scan",
        "all",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        "--timeout",
        "500ms",
    ])
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report(&output);
    assert_eq!(report.org, "lab");
    assert!(report
        .findings
        .iter()
        .any(|f| f.check.as_str() == "service.open" && f.target.starts_with("127.0.73.1:")));
    assert_eq!(report.observations.services.len(), 1);
    assert!(ssh.connections.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_bad_services_section_names_the_key_and_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    for (section, hint) in [
        ("ports = \"22,0\"", "port 0"),
        ("ports = \"80-22\"", "goes down"),
        ("targets = [\"*.example.ca\"]", "wildcard"),
        ("targets = [\"203.0.113.5/28\"]", "203.0.113.0/28"),
        ("max_addresses = \"many\"", "max_addresses"),
        ("pacing = \"turbo\"", "adaptive"),
        ("extra = 1", "extra"),
    ] {
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!("org = \"lab\"\n[services]\n{section}\n[host]\nenabled = false\n"),
        )
        .unwrap();
        let output = agent(&["scan", "all", "--config", config.to_str().unwrap()]).await;
        assert_eq!(output.status.code(), Some(2), "{section}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(hint), "{section}: {stderr}");
    }
}

#[tokio::test]
async fn fixed_pacing_keeps_connection_attempts_ten_milliseconds_apart() {
    // 40 closed ports of one address, one connection at a time (so that each slot is taken
    // after the previous attempt's answer): each answers at once, so adaptive pacing would
    // tighten to about 40 ms in all; fixed pacing may not, 40 attempts 10 ms apart take at
    // least 390 ms.
    let args = |pacing: &'static str| {
        vec![
            "scan",
            "services",
            "127.0.74.1",
            "--ports",
            "20001-20040",
            "--pacing",
            pacing,
            "--concurrency",
            "1",
            "--format",
            "json",
        ]
    };
    let started = std::time::Instant::now();
    let output = agent(&args("fixed")).await;
    let fixed = started.elapsed();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        fixed >= Duration::from_millis(390),
        "fixed pacing took {fixed:?}"
    );
    let report = report(&output);
    assert_eq!(report.observations.services.len(), 1);
    let host = &report.observations.services[0].to_json()["hosts"][0];
    assert_eq!(host["closed"], 40, "{host}");
    let output = agent(&args("slow")).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("adaptive"));
}
