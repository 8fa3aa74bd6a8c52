//! Vigie's Grafana dashboards, generated in English and French from `definitions.toml`.
//!
//! One definition per panel (title and description in both languages, the PromQL, the kind)
//! so that the two languages cannot drift apart and so that the tests can evaluate every
//! query against a real Prometheus. The JSON follows Grafana's dashboard model (schema 39)
//! with a `datasource` variable, so the files import into any Grafana with a Prometheus
//! data source.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

/// The definition file, embedded so that the generator and the tests read the same text.
pub const DEFINITIONS: &str = include_str!("../definitions.toml");

/// The languages dashboards are generated in.
pub const LANGS: [Lang; 2] = [Lang::En, Lang::Fr];

/// A dashboard language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// The folder name and the tag of the dashboards in this language.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// Why the definitions cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("dashboards/definitions.toml is not valid: {0}")]
    Parse(toml::de::Error),
    #[error("dashboards/definitions.toml: {0}")]
    Invalid(String),
}

/// A text in both languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub fr: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
        }
    }
}

/// A legend format: the same in both languages (`{{org}}`) or translated.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Legend {
    Same(String),
    Translated(Text),
}

impl Legend {
    pub fn get(&self, lang: Lang) -> &str {
        match self {
            Legend::Same(s) => s,
            Legend::Translated(t) => t.get(lang),
        }
    }
}

/// One PromQL query of a panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub expr: String,
    pub legend: Option<Legend>,
}

/// The table layout of a matrix panel: one row per `rows` label, one column per `columns`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixLayout {
    pub rows: String,
    pub columns: String,
}

/// One panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub kind: String,
    pub title: Text,
    pub description: Text,
    pub expr: Option<String>,
    pub legend: Option<Legend>,
    #[serde(default)]
    pub queries: Vec<Query>,
    #[serde(default)]
    pub instant: bool,
    pub unit: Option<String>,
    pub matrix: Option<MatrixLayout>,
    #[serde(default)]
    pub level_colours: bool,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
}

fn default_width() -> u32 {
    12
}

fn default_height() -> u32 {
    8
}

impl Panel {
    /// Every query of the panel, the single `expr` form included.
    pub fn all_queries(&self) -> Vec<Query> {
        let mut queries = Vec::new();
        if let Some(expr) = &self.expr {
            queries.push(Query {
                expr: expr.clone(),
                legend: self.legend.clone(),
            });
        }
        queries.extend(self.queries.iter().cloned());
        queries
    }
}

/// One dashboard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub uid: String,
    pub title: Text,
    pub description: Text,
    /// Whether the dashboard has the `$org` variable.
    #[serde(default)]
    pub org_variable: bool,
    /// One organization at a time (a drill-down) rather than several.
    #[serde(default)]
    pub org_single: bool,
    #[serde(rename = "panel")]
    pub panels: Vec<Panel>,
}

/// The whole definition file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    pub version: u32,
    #[serde(rename = "dashboard")]
    pub dashboards: Vec<Dashboard>,
}

const KINDS: [&str; 5] = ["stat", "timeseries", "table", "bargauge", "piechart"];

/// The capability matrix palette (levels 0–4), the exports' (docs/matrix.md).
pub const LEVEL_COLOURS: [&str; 5] = ["#B2182B", "#EF8A62", "#FDDBC7", "#67A9CF", "#2166AC"];

/// Parses and checks the definitions.
pub fn definitions() -> Result<Definitions, DefinitionError> {
    let defs: Definitions = toml::from_str(DEFINITIONS).map_err(DefinitionError::Parse)?;
    let mut uids = std::collections::BTreeSet::new();
    for d in &defs.dashboards {
        if !uids.insert(d.uid.as_str()) {
            return Err(DefinitionError::Invalid(format!(
                "dashboard uid {} is used twice",
                d.uid
            )));
        }
        if d.panels.is_empty() {
            return Err(DefinitionError::Invalid(format!("{} has no panel", d.uid)));
        }
        for p in &d.panels {
            if !KINDS.contains(&p.kind.as_str()) {
                return Err(DefinitionError::Invalid(format!(
                    "{}: panel {:?} has kind {:?}; use one of {KINDS:?}",
                    d.uid, p.title.en, p.kind
                )));
            }
            if p.all_queries().is_empty() {
                return Err(DefinitionError::Invalid(format!(
                    "{}: panel {:?} has no query",
                    d.uid, p.title.en
                )));
            }
            if p.width == 0 || p.width > 24 {
                return Err(DefinitionError::Invalid(format!(
                    "{}: panel {:?} is {} columns wide; Grafana has 24",
                    d.uid, p.title.en, p.width
                )));
            }
            if p.all_queries().iter().any(|q| q.expr.contains("$org")) && !d.org_variable {
                return Err(DefinitionError::Invalid(format!(
                    "{}: panel {:?} uses $org but the dashboard has no org variable",
                    d.uid, p.title.en
                )));
            }
        }
    }
    Ok(defs)
}

fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

fn level_thresholds() -> Value {
    let mut steps = vec![json!({ "color": LEVEL_COLOURS[0], "value": null })];
    for (level, colour) in LEVEL_COLOURS.iter().enumerate().skip(1) {
        steps.push(json!({ "color": colour, "value": level }));
    }
    json!({ "mode": "absolute", "steps": steps })
}

fn panel_json(panel: &Panel, id: usize, x: u32, y: u32, lang: Lang) -> Value {
    let targets: Vec<Value> = panel
        .all_queries()
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut t = json!({
                "datasource": datasource(),
                "expr": q.expr,
                "refId": char::from(b'A' + u8::try_from(i % 26).unwrap_or(0)).to_string(),
                "instant": panel.instant,
                "range": !panel.instant,
            });
            if panel.kind == "table" {
                t["format"] = json!("table");
            }
            if let Some(legend) = &q.legend {
                t["legendFormat"] = json!(legend.get(lang));
            }
            t
        })
        .collect();
    let mut defaults = json!({});
    if let Some(unit) = &panel.unit {
        defaults["unit"] = json!(unit);
    }
    if panel.level_colours {
        defaults["min"] = json!(0);
        defaults["max"] = json!(4);
        defaults["decimals"] = json!(0);
        defaults["thresholds"] = level_thresholds();
        defaults["color"] = json!({ "mode": "thresholds" });
        if panel.kind == "table" {
            defaults["custom"] = json!({
                "cellOptions": { "type": "color-background" },
                "align": "center"
            });
        }
    }
    let mut value = json!({
        "id": id,
        "type": panel.kind,
        "title": panel.title.get(lang),
        "description": panel.description.get(lang),
        "datasource": datasource(),
        "gridPos": { "x": x, "y": y, "w": panel.width, "h": panel.height },
        "targets": targets,
        "fieldConfig": { "defaults": defaults, "overrides": [] },
    });
    let mut transformations = Vec::new();
    if let Some(matrix) = &panel.matrix {
        transformations.push(json!({
            "id": "groupingToMatrix",
            "options": {
                "rowField": matrix.rows,
                "columnField": matrix.columns,
                "valueField": "Value"
            }
        }));
    } else if panel.kind == "table" {
        transformations.push(json!({
            "id": "organize",
            "options": { "excludeByName": { "Time": true } }
        }));
    }
    if !transformations.is_empty() {
        value["transformations"] = json!(transformations);
    }
    if panel.kind == "stat" || panel.kind == "bargauge" || panel.kind == "piechart" {
        value["options"] = json!({
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false }
        });
    }
    value
}

/// The Grafana JSON of one dashboard in one language.
pub fn render(dashboard: &Dashboard, version: u32, lang: Lang) -> Value {
    // Panels flow left to right in rows of 24 columns.
    let mut panels = Vec::new();
    let (mut x, mut y, mut row_height) = (0u32, 0u32, 0u32);
    for (i, panel) in dashboard.panels.iter().enumerate() {
        if x + panel.width > 24 {
            x = 0;
            y += row_height;
            row_height = 0;
        }
        panels.push(panel_json(panel, i + 1, x, y, lang));
        x += panel.width;
        row_height = row_height.max(panel.height);
    }
    let mut variables = vec![json!({
        "name": "datasource",
        "label": match lang { Lang::En => "Data source", Lang::Fr => "Source de données" },
        "type": "datasource",
        "query": "prometheus",
        "hide": 0,
        "current": {},
    })];
    if dashboard.org_variable {
        variables.push(json!({
            "name": "org",
            "label": match lang { Lang::En => "Organization", Lang::Fr => "Organisation" },
            "type": "query",
            "datasource": datasource(),
            "query": { "query": "label_values(vigie_findings, org)", "refId": "org" },
            "definition": "label_values(vigie_findings, org)",
            "refresh": 2,
            "sort": 1,
            "multi": !dashboard.org_single,
            "includeAll": !dashboard.org_single,
            "allValue": ".*",
            "hide": 0,
            "current": {},
        }));
    }
    json!({
        "uid": format!("{}-{}", dashboard.uid, lang.code()),
        "title": dashboard.title.get(lang),
        "description": dashboard.description.get(lang),
        "tags": ["vigie", lang.code()],
        "schemaVersion": 39,
        "version": version,
        "editable": false,
        "timezone": "browser",
        "time": { "from": "now-30d", "to": "now" },
        "refresh": "5m",
        "templating": { "list": variables },
        "annotations": { "list": [] },
        "links": [],
        "panels": panels,
    })
}

/// Where the generated dashboards live, relative to this crate.
pub fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana")
}

/// Every generated file: its path under `grafana/` and its text.
pub fn generated() -> Result<Vec<(PathBuf, String)>, DefinitionError> {
    let defs = definitions()?;
    let mut files = Vec::new();
    for lang in LANGS {
        for d in &defs.dashboards {
            let value = render(d, defs.version, lang);
            let mut text = serde_json::to_string_pretty(&value)
                .map_err(|e| DefinitionError::Invalid(format!("cannot render {}: {e}", d.uid)))?;
            text.push('\n');
            files.push((
                PathBuf::from(lang.code()).join(format!("{}.json", d.uid)),
                text,
            ));
        }
    }
    Ok(files)
}
