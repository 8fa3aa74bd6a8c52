//! French typography in every French string a person reads: the catalogues of the checks
//! (`checks/model/locales/fr`), of the matrix (`checks/matrix/locales/fr.toml`) and of the
//! dashboards (`dashboards/definitions.toml`, its `fr` values). Before `:` a no-break space
//! (U+00A0); before `;`, `?` and `!` a narrow no-break space (U+202F); inside « » no-break
//! spaces; never an ordinary space before any of them. Placeholders (`{name}`), code
//! (`` `v=spf1 -all` ``), URLs and colons not followed by a space (`TLP:AMBER`, `12:30`,
//! `host:443`) are left alone.

use std::path::{Path, PathBuf};

const NBSP: char = '\u{a0}';
const NNBSP: char = '\u{202f}';

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text with placeholders, code spans and URLs replaced by `X`.
fn neutral(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let closing = match c {
            '`' => Some('`'),
            '{' => Some('}'),
            _ => None,
        };
        if let Some(end) = closing.and_then(|end| rest[1..].find(end).map(|i| i + 2)) {
            out.push('X');
            rest = &rest[end..];
            continue;
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest.find([' ', '"']).unwrap_or(rest.len());
            out.push('X');
            rest = &rest[end..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// What is wrong in one French text, each with a few characters of context.
fn typography_errors(text: &str) -> Vec<String> {
    let chars: Vec<char> = neutral(text).chars().collect();
    let mut errors = Vec::new();
    let context = |i: usize| -> String {
        chars[i.saturating_sub(12)..(i + 6).min(chars.len())]
            .iter()
            .collect()
    };
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        match c {
            ':' | ';' | '?' | '!' => {
                // Punctuation only when a space, a closing sign or the end follows.
                let punctuation =
                    next.is_none_or(|n| matches!(n, ' ' | NBSP | NNBSP | '»' | ')' | '"'));
                // A sign opening a text or a bracket is a symbol (`(?)`), not punctuation.
                let symbol = previous.is_none_or(|p| matches!(p, '(' | '«'));
                if !punctuation || symbol {
                    continue;
                }
                let wanted = if c == ':' { NBSP } else { NNBSP };
                if previous != Some(wanted) {
                    errors.push(format!(
                        "`{c}` needs U+{:04X} before it: «{}»",
                        u32::from(wanted),
                        context(i)
                    ));
                }
            }
            '«' if !matches!(next, Some(NBSP | NNBSP)) => {
                errors.push(format!("« needs a no-break space after it: {}", context(i)));
            }
            '»' if !matches!(previous, Some(NBSP | NNBSP)) => {
                errors.push(format!(
                    "» needs a no-break space before it: {}",
                    context(i)
                ));
            }
            _ => {}
        }
    }
    errors
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
            for error in typography_errors(&text) {
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
        assert_eq!(typography_errors(text), Vec::<String>::new(), "{text}");
    }
    // The code and the URL are left alone; the colon after them is still punctuation,
    // here with an ordinary space before it.
    assert_eq!(typography_errors(ok[3]).len(), 1);
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
        assert!(!typography_errors(bad).is_empty(), "{bad}");
    }
}
