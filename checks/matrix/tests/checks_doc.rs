//! `docs/checks.md` is generated from the catalogues: every check id of `vigie_model::Check`
//! with its family, default severity, titles, condition and remediation texts, and every
//! capability of the matrix with its levels and feeding checks. This test writes the page
//! and fails when the committed file differs; `VIGIE_BLESS=1` rewrites it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use vigie_matrix::{catalogue, text as matrix_text, Capability};
use vigie_model::{Check, Family, Lang};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `key = "text"` TOML file of the repository, as a map.
fn texts(relative: &str) -> BTreeMap<String, String> {
    let path = repo_root().join(relative);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    toml::from_str(&source).unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
}

/// Keeps a text inside one table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

const FAMILIES: &[(Family, &str)] = &[
    (Family::Tls, "TLS and web endpoints (`scan tls`, `[tls]`): target `host:port`"),
    (Family::Email, "Email and DNS (`scan email`, `[email]`): target a domain"),
    (
        Family::Services,
        "Exposed services (`scan services`, `[services]`): target `address:port`, only inside the scope allowlist",
    ),
    (Family::Host, "Patch posture (`scan host`, `[host]`): target the agent's own host"),
];

const INTRO: &str = "\
Every finding carries a stable dotted `check` id. New checks may be added; an id is never
reused for a different meaning. A collector stores the findings of an id it does not know
yet (a newer agent's) and grades no capability from them.

A finding's `status` is `pass` when the condition below is absent, `fail` or `warn` when it
is present, `info` for facts, `error` when the check could not observe what it needs (the
reason is in its summary) and `skip` when it does not apply. A check whose facts were not
observed is never `pass`. The severity is the default of a failure; a `fail` may carry a
higher one where the condition says so.

**TLS profiles.** Suites, groups and signature algorithms are placed in the tiers of CCCS
ITSP.40.062: recommended, sufficient, phase-out or not listed.
The agent grades TLS with `modern` (the default: strong primitives the guidance does not
list, X25519, X448, ChaCha20-Poly1305, are acceptable), `itsp-strict` (only what it lists)
or `mozilla-intermediate` (Mozilla's intermediate configuration), and the report names the
profile. `tls.policy.itsp_40_062` always fails on anything outside ITSP.40.062; the profile
sets its severity. The matrix grades with `modern` or `itsp-strict`, and every export names
the one it used.
";

/// The remediation keys of the message catalogue, grouped under the longest check id they
/// start with; keys no check id prefixes stay under their own key.
fn remediation_by_check(messages: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in messages.keys() {
        let is_fix = key
            .split('.')
            .any(|part| part == "fix" || part.ends_with("_fix"));
        if !is_fix {
            continue;
        }
        let owner = Check::ALL
            .iter()
            .map(|check| check.id())
            .filter(|id| key.starts_with(&format!("{id}.")))
            .max_by_key(|id| id.len())
            .map_or_else(|| key.clone(), str::to_owned);
        grouped.entry(owner).or_default().push(key.clone());
    }
    grouped
}

fn checks_section(out: &mut String) {
    let conditions = texts("checks/model/data/conditions.toml");
    let messages = texts("checks/model/locales/en/messages.toml");
    let remediation = remediation_by_check(&messages);
    let known: Vec<&str> = Check::ALL.iter().map(|check| check.id()).collect();
    for id in conditions.keys() {
        assert!(
            known.contains(&id.as_str()),
            "checks/model/data/conditions.toml names `{id}`, which is not in the catalogue"
        );
    }

    writeln!(out, "## Checks\n").unwrap();
    for (family, heading) in FAMILIES {
        writeln!(out, "### {heading}\n").unwrap();
        writeln!(
            out,
            "| id | title | titre | default severity | fails when |"
        )
        .unwrap();
        writeln!(out, "| --- | --- | --- | --- | --- |").unwrap();
        for check in Check::ALL.iter().filter(|check| check.family() == *family) {
            let condition = conditions.get(check.id()).unwrap_or_else(|| {
                panic!(
                    "`{}` has no condition in checks/model/data/conditions.toml",
                    check.id()
                )
            });
            writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                check.id(),
                cell(check.title(Lang::En)),
                cell(check.title(Lang::Fr)),
                check.default_severity().as_str(),
                cell(condition),
            )
            .unwrap();
        }
        writeln!(
            out,
            "\nRemediation (English; each `{{placeholder}}` is filled in the finding):\n"
        )
        .unwrap();
        let family_checks: Vec<&Check> = Check::ALL
            .iter()
            .filter(|check| check.family() == *family)
            .collect();
        for check in &family_checks {
            for key in remediation.get(check.id()).into_iter().flatten() {
                writeln!(out, "- `{}`: {}", check.id(), cell(&messages[key])).unwrap();
            }
        }
        // Texts shared by several checks (e.g. `tls.protocol.legacy.fix`) under their key.
        for (owner, keys) in &remediation {
            let first = owner.split('.').next().unwrap_or_default();
            let shared = !known.contains(&owner.as_str())
                && family_checks
                    .iter()
                    .any(|check| check.id().split('.').next() == Some(first));
            if shared {
                for key in keys {
                    writeln!(out, "- `{key}`: {}", cell(&messages[key])).unwrap();
                }
            }
        }
        writeln!(out).unwrap();
    }
}

fn capability_section(out: &mut String, capability: &Capability) {
    let name = capability.name(Lang::En);
    writeln!(
        out,
        "### {} {} · *{}*\n",
        capability.id,
        name,
        capability.name(Lang::Fr)
    )
    .unwrap();
    writeln!(out, "{}\n", capability.description(Lang::En)).unwrap();
    writeln!(
        out,
        "Source: {}. NIST CSF function: {}.{}",
        matrix_text(Lang::En, capability.kind.text_key()),
        capability.csf_function,
        if capability.critical {
            " Counted in `weakest_critical`."
        } else {
            ""
        }
    )
    .unwrap();
    writeln!(out).unwrap();
    for level in 0..=4u8 {
        writeln!(
            out,
            "- **{level}** {}",
            capability.level_rule(Lang::En, level)
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    if !capability.feeds.is_empty() {
        let feeds: Vec<String> = capability
            .feeds
            .iter()
            .map(|id| format!("`{id}`"))
            .collect();
        writeln!(out, "Fed by the checks: {}.\n", feeds.join(", ")).unwrap();
    }
    if !capability.questions.is_empty() {
        writeln!(
            out,
            "Fed by the questionnaire: {}.\n",
            capability.questions.join(", ")
        )
        .unwrap();
    }
    let references: Vec<String> = [
        ("CCCS", &capability.bc),
        ("CIS", &capability.cis),
        ("CSF", &capability.csf),
        ("CPG", &capability.cpg),
    ]
    .iter()
    .filter(|(_, refs)| !refs.is_empty())
    .map(|(name, refs)| format!("{name} {}", refs.join(", ")))
    .collect();
    if !references.is_empty() {
        writeln!(out, "References: {}.\n", references.join(" · ")).unwrap();
    }
}

fn capabilities_section(out: &mut String) {
    let catalogue = catalogue();
    let thresholds = &catalogue.thresholds;
    writeln!(out, "## Capabilities of the matrix\n").unwrap();
    writeln!(
        out,
        "Rules version `{}`. Each cell is a level 0–4 ({}), or N/A or `?`, with its source: \
observed, self-assessed or hybrid. Observed capabilities take the weakest in-scope asset, \
agent ones the share of enrolled hosts. Observed data older than {} days is stale; \
questionnaire answers expire after {} days and a self-assessed level above {} needs \
evidence. More in [matrix.md](matrix.md).\n",
        catalogue.rules_version,
        (0..=4)
            .map(|level| matrix_text(Lang::En, &format!("level.{level}")))
            .collect::<Vec<_>>()
            .join(", "),
        thresholds.stale_after_days,
        thresholds.answers_expire_after_days,
        thresholds.max_level_without_evidence,
    )
    .unwrap();
    for capability in &catalogue.capabilities {
        capability_section(out, capability);
    }
}

/// The whole page.
fn render() -> String {
    let mut out = String::new();
    writeln!(out, "# Checks and capabilities\n").unwrap();
    writeln!(
        out,
        "<!-- Generated by checks/matrix/tests/checks_doc.rs from checks/model/src/catalogue.rs, \
checks/model/locales/{{en,fr}}, checks/model/data/conditions.toml, \
checks/matrix/data/catalogue.toml and checks/matrix/locales/{{en,fr}}.toml. Do not edit: \
change those and run `VIGIE_BLESS=1 cargo test -p vigie-matrix --test checks_doc`. -->\n"
    )
    .unwrap();
    writeln!(out, "{INTRO}").unwrap();
    checks_section(&mut out);
    capabilities_section(&mut out);
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[test]
fn docs_checks_md_is_what_the_catalogues_say() {
    let path = repo_root().join("docs/checks.md");
    let expected = render();
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::write(&path, &expected)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/checks.md differs from the catalogues; run \
         `VIGIE_BLESS=1 cargo test -p vigie-matrix --test checks_doc` and commit the result"
    );
}

#[test]
fn every_check_has_a_condition_and_every_condition_a_check() {
    let conditions = texts("checks/model/data/conditions.toml");
    let ids: Vec<&str> = Check::ALL.iter().map(|check| check.id()).collect();
    let listed: Vec<&str> = conditions.keys().map(String::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
}
