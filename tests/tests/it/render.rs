//! The HTML export of the capability matrix rendered by headless Chromium (Debian's
//! `chromium`), as a reader would print or view it: for the aggregate and organization
//! views in English and French, `--print-to-pdf` must give a PDF that parses (poppler's
//! `pdfinfo`), whose every page is landscape (MediaBox wider than high) and carries the
//! classification marking (`pdftotext`, page by page); `--screenshot` must give a PNG of
//! the window's size. Skipped, with the reason printed, only when chromium or poppler is
//! missing (`scripts/test` installs both).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{Duration as Span, SecondsFormat, Utc};
use serde_json::{json, Value};
use vigie_tests::harness::{self, Collector};

fn finding(check: &str, target: &str, status: &str) -> Value {
    json!({
        "check": check, "target": target, "status": status, "severity": "high",
        "summary": format!("{check}: {status}"), "evidence": {},
    })
}

fn report(org: &str, n: usize, good: bool) -> String {
    let at = Utc::now() - Span::minutes(5);
    let www = format!("www.{org}.test:443");
    let domain = format!("{org}.test");
    let s = |ok: bool| if ok { "pass" } else { "fail" };
    json!({
        "schema": "vigie.report.v1",
        "report_id": format!("00000000-0000-4000-8000-{n:012}"),
        "agent": {"id": format!("agent-{org}"), "version": "0.1.0", "hostname": "srv"},
        "org": org,
        "started_at": (at - Span::seconds(5)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "finished_at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "targets": [{"kind": "tls", "target": www}, {"kind": "email", "target": domain}],
        "findings": [
            finding("tls.connect", &www, "pass"),
            finding("tls.protocol.tls1_0", &www, s(good)),
            finding("https.hsts", &www, s(good)),
            finding("email.dmarc.missing", &domain, s(good)),
            finding("email.dmarc.policy", &domain, s(good)),
        ],
        "profile": "modern",
    })
    .to_string()
}

fn found(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
}

/// Runs headless Chromium on `html` with `args` (the output flag), in a fresh profile.
fn chromium(html: &Path, profile: &Path, args: &[String]) {
    let output = harness::run(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-pdf-header-footer",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .arg(format!("file://{}", html.display())),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tool(program: &str, args: &[&str]) -> String {
    let output = harness::run(Command::new(program).args(args), Duration::from_secs(60));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The width and height of a PNG, after checking its signature and first chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG of {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is not IHDR");
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (width, height)
}

/// Checks the PDF page by page; returns its page count.
fn check_pdf(pdf: &Path, markings: &[&str]) -> usize {
    let bytes = std::fs::read(pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF: {}", pdf.display());
    let path = pdf.to_str().unwrap();
    let info = tool("pdfinfo", &[path]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo gives no page count:\n{info}"));
    assert!(pages >= 2, "expected several pages, got {pages}");
    let last = pages.to_string();
    let boxes = tool("pdfinfo", &["-box", "-f", "1", "-l", &last, path]);
    let media: Vec<(f64, f64)> = boxes
        .lines()
        .filter(|l| l.contains("MediaBox:"))
        .map(|l| {
            let n: Vec<f64> = l
                .split("MediaBox:")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            (n[2] - n[0], n[3] - n[1])
        })
        .collect();
    assert_eq!(media.len(), pages, "{boxes}");
    for (i, (width, height)) in media.iter().enumerate() {
        assert!(
            width > height,
            "page {} is not landscape: {width} × {height}",
            i + 1
        );
    }
    for page in 1..=pages {
        let n = page.to_string();
        let text = tool("pdftotext", &["-f", &n, "-l", &n, path, "-"]);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for marking in markings {
            // pdftotext's spaces are compared as the text's are: any Unicode space (the
            // French narrow no-break space before `;` among them) as one ASCII space.
            let marking = marking.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                text.contains(&marking),
                "page {page} of {} lacks the marking `{marking}`:\n{text}",
                pdf.display()
            );
        }
    }
    pages
}

#[test]
fn the_html_matrix_prints_to_landscape_pdf_pages_each_marked_and_to_png() {
    for program in ["chromium", "pdfinfo", "pdftotext"] {
        if !found(program) {
            eprintln!(
                "SKIPPED: `{program}` is not installed (apt-get install chromium poppler-utils; scripts/test does)"
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path());
    for n in 0..6 {
        let org = format!("org-{n}");
        let token = collector.agent_token(&org);
        let (status, body) = harness::http_post_json(
            &collector.url("/api/v1/reports"),
            Some(&token),
            &report(&org, n, n % 2 == 0),
        )
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }

    let cases = [
        (
            "aggregate",
            "en",
            "TLP:AMBER — sector aggregate; no organization named",
        ),
        (
            "aggregate",
            "fr",
            "TLP:AMBER — agrégat du secteur\u{202f}; aucune organisation nommée",
        ),
        (
            "org",
            "en",
            "PROTECTED A — TLP:AMBER — names organizations; do not forward",
        ),
        (
            "org",
            "fr",
            "PROTÉGÉ A — TLP:AMBER — nomme des organisations\u{202f}; ne pas transférer",
        ),
    ];
    for (i, (view, lang, marking)) in cases.iter().copied().enumerate() {
        // Both languages' markings on every page: the chosen one at the top, the other at
        // the bottom.
        let other = cases[i ^ 1].2;
        let html: PathBuf = dir.path().join(format!("matrix-{view}-{lang}.html"));
        collector.manage(&[
            "matrix",
            "export",
            "--view",
            view,
            "--format",
            "html",
            "--lang",
            lang,
            "--out",
            html.to_str().unwrap(),
        ]);
        let profile = tempfile::tempdir().unwrap();
        let pdf = dir.path().join(format!("matrix-{view}-{lang}.pdf"));
        chromium(
            &html,
            profile.path(),
            &[format!("--print-to-pdf={}", pdf.display())],
        );
        let pages = check_pdf(&pdf, &[marking, other]);
        eprintln!("{view} {lang}: {pages} landscape pages, each marked");

        let png = dir.path().join(format!("matrix-{view}-{lang}.png"));
        chromium(
            &html,
            profile.path(),
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1280,900".to_owned(),
            ],
        );
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(png_size(&bytes), (1280, 900), "{}", png.display());
        // A blank page compresses to almost nothing; the matrix's colours do not.
        assert!(
            bytes.len() > 20_000,
            "PNG of {} bytes looks empty",
            bytes.len()
        );
    }
}
