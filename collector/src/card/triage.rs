//! The sector's triage tables: plain rows of typed values, so that one function sorts,
//! filters and writes each as CSV, whatever its columns.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::matrix::Matrix;
use crate::store::TriageState;

/// How far ahead the certificates table looks.
pub const EXPIRY_HORIZON_DAYS: i64 = 30;

/// The schedule assumed for an agent with a single stored report: the agent's default
/// `agent.schedule`.
pub const DEFAULT_SCHEDULE: Duration = Duration::hours(6);

/// One cell of a triage table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    Number(i64),
    /// A share, 0–1.
    Share(Option<f64>),
    Time(DateTime<Utc>),
}

impl Value {
    /// The text shown and written to CSV.
    pub fn text(&self) -> String {
        match self {
            Value::Text(text) => text.clone(),
            Value::Number(n) => n.to_string(),
            Value::Share(Some(share)) => format!("{:.0}", share * 100.0),
            Value::Share(None) => String::new(),
            Value::Time(time) => time.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    fn cmp(&self, other: &Value) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Share(a), Value::Share(b)) => match (a, b) {
                (Some(a), Some(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
                (a, b) => a.is_some().cmp(&b.is_some()),
            },
            (a, b) => a.text().cmp(&b.text()),
        }
    }
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableId {
    Certificates,
    Failures,
    Silent,
    Ranking,
}

impl TableId {
    pub const ALL: [TableId; 4] = [
        TableId::Certificates,
        TableId::Failures,
        TableId::Silent,
        TableId::Ranking,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TableId::Certificates => "certificates",
            TableId::Failures => "failures",
            TableId::Silent => "silent",
            TableId::Ranking => "ranking",
        }
    }

    pub fn parse(text: &str) -> Option<TableId> {
        TableId::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Its columns' locale keys (`triage.col.*`).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            TableId::Certificates => &["org", "target", "not_after", "days_left"],
            TableId::Failures => &["check", "severity", "orgs", "targets", "org_list"],
            TableId::Silent => &[
                "org",
                "agent",
                "last_report",
                "schedule_hours",
                "silent_hours",
            ],
            TableId::Ranking => &[
                "org",
                "region",
                "size_band",
                "at_baseline",
                "known",
                "share",
            ],
        }
    }
}

/// One table: its rows, one value per column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub id: TableId,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// Keeps the rows with a cell containing `filter` (case-insensitive); all when empty.
    pub fn filter(&mut self, filter: &str) {
        let needle = filter.trim().to_lowercase();
        if needle.is_empty() {
            return;
        }
        self.rows.retain(|row| {
            row.iter()
                .any(|value| value.text().to_lowercase().contains(&needle))
        });
    }

    /// Sorts by the column named `column` (a key of [`TableId::columns`]), descending if
    /// `descending`; an unknown column leaves the order. Stable: ties keep their order.
    pub fn sort(&mut self, column: &str, descending: bool) {
        let Some(i) = self.id.columns().iter().position(|c| *c == column) else {
            return;
        };
        self.rows.sort_by(|a, b| {
            let order = match (a.get(i), b.get(i)) {
                (Some(a), Some(b)) => a.cmp(b),
                _ => std::cmp::Ordering::Equal,
            };
            if descending {
                order.reverse()
            } else {
                order
            }
        });
    }

    /// The table as CSV (RFC 4180) under `headers`; a cell that a spreadsheet would run
    /// as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
    pub fn csv(&self, headers: &[String]) -> String {
        fn field(text: &str) -> String {
            let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r'])
                && text.parse::<f64>().is_err()
            {
                format!("'{text}")
            } else {
                text.to_owned()
            };
            if text.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text
            }
        }
        let mut out = String::new();
        let line =
            |cells: Vec<String>| cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
        out.push_str(&line(headers.to_vec()));
        out.push_str("\r\n");
        for row in &self.rows {
            out.push_str(&line(row.iter().map(Value::text).collect()));
            out.push_str("\r\n");
        }
        out
    }
}

/// Certificates of current endpoints that expire within [`EXPIRY_HORIZON_DAYS`] (or have
/// expired), soonest first.
pub fn certificates(state: &TriageState, now: DateTime<Utc>) -> Table {
    let horizon = now + Duration::days(EXPIRY_HORIZON_DAYS);
    Table {
        id: TableId::Certificates,
        rows: state
            .certificates
            .iter()
            .filter(|c| c.not_after < horizon)
            .map(|c| {
                vec![
                    Value::Text(c.org.clone()),
                    Value::Text(c.target.clone()),
                    Value::Time(c.not_after),
                    Value::Number((c.not_after - now).num_days()),
                ]
            })
            .collect(),
    }
}

/// Critical and high failures by check across organizations: most organizations first.
pub fn failures(state: &TriageState) -> Table {
    // (check, worst severity first) → (orgs, targets).
    type Key<'a> = (&'a str, std::cmp::Reverse<vigie_model::Severity>);
    let mut by_check: BTreeMap<Key<'_>, (Vec<&str>, u64)> = BTreeMap::new();
    for f in &state.failures {
        let entry = by_check
            .entry((f.check.as_str(), std::cmp::Reverse(f.severity)))
            .or_default();
        if !entry.0.contains(&f.org.as_str()) {
            entry.0.push(&f.org);
        }
        entry.1 += f.targets;
    }
    let mut rows: Vec<Vec<Value>> = by_check
        .into_iter()
        .map(|((check, severity), (orgs, targets))| {
            vec![
                Value::Text(check.to_owned()),
                Value::Text(severity.0.as_str().to_owned()),
                Value::Number(i64::try_from(orgs.len()).unwrap_or(i64::MAX)),
                Value::Number(i64::try_from(targets).unwrap_or(i64::MAX)),
                Value::Text(orgs.join(" ")),
            ]
        })
        .collect();
    rows.sort_by(|a, b| b[2].cmp(&a[2]));
    Table {
        id: TableId::Failures,
        rows,
    }
}

/// Agents silent for more than twice their schedule, longest silent first. The schedule is
/// not sent by agents: it is taken as the time between an agent's last two reports, or
/// [`DEFAULT_SCHEDULE`] when only one is stored.
pub fn silent(state: &TriageState, now: DateTime<Utc>) -> Table {
    let mut rows: Vec<(Duration, Vec<Value>)> = state
        .agents
        .iter()
        .filter_map(|a| {
            let schedule = a
                .previous_report_at
                .map(|p| a.last_report_at - p)
                .filter(|d| *d > Duration::zero())
                .unwrap_or(DEFAULT_SCHEDULE);
            let silent_for = now - a.last_report_at;
            (silent_for > schedule * 2).then(|| {
                (
                    silent_for,
                    vec![
                        Value::Text(a.org.clone()),
                        Value::Text(a.agent.clone()),
                        Value::Time(a.last_report_at),
                        Value::Number(schedule.num_hours()),
                        Value::Number(silent_for.num_hours()),
                    ],
                )
            })
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    Table {
        id: TableId::Silent,
        rows: rows.into_iter().map(|(_, row)| row).collect(),
    }
}

/// Organizations ranked by baseline attainment (the share of known capabilities at level 3
/// or more), highest first, with their region and size band (`meta`: org → (region, band)).
pub fn ranking(
    matrix: &Matrix,
    meta: &BTreeMap<String, (Option<String>, Option<String>)>,
) -> Table {
    let mut rows: Vec<Vec<Value>> = matrix
        .orgs
        .iter()
        .map(|column| {
            let (at, known) = column.baseline_attainment();
            let (region, band) = meta.get(&column.org).cloned().unwrap_or_default();
            vec![
                Value::Text(column.org.clone()),
                Value::Text(region.unwrap_or_default()),
                Value::Text(band.unwrap_or_default()),
                Value::Number(i64::try_from(at).unwrap_or(i64::MAX)),
                Value::Number(i64::try_from(known).unwrap_or(i64::MAX)),
                Value::Share((known > 0).then(|| at as f64 / known as f64)),
            ]
        })
        .collect();
    rows.sort_by(|a, b| b[5].cmp(&a[5]).then_with(|| a[0].cmp(&b[0])));
    Table {
        id: TableId::Ranking,
        rows,
    }
}
