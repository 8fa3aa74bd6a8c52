//! The capability matrix of the sector, computed from the store: the latest verdicts and
//! answers of every organization graded by `vigie-matrix`, their change since a date
//! (rebuilt from the status history), the last four quarters, and the sector aggregate.
//! The exports ([`crate::export`]) only lay this out.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use vigie_matrix::grade::{self, Cell, Value};
use vigie_matrix::{catalogue, Answer, FindingFact, Inputs, TlsProfile};
use vigie_model::Lang;

use crate::store::{MatrixState, Store, StoreError};

mod past;

/// Which layout: one column per organization, or the sector aggregate (the committee's
/// default: no organization named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    Org,
    #[default]
    Aggregate,
}

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Org => "org",
            View::Aggregate => "aggregate",
        }
    }
}

/// What the aggregate view groups organizations by (their metadata, `org set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    Region,
    SizeBand,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Region => "region",
            GroupBy::SizeBand => "size-band",
        }
    }

    /// The locale key of the grouping's name.
    pub fn text_key(self) -> &'static str {
        match self {
            GroupBy::Region => "header.region",
            GroupBy::SizeBand => "header.size_band",
        }
    }

    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "region" => Some(GroupBy::Region),
            "size-band" | "size_band" => Some(GroupBy::SizeBand),
            _ => None,
        }
    }
}

/// One capability in one group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupCell {
    pub median: Option<u8>,
    pub at_baseline: usize,
    pub known: usize,
}

impl GroupCell {
    /// The share at ≥3 among the group's organizations with a known level, 0–1.
    pub fn share_at_baseline(&self) -> Option<f64> {
        (self.known > 0).then(|| self.at_baseline as f64 / self.known as f64)
    }
}

/// The aggregate of the organizations sharing one region or size band.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupAggregate {
    /// The region or size band; `None` for organizations without one.
    pub key: Option<String>,
    pub orgs: usize,
    /// One per capability, in catalogue order.
    pub cells: Vec<GroupCell>,
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct MatrixRequest {
    pub view: View,
    pub lang: Lang,
    /// Compare with the state at the start of this day (UTC); default: the start of the
    /// current quarter, i.e. the end of the previous one.
    pub since: Option<NaiveDate>,
    /// Only this organization (org view).
    pub org: Option<String>,
    pub profile: TlsProfile,
    pub now: DateTime<Utc>,
    /// Aggregate view: also per region or size band.
    pub group_by: Option<GroupBy>,
}

/// The change of a level since the comparison date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Up,
    Down,
    Same,
    /// New, or first assessment.
    New,
    /// No comparable data.
    None,
}

impl Trend {
    /// The spec's symbols: ▲ ▼ ● ✱ ○.
    pub fn symbol(self) -> &'static str {
        match self {
            Trend::Up => "▲",
            Trend::Down => "▼",
            Trend::Same => "●",
            Trend::New => "✱",
            Trend::None => "○",
        }
    }

    pub fn text_key(self) -> &'static str {
        match self {
            Trend::Up => "trend.up",
            Trend::Down => "trend.down",
            Trend::Same => "trend.same",
            Trend::New => "trend.new",
            Trend::None => "trend.none",
        }
    }

    pub const ALL: [Trend; 5] = [Trend::Up, Trend::Down, Trend::Same, Trend::New, Trend::None];

    /// A level that had none before is a first assessment (✱); a level that is gone, or
    /// two unknowns, have nothing to compare (○).
    fn between(previous: Value, current: Value) -> Trend {
        match (previous.level(), current.level()) {
            (Some(p), Some(c)) if c > p => Trend::Up,
            (Some(p), Some(c)) if c < p => Trend::Down,
            (Some(_), Some(_)) => Trend::Same,
            (None, Some(_)) => Trend::New,
            _ => Trend::None,
        }
    }
}

/// One organization's column.
#[derive(Debug, Clone)]
pub struct OrgColumn {
    pub org: String,
    /// The newest observation or answer.
    pub assessed_on: Option<DateTime<Utc>>,
    /// One per capability, in catalogue order.
    pub cells: Vec<Cell>,
    /// The values at the comparison date.
    pub previous: Vec<Value>,
    pub trends: Vec<Trend>,
}

impl OrgColumn {
    /// Capabilities at ≥3 and capabilities with a known level.
    pub fn baseline_attainment(&self) -> (usize, usize) {
        grade::baseline_attainment(&self.cells)
    }

    /// The lowest critical capability level and the capabilities at it.
    pub fn weakest_critical(&self) -> Option<(u8, Vec<String>)> {
        grade::weakest_critical(&self.cells)
    }
}

/// One capability across the sector.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AggregateRow {
    pub capability: String,
    pub median: Option<u8>,
    /// Organizations at level 3 or more.
    pub at_baseline: usize,
    /// Organizations with a known level.
    pub known: usize,
    pub unknown: usize,
    pub previous_median: Option<u8>,
    pub trend: Trend,
}

impl AggregateRow {
    /// The share at ≥3 among organizations with a known level, 0–1.
    pub fn share_at_baseline(&self) -> Option<f64> {
        (self.known > 0).then(|| self.at_baseline as f64 / self.known as f64)
    }
}

/// The state at the end of one quarter.
#[derive(Debug, Clone)]
pub struct Quarter {
    /// The last day of the quarter.
    pub last_day: NaiveDate,
    /// `(org, values per capability)`.
    pub orgs: Vec<(String, Vec<Value>)>,
    /// Sector median per capability.
    pub medians: Vec<Option<u8>>,
}

/// The whole matrix, ready to export.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub view: View,
    pub lang: Lang,
    pub profile: TlsProfile,
    pub generated_at: DateTime<Utc>,
    pub since: NaiveDate,
    pub rules_version: String,
    pub orgs: Vec<OrgColumn>,
    pub aggregate: Vec<AggregateRow>,
    /// Oldest first, four at most.
    pub quarters: Vec<Quarter>,
    /// The current answers of the organizations shown (org view).
    pub answers: Vec<Answer>,
    /// The grouping asked for, and its groups: named ones sorted, the unassigned last.
    pub group_by: Option<GroupBy>,
    pub groups: Vec<GroupAggregate>,
}

impl Matrix {
    /// Removes what `scope` may not see ([`crate::scope`] decides): the regions and size
    /// bands of fewer organizations than it may see, and, where it names no organization,
    /// every organization's column, answers and quarter values (the aggregate exports do not
    /// print them; this makes sure no later layout can).
    pub fn trim_for(&mut self, scope: &crate::scope::Scope) {
        let min = scope.min_group_size();
        self.groups.retain(|group| group.orgs >= min);
        if !scope.names_orgs() {
            self.orgs.clear();
            self.answers.clear();
            for quarter in &mut self.quarters {
                quarter.orgs.clear();
            }
        }
    }
}

/// Why the matrix cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("organization `{0}` is not known; GET /api/v1/orgs or the store lists them")]
    UnknownOrg(String),
    #[error("--since {since} is after today ({today})")]
    SinceInFuture { since: NaiveDate, today: NaiveDate },
}

/// The first day of the quarter holding `date`.
pub fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

/// The first days of the current quarter and of the three before it, newest first: the
/// days after the last four quarter ends.
fn quarter_starts(today: NaiveDate) -> Vec<NaiveDate> {
    let mut starts = vec![quarter_start(today)];
    for _ in 0..3 {
        let last = starts[starts.len() - 1];
        starts.push(quarter_start(last.pred_opt().unwrap_or(last)));
    }
    starts
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// One organization graded at one instant.
struct Graded {
    cells: Vec<Cell>,
    /// Its newest observation or answer.
    assessed_on: Option<DateTime<Utc>>,
}

/// Grades every organization of `state` at `now`. Takes the state by value so that each
/// verdict moves to its organization instead of being copied; the organizations are graded
/// on two threads (the grading of a sector is pure CPU work, and the collector's machine has
/// at least two cores).
fn grade_state(
    state: MatrixState,
    now: DateTime<Utc>,
    profile: TlsProfile,
) -> BTreeMap<String, Graded> {
    let MatrixState {
        orgs,
        findings,
        answers,
    } = state;
    let mut by_org: BTreeMap<String, Vec<FindingFact>> = BTreeMap::new();
    for (org, finding) in findings {
        match by_org.get_mut(&org) {
            Some(list) => list.push(finding),
            None => {
                by_org.insert(org, vec![finding]);
            }
        }
    }
    let mut answers_by_org: BTreeMap<&str, Vec<Answer>> = BTreeMap::new();
    for answer in answers.iter().filter(|a| a.answered_on <= now.date_naive()) {
        answers_by_org
            .entry(&answer.org)
            .or_default()
            .push(answer.clone());
    }
    let work: Vec<(&String, &[FindingFact], &[Answer])> = orgs
        .iter()
        .map(|org| {
            (
                org,
                by_org.get(org).map(Vec::as_slice).unwrap_or(&[]),
                answers_by_org
                    .get(org.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            )
        })
        .collect();
    let grade = |part: &[(&String, &[FindingFact], &[Answer])]| -> Vec<(String, Graded)> {
        let lifetimes = BTreeMap::new();
        part.iter()
            .map(|(org, f, a)| {
                let cells = vigie_matrix::grade_org(Inputs {
                    findings: f,
                    answers: a,
                    now,
                    profile,
                    certificate_lifetimes: &lifetimes,
                });
                let newest_observation = f.iter().map(|f| f.observed_at).max();
                let newest_answer = a.iter().map(|a| start_of_day(a.answered_on)).max();
                let assessed_on = newest_observation.max(newest_answer);
                ((*org).clone(), Graded { cells, assessed_on })
            })
            .collect()
    };
    let (first, second) = work.split_at(work.len() / 2);
    let (mut graded, rest) = std::thread::scope(|scope| {
        let other = scope.spawn(|| grade(second));
        let mine = grade(first);
        // A panic in the grading is a bug: carry it on, as if it had happened here.
        let theirs = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (mine, theirs)
    });
    graded.extend(rest);
    graded.into_iter().collect()
}

fn medians(graded: &[&[Value]], capabilities: usize) -> Vec<Option<u8>> {
    (0..capabilities)
        .map(|i| {
            let levels: Vec<u8> = graded
                .iter()
                .filter_map(|values| values.get(i).and_then(|v| v.level()))
                .collect();
            grade::median(&levels)
        })
        .collect()
}

/// `(org, capability, level)` of every known level now: `vigie_capability_level`. At most
/// organizations × 18 series; unknown and not-applicable cells are left out.
pub async fn current_levels(
    store: &Store,
    now: DateTime<Utc>,
    profile: TlsProfile,
) -> Result<Vec<(String, String, u8)>, StoreError> {
    let state = store.matrix_state().await?;
    Ok(grade_state(state, now, profile)
        .into_iter()
        .flat_map(|(org, graded)| {
            graded.cells.into_iter().filter_map(move |cell| {
                cell.value
                    .level()
                    .map(|level| (org.clone(), cell.capability, level))
            })
        })
        .collect())
}

/// Grades and keeps the past states a default export compares with (the last four quarter
/// ends) where none is kept or the kept one no longer holds, so that the first export after
/// a quarter ends or a late report arrives does not pay for it. Cheap when all hold: one
/// fingerprint read.
pub async fn keep_past_states(
    store: &Store,
    now: DateTime<Utc>,
    profile: TlsProfile,
) -> Result<(), StoreError> {
    past::levels_at(store, &quarter_starts(now.date_naive()), profile, now).await?;
    Ok(())
}

/// Computes the matrix from the store.
pub async fn compute(store: &Store, request: &MatrixRequest) -> Result<Matrix, MatrixError> {
    let now = request.now;
    let today = now.date_naive();
    let since = request.since.unwrap_or_else(|| quarter_start(today));
    if since > today {
        return Err(MatrixError::SinceInFuture { since, today });
    }
    let capabilities = catalogue().capabilities.len();
    let keep = |org: &str| request.org.as_deref().is_none_or(|o| o == org);

    let mut current_state = store.matrix_state().await?;
    if let Some(org) = &request.org {
        if !current_state.orgs.contains(org) {
            return Err(MatrixError::UnknownOrg(org.chars().take(64).collect()));
        }
    }
    let current_answers = std::mem::take(&mut current_state.answers);
    let current = grade_state(
        MatrixState {
            answers: current_answers.clone(),
            ..current_state
        },
        now,
        request.profile,
    );
    // The comparison date is by default the first quarter end below: each past state is
    // read once (from the store's snapshots where they still hold).
    let mut dates = vec![since];
    for start in quarter_starts(today) {
        if !dates.contains(&start) {
            dates.push(start);
        }
    }
    let past = past::levels_at(store, &dates, request.profile, now).await?;
    let empty = past::Levels::new();
    let before = past.get(&since).unwrap_or(&empty);

    let mut orgs = Vec::new();
    for (org, graded) in current.iter().filter(|(o, _)| keep(o)) {
        let (cells, assessed_on) = (&graded.cells, &graded.assessed_on);
        let previous: Vec<Value> = match before.get(org) {
            Some(old) => old.clone(),
            None => vec![Value::Unknown; capabilities],
        };
        let trends = cells
            .iter()
            .zip(&previous)
            .map(|(cell, previous)| Trend::between(*previous, cell.value))
            .collect();
        orgs.push(OrgColumn {
            org: org.clone(),
            assessed_on: *assessed_on,
            cells: cells.clone(),
            previous,
            trends,
        });
    }

    let now_values: Vec<Vec<Value>> = orgs
        .iter()
        .map(|o| o.cells.iter().map(|c| c.value).collect())
        .collect();
    let now_values: Vec<&[Value]> = now_values.iter().map(Vec::as_slice).collect();
    let before_values: Vec<&[Value]> = before
        .iter()
        .filter(|(o, _)| keep(o))
        .map(|(_, values)| values.as_slice())
        .collect();
    let now_medians = medians(&now_values, capabilities);
    let before_medians = medians(&before_values, capabilities);
    let aggregate = catalogue()
        .capabilities
        .iter()
        .enumerate()
        .map(|(i, capability)| {
            let levels: Vec<u8> = now_values
                .iter()
                .filter_map(|values| values.get(i).and_then(|v| v.level()))
                .collect();
            let median = now_medians[i];
            let previous_median = before_medians[i];
            let trend = Trend::between(
                previous_median.map_or(Value::Unknown, Value::Level),
                median.map_or(Value::Unknown, Value::Level),
            );
            AggregateRow {
                capability: capability.id.clone(),
                median,
                at_baseline: levels.iter().filter(|l| **l >= 3).count(),
                known: levels.len(),
                unknown: now_values.len() - levels.len(),
                previous_median,
                trend,
            }
        })
        .collect();

    // The last four quarter ends before today, oldest first.
    let mut quarters = Vec::new();
    for start in quarter_starts(today) {
        let levels = past.get(&start).unwrap_or(&empty);
        let shown: Vec<(String, Vec<Value>)> = levels
            .iter()
            .filter(|(o, _)| keep(o))
            .map(|(o, values)| (o.clone(), values.clone()))
            .collect();
        let values: Vec<&[Value]> = shown.iter().map(|(_, v)| v.as_slice()).collect();
        quarters.push(Quarter {
            last_day: start.pred_opt().unwrap_or(start),
            medians: medians(&values, capabilities),
            orgs: shown,
        });
    }
    quarters.reverse();

    let groups = match request.group_by {
        Some(by) => group(&orgs, &store.org_meta().await?, by, capabilities),
        None => Vec::new(),
    };

    let answers = if request.view == View::Org {
        current_answers
            .into_iter()
            .filter(|a| keep(&a.org))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Matrix {
        view: request.view,
        lang: request.lang,
        profile: request.profile,
        generated_at: now,
        since,
        rules_version: catalogue().rules_version.clone(),
        orgs,
        aggregate,
        quarters,
        answers,
        group_by: request.group_by,
        groups,
    })
}

/// The organizations' current levels by region or size band: per capability, the median
/// and the count at ≥3 among those with a known level.
fn group(
    orgs: &[OrgColumn],
    meta: &[crate::store::orgmeta::OrgMeta],
    by: GroupBy,
    capabilities: usize,
) -> Vec<GroupAggregate> {
    let keys: BTreeMap<&str, Option<&String>> = meta
        .iter()
        .map(|m| {
            let key = match by {
                GroupBy::Region => m.region.as_ref(),
                GroupBy::SizeBand => m.size_band.as_ref(),
            };
            (m.org.as_str(), key)
        })
        .collect();
    // `None` sorts first in an Option; the unassigned go last, so key them apart.
    let mut members: BTreeMap<(bool, Option<String>), Vec<&OrgColumn>> = BTreeMap::new();
    for org in orgs {
        let key = keys.get(org.org.as_str()).copied().flatten().cloned();
        members.entry((key.is_none(), key)).or_default().push(org);
    }
    members
        .into_iter()
        .map(|((_, key), columns)| {
            let cells = (0..capabilities)
                .map(|i| {
                    let levels: Vec<u8> = columns
                        .iter()
                        .filter_map(|o| o.cells.get(i).and_then(|c| c.value.level()))
                        .collect();
                    GroupCell {
                        median: grade::median(&levels),
                        at_baseline: levels.iter().filter(|l| **l >= 3).count(),
                        known: levels.len(),
                    }
                })
                .collect();
            GroupAggregate {
                key,
                orgs: columns.len(),
                cells,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_start_on_the_first_of_january_april_july_october() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(quarter_start(d(2026, 11, 29)), d(2026, 10, 1));
        assert_eq!(quarter_start(d(2026, 10, 1)), d(2026, 10, 1));
        assert_eq!(quarter_start(d(2026, 3, 31)), d(2026, 1, 1));
        assert_eq!(quarter_start(d(2026, 6, 30)), d(2026, 4, 1));
    }

    #[test]
    fn the_four_quarter_starts_go_back_a_year() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(
            quarter_starts(d(2026, 11, 30)),
            vec![d(2026, 10, 1), d(2026, 7, 1), d(2026, 4, 1), d(2026, 1, 1)]
        );
        assert_eq!(
            quarter_starts(d(2026, 2, 1)),
            vec![d(2026, 1, 1), d(2025, 10, 1), d(2025, 7, 1), d(2025, 4, 1)]
        );
    }

    #[test]
    fn trends() {
        assert_eq!(Trend::between(Value::Level(1), Value::Level(3)), Trend::Up);
        assert_eq!(
            Trend::between(Value::Level(3), Value::Level(1)),
            Trend::Down
        );
        assert_eq!(
            Trend::between(Value::Level(2), Value::Level(2)),
            Trend::Same
        );
        assert_eq!(Trend::between(Value::Unknown, Value::Level(2)), Trend::New);
        assert_eq!(Trend::between(Value::Level(2), Value::Unknown), Trend::None);
        assert_eq!(Trend::between(Value::Unknown, Value::Unknown), Trend::None);
    }
}
