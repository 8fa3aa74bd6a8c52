//! CSV: UTF-8 with a byte-order mark (so that Excel shows accents), CRLF line ends, RFC 4180
//! quoting; headers in the chosen language (the dictionary maps them to both languages); the
//! TLS profile and the rules version on every row, so that a row read alone says how it was
//! graded.

use vigie_matrix::catalogue::catalogue;
use vigie_model::Lang;

use super::{attainment_text, capability_name, group_headers, percent, t, weakest_text};
use crate::matrix::{Matrix, View};

const BOM: &str = "\u{feff}";

fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn push_row(out: &mut String, cells: &[String]) {
    let row: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

pub(super) fn matrix(matrix: &Matrix) -> Vec<u8> {
    let lang = matrix.lang;
    let mut out = String::from(BOM);
    match matrix.view {
        View::Org => {
            let mut header = vec![
                t(lang, "header.org"),
                t(lang, "header.assessed_on"),
                t(lang, "header.profile"),
                t(lang, "method.rules_version"),
            ];
            for c in &catalogue().capabilities {
                for key in [
                    "header.level",
                    "header.source",
                    "header.trend",
                    "header.coverage",
                    "header.stale",
                ] {
                    header.push(format!("{} {}", c.id, t(lang, key)));
                }
            }
            header.push(t(lang, "header.baseline_attainment"));
            header.push(t(lang, "header.weakest_critical"));
            push_row(&mut out, &header);
            for org in &matrix.orgs {
                let mut row = vec![
                    org.org.clone(),
                    org.assessed_on
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    matrix.profile.as_str().to_owned(),
                    matrix.rules_version.clone(),
                ];
                for (cell, trend) in org.cells.iter().zip(&org.trends) {
                    row.push(cell.value.label());
                    row.push(
                        cell.source
                            .map(|s| s.letter().to_owned())
                            .unwrap_or_default(),
                    );
                    row.push(trend.symbol().to_owned());
                    row.push(
                        cell.coverage
                            .map(|c| format!("{}/{}", c.met, c.total))
                            .unwrap_or_default(),
                    );
                    row.push(if cell.stale { "1" } else { "0" }.to_owned());
                }
                let (met, known) = org.baseline_attainment();
                row.push(attainment_text(met, known));
                row.push(weakest_text(org.weakest_critical()));
                push_row(&mut out, &row);
            }
        }
        View::Aggregate => {
            let mut header = vec![
                t(lang, "header.capability_id"),
                t(lang, "header.capability"),
                t(lang, "header.median"),
                t(lang, "header.share_baseline"),
                t(lang, "header.orgs_known"),
                t(lang, "header.orgs_unknown"),
                t(lang, "header.previous"),
                t(lang, "header.trend"),
                t(lang, "header.profile"),
                t(lang, "method.rules_version"),
            ];
            header.extend(group_headers(matrix).into_iter().flatten());
            push_row(&mut out, &header);
            for (i, row) in matrix.aggregate.iter().enumerate() {
                let mut cells = vec![
                    row.capability.clone(),
                    capability_name(lang, &row.capability),
                    row.median
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "?".into()),
                    percent(row.share_at_baseline()),
                    row.known.to_string(),
                    row.unknown.to_string(),
                    row.previous_median
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "?".into()),
                    row.trend.symbol().to_owned(),
                    matrix.profile.as_str().to_owned(),
                    matrix.rules_version.clone(),
                ];
                for group in &matrix.groups {
                    let cell = &group.cells[i];
                    cells.push(
                        cell.median
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| "?".into()),
                    );
                    cells.push(percent(cell.share_at_baseline()));
                }
                push_row(&mut out, &cells);
            }
        }
    }
    out.into_bytes()
}

pub(super) fn dictionary(lang: Lang) -> Vec<u8> {
    let mut out = String::from(BOM);
    let suffix = |key: &str, l: Lang| format!("{} ({})", t(lang, key), l.as_str());
    push_row(
        &mut out,
        &[
            t(lang, "header.capability_id"),
            suffix("header.capability", Lang::En),
            suffix("header.capability", Lang::Fr),
            suffix("header.description", Lang::En),
            suffix("header.description", Lang::Fr),
            t(lang, "header.kind"),
            t(lang, "header.csf_function"),
            t(lang, "header.bc"),
            t(lang, "header.cis"),
            t(lang, "header.cis_ig"),
            t(lang, "header.csf"),
            t(lang, "header.cpg"),
            t(lang, "header.feeds"),
            t(lang, "header.questions"),
            t(lang, "method.rules_version"),
        ],
    );
    for c in &catalogue().capabilities {
        push_row(
            &mut out,
            &[
                c.id.clone(),
                c.name(Lang::En),
                c.name(Lang::Fr),
                c.description(Lang::En),
                c.description(Lang::Fr),
                t(lang, c.kind.text_key()),
                c.csf_function.clone(),
                c.bc.join("; "),
                c.cis.join("; "),
                c.cis_implementation_group().to_string(),
                c.csf.join("; "),
                c.cpg.join("; "),
                c.feeds.join("; "),
                c.questions.join("; "),
                catalogue().rules_version.clone(),
            ],
        );
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn the_dictionary_is_bilingual_with_headers_in_the_chosen_language() {
        let text = String::from_utf8(dictionary(Lang::Fr)).unwrap();
        assert!(text.starts_with(BOM));
        assert!(text.contains("Capacité (fr)"));
        assert!(text.contains("Protection contre l'usurpation de courriel"));
        assert!(text.contains("Email spoofing protection"));
        assert_eq!(text.lines().count(), 19);
    }
}
