//! Every user-facing text in English and French, one folder per language
//! (`locales/en/`, `locales/fr/`: `checks.toml` for check titles, `messages.toml` for every
//! other text), compiled into the binary.
//!
//! Code never holds prose: it names a message key and its arguments ([`Message`]), and the
//! text is looked up here. Tests check that both languages define the same keys with the
//! same placeholders.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::catalogue::Check;

/// A language of the user interface and exports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "fr" => Ok(Lang::Fr),
            other => Err(format!("unknown language `{other}` (expected en or fr)")),
        }
    }
}

/// The texts of one language.
#[derive(Debug)]
pub struct Locale {
    /// Check id → title.
    pub checks: BTreeMap<String, String>,
    /// Message key → text with `{placeholders}`.
    pub messages: BTreeMap<String, String>,
}

static EN: LazyLock<Locale> = LazyLock::new(|| Locale {
    checks: parse_builtin(include_str!("../locales/en/checks.toml")),
    messages: parse_builtin(include_str!("../locales/en/messages.toml")),
});
static FR: LazyLock<Locale> = LazyLock::new(|| Locale {
    checks: parse_builtin(include_str!("../locales/fr/checks.toml")),
    messages: parse_builtin(include_str!("../locales/fr/messages.toml")),
});

fn parse_builtin(text: &str) -> BTreeMap<String, String> {
    // The locale files are compiled in and checked by the tests below, so a parse failure
    // here is a build defect, not bad input; fall back to an empty table rather than panic.
    toml::from_str(text).unwrap_or_else(|error| {
        eprintln!("vigie: built-in locale file is invalid: {error}");
        BTreeMap::new()
    })
}

/// The parsed locale of a language.
pub fn locale(lang: Lang) -> &'static Locale {
    match lang {
        Lang::En => &EN,
        Lang::Fr => &FR,
    }
}

/// The title of a check; the id itself if a locale lacks it (the tests forbid that).
pub fn check_title(lang: Lang, check: Check) -> &'static str {
    locale(lang)
        .checks
        .get(check.id())
        .map(String::as_str)
        .unwrap_or(check.id())
}

impl Check {
    /// The check's title in the given language, from the locale files.
    pub fn title(self, lang: Lang) -> &'static str {
        check_title(lang, self)
    }
}

/// The text of a message key, without substitution.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    locale(lang).messages.get(key).map(String::as_str)
}

/// A text to show a person, held as a key and arguments until a language is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(key: &'static str) -> Self {
        Message {
            key,
            args: Vec::new(),
        }
    }

    /// Adds a `{name}` argument.
    pub fn arg(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// Whether both locales define this key (used by tests of every message producer).
    pub fn is_defined(&self) -> bool {
        Lang::ALL.iter().all(|lang| text(*lang, self.key).is_some())
    }

    /// The text in `lang` with its arguments substituted. An unknown key renders as the key
    /// and its arguments, so that nothing is lost even if a locale is incomplete.
    pub fn render(&self, lang: Lang) -> String {
        match text(lang, self.key).or_else(|| text(Lang::En, self.key)) {
            Some(template) => substitute(template, &self.args),
            None => {
                let args: Vec<String> = self.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} {}", self.key, args.join(" "))
            }
        }
    }
}

fn substitute(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, value)) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The language a program speaks before it has parsed its command line: `--lang X` (or
/// `--lang=X`) among `args`, else `VIGIE_LANG`, else the POSIX locale (`LC_ALL`, then
/// `LC_MESSAGES`, then `LANG`: French when it starts with `fr`), else English. `env` reads an
/// environment variable, so that this stays a pure function.
pub fn detect_lang<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    env: impl Fn(&str) -> Option<String>,
) -> Lang {
    let mut flagged = None;
    let mut args = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--lang" {
            flagged = args.next();
        } else if let Some(value) = arg.strip_prefix("--lang=") {
            flagged = Some(value.to_owned());
        }
    }
    if let Some(lang) = flagged.and_then(|v| v.parse().ok()) {
        return lang;
    }
    if let Some(lang) = env("VIGIE_LANG").and_then(|v| v.parse().ok()) {
        return lang;
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .filter_map(&env)
        .find(|value| !value.is_empty());
    match locale {
        Some(value) if value.to_ascii_lowercase().starts_with("fr") => Lang::Fr,
        _ => Lang::En,
    }
}

/// [`detect_lang`] over the process's arguments and environment.
pub fn detect_process_lang() -> Lang {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    detect_lang(&args, |name| std::env::var(name).ok())
}

/// The texts of one program (a binary's command line, errors and log lines) in both
/// languages: two flat TOML tables of `key = "text with {placeholders}"`.
#[derive(Debug)]
pub struct Catalogue {
    en: BTreeMap<String, String>,
    fr: BTreeMap<String, String>,
}

impl Catalogue {
    /// Parses the two built-in files; a parse failure (a build defect the tests catch) leaves
    /// that language empty, and lookups fall back to the key.
    pub fn parse(en: &str, fr: &str) -> Self {
        Catalogue {
            en: parse_builtin(en),
            fr: parse_builtin(fr),
        }
    }

    fn table(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        }
    }

    /// The text of `key`, without substitution.
    pub fn text(&self, lang: Lang, key: &str) -> Option<&str> {
        self.table(lang).get(key).map(String::as_str)
    }

    /// The keys of a language.
    pub fn keys(&self, lang: Lang) -> impl Iterator<Item = &str> {
        self.table(lang).keys().map(String::as_str)
    }

    /// The text of `key` with its `{placeholders}` filled; the key and its arguments when no
    /// language has it, so that nothing is lost.
    pub fn render(&self, lang: Lang, key: &str, args: &[(&'static str, String)]) -> String {
        match self.text(lang, key).or_else(|| self.text(Lang::En, key)) {
            Some(template) => substitute(template, args),
            None => {
                let args: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{key} {}", args.join(" ")).trim_end().to_owned()
            }
        }
    }

    /// [`Catalogue::render`] of a [`Message`].
    pub fn message(&self, lang: Lang, message: &Message) -> String {
        self.render(lang, message.key, &message.args)
    }

    /// What is wrong with the catalogue: keys of one language only, placeholders that
    /// differ, French typography (see [`french_typography_errors`]). Empty when it is right.
    pub fn defects(&self) -> Vec<String> {
        let mut defects = Vec::new();
        for key in self.en.keys().filter(|k| !self.fr.contains_key(*k)) {
            defects.push(format!("`{key}` has no French text"));
        }
        for key in self.fr.keys().filter(|k| !self.en.contains_key(*k)) {
            defects.push(format!("`{key}` has no English text"));
        }
        for (key, en) in &self.en {
            if let Some(fr) = self.fr.get(key) {
                if placeholders(en) != placeholders(fr) {
                    defects.push(format!("`{key}`: the placeholders differ"));
                }
                for error in french_typography_errors(fr) {
                    defects.push(format!("`{key}`: {error}"));
                }
            }
        }
        if self.en.is_empty() || self.fr.is_empty() {
            defects.push("a language is empty or does not parse".to_owned());
        }
        defects
    }
}

const NBSP: char = '\u{a0}';
const NNBSP: char = '\u{202f}';

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

/// French typography of a text: a no-break space (U+00A0) before `:` and inside « », a narrow
/// no-break space (U+202F) before `;`, `?` and `!`, never an ordinary space there. Code in
/// backquotes, URLs, `{placeholders}`, times (`12:30`) and symbols such as `(?)` are not prose
/// and are skipped. Each error quotes a few characters of context. The one rule for every
/// catalogue of the project (the model's, the matrix's, the dashboards', the binaries').
pub fn french_typography_errors(text: &str) -> Vec<String> {
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

/// The `{placeholders}` of a template, sorted.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BTreeMap<String, String> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn locale_files_parse() {
        for text in [
            include_str!("../locales/en/checks.toml"),
            include_str!("../locales/en/messages.toml"),
            include_str!("../locales/fr/checks.toml"),
            include_str!("../locales/fr/messages.toml"),
        ] {
            assert!(!parse(text).is_empty());
        }
    }

    #[test]
    fn every_check_has_a_title_in_both_languages() {
        for lang in Lang::ALL {
            let locale = locale(lang);
            for check in Check::ALL {
                let title = locale.checks.get(check.id());
                assert!(
                    title.is_some_and(|t| !t.trim().is_empty()),
                    "{} has no {} title",
                    check.id(),
                    lang.as_str()
                );
            }
            for id in locale.checks.keys() {
                assert!(
                    Check::from_id(id).is_some(),
                    "{} locale titles unknown check {id}",
                    lang.as_str()
                );
            }
        }
    }

    #[test]
    fn both_languages_define_the_same_messages_with_the_same_placeholders() {
        let en = locale(Lang::En);
        let fr = locale(Lang::Fr);
        let en_keys: Vec<_> = en.messages.keys().collect();
        let fr_keys: Vec<_> = fr.messages.keys().collect();
        assert_eq!(en_keys, fr_keys, "en and fr message keys differ");
        for (key, en_text) in &en.messages {
            assert_eq!(
                placeholders(en_text),
                placeholders(&fr.messages[key]),
                "placeholders of {key}"
            );
        }
        assert_ne!(
            en.messages, fr.messages,
            "French texts must not be copies of English"
        );
    }

    #[test]
    fn substitution_fills_known_and_keeps_unknown_placeholders() {
        let args = vec![("days", "5".to_owned())];
        assert_eq!(substitute("in {days} days", &args), "in 5 days");
        assert_eq!(substitute("{missing} and {days}", &args), "{missing} and 5");
        assert_eq!(substitute("open { brace", &args), "open { brace");
        let unknown = Message::new("no.such.key").arg("x", 1).render(Lang::Fr);
        assert_eq!(unknown, "no.such.key x=1");
    }

    #[test]
    fn the_language_comes_from_the_flag_then_vigie_lang_then_the_locale() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let none: &[&str] = &[];
        assert_eq!(detect_lang(none, env(&[])), Lang::En);
        assert_eq!(detect_lang(none, env(&[("LANG", "fr_CA.UTF-8")])), Lang::Fr);
        assert_eq!(
            detect_lang(none, env(&[("LC_ALL", "C"), ("LANG", "fr_FR.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            detect_lang(none, env(&[("LC_ALL", ""), ("LC_MESSAGES", "fr_FR")])),
            Lang::Fr
        );
        assert_eq!(
            detect_lang(none, env(&[("VIGIE_LANG", "en"), ("LANG", "fr_FR")])),
            Lang::En
        );
        assert_eq!(
            detect_lang(&["scan", "--lang", "fr"], env(&[("VIGIE_LANG", "en")])),
            Lang::Fr
        );
        assert_eq!(detect_lang(&["--lang=fr", "x"], env(&[])), Lang::Fr);
        assert_eq!(detect_lang(&["--", "--lang=fr"], env(&[])), Lang::En);
    }

    #[test]
    fn french_typography_is_checked() {
        assert!(french_typography_errors("Erreur\u{a0}: fichier introuvable").is_empty());
        assert!(
            french_typography_errors("vraiment\u{202f}? oui\u{202f}; `a; b` http://x").is_empty()
        );
        assert_eq!(french_typography_errors("Erreur : x").len(), 1);
        assert_eq!(french_typography_errors("Erreur: x").len(), 1);
        assert_eq!(french_typography_errors("quoi ?").len(), 1);
        assert_eq!(french_typography_errors("« x»").len(), 2);
    }

    #[test]
    fn a_catalogue_reports_its_defects() {
        let good = Catalogue::parse(r#"a = "at {x}: y""#, r#"a = "à {x}\u00a0: y""#);
        assert!(good.defects().is_empty(), "{:?}", good.defects());
        assert_eq!(
            good.render(Lang::Fr, "a", &[("x", "1".into())]),
            "à 1\u{a0}: y"
        );
        let bad = Catalogue::parse("a = \"{x}\"\nb = \"b\"", "a = \"{y}\"");
        assert_eq!(bad.defects().len(), 2, "{:?}", bad.defects());
    }
}
