//! The packages of `scripts/package` on this machine: the agent's `.deb` installed with
//! `dpkg -i`, used by the `vigie` user against the loopback lab, upgraded, removed and
//! purged; the agent's `.rpm` read with `rpm -qp` and installed into a throw-away root.
//!
//! Both need root (dpkg, users, /etc): without it they say so and pass. They are made from
//! the debug binaries the suite has just built (`scripts/package --binaries`), stripped:
//! a release build for them would cost CI minutes and test nothing more of the packaging.

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vigie_model::{Report, Status};
use vigie_tests::harness;
use vigie_tests::pki::{LeafSpec, TestCa};
use vigie_tests::tls_server::TlsServer;

const USER: &str = "vigie";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `dpkg` with its arguments; waits (30 s at most) while another dpkg or apt holds the lock.
fn dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = run("dpkg", args);
        let locked = String::from_utf8_lossy(&output.stderr).contains("dpkg frontend lock");
        if !locked || Instant::now() >= deadline {
            return output;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn dpkg_ok(args: &[&str]) {
    let output = dpkg(args);
    assert!(
        output.status.success(),
        "dpkg {args:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The package's state as dpkg-query says it (`install ok installed`, `deinstall ok
/// config-files`…), `None` when dpkg does not know it.
fn package_status(name: &str) -> Option<String> {
    let output = run("dpkg-query", &["-W", "-f=${Status} ${Version}", name]);
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.starts_with("unknown ok not-installed")).then_some(text)
}

fn user_exists(name: &str) -> bool {
    run("getent", &["passwd", name]).status.success()
}

fn group_exists(name: &str) -> bool {
    run("getent", &["group", name]).status.success()
}

fn id_of(kind: &str, name: &str) -> u32 {
    let line = run_ok("getent", &[kind, name]);
    line.split(':')
        .nth(2)
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {line:?}"))
}

/// Owner, group and permission bits of a file.
fn owner_mode(path: &str) -> (u32, u32, u32) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777)
}

/// Runs `command` for `timeout` at most (killed then), its output in files so that a big
/// report never fills a pipe: its exit code, stdout and stderr.
pub(crate) fn run_bounded(
    command: &mut Command,
    timeout: Duration,
) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let deadline = std::time::Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running after {timeout:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        code,
        std::fs::read(out).unwrap(),
        std::fs::read(err).unwrap(),
    )
}

/// Builds packages of the suite's binaries with `scripts/package` into `out`.
fn build_packages(out: &Path, version: &str, what: &[&str]) {
    // Builds the binaries if the suite has not yet (a no-op under VIGIE_TEST_NO_BUILD).
    harness::binary("vigie-agent");
    let bin_dir = harness::bin_dir();
    let target_dir = bin_dir.parent().expect("the target folder");
    let started = Instant::now();
    let output = Command::new(repository().join("scripts/package"))
        .env("CARGO_TARGET_DIR", target_dir)
        .arg("--binaries")
        .arg(&bin_dir)
        .args(["--version", version, "--fast", "--out"])
        .arg(out)
        .args(what)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/package");
    assert!(
        output.status.success(),
        "scripts/package: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "scripts/package {what:?} {version}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {suffix} in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

/// Purges what the deb test may have left when it fails half-way, so that the machine is
/// left as it was found (the test checked that none of it was there before).
struct DebCleanup;

impl Drop for DebCleanup {
    fn drop(&mut self) {
        if package_status("vigie-agent").is_some() {
            let _ = dpkg(&["--purge", "vigie-agent"]);
        }
        if user_exists(USER) {
            let _ = run("userdel", &[USER]);
        }
        if group_exists(USER) {
            let _ = run("groupdel", &[USER]);
        }
        let _ = std::fs::remove_dir_all("/etc/vigie");
        let _ = std::fs::remove_dir_all("/var/lib/vigie");
    }
}

const UNIT_WANTS: &str = "/etc/systemd/system/multi-user.target.wants/vigie-agent.service";

#[test]
fn the_agent_deb_installs_scans_as_vigie_upgrades_removes_and_purges() {
    if !is_root() {
        eprintln!("skipped: installing the .deb with dpkg -i needs root (run the suite as root, as CI does)");
        return;
    }
    // The test creates and removes the user vigie, /etc/vigie and /var/lib/vigie: it cannot
    // leave a machine as it found it if they are already there.
    assert!(
        package_status("vigie-agent").is_none()
            && !user_exists(USER)
            && !group_exists(USER)
            && !Path::new("/etc/vigie").exists()
            && !Path::new("/var/lib/vigie").exists(),
        "this machine already has vigie-agent, the user or group vigie, /etc/vigie or \
         /var/lib/vigie: purge them (dpkg --purge vigie-agent) or run this test elsewhere"
    );
    let packages = tempfile::tempdir().unwrap();
    let (v1, v2) = (packages.path().join("v1"), packages.path().join("v2"));
    build_packages(&v1, "0.1.0", &["agent-deb"]);
    build_packages(&v2, "0.1.1", &["agent-deb"]);
    let (deb1, deb2) = (only_file(&v1, ".deb"), only_file(&v2, ".deb"));
    let _cleanup = DebCleanup;

    // Install.
    let started = Instant::now();
    dpkg_ok(&["-i", deb1.to_str().unwrap()]);
    eprintln!("dpkg -i: {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(
        package_status("vigie-agent").as_deref(),
        Some("install ok installed 0.1.0-1")
    );
    assert!(user_exists(USER), "the user vigie is created");
    let (uid, gid) = (id_of("passwd", USER), id_of("group", USER));
    assert!(uid < 1000, "a system user: uid {uid}");
    assert_eq!(owner_mode("/usr/bin/vigie-agent"), (0, 0, 0o755));
    assert_eq!(owner_mode("/etc/vigie"), (0, gid, 0o750));
    assert_eq!(owner_mode("/etc/vigie/agent.toml"), (0, gid, 0o640));
    assert_eq!(
        std::fs::read_to_string("/etc/vigie/agent.toml").unwrap(),
        std::fs::read_to_string(repository().join("agent/packaging/agent.example.toml")).unwrap(),
        "the example configuration"
    );
    assert_eq!(owner_mode("/etc/vigie/token"), (uid, gid, 0o600));
    assert_eq!(std::fs::metadata("/etc/vigie/token").unwrap().len(), 0);
    assert_eq!(owner_mode("/var/lib/vigie"), (uid, gid, 0o700));
    let conffiles = run_ok("dpkg-query", &["-W", "-f=${Conffiles}", "vigie-agent"]);
    assert!(conffiles.contains("/etc/vigie/agent.toml"), "{conffiles}");
    assert!(!conffiles.contains("/etc/vigie/token"), "{conffiles}");
    // The unit: installed, enabled, and kept from starting while the token is empty.
    let files = run_ok("dpkg-query", &["-L", "vigie-agent"]);
    let unit = files
        .lines()
        .find(|l| l.ends_with("/systemd/system/vigie-agent.service"))
        .unwrap_or_else(|| panic!("no unit among {files}"));
    let unit_text = std::fs::read_to_string(unit).unwrap();
    assert!(unit_text.contains("\nConditionFileNotEmpty=/etc/vigie/token\n"));
    assert!(unit_text.contains("\nExecStart=/usr/bin/vigie-agent run "));
    assert!(
        std::fs::symlink_metadata(UNIT_WANTS).is_ok(),
        "enabled: {UNIT_WANTS}"
    );
    let systemd = run("systemctl", &["is-system-running"]);
    let systemd_state = String::from_utf8_lossy(&systemd.stdout).trim().to_owned();
    if !matches!(systemd_state.as_str(), "" | "offline") {
        let active = run("systemctl", &["is-active", "vigie-agent"]);
        assert_eq!(
            String::from_utf8_lossy(&active.stdout).trim(),
            "inactive",
            "not started while the token is empty"
        );
    } else {
        eprintln!("systemd is not running here: the unit's state is checked by its files only");
    }

    // The sector lead's token and a configuration naming the lab, then a scan as vigie.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ca = TestCa::new("Vigie package CA");
    let good_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 93, 1));
    let expired_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 93, 2));
    let (good, expired) = runtime.block_on(async {
        let good = TlsServer::start(good_ip, &ca.issue(&LeafSpec::valid_for(&["127.0.93.1"])))
            .await
            .unwrap();
        let spec = LeafSpec {
            names: vec!["127.0.93.2".into()],
            not_before: chrono::Utc::now() - chrono::Duration::days(100),
            not_after: chrono::Utc::now() - chrono::Duration::days(1),
        };
        let expired = TlsServer::start(expired_ip, &ca.issue(&spec))
            .await
            .unwrap();
        (good, expired)
    });
    std::fs::write("/etc/vigie/lab-ca.pem", ca.cert_pem()).unwrap();
    std::os::unix::fs::chown("/etc/vigie/lab-ca.pem", Some(0), Some(gid)).unwrap();
    std::fs::set_permissions("/etc/vigie/lab-ca.pem", PermissionsExt::from_mode(0o640)).unwrap();
    let config = format!(
        r#"org = "package-lab"

[collector]
url = "http://127.0.0.1:9"
token_file = "/etc/vigie/token"

[scope]
allow = ["127.0.93.0/24"]

[tls]
targets = ["{good}", "{expired}"]
ca_file = "/etc/vigie/lab-ca.pem"
timeout = "3s"

[services]
targets = ["127.0.93.1"]
ports = "{port}"

[host]
enabled = false
"#,
        good = good.addr,
        expired = expired.addr,
        port = good.addr.port(),
    );
    // As an administrator edits it: in place, owners and mode kept.
    std::fs::write("/etc/vigie/agent.toml", &config).unwrap();
    std::fs::write("/etc/vigie/token", "package-lab-token\n").unwrap();
    assert_eq!(owner_mode("/etc/vigie/token"), (uid, gid, 0o600));

    let started = Instant::now();
    let (code, stdout, stderr) = run_bounded(
        Command::new("runuser")
            .args(["-u", USER, "--", "/usr/bin/vigie-agent", "scan", "all"])
            .args(["--config", "/etc/vigie/agent.toml", "--format", "json"])
            .env_remove("VIGIE_LANG"),
        Duration::from_secs(120),
    );
    eprintln!(
        "scan all as vigie: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let report: Report = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "no report ({e}), exit {code:?}: {}",
            String::from_utf8_lossy(&stderr)
        )
    });
    let status = |target: &TlsServer, check: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check.as_str() == check && f.target == target.addr.to_string())
            .map(|f| f.status)
            .unwrap_or_else(|| panic!("no {check} for {}", target.addr))
    };
    assert_eq!(report.org, "package-lab");
    assert_eq!(status(&good, "tls.cert.expired"), Status::Pass);
    assert_eq!(
        status(&good, "tls.cert.untrusted"),
        Status::Pass,
        "the CA file is read by vigie"
    );
    assert_eq!(status(&expired, "tls.cert.expired"), Status::Fail);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check.as_str() == "service.open" && f.target == good.addr.to_string()),
        "the services scan ran: {:?}",
        report
            .findings
            .iter()
            .map(|f| (f.check.as_str(), &f.target))
            .collect::<Vec<_>>()
    );
    // Something of the agent's state, written as the service would.
    run_ok(
        "runuser",
        &[
            "-u",
            USER,
            "--",
            "sh",
            "-c",
            "mkdir /var/lib/vigie/outbox && echo '{}' > /var/lib/vigie/outbox/waiting.json",
        ],
    );

    // Upgrade: the configuration, the token and the state are kept as they are.
    let started = Instant::now();
    dpkg_ok(&["-i", deb2.to_str().unwrap()]);
    eprintln!(
        "dpkg -i (upgrade): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        package_status("vigie-agent").as_deref(),
        Some("install ok installed 0.1.1-1")
    );
    assert_eq!(
        std::fs::read_to_string("/etc/vigie/agent.toml").unwrap(),
        config
    );
    assert_eq!(owner_mode("/etc/vigie/agent.toml"), (0, gid, 0o640));
    assert_eq!(
        std::fs::read_to_string("/etc/vigie/token").unwrap(),
        "package-lab-token\n"
    );
    assert_eq!(owner_mode("/etc/vigie/token"), (uid, gid, 0o600));
    assert!(Path::new("/var/lib/vigie/outbox/waiting.json").exists());
    assert_eq!(id_of("passwd", USER), uid, "the same user");
    assert!(!Path::new("/etc/vigie/agent.toml.dpkg-dist").exists());
    let version = run_ok("/usr/bin/vigie-agent", &["--version"]);
    assert!(version.contains("vigie-agent"), "{version}");

    // Remove: the program goes, the configuration, token, state and user stay.
    dpkg_ok(&["--remove", "vigie-agent"]);
    assert!(
        package_status("vigie-agent").is_some_and(|s| s.starts_with("deinstall ok config-files"))
    );
    assert!(!Path::new("/usr/bin/vigie-agent").exists());
    assert_eq!(
        std::fs::read_to_string("/etc/vigie/agent.toml").unwrap(),
        config
    );
    assert_eq!(
        std::fs::read_to_string("/etc/vigie/token").unwrap(),
        "package-lab-token\n"
    );
    assert!(Path::new("/var/lib/vigie/outbox/waiting.json").exists());
    assert!(user_exists(USER));

    // Purge: nothing of Vigie is left, except what the administrator added.
    dpkg_ok(&["--purge", "vigie-agent"]);
    assert_eq!(package_status("vigie-agent"), None);
    assert!(
        Path::new("/etc/vigie/lab-ca.pem").exists(),
        "not the package's"
    );
    assert!(!Path::new("/etc/vigie/agent.toml").exists());
    assert!(!Path::new("/etc/vigie/token").exists());
    std::fs::remove_file("/etc/vigie/lab-ca.pem").unwrap();
    std::fs::remove_dir("/etc/vigie").unwrap();
    assert!(!Path::new("/var/lib/vigie").exists());
    assert!(!user_exists(USER) && !group_exists(USER));
    assert!(
        std::fs::symlink_metadata(UNIT_WANTS).is_err(),
        "{UNIT_WANTS} removed"
    );
    drop(runtime);
}

/// `rpm -qp --queryformat` of one package file.
fn rpm_query(package: &Path, format: &str) -> String {
    run_ok(
        "rpm",
        &["-qp", "--queryformat", format, package.to_str().unwrap()],
    )
}

#[test]
fn the_agent_rpm_holds_the_files_scripts_and_config_and_installs_into_a_root() {
    if !is_root() {
        eprintln!(
            "skipped: the .rpm's files are owned by root and vigie; installing them needs root"
        );
        return;
    }
    let packages = tempfile::tempdir().unwrap();
    let (v1, v2) = (packages.path().join("v1"), packages.path().join("v2"));
    build_packages(&v1, "0.1.0", &["agent-rpm"]);
    build_packages(&v2, "0.1.1", &["agent-rpm"]);
    let (rpm1, rpm2) = (only_file(&v1, ".rpm"), only_file(&v2, ".rpm"));

    let listing = run_ok("rpm", &["-qlp", rpm1.to_str().unwrap()]);
    for path in [
        "/usr/bin/vigie-agent",
        "/etc/vigie/agent.toml",
        "/usr/lib/systemd/system/vigie-agent.service",
    ] {
        assert!(listing.lines().any(|l| l == path), "{path} in {listing}");
    }
    let files = rpm_query(
        &rpm1,
        "[%{FILENAMES} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms} %{FILEFLAGS:fflags}\n]",
    );
    assert!(
        files.contains("/etc/vigie/agent.toml root:vigie -rw-r----- cn"),
        "a %config(noreplace) readable by vigie: {files}"
    );
    assert!(
        files.contains("/usr/bin/vigie-agent root:root -rwxr-xr-x"),
        "{files}"
    );
    let scripts = run_ok("rpm", &["-qp", "--scripts", rpm1.to_str().unwrap()]);
    for expected in [
        "preinstall scriptlet",
        "useradd --system --user-group",
        "install -o vigie -g vigie -m 0600 /dev/null /etc/vigie/token",
        "systemctl enable vigie-agent.service",
        "preuninstall scriptlet",
        "systemctl disable --now vigie-agent.service",
    ] {
        assert!(scripts.contains(expected), "{expected:?} in {scripts}");
    }
    assert!(
        !scripts.contains("systemctl start"),
        "not started before a token: {scripts}"
    );
    assert_eq!(rpm_query(&rpm1, "%{NAME} %{VERSION}"), "vigie-agent 0.1.0");

    // Into a throw-away root, without the scripts (they would run useradd in it).
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let rpm_in_root = |args: &[&str]| {
        let mut all = vec!["--root", root_arg, "--nodeps", "--noscripts"];
        all.extend_from_slice(args);
        run_ok("rpm", &all)
    };
    rpm_in_root(&["-i", rpm1.to_str().unwrap()]);
    let installed = root.path().join("usr/bin/vigie-agent");
    let version = run_ok(installed.to_str().unwrap(), &["--version"]);
    assert!(version.contains("vigie-agent"), "{version}");
    let config = root.path().join("etc/vigie/agent.toml");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        std::fs::read_to_string(repository().join("agent/packaging/agent.example.toml")).unwrap()
    );
    // An upgrade keeps an edited configuration; an erase keeps it as .rpmsave.
    std::fs::write(&config, "org = \"edited\"\n").unwrap();
    rpm_in_root(&["-U", rpm2.to_str().unwrap()]);
    assert_eq!(
        run_ok(
            "rpm",
            &[
                "--root",
                root_arg,
                "-q",
                "--queryformat",
                "%{VERSION}",
                "vigie-agent"
            ]
        ),
        "0.1.1"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "org = \"edited\"\n"
    );
    rpm_in_root(&["-e", "vigie-agent"]);
    assert!(!installed.exists());
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/vigie/agent.toml.rpmsave")).unwrap(),
        "org = \"edited\"\n"
    );
}
