//! `scan email` through a resolver that never answers: a UDP socket on loopback that reads
//! every question and answers none, beside a TCP listener that accepts and says nothing
//! (in case a question is retried over TCP). The scan must stop asking after a few
//! questions, not wait out every one of its thirty; say so in one finding naming the
//! resolver and what to check; and judge no check of the domain (`error`, never `pass`,
//! never a "publish this record" `fail`). A resolver that answers SERVFAIL to everything is
//! alive (every check says SERVFAIL), and a live resolver still gives the full results.

use crate::support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::dns::{DnsResponder, Zone};

/// What the fake resolver does with a question.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads it and never answers.
    Silent,
    /// Answers at once with SERVFAIL.
    Servfail,
}

/// Counts what reaches it and answers as its [`Behaviour`] says. Dropping it stops its
/// threads.
struct DeadResolver {
    addr: SocketAddr,
    datagrams: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DeadResolver {
    fn start(ip: Ipv4Addr) -> DeadResolver {
        DeadResolver::with(ip, Behaviour::Silent)
    }

    fn with(ip: Ipv4Addr, behaviour: Behaviour) -> DeadResolver {
        let udp = UdpSocket::bind((ip, 0)).expect("bind the dead resolver's UDP port");
        let addr = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(addr).expect("bind the same port over TCP");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        tcp.set_nonblocking(true).unwrap();
        let datagrams = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&datagrams), Arc::clone(&stop));
        let udp_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the handle is dropped; each turn waits at most the read timeout.
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                if let (Behaviour::Servfail, true) = (behaviour, n >= 12) {
                    // The question itself, turned into a response (QR, RA) with RCODE 2.
                    let mut answer = buf[..n].to_vec();
                    answer[2] |= 0x80;
                    answer[3] = 0x80 | 2;
                    let _ = udp.send_to(&answer, peer);
                }
            }
        });
        let (count, stopped) = (Arc::clone(&connections), Arc::clone(&stop));
        let tcp_thread = std::thread::spawn(move || {
            // Accepted connections stay open and unanswered until the end.
            let mut held = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match tcp.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
                        let _ = stream.read(&mut [0u8; 512]);
                        held.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        DeadResolver {
            addr,
            datagrams,
            connections,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    /// Questions received: datagrams, plus TCP connections (one question each at most).
    fn questions(&self) -> usize {
        self.datagrams.load(Ordering::SeqCst) + self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for DeadResolver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn scan(resolver: SocketAddr, domain: &str, lang: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .args(["scan", "email", domain, "--format", "json", "--lang", lang])
        .args(["--resolver", &resolver.to_string(), "--timeout", "1s"])
        .output()
        .expect("run vigie-agent")
}

fn findings(output: &Output) -> Vec<serde_json::Value> {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a JSON report on stdout");
    report["findings"].as_array().expect("findings").clone()
}

#[test]
fn a_dead_resolver_costs_three_questions_and_one_clear_error() {
    let dead = DeadResolver::start(Ipv4Addr::new(127, 0, 114, 1));
    let started = Instant::now();
    let output = scan(dead.addr, "example.test", "en");
    let elapsed = started.elapsed();
    let findings = findings(&output);

    // The correctness bound: three questions, one at a time, each sent once, then none.
    // (Before, every one of the ~30 questions of the scan waited its full timeout, and
    // each was sent twice.)
    let questions = dead.questions();
    assert_eq!(
        questions, 3,
        "the dead resolver received {questions} questions"
    );
    // A generous guard only: three 1-second timeouts, plus start-up.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");

    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f["status"] == "error"),
        "every check is unjudged: {findings:#?}"
    );
    let named: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| {
            f["summary"]
                .as_str()
                .is_some_and(|s| s.contains("did not answer 3 questions in a row"))
        })
        .collect();
    assert_eq!(
        named.len(),
        1,
        "one finding says what failed: {findings:#?}"
    );
    let summary = named[0]["summary"].as_str().unwrap();
    assert!(summary.contains(&dead.addr.to_string()), "{summary}");
    assert!(summary.contains("example.test"), "{summary}");
    let remediation = named[0]["remediation"].as_str().unwrap_or_default();
    assert!(remediation.contains("--resolver"), "{remediation}");
    assert!(remediation.contains("firewall"), "{remediation}");
}

#[test]
fn the_silent_resolver_finding_is_in_french_too() {
    let dead = DeadResolver::start(Ipv4Addr::new(127, 0, 114, 2));
    let findings = findings(&scan(dead.addr, "example.test", "fr"));
    assert_eq!(dead.questions(), 3);
    assert!(findings.iter().all(|f| f["status"] == "error"));
    assert!(
        findings.iter().any(|f| f["summary"]
            .as_str()
            .is_some_and(|s| s.contains("n'a répondu à aucune des 3 questions"))),
        "{findings:#?}"
    );
}

#[test]
fn a_live_resolver_still_gives_the_full_results() {
    let dns = DnsResponder::start(
        Zone::new()
            .txt("good.test", "v=spf1 -all")
            .txt(
                "_dmarc.good.test",
                "v=DMARC1; p=reject; rua=mailto:d@good.test",
            )
            .mx("good.test", 10, "mail.good.test")
            .a("mail.good.test", Ipv4Addr::LOCALHOST),
    );
    let findings = findings(&scan(dns.addr(), "good.test", "en"));
    let status = |check: &str| {
        findings
            .iter()
            .find(|f| f["check"] == check)
            .map(|f| f["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(status("email.spf.missing").as_deref(), Some("pass"));
    assert_eq!(status("email.dmarc.policy").as_deref(), Some("pass"));
    assert_eq!(status("email.mx.missing").as_deref(), Some("pass"));
    assert!(findings.iter().all(|f| !f["summary"]
        .as_str()
        .unwrap_or_default()
        .contains("did not answer")));
    // Every question of the scan was asked (the DKIM selectors alone are twenty).
    assert!(dns.queries() > 20, "{} queries", dns.queries());
    assert_eq!(dns.queries_for("selector1._domainkey.good.test"), 1);
}

#[test]
fn a_resolver_that_answers_servfail_to_everything_is_alive_and_every_check_says_so() {
    // It costs no time (each answer comes at once), so every question is asked and each
    // check that needed one is an error naming the code: never a pass, never a "publish
    // this record" fail, and not the silent-resolver finding either.
    let servfail = DeadResolver::with(Ipv4Addr::new(127, 0, 114, 3), Behaviour::Servfail);
    let findings = findings(&scan(servfail.addr, "example.test", "en"));
    assert!(
        servfail.questions() > 20,
        "{} questions",
        servfail.questions()
    );
    assert!(
        findings
            .iter()
            .all(|f| f["status"] == "error" || f["status"] == "skip"),
        "{findings:#?}"
    );
    let spf = findings
        .iter()
        .find(|f| f["check"] == "email.spf.missing")
        .expect("email.spf.missing");
    let summary = spf["summary"].as_str().unwrap_or_default();
    assert_eq!(spf["status"], "error");
    assert!(summary.to_lowercase().contains("servfail"), "{summary}");
    assert!(!summary.contains("did not answer"), "{summary}");
}
