//! A throwaway PostgreSQL server on a loopback address, for the tests and the load generator:
//! Debian's `initdb` and `postgres` (package `postgresql`, installed by `scripts/test`) run on
//! a fresh data folder, one database per test with [`PostgresServer::create_database`], and
//! the server stopped and its folder deleted when the handle is dropped.
//!
//! PostgreSQL refuses to run as root: as root (CI), the server runs as `nobody` through
//! `setpriv`, which execs, so the child this handle holds is the server itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A running PostgreSQL server; stopped (fast shutdown, then SIGKILL) on drop.
pub struct PostgresServer {
    child: Child,
    /// The command that starts the server, for [`PostgresServer::restart`].
    command: Vec<std::ffi::OsString>,
    dir: PathBuf,
    /// The loopback address it listens on.
    pub ip: String,
    pub port: u16,
    bin: PathBuf,
}

/// The superuser `initdb` creates; no password (trust on loopback).
pub const USER: &str = "vigie";

/// Where Debian puts the server programs (`/usr/lib/postgresql/VERSION/bin`), or `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        // The newest version first.
        versions.sort();
        versions.reverse();
        candidates.extend(versions.into_iter().map(|v| v.join("bin").join(name)));
    }
    candidates.into_iter().find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// `program` as the user PostgreSQL accepts: ourselves, or `nobody` when we are root.
fn as_server_user(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on {ip}: {e}"))
}

impl PostgresServer {
    /// Starts a server on `ip` (127.x.y.z) for tests: `fsync=off`, since a test's data
    /// need not survive a power loss.
    pub fn start(ip: &str) -> PostgresServer {
        PostgresServer::start_with(ip, false)
    }

    /// Starts a server on `ip`; `durable` keeps PostgreSQL's defaults (`fsync=on`,
    /// `synchronous_commit=on`), which the load generator uses to compare with SQLite's
    /// `synchronous=FULL`.
    pub fn start_with(ip: &str, durable: bool) -> PostgresServer {
        let (Some(initdb), Some(postgres)) = (find_program("initdb"), find_program("postgres"))
        else {
            panic!(
                "PostgreSQL is needed here: apt-get install postgresql (scripts/test installs it)"
            );
        };
        // The client programs (pg_isready, createdb, psql) sit beside the real initdb, not
        // beside a symbolic link to it.
        let bin = std::fs::canonicalize(&initdb)
            .ok()
            .and_then(|real| real.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vigie-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let root = is_root();
        if root {
            let status = Command::new("chown")
                .arg("nobody:nogroup")
                .arg(&dir)
                .status();
            assert!(
                status.map(|s| s.success()).unwrap_or(false),
                "chown of {} failed",
                dir.display()
            );
        }
        let data = dir.join("data");
        let output = as_server_user(&initdb, root)
            .args([
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg("-D")
            .arg(&data)
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port(ip);
        let mut command: Vec<std::ffi::OsString> = Vec::new();
        if root {
            command.extend(
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                ]
                .map(Into::into),
            );
        }
        command.push(postgres.into_os_string());
        command.extend(["-D".into(), data.into_os_string(), "-k".into()]);
        command.push(dir.clone().into_os_string());
        for arg in [
            "-h",
            ip,
            "-p",
            &port.to_string(),
            "-c",
            "max_connections=200",
        ] {
            command.push(arg.into());
        }
        if !durable {
            command.extend(["-c", "fsync=off"].map(Into::into));
        }
        let child = spawn(&command);
        let mut server = PostgresServer {
            child,
            command,
            dir,
            ip: ip.to_owned(),
            port,
            bin,
        };
        server.wait_ready();
        server
    }

    /// Stops the server (fast shutdown), keeping its data, until [`PostgresServer::restart`]:
    /// a database that is away.
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }

    /// Starts the server again on the same data, address and port; waits until it is ready.
    pub fn restart(&mut self) {
        self.child = spawn(&self.command);
        self.wait_ready();
    }

    /// Waits (at most 20 s) until the server accepts connections.
    fn wait_ready(&mut self) {
        let isready = self.bin.join("pg_isready");
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("postgres exited before accepting connections: {status}");
            }
            let ready = Command::new(&isready)
                .args([
                    "-q",
                    "-h",
                    &self.ip,
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    USER,
                ])
                .status()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", isready.display()))
                .success();
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "postgres did not accept connections on {}:{} within 20 s",
            self.ip, self.port
        );
    }

    /// Creates the database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let output = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                &self.ip,
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                name,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        assert!(
            output.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(name)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@{}:{}/{name}", self.ip, self.port)
    }

    /// Runs one SQL statement with `psql` on database `name`; returns its output (unaligned,
    /// tuples only).
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-h", &self.ip, "-p", &self.port.to_string(), "-U", USER])
            .args([
                "-d",
                name,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn spawn(command: &[std::ffi::OsString]) -> Child {
    let (program, args) = command
        .split_first()
        .unwrap_or_else(|| panic!("empty postgres command"));
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start postgres: {e}"))
}

/// SIGINT (PostgreSQL's fast shutdown; SIGTERM would wait for clients to leave), then
/// SIGKILL after 5 s.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
