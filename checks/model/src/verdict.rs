//! A verdict before it has a language: what `evaluate` functions return.
//!
//! Evaluation is pure and language-free; the agent (or the collector, when it re-grades)
//! renders verdicts into [`Finding`]s in the language it was asked for.

use crate::catalogue::Check;
use crate::i18n::{Lang, Message};
use crate::report::{Finding, Severity, Status};

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub check: Check,
    pub target: String,
    pub status: Status,
    pub severity: Severity,
    pub summary: Message,
    pub remediation: Option<Message>,
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Verdict {
    /// A verdict at the check's default severity, with no remediation or evidence yet.
    pub fn new(check: Check, target: impl Into<String>, status: Status, summary: Message) -> Self {
        Verdict {
            check,
            target: target.into(),
            status,
            severity: check.default_severity(),
            summary,
            remediation: None,
            evidence: serde_json::Map::new(),
        }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn remediation(mut self, message: Message) -> Self {
        self.remediation = Some(message);
        self
    }

    /// Adds one evidence field; values that fail to serialize are recorded as null.
    pub fn evidence(mut self, key: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.evidence.insert(key.to_owned(), value);
        self
    }

    /// The finding as it goes into a report, texts rendered in `lang`.
    pub fn into_finding(self, lang: Lang) -> Finding {
        Finding {
            check: self.check.into(),
            target: self.target,
            status: self.status,
            severity: self.severity,
            summary: self.summary.render(lang),
            remediation: self.remediation.map(|m| m.render(lang)),
            evidence: self.evidence,
        }
    }
}
