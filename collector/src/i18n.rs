//! The texts of `vigie-collector`'s command line that a person reads (what a management
//! command did, its errors), in English and French, from `collector/locales/{en,fr}.toml`.
//! The language comes from `--lang`, `VIGIE_LANG` or the locale
//! ([`vigie_model::i18n::detect_lang`]); API error details and logs stay English (see
//! ARCHITECTURE.md).

use std::sync::LazyLock;

use vigie_model::{Catalogue, Lang};

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::parse(
        include_str!("../locales/en.toml"),
        include_str!("../locales/fr.toml"),
    )
});

/// The collector's catalogue.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

/// The text of `key` in `lang`, with its `{placeholders}` filled.
pub fn t(lang: Lang, key: &str, args: &[(&'static str, String)]) -> String {
    CATALOGUE.render(lang, key, args)
}

/// The language of this process's messages.
pub fn process_lang() -> Lang {
    vigie_model::i18n::detect_process_lang()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalogue_has_both_languages_with_the_same_placeholders() {
        let defects = super::catalogue().defects();
        assert!(defects.is_empty(), "{defects:#?}");
    }
}
