//! The catalogue of `vigie-agent`'s own texts — `--help`, errors, log lines meant for
//! operators — in English and French, from `agent/locales/{en,fr}.toml`, chosen by `--lang`,
//! `VIGIE_LANG` or the locale ([`vigie_model::i18n::detect_lang`]) before the command line is
//! parsed. It imports nothing from this crate, so every module may speak through it; what
//! turns help and errors into catalogue texts is in `messages`.

use std::sync::LazyLock;

use vigie_model::{Catalogue, Lang};

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::parse(
        include_str!("../locales/en.toml"),
        include_str!("../locales/fr.toml"),
    )
});

/// The agent's catalogue.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

/// The text of `key` in `lang`, with its `{placeholders}` filled.
pub fn t(lang: Lang, key: &str, args: &[(&'static str, String)]) -> String {
    CATALOGUE.render(lang, key, args)
}

/// The language of this process, before parsing (see the module documentation).
pub fn process_lang() -> Lang {
    vigie_model::i18n::detect_process_lang()
}
