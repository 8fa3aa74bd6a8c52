//! `scan tls` against real nginx servers (Debian's `nginx`), each started by the test as its
//! own foreground process with its own config, pid, logs and temp paths in a temp dir:
//!
//! - 127.0.83.1: a well-configured site (HTTP→HTTPS redirect on port 80, HSTS with a year's
//!   max-age, includeSubDomains and preload, every security header, a valid security.txt)
//!   that still shows its version in `Server: nginx/x.y`;
//! - 127.0.83.2: the same site done wrong (port 80 serves the page, a short HSTS without
//!   includeSubDomains or preload, no security headers, no security.txt), version hidden
//!   (`server_tokens off`), plus a second name without any HSTS.
//!
//! Ports 443 and 80 need root (or CAP_NET_BIND_SERVICE); without it, or without nginx, the
//! test says so on stderr and stops.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use vigie_model::{Finding, Report, Status};
use vigie_tests::pki::{Issued, LeafSpec, TestCa};

const BOUND: Duration = Duration::from_secs(60);
const GOOD_IP: &str = "127.0.83.1";
const BAD_IP: &str = "127.0.83.2";
const HOST: &str = "www.lab.test";
/// Served by the badly configured nginx only, with no HSTS at all.
const BARE_HOST: &str = "bare.lab.test";

/// The nginx binary: on PATH, else where Debian puts it (root's PATH has /usr/sbin, a
/// user's often not).
fn nginx_binary() -> Option<PathBuf> {
    ["nginx", "/usr/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|candidate| {
            Command::new(candidate)
                .arg("-v")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// What one nginx serves.
struct Site<'a> {
    ip: &'a str,
    /// The `server` blocks, with `{dir}` for the temp dir.
    servers: String,
}

/// nginx in the foreground (`daemon off`, no master process, so that killing the child
/// stops it all), killed when dropped.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx for `site` with `issued` as its certificate; `Err` with the reason when
    /// it cannot bind (not root).
    async fn start(binary: &Path, site: &Site<'_>, issued: &Issued) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("chain.pem"), &issued.chain_pem).expect("write chain");
        std::fs::write(d.join("key.pem"), &issued.key_pem).expect("write key");
        let well_known = d.join("www/.well-known");
        std::fs::create_dir_all(&well_known).expect("create www");
        let expires = (Utc::now() + chrono::Duration::days(180)).format("%Y-%m-%dT%H:%M:%SZ");
        std::fs::write(
            well_known.join("security.txt"),
            format!("Contact: mailto:security@lab.test\nExpires: {expires}\n"),
        )
        .expect("write security.txt");
        std::fs::create_dir_all(d.join("tmp")).expect("create tmp");
        let dir_str = d.to_str().expect("a UTF-8 temp path");
        let config = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type \"text/plain; charset=utf-8\";
    ssl_certificate {dir}/chain.pem;
    ssl_certificate_key {dir}/key.pem;
{servers}
}}
",
            dir = dir_str,
            servers = site
                .servers
                .replace("{dir}", dir_str)
                .replace("{ip}", site.ip),
        );
        let config_path = d.join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        let ip: IpAddr = site.ip.parse().expect("an IP");
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {stderr}{log}"));
            }
            let https = tokio::net::TcpStream::connect(SocketAddr::new(ip, 443)).await;
            let http = tokio::net::TcpStream::connect(SocketAddr::new(ip, 80)).await;
            if https.is_ok() && http.is_ok() {
                return Ok(Nginx { child, dir });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("nginx not listening on {ip}:443 and :80 after 5 s"))
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

const SECURITY_HEADERS: &str = "
        add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains; preload\" always;
        add_header Content-Security-Policy \"default-src 'self'; frame-ancestors 'none'\" always;
        add_header X-Content-Type-Options nosniff always;
        add_header X-Frame-Options DENY always;
        add_header Referrer-Policy no-referrer always;";

fn good_site() -> Site<'static> {
    Site {
        ip: GOOD_IP,
        servers: format!(
            "
    server_tokens on;
    server {{
        listen {{ip}}:80;
        server_name {HOST};
        return 301 https://$host$request_uri;
    }}
    server {{
        listen {{ip}}:443 ssl;
        server_name {HOST};
        {SECURITY_HEADERS}
        location = /.well-known/security.txt {{ root {{dir}}/www; }}
        location / {{ return 200 \"hello\\n\"; }}
    }}"
        ),
    }
}

fn bad_site() -> Site<'static> {
    Site {
        ip: BAD_IP,
        servers: format!(
            "
    server_tokens off;
    server {{
        listen {{ip}}:80;
        server_name {HOST} {BARE_HOST};
        location / {{ return 200 \"plain hello\\n\"; }}
    }}
    server {{
        listen {{ip}}:443 ssl;
        server_name {HOST};
        add_header Strict-Transport-Security \"max-age=300\" always;
        location / {{ return 200 \"hello\\n\"; }}
    }}
    server {{
        listen {{ip}}:443 ssl;
        server_name {BARE_HOST};
        location / {{ return 200 \"hello\\n\"; }}
    }}"
        ),
    }
}

/// `vigie-agent scan tls ARGS --ca-file CA --quick` as JSON, with a resolver that answers
/// nothing (every target is pinned with `--connect`).
async fn scan_tls(args: &[&str], ca_file: &Path) -> Report {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigie-agent"))
        .env_remove("VIGIE_LANG")
        .env_remove("VIGIE_LOG")
        .args(["scan", "tls"])
        .args(args)
        .arg("--ca-file")
        .arg(ca_file)
        .args(["--resolver", "127.0.0.1:9", "--timeout", "5s", "--quick"])
        .args(["--format", "json"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .expect("the scan finished within its bound")
        .expect("run vigie-agent");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn finding<'a>(report: &'a Report, target: &str, check: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.check.as_str() == check && f.target == target)
        .unwrap_or_else(|| panic!("no {check} finding for {target}: {report:#?}"))
}

fn assert_status(report: &Report, target: &str, check: &str, expected: Status) {
    let found = finding(report, target, check);
    assert_eq!(found.status, expected, "{target} {check}: {found:#?}");
}

#[tokio::test]
async fn nginx_sites_done_right_and_wrong_grade_every_web_check() {
    let Some(binary) = nginx_binary() else {
        eprintln!("not run: nginx is not installed (Debian package nginx)");
        return;
    };
    let ca = TestCa::new("Vigie nginx test CA");
    let issued = ca.issue(&LeafSpec::valid_for(&[HOST, BARE_HOST]));
    let good = match Nginx::start(&binary, &good_site(), &issued).await {
        Ok(nginx) => nginx,
        Err(reason) if reason.contains("Permission denied") => {
            eprintln!("not run: binding {GOOD_IP}:443 and :80 needs root or CAP_NET_BIND_SERVICE ({reason})");
            return;
        }
        Err(reason) => panic!("{reason}"),
    };
    let bad = Nginx::start(&binary, &bad_site(), &issued)
        .await
        .unwrap_or_else(|reason| panic!("{reason}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write CA file");
    let target = format!("{HOST}:443");

    // Done right, but the version shows.
    let report = scan_tls(&[HOST, "--connect", GOOD_IP], &ca_file).await;
    for check in [
        "tls.connect",
        "tls.cert.untrusted",
        "tls.cert.hostname_mismatch",
        "https.redirect",
        "https.hsts",
        "https.hsts.max_age",
        "https.hsts.subdomains",
        "https.hsts.preload",
        "https.security_txt",
        "https.headers",
    ] {
        assert_status(&report, &target, check, Status::Pass);
    }
    let redirect = finding(&report, &target, "https.redirect");
    assert!(
        redirect.evidence["chain"][0]
            .as_str()
            .is_some_and(|hop| hop.starts_with("301 ") && hop.ends_with("https://www.lab.test/")),
        "{redirect:#?}"
    );
    assert_eq!(
        finding(&report, &target, "https.hsts.max_age").evidence["max_age"],
        63072000
    );
    let banner = finding(&report, &target, "http.server_banner");
    assert_eq!(banner.status, Status::Fail, "{banner:#?}");
    let version = Command::new(&binary)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    // `nginx version: nginx/1.22.1` → the banner the server sends.
    let server = version.rsplit(' ').next().unwrap_or_default();
    assert!(server.starts_with("nginx/"), "{version}");
    assert!(
        serde_json::to_string(&banner.evidence)
            .unwrap_or_default()
            .contains(server),
        "{server} in {banner:#?}"
    );
    // The port-80 request and the HTTPS ones all reached nginx by name.
    let log = good.access_log();
    assert!(log.contains("GET /.well-known/security.txt"), "{log}");

    // Done wrong: every web check fails but the banner, which hides the version.
    let bare_target = format!("{BARE_HOST}:443");
    let report = scan_tls(&[HOST, BARE_HOST, "--connect", BAD_IP], &ca_file).await;
    assert_status(&report, &target, "tls.connect", Status::Pass);
    assert_status(&report, &target, "https.redirect", Status::Fail);
    // HSTS is there, but short and without its directives.
    assert_status(&report, &target, "https.hsts", Status::Pass);
    assert_status(&report, &target, "https.hsts.max_age", Status::Fail);
    assert_status(&report, &target, "https.hsts.subdomains", Status::Fail);
    assert_status(&report, &target, "https.hsts.preload", Status::Info);
    assert_status(&report, &target, "https.security_txt", Status::Fail);
    assert_status(&report, &target, "https.headers", Status::Fail);
    assert_status(&report, &target, "http.server_banner", Status::Pass);
    let headers = finding(&report, &target, "https.headers");
    for missing in [
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
    ] {
        assert!(
            serde_json::to_string(&headers.evidence)
                .unwrap_or_default()
                .contains(missing),
            "{missing} in {headers:#?}"
        );
    }
    assert_eq!(
        finding(&report, &target, "https.hsts.max_age").evidence["max_age"],
        300
    );
    // The other name of the same server: no HSTS at all.
    assert_status(&report, &bare_target, "https.hsts", Status::Fail);
    assert_status(&report, &bare_target, "https.redirect", Status::Fail);
    assert!(bad.access_log().contains("GET / "));
}
