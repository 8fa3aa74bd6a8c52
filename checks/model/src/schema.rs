//! The JSON Schema of `vigie.report.v1`, generated from the types. The committed copy
//! (`docs/report.v1.schema.json`) is checked against it by a test.

use crate::report::Report;

/// The schema as pretty JSON with a trailing newline, the form committed under `docs/`.
pub fn report_schema_json() -> String {
    let schema = schemars::schema_for!(Report);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerate with `VIGIE_BLESS=1 cargo test -p vigie-model`.
    #[test]
    fn committed_schema_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/report.v1.schema.json"
        );
        let generated = report_schema_json();
        if std::env::var_os("VIGIE_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/report.v1.schema.json is stale: run `VIGIE_BLESS=1 cargo test -p vigie-model` and commit it"
        );
    }
}
