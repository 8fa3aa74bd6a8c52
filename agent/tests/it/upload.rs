//! `run --once` against a real HTTP collector stand-in on 127.0.0.1: what happens to a spooled
//! report for each kind of answer, and when the collector is down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use vigie_agent::outbox::{Outbox, REJECTED};
use vigie_agent::{load_config, run_once, AgentConfig, Exit, RunOutcome, Shutdown};
use vigie_model::{Lang, Report};

/// Every test ends within this, or fails.
const TEST_BOUND: Duration = Duration::from_secs(30);

/// One request as the collector saw it.
#[derive(Debug, Clone)]
struct Received {
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    /// Answers given in order, then `then` for every later request.
    answers: Vec<(u16, &'static str)>,
    then: Option<(u16, &'static str)>,
    received: Vec<Received>,
}

#[derive(Clone)]
struct CollectorState {
    script: Arc<Mutex<Script>>,
    first_request: Arc<Notify>,
}

/// A collector stand-in serving `POST /api/v1/reports`; stopped by [`Collector::stop`] or,
/// failing that, aborted when dropped.
struct Collector {
    addr: SocketAddr,
    state: CollectorState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Collector {
    /// Answers with `answers` in order, then with `then` (201 when `None`).
    async fn start(
        answers: &[(u16, &'static str)],
        then: Option<(u16, &'static str)>,
    ) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Collector::serve_on(listener, answers, then, 0).await
    }

    /// Serves on `listener`, after closing its first `drop_first` connections unanswered.
    async fn serve_on(
        listener: TcpListener,
        answers: &[(u16, &'static str)],
        then: Option<(u16, &'static str)>,
        drop_first: usize,
    ) -> Collector {
        let addr = listener.local_addr().unwrap();
        let state = CollectorState {
            script: Arc::new(Mutex::new(Script {
                answers: answers.to_vec(),
                then,
                received: Vec::new(),
            })),
            first_request: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/api/v1/reports", post(ingest))
            .with_state(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            for _ in 0..drop_first {
                // The agent sees a connection closed before any answer.
                let (socket, _) = listener.accept().await.unwrap();
                drop(socket);
            }
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Collector {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.state.script.lock().unwrap().received.clone()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn ingest(
    State(state): State<CollectorState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, text) = {
        let mut script = state.script.lock().unwrap();
        script.received.push(Received {
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: body.to_vec(),
        });
        if script.answers.is_empty() {
            script.then.unwrap_or((201, r#"{"report_id":"x"}"#))
        } else {
            script.answers.remove(0)
        }
    };
    state.first_request.notify_one();
    (StatusCode::from_u16(status).unwrap(), text.to_owned())
}

/// A folder with a token file and a config pointing at `collector_url`, no TLS target (the
/// scan is instant and produces an empty report), fast retries.
struct Setup {
    dir: tempfile::TempDir,
    config: AgentConfig,
}

impl Setup {
    fn new(collector_url: &str, once_deadline: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "  test-token-123\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let token = dir.path().join("token");
            std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = format!(
            r#"org = "example-org"

[collector]
url = "{collector_url}"
token_file = "token"
timeout = "2s"

[agent]
id = "test-agent"
outbox = "outbox"
retry_initial = "20ms"
retry_max = "100ms"
once_deadline = "{once_deadline}"
"#
        );
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, text).unwrap();
        let config = load_config(&path).unwrap();
        Setup { dir, config }
    }

    fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    async fn run_once(&self) -> RunOutcome {
        tokio::time::timeout(
            TEST_BOUND,
            run_once(&self.config, Lang::En, &Shutdown::never()),
        )
        .await
        .expect("run --once ends in time")
        .expect("run --once starts")
    }
}

fn pending_files(outbox: &Path) -> Vec<PathBuf> {
    Outbox::open(outbox).unwrap().pending().unwrap()
}

fn report_id(body: &[u8]) -> uuid::Uuid {
    serde_json::from_slice::<Report>(body).unwrap().report_id
}

#[tokio::test]
async fn two_503_then_201_delivers_the_report_once_and_deletes_it() {
    let collector = Collector::start(
        &[
            (503, r#"{"error":"unavailable","detail":"store busy"}"#),
            (503, "busy"),
        ],
        None,
    )
    .await;
    let setup = Setup::new(&collector.url(), "20s");
    let outcome = setup.run_once().await;
    assert_eq!(outcome.delivered, 1, "{outcome:?}");
    assert_eq!(outcome.remaining, 0);
    assert_eq!(Exit::for_run_once(&outcome), Exit::Success);
    assert!(
        pending_files(&setup.outbox()).is_empty(),
        "deleted after the 201"
    );

    let received = collector.received();
    assert_eq!(received.len(), 3, "two retries then the success");
    let spooled = outcome.spooled.as_ref().unwrap();
    assert!(!spooled.exists());
    let id = report_id(&received[0].body);
    for request in &received {
        assert_eq!(
            request.authorization.as_deref(),
            Some("Bearer test-token-123"),
            "token trimmed"
        );
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(report_id(&request.body), id, "the same report each time");
    }
    let report: Report = serde_json::from_slice(&received[0].body).unwrap();
    vigie_model::validate::validate(&report).unwrap();
    assert_eq!(report.org, "example-org");
    assert_eq!(report.agent.id, "test-agent");
    collector.stop().await;
}

#[tokio::test]
async fn a_422_moves_the_report_aside_and_is_not_retried() {
    let collector = Collector::start(
        &[(
            422,
            r#"{"error":"invalid_report","detail":"finished_at is before started_at"}"#,
        )],
        Some((500, "must not be asked again")),
    )
    .await;
    let setup = Setup::new(&collector.url(), "5s");
    let outcome = setup.run_once().await;
    assert_eq!(outcome.rejected, 1, "{outcome:?}");
    assert_eq!(outcome.delivered, 0);
    assert_eq!(outcome.remaining, 0, "nothing left to retry");
    assert_eq!(collector.received().len(), 1, "not retried");

    let rejected = setup.outbox().join(REJECTED);
    let name = outcome.spooled.unwrap().file_name().unwrap().to_owned();
    assert!(rejected.join(&name).exists(), "moved to rejected/");
    let mut reason = rejected.join(&name).into_os_string();
    reason.push(".reason");
    let reason = std::fs::read_to_string(reason).unwrap();
    assert!(
        reason.contains("422") && reason.contains("finished_at is before started_at"),
        "{reason}"
    );
    collector.stop().await;
}

#[tokio::test]
async fn an_unreachable_collector_gets_the_report_after_backoff() {
    // The collector's first two connections are closed unanswered, as by a restarting server.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = Collector::serve_on(listener, &[], None, 2).await;
    let setup = Setup::new(&collector.url(), "20s");
    let outcome = setup.run_once().await;
    assert_eq!(outcome.delivered, 1, "{outcome:?}");
    assert_eq!(outcome.remaining, 0);
    assert_eq!(collector.received().len(), 1, "one complete request");
    collector.stop().await;
}

#[tokio::test]
async fn a_collector_that_starts_late_gets_the_report() {
    // Nothing listens on the port at first: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let setup = Arc::new(Setup::new(&format!("http://127.0.0.1:{port}"), "20s"));
    let running = {
        let setup = Arc::clone(&setup);
        tokio::spawn(async move { setup.run_once().await })
    };
    // Let some attempts fail; the assertions below do not depend on how many.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let collector = Collector::serve_on(listener, &[], None, 0).await;
    let outcome = tokio::time::timeout(TEST_BOUND, running)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.delivered, 1, "{outcome:?}");
    assert_eq!(outcome.remaining, 0);
    assert_eq!(collector.received().len(), 1);
    collector.stop().await;
}

#[tokio::test]
async fn reports_stay_in_the_outbox_when_the_deadline_passes() {
    let collector = Collector::start(&[], Some((503, "down for maintenance"))).await;
    let setup = Setup::new(&collector.url(), "400ms");
    let started = std::time::Instant::now();
    let outcome = setup.run_once().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by once_deadline"
    );
    assert_eq!(outcome.remaining, 1, "{outcome:?}");
    assert_eq!(Exit::for_run_once(&outcome), Exit::Undelivered);
    assert_eq!(Exit::for_run_once(&outcome).code(), 3);
    assert!(collector.received().len() >= 2, "it retried");
    assert_eq!(
        pending_files(&setup.outbox()).len(),
        1,
        "kept for the next run"
    );
    collector.stop().await;
}

#[tokio::test]
async fn a_token_for_another_agent_keeps_the_report_and_stops_the_round() {
    let collector = Collector::start(
        &[],
        Some((
            409,
            r#"{"error":"agent_mismatch","detail":"the report is from agent `a` but this agent token is for agent `b`"}"#,
        )),
    )
    .await;
    let setup = Setup::new(&collector.url(), "5s");
    let outcome = setup.run_once().await;
    assert_eq!(outcome.remaining, 1, "{outcome:?}");
    assert_eq!(
        outcome.rejected, 0,
        "the report is not at fault, the config is"
    );
    assert!(!setup.outbox().join(REJECTED).exists());
    collector.stop().await;
}

#[tokio::test]
async fn a_refused_token_keeps_the_report_and_stops_the_round() {
    let collector = Collector::start(
        &[],
        Some((401, r#"{"error":"unauthorized","detail":"unknown token"}"#)),
    )
    .await;
    let setup = Setup::new(&collector.url(), "5s");
    let outcome = setup.run_once().await;
    assert_eq!(outcome.remaining, 1, "{outcome:?}");
    assert_eq!(outcome.rejected, 0, "the report is not at fault");
    assert_eq!(
        collector.received().len(),
        1,
        "no retry storm on a bad token"
    );
    assert!(!setup.outbox().join(REJECTED).exists());
    collector.stop().await;
}

#[tokio::test]
async fn older_reports_go_first_and_corrupt_files_are_moved_aside() {
    let collector = Collector::start(&[], None).await;
    let setup = Setup::new(&collector.url(), "20s");
    let outbox = Outbox::open(&setup.outbox()).unwrap();
    // Two reports left by earlier runs, spooled out of order, and a damaged file.
    let mut ids = Vec::new();
    for days_ago in [2, 3] {
        let mut report = sample_report();
        report.started_at = chrono::Utc::now() - chrono::Duration::days(days_ago);
        report.finished_at = report.started_at;
        outbox.spool(&report).unwrap();
        ids.push((report.started_at, report.report_id));
    }
    std::fs::write(
        setup.outbox().join("20000101T000000.000000Z-damaged.json"),
        b"{\"schema\":",
    )
    .unwrap();

    let outcome = setup.run_once().await;
    assert_eq!(outcome.delivered, 3, "{outcome:?}");
    assert_eq!(outcome.rejected, 1, "the damaged file");
    assert_eq!(outcome.remaining, 0);
    assert!(setup
        .outbox()
        .join(REJECTED)
        .join("20000101T000000.000000Z-damaged.json")
        .exists());

    let sent: Vec<uuid::Uuid> = collector
        .received()
        .iter()
        .map(|r| report_id(&r.body))
        .collect();
    ids.sort();
    assert_eq!(sent[0], ids[0].1, "three days ago first");
    assert_eq!(sent[1], ids[1].1, "then two days ago");
    assert_eq!(sent.len(), 3, "then this run's report");
    collector.stop().await;
}

#[tokio::test]
async fn shutdown_stops_the_retries_at_once() {
    let collector = Collector::start(&[], Some((503, "down"))).await;
    let mut setup = Setup::new(&collector.url(), "60s");
    setup.config.agent.retry_initial = Duration::from_secs(30);
    setup.config.agent.retry_max = Duration::from_secs(30);
    let (trigger, shutdown) = vigie_agent::shutdown::channel();
    let first_request = Arc::clone(&collector.state.first_request);
    let config = setup.config.clone();
    let running = tokio::spawn(async move { run_once(&config, Lang::En, &shutdown).await });
    tokio::time::timeout(TEST_BOUND, first_request.notified())
        .await
        .unwrap();
    let asked = std::time::Instant::now();
    trigger.trigger();
    let outcome = tokio::time::timeout(TEST_BOUND, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(asked.elapsed() < Duration::from_secs(5), "stopped waiting");
    assert_eq!(
        outcome.remaining, 1,
        "the report is kept whole: {outcome:?}"
    );
    let pending = pending_files(&setup.outbox());
    assert_eq!(pending.len(), 1);
    let body = std::fs::read(&pending[0]).unwrap();
    serde_json::from_slice::<Report>(&body).expect("a complete report");
    collector.stop().await;
}

fn sample_report() -> Report {
    let now = chrono::Utc::now();
    Report {
        schema: vigie_model::SCHEMA_V1.to_owned(),
        report_id: uuid::Uuid::new_v4(),
        agent: vigie_model::AgentInfo {
            id: "test-agent".into(),
            version: "0.1.0".into(),
            hostname: "host".into(),
        },
        org: "example-org".into(),
        started_at: now,
        finished_at: now,
        targets: vec![],
        findings: vec![],
        observations: Default::default(),
        profile: Some("modern".into()),
    }
}

#[tokio::test]
async fn the_daemon_scans_delivers_and_stops_on_shutdown() {
    let collector = Collector::start(&[], None).await;
    let setup = Setup::new(&collector.url(), "20s");
    let (trigger, shutdown) = vigie_agent::shutdown::channel();
    let first_request = Arc::clone(&collector.state.first_request);
    let config = setup.config.clone();
    let running =
        tokio::spawn(async move { vigie_agent::run_daemon(&config, Lang::En, shutdown).await });
    tokio::time::timeout(TEST_BOUND, first_request.notified())
        .await
        .expect("the daemon scans and uploads at start");
    // The collector has the report; wait (bounded) until the agent has acted on the 201.
    let mut delivered = false;
    for _ in 0..200 {
        if pending_files(&setup.outbox()).is_empty() {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(delivered, "the report was deleted after the 201");
    trigger.trigger();
    tokio::time::timeout(TEST_BOUND, running)
        .await
        .expect("the daemon stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(
        collector.received().len(),
        1,
        "one cycle only: the schedule is 6h"
    );
    collector.stop().await;
}
