//! The docs say what the code does: every route of the router and every error code of the
//! API is in `docs/api.md` (and the page names no other), every metric the collector
//! writes is in its `/metrics` table, the answers the page promises for an unknown path and
//! a wrong method are the router's, no file of the repository points outside it, and every
//! path a Markdown file names exists.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The text of a call's parentheses, from just after `(` at `start` to its matching `)`.
fn call_arguments(source: &str, start: usize) -> &str {
    let mut depth = 1usize;
    for (offset, c) in source[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &source[start..start + offset];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {start}");
}

/// `(METHOD, path)` of every `.route("path", get(…).post(…))` of a router source.
fn routes_in(source: &str) -> Vec<(String, String)> {
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
    let mut routes = Vec::new();
    for (at, _) in source.match_indices(".route(") {
        let arguments = call_arguments(source, at + ".route(".len());
        let path = arguments
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("a route without a literal path: {arguments}"));
        let handlers = &arguments[arguments.find(',').unwrap_or(0)..];
        let mut found = 0;
        for method in METHODS {
            for (i, _) in handlers.match_indices(&format!("{method}(")) {
                let before = handlers[..i].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    routes.push((method.to_ascii_uppercase(), path.to_owned()));
                    found += 1;
                }
            }
        }
        assert!(found > 0, "no method found for route {path}: {arguments}");
    }
    routes
}

/// Every route of the collector, from the sources of `app()` and the web view.
fn code_routes() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for file in [
        "collector/src/api/mod.rs",
        "collector/src/api/web.rs",
        "collector/src/api/card.rs",
        "collector/src/api/triage.rs",
    ] {
        let routes = routes_in(&read(file));
        assert!(!routes.is_empty(), "no route found in {file}");
        for (method, path) in routes {
            all.insert(format!("{method} {path}"));
        }
    }
    all
}

/// The routes `docs/api.md` gives a section: headings "### `METHOD /path`".
fn documented_routes(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|line| line.strip_prefix("### `"))
        .filter_map(|rest| rest.strip_suffix('`'))
        .map(str::to_owned)
        .collect()
}

/// The values of the `code` module's constants in `api/error.rs`.
fn code_error_codes() -> BTreeSet<String> {
    let source = read("collector/src/api/error.rs");
    let start = source
        .find("pub mod code {")
        .expect("api/error.rs has a `pub mod code`");
    let module = &source[start..start + source[start..].find("\n}").expect("end of mod code")];
    let codes: BTreeSet<String> = module
        .lines()
        .filter(|line| line.trim_start().starts_with("pub const"))
        .map(|line| {
            line.split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("a code constant without a literal: {line}"))
                .to_owned()
        })
        .collect();
    assert!(codes.len() >= 10, "only {} codes found", codes.len());
    codes
}

/// The first cell of each row of the table under "## Errors".
fn documented_error_codes(doc: &str) -> BTreeSet<String> {
    let start = doc
        .find("\n## Errors\n")
        .expect("docs/api.md has ## Errors");
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let doc = read("docs/api.md");
    let code = code_routes();
    let documented = documented_routes(&doc);
    let missing: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "routes without a `### `METHOD /path`` section in docs/api.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/api.md documents routes the collector does not have: {unknown:?}"
    );
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_exists() {
    let doc = read("docs/api.md");
    let code = code_error_codes();
    let documented = documented_error_codes(&doc);
    let missing: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "error codes missing from the table of docs/api.md's ## Errors: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/api.md's ## Errors names codes the collector does not have: {unknown:?}"
    );
}

#[test]
fn every_metric_of_the_golden_page_is_documented() {
    let doc = read("docs/api.md");
    let page = read("collector/tests/snapshots/metrics.txt");
    let metrics: BTreeSet<&str> = page
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(metrics.len() >= 10, "only {} metrics found", metrics.len());
    for metric in metrics {
        assert!(
            doc.contains(&format!("| `{metric}` |")),
            "{metric} is written by /metrics but has no row in docs/api.md"
        );
    }
}

#[tokio::test]
async fn an_unknown_path_and_a_wrong_method_answer_as_the_page_says() {
    let c = TestCollector::new().await;
    let (status, body) = c.get("/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    // The answer says where to go on this collector, not to a file a deployed collector's
    // user does not have.
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("/ui") && detail.contains("/api/v1"),
        "{detail}"
    );
    assert!(!detail.contains(".md"), "{detail}");
    // `/` is the web view's door.
    let (status, _, _) = c.send(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, _, body) = c
        .send(Request::get("/api/v1/reports").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));

    let response = c
        .send(Request::get("/ui").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.0, StatusCode::SEE_OTHER, "/ui redirects with 303");
}

#[tokio::test]
async fn a_request_without_a_token_is_told_how_to_authenticate() {
    let c = TestCollector::new().await;
    let response = tower::ServiceExt::oneshot(
        vigie_collector::app(c.state.clone()),
        Request::get("/api/v1/orgs").body(Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer"
    );
}

/// Files the product is made of, outside build output and version control.
fn repository_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            repository_files(&path, out);
        } else if [
            "rs", "md", "toml", "sh", "yml", "yaml", "json", "txt", "csv", "html",
        ]
        .iter()
        .any(|ext| name.ends_with(&format!(".{ext}")))
            || path.parent().is_some_and(|p| p.ends_with("scripts"))
        {
            out.push(path);
        }
    }
}

#[test]
fn no_file_points_outside_the_repository() {
    // Built from pieces, so that this file does not find itself.
    let needles = [
        concat!("DESIGN", ".md"),
        concat!("../", "shared"),
        concat!("spec/", "checks.md"),
        concat!("spec/", "capability-matrix.md"),
    ];
    let mut files = Vec::new();
    repository_files(&repo_root(), &mut files);
    assert!(files.len() > 100, "only {} files found", files.len());
    let mut offenders = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for needle in needles {
            if text.contains(needle) {
                offenders.push(format!("{} names {needle}", file.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the repository must hold its own contracts (docs/api.md, docs/checks.md, …): {offenders:#?}"
    );
}

/// The keys serde expected in place of a made-up one in a collector config file.
fn file_config_expected_keys(text: &str) -> Option<Vec<String>> {
    const BOGUS: &str = "zz_not_a_key";
    let text = text.replace("BOGUS", BOGUS);
    let error = match toml::from_str::<vigie_collector::config::FileConfig>(&text) {
        Ok(_) => panic!("a collector config with the made-up key `{BOGUS}` was accepted:\n{text}"),
        Err(error) => error.to_string(),
    };
    let unknown = format!("unknown field `{BOGUS}`, expected ");
    let rest = &error[error.find(&unknown)? + unknown.len()..];
    let rest = rest.strip_prefix("one of ").unwrap_or(rest);
    let mut keys = Vec::new();
    let mut cursor = rest;
    while let Some(after) = cursor.strip_prefix('`') {
        let end = after.find('`').expect("a closing backtick");
        keys.push(after[..end].to_owned());
        cursor = after[end + 1..].trim_start_matches([',', ' ']);
    }
    assert!(!keys.is_empty(), "no key list in: {error}");
    Some(keys)
}

/// Every key the collector's config file accepts, as `key` or `section.key`. Read from
/// `FileConfig` itself: it and its tables reject unknown keys, and serde's refusal lists
/// every field, so the set is complete by construction.
fn collector_file_keys() -> BTreeSet<String> {
    let top = file_config_expected_keys("BOGUS = 1\n").expect("the file refuses unknown keys");
    let mut all = BTreeSet::new();
    for key in top {
        if let Some(inner) = file_config_expected_keys(&format!("[{key}]\nBOGUS = 1\n")) {
            for inner in inner {
                all.insert(format!("{key}.{inner}"));
            }
        }
        all.insert(key);
    }
    all
}

/// The file keys CONFIGURATION.md documents for the collector: the `file key` column of
/// its flag table, and the keys of its TOML examples.
fn documented_collector_file_keys() -> BTreeSet<String> {
    let text = read("CONFIGURATION.md");
    let start = text
        .find("\n# Configuring the collector")
        .expect("CONFIGURATION.md has # Configuring the collector");
    let part = &text[start..];
    let mut keys = BTreeSet::new();
    let mut column: Option<usize> = None;
    let mut in_toml = false;
    let mut section = String::new();
    for line in part.lines() {
        if line.starts_with("```") {
            in_toml = line == "```toml";
            section.clear();
            continue;
        }
        if in_toml {
            let line = line.split('#').next().unwrap_or_default().trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                keys.insert(section.clone());
            } else if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                keys.insert(if section.is_empty() {
                    key.to_owned()
                } else {
                    format!("{section}.{key}")
                });
            }
            continue;
        }
        if !line.starts_with('|') {
            column = None;
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let Some(index) = cells.iter().position(|cell| *cell == "file key") {
            column = Some(index);
            continue;
        }
        if let Some(cell) = column.and_then(|index| cells.get(index)) {
            for key in cell.split('`').skip(1).step_by(2) {
                keys.insert(key.to_owned());
            }
        }
    }
    keys
}

#[test]
fn configuration_md_documents_every_collector_file_key_and_no_other() {
    let accepted = collector_file_keys();
    assert!(
        accepted.contains("listen") && accepted.contains("retention.reports_days"),
        "the probe found too little: {accepted:?}"
    );
    let documented = documented_collector_file_keys();
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty(),
        "collector file keys CONFIGURATION.md does not document: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "CONFIGURATION.md documents collector file keys FileConfig refuses: {unknown:?}"
    );
}

/// Every `agent/…`, `checks/…`, `collector/…` (and the other top-level folders') path a
/// Markdown file names, with the file that names it.
fn paths_named_in(text: &str) -> Vec<String> {
    const ROOTS: [&str; 7] = [
        "agent/",
        "checks/",
        "collector/",
        "dashboards/",
        "docs/",
        "scripts/",
        "tests/",
    ];
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut paths = Vec::new();
    for root in ROOTS {
        for (at, _) in text.match_indices(root) {
            if text[..at].chars().next_back().is_some_and(is_path_char) {
                continue;
            }
            let rest = &text[at..];
            let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
            // A pattern (`locales/{en,fr}`, `checks/src/<family>/`, `*.rs`), not a path.
            if rest[end..].starts_with(['{', '<', '*']) {
                continue;
            }
            paths.push(
                rest[..end]
                    .trim_end_matches(['.', ',', ':', ';'])
                    .to_owned(),
            );
        }
    }
    paths
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = repo_root();
    let mut files = Vec::new();
    repository_files(&root, &mut files);
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let base = file.parent().unwrap_or(&root);
        for path in paths_named_in(&text) {
            checked += 1;
            if !root.join(&path).exists() && !base.join(&path).exists() {
                broken.push(format!("{} names {path}", file.display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found");
    assert!(broken.is_empty(), "paths that do not exist: {broken:#?}");
}
