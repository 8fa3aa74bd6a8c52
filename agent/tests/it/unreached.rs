//! `scan tls` of an endpoint it cannot speak TLS to prints no `pass`: a closed port on
//! 127.0.84.1, and a plain-TCP server on 127.0.84.2 that reads what it is sent and closes
//! (every hello of the enumeration then looks "refused"). Each finding of those endpoints is
//! an `error` that says why, in both languages; none claims a fact that was never observed,
//! and the capability matrix graded from the report gives neither endpoint a level.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use vigie_matrix::grade::{grade_org, FindingFact, Inputs, TlsProfile, Value};
use vigie_model::{Lang, Report, Status};

const BOUND: Duration = Duration::from_secs(90);

/// A port of `ip` that nothing listens on (bound, then released).
fn closed_port(ip: &str) -> SocketAddr {
    let listener = std::net::TcpListener::bind((ip, 0)).expect("bind a loopback port");
    listener.local_addr().expect("its address")
}

/// A TCP server that reads the client's first bytes and closes without a word; stopped
/// when dropped.
struct SilentCloser {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SilentCloser {
    async fn start(ip: &str) -> SilentCloser {
        let listener = TcpListener::bind((ip, 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer))
                        .await;
                });
            }
        });
        SilentCloser { addr, task }
    }
}

impl Drop for SilentCloser {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `vigie-agent scan tls TARGET` (the deep scan) in `lang`, as JSON.
async fn scan_tls(target: &str, lang: &str) -> Report {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LOG")
        .env("VIGIE_LANG", lang)
        .args(["scan", "tls", target])
        .args(["--resolver", "127.0.0.1:9", "--timeout", "2s"])
        .args(["--format", "json"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .expect("the scan ends within its bound")
        .expect("the agent runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn assert_no_fact_claimed(report: &Report, target: &str, why_en: &str) {
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.target == target)
        .collect();
    assert!(
        findings.len() > 1,
        "{target}: tls.connect and more are graded: {report:#?}"
    );
    for finding in &findings {
        assert_eq!(
            finding.status,
            Status::Error,
            "{}: {}",
            finding.check,
            finding.summary
        );
    }
    assert!(
        findings.iter().any(|f| f.summary.contains(why_en)),
        "{target}: some finding says why ({why_en}): {findings:#?}"
    );
}

/// C01 and C02 graded from the report as the collector grades stored findings: unknown,
/// with the note that says the endpoint was not reached.
fn assert_capabilities_unknown(report: &Report, target: &str) {
    let facts: Vec<FindingFact> = report
        .findings
        .iter()
        .map(|f| FindingFact {
            check: f.check.known().expect("a check this build knows"),
            target: f.target.clone(),
            status: f.status,
            evidence: f.evidence.clone(),
            observed_at: report.finished_at,
        })
        .collect();
    let lifetimes = Default::default();
    let cells = grade_org(Inputs {
        findings: &facts,
        answers: &[],
        now: report.finished_at,
        profile: TlsProfile::Modern,
        certificate_lifetimes: &lifetimes,
    });
    let c02 = cells
        .iter()
        .find(|c| c.capability == "C02")
        .expect("C02 is graded");
    assert_eq!(c02.value, Value::Unknown, "{:?}", c02.notes);
    assert_eq!(c02.coverage, None);
    assert_eq!(
        c02.notes[0].render(Lang::En),
        format!("Unknown: the endpoint was not reached ({target}).")
    );
    assert_eq!(
        c02.notes[0].render(Lang::Fr),
        format!("Inconnu\u{a0}: le point d'accès n'a pas été joint ({target}).")
    );
    for cell in &cells {
        assert_eq!(cell.value, Value::Unknown, "{}", cell.capability);
    }
}

#[tokio::test]
async fn a_closed_port_gets_no_pass() {
    let addr = closed_port("127.0.84.1");
    let target = addr.to_string();
    let report = scan_tls(&target, "en").await;
    assert_no_fact_claimed(&report, &target, "the TCP connection failed");
    assert_capabilities_unknown(&report, &target);
    let report = scan_tls(&target, "fr").await;
    assert!(report
        .findings
        .iter()
        .any(|f| f.summary.contains("la connexion TCP a échoué")));
    assert!(report.findings.iter().all(|f| f.status != Status::Pass));
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_gets_no_pass() {
    let server = SilentCloser::start("127.0.84.2").await;
    let target = server.addr.to_string();
    let report = scan_tls(&target, "en").await;
    assert_no_fact_claimed(&report, &target, "accepted no TLS version");
    assert_capabilities_unknown(&report, &target);
    let policy = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "tls.policy.itsp_40_062")
        .expect("the enumeration ran and graded the policy check");
    assert_eq!(policy.status, Status::Error);
    let report = scan_tls(&target, "fr").await;
    assert!(report.findings.iter().all(|f| f.status != Status::Pass));
    assert!(report
        .findings
        .iter()
        .any(|f| f.summary.contains("n'a accepté aucune version")));
}
