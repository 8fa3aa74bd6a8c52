//! The committed dashboards, provisioning, scrape config and alert rules are what the
//! definitions say, and Prometheus's own tool accepts them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs promtool in the dashboards folder; promtool comes from Debian's `prometheus` package,
/// which scripts/test installs.
fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}): install Debian's prometheus package")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn committed_dashboards_match_the_definitions() {
    let files = vigie_dashboards::generated().unwrap();
    let bless = std::env::var_os("VIGIE_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, text) in &files {
        let full = vigie_dashboards::output_dir().join(path);
        if bless {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, text).unwrap();
        } else if std::fs::read_to_string(&full).ok().as_deref() != Some(text.as_str()) {
            stale.push(full.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale dashboards (run `cargo run -p vigie-dashboards` or VIGIE_BLESS=1): {stale:?}"
    );
    // Nothing else sits in the language folders.
    for lang in vigie_dashboards::LANGS {
        let dir = vigie_dashboards::output_dir().join(lang.code());
        let count = std::fs::read_dir(&dir).unwrap().count();
        let defs = vigie_dashboards::definitions().unwrap();
        assert_eq!(
            count,
            defs.dashboards.len(),
            "extra files in {}",
            dir.display()
        );
    }
}

#[test]
fn every_dashboard_exists_in_both_languages_with_translated_texts() {
    let defs = vigie_dashboards::definitions().unwrap();
    assert!(defs.dashboards.len() >= 7);
    for d in &defs.dashboards {
        assert_ne!(d.title.en, d.title.fr, "{}", d.uid);
        for p in &d.panels {
            assert_ne!(p.title.en, p.title.fr, "{}: untranslated title", d.uid);
            assert_ne!(
                p.description.en, p.description.fr,
                "{}: untranslated description",
                d.uid
            );
        }
    }
}

#[test]
fn panels_do_not_overlap_and_use_the_datasource_variable() {
    for (path, text) in vigie_dashboards::generated().unwrap() {
        let dashboard: Value = serde_json::from_str(&text).unwrap();
        let panels = dashboard["panels"].as_array().unwrap();
        let mut boxes = Vec::new();
        for p in panels {
            assert_eq!(
                p["datasource"]["uid"],
                "${datasource}",
                "{}",
                path.display()
            );
            let g = &p["gridPos"];
            let b = [
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            ];
            assert!(
                b[0] + b[2] <= 24,
                "{}: panel beyond 24 columns",
                path.display()
            );
            for o in &boxes {
                let [x, y, w, h]: [u64; 4] = *o;
                let apart = b[0] >= x + w || x >= b[0] + b[2] || b[1] >= y + h || y >= b[1] + b[3];
                assert!(apart, "{}: panels overlap: {b:?} and {o:?}", path.display());
            }
            boxes.push(b);
            assert!(!p["targets"].as_array().unwrap().is_empty());
        }
    }
}

#[test]
fn queries_use_only_metrics_the_collector_documents() {
    let design_metrics = [
        "vigie_capability_level",
        "vigie_findings",
        "vigie_check_failing",
        "vigie_check_findings",
        "vigie_tls_cert_not_after_timestamp_seconds",
        "vigie_tls_protocol_accepted",
        "vigie_email_dmarc_policy",
        "vigie_exposed_service",
        "vigie_host_pending_security_updates",
        "vigie_host_os_eol",
        "vigie_agent_last_report_timestamp_seconds",
        "vigie_ingest_reports_total",
        "vigie_ingest_duration_seconds_bucket",
    ];
    let defs = vigie_dashboards::definitions().unwrap();
    let mut used = std::collections::BTreeSet::new();
    for d in &defs.dashboards {
        for p in &d.panels {
            for q in p.all_queries() {
                let names: Vec<String> = q
                    .expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("vigie_"))
                    .map(str::to_owned)
                    .collect();
                assert!(
                    !names.is_empty(),
                    "{}: query without a vigie metric: {}",
                    d.uid,
                    q.expr
                );
                for name in names {
                    assert!(
                        design_metrics.contains(&name.as_str()),
                        "{}: unknown metric {name}",
                        d.uid
                    );
                    used.insert(name);
                }
            }
        }
    }
    // Every family the sector lead watches has a panel.
    assert_eq!(
        used.len(),
        design_metrics.len(),
        "metrics without a panel: {:?}",
        design_metrics
            .iter()
            .filter(|m| !used.contains(**m))
            .collect::<Vec<_>>()
    );
}

#[test]
fn level_colours_are_the_matrix_palette() {
    let text = std::fs::read_to_string(root().join("grafana/en/vigie-sector.json")).unwrap();
    for colour in vigie_dashboards::LEVEL_COLOURS {
        assert!(
            text.contains(colour),
            "{colour} missing from the sector heat map"
        );
    }
}

/// The scrape config as an operator installs it: beside its rules and the scrape token file
/// it names (promtool checks that the file exists). Without the file it is refused, so an
/// operator who forgot the token hears it from promtool rather than from a silent target.
#[test]
fn promtool_accepts_the_scrape_config_and_the_rules() {
    let installed = tempfile::tempdir().unwrap();
    for file in ["prometheus.yml", "alerts.yml"] {
        std::fs::copy(root().join(file), installed.path().join(file)).unwrap();
    }
    let check = || {
        Command::new("promtool")
            .args(["check", "config", "prometheus.yml"])
            .current_dir(installed.path())
            .output()
            .expect("promtool runs")
    };
    let missing = check();
    assert!(!missing.status.success(), "the token file is required");
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("vigie-scrape.token"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    std::fs::write(installed.path().join("vigie-scrape.token"), "vgs_example\n").unwrap();
    let ok = check();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success() && out.contains("SUCCESS"), "{out}");
    let config = std::fs::read_to_string(root().join("prometheus.yml")).unwrap();
    assert!(
        config.contains("type: Bearer") && config.contains("credentials_file: vigie-scrape.token"),
        "Prometheus sends the scrape token"
    );
    let out = promtool(&["check", "rules", "alerts.yml"]);
    assert!(out.contains("SUCCESS: 5 rules found"), "{out}");
}

#[test]
fn alert_rules_fire_when_they_should_and_not_before() {
    let out = promtool(&["test", "rules", "alerts.test.yml"]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn provisioning_points_at_both_language_folders() {
    let text =
        std::fs::read_to_string(root().join("grafana/provisioning/dashboards/vigie.yml")).unwrap();
    assert!(text.contains("/dashboards/vigie/en") && text.contains("/dashboards/vigie/fr"));
}
