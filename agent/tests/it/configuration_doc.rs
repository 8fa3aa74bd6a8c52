//! CONFIGURATION.md documents exactly the keys the agent's config accepts.
//!
//! The accepted keys are read from the config structs themselves: each rejects unknown keys
//! (`deny_unknown_fields`), and serde's refusal of a made-up key lists every field the struct
//! has ("unknown field `…`, expected one of …"). So the list below is complete by
//! construction, and a section that stopped refusing unknown keys fails here too.

use std::collections::BTreeSet;
use std::path::Path;

use vigie_agent::config::parse_config;

const BOGUS: &str = "zz_not_a_key";

/// The keys serde expected in place of the made-up one, or `None` when the text failed for
/// another reason (the key names a value, not a table).
fn expected_keys(text: &str) -> Option<Vec<String>> {
    let error = match parse_config(text, Path::new("probe.toml")) {
        Ok(_) => panic!("a config with the made-up key `{BOGUS}` was accepted:\n{text}"),
        Err(error) => error.to_string(),
    };
    let unknown = format!("unknown field `{BOGUS}`, expected ");
    let rest = &error[error.find(&unknown)? + unknown.len()..];
    let rest = rest.strip_prefix("one of ").unwrap_or(rest);
    // `a`, `b`, `c` — the list ends where the next character is not a backticked name.
    let mut keys = Vec::new();
    let mut cursor = rest;
    while let Some(after) = cursor.strip_prefix('`') {
        let end = after.find('`').expect("a closing backtick");
        keys.push(after[..end].to_owned());
        cursor = after[end + 1..].trim_start_matches([',', ' ']);
    }
    assert!(!keys.is_empty(), "no key list in: {error}");
    Some(keys)
}

/// Every key the agent's config accepts, as `key` (top level) or `section.key`.
fn accepted_keys() -> BTreeSet<String> {
    let top = expected_keys(&format!("org = \"example-org\"\n{BOGUS} = 1\n"))
        .expect("the top level refuses unknown keys");
    let mut all = BTreeSet::new();
    for key in top {
        let probe = format!("org = \"example-org\"\n[{key}]\n{BOGUS} = 1\n");
        if let Some(keys) = expected_keys(&probe) {
            for inner in keys {
                all.insert(format!("{key}.{inner}"));
            }
        }
        all.insert(key);
    }
    all
}

/// The keys CONFIGURATION.md documents for the agent: the first cell of each `| key |`
/// table under `## Top level` and the `## `[section]`` headings, and the sections themselves.
fn documented_keys() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../CONFIGURATION.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let agent_part = text
        .split("\n# Configuring the collector")
        .next()
        .unwrap_or_default();
    let mut keys = BTreeSet::new();
    // None: a section that documents no config keys (the CLI, the outbox…).
    let mut section: Option<String> = None;
    for line in agent_part.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = if heading == "Top level" {
                Some(String::new())
            } else if let Some(rest) = heading.strip_prefix("`[") {
                let name = rest.split(']').next().unwrap_or_default().to_owned();
                keys.insert(name.clone());
                Some(name)
            } else {
                None
            };
            continue;
        }
        let (Some(section), Some(rest)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        let key = rest.split('`').next().unwrap_or_default();
        let key = key.strip_prefix(&format!("{section}.")).unwrap_or(key);
        if section.is_empty() {
            keys.insert(key.to_owned());
        } else {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn configuration_md_documents_every_agent_key_and_no_other() {
    let accepted = accepted_keys();
    assert!(
        accepted.contains("org") && accepted.contains("agent.outbox"),
        "the probe found too little: {accepted:?}"
    );
    let documented = documented_keys();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty(),
        "agent config keys CONFIGURATION.md does not document: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "CONFIGURATION.md documents agent keys the config refuses: {unknown:?}"
    );
}

#[test]
fn a_made_up_key_is_refused_in_every_section() {
    // The probe above relies on it; say so plainly when it stops holding.
    for key in accepted_keys().iter().filter(|k| !k.contains('.')) {
        let text = format!("org = \"example-org\"\n[{key}]\n{BOGUS} = 1\n");
        assert!(
            parse_config(&text, Path::new("probe.toml")).is_err(),
            "[{key}] accepted an unknown key"
        );
    }
}
