//! What a new user meets in the first hour (issue 17), through the real binaries, in both
//! languages: `--help` of every agent command, usage errors, the language chosen by
//! `--lang`, `VIGIE_LANG` or the locale, and a refused token that is not called unreachable.
//! Only loopback addresses; every process is bounded in time and stopped by its guard.

use std::process::{Command, Output};
use std::time::Duration;

use vigie_tests::harness;

const NBSP: char = '\u{a0}';

/// Runs `vigie-agent` with a clean language environment plus `env`.
fn agent(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(harness::binary("vigie-agent"));
    command.args(args);
    for name in [
        "VIGIE_LANG",
        "LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "VIGIE_CONFIG",
        "VIGIE_LOG",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).env("NO_COLOR", "1");
    harness::run(&mut command, Duration::from_secs(60))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const COMMANDS: &[&[&str]] = &[
    &[],
    &["scan"],
    &["scan", "tls"],
    &["scan", "email"],
    &["scan", "host"],
    &["scan", "services"],
    &["scan", "all"],
    &["run"],
    &["vulndb"],
    &["vulndb", "import"],
];

#[test]
fn agent_help_speaks_the_chosen_language_for_every_command() {
    let usage_fr = format!("Utilisation{NBSP}: vigie-agent");
    let options_fr = format!("Options{NBSP}:");
    for path in COMMANDS {
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut args: Vec<&'static str> = extra.to_vec();
            args.extend_from_slice(path);
            args.push("--help");
            args
        };
        let english = agent(&with(&[]), &[]);
        assert!(english.status.success(), "{path:?}: {}", stderr(&english));
        let english = stdout(&english);
        assert!(
            english.contains("Usage: vigie-agent"),
            "{path:?}:\n{english}"
        );
        assert!(english.contains("Options:"), "{path:?}:\n{english}");

        let french = agent(&with(&["--lang", "fr"]), &[]);
        assert!(french.status.success(), "{path:?}: {}", stderr(&french));
        let french = stdout(&french);
        assert!(french.contains(&usage_fr), "{path:?}:\n{french}");
        assert!(french.contains(&options_fr), "{path:?}:\n{french}");
        for english_word in ["Usage:", "Print help", "[default:", "Options:", "Commands:"] {
            assert!(
                !french.contains(english_word),
                "{path:?}: `{english_word}` in French help:\n{french}"
            );
        }
        // The same text whichever way French was chosen; --lang wins over the environment.
        for env in [
            &[("VIGIE_LANG", "fr")][..],
            &[("LANG", "fr_CA.UTF-8")],
            &[("LC_ALL", "fr_FR.UTF-8"), ("LANG", "en_US.UTF-8")],
        ] {
            let chosen = stdout(&agent(&with(&[]), env));
            assert_eq!(chosen, french, "{path:?} with {env:?}");
        }
        let flag_wins = stdout(&agent(&with(&["--lang", "en"]), &[("LANG", "fr_FR.UTF-8")]));
        assert_eq!(flag_wins, english, "{path:?}: --lang en over LANG=fr");
    }
}

#[test]
fn agent_help_shows_each_commands_own_defaults_and_only_its_options() {
    let help = |args: &[&str]| stdout(&agent(args, &[]));
    let services = help(&["scan", "services", "--help"]);
    assert!(services.contains("[default: 64]"), "{services}");
    assert!(
        services.contains("1.5 s to connect, 2 s to read"),
        "{services}"
    );
    assert!(!services.contains("[default: 16]"), "{services}");
    let tls = help(&["scan", "tls", "--help"]);
    assert!(
        tls.contains("[default: 16]") && tls.contains("[default: 5s]"),
        "{tls}"
    );
    let email = help(&["scan", "email", "--help"]);
    assert!(email.contains("[default: 4]"), "{email}");
    let host = help(&["scan", "host", "--help"]);
    for absent in ["--resolver", "--ca-file", "--timeout", "--concurrency"] {
        assert!(!host.contains(absent), "scan host lists {absent}:\n{host}");
    }
    let import = help(&["vulndb", "import", "--help"]);
    assert!(import.contains("what the import kept"), "{import}");
    // `help X` is `X --help`, in either language.
    for lang in ["en", "fr"] {
        assert_eq!(
            help(&["--lang", lang, "help", "scan", "tls"]),
            help(&["--lang", lang, "scan", "tls", "--help"])
        );
    }
}

#[test]
fn agent_usage_errors_speak_the_chosen_language() {
    let english = agent(&["scan", "tls"], &[]);
    assert_eq!(english.status.code(), Some(2));
    let text = stderr(&english);
    assert!(
        text.starts_with("vigie-agent: error: a required argument was not given"),
        "{text}"
    );
    assert!(text.contains("Usage: vigie-agent scan tls"), "{text}");

    let french = agent(&["scan", "tls"], &[("LANG", "fr_FR.UTF-8")]);
    assert_eq!(french.status.code(), Some(2));
    let text = stderr(&french);
    assert!(
        text.starts_with(&format!(
            "vigie-agent{NBSP}: erreur{NBSP}: un argument obligatoire manque"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Utilisation{NBSP}: vigie-agent scan tls")),
        "{text}"
    );
    let unknown = stderr(&agent(&["--lang", "fr", "scann"], &[]));
    assert!(unknown.contains("commande inconnue `scann`"), "{unknown}");
    assert!(unknown.contains("`scan`"), "{unknown}");
}

#[test]
fn a_refused_token_is_not_reported_as_an_unreachable_collector() {
    let dir = tempfile::tempdir().expect("scratch folder");
    let mut collector = harness::Collector::start(dir.path());
    let token = dir.path().join("token");
    std::fs::write(&token, "vigie_agent_not_a_known_token\n").expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600))
            .expect("chmod token");
    }
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"acme\"\n[collector]\nurl = \"{}\"\ntoken_file = \"{}\"\n\
             [agent]\nid = \"srv01\"\noutbox = \"{}\"\nonce_deadline = \"5s\"\n",
            collector.url(""),
            token.display(),
            dir.path().join("outbox").display()
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    for (lang, unreached) in [("en", "could not be reached"), ("fr", "n'a pu être joint")] {
        let output = agent(&["--lang", lang, "run", "--once", "--config", &config], &[]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "{text}");
        assert!(text.contains("refuses this agent"), "{text}");
        assert!(
            !text.contains(unreached),
            "a 401 is followed by a contradicting line:\n{text}"
        );
    }
    collector.stop();
}

#[test]
fn an_unreachable_tls_endpoint_is_one_line_of_the_table_and_every_finding_in_json() {
    // A resolver on a closed loopback port: the name cannot be resolved, nothing leaves the
    // machine.
    let port = harness::free_port(std::net::Ipv4Addr::LOCALHOST).to_string();
    let resolver = format!("127.0.0.1:{port}");
    let args = [
        "scan",
        "tls",
        "nosuchhost.invalid",
        "--quick",
        "--resolver",
        resolver.as_str(),
        "--timeout",
        "500ms",
    ];
    for (lang, note) in [
        ("en", "other checks could not run"),
        ("fr", "autres vérifications"),
    ] {
        let mut with_lang = vec!["--lang", lang];
        with_lang.extend_from_slice(&args);
        let text = stdout(&agent(&with_lang, &[]));
        let rows: Vec<&str> = text.lines().filter(|l| l.contains("  tls.")).collect();
        assert_eq!(rows.len(), 1, "one row for one cause:\n{text}");
        assert!(rows[0].contains("tls.connect"), "{text}");
        assert!(text.contains(note), "{text}");
    }
    let mut json_args = args.to_vec();
    json_args.extend_from_slice(&["--format", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&agent(&json_args, &[]))).expect("a JSON report");
    let findings = json["findings"].as_array().expect("findings");
    assert!(findings.len() > 1, "{json}");
    assert!(findings.iter().all(|f| f["status"] == "error"), "{json}");
}

/// What the binaries print for a person is the catalogues' text: no `println!`/`eprintln!`
/// in `agent/src` or `collector/src` has prose in its format string (only placeholders).
/// Errors and logs are held to it elsewhere (`error_messages`, the catalogue tests).
#[test]
fn no_printed_sentence_is_built_outside_the_catalogues() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    let mut stack = vec![root.join("agent/src"), root.join("collector/src")];
    while let Some(path) = stack.pop() {
        let entries = std::fs::read_dir(&path).expect("source folder");
        for entry in entries {
            let path = entry.expect("source entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source file");
            // Unit tests at the end of a file may print what they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for macro_name in ["println!(", "eprintln!("] {
                for (at, _) in code.match_indices(macro_name) {
                    let rest = code[at + macro_name.len()..].trim_start();
                    let Some(literal) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let literal = literal.split('"').next().unwrap_or("");
                    let mut prose = String::new();
                    let mut depth = 0;
                    for c in literal.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            c if depth == 0 => prose.push(c),
                            _ => {}
                        }
                    }
                    if prose.chars().any(|c| c.is_alphabetic()) {
                        offenders.push(format!("{}: {macro_name}\"{literal}\"", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "sentences printed from code, not from a catalogue:\n{}",
        offenders.join("\n")
    );
}
