//! The capability matrix: organizations × 18 capabilities, each cell a maturity level 0–4
//! with its source (observed, self-assessed, hybrid), as `docs/checks.md` and `docs/matrix.md` describe.
//!
//! - [`catalogue`]: the versioned data (`data/catalogue.toml`: capabilities, feeding checks,
//!   framework references, the questionnaire's shape) and the texts of each language
//!   (`locales/en.toml`, `locales/fr.toml`), compiled in;
//! - [`grade`]: pure functions, findings and self-assessment answers → a [`Cell`] per
//!   capability. No I/O; time comes from the caller. The collector and the agent use the
//!   same code, so that both give the same level.
//! - [`assess`]: the questionnaire's answers, their validation and their levels;
//! - [`note`]: why a cell or an assessed level is what it is, rendered in either language.

pub mod assess;
pub mod catalogue;
pub mod grade;
pub mod note;

pub use assess::{Answer, AnswerError};
pub use catalogue::{catalogue, text, Capability, CapabilityKind, Catalogue, Question};
pub use grade::{
    grade_org, Basis, Cell, Coverage, FindingFact, Inputs, Note, Source, TlsProfile, Value,
};
