//! A single self-contained HTML page (no external resource), printable on A4 or Letter
//! landscape, with the classification marking on every printed page, `<th scope>` headers,
//! the legend, trends, mappings and method. Both languages are in the file, equal in status
//! (the spec's EN ⇄ FR toggle); `--lang` chooses the one shown and printed first.

use std::fmt::Write as _;

use vigie_matrix::catalogue::catalogue;
use vigie_matrix::grade::{Cell, Source, Value};
use vigie_model::Lang;

use super::{
    attainment_text, capability_name, colours, group_headers, labelled, legend_values, marking,
    method_lines, percent, t, weakest_text,
};
use crate::matrix::{Matrix, Trend, View};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn class_of(value: Value) -> &'static str {
    match value {
        Value::Level(0) => "l0",
        Value::Level(1) => "l1",
        Value::Level(2) => "l2",
        Value::Level(3) => "l3",
        Value::Level(_) => "l4",
        Value::NotApplicable => "na",
        Value::Unknown => "unk",
    }
}

/// A CSS string literal.
fn css_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The printed page: the marking in the page's margins, so that it can never overlap
/// content (a fixed banner covers the table header repeated at the top of a continuation
/// page): the chosen language's at the top, the other's at the bottom, the rules version
/// and page number beside it. The fixed banners stay for the screen.
fn print_css(matrix: &Matrix) -> String {
    let chosen = matrix.lang;
    let other = match chosen {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    let mut other_version = matrix.clone();
    other_version.lang = other;
    format!(
        "@page {{ size: landscape; margin: 16mm 10mm;
  @top-center {{ content: {}; font: bold 9pt system-ui, Arial, sans-serif; }}
  @bottom-center {{ content: {}; font: bold 8pt system-ui, Arial, sans-serif; }}
  @bottom-right {{ content: {} counter(page) \"/\" counter(pages); font: 8pt system-ui, Arial, sans-serif; }}
}}
@media print {{ .marking {{ display: none; }} main {{ margin-top: 0; }} }}
",
        css_string(&marking(matrix)),
        css_string(&marking(&other_version)),
        css_string(&format!(
            "{} {} — ",
            t(chosen, "method.rules_version"),
            matrix.rules_version
        )),
    )
}

fn css() -> String {
    let mut css = String::from(
        "@media print { .toggle { display: none; } thead { display: table-header-group; } }
.version { display: none; }
#lang-en:checked ~ #v-en, #lang-fr:checked ~ #v-fr { display: block; }
label.toggle { margin-right: 1em; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 10pt; margin: 0 1em; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.marking { position: fixed; left: 0; right: 0; text-align: center; font-weight: bold; font-size: 9pt; background: #fff; }
.marking.top { top: 0; } .marking.bottom { bottom: 0; }
main { margin: 2.2em 0; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; }
th, td { border: 1px solid #969696; padding: 2px 6px; vertical-align: top; }
thead th { background: #f0f0f0; }
td.v { text-align: center; font-weight: bold; min-width: 4.5em; }
td.v a { color: inherit; }
td.s { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.6) 0 2px, transparent 2px 7px); }
td.stale { opacity: .5; font-style: italic; }
td.na { border-color: #969696; }
h1 { font-size: 15pt; } h2 { font-size: 12pt; page-break-before: auto; }
.meta { color: #333; }
",
    );
    for value in legend_values() {
        let (fill, text) = colours(value);
        let _ = writeln!(
            css,
            "td.{} {{ background-color: #{fill}; color: #{text}; }}",
            class_of(value)
        );
    }
    css
}

fn value_cell(
    out: &mut String,
    value: Value,
    source: Option<Source>,
    stale: bool,
    text: &str,
    title: &str,
) {
    linked_value_cell(out, value, source, stale, text, title, None);
}

/// A value cell whose text links to `href` (the findings that set it), when given.
fn linked_value_cell(
    out: &mut String,
    value: Value,
    source: Option<Source>,
    stale: bool,
    text: &str,
    title: &str,
    href: Option<&str>,
) {
    let mut classes = vec!["v", class_of(value)];
    if source == Some(Source::SelfAssessed) {
        classes.push("s");
    }
    if stale {
        classes.push("stale");
    }
    let text = match href {
        Some(href) => format!("<a href=\"{}\">{}</a>", escape(href), escape(text)),
        None => escape(text),
    };
    let _ = write!(
        out,
        "<td class=\"{}\" title=\"{}\">{text}</td>",
        classes.join(" "),
        escape(title),
    );
}

fn cell_title(matrix: &Matrix, cell: &Cell, previous: Value) -> String {
    let lang = matrix.lang;
    let mut parts = vec![labelled(
        lang,
        &t(lang, "header.previous"),
        &previous.label(),
    )];
    if let Some(c) = cell.coverage {
        parts.push(labelled(
            lang,
            &t(lang, "header.coverage"),
            &format!("{}/{}", c.met, c.total),
        ));
    }
    if !cell.evidence.is_empty() {
        parts.push(labelled(
            lang,
            &t(lang, "header.evidence"),
            &cell.evidence.join(", "),
        ));
    }
    parts.extend(super::basis_text(lang, cell));
    parts.extend(cell.notes.iter().map(|n| n.render(lang)));
    parts.join(" — ")
}

/// The page: both languages, equal in status, the chosen one shown (and printed) first; a
/// radio toggle switches them without script.
pub(super) fn render(matrix: &Matrix) -> String {
    let chosen = matrix.lang;
    let other = match chosen {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        chosen.as_str(),
        escape(&t(chosen, "title.matrix")),
        css() + &print_css(matrix)
    );
    for (lang, checked) in [(chosen, " checked"), (other, "")] {
        let _ = writeln!(
            out,
            "<input type=\"radio\" name=\"lang\" class=\"toggle\" id=\"lang-{code}\"{checked}><label class=\"toggle\" for=\"lang-{code}\" lang=\"{code}\">{}</label>",
            escape(&t(lang, "lang.name")),
            code = lang.as_str(),
        );
    }
    for lang in [chosen, other] {
        let mut version = matrix.clone();
        version.lang = lang;
        let _ = writeln!(
            out,
            "<div class=\"version\" id=\"v-{code}\" lang=\"{code}\">",
            code = lang.as_str()
        );
        out.push_str(&version_body(&version));
        out.push_str("</div>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The parts of the collector's web view's matrix page: one language only (the view's
/// `?lang=` switch chooses it), the style sheet (with the printed page's marking) and the
/// same body as the export's, its `<main>` included; the web view lays them out.
pub(crate) fn render_view(matrix: &Matrix) -> (String, String) {
    (css() + &print_css(matrix), version_body(matrix))
}

/// The export's style sheet, for the web view's other pages (the report card, triage).
pub(crate) fn style() -> String {
    css()
}

/// Escapes text for HTML (for the web view's own markup).
pub(crate) fn escape_html(text: &str) -> String {
    escape(text)
}

/// One language's version of the page.
fn version_body(matrix: &Matrix) -> String {
    let lang = matrix.lang;
    let marking = escape(&marking(matrix));
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"marking top\" role=\"note\">{marking}</div>\n<div class=\"marking bottom\" aria-hidden=\"true\">{marking}</div>\n<main>\n<h1>{}</h1>\n<p class=\"meta\">{} · {} · {} · {}</p>\n",
        escape(&t(lang, "title.matrix")),
        escape(&labelled(lang, &t(lang, "method.rules_version"), &matrix.rules_version)),
        escape(&labelled(lang, &t(lang, "method.tls_profile"), matrix.profile.as_str())),
        escape(&labelled(
            lang,
            &t(lang, "method.generated_at"),
            &matrix.generated_at.format("%Y-%m-%d %H:%M UTC").to_string()
        )),
        escape(&labelled(lang, &t(lang, "method.since"), &matrix.since.to_string())),
    );

    // The matrix.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
        escape(&t(lang, &format!("view.{}", matrix.view.as_str()))),
        escape(&t(lang, "header.capability_id")),
        escape(&t(lang, "header.capability"))
    );
    match matrix.view {
        View::Org => {
            for org in &matrix.orgs {
                let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&org.org));
            }
        }
        View::Aggregate => {
            for key in [
                "header.median",
                "header.share_baseline",
                "header.orgs_known",
                "header.orgs_unknown",
                "header.trend",
            ] {
                let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&t(lang, key)));
            }
            for [median, share] in group_headers(matrix) {
                let _ = write!(
                    out,
                    "<th scope=\"col\" class=\"group\">{}</th><th scope=\"col\" class=\"group\">{}</th>",
                    escape(&median),
                    escape(&share)
                );
            }
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, capability) in catalogue().capabilities.iter().enumerate() {
        let _ = write!(
            out,
            "<tr data-capability=\"{id}\"><th scope=\"row\">{id}</th><td>{}</td>",
            escape(&capability.name(lang)),
            id = escape(&capability.id),
        );
        match matrix.view {
            View::Org => {
                for org in &matrix.orgs {
                    let cell = &org.cells[i];
                    let trend = org.trends[i];
                    let mut text = format!("{} {}", cell.label(), trend.symbol());
                    if cell.stale {
                        text.push_str(" †");
                    }
                    let title = cell_title(matrix, cell, org.previous[i]);
                    // The first verdict that set the level: its findings page.
                    let href = cell
                        .basis
                        .iter()
                        .find_map(|b| super::findings_link(&org.org, b));
                    linked_value_cell(
                        &mut out,
                        cell.value,
                        cell.source,
                        cell.stale,
                        &text,
                        &title,
                        href.as_deref(),
                    );
                }
            }
            View::Aggregate => {
                let row = &matrix.aggregate[i];
                let value = row.median.map_or(Value::Unknown, Value::Level);
                let title = labelled(
                    lang,
                    &t(lang, "header.previous"),
                    &row.previous_median
                        .map_or("?".to_owned(), |m| m.to_string()),
                );
                value_cell(
                    &mut out,
                    value,
                    Some(Source::Observed),
                    false,
                    &value.label(),
                    &title,
                );
                let _ = write!(
                    out,
                    "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    escape(&percent(row.share_at_baseline())),
                    row.known,
                    row.unknown,
                    row.trend.symbol()
                );
                for group in &matrix.groups {
                    let cell = &group.cells[i];
                    let value = cell.median.map_or(Value::Unknown, Value::Level);
                    value_cell(
                        &mut out,
                        value,
                        Some(Source::Observed),
                        false,
                        &value.label(),
                        "",
                    );
                    let _ = write!(
                        out,
                        "<td>{}</td>",
                        escape(&percent(cell.share_at_baseline()))
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    if matrix.view == View::Org {
        let _ = write!(
            out,
            "<tr><th scope=\"row\" colspan=\"2\">{}</th>",
            escape(&t(lang, "header.baseline_attainment"))
        );
        for org in &matrix.orgs {
            let (met, known) = org.baseline_attainment();
            let _ = write!(out, "<td>{}</td>", escape(&attainment_text(met, known)));
        }
        let _ = write!(
            out,
            "</tr>\n<tr><th scope=\"row\" colspan=\"2\">{}</th>",
            escape(&t(lang, "header.weakest_critical"))
        );
        for org in &matrix.orgs {
            let _ = write!(
                out,
                "<td>{}</td>",
                escape(&weakest_text(org.weakest_critical()))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");

    // Legend.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
        escape(&t(lang, "sheet.legend")),
        escape(&t(lang, "header.level")),
        escape(&t(lang, "header.meaning"))
    );
    for value in legend_values() {
        out.push_str("<tr>");
        value_cell(&mut out, value, None, false, &value.label(), "");
        let _ = writeln!(out, "<td>{}</td></tr>", escape(&t(lang, &value.text_key())));
    }
    for source in [Source::SelfAssessed, Source::Hybrid] {
        out.push_str("<tr>");
        let label = format!("3 {}", source.letter());
        value_cell(&mut out, Value::Level(3), Some(source), false, &label, "");
        let _ = writeln!(
            out,
            "<td>{}</td></tr>",
            escape(&labelled(
                lang,
                &source.name(lang),
                &t(lang, &format!("source.{}.explained", source.letter()))
            ))
        );
    }
    for trend in Trend::ALL {
        let _ = writeln!(
            out,
            "<tr><td class=\"v\">{}</td><td>{}</td></tr>",
            trend.symbol(),
            escape(&t(lang, trend.text_key()))
        );
    }
    let _ = writeln!(
        out,
        "<tr><td class=\"v\">†</td><td>{}</td></tr>\n</tbody>\n</table>",
        escape(&vigie_matrix::catalogue::render(
            lang,
            "stale.explained",
            &[("days", catalogue().thresholds.stale_after_days.to_string())]
        ))
    );

    // Trends.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table>\n<thead><tr>",
        escape(&t(lang, "sheet.trends"))
    );
    if matrix.view == View::Org {
        let _ = write!(
            out,
            "<th scope=\"col\">{}</th>",
            escape(&t(lang, "header.org"))
        );
    }
    let _ = write!(
        out,
        "<th scope=\"col\">{}</th>",
        escape(&t(lang, "header.capability_id"))
    );
    for quarter in &matrix.quarters {
        let _ = write!(
            out,
            "<th scope=\"col\">{} {}</th>",
            escape(&t(lang, "header.quarter")),
            quarter.last_day
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    match matrix.view {
        View::Org => {
            for org in &matrix.orgs {
                for (i, capability) in catalogue().capabilities.iter().enumerate() {
                    let _ = write!(
                        out,
                        "<tr><th scope=\"row\">{}</th><td>{}</td>",
                        escape(&org.org),
                        escape(&capability.id)
                    );
                    for quarter in &matrix.quarters {
                        let value = quarter
                            .orgs
                            .iter()
                            .find(|(o, _)| *o == org.org)
                            .and_then(|(_, v)| v.get(i).copied())
                            .unwrap_or(Value::Unknown);
                        value_cell(&mut out, value, None, false, &value.label(), "");
                    }
                    out.push_str("</tr>\n");
                }
            }
        }
        View::Aggregate => {
            for (i, capability) in catalogue().capabilities.iter().enumerate() {
                let _ = write!(
                    out,
                    "<tr><th scope=\"row\" title=\"{}\">{}</th>",
                    escape(&capability_name(lang, &capability.id)),
                    escape(&capability.id)
                );
                for quarter in &matrix.quarters {
                    let value = quarter
                        .medians
                        .get(i)
                        .copied()
                        .flatten()
                        .map_or(Value::Unknown, Value::Level);
                    value_cell(&mut out, value, None, false, &value.label(), "");
                }
                out.push_str("</tr>\n");
            }
        }
    }
    out.push_str("</tbody>\n</table>\n");

    // Mappings.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table>\n<thead><tr>",
        escape(&t(lang, "sheet.mappings"))
    );
    for key in [
        "header.capability_id",
        "header.capability",
        "header.bc",
        "header.cis",
        "header.csf",
        "header.cpg",
    ] {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&t(lang, key)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for c in &catalogue().capabilities {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.id),
            escape(&c.name(lang)),
            escape(&c.bc.join(", ")),
            escape(&c.cis.join(", ")),
            escape(&c.csf.join(", ")),
            escape(&c.cpg.join(", "))
        );
    }
    out.push_str("</tbody>\n</table>\n");

    // Method.
    let _ = write!(
        out,
        "<h2>{}</h2>\n<table>\n<tbody>\n",
        escape(&t(lang, "sheet.method"))
    );
    for (label, value) in method_lines(matrix) {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(&label),
            escape(&value)
        );
    }
    out.push_str("</tbody>\n</table>\n</main>\n");
    out
}
