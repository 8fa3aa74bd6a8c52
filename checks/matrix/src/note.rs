//! Why a cell or an assessed level is what it is: a locale key of the matrix's catalogue and
//! its arguments, rendered once a language is chosen. Both [`crate::grade`] and
//! [`crate::assess`] write notes, so the type lives below both.

use vigie_model::Lang;

use crate::catalogue::render;

/// Why a cell has its level, held as a locale key and arguments until a language is chosen.
///
/// Not the model's `Message`: a note's text comes from the matrix's own catalogue
/// (`locales/*.toml`), and an unknown key renders as the bare key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Note {
    pub(crate) fn new(key: &'static str) -> Note {
        Note {
            key,
            args: Vec::new(),
        }
    }

    pub(crate) fn arg(mut self, name: &'static str, value: impl std::fmt::Display) -> Note {
        self.args.push((name, value.to_string()));
        self
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        render(lang, self.key, &self.args)
    }
}
