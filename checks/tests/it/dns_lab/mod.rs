//! A real DNS lab on loopback: NSD serving zones signed at test time with ldns-signzone, and
//! a validating Unbound that trusts the lab's root (`test.`) and reaches NSD through a
//! stub zone. Needs the Debian packages `nsd`, `unbound` and `ldnsutils` (scripts/test
//! installs them).
//!
//! Zones (all under `test.`, itself signed, its DS the trust anchor):
//! - `signed.test`: signed, DS in `test.`; MX, SPF, DMARC, a TXT set too big for UDP;
//! - `unsigned.test`: not signed, no DS (a secure proof of "insecure" from `test.`);
//! - `expired.test`: signed with signatures that expired in 2020, DS in `test.`: bogus;
//! - `tampered.test`: signed, DS in `test.`, its SPF record edited after signing: bogus
//!   for that one RRset only.

#![allow(dead_code)] // each test file uses part of the lab

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_tests::harness::{free_port, run, wait_until};

/// SPF of the signed zones, before any tampering.
pub const SPF: &str = "v=spf1 ip4:192.0.2.1 -all";
pub const DMARC: &str = "v=DMARC1; p=reject; rua=mailto:dmarc@signed.test";
/// The TXT set at `big.signed.test`: this many records of [`BIG_TXT_LEN`] characters.
pub const BIG_TXT_COUNT: usize = 12;
pub const BIG_TXT_LEN: usize = 200;

/// A process group started by a test, stopped (SIGTERM, then SIGKILL) when dropped. NSD
/// forks its server and transfer processes: the group takes them all, and only them.
pub struct Group {
    name: &'static str,
    child: Option<Child>,
}

impl Group {
    fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Group {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(log).expect("create a log file");
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e} (scripts/test installs it)"));
        Group {
            name,
            child: Some(child),
        }
    }
}

fn kill_group(signal: &str, group: u32) {
    // The group id is the leader's pid (process_group(0)).
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Group {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id();
        kill_group("-TERM", group);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    eprintln!("{} did not stop on SIGTERM; killed", self.name);
                    let _ = child.kill();
                    break;
                }
            }
        }
        let _ = child.wait();
        // Forked members that outlived the leader.
        kill_group("-KILL", group);
    }
}

/// The running lab. Dropping it stops both servers.
pub struct Lab {
    /// The validating resolver (Unbound).
    pub resolver: SocketAddr,
    /// The authoritative server (NSD).
    pub authoritative: SocketAddr,
    /// The address the MX hosts of the zones resolve to.
    pub mx_ip: Ipv4Addr,
    /// DS record of `test.`'s key-signing key (the Unbound trust anchor).
    pub trust_anchor: PathBuf,
    /// The DNSKEY records of `test.`, for validators that take keys (hickory looks for the
    /// parent's DS unless every key of the zone is in its trust anchors).
    pub trust_anchor_key: PathBuf,
    // Fields drop in order: servers first, then the folder.
    unbound: Group,
    nsd: Group,
    dir: tempfile::TempDir,
}

fn tool(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = run(
        Command::new(program).args(args).current_dir(dir),
        Duration::from_secs(20),
    );
    assert!(
        output.status.success(),
        "{program} {args:?} failed (install nsd, unbound and ldnsutils; scripts/test does): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Signs `<zone>.zone` into `<zone>.zone.signed` with a fresh KSK and ZSK; returns the DS
/// record of the KSK, and leaves both DNSKEY records in `<zone>.keys`. `validity`:
/// (inception, expiration) as YYYYMMDDhhmmss, or the tool's
/// default (now to four weeks ahead).
fn sign(dir: &Path, zone: &str, validity: Option<(&str, &str)>) -> String {
    let ksk = tool(dir, "ldns-keygen", &["-a", "ECDSAP256SHA256", "-k", zone]);
    let zsk = tool(dir, "ldns-keygen", &["-a", "ECDSAP256SHA256", zone]);
    let file = format!("{zone}.zone");
    let mut args: Vec<&str> = vec!["-n"];
    if let Some((inception, expiration)) = validity {
        args.extend(["-i", inception, "-e", expiration]);
    }
    args.extend([file.as_str(), ksk.as_str(), zsk.as_str()]);
    tool(dir, "ldns-signzone", &args);
    let keys = [&ksk, &zsk]
        .iter()
        .map(|k| std::fs::read_to_string(dir.join(format!("{k}.key"))).expect("read a key"))
        .collect::<String>();
    std::fs::write(dir.join(format!("{zone}.keys")), keys).expect("keep the DNSKEY records");
    std::fs::read_to_string(dir.join(format!("{ksk}.ds"))).expect("read the DS record")
}

fn soa(zone: &str) -> String {
    format!(
        "$TTL 300\n{zone}. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n{zone}. IN NS ns.test.\n"
    )
}

fn mail_records(zone: &str, mx_ip: Ipv4Addr) -> String {
    format!(
        "{zone}. IN MX 10 mx.{zone}.\n\
         mx.{zone}. IN A {mx_ip}\n\
         {zone}. IN TXT \"{SPF}\"\n\
         _dmarc.{zone}. IN TXT \"{DMARC}\"\n"
    )
}

impl Lab {
    /// Starts the lab on `127.0.0.<octet>` (NSD) and `127.0.0.<octet + 1>` (Unbound); MX
    /// hosts resolve to `127.0.0.<octet + 2>`. Give each test its own octet.
    pub fn start(octet: u8) -> Lab {
        let dir = tempfile::tempdir().expect("scratch folder");
        let path = dir.path();
        let ns_ip = Ipv4Addr::new(127, 0, 0, octet);
        let resolver_ip = Ipv4Addr::new(127, 0, 0, octet + 1);
        let mx_ip = Ipv4Addr::new(127, 0, 0, octet + 2);
        let ns = SocketAddr::from((ns_ip, free_port(ns_ip)));
        let resolver = SocketAddr::from((resolver_ip, free_port(resolver_ip)));

        let write = |name: &str, text: String| {
            std::fs::write(path.join(name), text).expect("write a lab file");
        };
        // signed.test: the records a mail domain has, plus a TXT set above any UDP size.
        let big: String = (0..BIG_TXT_COUNT)
            .map(|i| {
                let fill: String =
                    std::iter::repeat_n(char::from(b'a' + i as u8), BIG_TXT_LEN).collect();
                format!("big.signed.test. IN TXT \"{fill}\"\n")
            })
            .collect();
        // Three published (unused) 4096-bit RSA keys beside the signing ones: the DNSKEY
        // set, with its signature, no longer fits a 1232-byte UDP answer.
        let published: String = (0..3u8)
            .map(|i| {
                use base64::Engine;
                let mut key = vec![3u8, 1, 0, 1];
                key.extend(std::iter::repeat_n(0xc5u8 + i, 512));
                let key = base64::engine::general_purpose::STANDARD.encode(key);
                format!("signed.test. IN DNSKEY 256 3 8 {key}\n")
            })
            .collect();
        write(
            "signed.test.zone",
            soa("signed.test") + &mail_records("signed.test", mx_ip) + &big + &published,
        );
        let ds_signed = sign(path, "signed.test", None);
        write(
            "expired.test.zone",
            soa("expired.test") + &mail_records("expired.test", mx_ip),
        );
        let ds_expired = sign(
            path,
            "expired.test",
            Some(("20191201000000", "20200101000000")),
        );
        write(
            "tampered.test.zone",
            soa("tampered.test") + &mail_records("tampered.test", mx_ip),
        );
        let ds_tampered = sign(path, "tampered.test", None);
        let signed_file = path.join("tampered.test.zone.signed");
        let text = std::fs::read_to_string(&signed_file).expect("read the signed zone");
        assert!(text.contains(SPF), "the SPF record is in the signed zone");
        std::fs::write(&signed_file, text.replace(SPF, "v=spf1 +all")).expect("tamper");
        write(
            "unsigned.test.zone",
            soa("unsigned.test") + &mail_records("unsigned.test", mx_ip),
        );
        // The parent: delegations, with DS for the signed children.
        write(
            "test.zone",
            soa("test")
                + &format!("ns.test. IN A {ns_ip}\n")
                + "signed.test. IN NS ns.test.\nunsigned.test. IN NS ns.test.\n"
                + "expired.test. IN NS ns.test.\ntampered.test. IN NS ns.test.\n"
                + &ds_signed
                + &ds_expired
                + &ds_tampered,
        );
        let ds_root = sign(path, "test", None);
        write("anchor.ds", ds_root);

        let dir_str = path.display().to_string();
        let zones = [
            ("test", "test.zone.signed"),
            ("signed.test", "signed.test.zone.signed"),
            ("expired.test", "expired.test.zone.signed"),
            ("tampered.test", "tampered.test.zone.signed"),
            ("unsigned.test", "unsigned.test.zone"),
        ]
        .iter()
        .map(|(name, file)| format!("zone:\n  name: \"{name}\"\n  zonefile: \"{file}\"\n"))
        .collect::<String>();
        write(
            "nsd.conf",
            format!(
                "server:\n  ip-address: {ns_ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
                 zonesdir: \"{dir_str}\"\n  database: \"\"\n  zonelistfile: \"{dir_str}/zone.list\"\n  \
                 xfrdfile: \"{dir_str}/xfrd.state\"\n  xfrdir: \"{dir_str}\"\n  pidfile: \"{dir_str}/nsd.pid\"\n  \
                 server-count: 1\n  do-ip6: no\nremote-control:\n  control-enable: no\n{zones}",
                port = ns.port()
            ),
        );
        write(
            "unbound.conf",
            format!(
                "server:\n  interface: {resolver_ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
                 directory: \"{dir_str}\"\n  pidfile: \"{dir_str}/unbound.pid\"\n  use-syslog: no\n  \
                 logfile: \"\"\n  verbosity: 1\n  num-threads: 1\n  so-reuseport: no\n  do-ip6: no\n  \
                 do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
                 module-config: \"validator iterator\"\n  trust-anchor-file: \"{dir_str}/anchor.ds\"\n  \
                 local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  val-log-level: 2\n\
                 stub-zone:\n  name: \"test\"\n  stub-addr: {ns_ip}@{ns_port}\n",
                port = resolver.port(),
                ns_port = ns.port()
            ),
        );

        let nsd = Group::spawn(
            "nsd",
            Command::new("nsd")
                .args(["-d", "-c"])
                .arg(path.join("nsd.conf")),
            &path.join("nsd.log"),
        );
        let unbound = Group::spawn(
            "unbound",
            Command::new("unbound")
                .args(["-d", "-c"])
                .arg(path.join("unbound.conf")),
            &path.join("unbound.log"),
        );
        for (name, addr) in [("nsd", ns), ("unbound", resolver)] {
            let up = wait_until(Duration::from_secs(10), || {
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            });
            let log = std::fs::read_to_string(path.join(format!("{name}.log"))).unwrap_or_default();
            assert!(
                up,
                "{name} did not listen on {addr} within 10 s; its log:\n{log}"
            );
        }
        Lab {
            resolver,
            authoritative: ns,
            mx_ip,
            trust_anchor: path.join("anchor.ds"),
            trust_anchor_key: path.join("test.keys"),
            unbound,
            nsd,
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The servers' logs, for assertion messages.
    pub fn logs(&self) -> String {
        ["nsd.log", "unbound.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect()
    }
}
