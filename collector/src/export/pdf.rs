//! PDF, written by the collector itself (no browser, no layout engine): A4 landscape pages
//! with the classification marking at the top and bottom of every page, the matrix (split
//! by columns across pages when there are many organizations, the capability rows repeated
//! on each), the last quarters, the legend kept whole on one page, and the method.
//!
//! Text is set in DejaVu Sans (`assets/fonts`, Bitstream Vera license), embedded whole so
//! that the file looks the same everywhere, as a CID font with a ToUnicode map so that the
//! text can be searched and copied (`pdftotext` reads it back). The font is parsed and
//! deflated once per process.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::LazyLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use vigie_matrix::catalogue::{catalogue, render as render_text};
use vigie_matrix::grade::{Source, Value};
use vigie_model::Lang;

use super::{
    attainment_text, colours, group_label, labelled, legend_values, marking, method_lines, percent,
    t, weakest_text, ExportError,
};
use crate::matrix::{Matrix, Trend, View};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

static FACE: LazyLock<Option<ttf_parser::Face<'static>>> =
    LazyLock::new(|| ttf_parser::Face::parse(FONT, 0).ok());

/// The font file, deflated once: some 40 ms that every later export skips.
static FONT_DEFLATED: LazyLock<Vec<u8>> = LazyLock::new(|| deflate(FONT));

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A4 landscape, in points.
const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const MARGIN: f32 = 36.0;
/// Content runs between these heights; the markings and footer sit outside.
const TOP: f32 = HEIGHT - 48.0;
const BOTTOM: f32 = 44.0;
const FONT_NAME: Name<'static> = Name(b"F1");

/// Pages being laid out: one content stream per page, the glyphs used so far.
struct Doc<'f> {
    face: &'f ttf_parser::Face<'static>,
    units: f32,
    /// Glyph id → the character it was used for (the ToUnicode map).
    used: BTreeMap<u16, char>,
    pages: Vec<Content>,
    /// The baseline of the next line on the current page.
    y: f32,
}

fn rgb(hex: &str) -> (f32, f32, f32) {
    let n = u32::from_str_radix(hex, 16).unwrap_or(0);
    let part = |shift: u32| ((n >> shift) & 0xFF) as f32 / 255.0;
    (part(16), part(8), part(0))
}

impl<'f> Doc<'f> {
    fn new(face: &'f ttf_parser::Face<'static>) -> Doc<'f> {
        Doc {
            face,
            units: f32::from(face.units_per_em()),
            used: BTreeMap::new(),
            pages: Vec::new(),
            y: TOP,
        }
    }

    /// The glyph of `c`. DejaVu Sans has no narrow no-break space (U+202F, before `;` `?`
    /// `!` in French): it is drawn with the thin space, and still read back as U+202F.
    fn glyph(&self, c: char) -> u16 {
        let drawn = match c {
            '\u{202f}' if self.face.glyph_index(c).is_none() => '\u{2009}',
            c => c,
        };
        self.face.glyph_index(drawn).map_or(0, |g| g.0)
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                let gid = ttf_parser::GlyphId(self.glyph(c));
                f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0))
            })
            .sum::<f32>()
            * size
            / self.units
    }

    /// The text cut to `max` points wide, with an ellipsis when cut.
    fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_owned();
        }
        let mut out = String::new();
        for c in text.chars() {
            out.push(c);
            if self.width(&out, size) + self.width("…", size) > max {
                out.pop();
                break;
            }
        }
        out.push('…');
        out
    }

    /// The text broken into lines at most `max` points wide, at spaces; a word longer than
    /// a line (an organization's name in a narrow column) is broken between characters.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut words: Vec<String> = Vec::new();
        for word in text.split(' ') {
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if self.width(&piece, size) > max && piece.chars().count() > 1 {
                    piece.pop();
                    words.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            words.push(piece);
        }
        for word in &words {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) <= max || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::take(&mut line));
                line = word.clone();
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines.into_iter().map(|l| self.fit(&l, size, max)).collect()
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = TOP;
    }

    /// Starts a new page unless `height` points still fit on this one.
    fn need(&mut self, height: f32) {
        if self.pages.is_empty() || self.y - height < BOTTOM {
            self.new_page();
        }
    }

    /// Writes `text` with its baseline at (x, y), in `colour`.
    fn text_at(&mut self, x: f32, y: f32, size: f32, text: &str, colour: &str) {
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let gid = self.glyph(c);
            if gid != 0 {
                self.used.entry(gid).or_insert(c);
            }
            bytes.extend_from_slice(&gid.to_be_bytes());
        }
        let (r, g, b) = rgb(colour);
        let page = self.page();
        page.set_fill_rgb(r, g, b);
        page.begin_text();
        page.set_font(FONT_NAME, size);
        page.next_line(x, y);
        page.show(Str(&bytes));
        page.end_text();
    }

    /// `text` centred in a box from `x`, `w` points wide.
    fn centred(&mut self, x: f32, w: f32, y: f32, size: f32, text: &str, colour: &str) {
        let text = self.fit(text, size, w - 2.0);
        let width = self.width(&text, size);
        self.text_at(x + (w - width) / 2.0, y, size, &text, colour);
    }

    fn rect(&mut self, (x, y, w, h): (f32, f32, f32, f32), fill: Option<&str>) {
        let page = self.page();
        page.set_line_width(0.4);
        page.set_stroke_rgb(0.59, 0.59, 0.59);
        match fill {
            Some(fill) => {
                let (r, g, b) = rgb(fill);
                page.set_fill_rgb(r, g, b);
                page.rect(x, y, w, h);
                page.fill_nonzero_and_stroke();
            }
            None => {
                page.rect(x, y, w, h);
                page.stroke();
            }
        }
    }

    /// Diagonal hatching over a box: a self-assessed level.
    fn hatch(&mut self, (x, y, w, h): (f32, f32, f32, f32)) {
        let page = self.page();
        page.save_state();
        page.rect(x, y, w, h);
        page.clip_nonzero();
        page.end_path();
        page.set_line_width(0.8);
        page.set_stroke_rgb(1.0, 1.0, 1.0);
        let mut offset = -h;
        while offset < w {
            page.move_to(x + offset, y);
            page.line_to(x + offset + h, y + h);
            offset += 5.0;
        }
        page.stroke();
        page.restore_state();
    }

    /// A heading, with room for at least `keep` points after it on the same page.
    fn heading(&mut self, text: &str, keep: f32) {
        self.need(24.0 + keep);
        self.y -= 16.0;
        self.text_at(MARGIN, self.y, 12.0, text, "000000");
        self.y -= 8.0;
    }

    /// A paragraph wrapped to the page width.
    fn paragraph(&mut self, text: &str, size: f32) {
        for line in self.wrap(text, size, WIDTH - 2.0 * MARGIN) {
            self.need(size * 1.4);
            self.y -= size * 1.4;
            self.text_at(MARGIN, self.y, size, &line, "333333");
        }
    }
}

/// One cell of a grid: a level (coloured by the palette) or plain text.
#[derive(Clone)]
enum GridCell {
    Level {
        value: Value,
        source: Option<Source>,
        text: String,
    },
    Text(String),
}

/// A column of a grid: its header and one cell per capability, then the footer rows.
struct Column {
    header: String,
    cells: Vec<GridCell>,
}

const ROW: f32 = 15.0;
const ID_WIDTH: f32 = 30.0;

/// Capabilities down, `columns` across, as many pages as the columns need: the capability
/// ids and names repeated on each, `footers` (labels) the rows after the capabilities.
fn grid(doc: &mut Doc<'_>, lang: Lang, title: &str, columns: &[Column], column_width: f32) {
    let capabilities = &catalogue().capabilities;
    let name_width = 210.0;
    let per_page =
        (((WIDTH - 2.0 * MARGIN - ID_WIDTH - name_width) / column_width).floor() as usize).max(1);
    let rows = columns.first().map_or(0, |c| c.cells.len());
    let header_height = 34.0;
    let height = header_height + ROW * rows as f32 + 10.0;
    for (part, chunk) in columns.chunks(per_page).enumerate() {
        let title = if columns.len() > per_page {
            format!(
                "{title} ({}/{})",
                part + 1,
                columns.len().div_ceil(per_page)
            )
        } else {
            title.to_owned()
        };
        doc.heading(&title, height);
        let top = doc.y;
        // Header row.
        let header_size = 6.5;
        let mut x = MARGIN;
        for (w, text) in [
            (ID_WIDTH, t(lang, "header.capability_id")),
            (name_width, t(lang, "header.capability")),
        ] {
            doc.rect((x, top - header_height, w, header_height), Some("F0F0F0"));
            doc.text_at(x + 3.0, top - 12.0, header_size, &text, "000000");
            x += w;
        }
        for column in chunk {
            doc.rect(
                (x, top - header_height, column_width, header_height),
                Some("F0F0F0"),
            );
            let lines = doc.wrap(&column.header, header_size, column_width - 4.0);
            for (i, line) in lines.iter().take(4).enumerate() {
                doc.text_at(
                    x + 2.0,
                    top - 9.0 - 8.0 * i as f32,
                    header_size,
                    line,
                    "000000",
                );
            }
            x += column_width;
        }
        // Rows: the capabilities, then the footer rows.
        for row in 0..rows {
            let y = top - header_height - ROW * (row + 1) as f32;
            let (id, name) = match capabilities.get(row) {
                Some(c) => (c.id.clone(), c.name(lang)),
                None => (String::new(), footer_label(lang, row - capabilities.len())),
            };
            doc.rect((MARGIN, y, ID_WIDTH, ROW), None);
            doc.text_at(MARGIN + 3.0, y + 4.5, 7.5, &id, "000000");
            doc.rect((MARGIN + ID_WIDTH, y, name_width, ROW), None);
            let name = doc.fit(&name, 7.5, name_width - 6.0);
            doc.text_at(MARGIN + ID_WIDTH + 3.0, y + 4.5, 7.5, &name, "000000");
            let mut x = MARGIN + ID_WIDTH + name_width;
            for column in chunk {
                let frame = (x, y, column_width, ROW);
                match &column.cells[row] {
                    GridCell::Level {
                        value,
                        source,
                        text,
                    } => {
                        let (fill, ink) = colours(*value);
                        doc.rect(frame, Some(fill));
                        if *source == Some(Source::SelfAssessed) {
                            doc.hatch(frame);
                        }
                        doc.centred(x, column_width, y + 4.5, 7.5, text, ink);
                    }
                    GridCell::Text(text) => {
                        doc.rect(frame, None);
                        doc.centred(x, column_width, y + 4.5, 7.0, text, "000000");
                    }
                }
                x += column_width;
            }
        }
        doc.y = top - height;
    }
}

/// The labels of the org view's footer rows.
fn footer_label(lang: Lang, index: usize) -> String {
    match index {
        0 => t(lang, "header.baseline_attainment"),
        _ => t(lang, "header.weakest_critical"),
    }
}

fn level_cell(value: Value) -> GridCell {
    GridCell::Level {
        value,
        source: Some(Source::Observed),
        text: value.label(),
    }
}

/// The matrix's columns: one per organization (org view), or the aggregate's figures and
/// each group's median and share.
fn matrix_columns(matrix: &Matrix) -> (Vec<Column>, f32) {
    let lang = matrix.lang;
    match matrix.view {
        View::Org => {
            let columns = matrix
                .orgs
                .iter()
                .map(|org| {
                    let mut cells: Vec<GridCell> = org
                        .cells
                        .iter()
                        .zip(&org.trends)
                        .map(|(cell, trend)| {
                            let mut text = format!("{} {}", cell.label(), trend.symbol());
                            if cell.stale {
                                text.push_str(" †");
                            }
                            GridCell::Level {
                                value: cell.value,
                                source: cell.source,
                                text,
                            }
                        })
                        .collect();
                    let (met, known) = org.baseline_attainment();
                    cells.push(GridCell::Text(attainment_text(met, known)));
                    cells.push(GridCell::Text(weakest_text(org.weakest_critical())));
                    Column {
                        header: org.org.clone(),
                        cells,
                    }
                })
                .collect();
            (columns, 54.0)
        }
        View::Aggregate => {
            let rows = &matrix.aggregate;
            let text_column =
                |key: &str, f: &dyn Fn(&crate::matrix::AggregateRow) -> String| Column {
                    header: t(lang, key),
                    cells: rows.iter().map(|r| GridCell::Text(f(r))).collect(),
                };
            let mut columns = vec![
                Column {
                    header: t(lang, "header.median"),
                    cells: rows
                        .iter()
                        .map(|r| level_cell(r.median.map_or(Value::Unknown, Value::Level)))
                        .collect(),
                },
                text_column("header.share_baseline", &|r| percent(r.share_at_baseline())),
                text_column("header.orgs_known", &|r| r.known.to_string()),
                text_column("header.orgs_unknown", &|r| r.unknown.to_string()),
                text_column("header.trend", &|r| r.trend.symbol().to_owned()),
            ];
            for group in &matrix.groups {
                let label = group_label(matrix, group);
                columns.push(Column {
                    header: format!("{label} — {}", t(lang, "header.median")),
                    cells: group
                        .cells
                        .iter()
                        .map(|c| level_cell(c.median.map_or(Value::Unknown, Value::Level)))
                        .collect(),
                });
                columns.push(Column {
                    header: format!("{label} — {}", t(lang, "header.share_baseline")),
                    cells: group
                        .cells
                        .iter()
                        .map(|c| GridCell::Text(percent(c.share_at_baseline())))
                        .collect(),
                });
            }
            (columns, 72.0)
        }
    }
}

/// The sector medians of the last quarters (aggregate view), or nothing.
fn quarter_columns(matrix: &Matrix) -> Vec<Column> {
    if matrix.view != View::Aggregate {
        return Vec::new();
    }
    matrix
        .quarters
        .iter()
        .map(|q| Column {
            header: format!("{} {}", t(matrix.lang, "header.quarter"), q.last_day),
            cells: q
                .medians
                .iter()
                .map(|m| level_cell(m.map_or(Value::Unknown, Value::Level)))
                .collect(),
        })
        .collect()
}

/// The legend: every value, the sources, the trends and the stale mark, as one block that
/// never splits across pages.
fn legend(doc: &mut Doc<'_>, lang: Lang) {
    let mut items: Vec<(GridCell, String)> = legend_values()
        .into_iter()
        .map(|v| (level_cell(v), t(lang, &v.text_key())))
        .collect();
    for source in [Source::SelfAssessed, Source::Hybrid] {
        items.push((
            GridCell::Level {
                value: Value::Level(3),
                source: Some(source),
                text: format!("3 {}", source.letter()),
            },
            format!(
                "{} — {}",
                source.name(lang),
                t(lang, &format!("source.{}.explained", source.letter()))
            ),
        ));
    }
    for trend in Trend::ALL {
        items.push((
            GridCell::Text(trend.symbol().to_owned()),
            t(lang, trend.text_key()),
        ));
    }
    items.push((
        GridCell::Text("†".to_owned()),
        render_text(
            lang,
            "stale.explained",
            &[("days", catalogue().thresholds.stale_after_days.to_string())],
        ),
    ));
    let width = WIDTH - 2.0 * MARGIN - 40.0;
    let lines: Vec<Vec<String>> = items
        .iter()
        .map(|(_, text)| doc.wrap(text, 8.0, width - 8.0))
        .collect();
    let height: f32 = lines
        .iter()
        .map(|l| ROW.max(10.0 * l.len() as f32 + 5.0))
        .sum();
    // Kept whole: the heading asks for the room of the whole block.
    doc.heading(&t(lang, "sheet.legend"), height);
    for ((cell, _), lines) in items.iter().zip(&lines) {
        let h = ROW.max(10.0 * lines.len() as f32 + 5.0);
        let y = doc.y - h;
        let frame = (MARGIN, y, 40.0, h);
        match cell {
            GridCell::Level {
                value,
                source,
                text,
            } => {
                let (fill, ink) = colours(*value);
                doc.rect(frame, Some(fill));
                if *source == Some(Source::SelfAssessed) {
                    doc.hatch(frame);
                }
                doc.centred(MARGIN, 40.0, y + h - 10.5, 7.5, text, ink);
            }
            GridCell::Text(text) => {
                doc.rect(frame, None);
                doc.centred(MARGIN, 40.0, y + h - 10.5, 7.5, text, "000000");
            }
        }
        doc.rect((MARGIN + 40.0, y, width, h), None);
        for (i, line) in lines.iter().enumerate() {
            doc.text_at(
                MARGIN + 44.0,
                y + h - 10.5 - 10.0 * i as f32,
                8.0,
                line,
                "000000",
            );
        }
        doc.y = y;
    }
}

/// The whole document, laid out.
fn lay_out(doc: &mut Doc<'_>, matrix: &Matrix) {
    let lang = matrix.lang;
    doc.new_page();
    doc.y -= 6.0;
    doc.text_at(MARGIN, doc.y, 15.0, &t(lang, "title.matrix"), "000000");
    doc.y -= 8.0;
    let meta = [
        labelled(
            lang,
            &t(lang, "method.rules_version"),
            &matrix.rules_version,
        ),
        labelled(
            lang,
            &t(lang, "method.tls_profile"),
            matrix.profile.as_str(),
        ),
        labelled(
            lang,
            &t(lang, "method.generated_at"),
            &matrix.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        labelled(lang, &t(lang, "method.since"), &matrix.since.to_string()),
        render_text(
            lang,
            "count.orgs",
            &[("count", matrix.orgs.len().to_string())],
        ),
    ]
    .join(" · ");
    doc.paragraph(&meta, 8.0);

    let (columns, width) = matrix_columns(matrix);
    grid(
        doc,
        lang,
        &t(lang, &format!("view.{}", matrix.view.as_str())),
        &columns,
        width,
    );
    let quarters = quarter_columns(matrix);
    if !quarters.is_empty() {
        grid(doc, lang, &t(lang, "sheet.trends"), &quarters, 72.0);
    }
    legend(doc, lang);

    doc.heading(&t(lang, "sheet.method"), 40.0);
    for (label, value) in method_lines(matrix) {
        doc.paragraph(&labelled(lang, &label, &value), 8.0);
    }
}

/// The marking at the top and bottom of every page, and `rules … — page/pages`.
fn stamp_pages(doc: &mut Doc<'_>, matrix: &Matrix) {
    let marking = marking(matrix);
    let lang = matrix.lang;
    let count = doc.pages.len();
    for index in 0..count {
        let footer = format!(
            "{} — {}/{count}",
            labelled(
                lang,
                &t(lang, "method.rules_version"),
                &matrix.rules_version
            ),
            index + 1
        );
        let last = doc.pages.len() - 1;
        doc.pages.swap(index, last);
        for (y, size) in [(HEIGHT - 24.0, 9.0), (22.0, 8.0)] {
            let text = doc.fit(&marking, size, WIDTH - 2.0 * MARGIN);
            let width = doc.width(&text, size);
            doc.text_at((WIDTH - width) / 2.0, y, size, &text, "000000");
        }
        let width = doc.width(&footer, 7.0);
        doc.text_at(WIDTH - MARGIN - width, 10.0, 7.0, &footer, "333333");
        doc.pages.swap(index, last);
    }
}

pub(super) fn render(matrix: &Matrix) -> Result<Vec<u8>, ExportError> {
    let face = FACE.as_ref().ok_or_else(|| {
        ExportError::Pdf("the embedded DejaVu Sans font could not be read".into())
    })?;
    let mut doc = Doc::new(face);
    lay_out(&mut doc, matrix);
    stamp_pages(&mut doc, matrix);
    Ok(assemble(doc, matrix))
}

/// The PDF objects: catalogue, page tree, the font (Type0 → CIDFontType2 → descriptor →
/// file, with its ToUnicode map), then each page and its content.
fn assemble(doc: Doc<'_>, matrix: &Matrix) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let font_id = Ref::new(3);
    let cid_id = Ref::new(4);
    let descriptor_id = Ref::new(5);
    let file_id = Ref::new(6);
    let cmap_id = Ref::new(7);
    let info_id = Ref::new(8);
    let first_page = 9;
    let page_ids: Vec<Ref> = (0..doc.pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();

    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    let title = t(matrix.lang, "title.matrix");
    pdf.document_info(info_id)
        .title(pdf_writer::TextStr(&title))
        .subject(pdf_writer::TextStr(&marking(matrix)))
        .creator(pdf_writer::TextStr("Vigie"));

    let base = Name(b"DejaVuSans");
    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(font_id)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);
    let scale = |v: f32| v * 1000.0 / doc.units;
    {
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(system)
            .font_descriptor(descriptor_id)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let mut widths = cid.widths();
        for gid in doc.used.keys() {
            let advance = doc
                .face
                .glyph_hor_advance(ttf_parser::GlyphId(*gid))
                .unwrap_or(0);
            widths.consecutive(*gid, [scale(f32::from(advance))]);
        }
        widths.finish();
    }
    let bbox = doc.face.global_bounding_box();
    pdf.font_descriptor(descriptor_id)
        .name(base)
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            scale(f32::from(bbox.x_min)),
            scale(f32::from(bbox.y_min)),
            scale(f32::from(bbox.x_max)),
            scale(f32::from(bbox.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(scale(f32::from(doc.face.ascender())))
        .descent(scale(f32::from(doc.face.descender())))
        .cap_height(scale(f32::from(
            doc.face.capital_height().unwrap_or(doc.face.ascender()),
        )))
        .stem_v(80.0)
        .font_file2(file_id);
    pdf.stream(file_id, &FONT_DEFLATED)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), FONT.len() as i32);
    let mut cmap = UnicodeCmap::new(Name(b"Vigie-UCS"), system);
    for (gid, c) in &doc.used {
        cmap.pair(*gid, *c);
    }
    pdf.cmap(cmap_id, &cmap.finish());

    for (i, content) in doc.pages.into_iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .parent(tree_id)
            .contents(content_id);
        page.resources().fonts().pair(FONT_NAME, font_id);
        page.finish();
        let data = deflate(&content.finish());
        pdf.stream(content_id, &data).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone as _, Utc};
    use vigie_matrix::grade::{Cell, Coverage};
    use vigie_matrix::TlsProfile;

    use super::*;
    use crate::matrix::{AggregateRow, OrgColumn, Quarter};

    /// `orgs` organizations, levels cycling 0–4, C15 self-assessed, C08 unknown.
    fn matrix(orgs: usize, view: View, lang: Lang) -> Matrix {
        let capabilities = &catalogue().capabilities;
        let columns: Vec<OrgColumn> = (0..orgs)
            .map(|n| OrgColumn {
                org: format!("org-{n:03}"),
                assessed_on: None,
                cells: capabilities
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Cell {
                        capability: c.id.clone(),
                        value: if c.id == "C08" {
                            Value::Unknown
                        } else {
                            Value::Level(((n + i) % 5) as u8)
                        },
                        source: (c.id != "C08").then_some(if c.id == "C15" {
                            Source::SelfAssessed
                        } else {
                            Source::Observed
                        }),
                        coverage: Some(Coverage { met: 1, total: 2 }),
                        observed_at: None,
                        stale: false,
                        answered_on: None,
                        evidence: Vec::new(),
                        notes: Vec::new(),
                        basis: Vec::new(),
                    })
                    .collect(),
                previous: vec![Value::Level(2); capabilities.len()],
                trends: vec![Trend::Up; capabilities.len()],
            })
            .collect();
        let aggregate = capabilities
            .iter()
            .map(|c| AggregateRow {
                capability: c.id.clone(),
                median: Some(2),
                at_baseline: orgs / 3,
                known: orgs,
                unknown: 0,
                previous_median: Some(1),
                trend: Trend::Up,
            })
            .collect();
        Matrix {
            view,
            lang,
            profile: TlsProfile::Modern,
            generated_at: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap(),
            since: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            rules_version: catalogue().rules_version.clone(),
            orgs: columns,
            aggregate,
            quarters: vec![Quarter {
                last_day: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
                orgs: Vec::new(),
                medians: vec![Some(1); capabilities.len()],
            }],
            answers: Vec::new(),
            group_by: None,
            groups: Vec::new(),
        }
    }

    fn tool(name: &str, args: &[&str]) -> String {
        let out = std::process::Command::new(name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{name} (poppler-utils) did not run: {e}"));
        assert!(
            out.status.success(),
            "{name} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The PDF written to a temporary file, its page count and each page's text.
    fn read_back(pdf: &[u8]) -> (tempfile::TempDir, String, Vec<String>) {
        assert!(pdf.starts_with(b"%PDF-"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matrix.pdf");
        std::fs::write(&path, pdf).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let info = tool("pdfinfo", &[&path]);
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{info}"));
        let texts = (1..=pages)
            .map(|p| {
                let p = p.to_string();
                tool("pdftotext", &["-f", &p, "-l", &p, "-layout", &path, "-"])
            })
            .collect();
        (dir, info, texts)
    }

    /// The first line of the page's text and one of its last two (the footer) carry it.
    fn marked_top_and_bottom(text: &str, marking: &str) -> bool {
        // Read back, a no-break space may come out as a space.
        let spaces = |s: &str| s.replace(['\u{a0}', '\u{202f}', '\u{2009}'], " ");
        let (text, marking) = (spaces(text), spaces(marking));
        let marking = marking.as_str();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines.first().is_some_and(|l| l.contains(marking))
            && lines.iter().rev().take(2).any(|l| l.contains(marking))
    }

    #[test]
    fn the_org_view_spans_pages_each_marked_landscape_with_the_legend_whole() {
        let m = matrix(40, View::Org, Lang::Fr);
        let pdf = render(&m).unwrap();
        if let Some(path) = std::env::var_os("VIGIE_PDF_SAMPLE") {
            std::fs::write(path, &pdf).unwrap();
        }
        let (_dir, info, pages) = read_back(&pdf);
        assert!(info.contains("842 x 595 pts"), "A4 landscape: {info}");
        assert!(pages.len() >= 4, "40 organizations need several pages");
        let marking = t(Lang::Fr, "marking.org");
        let count = pages.len();
        for (i, text) in pages.iter().enumerate() {
            assert!(
                marked_top_and_bottom(text, &marking),
                "page {}: the marking at the top and the bottom:\n{text}",
                i + 1
            );
            assert!(
                text.contains(&format!("{}/{count}", i + 1)),
                "page number {}",
                i + 1
            );
        }
        // Every organization is somewhere, with the capability rows on each matrix page.
        let all = pages.concat();
        for n in [0, 17, 39] {
            assert!(all.contains(&format!("org-{n:03}")), "{n}");
        }
        assert!(pages[0].contains("C18") && pages[1].contains("C18"));
        // The legend on one page, whole: its first and last lines together.
        let first = t(Lang::Fr, "level.0");
        let last = render_text(
            Lang::Fr,
            "stale.explained",
            &[("days", catalogue().thresholds.stale_after_days.to_string())],
        );
        let legend: Vec<usize> = pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.contains(&first) || p.contains(&last))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(legend.len(), 1, "legend split: {legend:?}");
        let page = &pages[legend[0]];
        assert!(page.contains(&first) && page.contains(&last), "{page}");
        for trend in Trend::ALL {
            assert!(page.contains(&t(Lang::Fr, trend.text_key())));
        }
        // French, with its typography, read back from the embedded font.
        assert!(all.contains("Matrice des capacités de cybersécurité"));
        // A space before the colon (DejaVu Sans draws U+00A0 with the glyph of the space,
        // so the text read back shows a space where the no-break space was set).
        assert!(
            all.contains("Version des règles\u{a0}: ") || all.contains("Version des règles : "),
            "{}",
            pages[0]
        );
        assert!(!all.contains("règles:"));
        assert!(all.contains("40 organisations"));
    }

    #[test]
    fn the_aggregate_fits_one_page_for_the_matrix_in_english() {
        let m = matrix(1, View::Aggregate, Lang::En);
        let (_dir, _, pages) = read_back(&render(&m).unwrap());
        assert!(
            pages[0].contains("Cybersecurity capability matrix") || pages[0].contains("capability")
        );
        assert!(pages[0].contains(&t(Lang::En, "header.median")));
        assert!(pages[0].contains("1 organization ") || pages[0].contains("1 organization\n"));
        assert!(
            !pages.concat().contains("org-000"),
            "the aggregate names no one"
        );
        for text in &pages {
            assert!(marked_top_and_bottom(
                text,
                &t(Lang::En, "marking.aggregate")
            ));
        }
    }
}
