//! Every bad configuration file under testdata/config/ is refused with a message that names
//! the file, the line and the key; the good ones parse into the documented values.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigie_agent::config::{load_config, DEFAULT_OUTBOX};
use vigie_agent::{RunError, Shutdown};
use vigie_model::Lang;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/config")
        .join(name)
}

/// Loads a file that must be refused; returns the message after checking it names the file,
/// the line (when given) and the key.
fn refused(name: &str, line: Option<usize>, key: &str) -> String {
    let message = match load_config(&testdata(name)) {
        Ok(config) => panic!("{name} was accepted: {config:?}"),
        Err(error) => error.to_string(),
    };
    assert!(message.contains(name), "names the file: {message}");
    if let Some(line) = line {
        assert!(
            message.contains(&format!("line {line},")),
            "names line {line}: {message}"
        );
    }
    assert!(
        message.contains(&format!("key `{key}`")),
        "names key {key}: {message}"
    );
    message
}

#[test]
fn an_unknown_top_level_key_is_named_with_its_line() {
    let message = refused("unknown_top_level.toml", Some(2), "colour");
    assert!(message.contains("expected one of `org`"), "{message}");
}

#[test]
fn an_unknown_key_in_a_section_is_named_with_its_section_and_line() {
    let message = refused("unknown_in_section.toml", Some(5), "agent.outbx");
    assert!(
        message.contains("`outbox`"),
        "lists the valid keys: {message}"
    );
}

#[test]
fn a_value_of_the_wrong_type_says_what_is_expected() {
    let message = refused("wrong_type.toml", Some(5), "tls.concurrency");
    assert!(
        message.contains("a whole number from 1 to 1024"),
        "{message}"
    );
}

#[test]
fn a_missing_org_is_named() {
    let message = refused("missing_org.toml", None, "org");
    assert!(message.contains("missing field `org`"), "{message}");
}

#[test]
fn a_bad_duration_shows_the_expected_form() {
    let message = refused("bad_duration.toml", Some(4), "agent.schedule");
    assert!(
        message.contains("`6 hours`") && message.contains("6h"),
        "{message}"
    );
}

#[test]
fn a_bad_cidr_is_pointed_at_inside_a_multiline_list() {
    let message = refused("bad_cidr.toml", Some(6), "scope.allow");
    assert!(message.contains("did you mean 203.0.113.0/28"), "{message}");
}

#[test]
fn a_bad_collector_url_shows_the_expected_form() {
    let message = refused("bad_url.toml", Some(4), "collector.url");
    assert!(message.contains("https://HOST[:PORT]"), "{message}");
}

#[test]
fn a_bad_org_id_says_which_characters_are_allowed() {
    let message = refused("bad_org.toml", Some(1), "org");
    assert!(
        message.contains("`Example Org`") && message.contains("lowercase"),
        "{message}"
    );
}

#[test]
fn a_bad_tls_target_is_refused() {
    let message = refused("bad_target.toml", Some(4), "tls.targets");
    assert!(message.contains("99999"), "{message}");
}

#[test]
fn a_bad_mail_domain_or_dkim_selector_is_pointed_at() {
    let message = refused("bad_email_domain.toml", Some(6), "email.domains");
    assert!(message.contains("admin@example.org"), "{message}");
    assert!(message.contains("after @"), "{message}");
    let message = refused("bad_dkim_selector.toml", Some(4), "email.dkim_selectors");
    assert!(message.contains("selector 1"), "{message}");
}

#[test]
fn host_paths_are_relative_to_the_file_and_email_gets_its_defaults() {
    let config = load_config(&testdata("host_relative.toml")).unwrap();
    assert!(config.host.enabled);
    assert_eq!(config.host.root, testdata("image"));
    assert_eq!(config.host.vulndb, Some(testdata("state/vulndb.sqlite")));
    assert_eq!(config.email.timeout, Duration::from_secs(5));
    assert_eq!(config.email.concurrency, 4);
}

#[test]
fn broken_toml_is_refused_with_its_line() {
    let message = match load_config(&testdata("not_toml.toml")) {
        Ok(_) => panic!("accepted"),
        Err(error) => error.to_string(),
    };
    assert!(message.contains("line 2,"), "{message}");
}

#[test]
fn a_missing_file_is_named() {
    let message = load_config(&testdata("no-such.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("no-such.toml"), "{message}");
}

#[test]
fn the_complete_file_parses_into_typed_values() {
    let config = load_config(&testdata("good.toml")).unwrap();
    let folder = testdata("");
    assert_eq!(config.org, "example-org");
    let collector = config.collector.as_ref().unwrap();
    assert_eq!(collector.url.as_str(), "https://collector.example.ca:8443/");
    assert_eq!(
        collector.token_file,
        folder.join("token"),
        "relative to the file"
    );
    assert_eq!(collector.token_file_line, Some(6));
    assert_eq!(
        collector.ca_file.as_deref(),
        Some(Path::new("/etc/vigie/collector-ca.pem"))
    );
    assert_eq!(collector.timeout, Duration::from_secs(20));
    assert_eq!(config.agent.id.as_deref(), Some("web-01"));
    assert_eq!(config.agent.schedule, Duration::from_secs(6 * 3600));
    assert_eq!(config.agent.outbox, folder.join("outbox"));
    assert_eq!(config.agent.retry_initial, Duration::from_secs(2));
    assert_eq!(config.agent.retry_max, Duration::from_secs(600));
    assert_eq!(config.agent.once_deadline, Duration::from_secs(90));
    assert_eq!(config.scope.entries().len(), 5);
    assert!(config.scope.contains_ip("203.0.113.9".parse().unwrap()));
    assert!(config.scope.contains_host("www.example.ca"));
    assert!(!config.scope.contains_host("www.example.org"));
    assert_eq!(
        config.dns.resolvers,
        vec![
            "192.0.2.53:53".parse().unwrap(),
            "[2001:db8::53]:5353".parse().unwrap()
        ]
    );
    let targets: Vec<String> = config.tls.targets.iter().map(ToString::to_string).collect();
    assert_eq!(
        targets,
        [
            "www.example.ca:443",
            "mail.example.ca:587",
            "[2001:db8::10]:8443"
        ]
    );
    assert_eq!(config.tls.ca_file, Some(folder.join("internal-ca.pem")));
    assert_eq!(config.tls.timeout, Duration::from_secs(3));
    assert_eq!(config.tls.concurrency, 8);
    assert_eq!(config.email.domains, ["example.ca"]);
    assert_eq!(config.email.dkim_selectors, ["selector1"]);
    assert_eq!(
        config.services.ports.as_ref().map(|ports| ports.name()),
        Some("top100")
    );
    assert!(config.host.enabled);
}

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    let config = load_config(&testdata("minimal.toml")).unwrap();
    assert!(config.collector.is_none());
    assert_eq!(config.agent.schedule, Duration::from_secs(6 * 3600));
    assert_eq!(config.agent.outbox, Path::new(DEFAULT_OUTBOX));
    assert_eq!(config.agent.retry_initial, Duration::from_secs(1));
    assert_eq!(config.agent.retry_max, Duration::from_secs(300));
    assert_eq!(config.agent.once_deadline, Duration::from_secs(60));
    assert_eq!(config.tls.timeout, Duration::from_secs(5));
    assert_eq!(config.tls.concurrency, 16);
    assert!(config.scope.is_empty());
    assert!(config.dns.resolvers.is_empty());
    let id = config.agent.id.clone().expect("an id is derived");
    assert!(!id.is_empty());
    assert_eq!(config.agent_id(), id, "stable");
}

#[tokio::test]
async fn run_refuses_a_missing_token_file_before_touching_anything() {
    let config = load_config(&testdata("token_missing.toml")).unwrap();
    let error = vigie_agent::run_once(&config, Lang::En, &Shutdown::never())
        .await
        .unwrap_err();
    assert!(matches!(error, RunError::Upload(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("no-such-token-file"), "{message}");
    assert!(
        message.contains("key `collector.token_file`, line 5"),
        "{message}"
    );
    assert!(
        !testdata("outbox-never-created").exists(),
        "no outbox created"
    );
}

#[tokio::test]
async fn run_refuses_a_config_without_collector() {
    let config = load_config(&testdata("minimal.toml")).unwrap();
    let error = vigie_agent::run_once(&config, Lang::En, &Shutdown::never())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("[collector]"), "{error}");
}

#[test]
fn the_packaged_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/agent.example.toml");
    let config = load_config(&path).unwrap();
    assert_eq!(config.org, "example-org");
    let collector = config.collector.expect("the example shows [collector]");
    assert_eq!(collector.token_file, Path::new("/etc/vigie/token"));
    assert_eq!(config.agent.outbox, Path::new(DEFAULT_OUTBOX));
    assert_eq!(config.email.domains, ["example.org"]);
    assert!(!config.host.enabled);
    assert_eq!(config.host.root, Path::new("/"));
    // "Check the config" must scan nobody else: every name it holds is reserved (RFC 2606,
    // RFC 6761) and every address a documentation range (RFC 5737).
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for word in line.split(|c: char| c == '"' || c == ',' || c.is_whitespace()) {
            let host = word
                .trim_start_matches("https://")
                .split(':')
                .next()
                .unwrap_or("");
            if host.contains('.')
                && host.chars().any(|c| c.is_ascii_alphabetic())
                && !host.contains('/')
            {
                let reserved = [".example.org", ".test", ".invalid", ".example"]
                    .iter()
                    .any(|suffix| host.ends_with(suffix) || host == &suffix[1..]);
                assert!(
                    reserved,
                    "the example config names `{host}`, not a reserved name"
                );
            }
        }
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_matches_the_default_outbox() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/vigie-agent.service");
    let unit = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for directive in [
        "User=vigie",
        "StateDirectory=vigie",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "PrivateTmp=yes",
        "RestartPreventExitStatus=2",
        "ExecStart=/usr/bin/vigie-agent run --config /etc/vigie/agent.toml",
        "ConditionFileNotEmpty=/etc/vigie/token",
    ] {
        assert!(lines.contains(&directive), "missing {directive}");
    }
    assert!(
        DEFAULT_OUTBOX.starts_with("/var/lib/vigie/"),
        "inside StateDirectory"
    );
    assert!(
        vigie_agent::config::DEFAULT_VULNDB.starts_with("/var/lib/vigie/"),
        "the vulnerability index too: the unit's user can read and replace it"
    );
}

#[tokio::test]
async fn run_refuses_an_unreadable_collector_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t\n").unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "org = \"example-org\"\n[collector]\nurl = \"https://127.0.0.1:9\"\ntoken_file = \"token\"\nca_file = \"missing-ca.pem\"\n",
    )
    .unwrap();
    let config = load_config(&path).unwrap();
    let error = vigie_agent::run_once(&config, Lang::En, &Shutdown::never())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("collector.ca_file") && message.contains("missing-ca.pem"),
        "{message}"
    );
}
