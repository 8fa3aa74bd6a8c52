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
}
