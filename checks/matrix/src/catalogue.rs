//! The capability catalogue and its texts, as data compiled into the binary.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use vigie_model::Lang;

/// How a capability is graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// From network observations; the weakest in-scope asset sets the level.
    Observed,
    /// From the host agent; the share of enrolled hosts that meet the rule sets it.
    Agent,
    /// Self-assessed, capped by observations.
    Hybrid,
    /// From the questionnaire only.
    #[serde(rename = "self")]
    SelfAssessed,
}

impl CapabilityKind {
    /// The key of its name in the locale files.
    pub fn text_key(self) -> &'static str {
        match self {
            CapabilityKind::Observed => "kind.observed",
            CapabilityKind::Agent => "kind.agent",
            CapabilityKind::Hybrid => "kind.hybrid",
            CapabilityKind::SelfAssessed => "kind.self",
        }
    }
}

/// One capability of the catalogue.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    /// `C01` … `C18`.
    pub id: String,
    pub kind: CapabilityKind,
    /// The NIST CSF 2.0 function its rows are grouped under (GV, ID, PR, DE, RS, RC).
    pub csf_function: String,
    /// Counted in `weakest_critical`.
    pub critical: bool,
    /// Check ids whose findings grade it.
    pub feeds: Vec<String>,
    /// Questionnaire items that grade it.
    pub questions: Vec<String>,
    pub bc: Vec<String>,
    pub cis: Vec<String>,
    pub csf: Vec<String>,
    pub cpg: Vec<String>,
}

impl Capability {
    /// Its name in `lang`.
    pub fn name(&self, lang: Lang) -> String {
        text(lang, &format!("capability.{}.name", self.id))
    }

    /// Its one-sentence description in `lang`.
    pub fn description(&self, lang: Lang) -> String {
        text(lang, &format!("capability.{}.description", self.id))
    }

    /// The rule of `level` (0–4) in `lang`.
    pub fn level_rule(&self, lang: Lang, level: u8) -> String {
        text(lang, &format!("capability.{}.level.{level}", self.id))
    }

    /// The lowest CIS implementation group of its safeguards: 2 when every reference is
    /// marked "(IG2)", else 1.
    pub fn cis_implementation_group(&self) -> u8 {
        if !self.cis.is_empty() && self.cis.iter().all(|c| c.contains("(IG2)")) {
            2
        } else {
            1
        }
    }
}

/// The shape of a questionnaire answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerShape {
    Choice,
    Date,
    Set,
    YesNo,
    Text,
}

/// One question of the questionnaire.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub capability: String,
    pub answer: AnswerShape,
    pub choices: Vec<String>,
}

impl Question {
    /// Its wording in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        text(lang, &format!("question.{}.text", self.id))
    }
}

/// Reference frameworks and their versions.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Frameworks {
    pub cccs: String,
    pub cis: String,
    pub csf: String,
    pub cpg: String,
}

/// Thresholds of the matrix conventions.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub stale_after_days: i64,
    pub answers_expire_after_days: i64,
    pub max_level_without_evidence: u8,
    /// The port of the TLS endpoints C01 grades as websites (with any endpoint that has an
    /// `https.*` verdict).
    pub web_port: u16,
}

/// The whole catalogue.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub rules_version: String,
    pub frameworks: Frameworks,
    pub thresholds: Thresholds,
    #[serde(rename = "capability")]
    pub capabilities: Vec<Capability>,
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
}

impl Catalogue {
    /// The capability with this id.
    pub fn capability(&self, id: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.id == id)
    }

    /// The question with this id (case-insensitive: `q7` is `Q7`).
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions
            .iter()
            .find(|q| q.id.eq_ignore_ascii_case(id.trim()))
    }
}

const CATALOGUE_TOML: &str = include_str!("../data/catalogue.toml");
const EN_TOML: &str = include_str!("../locales/en.toml");
const FR_TOML: &str = include_str!("../locales/fr.toml");

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    // Compiled in and parsed by the tests below: a failure is a build defect. An empty
    // catalogue makes every export visibly empty rather than aborting the collector.
    toml::from_str(CATALOGUE_TOML).unwrap_or_else(|error| {
        eprintln!("vigie: built-in capability catalogue is invalid: {error}");
        Catalogue {
            rules_version: "invalid".to_owned(),
            frameworks: Frameworks {
                cccs: String::new(),
                cis: String::new(),
                csf: String::new(),
                cpg: String::new(),
            },
            thresholds: Thresholds {
                stale_after_days: 35,
                answers_expire_after_days: 365,
                max_level_without_evidence: 3,
                web_port: 443,
            },
            capabilities: Vec::new(),
            questions: Vec::new(),
        }
    })
});

fn parse_locale(text: &str) -> BTreeMap<String, String> {
    toml::from_str(text).unwrap_or_else(|error| {
        eprintln!("vigie: built-in matrix locale is invalid: {error}");
        BTreeMap::new()
    })
}

static EN: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| parse_locale(EN_TOML));
static FR: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| parse_locale(FR_TOML));

/// The catalogue.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

/// The texts of `lang`.
pub fn locale(lang: Lang) -> &'static BTreeMap<String, String> {
    match lang {
        Lang::En => &EN,
        Lang::Fr => &FR,
    }
}

/// The text of `key` in `lang`; the key itself if missing (the tests forbid that).
pub fn text(lang: Lang, key: &str) -> String {
    locale(lang)
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The plural form of `count` in `lang`: `one` or `other`. French counts 0 and 1 as
/// singular ("0 organisation"), English only 1.
pub fn plural_form(lang: Lang, count: u64) -> &'static str {
    match (lang, count) {
        (Lang::En, 1) | (Lang::Fr, 0 | 1) => "one",
        _ => "other",
    }
}

/// The text of `key` in `lang` with `{name}` placeholders filled from `args`. A key with
/// plural forms (`key.one`, `key.other`) takes the form of its `count` argument.
pub fn render(lang: Lang, key: &str, args: &[(&'static str, String)]) -> String {
    let count = args
        .iter()
        .find(|(name, _)| *name == "count")
        .and_then(|(_, value)| value.parse::<u64>().ok());
    let plural = count.map(|n| format!("{key}.{}", plural_form(lang, n)));
    let mut out = match plural {
        Some(key) if locale(lang).contains_key(&key) => text(lang, &key),
        _ => text(lang, key),
    };
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::Check;

    #[test]
    fn the_catalogue_parses_and_has_the_18_capabilities_of_the_spec_in_order() {
        let catalogue: Catalogue = toml::from_str(CATALOGUE_TOML).unwrap();
        let ids: Vec<&str> = catalogue
            .capabilities
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        let expected: Vec<String> = (1..=18).map(|n| format!("C{n:02}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(catalogue.questions.len(), 14);
        assert!(!catalogue.rules_version.is_empty());
    }

    #[test]
    fn every_feeding_check_is_in_the_check_catalogue() {
        for capability in &catalogue().capabilities {
            for id in &capability.feeds {
                assert!(
                    Check::from_id(id).is_some(),
                    "{} is fed by {id}, which vigie-model's catalogue does not know",
                    capability.id
                );
            }
        }
    }

    #[test]
    fn questions_and_capabilities_point_at_each_other() {
        let catalogue = catalogue();
        for question in &catalogue.questions {
            let capability = catalogue.capability(&question.capability).unwrap();
            assert!(
                capability.questions.contains(&question.id),
                "{}",
                question.id
            );
        }
        for capability in &catalogue.capabilities {
            for q in &capability.questions {
                assert_eq!(catalogue.question(q).unwrap().capability, capability.id);
            }
            assert!(
                !capability.bc.is_empty(),
                "{} has no BC mapping",
                capability.id
            );
            assert!(
                !capability.csf.is_empty(),
                "{} has no CSF mapping",
                capability.id
            );
        }
    }

    #[test]
    fn both_languages_have_the_same_keys_placeholders_and_every_text_the_catalogue_needs() {
        let en: BTreeMap<String, String> = toml::from_str(EN_TOML).unwrap();
        let fr: BTreeMap<String, String> = toml::from_str(FR_TOML).unwrap();
        assert_eq!(
            en.keys().collect::<Vec<_>>(),
            fr.keys().collect::<Vec<_>>(),
            "en and fr keys differ"
        );
        for (key, text) in &en {
            assert_eq!(
                vigie_model::i18n::placeholders(text),
                vigie_model::i18n::placeholders(&fr[key]),
                "{key}"
            );
            assert!(!fr[key].trim().is_empty(), "{key} is empty in French");
        }
        for lang in Lang::ALL {
            for capability in &catalogue().capabilities {
                for key in ["name", "description"] {
                    let key = format!("capability.{}.{key}", capability.id);
                    assert!(locale(lang).contains_key(&key), "{key}");
                }
                for level in 0..=4 {
                    let key = format!("capability.{}.level.{level}", capability.id);
                    assert!(locale(lang).contains_key(&key), "{key}");
                }
            }
            for question in &catalogue().questions {
                assert!(locale(lang).contains_key(&format!("question.{}.text", question.id)));
            }
        }
        // The names of the spec's table, in both languages.
        assert_eq!(
            text(Lang::Fr, "capability.C03.name"),
            "Protection contre l'usurpation de courriel"
        );
        assert_eq!(
            text(Lang::En, "capability.C15.name"),
            "Multi-factor authentication"
        );
        assert_eq!(text(Lang::Fr, "level.3"), "Niveau de base atteint");
    }

    #[test]
    fn counts_take_the_plural_form_of_their_language() {
        let orgs = |lang, n: u64| render(lang, "count.orgs", &[("count", n.to_string())]);
        assert_eq!(orgs(Lang::En, 0), "0 organizations");
        assert_eq!(orgs(Lang::En, 1), "1 organization");
        assert_eq!(orgs(Lang::En, 2), "2 organizations");
        assert_eq!(orgs(Lang::Fr, 0), "0 organisation");
        assert_eq!(orgs(Lang::Fr, 1), "1 organisation");
        assert_eq!(orgs(Lang::Fr, 1000), "1000 organisations");
        // Every key with a singular has its plural, in both languages.
        for lang in Lang::ALL {
            for key in locale(lang).keys().filter(|k| k.ends_with(".one")) {
                let other = format!("{}.other", key.trim_end_matches(".one"));
                assert!(locale(lang).contains_key(&other), "{key} without {other}");
            }
        }
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            render(
                Lang::En,
                "note.weakest",
                &[("target", "www.example:443".into())]
            ),
            "Weakest asset: www.example:443."
        );
    }
}
