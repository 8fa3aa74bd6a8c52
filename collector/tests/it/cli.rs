//! The `vigie-collector` binary: token commands print the token alone and store only its
//! hash; usage and configuration errors exit 2 with a message; `serve` refuses a
//! non-loopback address, and stops cleanly on SIGTERM.

use crate::common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{collector, database_url, run};

/// All bytes of the database and its WAL/SHM files.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("vigie.db"))
        {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn agent_add_prints_only_the_token_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    // Without --create, a database that does not exist is not made: the token would be
    // useless to the collector that serves another one. The message names the file, in the
    // language of the locale.
    for (lang, words) in [
        ("en_US.UTF-8", "does not exist"),
        ("fr_FR.UTF-8", "n'existe pas"),
    ] {
        let refused = run(collector()
            .args(["agent", "add", "--org", "maple-health", "--name", "srv01"])
            .args(["--database-url", &database_url(dir.path())])
            .env_remove("VIGIE_LANG")
            .env("LANG", lang));
        assert_eq!(refused.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(words) && stderr.contains("--create"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&dir.path().join("vigie.db").display().to_string()),
            "{stderr}"
        );
        assert!(refused.stdout.is_empty(), "no token printed");
        assert!(!dir.path().join("vigie.db").exists());
    }
    let output = run(collector()
        .args([
            "agent",
            "add",
            "--create",
            "--org",
            "maple-health",
            "--name",
            "srv01",
        ])
        .args(["--database-url", &database_url(dir.path())]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&dir.path().join("vigie.db").display().to_string()),
        "says which database it wrote"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "stdout: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    let token = stdout.trim_end();
    assert!(token.starts_with("vga_") && token.len() >= 40, "{token}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(token), "the token must not be logged");
    assert!(stderr.contains("maple-health"), "{stderr}");

    let bytes = database_bytes(dir.path());
    assert!(!bytes.is_empty());
    assert!(
        !contains(&bytes, token.as_bytes()),
        "the token is in the database file"
    );
    assert!(!contains(&bytes, &token.as_bytes()["vga_".len()..]));
    let hash = vigie_collector::auth::hash(token);
    assert!(contains(&bytes, hash.as_bytes()), "its hash is stored");

    // A viewer token the same way, and both are different.
    let output = run(collector()
        .args(["viewer", "add", "--name", "sector-lead", "--role", "sector"])
        .env("VIGIE_DATABASE_URL", database_url(dir.path())));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let viewer = String::from_utf8(output.stdout).unwrap();
    assert_eq!(viewer.lines().count(), 1);
    assert!(viewer.starts_with("vgv_"));
    assert!(!contains(
        &database_bytes(dir.path()),
        viewer.trim_end().as_bytes()
    ));
}

#[test]
fn an_invalid_org_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(collector()
        .args(["agent", "add", "--create", "--org", "Maple Health"])
        .args(["--database-url", &database_url(dir.path())]));
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("organization id"), "{stderr}");
}

#[test]
fn serve_refuses_a_non_loopback_address_without_insecure_listen() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(collector()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .args(["--database-url", &database_url(dir.path())]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(
        stderr.contains("--insecure-listen"),
        "says what to do: {stderr}"
    );
    assert!(
        !dir.path().join("vigie.db").exists(),
        "nothing is created before the configuration is valid"
    );
}

#[test]
fn config_errors_exit_2_and_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_tls = true\n").unwrap();
    let output = run(collector().arg("serve").arg("--config").arg(&config));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("listen_tls"),
        "names the unknown key: {stderr}"
    );

    let output = run(collector().args(["migrate", "--database-url", "mysql://x"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(collector().args(["serve", "--listen", "nowhere"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(collector().args(["serve", "--no-such-flag"]));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn migrate_creates_the_database_and_says_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let known = vigie_collector::Store::known_schema_version();
    for expected in [
        format!("migrated from schema version 0 to {known}"),
        format!("is at schema version {known}, the newest"),
    ] {
        let output = run(collector()
            .arg("migrate")
            .args(["--database-url", &database_url(dir.path())]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(output.stdout.is_empty());
        assert!(stderr.contains(&expected), "{stderr}");
    }
}

/// One HTTP/1.1 GET on loopback; the status code, or None if nothing answers.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split(' ').nth(1)?.parse().ok()
}

#[test]
fn serve_becomes_ready_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{addr}\"\ndatabase_url = \"{}\"\n",
            database_url(dir.path())
        ),
    )
    .unwrap();
    let mut child = collector()
        .arg("serve")
        .env("VIGIE_CONFIG", &config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = false;
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if http_status(&addr, "/readyz") == Some(200) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !ready {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "not ready within 20 s: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(http_status(&addr, "/healthz"), Some(200));
    assert!(
        dir.path().join("vigie.db").exists(),
        "created on first start"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "serve writes nothing on stdout");
    assert_eq!(http_status(&addr, "/healthz"), None, "the port is closed");
}

#[test]
fn insecure_listen_from_the_environment_allows_a_wildcard_address() {
    // Only parsed and validated: `serve` on 0.0.0.0 would expose the test machine, so the
    // database URL is made to fail right after the listen check.
    let output = run(collector()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--database-url",
            "mysql://x",
        ])
        .env("VIGIE_INSECURE_LISTEN", "true"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("loopback"), "{stderr}");
    assert!(stderr.contains("unknown database URL scheme"), "{stderr}");
}
