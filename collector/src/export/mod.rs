//! The capability matrix exports: JSON for machines, CSV (UTF-8 with BOM, plus a data
//! dictionary), XLSX and a self-contained printable HTML page. Every header, name and legend
//! comes from `vigie-matrix`'s locale files in the chosen language; every export states the
//! rules version and the TLS profile. Exports only lay out a computed [`Matrix`].

mod csv;
pub(crate) mod html;
mod json;
mod pdf;
mod xlsx;

use vigie_matrix::catalogue::{catalogue, text as catalogue_text};
use vigie_matrix::grade::{Basis, Value};
use vigie_model::Lang;

use crate::matrix::{Matrix, View};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Html,
    /// A4 landscape, made by the collector itself (no browser).
    Pdf,
}

impl Format {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the XLSX workbook failed: {0}")]
    Xlsx(rust_xlsxwriter::XlsxError),
    #[error("serializing the JSON export failed: {0}")]
    Json(serde_json::Error),
    #[error("writing the PDF failed: {0}")]
    Pdf(String),
}

// The messages show their cause, so it is not also the `source()` (`{:#}` would print it
// twice); `?` still converts.
impl From<rust_xlsxwriter::XlsxError> for ExportError {
    fn from(error: rust_xlsxwriter::XlsxError) -> Self {
        ExportError::Xlsx(error)
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(error: serde_json::Error) -> Self {
        ExportError::Json(error)
    }
}

/// The matrix in `format`.
pub fn render(matrix: &Matrix, format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Json => json::render(matrix),
        Format::Csv => Ok(csv::matrix(matrix)),
        Format::Xlsx => xlsx::render(matrix),
        Format::Html => Ok(html::render(matrix).into_bytes()),
        Format::Pdf => pdf::render(matrix),
    }
}

/// The CSV data dictionary: every capability with its names and descriptions in both
/// languages, its kind, mappings and the rules version; headers in `lang`.
pub fn dictionary_csv(lang: Lang) -> Vec<u8> {
    csv::dictionary(lang)
}

/// The findings page of one verdict that set a level, relative to the collector's root and
/// stable: `/ui/orgs/{org}/findings?check={check}&target={target}`, every part
/// percent-encoded. Answers have no findings page.
pub fn findings_link(org: &str, basis: &Basis) -> Option<String> {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 3986's unreserved characters stay as they are: `tls.cipher.des`, `maple-health`.
    const PART: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let Basis::Finding { check, target, .. } = basis else {
        return None;
    };
    let part = |text: &str| utf8_percent_encode(text, PART).to_string();
    Some(format!(
        "/ui/orgs/{}/findings?check={}&target={}",
        part(org),
        part(check),
        part(target)
    ))
}

/// What set a cell, for a tooltip: `Set by: tls.cipher.des @ www.example.ca:443 (fail)`.
fn basis_text(lang: Lang, cell: &vigie_matrix::grade::Cell) -> Option<String> {
    if cell.basis.is_empty() {
        return None;
    }
    let items: Vec<String> = cell
        .basis
        .iter()
        .map(|b| match b {
            Basis::Finding { status, .. } => format!("{} ({})", b.label(), status.as_str()),
            Basis::Answer { .. } => b.label(),
        })
        .collect();
    Some(labelled(lang, &t(lang, "header.basis"), &items.join("; ")))
}

/// `label: value` with the colon of `lang` (a no-break space before it in French).
fn labelled(lang: Lang, label: &str, value: &str) -> String {
    match lang {
        Lang::En => format!("{label}: {value}"),
        Lang::Fr => format!("{label}\u{a0}: {value}"),
    }
}

/// A text of the matrix locale.
fn t(lang: Lang, key: &str) -> String {
    catalogue_text(lang, key)
}

/// The classification marking of a view.
fn marking(matrix: &Matrix) -> String {
    t(
        matrix.lang,
        match matrix.view {
            View::Org => "marking.org",
            View::Aggregate => "marking.aggregate",
        },
    )
}

/// The fill colour and text colour of a value: the spec's ColorBrewer RdBu palette.
fn colours(value: Value) -> (&'static str, &'static str) {
    match value {
        Value::Level(0) => ("B2182B", "FFFFFF"),
        Value::Level(1) => ("EF8A62", "000000"),
        Value::Level(2) => ("FDDBC7", "000000"),
        Value::Level(3) => ("67A9CF", "000000"),
        Value::Level(_) => ("2166AC", "FFFFFF"),
        Value::NotApplicable => ("FFFFFF", "737373"),
        Value::Unknown => ("BDBDBD", "000000"),
    }
}

/// Every value of the legend, in order.
fn legend_values() -> Vec<Value> {
    let mut values: Vec<Value> = (0..=4).map(Value::Level).collect();
    values.push(Value::NotApplicable);
    values.push(Value::Unknown);
    values
}

/// `met/known` or empty.
fn attainment_text(met: usize, known: usize) -> String {
    if known == 0 {
        String::new()
    } else {
        format!("{met}/{known}")
    }
}

/// `C03 = 1` or `C03/C05 = 0`.
fn weakest_text(weakest: Option<(u8, Vec<String>)>) -> String {
    weakest
        .map(|(level, ids)| format!("{} = {level}", ids.join("/")))
        .unwrap_or_default()
}

/// A percentage with no decimals.
fn percent(share: Option<f64>) -> String {
    share
        .map(|s| format!("{:.0} %", s * 100.0))
        .unwrap_or_default()
}

fn capability_name(lang: Lang, id: &str) -> String {
    catalogue()
        .capability(id)
        .map(|c| c.name(lang))
        .unwrap_or_else(|| id.to_owned())
}

/// The name of one group of the aggregate view: `Region: ON (n = 12)`.
fn group_label(matrix: &Matrix, group: &crate::matrix::GroupAggregate) -> String {
    let lang = matrix.lang;
    let by = matrix
        .group_by
        .map(|b| t(lang, b.text_key()))
        .unwrap_or_default();
    let key = group
        .key
        .clone()
        .unwrap_or_else(|| t(lang, "group.unassigned"));
    labelled(
        lang,
        &by,
        &format!(
            "{key} ({})",
            vigie_matrix::catalogue::render(
                lang,
                "group.orgs",
                &[("count", group.orgs.to_string())]
            )
        ),
    )
}

/// The two column headers of each group: its median, its share at ≥3.
fn group_headers(matrix: &Matrix) -> Vec<[String; 2]> {
    let lang = matrix.lang;
    matrix
        .groups
        .iter()
        .map(|g| {
            let label = group_label(matrix, g);
            [
                format!("{label} — {}", t(lang, "header.median")),
                format!("{label} — {}", t(lang, "header.share_baseline")),
            ]
        })
        .collect()
}

/// The method lines shared by the XLSX Method sheet and the HTML page: (label, value).
fn method_lines(matrix: &Matrix) -> Vec<(String, String)> {
    let lang = matrix.lang;
    let frameworks = &catalogue().frameworks;
    vec![
        (
            t(lang, "method.rules_version"),
            matrix.rules_version.clone(),
        ),
        (
            t(lang, "method.tls_profile"),
            format!(
                "{} — {}",
                matrix.profile.as_str(),
                t(lang, &format!("profile.{}", matrix.profile.as_str()))
            ),
        ),
        (
            t(lang, "method.generated_at"),
            matrix.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        (t(lang, "method.since"), matrix.since.to_string()),
        (
            t(lang, "method.view"),
            t(lang, &format!("view.{}", matrix.view.as_str())),
        ),
        (t(lang, "method.language"), lang.as_str().to_owned()),
        (t(lang, "method.orgs"), matrix.orgs.len().to_string()),
        (
            t(lang, "method.frameworks"),
            [
                frameworks.cccs.as_str(),
                frameworks.cis.as_str(),
                frameworks.csf.as_str(),
                frameworks.cpg.as_str(),
            ]
            .join(match lang {
                Lang::En => "; ",
                Lang::Fr => "\u{202f}; ",
            }),
        ),
        (
            t(lang, "method.aggregation"),
            t(lang, "method.aggregation.text"),
        ),
        (t(lang, "method.baseline"), t(lang, "method.baseline.text")),
        (t(lang, "method.marking"), marking(matrix)),
    ]
    .into_iter()
    .chain(
        matrix
            .group_by
            .map(|by| (t(lang, "method.group_by"), t(lang, by.text_key()))),
    )
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::Status;

    #[test]
    fn findings_links_are_relative_and_encode_every_part() {
        let basis = Basis::Finding {
            check: "tls.cipher.des",
            target: "[::1]:443".to_owned(),
            status: Status::Fail,
        };
        assert_eq!(
            findings_link("maple health/é", &basis).as_deref(),
            Some("/ui/orgs/maple%20health%2F%C3%A9/findings?check=tls.cipher.des&target=%5B%3A%3A1%5D%3A443")
        );
        let answer = Basis::Answer {
            question: "Q7".to_owned(),
        };
        assert_eq!(findings_link("maple-health", &answer), None);
    }
}
