//! `scan email --smtp-probe`: the STARTTLS probe of MX hosts, as a user runs it, against a
//! DNS responder and an SMTP server on 127.0.0.1 that does not offer STARTTLS. Without the
//! flag nothing connects to the MX host; with it, the probe says EHLO and QUIT, nothing
//! else, and `email.starttls` fails. (The TLS side is tested in vigie-checks.)

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use support::dns::{DnsResponder, Zone};
use vigie_model::{Report, Status};

/// An SMTP server without STARTTLS; records the command verbs it receives.
struct PlainSmtp {
    port: u16,
    commands: Arc<Mutex<Vec<String>>>,
    _thread: JoinHandle<()>,
}

impl PlainSmtp {
    fn start() -> PlainSmtp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&commands);
        // Serves one connection at most: the scan makes one. The thread ends with the
        // connection (or with the test process).
        let thread = std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut writer = stream.try_clone().unwrap();
            let _ = writer.write_all(b"220 mail.good.test ESMTP\r\n");
            let mut reader = BufReader::new(stream);
            for _ in 0..16 {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                seen.lock().unwrap().push(verb.clone());
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-mail.good.test\r\n250 8BITMIME\r\n",
                    "QUIT" => b"221 bye\r\n",
                    _ => b"502 no\r\n",
                };
                let _ = writer.write_all(reply);
                if verb == "QUIT" {
                    return;
                }
            }
        });
        PlainSmtp {
            port,
            commands,
            _thread: thread,
        }
    }

    fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

fn scan(dns: &DnsResponder, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .env_remove("VIGIE_CONFIG")
        .args(["scan", "email", "good.test", "--format", "json"])
        .args(["--resolver", &dns.addr().to_string(), "--timeout", "2s"])
        .args(extra)
        .output()
        .unwrap()
}

fn starttls(output: &Output) -> (Status, serde_json::Value) {
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let finding = report
        .findings
        .iter()
        .find(|f| f.check.as_str() == "email.starttls")
        .expect("an email.starttls finding");
    (
        finding.status,
        serde_json::to_value(&report.observations.email[0].starttls).unwrap(),
    )
}

fn zone() -> Zone {
    Zone::new()
        .txt("good.test", "v=spf1 -all")
        .mx("good.test", 10, "mail.good.test")
        .a("mail.good.test", Ipv4Addr::LOCALHOST)
}

#[test]
fn smtp_probe_is_opt_in_read_only_and_fails_without_starttls() {
    let dns = DnsResponder::start(zone());
    let smtp = PlainSmtp::start();
    let port = smtp.port.to_string();

    let output = scan(&dns, &[]);
    assert_eq!(output.status.code(), Some(0));
    let (status, observed) = starttls(&output);
    assert_eq!(status, Status::Skip);
    assert!(observed.is_null(), "{observed}");
    assert!(
        smtp.commands().is_empty(),
        "nothing connects without --smtp-probe"
    );
    assert!(dns.queries() > 0);
    assert_eq!(
        dns.queries_for("mail.good.test"),
        0,
        "the MX host is not resolved"
    );

    let output = scan(&dns, &["--smtp-probe", "--smtp-port", &port]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, observed) = starttls(&output);
    assert_eq!(status, Status::Fail, "{observed}");
    assert_eq!(observed[0]["host"], "mail.good.test");
    assert_eq!(observed[0]["offered"], false);
    assert_eq!(observed[0]["address"], format!("127.0.0.1:{port}"));
    assert_eq!(smtp.commands(), vec!["EHLO", "QUIT"]);
    assert!(
        dns.queries_for("mail.good.test") > 0,
        "the MX host resolved by --resolver"
    );
}

#[test]
fn smtp_port_without_smtp_probe_is_a_usage_error() {
    let dns = DnsResponder::start(zone());
    let output = scan(&dns, &["--smtp-port", "2525"]);
    assert_eq!(output.status.code(), Some(2));
}
