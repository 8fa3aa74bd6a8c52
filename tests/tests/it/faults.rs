//! The collector and the agent under fault, with the real binaries: the collector killed
//! during a stream of ingests, the database locked, the agent's outbox full, and clients
//! that send slowly or never finish.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use vigie_tests::harness::{self, Process};
use vigie_tests::scale::{self, Client, CollectorProcess};

const ORG: &str = "fault-org";

fn nonce() -> u64 {
    Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64
}

fn open_db(collector: &CollectorProcess) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(collector.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

/// `report_id → number of findings in the stored body`.
fn stored_bodies(db: &rusqlite::Connection) -> BTreeMap<String, usize> {
    let mut statement = db.prepare("SELECT report_id, body FROM reports").unwrap();
    let rows = statement
        .query_map([], |row| {
            // zstd-compressed since migration 13.
            Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .unwrap();
    rows.map(|row| {
        let (id, body) = row.unwrap();
        let body = zstd::decode_all(&body[..]).expect("stored body is zstd");
        let value: serde_json::Value = serde_json::from_slice(&body).expect("stored body is JSON");
        (id, value["findings"].as_array().map_or(0, Vec::len))
    })
    .collect()
}

/// `report_id → rows it wrote to the history` (every finding of these reports is a new key,
/// so a whole report wrote one transition per finding).
fn transitions_per_report(db: &rusqlite::Connection) -> BTreeMap<String, usize> {
    let mut statement = db
        .prepare("SELECT report_id, COUNT(*) FROM transitions GROUP BY report_id")
        .unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .unwrap();
    rows.map(|row| {
        let (id, count) = row.unwrap();
        (id, count as usize)
    })
    .collect()
}

struct Sent {
    body: String,
    findings: usize,
    /// The acknowledgement, if a 2xx came back: its `received_at`.
    acked: Option<String>,
}

#[test]
fn sigkill_during_concurrent_ingests_loses_no_acknowledged_report_and_stores_none_in_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut collector = CollectorProcess::start(dir.path(), &["--rate-limit", "0"]);
    // A token per client, named as the agent it posts for; three organizations.
    let tokens: Vec<(String, String)> = (0..6)
        .map(|i| {
            let org = format!("{ORG}-{}", i % 3);
            let token = collector.agent_token(&org, &format!("agent-{i}"));
            (org, token)
        })
        .collect();
    let run = nonce();
    let sent: Arc<Mutex<BTreeMap<String, Sent>>> = Arc::default();
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let clients: Vec<_> = (0..6u64)
        .map(|client| {
            let (org, token) = tokens[client as usize].clone();
            let (sent, acked, stop) = (sent.clone(), acked.clone(), stop.clone());
            let addr = collector.addr;
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut connection: Option<Client> = None;
                for seq in 0..5_000u64 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let id = scale::report_id(run, client, seq);
                    // Distinct sizes, so that a report cut short could not pass for another.
                    let findings = 20 + ((client * 37 + seq * 13) % 180) as usize;
                    let body = scale::report_json(
                        &id,
                        &org,
                        &format!("agent-{client}"),
                        &format!("r{client}x{seq}-"),
                        findings,
                        Utc::now(),
                    );
                    sent.lock().unwrap().insert(
                        id.clone(),
                        Sent {
                            body: body.clone(),
                            findings,
                            acked: None,
                        },
                    );
                    if connection.is_none() {
                        connection = Client::connect(addr, Duration::from_secs(10)).ok();
                    }
                    let Some(c) = connection.as_mut() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    match c.request("POST", "/api/v1/reports", Some(&token), Some(&body)) {
                        Ok(answer) if answer.status == 201 => {
                            let received = answer.json()["received_at"].as_str().map(str::to_owned);
                            assert!(
                                received.is_some(),
                                "ack without received_at: {}",
                                answer.body
                            );
                            sent.lock().unwrap().get_mut(&id).unwrap().acked = received;
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(answer) => {
                            panic!("unexpected answer {}: {}", answer.status, answer.body)
                        }
                        Err(_) => connection = None,
                    }
                }
            })
        })
        .collect();

    let enough = harness::wait_until(Duration::from_secs(60), || {
        acked.load(Ordering::Relaxed) >= 60
    });
    assert!(
        enough,
        "the clients got fewer than 60 acknowledgements in 60 s"
    );
    collector.kill();
    let acked_at_kill = acked.load(Ordering::Relaxed);
    // Let the clients see the dead collector (refused connections), then stop them.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client panicked");
    }
    let sent = Arc::try_unwrap(sent).ok().unwrap().into_inner().unwrap();
    assert!(acked_at_kill >= 60);

    collector.restart();
    let db = open_db(&collector);
    let stored = stored_bodies(&db);
    let history = transitions_per_report(&db);
    let acknowledged: Vec<(&String, &Sent)> =
        sent.iter().filter(|(_, s)| s.acked.is_some()).collect();
    for (id, report) in &acknowledged {
        assert_eq!(
            stored.get(*id),
            Some(&report.findings),
            "acknowledged report {id} missing or altered after SIGKILL"
        );
    }
    // Nothing in part: every stored report (acknowledged or caught in flight) is whole.
    for (id, findings) in &stored {
        let report = sent
            .get(id)
            .expect("only reports the clients sent are stored");
        assert_eq!(
            *findings, report.findings,
            "report {id} stored with another body"
        );
        assert_eq!(
            history.get(id),
            Some(findings),
            "report {id}: its findings were not all applied"
        );
    }
    assert_eq!(
        history.keys().collect::<BTreeSet<_>>(),
        stored.keys().collect::<BTreeSet<_>>(),
        "history rows without their report"
    );

    // Replays: an acknowledged report gets the same acknowledgement, stored once; one that
    // was in flight is taken now or was already taken, never twice.
    let token_of = |body: &str| {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        let agent = value["agent"]["id"].as_str().unwrap();
        let client: usize = agent.trim_start_matches("agent-").parse().unwrap();
        tokens[client].1.clone()
    };
    let mut client = Client::connect(collector.addr, Duration::from_secs(10)).unwrap();
    for (id, report) in &acknowledged {
        let answer = client
            .request(
                "POST",
                "/api/v1/reports",
                Some(&token_of(&report.body)),
                Some(&report.body),
            )
            .unwrap();
        assert_eq!(answer.status, 200, "replay of {id}: {}", answer.body);
        assert_eq!(
            answer.json()["received_at"].as_str(),
            report.acked.as_deref(),
            "replay of {id} acknowledged differently"
        );
    }
    for (id, report) in sent.iter().filter(|(_, s)| s.acked.is_none()) {
        let answer = client
            .request(
                "POST",
                "/api/v1/reports",
                Some(&token_of(&report.body)),
                Some(&report.body),
            )
            .unwrap();
        let expected = if stored.contains_key(id) { 200 } else { 201 };
        assert_eq!(
            answer.status, expected,
            "resend of in-flight {id}: {}",
            answer.body
        );
    }
    let stored = stored_bodies(&db);
    assert_eq!(
        stored.len(),
        sent.len(),
        "every report sent is stored, once"
    );
    let (count, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT report_id) FROM reports",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(count, distinct);
}

fn write_agent_config(dir: &Path, url: &str, token: &str, schedule: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("token"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    // A TLS target on a closed loopback port: a quick scan whose report holds error findings.
    let closed = harness::free_port(std::net::Ipv4Addr::new(127, 0, 0, 1));
    let config = format!(
        r#"org = "{ORG}"

[collector]
url = "{url}"
token_file = "{dir}/token"
timeout = "20s"

[agent]
id = "agent"
schedule = "{schedule}"
outbox = "{dir}/outbox"
retry_initial = "100ms"
retry_max = "500ms"

[tls]
targets = ["127.0.0.1:{closed}"]
timeout = "1s"
"#,
        dir = dir.display(),
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn outbox_reports(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn stored_ids(collector: &CollectorProcess) -> Vec<String> {
    stored_bodies(&open_db(collector)).into_keys().collect()
}

#[test]
fn database_locked_answers_503_and_the_agent_delivers_exactly_once_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorProcess::start(dir.path(), &[]);
    let token = collector.agent_token(ORG, "agent");

    // Another process takes the database's write lock and keeps it.
    let locker = open_db(&collector);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let id = scale::report_id(nonce(), 1, 1);
    let body = scale::report_json(&id, ORG, "agent", "p-", 20, Utc::now());
    let started = Instant::now();
    let answer = scale::request(
        collector.addr,
        "POST",
        "/api/v1/reports",
        Some(&token),
        Some(&body),
    )
    .unwrap();
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(
        answer.json()["error"],
        "store_unavailable",
        "{}",
        answer.body
    );
    assert!(answer.json()["detail"].is_string());
    assert!(
        answer.header("retry-after").is_some(),
        "503 says when to retry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered within the busy timeout"
    );
    let ready = scale::request(collector.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(
        ready.status, 503,
        "readyz while the database is locked: {}",
        ready.body
    );
    assert_eq!(ready.json()["error"], "store_unavailable");
    assert_eq!(
        scale::request(collector.addr, "GET", "/healthz", None, None)
            .unwrap()
            .status,
        200,
        "the process itself is alive"
    );

    let agent_dir = dir.path().join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = write_agent_config(
        &agent_dir,
        &format!("http://{}", collector.addr),
        &token,
        "1h",
    );
    let mut agent = Process::spawn(
        "vigie-agent",
        Command::new(harness::binary("vigie-agent"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null()),
    );
    let spooled = harness::wait_until(Duration::from_secs(60), || {
        !outbox_reports(&agent_dir).is_empty()
    });
    assert!(spooled, "the agent never spooled its report");
    let pending = outbox_reports(&agent_dir);
    // At least one upload meets the lock (5 s busy timeout each) before it is released.
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(
        outbox_reports(&agent_dir),
        pending,
        "the report stays until stored"
    );
    assert!(agent.try_exit_code().is_none(), "the agent keeps running");

    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let delivered = harness::wait_until(Duration::from_secs(30), || {
        outbox_reports(&agent_dir).is_empty()
    });
    assert!(
        delivered,
        "the report was not delivered once the database was back"
    );
    let stored = stored_ids(&collector);
    assert_eq!(stored.len(), 1, "stored exactly once: {stored:?}");
    assert!(pending[0].contains(&stored[0]), "{pending:?} vs {stored:?}");
    let ready = scale::request(collector.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(agent.terminate(Duration::from_secs(10)), Some(0));
    assert_eq!(stored_ids(&collector).len(), 1);
    assert!(!collector.log().contains(&token), "a token reached the log");
}

#[cfg(unix)]
#[test]
fn outbox_full_logs_a_clear_error_keeps_the_oldest_reports_and_the_agent_keeps_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let mut collector = CollectorProcess::start(dir.path(), &[]);
    let token = collector.agent_token(ORG, "agent");
    assert_eq!(collector.stop(), Some(0));

    // Two reports already wait in the outbox, from before the disk filled.
    let agent_dir = dir.path().join("agent");
    let outbox = agent_dir.join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let run = nonce();
    let mut seeded = Vec::new();
    for n in 0..2u64 {
        let id = scale::report_id(run, 7, n);
        let at = Utc::now() - chrono::Duration::hours(3 - n as i64);
        let name = format!("{}-{id}.json", at.format("%Y%m%dT%H%M%S%.6fZ"));
        std::fs::write(
            outbox.join(&name),
            scale::report_json(&id, ORG, "agent", "old-", 20, at),
        )
        .unwrap();
        seeded.push(id);
    }
    let config = write_agent_config(
        &agent_dir,
        &format!("http://{}", collector.addr),
        &token,
        "1s",
    );

    // A file size limit of 0 makes every write to a file fail with EFBIG, as a full disk
    // fails with ENOSPC; SIGXFSZ is ignored so that the write fails instead of the process.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 0; exec \"$0\" run --config \"$1\"")
        .arg(harness::binary("vigie-agent"))
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped());
    let mut agent = Piped::spawn(&mut command);
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let stderr = agent
        .child
        .as_mut()
        .and_then(|c| c.stderr.take())
        .expect("piped stderr");
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().take(100_000) {
                let Ok(line) = line else { break };
                log.lock().unwrap().push(line);
            }
        })
    };
    let count = |needle: &str| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    };

    let failed_twice = harness::wait_until(Duration::from_secs(60), || {
        count("cannot write the report") >= 2
    });
    assert!(
        failed_twice,
        "no clear outbox error in the log:\n{}",
        log.lock().unwrap().join("\n")
    );
    assert!(count("scan finished") >= 2, "the agent goes on scanning");
    let error_line = log
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains("cannot write the report"))
        .cloned()
        .unwrap_or_default();
    assert!(
        error_line.contains("ERROR"),
        "logged as an error: {error_line}"
    );
    assert!(
        error_line.contains(&outbox.display().to_string()),
        "names the outbox: {error_line}"
    );
    let pending = outbox_reports(&agent_dir);
    assert_eq!(pending.len(), 2, "the oldest reports are kept: {pending:?}");
    for id in &seeded {
        assert!(pending.iter().any(|p| p.contains(id)), "{id} kept");
    }
    assert!(agent.try_exit_code().is_none(), "the agent keeps running");

    // The collector comes back: the reports kept are delivered, while spooling still fails.
    collector.restart();
    let delivered = harness::wait_until(Duration::from_secs(30), || {
        outbox_reports(&agent_dir).is_empty()
    });
    assert!(
        delivered,
        "the kept reports were not delivered: {:?}",
        outbox_reports(&agent_dir)
    );
    let stored: BTreeSet<String> = stored_ids(&collector).into_iter().collect();
    assert_eq!(stored, seeded.iter().cloned().collect::<BTreeSet<_>>());
    assert!(agent.try_exit_code().is_none(), "the agent keeps running");
    assert_eq!(agent.terminate(Duration::from_secs(10)), Some(0));
    reader.join().unwrap();
    let log = log.lock().unwrap().join("\n");
    assert!(!log.contains(&token), "a token reached the agent's log");
}

/// A child whose stderr the test reads (harness::Process does not pipe it); killed and
/// reaped when dropped.
struct Piped {
    child: Option<std::process::Child>,
}

impl Piped {
    fn spawn(command: &mut Command) -> Piped {
        Piped {
            child: Some(
                command
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("start the agent"),
            ),
        }
    }

    fn try_exit_code(&mut self) -> Option<Option<i32>> {
        match self.child.as_mut()?.try_wait() {
            Ok(Some(status)) => Some(status.code()),
            _ => None,
        }
    }

    /// SIGTERM, then up to `timeout` for a clean exit; the exit code (`None` if killed).
    fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads until the server closes the connection (`Ok(0)` or an error); how long it took, or
/// `None` if it was still open at `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(
            limit.clamp(Duration::from_millis(1), Duration::from_millis(200)),
        ))
        .unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
        if started.elapsed() >= limit {
            return None;
        }
    }
}

#[test]
fn slow_and_half_open_clients_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorProcess::start(
        dir.path(),
        &[
            "--header-timeout",
            "2",
            "--body-timeout",
            "2",
            "--max-connections",
            "200",
            // Every connection comes from 127.0.0.1: the limit per address is not what
            // this test is about.
            "--max-connections-per-address",
            "0",
        ],
    );
    let token = collector.agent_token(ORG, "agent");
    let opened = Instant::now();

    // 40 connections that send their request head one byte at a time, 40 that send nothing
    // at all, 40 that send a head and a tenth of the body they announce.
    let mut trickle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(collector.addr).unwrap())
        .collect();
    let mut silent: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(collector.addr).unwrap())
        .collect();
    let mut half_body: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(collector.addr).unwrap();
            write!(
                s,
                "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{\"schema\": \"vigie.rep"
            )
            .unwrap();
            s
        })
        .collect();
    let head = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    for stream in &mut trickle {
        stream.write_all(&head[..5]).unwrap();
    }

    // Meanwhile a normal agent is served promptly.
    let id = scale::report_id(nonce(), 2, 2);
    let body = scale::report_json(&id, ORG, "agent", "n-", 200, Utc::now());
    let started = Instant::now();
    let answer = scale::request(
        collector.addr,
        "POST",
        "/api/v1/reports",
        Some(&token),
        Some(&body),
    )
    .unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served in {:?}",
        started.elapsed()
    );

    // The trickling clients keep sending a byte every 300 ms; the server cuts them off at
    // the header timeout all the same.
    let mut cut = vec![false; trickle.len()];
    let mut sent = 5;
    while opened.elapsed() < Duration::from_secs(8) && cut.iter().any(|c| !c) {
        std::thread::sleep(Duration::from_millis(300));
        for (stream, cut) in trickle.iter_mut().zip(cut.iter_mut()) {
            if !*cut
                && stream
                    .write_all(&head[sent % head.len()..=sent % head.len()])
                    .is_err()
            {
                *cut = true;
            }
        }
        sent += 1;
        for (stream, cut) in trickle.iter_mut().zip(cut.iter_mut()) {
            if !*cut && closed_within(stream, Duration::from_millis(1)).is_some() {
                *cut = true;
            }
        }
    }
    assert!(
        cut.iter().all(|c| *c),
        "trickling clients still connected after 8 s"
    );
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(8)).is_some(),
            "a silent connection is still open"
        );
    }
    for stream in &mut half_body {
        // The body timeout answers 408, then the connection closes.
        stream
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        let answer = scale::read_answer(&mut BufReader::new(stream.try_clone().unwrap()))
            .expect("an answer to the half-sent body");
        assert_eq!(answer.status, 408, "{}", answer.body);
        assert_eq!(answer.json()["error"], "request_timeout");
        assert!(
            closed_within(stream, Duration::from_secs(5)).is_some(),
            "the connection of a half-sent body stays open"
        );
    }
    assert!(opened.elapsed() < Duration::from_secs(20));

    // Still serving, and nothing of the half-sent reports was stored.
    let again = scale::report_id(nonce(), 3, 3);
    let body = scale::report_json(&again, ORG, "agent", "m-", 20, Utc::now());
    let answer = scale::request(
        collector.addr,
        "POST",
        "/api/v1/reports",
        Some(&token),
        Some(&body),
    )
    .unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(stored_ids(&collector).len(), 2);
}

#[test]
fn beyond_the_connection_limit_health_checks_use_the_reserve_and_others_wait() {
    const RESERVE: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorProcess::start(
        dir.path(),
        &["--header-timeout", "3", "--max-connections", "4"],
    );
    // Four idle connections take every slot (the readiness probe's connection has closed).
    std::thread::sleep(Duration::from_millis(200));
    let opened = Instant::now();
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(collector.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A health check is answered at once, from the reserve, and its connection closed.
    let started = Instant::now();
    let answer = scale::request(collector.addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(started.elapsed() < Duration::from_secs(1));
    // Anything else is refused there.
    let answer = scale::request(collector.addr, "GET", "/metrics", None, None).unwrap();
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.json()["error"], "overloaded");
    // With the reserve taken too, a client waits until a slot frees: the idle connections
    // are closed 2 s after they opened (the short timeout under pressure).
    let reserve: Vec<TcpStream> = (0..RESERVE)
        .map(|_| TcpStream::connect(collector.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let answer = scale::request(collector.addr, "GET", "/healthz", None, None).unwrap();
    let waited = opened.elapsed();
    assert_eq!(answer.status, 200);
    assert!(
        waited >= Duration::from_secs(2),
        "answered {waited:?} after the slots were taken: the limit did not hold the connection"
    );
    assert!(
        waited < Duration::from_secs(10),
        "the idle connections were not cut off: {waited:?}"
    );
    drop((idle, reserve));
}
