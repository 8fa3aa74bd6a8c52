//! Runs the real binaries (`vigie-collector`, `vigie-agent`) for the end-to-end tests and the
//! demo: builds them once, starts them on loopback, waits for readiness with bounded waits,
//! and stops every process it started when its handle is dropped.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The folder holding the workspace's binaries (`target/debug` or the profile in use).
pub fn bin_dir() -> PathBuf {
    // Test executables live in target/<profile>/deps; binaries one level up.
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a workspace binary. Under `cargo test`, the workspace is built once per
/// process first so that a test never runs a stale binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        // Under `cargo test` CARGO is set; the demo is started by scripts/demo, which has
        // just built the binaries, and must not rebuild every test target.
        // VIGIE_TEST_NO_BUILD=1 uses the binaries as they are (built by hand with
        // `cargo build --workspace --bins`), e.g. while another crate does not compile.
        let Ok(cargo) = std::env::var("CARGO") else {
            return;
        };
        if std::env::var_os("VIGIE_TEST_NO_BUILD").is_some() {
            return;
        }
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let mut command = Command::new(cargo);
        command.args([
            "build",
            "--quiet",
            "--workspace",
            // The same selection as the README's `cargo test --workspace --all-targets`, so
            // that features unify identically and this build is a no-op there instead of
            // rebuilding shared dependencies with other features.
            "--all-targets",
            "--manifest-path",
            manifest,
        ]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the workspace binaries failed"
        );
    });
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} not found: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

/// A free TCP port on `ip` (bound then released: good enough on loopback for tests).
pub fn free_port(ip: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes. Returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, unless stopped before.
pub struct Process {
    name: String,
    child: Option<std::process::Child>,
}

impl Process {
    pub fn spawn(name: &str, command: &mut Command) -> Process {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Process {
            name: name.to_owned(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns its exit code
    /// (`None` if it had to be killed).
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY-free: `kill` is a plain command, so no libc dependency is needed.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!(
                        "{} did not stop within {timeout:?} after SIGTERM; killed",
                        self.name
                    );
                    return None;
                }
            }
        }
    }

    /// Whether the process has exited, and with which code.
    pub fn try_exit_code(&mut self) -> Option<Option<i32>> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.code()),
            _ => None,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a command to completion with a bounded time, returning its output.
pub fn run(command: &mut Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => return child.wait_with_output().expect("collect output"),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("collect output");
                panic!(
                    "command timed out after {timeout:?}: {command:?}\nstderr: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
}

/// A `vigie-collector serve` process on 127.0.0.1 with its SQLite database in `dir`, or on
/// any database URL ([`Collector::start_with_url`], e.g. a [`crate::postgres`] server's).
pub struct Collector {
    pub addr: SocketAddr,
    pub database_url: String,
    process: Option<Process>,
}

impl Collector {
    /// Starts a collector on a free port of 127.0.0.1 with its database in `dir`.
    pub fn start(dir: &Path) -> Collector {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
        Collector::start_at(dir, addr)
    }

    /// Starts (or restarts) a collector at a given address.
    pub fn start_at(dir: &Path, addr: SocketAddr) -> Collector {
        let database_url = format!("sqlite://{}", dir.join("vigie.db").display());
        Collector::start_at_url(database_url, addr)
    }

    /// Starts a collector on a free port of 127.0.0.1 over `database_url`.
    pub fn start_with_url(database_url: String) -> Collector {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
        Collector::start_at_url(database_url, addr)
    }

    fn start_at_url(database_url: String, addr: SocketAddr) -> Collector {
        let mut collector = Collector {
            addr,
            database_url,
            process: None,
        };
        collector.restart();
        collector
    }

    /// Starts the process again after [`Collector::stop`], same address and database.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "collector already running");
        let process = Process::spawn(
            "vigie-collector",
            Command::new(binary("vigie-collector"))
                .args([
                    "serve",
                    "--listen",
                    &self.addr.to_string(),
                    "--database-url",
                    &self.database_url,
                ])
                .env("RUST_LOG", "warn"),
        );
        self.process = Some(process);
        let url = self.url("/readyz");
        let ready = wait_until(Duration::from_secs(20), || {
            http_status(&url).is_some_and(|s| s == 200)
        });
        assert!(ready, "collector at {} not ready within 20 s", self.addr);
    }

    /// Stops the process with SIGTERM (waiting for it) and returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.process
            .take()
            .and_then(|mut p| p.terminate(Duration::from_secs(10)))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Runs a `vigie-collector` management command against this database; returns stdout.
    pub fn manage(&self, args: &[&str]) -> String {
        let output = run(
            Command::new(binary("vigie-collector"))
                .args(args)
                .args(["--database-url", &self.database_url]),
            Duration::from_secs(30),
        );
        assert!(
            output.status.success(),
            "vigie-collector {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// A new agent token for `org`, for the agent `agent-<org>` (a token posts for the one
    /// agent it is named after).
    pub fn agent_token(&self, org: &str) -> String {
        self.manage(&[
            "agent",
            "add",
            "--org",
            org,
            "--name",
            &format!("agent-{org}"),
        ])
        .trim()
        .to_owned()
    }

    /// A new viewer token.
    pub fn viewer_token(&self) -> String {
        self.manage(&["viewer", "add", "--name", "e2e", "--role", "sector"])
            .trim()
            .to_owned()
    }

    /// A new scrape token (reads `/metrics` only).
    pub fn scraper_token(&self) -> String {
        self.manage(&["scraper", "add", "--name", "e2e"])
            .trim()
            .to_owned()
    }
}

/// Minimal blocking HTTP/1.1 GET on loopback, so the harness needs no HTTP client runtime.
/// Returns (status, body).
pub fn http_get(url: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    http_request("GET", url, bearer, None)
}

/// Minimal blocking HTTP/1.1 POST of a JSON body on loopback. Returns (status, body).
pub fn http_post_json(url: &str, bearer: Option<&str>, body: &str) -> Option<(u16, String)> {
    http_request("POST", url, bearer, Some(body))
}

fn http_request(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body_headers = json_body
        .map(|b| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )
        })
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{body_headers}Connection: close\r\n\r\n{}",
        json_body.unwrap_or("")
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A real Prometheus (Debian's `prometheus` package) on 127.0.0.1, scraping one target every
/// second and evaluating the given rule files every second, its data in a folder of `dir`.
pub struct Prometheus {
    pub addr: SocketAddr,
    _process: Process,
}

impl Prometheus {
    pub fn start(dir: &Path, scrape: SocketAddr, rule_files: &[PathBuf]) -> Prometheus {
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("  - {:?}\n", p.display().to_string()))
            .collect();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}scrape_configs:\n  - job_name: vigie-collector\n    static_configs:\n      - targets: [\"{scrape}\"]\n",
                rules.concat()
            ),
        )
        .expect("write prometheus.yml");
        Prometheus::start_with_config(dir, &config)
    }

    /// A Prometheus on a free port of 127.0.0.1 with the configuration file `config` (its
    /// relative paths are read from the file's folder), its data in a folder of `dir`.
    pub fn start_with_config(dir: &Path, config: &Path) -> Prometheus {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
        let process = Process::spawn(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let prometheus = Prometheus {
            addr,
            _process: process,
        };
        let url = format!("http://{addr}/-/ready");
        let ready = wait_until(Duration::from_secs(30), || {
            http_status(&url).is_some_and(|s| s == 200)
        });
        assert!(
            ready,
            "prometheus at {addr} not ready within 30 s (is Debian's prometheus installed?)"
        );
        prometheus
    }

    /// An instant query; the parsed `data` of the answer, or the error Prometheus gave.
    pub fn query(&self, promql: &str) -> Result<serde_json::Value, String> {
        self.api(&format!("/api/v1/query?query={}", url_encode(promql)))
    }

    /// A GET of the HTTP API; the parsed `data` of a `success` answer.
    pub fn api(&self, path: &str) -> Result<serde_json::Value, String> {
        let url = format!("http://{}{}", self.addr, path);
        let (status, body) = http_get(&url, None).ok_or_else(|| format!("no answer from {url}"))?;
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
        if value["status"] == "success" {
            Ok(value["data"].clone())
        } else {
            Err(format!("{status}: {body}"))
        }
    }
}

fn http_status(url: &str) -> Option<u16> {
    http_get(url, None).map(|(status, _)| status)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    // Bounded by the body length: each turn consumes at least one line.
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of one sample of a Prometheus text exposition, matched by metric name and a
/// set of label pairs that must all be present.
pub fn metric_value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, label_text) = match series.split_once('{') {
            Some((m, l)) => (m, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
        if all {
            value.parse().ok()
        } else {
            None
        }
    })
}
