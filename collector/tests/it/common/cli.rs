//! Running the `vigie-collector` binary from a test: a clean environment, a store in the
//! test's folder, and a bounded wait.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary, without any configuration the test's own environment would leak into it.
pub fn collector() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigie-collector"));
    for var in [
        "VIGIE_CONFIG",
        "VIGIE_DATABASE_URL",
        "VIGIE_LISTEN",
        "VIGIE_INSECURE_LISTEN",
        "VIGIE_MAX_BODY_BYTES",
        "VIGIE_ORG",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info");
    command
}

/// The binary on the SQLite store `vigie.db` of `dir`.
pub fn collector_on(dir: &Path) -> Command {
    let mut command = collector();
    command.args(["--database-url", &database_url(dir)]);
    command
}

pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("vigie.db").display())
}

/// Runs to completion within 30 s (these commands take milliseconds to seconds).
pub fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vigie-collector did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
