//! Support for the fault and security tests and the load generator: a `vigie-collector serve`
//! process with any flags, realistic reports of many findings, and a blocking HTTP/1.1
//! client that keeps its connection open and returns the answer's headers.
//!
//! Test support code: it panics (with a message) when the machine cannot do what is asked.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::harness::{self, Process};

/// Real check ids, so that the reports look like an agent's.
pub const CHECKS: [&str; 20] = [
    "tls.connect",
    "tls.cert.expired",
    "tls.cert.expiring",
    "tls.cert.hostname_mismatch",
    "tls.cert.not_yet_valid",
    "tls.cert.self_signed",
    "tls.cert.untrusted",
    "tls.cert.weak_key",
    "tls.cert.weak_signature",
    "tls.cipher.cbc",
    "tls.cipher.rc4",
    "tls.cipher.no_forward_secrecy",
    "tls.compression",
    "tls.protocol.sslv3",
    "tls.protocol.tls1_0",
    "tls.protocol.tls1_1",
    "tls.protocol.tls1_2",
    "tls.protocol.tls1_3",
    "tls.renegotiation",
    "tls.fallback_scsv",
];

/// A UUID-shaped id unique to `(nonce, a, b)` for `a < 2³²` and `b < 2⁴⁰`.
pub fn report_id(nonce: u64, a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        nonce as u32,
        (nonce >> 32) as u16,
        (a >> 20) & 0xfff,
        (a >> 8) & 0xfff,
        ((a & 0xff) << 40) | (b & 0xff_ffff_ffff)
    )
}

/// A `vigie.report.v1` body of `org` by `agent_id` with `findings` findings over
/// `findings / 20` targets (20 checks each). `target_prefix` names the targets, so that a
/// caller can make every report's keys distinct.
pub fn report_json(
    report_id: &str,
    org: &str,
    agent_id: &str,
    target_prefix: &str,
    findings: usize,
    finished_at: DateTime<Utc>,
) -> String {
    let at = finished_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let started =
        (finished_at - chrono::Duration::seconds(4)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut targets = Vec::new();
    let mut items = Vec::with_capacity(findings);
    for i in 0..findings {
        let target = format!("{target_prefix}{}.{org}.example:443", i / CHECKS.len());
        if i % CHECKS.len() == 0 {
            targets.push(serde_json::json!({"kind": "tls", "target": target}));
        }
        let check = CHECKS[i % CHECKS.len()];
        let (status, severity) = match i % 7 {
            0 => ("fail", "high"),
            1 => ("warn", "medium"),
            2 => ("info", "info"),
            _ => ("pass", "info"),
        };
        items.push(serde_json::json!({
            "check": check,
            "target": target,
            "status": status,
            "severity": severity,
            "summary": format!("{check} on {target}: {status}"),
            "evidence": {"negotiated_cipher": "TLS_AES_128_GCM_SHA256", "protocol": "TLSv1.3", "index": i},
        }));
    }
    serde_json::json!({
        "schema": "vigie.report.v1",
        "report_id": report_id,
        "agent": {"id": agent_id, "version": "0.1.0", "hostname": format!("{agent_id}.{org}.example")},
        "org": org,
        "started_at": started,
        "finished_at": at,
        "targets": targets,
        "findings": items,
        "observations": {},
    })
    .to_string()
}

/// A `vigie-collector serve` on 127.0.0.1 with its database and log in `dir` and the extra
/// flags given. Killed (SIGKILL) when dropped.
pub struct CollectorProcess {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub database_url: String,
    extra: Vec<String>,
    process: Option<Process>,
    restarts: u32,
}

impl CollectorProcess {
    /// Starts on a free port; waits until it accepts connections (and, without TLS, until
    /// `/readyz` answers 200).
    pub fn start(dir: &Path, extra: &[&str]) -> CollectorProcess {
        let url = format!("sqlite://{}", dir.join("vigie.db").display());
        CollectorProcess::start_with_url(dir, url, extra)
    }

    /// Starts over `database_url` (e.g. a [`crate::postgres`] server's), with its log in
    /// `dir`.
    pub fn start_with_url(dir: &Path, database_url: String, extra: &[&str]) -> CollectorProcess {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, harness::free_port(Ipv4Addr::LOCALHOST)));
        let mut collector = CollectorProcess {
            addr,
            dir: dir.to_owned(),
            database_url,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            process: None,
            restarts: 0,
        };
        collector.restart();
        collector
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("vigie.db")
    }

    /// The log (stderr) of the current and earlier runs, concatenated.
    pub fn log(&self) -> String {
        (0..=self.restarts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("collector-{n}.log")))
                    .unwrap_or_default()
            })
            .collect()
    }

    fn tls(&self) -> bool {
        self.extra.iter().any(|a| a == "--tls-cert")
    }

    /// Starts the process (again), same address, database and flags.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "collector already running");
        if self.restarts > 0 || self.dir.join("collector-0.log").exists() {
            self.restarts += 1;
        }
        let log = std::fs::File::create(self.dir.join(format!("collector-{}.log", self.restarts)))
            .expect("create the collector log");
        let process = Process::spawn(
            "vigie-collector",
            Command::new(harness::binary("vigie-collector"))
                .args(["serve", "--listen", &self.addr.to_string()])
                .args(["--database-url", &self.database_url])
                .args(&self.extra)
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(log),
        );
        self.process = Some(process);
        let addr = self.addr;
        let tls = self.tls();
        let url = self.url("/readyz");
        let ready = harness::wait_until(Duration::from_secs(20), || {
            if tls {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            } else {
                harness::http_get(&url, None).is_some_and(|(s, _)| s == 200)
            }
        });
        assert!(
            ready,
            "collector at {addr} not ready within 20 s:\n{}",
            self.log()
        );
    }

    /// Kills the process with SIGKILL, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        // Dropping a harness Process sends SIGKILL and reaps it.
        drop(self.process.take());
    }

    /// Stops the process with SIGTERM; its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.process
            .take()
            .and_then(|mut p| p.terminate(Duration::from_secs(10)))
    }

    /// The running process's id (for `/proc/PID/status`), if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// Sends a signal (`HUP`, `TERM`…) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self
            .process
            .as_ref()
            .map(Process::pid)
            .expect("collector running");
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Runs a management command on this database; its output, whatever the status.
    pub fn manage(&self, args: &[&str]) -> Output {
        harness::run(
            Command::new(harness::binary("vigie-collector"))
                .args(args)
                .args(["--database-url", &self.database_url])
                .env("NO_COLOR", "1"),
            Duration::from_secs(30),
        )
    }

    /// The stdout of a management command that must succeed, trimmed.
    pub fn manage_ok(&self, args: &[&str]) -> String {
        let output = self.manage(args);
        assert!(
            output.status.success(),
            "vigie-collector {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8 stdout")
            .trim()
            .to_owned()
    }

    /// A new agent token for `org`, named `name`.
    pub fn agent_token(&self, org: &str, name: &str) -> String {
        self.manage_ok(&["agent", "add", "--org", org, "--name", name])
    }

    /// A new scrape token (reads `/metrics` only).
    pub fn scraper_token(&self, name: &str) -> String {
        self.manage_ok(&["scraper", "add", "--name", name])
    }
}

/// An HTTP answer: status, lower-cased header names with their values, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A blocking HTTP/1.1 connection kept open between requests (plain TCP, loopback).
pub struct Client {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            addr,
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request and reads its answer (Content-Length bodies only, as the
    /// collector sends them).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        json_body: Option<&str>,
    ) -> std::io::Result<Answer> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(token) = bearer {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = json_body.unwrap_or("");
        if json_body.is_some() {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        read_answer(&mut self.reader)
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one HTTP/1.1 answer with a Content-Length body.
pub fn read_answer<R: BufRead>(reader: &mut R) -> std::io::Result<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before an answer",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let mut headers = Vec::new();
    // Bounded: at most 100 header lines.
    for _ in 0..100 {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One request on a new connection.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> std::io::Result<Answer> {
    Client::connect(addr, Duration::from_secs(30))?.request(method, path, bearer, json_body)
}
