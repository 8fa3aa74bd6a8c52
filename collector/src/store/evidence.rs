//! The evidence of a stored report's findings, read for the matrix's past states: only the
//! `findings` array is deserialized (observations, often most of a report, are skipped
//! unparsed), and indexed by (target, check) so that each verdict finds its evidence at
//! once rather than by a scan of the report.

use std::collections::HashMap;

type Evidence = serde_json::Map<String, serde_json::Value>;

#[derive(serde::Deserialize)]
struct Body {
    findings: Vec<Finding>,
}

#[derive(serde::Deserialize)]
struct Finding {
    check: String,
    target: String,
    #[serde(default)]
    evidence: Evidence,
}

/// `(target, check)` → evidence of a report body; `None` if the body is not a report.
#[derive(Debug, Default)]
pub(super) struct ReportEvidence(HashMap<(String, String), Evidence>);

impl ReportEvidence {
    pub(super) fn parse(body: &str) -> Option<ReportEvidence> {
        let body: Body = serde_json::from_str(body).ok()?;
        Some(ReportEvidence(
            body.findings
                .into_iter()
                .map(|f| ((f.target, f.check), f.evidence))
                .collect(),
        ))
    }

    pub(super) fn get(&self, target: &str, check: &str) -> Option<&Evidence> {
        self.0.get(&(target.to_owned(), check.to_owned()))
    }
}
