//! The capability matrix end to end: reports ingested through the real HTTP routes, answers
//! imported, then every export format in both languages read back and checked against the
//! grading rules (XLSX parsed with calamine).

use crate::common;

use std::io::Cursor;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{Duration, Utc};
use common::*;
use serde_json::Value;
use vigie_model::Status;

/// A collector holding two reports of ORG: 60 days ago TLS 1.0 was accepted (C01 = 1), a
/// day ago it is refused (C01 = 2: HTTPS redirect and HSTS not observed), plus MFA answers.
async fn collector_with_history() -> (TestCollector, String) {
    let c = TestCollector::new().await;
    let now = Utc::now();
    for (days, tls1_0) in [(60, Status::Fail), (1, Status::Pass)] {
        let report = fixture_report(ORG, now - Duration::days(days), tls1_0);
        let (status, body) = c.post(Some(&c.agent), body_of(&report)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let today = now.date_naive();
    let answers = vec![
        vigie_matrix::assess::normalize(
            ORG,
            "Q7",
            "email;cloud;remote;admin",
            "IT lead",
            today - Duration::days(3),
            None,
            today,
        )
        .unwrap(),
        vigie_matrix::assess::normalize(
            ORG,
            "Q8",
            "app;security_key",
            "IT lead",
            today - Duration::days(3),
            Some("idp-export.csv"),
            today,
        )
        .unwrap(),
    ];
    c.store().import_answers(answers).await.unwrap();
    let since = (today - Duration::days(30)).to_string();
    (c, since)
}

async fn get_bytes(c: &TestCollector, path: &str) -> (StatusCode, String, Vec<u8>) {
    c.send(
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", c.viewer))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn cell<'a>(org: &'a Value, capability: &str) -> &'a Value {
    org["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["capability"] == capability)
        .unwrap()
}

#[tokio::test]
async fn json_levels_follow_the_rules_with_trends_sources_and_the_rdp_free_mfa_answer() {
    let (c, since) = collector_with_history().await;
    let (status, content_type, body) = get_bytes(
        &c,
        &format!("/api/v1/matrix?view=org&format=json&lang=en&since={since}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/json");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["schema"], "vigie.matrix.v1");
    assert_eq!(json["tls_profile"], "modern");
    assert_eq!(
        json["rules_version"],
        vigie_matrix::catalogue().rules_version
    );
    assert!(json["marking"].as_str().unwrap().contains("PROTECTED A"));
    let orgs = json["orgs"].as_array().unwrap();
    let maple = orgs.iter().find(|o| o["org"] == ORG).unwrap();

    let c01 = cell(maple, "C01");
    assert_eq!(c01["level"], 2);
    assert_eq!(c01["previous_level"], 1, "60 days ago TLS 1.0 was accepted");
    assert_eq!(c01["trend"], "up");
    assert_eq!(c01["source"], "O");
    assert_eq!(c01["coverage"], serde_json::json!({"met": 0, "total": 1}));
    assert_eq!(
        cell(maple, "C02")["level"],
        2,
        "certificate expiring within 30 days"
    );
    assert_eq!(cell(maple, "C03")["level"], 1, "DMARC p=none");
    // Drill-down: the verdict that set C03, with the link of its findings.
    let basis = &cell(maple, "C03")["basis"][0];
    assert_eq!(basis["check"], "email.dmarc.policy");
    assert_eq!(basis["status"], "fail");
    let target = basis["target"].as_str().unwrap();
    assert_eq!(
        basis["findings"],
        format!("/ui/orgs/{ORG}/findings?check=email.dmarc.policy&target={target}")
    );
    assert_eq!(
        c01["basis"][0]["check"], "tls.connect",
        "C01 = 2 because the web checks were not observed: {c01}"
    );
    assert_eq!(
        cell(maple, "C15")["basis"],
        serde_json::json!([{"question": "Q7"}, {"question": "Q8"}])
    );
    // Every unknown cell says what was missing.
    let c13 = cell(maple, "C13");
    assert_eq!(
        c13["notes"],
        serde_json::json!(["No answer to the questionnaire (Q1, Q2, Q3)."])
    );
    let c15 = cell(maple, "C15");
    assert_eq!(
        (c15["level"].clone(), c15["label"].clone()),
        (4.into(), "4 S".into())
    );
    assert_eq!(c15["evidence"], serde_json::json!(["idp-export.csv"]));
    assert_eq!(
        c15["trend"], "new",
        "first self-assessment since the comparison date"
    );
    assert_eq!(cell(maple, "C08")["level"], "?");
    assert_eq!(
        maple["baseline_attainment"],
        serde_json::json!({"met": 1, "known": 4})
    );
    assert_eq!(maple["weakest_critical"]["level"], 1);

    // The other organization has no data: unknown everywhere, never zero.
    let birch = orgs.iter().find(|o| o["org"] == OTHER_ORG).unwrap();
    assert!(birch["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["level"] == "?"));

    // French names; aggregate without organizations.
    let (_, _, body) = get_bytes(
        &c,
        &format!("/api/v1/matrix?view=aggregate&format=json&lang=fr&since={since}"),
    )
    .await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json.get("orgs").is_none(),
        "the aggregate names no organization"
    );
    assert_eq!(
        json["capabilities"][2]["name"],
        "Protection contre l'usurpation de courriel"
    );
    let c03 = &json["aggregate"][2];
    assert_eq!(
        (
            c03["median"].clone(),
            c03["known"].clone(),
            c03["unknown"].clone()
        ),
        (1.into(), 1.into(), 1.into())
    );
    assert_eq!(json["aggregate"][0]["trend"], "up");
}

#[tokio::test]
async fn csv_has_a_bom_headers_in_the_chosen_language_and_a_bilingual_dictionary() {
    let (c, since) = collector_with_history().await;
    for (lang, org_header) in [("en", "Organization"), ("fr", "Organisation")] {
        let (status, content_type, body) = get_bytes(
            &c,
            &format!("/api/v1/matrix?view=org&format=csv&lang={lang}&since={since}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/csv"));
        assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
        let text = String::from_utf8(body).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(
            header.starts_with(&format!("\u{feff}{org_header},")),
            "{header}"
        );
        let maple = lines.find(|l| l.starts_with(ORG)).unwrap();
        // org, assessed_on, profile, rules version, then C01 level, source, trend.
        let fields: Vec<&str> = maple.split(',').collect();
        let rules = vigie_matrix::catalogue().rules_version.as_str();
        assert_eq!(&fields[2..7], ["modern", rules, "2", "O", "▲"], "{maple}");
    }
    let (_, _, body) = get_bytes(&c, "/api/v1/matrix?format=csv&lang=fr&table=dictionary").await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("Authentification multifacteur")
            && text.contains("Multi-factor authentication")
    );
}

fn string_at(sheet: &calamine::Range<Data>, row: u32, col: u32) -> String {
    match sheet.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// `E3` for row 2, column 4 (both from 0).
fn cell_ref(row: u32, col: u32) -> String {
    assert!(col < 26, "one letter is enough here");
    format!("{}{}", char::from(b'A' + col as u8), row + 1)
}

/// One part of the workbook's zip, as text.
fn xlsx_part(xlsx: &[u8], name: &str) -> String {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The value of `name="…"` in an XML element's text.
fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let pattern = format!("{name}=\"");
    let at = element
        .match_indices(&pattern)
        .find(|(i, _)| *i == 0 || element.as_bytes()[i - 1].is_ascii_whitespace())?;
    element[at.0 + pattern.len()..].split('"').next()
}

/// The fill of a cell: its pattern and the colour that pattern shows as the cell's level
/// colour (the foreground of a solid fill, the background behind a hatching).
fn fill_of(xlsx: &[u8], sheet: &str, cell: &str) -> (String, String) {
    let sheet = xlsx_part(xlsx, sheet);
    let element = sheet
        .split("<c ")
        .find(|c| attribute(c, "r") == Some(cell))
        .unwrap_or_else(|| panic!("no cell {cell}"));
    let style: usize = attribute(element, "s").unwrap_or("0").parse().unwrap();
    let styles = xlsx_part(xlsx, "xl/styles.xml");
    let xfs = styles.split("<cellXfs").nth(1).unwrap();
    let xf = xfs.split("<xf ").nth(style + 1).unwrap();
    let fill_id: usize = attribute(xf, "fillId").unwrap().parse().unwrap();
    let fills = styles.split("<fills").nth(1).unwrap();
    let fill = fills.split("<fill>").nth(fill_id + 1).unwrap();
    let fill = fill.split("</fill>").next().unwrap();
    let pattern = attribute(fill, "patternType").unwrap().to_owned();
    let colour_of = |tag: &str| {
        fill.split(&format!("<{tag} "))
            .nth(1)
            .and_then(|c| attribute(c, "rgb"))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let colour = if pattern == "solid" {
        colour_of("fgColor")
    } else {
        colour_of("bgColor")
    };
    (pattern, colour)
}

#[tokio::test]
async fn xlsx_reads_back_with_french_sheets_headers_and_levels() {
    let (c, since) = collector_with_history().await;
    let answered_on = (Utc::now().date_naive() - Duration::days(3)).to_string();
    for (lang, matrix_sheet, capability_header, sheets, details) in [
        (
            "fr",
            "Matrice",
            "Capacité",
            [
                "Légende",
                "Tendances",
                "Correspondances",
                "Méthode",
                "Preuves",
            ],
            [
                "Source",
                "Tendance",
                "Niveau précédent",
                "Couverture",
                "Périmé",
                "Répondu le",
                "Preuve",
                "Remarques",
                "Autoévalué",
                "Non observé",
                "Établi par",
            ],
        ),
        (
            "en",
            "Matrix",
            "Capability",
            ["Legend", "Trends", "Mappings", "Method", "Evidence"],
            [
                "Source",
                "Trend",
                "Previous level",
                "Coverage",
                "Stale",
                "Answered on",
                "Evidence",
                "Notes",
                "Self-assessed",
                "Not observed",
                "Set by",
            ],
        ),
    ] {
        let (status, content_type, body) = get_bytes(
            &c,
            &format!("/api/v1/matrix?view=org&format=xlsx&lang={lang}&since={since}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.contains("spreadsheetml"));
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(body.clone())).unwrap();
        let names = workbook.sheet_names();
        assert_eq!(names[0], matrix_sheet);
        for sheet in sheets {
            assert!(names.iter().any(|n| n == sheet), "{sheet} in {names:?}");
        }
        let matrix = workbook.worksheet_range(matrix_sheet).unwrap();
        assert_eq!(string_at(&matrix, 1, 1), capability_header);
        let col = (4..10)
            .find(|col| string_at(&matrix, 1, *col) == ORG)
            .unwrap();
        // Rows 2.. are C01..C18.
        assert_eq!(string_at(&matrix, 2, 0), "C01");
        // Levels are numbers (Excel sorts and averages them), marks in the next column.
        assert_eq!(matrix.get_value((2, col)), Some(&Data::Float(2.0)));
        assert_eq!(string_at(&matrix, 2, col + 1), "▲");
        assert_eq!(
            (string_at(&matrix, 4, col), string_at(&matrix, 4, col + 1)),
            ("1".into(), "●".into()),
            "C03: p=none then and now"
        );
        assert_eq!(matrix.get_value((16, col)), Some(&Data::Float(4.0)));
        assert_eq!(
            string_at(&matrix, 16, col + 1),
            "S ✱",
            "C15 self-assessed, first assessment"
        );
        assert_eq!(
            matrix.get_value((9, col)),
            Some(&Data::String("?".into())),
            "C08 unknown"
        );
        // The fills, from the workbook's XML (calamine reads no styles): the spec's palette
        // by level, solid when observed, hatched over white when self-assessed.
        let fill = |row: u32| fill_of(&body, "xl/worksheets/sheet1.xml", &cell_ref(row, col));
        assert_eq!(fill(2), ("solid".into(), "FFFDDBC7".into()), "C01 at 2");
        assert_eq!(fill(4), ("solid".into(), "FFEF8A62".into()), "C03 at 1");
        assert_eq!(fill(9), ("solid".into(), "FFBDBDBD".into()), "C08 unknown");
        assert_eq!(
            fill(16),
            ("lightUp".into(), "FF2166AC".into()),
            "C15 self-assessed at 4: hatched"
        );
        // Trends (organization view): one row per organization and capability, the levels
        // then every detail a matrix note would give, in the chosen language.
        let trends = workbook.worksheet_range(sheets[1]).unwrap();
        let headers: Vec<String> = (0..trends.width() as u32)
            .map(|col| string_at(&trends, 0, col))
            .collect();
        let level_col = headers
            .iter()
            .position(|h| {
                h.starts_with(&format!(
                    "{} 2",
                    if lang == "fr" { "Niveau" } else { "Level" }
                ))
            })
            .unwrap() as u32;
        assert_eq!(
            headers[level_col as usize + 1..],
            [
                details[0].to_owned(),
                details[1].to_owned(),
                format!("{} ({since})", details[2]),
                details[3].to_owned(),
                details[4].to_owned(),
                details[5].to_owned(),
                details[6].to_owned(),
                details[7].to_owned(),
                details[10].to_owned(),
            ],
            "{headers:?}"
        );
        let row_of = |capability: &str| {
            (1..trends.height() as u32)
                .find(|r| {
                    string_at(&trends, *r, 0) == ORG && string_at(&trends, *r, 1) == capability
                })
                .unwrap()
        };
        let detail = |row: u32, i: u32| string_at(&trends, row, level_col + 1 + i);
        let c01 = row_of("C01");
        assert_eq!(string_at(&trends, c01, level_col), "2");
        assert_eq!(
            (detail(c01, 1), detail(c01, 2), detail(c01, 3)),
            ("▲".into(), "1".into(), "0/1".into())
        );
        assert!(
            detail(c01, 7).contains(details[9]),
            "C01 capped: {}",
            detail(c01, 7)
        );
        let c15 = row_of("C15");
        assert_eq!(string_at(&trends, c15, level_col), "4");
        assert_eq!(
            [
                detail(c15, 0),
                detail(c15, 1),
                detail(c15, 5),
                detail(c15, 6)
            ],
            [
                details[8].to_owned(),
                "✱".into(),
                answered_on.clone(),
                "idp-export.csv".into()
            ]
        );
        let method = workbook.worksheet_range(sheets[3]).unwrap();
        let all: Vec<String> = (0..15).map(|r| string_at(&method, r, 1)).collect();
        assert!(
            all.iter()
                .any(|v| v == &vigie_matrix::catalogue().rules_version),
            "{all:?}"
        );
        assert!(all.iter().any(|v| v.starts_with("modern")), "{all:?}");
    }
}

#[tokio::test]
async fn html_is_self_contained_printable_and_marked() {
    let (c, since) = collector_with_history().await;
    let (status, content_type, body) = get_bytes(
        &c,
        &format!("/api/v1/matrix?view=org&format=html&lang=fr&since={since}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("@page { size: landscape"));
    assert_eq!(
        html.matches("PROTÉGÉ A").count(),
        4,
        "the printed page's margin, the screen's top and bottom banners, and the method"
    );
    assert!(html.contains("@top-center { content: \"PROTÉGÉ A"));
    assert!(html.contains("@bottom-center { content: \"PROTECTED A"));
    assert!(html.contains("Matrice des capacités de cybersécurité"));
    assert!(html.contains("<th scope=\"row\">C03</th>"));
    // Both languages, equal in status; French shown first because it was asked for.
    assert!(html.contains("id=\"lang-fr\" checked>"));
    assert!(html.contains("<div class=\"version\" id=\"v-en\" lang=\"en\">"));
    assert_eq!(html.matches("PROTECTED A").count(), 4);
    assert!(html.find("id=\"v-fr\"") < html.find("id=\"v-en\""));
    assert!(
        html.contains("class=\"v l4 s\""),
        "self-assessed C15 is hatched"
    );
    // Every graded cell links to the findings that set it, and its tooltip names the check.
    assert!(
        html.contains(&format!(
            "<a href=\"/ui/orgs/{ORG}/findings?check=email.dmarc.policy&amp;target="
        )),
        "C03's cell links to its DMARC finding"
    );
    assert!(html.contains("Établi par\u{a0}: email.dmarc.policy @ "));
    assert!(html.contains("Set by: email.dmarc.policy @ "));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external resource"
    );
}

#[tokio::test]
async fn matrix_needs_a_viewer_token_and_valid_parameters() {
    let (c, _) = collector_with_history().await;
    let (status, body) = c.get("/api/v1/matrix", Some(&c.agent)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = c.get("/api/v1/matrix", None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    for query in [
        "format=docx",
        "lang=de",
        "view=all",
        "since=yesterday",
        "colour=1",
        "view=aggregate&org=x",
        "group_by=province",
        "view=org&group_by=region",
    ] {
        let (status, body) = c
            .get(&format!("/api/v1/matrix?{query}"), Some(&c.viewer))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_query");
    }
    let (status, body) = c
        .get("/api/v1/matrix?view=org&org=nobody", Some(&c.viewer))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // Grouped without any metadata: one group, every organization unassigned.
    let (status, body) = c
        .get("/api/v1/matrix?group_by=size-band", Some(&c.viewer))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["group_by"], "size-band");
    assert_eq!(body["groups"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["groups"][0]["key"].is_null());
}

#[tokio::test]
async fn metrics_expose_capability_levels() {
    let (c, _) = collector_with_history().await;
    let text = c.metrics().await;
    assert!(
        text.contains(&format!(
            "vigie_capability_level{{org=\"{ORG}\",capability=\"C03\"}} 1\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "vigie_capability_level{{org=\"{ORG}\",capability=\"C15\"}} 4\n"
    )));
    assert!(
        !text.contains(&format!("vigie_capability_level{{org=\"{OTHER_ORG}\"")),
        "unknown levels are not exported"
    );
}

/// The state at the comparison date is graded once and kept (migration 0007); a report about
/// that past which arrives afterwards (an agent's outbox catching up) must show in the next
/// export, not the kept levels.
#[tokio::test]
async fn a_late_report_about_the_past_changes_the_previous_levels_of_the_next_export() {
    let (c, since) = collector_with_history().await;
    let previous_c01 = |body: Vec<u8>, org: &str| -> Value {
        let json: Value = serde_json::from_slice(&body).unwrap();
        let orgs = json["orgs"].as_array().unwrap();
        let column = orgs.iter().find(|o| o["org"] == org).unwrap();
        cell(column, "C01")["previous_level"].clone()
    };
    let path = format!("/api/v1/matrix?view=org&format=json&lang=en&since={since}");
    let (status, _, body) = get_bytes(&c, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        previous_c01(body, OTHER_ORG),
        "?",
        "no data before the date"
    );
    let kept = c.rows_of("matrix_snapshots").await;
    assert!(kept >= 1, "the past states are kept: {kept}");

    // Read back from the store: the same answer, nothing graded again.
    let (_, _, again) = get_bytes(&c, &path).await;
    assert_eq!(previous_c01(again, ORG), 1);
    assert_eq!(c.rows_of("matrix_snapshots").await, kept);

    // The other organization's agent delivers a report from 40 days ago.
    let late = fixture_report(OTHER_ORG, Utc::now() - Duration::days(40), Status::Fail);
    let (status, body) = c.post(Some(&c.other_agent), body_of(&late)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, _, body) = get_bytes(&c, &path).await;
    assert_eq!(
        previous_c01(body, OTHER_ORG),
        1,
        "TLS 1.0 accepted 40 days ago: C01 was 1 at the comparison date"
    );
}

/// What `serve` runs hourly: the last four quarter ends graded and kept, so that a default
/// export (compared with the current quarter's start) grades only the present.
#[tokio::test]
async fn the_past_quarter_ends_are_graded_ahead_of_the_first_export() {
    let (c, _) = collector_with_history().await;
    assert_eq!(c.rows_of("matrix_snapshots").await, 0);
    vigie_collector::matrix::keep_past_states(
        c.store(),
        Utc::now(),
        vigie_matrix::TlsProfile::Modern,
    )
    .await
    .unwrap();
    assert_eq!(c.rows_of("matrix_snapshots").await, 4, "four quarter ends");
    // Nothing changed: kept as they are.
    vigie_collector::matrix::keep_past_states(
        c.store(),
        Utc::now(),
        vigie_matrix::TlsProfile::Modern,
    )
    .await
    .unwrap();
    let (status, _, _) = get_bytes(&c, "/api/v1/matrix?view=org&format=json&lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        c.rows_of("matrix_snapshots").await,
        4,
        "the default export compares with a kept quarter end"
    );
}

#[tokio::test]
async fn pdf_is_served_beside_the_other_formats_with_the_same_guard() {
    let (c, since) = collector_with_history().await;
    let path = format!("/api/v1/matrix?view=org&format=pdf&lang=fr&since={since}");
    let (status, content_type, body) = get_bytes(&c, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    assert!(body.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.pdf");
    std::fs::write(&file, &body).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(ORG), "{text}");
    assert!(text.contains("PROTÉGÉ A"));
    // No token, no PDF.
    let (status, _) = c.get(&path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
