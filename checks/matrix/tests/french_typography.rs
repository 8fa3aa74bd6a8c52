//! French typography in every French string a person reads: the catalogues of the checks
//! (`checks/model/locales/fr`), of the matrix (`checks/matrix/locales/fr.toml`) and of the
//! dashboards (`dashboards/definitions.toml`, its `fr` values). Before `:` a no-break space
//! (U+00A0); before `;`, `?` and `!` a narrow no-break space (U+202F); inside « » no-break
//! spaces; never an ordinary space before any of them. Placeholders (`{name}`), code
//! (`` `v=spf1 -all` ``), URLs and colons not followed by a space (`TLP:AMBER`, `12:30`,
//! `host:443`) are left alone.

use std::path::{Path, PathBuf};

use vigie_model::i18n::french_typography_errors;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every string of a TOML value, with its path; only those under a `fr` key when
/// `under_fr` is asked.
fn strings(
    value: &toml::Value,
    path: String,
    fr_only: bool,
    in_fr: bool,
    out: &mut Vec<(String, String)>,
) {
    match value {
        toml::Value::String(text) if !fr_only || in_fr => out.push((path, text.clone())),
        toml::Value::Table(table) => {
            for (key, value) in table {
                strings(
                    value,
                    format!("{path}.{key}"),
                    fr_only,
                    in_fr || key == "fr",
                    out,
                );
            }
        }
        toml::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                strings(value, format!("{path}[{i}]"), fr_only, in_fr, out);
            }
        }
        _ => {}
    }
}

/// The French catalogues: (path from the repository root, only its `fr` values).
const CATALOGUES: [(&str, bool); 4] = [
    ("checks/model/locales/fr/checks.toml", false),
    ("checks/model/locales/fr/messages.toml", false),
    ("checks/matrix/locales/fr.toml", false),
    ("dashboards/definitions.toml", true),
];

#[test]
fn every_french_string_of_every_catalogue_has_french_typography() {
    let mut offenders = Vec::new();
    let mut checked = 0;
    for (file, fr_only) in CATALOGUES {
        let text = std::fs::read_to_string(repo_root().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut found = Vec::new();
        strings(&value, file.to_owned(), fr_only, false, &mut found);
        assert!(found.len() > 10, "{file}: no French strings found");
        checked += found.len();
        for (path, text) in found {
            for error in french_typography_errors(&text) {
                offenders.push(format!("{path}: {error}"));
            }
        }
    }
    assert!(checked > 500, "only {checked} strings checked");
    assert!(
        offenders.is_empty(),
        "{} strings to fix:\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

#[test]
fn the_rule_catches_what_it_should_and_leaves_code_alone() {
    let ok = [
        "Niveau\u{a0}: {level}",
        "Plafonné\u{202f}; voir\u{202f}; fin\u{202f}?",
        "TLP:AMBER — 12:30 — host:443",
        "Publiez `v=DMARC1; p=reject;` sur https://example.ca/a?b=c : ok",
        "Inconnu (?)",
        "Le niveau «\u{a0}suffisant\u{a0}» tient",
    ];
    for text in [ok[0], ok[1], ok[2], ok[4], ok[5]] {
        assert_eq!(
            french_typography_errors(text),
            Vec::<String>::new(),
            "{text}"
        );
    }
    // The code and the URL are left alone; the colon after them is still punctuation,
    // here with an ordinary space before it.
    assert_eq!(french_typography_errors(ok[3]).len(), 1);
    for bad in [
        "Niveau : 3",
        "Niveau: 3",
        "Version des règles: x",
        "a ; b",
        "a; b",
        "Vraiment?",
        "Non\u{a0}!",
        "« suffisant »",
    ] {
        assert!(!french_typography_errors(bad).is_empty(), "{bad}");
    }
}
