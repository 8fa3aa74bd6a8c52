//! XLSX: cells coloured by level with the spec's palette and the level always printed,
//! diagonal hatching for self-assessed cells, frozen headers, and the Legend, Trends,
//! Mappings and Method sheets (plus Evidence in the organization view). The classification
//! marking is the printed page header of every sheet.
//!
//! Every cell's detail (previous level, source, coverage, answer date, evidence, notes) is a
//! row of the Trends sheet in the organization view, where it can be filtered and printed.
//! A hover note repeats it on a matrix cell only when the cell alone would mislead (capped,
//! self-assessed or hybrid, stale, backed by evidence), or on every cell of a small export:
//! 18,000 notes made a 1,000-organization workbook slow to write and slow to open in Excel,
//! and notes do not print.

use rust_xlsxwriter::{
    Color, ConditionalFormatCell, ConditionalFormatCellRule, Format, FormatBorder, FormatPattern,
    Note, Workbook, Worksheet,
};
use vigie_matrix::catalogue::catalogue;
use vigie_matrix::grade::{Cell, Source, Value};
use vigie_model::Lang;

use super::{
    attainment_text, capability_name, colours, group_headers, labelled, legend_values, marking,
    method_lines, t, weakest_text, ExportError,
};
use crate::matrix::{Matrix, Trend, View};

fn rgb(hex: &str) -> Color {
    Color::RGB(u32::from_str_radix(hex, 16).unwrap_or(0))
}

/// The format of a value cell: fill and text colour by level, hatching for self-assessed
/// cells, italic for stale ones.
fn level_format(value: Value, source: Option<Source>, stale: bool) -> Format {
    let (fill, text) = colours(value);
    let mut format = Format::new()
        .set_font_color(rgb(text))
        .set_bold()
        .set_align(rust_xlsxwriter::FormatAlign::Center)
        .set_border(FormatBorder::Thin)
        .set_border_color(rgb("969696"));
    format = if source == Some(Source::SelfAssessed) {
        format
            .set_pattern(FormatPattern::LightUp)
            .set_background_color(rgb(fill))
            .set_foreground_color(rgb("FFFFFF"))
    } else {
        format
            .set_pattern(FormatPattern::Solid)
            .set_background_color(rgb(fill))
    };
    if stale {
        format = format.set_italic();
    }
    format
}

/// The formats of value cells, built once per workbook: a matrix of 1,000 organizations has
/// some 90,000 value cells and a handful of distinct formats.
#[derive(Default)]
struct LevelFormats(Vec<(LevelKey, Format)>);

type LevelKey = (Value, Option<Source>, bool);

impl LevelFormats {
    fn get(&mut self, value: Value, source: Option<Source>, stale: bool) -> &Format {
        let key = (value, source, stale);
        let index = match self.0.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                self.0.push((key, level_format(value, source, stale)));
                self.0.len() - 1
            }
        };
        &self.0[index].1
    }
}

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color(rgb("F0F0F0"))
        .set_border(FormatBorder::Thin)
}

/// The marks of a cell, in the column beside its level: source (S, H), trend symbol, †
/// when stale. The level itself is a number, so that Excel sorts and averages it.
fn marks(cell: &Cell, trend: Trend) -> String {
    let mut marks = Vec::new();
    if let Some(source @ (Source::SelfAssessed | Source::Hybrid)) = cell.source {
        marks.push(source.letter());
    }
    marks.push(trend.symbol());
    if cell.stale {
        marks.push("†");
    }
    marks.join(" ")
}

/// A value in a cell: the level as a number, `?` or `N/A` as text (which Excel's AVERAGE and
/// sort leave aside).
fn write_value(
    sheet: &mut Worksheet,
    (row, col): (u32, u16),
    value: Value,
    format: Option<&Format>,
) -> Result<(), ExportError> {
    match (value, format) {
        (Value::Level(level), Some(format)) => {
            sheet.write_number_with_format(row, col, f64::from(level), format)?
        }
        (Value::Level(level), None) => sheet.write_number(row, col, f64::from(level))?,
        (other, Some(format)) => sheet.write_string_with_format(row, col, other.label(), format)?,
        (other, None) => sheet.write_string(row, col, other.label())?,
    };
    Ok(())
}

/// A median, or `?`.
fn median_value(median: Option<u8>) -> Value {
    median.map_or(Value::Unknown, Value::Level)
}

/// The deflate level of the workbook's zip container.
const ZIP_LEVEL: u8 = 3;

/// Up to this many organizations, every matrix cell carries its note (at most 900 notes).
const NOTE_EVERY_CELL_UP_TO: usize = 50;

/// The notes that change how a level reads: a cap, an ignored answer, a suspicion.
const CAVEATS: [&str; 6] = [
    "note.cap_rdp",
    "note.cert_caps_web",
    "note.missing_check",
    "note.evidence_required",
    "note.answers_expired",
    "note.suspected",
];

/// Whether a cell's note says something that its text and colour do not.
fn needs_note(cell: &Cell) -> bool {
    matches!(cell.source, Some(Source::SelfAssessed | Source::Hybrid))
        || cell.stale
        || !cell.evidence.is_empty()
        || cell.notes.iter().any(|n| CAVEATS.contains(&n.key))
}

fn cell_note(lang: Lang, cell: &Cell, previous: Value) -> String {
    let mut lines = vec![labelled(
        lang,
        &t(lang, "header.previous"),
        &previous.label(),
    )];
    if let Some(source) = cell.source {
        lines.push(labelled(
            lang,
            &t(lang, "header.source"),
            &source.name(lang),
        ));
    }
    if let Some(c) = cell.coverage {
        lines.push(labelled(
            lang,
            &t(lang, "header.coverage"),
            &format!("{}/{}", c.met, c.total),
        ));
    }
    if let Some(date) = cell.answered_on {
        lines.push(labelled(
            lang,
            &t(lang, "header.answered_on"),
            &date.to_string(),
        ));
    }
    if !cell.evidence.is_empty() {
        lines.push(labelled(
            lang,
            &t(lang, "header.evidence"),
            &cell.evidence.join(", "),
        ));
    }
    lines.extend(super::basis_text(lang, cell));
    lines.extend(cell.notes.iter().map(|n| n.render(lang)));
    lines.join("\n")
}

/// The detail columns of one cell in the Trends sheet, from `at`: source, trend, previous
/// level, coverage, stale, answered on, evidence, notes. Empty values leave the cell blank.
fn write_details(
    sheet: &mut Worksheet,
    lang: Lang,
    (row, col): (u32, u16),
    cell: &Cell,
    (previous, trend): (Value, Trend),
    source_names: &[(Source, String)],
) -> Result<(), ExportError> {
    if let Some((_, name)) = source_names.iter().find(|(s, _)| Some(*s) == cell.source) {
        sheet.write_string(row, col, name)?;
    }
    sheet.write_string(row, col + 1, trend.symbol())?;
    write_value(sheet, (row, col + 2), previous, None)?;
    if let Some(c) = cell.coverage {
        sheet.write_string(row, col + 3, format!("{}/{}", c.met, c.total))?;
    }
    if cell.stale {
        sheet.write_string(row, col + 4, "†")?;
    }
    if let Some(date) = cell.answered_on {
        sheet.write_string(row, col + 5, date.to_string())?;
    }
    if !cell.evidence.is_empty() {
        sheet.write_string(row, col + 6, cell.evidence.join("; "))?;
    }
    if !cell.notes.is_empty() {
        let notes: Vec<String> = cell.notes.iter().map(|n| n.render(lang)).collect();
        sheet.write_string(row, col + 7, notes.join(" "))?;
    }
    let basis: Vec<String> = cell.basis.iter().map(|b| b.label()).collect();
    if !basis.is_empty() {
        sheet.write_string(row, col + 8, basis.join("; "))?;
    }
    Ok(())
}

/// Page setup shared by every sheet: landscape, fit to width, the marking on every page.
fn page_setup(sheet: &mut Worksheet, marking: &str, rules_version: &str) {
    // Header/footer codes treat `&` specially; the marking has none.
    let marking = marking.replace('&', "&&");
    sheet
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_header(format!("&C&\"-,Bold\"{marking}"))
        .set_footer(format!("&L{marking}&Rrules {rules_version} — &P/&N"));
}

pub(super) fn render(matrix: &Matrix) -> Result<Vec<u8>, ExportError> {
    let lang = matrix.lang;
    let marking = marking(matrix);
    let header = header_format();
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    let centre = Format::new().set_align(rust_xlsxwriter::FormatAlign::Center);
    // Shares as numbers shown as percentages: Excel sorts and averages them.
    let share_format = Format::new().set_num_format("0 %");
    let mut formats = LevelFormats::default();
    let every_note = matrix.orgs.len() <= NOTE_EVERY_CELL_UP_TO;
    let mut workbook = Workbook::new();
    // Level 3 (Excel's own) deflates the 10 MB of XML of a 1,000-organization workbook in
    // about a third of the time of the default 6, for a file some 20 % larger.
    workbook.set_zip_compression_level(ZIP_LEVEL);

    // Matrix: rows are capabilities; columns organizations (org view) or the aggregate.
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.matrix"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        sheet.write_string_with_format(0, 0, &marking, &bold)?;
        sheet.write_string(
            0,
            3,
            format!(
                "{} — {} {} — {} {}",
                t(lang, "title.matrix"),
                t(lang, "method.rules_version"),
                matrix.rules_version,
                t(lang, "header.profile"),
                matrix.profile.as_str()
            ),
        )?;
        let fixed = [
            t(lang, "header.capability_id"),
            t(lang, "header.capability"),
            t(lang, "header.csf_function"),
            t(lang, "header.bc"),
        ];
        for (col, text) in fixed.iter().enumerate() {
            sheet.write_string_with_format(1, col as u16, text, &header)?;
        }
        sheet.set_column_width(0, 6)?;
        sheet.set_column_width(1, 40)?;
        sheet.set_column_width(2, 10)?;
        sheet.set_column_width(3, 14)?;
        for (row, capability) in catalogue().capabilities.iter().enumerate() {
            let row = row as u32 + 2;
            sheet.write_string(row, 0, &capability.id)?;
            sheet.write_string(row, 1, capability.name(lang))?;
            sheet.write_string(row, 2, &capability.csf_function)?;
            sheet.write_string(row, 3, capability.bc.join(", "))?;
        }
        let summary_row = catalogue().capabilities.len() as u32 + 2;
        match matrix.view {
            View::Org => {
                let marks_header = t(lang, "header.marks");
                for (col, org) in matrix.orgs.iter().enumerate() {
                    // Two columns per organization: the level, then its marks.
                    let col = 2 * col as u16 + 4;
                    sheet.write_string_with_format(1, col, &org.org, &header)?;
                    sheet.write_string_with_format(
                        1,
                        col + 1,
                        format!("{} — {marks_header}", org.org),
                        &header,
                    )?;
                    sheet.set_column_width(col, 12)?;
                    sheet.set_column_width(col + 1, 7)?;
                    for (row, ((cell, previous), trend)) in org
                        .cells
                        .iter()
                        .zip(&org.previous)
                        .zip(&org.trends)
                        .enumerate()
                    {
                        let row = row as u32 + 2;
                        write_value(
                            sheet,
                            (row, col),
                            cell.value,
                            Some(formats.get(cell.value, cell.source, cell.stale)),
                        )?;
                        sheet.write_string_with_format(
                            row,
                            col + 1,
                            marks(cell, *trend),
                            &centre,
                        )?;
                        if every_note || needs_note(cell) {
                            let note =
                                Note::new(cell_note(lang, cell, *previous)).set_author("Vigie");
                            sheet.insert_note(row, col, &note)?;
                        }
                    }
                    let (met, known) = org.baseline_attainment();
                    sheet.write_string(summary_row, col, attainment_text(met, known))?;
                    sheet.write_string(
                        summary_row + 1,
                        col,
                        weakest_text(org.weakest_critical()),
                    )?;
                }
            }
            View::Aggregate => {
                let columns = [
                    "header.median",
                    "header.share_baseline",
                    "header.orgs_known",
                    "header.orgs_unknown",
                    "header.previous",
                    "header.trend",
                ];
                for (i, key) in columns.iter().enumerate() {
                    sheet.write_string_with_format(1, i as u16 + 4, t(lang, key), &header)?;
                    sheet.set_column_width(i as u16 + 4, 14)?;
                }
                for (g, [median, share]) in group_headers(matrix).into_iter().enumerate() {
                    let col = 10 + 2 * g as u16;
                    sheet.write_string_with_format(1, col, median, &header)?;
                    sheet.write_string_with_format(1, col + 1, share, &header)?;
                    sheet.set_column_width(col, 16)?;
                    sheet.set_column_width(col + 1, 16)?;
                }
                for (row, agg) in matrix.aggregate.iter().enumerate() {
                    for (g, group) in matrix.groups.iter().enumerate() {
                        let col = 10 + 2 * g as u16;
                        let cell = &group.cells[row];
                        let value = median_value(cell.median);
                        write_value(
                            sheet,
                            (row as u32 + 2, col),
                            value,
                            Some(formats.get(value, Some(Source::Observed), false)),
                        )?;
                        if let Some(share) = cell.share_at_baseline() {
                            sheet.write_number_with_format(
                                row as u32 + 2,
                                col + 1,
                                share,
                                &share_format,
                            )?;
                        }
                    }
                    let row = row as u32 + 2;
                    let value = median_value(agg.median);
                    write_value(
                        sheet,
                        (row, 4),
                        value,
                        Some(formats.get(value, Some(Source::Observed), false)),
                    )?;
                    if let Some(share) = agg.share_at_baseline() {
                        sheet.write_number_with_format(row, 5, share, &share_format)?;
                    }
                    sheet.write_number(row, 6, agg.known as f64)?;
                    sheet.write_number(row, 7, agg.unknown as f64)?;
                    write_value(sheet, (row, 8), median_value(agg.previous_median), None)?;
                    sheet.write_string(row, 9, agg.trend.symbol())?;
                }
            }
        }
        if matrix.view == View::Org {
            sheet.write_string_with_format(
                summary_row,
                1,
                t(lang, "header.baseline_attainment"),
                &bold,
            )?;
            sheet.write_string_with_format(
                summary_row + 1,
                1,
                t(lang, "header.weakest_critical"),
                &bold,
            )?;
        }
        sheet.set_freeze_panes(2, 2)?;
        sheet.set_repeat_rows(0, 1)?;
    }

    // Legend.
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.legend"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        sheet.write_string_with_format(0, 0, t(lang, "header.level"), &header)?;
        sheet.write_string_with_format(0, 1, t(lang, "header.meaning"), &header)?;
        sheet.write_string_with_format(0, 2, t(lang, "header.colour"), &header)?;
        sheet.set_column_width(1, 60)?;
        let mut row = 1;
        for value in legend_values() {
            sheet.write_string_with_format(
                row,
                0,
                value.label(),
                formats.get(value, Some(Source::Observed), false),
            )?;
            sheet.write_string(row, 1, t(lang, &value.text_key()))?;
            sheet.write_string(row, 2, format!("#{}", colours(value).0))?;
            row += 1;
        }
        row += 1;
        for source in [Source::Observed, Source::SelfAssessed, Source::Hybrid] {
            let sample = Cell {
                capability: String::new(),
                value: Value::Level(3),
                source: Some(source),
                coverage: None,
                observed_at: None,
                stale: false,
                answered_on: None,
                evidence: Vec::new(),
                notes: Vec::new(),
                basis: Vec::new(),
            };
            sheet.write_string_with_format(
                row,
                0,
                sample.label(),
                formats.get(Value::Level(3), Some(source), false),
            )?;
            sheet.write_string(
                row,
                1,
                labelled(
                    lang,
                    &format!("{} ({})", source.name(lang), source.letter()),
                    &t(lang, &format!("source.{}.explained", source.letter())),
                ),
            )?;
            row += 1;
        }
        row += 1;
        for trend in Trend::ALL {
            sheet.write_string(row, 0, trend.symbol())?;
            sheet.write_string(row, 1, t(lang, trend.text_key()))?;
            row += 1;
        }
        sheet.write_string(row, 0, "†")?;
        sheet.write_string(
            row,
            1,
            vigie_matrix::catalogue::render(
                lang,
                "stale.explained",
                &[("days", catalogue().thresholds.stale_after_days.to_string())],
            ),
        )?;
        if matrix.view == View::Org {
            row += 2;
            sheet.write_string_with_format(row, 0, t(lang, "header.notes"), &bold)?;
            sheet.write_string_with_format(
                row,
                1,
                vigie_matrix::catalogue::render(
                    lang,
                    "legend.notes",
                    &[
                        ("count", NOTE_EVERY_CELL_UP_TO.to_string()),
                        ("sheet", t(lang, "sheet.trends")),
                    ],
                ),
                &wrap,
            )?;
        }
    }

    // Trends: the last four quarters.
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.trends"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        let mut col = 0u16;
        if matrix.view == View::Org {
            sheet.write_string_with_format(0, col, t(lang, "header.org"), &header)?;
            col += 1;
        }
        sheet.write_string_with_format(0, col, t(lang, "header.capability_id"), &header)?;
        sheet.write_string_with_format(0, col + 1, t(lang, "header.capability"), &header)?;
        sheet.set_column_width(col + 1, 40)?;
        let first_quarter_col = col + 2;
        for (i, quarter) in matrix.quarters.iter().enumerate() {
            sheet.write_string_with_format(
                0,
                first_quarter_col + i as u16,
                format!("{} {}", t(lang, "header.quarter"), quarter.last_day),
                &header,
            )?;
            sheet.set_column_width(first_quarter_col + i as u16, 14)?;
            sheet.set_column_format(first_quarter_col + i as u16, &centre)?;
        }
        let current_col = first_quarter_col + matrix.quarters.len() as u16;
        sheet.write_string_with_format(
            0,
            current_col,
            format!(
                "{} {}",
                t(lang, "header.level"),
                matrix.generated_at.format("%Y-%m-%d")
            ),
            &header,
        )?;
        // Organization view: the detail of every cell after its levels.
        let details = [
            t(lang, "header.source"),
            t(lang, "header.trend"),
            format!("{} ({})", t(lang, "header.previous"), matrix.since),
            t(lang, "header.coverage"),
            t(lang, "header.stale"),
            t(lang, "header.answered_on"),
            t(lang, "header.evidence"),
            t(lang, "header.notes"),
            t(lang, "header.basis"),
        ];
        if matrix.view == View::Org {
            for (i, text) in details.iter().enumerate() {
                sheet.write_string_with_format(0, current_col + 1 + i as u16, text, &header)?;
            }
            sheet.set_column_width(current_col + 1, 12)?;
            sheet.set_column_width(current_col + 3, 14)?;
            sheet.set_column_width(current_col + 7, 30)?;
            sheet.set_column_width(current_col + details.len() as u16 - 1, 80)?;
            sheet.set_column_width(current_col + details.len() as u16, 50)?;
        }
        let mut row = 1u32;
        match matrix.view {
            View::Org => {
                let source_names = [Source::Observed, Source::SelfAssessed, Source::Hybrid]
                    .map(|source| (source, source.name(lang)));
                let by_org: Vec<std::collections::HashMap<&str, &Vec<Value>>> = matrix
                    .quarters
                    .iter()
                    .map(|q| q.orgs.iter().map(|(o, v)| (o.as_str(), v)).collect())
                    .collect();
                let names: Vec<String> = catalogue()
                    .capabilities
                    .iter()
                    .map(|c| c.name(lang))
                    .collect();
                for org in &matrix.orgs {
                    let past: Vec<Option<&&Vec<Value>>> =
                        by_org.iter().map(|q| q.get(org.org.as_str())).collect();
                    for (i, capability) in catalogue().capabilities.iter().enumerate() {
                        sheet.write_string(row, 0, &org.org)?;
                        sheet.write_string(row, 1, &capability.id)?;
                        sheet.write_string(row, 2, &names[i])?;
                        // Coloured by the conditional formats below: a format per cell
                        // costs a hash of the whole format, 72,000 times for 1,000
                        // organizations.
                        for (q, values) in past.iter().enumerate() {
                            let value = values
                                .and_then(|values| values.get(i).copied())
                                .unwrap_or(Value::Unknown);
                            write_value(sheet, (row, first_quarter_col + q as u16), value, None)?;
                        }
                        let cell = &org.cells[i];
                        write_value(
                            sheet,
                            (row, current_col),
                            cell.value,
                            Some(formats.get(cell.value, cell.source, cell.stale)),
                        )?;
                        write_details(
                            sheet,
                            lang,
                            (row, current_col + 1),
                            cell,
                            (org.previous[i], org.trends[i]),
                            &source_names,
                        )?;
                        row += 1;
                    }
                }
                if row > 1 {
                    sheet.autofilter(0, 0, row - 1, current_col + details.len() as u16)?;
                    if current_col > first_quarter_col {
                        for value in legend_values() {
                            // Levels are numbers, `?` and `N/A` text.
                            let rule = match value {
                                Value::Level(level) => ConditionalFormatCell::new()
                                    .set_rule(ConditionalFormatCellRule::EqualTo(f64::from(level))),
                                other => ConditionalFormatCell::new()
                                    .set_rule(ConditionalFormatCellRule::EqualTo(other.label())),
                            }
                            .set_format(level_format(
                                value,
                                Some(Source::Observed),
                                false,
                            ));
                            sheet.add_conditional_format(
                                1,
                                first_quarter_col,
                                row - 1,
                                current_col - 1,
                                &rule,
                            )?;
                        }
                    }
                }
            }
            View::Aggregate => {
                for (i, agg) in matrix.aggregate.iter().enumerate() {
                    sheet.write_string(row, 0, &agg.capability)?;
                    sheet.write_string(row, 1, capability_name(lang, &agg.capability))?;
                    for (q, quarter) in matrix.quarters.iter().enumerate() {
                        let value = median_value(quarter.medians.get(i).copied().flatten());
                        write_value(
                            sheet,
                            (row, first_quarter_col + q as u16),
                            value,
                            Some(formats.get(value, Some(Source::Observed), false)),
                        )?;
                    }
                    let value = median_value(agg.median);
                    write_value(
                        sheet,
                        (row, current_col),
                        value,
                        Some(formats.get(value, Some(Source::Observed), false)),
                    )?;
                    row += 1;
                }
            }
        }
        sheet.set_freeze_panes(1, first_quarter_col)?;
    }

    // Mappings.
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.mappings"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        let headers = [
            "header.capability_id",
            "header.capability",
            "header.kind",
            "header.bc",
            "header.cis",
            "header.cis_ig",
            "header.csf",
            "header.cpg",
            "header.feeds",
            "header.questions",
        ];
        for (col, key) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, t(lang, key), &header)?;
        }
        sheet.set_column_width(1, 40)?;
        sheet.set_column_width(8, 50)?;
        for (row, c) in catalogue().capabilities.iter().enumerate() {
            let row = row as u32 + 1;
            sheet.write_string(row, 0, &c.id)?;
            sheet.write_string(row, 1, c.name(lang))?;
            sheet.write_string(row, 2, t(lang, c.kind.text_key()))?;
            sheet.write_string(row, 3, c.bc.join(", "))?;
            sheet.write_string(row, 4, c.cis.join(", "))?;
            sheet.write_number(row, 5, f64::from(c.cis_implementation_group()))?;
            sheet.write_string(row, 6, c.csf.join(", "))?;
            sheet.write_string(row, 7, c.cpg.join(", "))?;
            sheet.write_string_with_format(row, 8, c.feeds.join(", "), &wrap)?;
            sheet.write_string(row, 9, c.questions.join(", "))?;
        }
        let frameworks = &catalogue().frameworks;
        let last = catalogue().capabilities.len() as u32 + 2;
        for (i, name) in [
            &frameworks.cccs,
            &frameworks.cis,
            &frameworks.csf,
            &frameworks.cpg,
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(last + i as u32, 1, name.as_str())?;
        }
        sheet.set_freeze_panes(1, 1)?;
    }

    // Method: the generation facts, then every level rule.
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.method"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        sheet.set_column_width(0, 32)?;
        sheet.set_column_width(1, 100)?;
        sheet.write_string_with_format(0, 0, t(lang, "header.item"), &header)?;
        sheet.write_string_with_format(0, 1, t(lang, "header.value"), &header)?;
        let mut row = 1u32;
        for (label, value) in method_lines(matrix) {
            sheet.write_string_with_format(row, 0, label, &bold)?;
            sheet.write_string_with_format(row, 1, value, &wrap)?;
            row += 1;
        }
        row += 1;
        sheet.write_string_with_format(row, 0, t(lang, "header.capability"), &header)?;
        sheet.write_string_with_format(row, 1, t(lang, "header.rule"), &header)?;
        row += 1;
        for c in &catalogue().capabilities {
            for level in 0..=4u8 {
                sheet.write_string(row, 0, format!("{} — {level}", c.id))?;
                sheet.write_string_with_format(row, 1, c.level_rule(lang, level), &wrap)?;
                row += 1;
            }
        }
    }

    // Evidence: the answers behind self-assessed cells (organization view only).
    if matrix.view == View::Org {
        let sheet = workbook.add_worksheet();
        sheet.set_name(t(lang, "sheet.evidence"))?;
        page_setup(sheet, &marking, &matrix.rules_version);
        let headers = [
            "header.org",
            "header.question",
            "header.capability_id",
            "header.answer",
            "header.respondent_role",
            "header.answered_on",
            "header.evidence",
        ];
        for (col, key) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, t(lang, key), &header)?;
        }
        sheet.set_column_width(1, 60)?;
        for (row, answer) in matrix.answers.iter().enumerate() {
            let row = row as u32 + 1;
            let question = catalogue().question(&answer.question);
            sheet.write_string(row, 0, &answer.org)?;
            sheet.write_string_with_format(
                row,
                1,
                format!(
                    "{} {}",
                    answer.question,
                    question.map(|q| q.text(lang)).unwrap_or_default()
                ),
                &wrap,
            )?;
            sheet.write_string(
                row,
                2,
                question.map(|q| q.capability.clone()).unwrap_or_default(),
            )?;
            sheet.write_string(row, 3, &answer.answer)?;
            sheet.write_string(row, 4, &answer.respondent_role)?;
            sheet.write_string(row, 5, answer.answered_on.to_string())?;
            sheet.write_string(row, 6, answer.evidence.clone().unwrap_or_default())?;
        }
        sheet.set_freeze_panes(1, 0)?;
    }

    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use chrono::{NaiveDate, TimeZone as _, Utc};
    use vigie_matrix::grade::{Coverage, Note};
    use vigie_matrix::TlsProfile;

    use super::*;
    use crate::matrix::{OrgColumn, Quarter};

    fn note(key: &'static str, args: &[(&'static str, &str)]) -> Note {
        Note {
            key,
            args: args.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    /// An observed level 3 with the weakest asset named: the cell says it all.
    fn plain(capability: &str) -> Cell {
        Cell {
            capability: capability.to_owned(),
            value: Value::Level(3),
            source: Some(Source::Observed),
            coverage: Some(Coverage { met: 2, total: 2 }),
            observed_at: None,
            stale: false,
            answered_on: None,
            evidence: Vec::new(),
            notes: vec![note("note.weakest", &[("target", "w0.example:443")])],
            basis: Vec::new(),
        }
    }

    /// `orgs` organizations with plain cells, except in the first: C05 capped by RDP, C15
    /// self-assessed with evidence, C16 stale.
    fn matrix(orgs: usize) -> Matrix {
        let capabilities = &catalogue().capabilities;
        let columns = (0..orgs)
            .map(|n| {
                let mut cells: Vec<Cell> = capabilities.iter().map(|c| plain(&c.id)).collect();
                if n == 0 {
                    cells[4].value = Value::Level(2);
                    cells[4]
                        .notes
                        .push(note("note.cap_rdp", &[("target", "192.0.2.10:3389")]));
                    cells[14].source = Some(Source::SelfAssessed);
                    cells[14].answered_on = NaiveDate::from_ymd_opt(2026, 11, 2);
                    cells[14].evidence = vec!["idp-export.csv".to_owned()];
                    cells[14].notes.clear();
                    cells[15].stale = true;
                }
                OrgColumn {
                    org: format!("org-{n:02}"),
                    assessed_on: None,
                    cells,
                    previous: vec![Value::Level(2); capabilities.len()],
                    trends: vec![Trend::Up; capabilities.len()],
                }
            })
            .collect();
        Matrix {
            view: View::Org,
            lang: Lang::Fr,
            profile: TlsProfile::Modern,
            generated_at: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap(),
            since: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            rules_version: catalogue().rules_version.clone(),
            orgs: columns,
            aggregate: Vec::new(),
            quarters: vec![Quarter {
                last_day: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
                orgs: vec![(
                    "org-00".to_owned(),
                    vec![Value::Level(1); capabilities.len()],
                )],
                medians: vec![Some(1); capabilities.len()],
            }],
            answers: Vec::new(),
            group_by: None,
            groups: Vec::new(),
        }
    }

    /// The text of one part of the workbook.
    fn part(xlsx: &[u8], name: &str) -> Option<String> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
        let mut file = archive.by_name(name).ok()?;
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        Some(text)
    }

    #[test]
    fn a_large_export_notes_only_the_cells_that_need_an_explanation() {
        let xlsx = render(&matrix(NOTE_EVERY_CELL_UP_TO + 1)).unwrap();
        let comments = part(&xlsx, "xl/comments1.xml").unwrap();
        let refs: Vec<&str> = comments
            .split("<comment ref=\"")
            .skip(1)
            .filter_map(|c| c.split('"').next())
            .collect();
        // The first organization is column E; C05, C15 and C16 are rows 7, 17 and 18.
        assert_eq!(refs, ["E7", "E17", "E18"], "{comments}");
        assert!(comments.contains("Plafonné à 2\u{a0}: connexion à distance par mot de passe seul observée sur 192.0.2.10:3389."));
        assert!(comments.contains("Source\u{a0}: Autoévalué"));
        assert!(comments.contains("Preuve\u{a0}: idp-export.csv"));
        assert!(comments.contains("Répondu le\u{a0}: 2026-11-02"));
    }

    #[test]
    fn past_quarters_are_coloured_by_conditional_formats_of_the_palette() {
        let xlsx = render(&matrix(3)).unwrap();
        let trends = part(&xlsx, "xl/worksheets/sheet3.xml").unwrap();
        // One quarter column (D), 3 organizations × 18 capabilities.
        let rules = trends
            .split("<conditionalFormatting sqref=\"D2:D55\">")
            .nth(1)
            .and_then(|r| r.split("</conditionalFormatting>").next())
            .unwrap_or_else(|| panic!("{trends}"));
        // Levels are numbers, `?` and `N/A` text.
        for (i, formula) in ["0", "1", "2", "3", "4", "\"N/A\"", "\"?\""]
            .iter()
            .enumerate()
        {
            assert!(
                rules.contains(&format!(
                    "dxfId=\"{i}\" priority=\"{}\" operator=\"equal\"><formula>{formula}</formula>",
                    i + 1
                )),
                "{rules}"
            );
        }
        let styles = part(&xlsx, "xl/styles.xml").unwrap();
        let dxfs: Vec<&str> = styles.split("<dxf>").skip(1).collect();
        assert_eq!(dxfs.len(), 7);
        assert!(dxfs[1].contains("FFEF8A62") && dxfs[3].contains("FF67A9CF"));
        // The organization known that quarter reads its level, the others "?".
        use calamine::Reader as _;
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range("Tendances").unwrap();
        let at = |row: u32| sheet.get_value((row, 3)).map(|v| v.to_string());
        assert_eq!(
            [at(1), at(18), at(19)],
            [Some("1".into()), Some("1".into()), Some("?".into())]
        );
    }

    #[test]
    fn a_small_export_notes_every_cell() {
        let xlsx = render(&matrix(2)).unwrap();
        let comments = part(&xlsx, "xl/comments1.xml").unwrap();
        assert_eq!(comments.matches("<comment ref=").count(), 2 * 18);
        assert!(comments.contains("Actif le plus faible\u{a0}: w0.example:443."));
    }

    #[test]
    fn the_note_rule_keeps_caps_self_assessment_staleness_and_evidence() {
        let mut cell = plain("C01");
        assert!(!needs_note(&cell), "observed, weakest asset named");
        for key in CAVEATS {
            cell.notes = vec![note(key, &[])];
            assert!(needs_note(&cell), "{key}");
        }
        for tweak in [
            |c: &mut Cell| c.source = Some(Source::SelfAssessed),
            |c: &mut Cell| c.source = Some(Source::Hybrid),
            |c: &mut Cell| c.stale = true,
            |c: &mut Cell| c.evidence = vec!["policy.pdf".into()],
        ] {
            let mut cell = plain("C01");
            tweak(&mut cell);
            assert!(needs_note(&cell), "{cell:?}");
        }
    }
}
