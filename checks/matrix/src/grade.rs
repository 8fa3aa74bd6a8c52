//! Findings and self-assessment answers → one [`Cell`] per capability.
//!
//! Pure: no I/O, and time comes only from [`Inputs::now`]. Each capability has one function
//! that follows the spec's rule top-down (the first condition that holds sets the level).
//! What the agent cannot observe yet never raises a level: a rule that needs an unobserved
//! fact stops below it, with a [`Note`] saying why. An asset none of whose verdicts is an
//! observed fact (only `error`: not reached, not spoken to; or `skip`) is graded by no rule
//! and counted in no coverage: a capability with no observed asset is unknown, with a note
//! naming the assets that were not reached.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use vigie_model::{Check, Lang, Status};

use crate::assess::{self, Answer};
use crate::catalogue::{catalogue, CapabilityKind};
pub use crate::note::Note;

/// Which TLS grading produced the levels (see the spec's ITSP.40.062 section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub enum TlsProfile {
    /// Strong primitives not listed by ITSP.40.062 (ChaCha20-Poly1305, X25519) pass.
    #[default]
    #[serde(rename = "modern")]
    Modern,
    /// ITSP.40.062 tiers exactly: anything unlisted fails.
    #[serde(rename = "itsp-strict")]
    ItspStrict,
}

impl TlsProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsProfile::Modern => "modern",
            TlsProfile::ItspStrict => "itsp-strict",
        }
    }
}

impl std::str::FromStr for TlsProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "modern" => Ok(TlsProfile::Modern),
            "itsp-strict" => Ok(TlsProfile::ItspStrict),
            other => Err(format!(
                "unknown TLS profile `{other}` (expected modern or itsp-strict)"
            )),
        }
    }
}

/// Where a cell's level comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    /// From the network scanner or the host agent.
    #[serde(rename = "O")]
    Observed,
    /// From the questionnaire.
    #[serde(rename = "S")]
    SelfAssessed,
    /// A self-assessed level capped by an observation.
    #[serde(rename = "H")]
    Hybrid,
}

impl Source {
    /// `O`, `S` or `H`.
    pub fn letter(self) -> &'static str {
        match self {
            Source::Observed => "O",
            Source::SelfAssessed => "S",
            Source::Hybrid => "H",
        }
    }

    /// Its name in `lang`.
    pub fn name(self, lang: Lang) -> String {
        crate::catalogue::text(lang, &format!("source.{}", self.letter()))
    }
}

/// A cell's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// 0–4.
    Level(u8),
    /// Does not apply (e.g. no website).
    NotApplicable,
    /// No data, or none that can be trusted.
    Unknown,
}

impl Value {
    /// The level, if known.
    pub fn level(self) -> Option<u8> {
        match self {
            Value::Level(level) => Some(level),
            _ => None,
        }
    }

    /// `0`–`4`, `N/A` or `?`: what every export prints.
    pub fn label(self) -> String {
        match self {
            Value::Level(level) => level.to_string(),
            Value::NotApplicable => "N/A".to_owned(),
            Value::Unknown => "?".to_owned(),
        }
    }

    /// The legend key: `level.0` … `level.4`, `level.na`, `level.unknown`.
    pub fn text_key(self) -> String {
        match self {
            Value::Level(level) => format!("level.{level}"),
            Value::NotApplicable => "level.na".to_owned(),
            Value::Unknown => "level.unknown".to_owned(),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Level(level) => serializer.serialize_u8(*level),
            other => serializer.serialize_str(&other.label()),
        }
    }
}

/// How many assets or hosts meet the rule, e.g. 12 of 14 hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub met: u32,
    pub total: u32,
}

/// What set a cell's level: one verdict of one asset, or one questionnaire answer. The
/// exports name it in every tooltip and link each verdict to its findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Basis {
    /// The verdict of `check` on `target`.
    Finding {
        check: &'static str,
        target: String,
        status: Status,
    },
    /// The current answer to a question of the questionnaire.
    Answer { question: String },
}

impl Basis {
    /// `tls.cipher.cbc @ www.example.ca:443`, or `Q7`.
    pub fn label(&self) -> String {
        match self {
            Basis::Finding { check, target, .. } => format!("{check} @ {target}"),
            Basis::Answer { question } => question.clone(),
        }
    }
}

/// At most this many verdicts or answers are named per cell: tooltips stay short, and a
/// 1,000-organization export does not carry every verdict of the sector.
pub const MAX_BASIS: usize = 6;

/// One capability of one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub capability: String,
    pub value: Value,
    /// `None` when the value is unknown.
    pub source: Option<Source>,
    pub coverage: Option<Coverage>,
    /// The oldest of the newest observations of the graded assets.
    pub observed_at: Option<DateTime<Utc>>,
    /// Observations older than the catalogue's `stale_after_days`.
    pub stale: bool,
    /// The oldest self-assessment answer used.
    pub answered_on: Option<NaiveDate>,
    /// Evidence references of the answers used.
    pub evidence: Vec<String>,
    pub notes: Vec<Note>,
    /// What set the level (at most [`MAX_BASIS`]): the verdicts of the weakest asset(s) that
    /// decided it, or the answers used. Empty when the value is unknown: the notes then say
    /// what was missing.
    pub basis: Vec<Basis>,
}

impl Cell {
    fn unknown(capability: &str, note: Note) -> Cell {
        Cell {
            capability: capability.to_owned(),
            value: Value::Unknown,
            source: None,
            coverage: None,
            observed_at: None,
            stale: false,
            answered_on: None,
            evidence: Vec::new(),
            notes: vec![note],
            basis: Vec::new(),
        }
    }

    /// `3`, `2 H`, `3 S`, `?`: the level with the source suffix of the spec (none for O).
    pub fn label(&self) -> String {
        match (self.value, self.source) {
            (Value::Level(level), Some(Source::SelfAssessed)) => format!("{level} S"),
            (Value::Level(level), Some(Source::Hybrid)) => format!("{level} H"),
            (value, _) => value.label(),
        }
    }
}

/// One latest verdict, as the collector stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingFact {
    pub check: Check,
    pub target: String,
    pub status: Status,
    pub evidence: serde_json::Map<String, serde_json::Value>,
    pub observed_at: DateTime<Utc>,
}

/// Everything one organization's cells are graded from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The latest verdict per (target, check).
    pub findings: &'a [FindingFact],
    /// Self-assessment answers (every stored one; expired and superseded ones are skipped).
    pub answers: &'a [Answer],
    pub now: DateTime<Utc>,
    pub profile: TlsProfile,
    /// Leaf certificate lifetimes in days per TLS target, when known.
    pub certificate_lifetimes: &'a BTreeMap<String, i64>,
}

/// The verdicts of one asset.
struct Asset<'a> {
    target: &'a str,
    checks: BTreeMap<Check, &'a FindingFact>,
}

impl<'a> Asset<'a> {
    fn status(&self, check: Check) -> Option<Status> {
        self.checks.get(&check).map(|f| f.status)
    }
    fn fails(&self, check: Check) -> bool {
        self.status(check) == Some(Status::Fail)
    }
    fn warns(&self, check: Check) -> bool {
        self.status(check) == Some(Status::Warn)
    }
    fn passes(&self, check: Check) -> bool {
        self.status(check) == Some(Status::Pass)
    }
    fn any_fails(&self, checks: &[Check]) -> bool {
        checks.iter().any(|c| self.fails(*c))
    }
    /// The checks of `checks` that fail, in that order.
    fn failing(&self, checks: &[Check]) -> Vec<Check> {
        checks.iter().copied().filter(|c| self.fails(*c)).collect()
    }
    /// The verdict of `check` as a [`Basis`], if there is one.
    fn basis(&self, check: Check) -> Option<Basis> {
        self.checks.get(&check).map(|f| Basis::Finding {
            check: check.id(),
            target: f.target.clone(),
            status: f.status,
        })
    }
    /// What set this asset's level when its grading named nothing: its failing and warning
    /// verdicts, else its observed ones, in check order.
    fn fallback_basis(&self) -> Vec<Check> {
        let bad: Vec<Check> = self
            .checks
            .iter()
            .filter(|(_, f)| matches!(f.status, Status::Fail | Status::Warn))
            .map(|(c, _)| *c)
            .collect();
        if !bad.is_empty() {
            return bad;
        }
        self.checks
            .iter()
            .filter(|(_, f)| is_observed(f.status))
            .map(|(c, _)| *c)
            .collect()
    }
    fn evidence(&self, check: Check, key: &str) -> Option<&'a serde_json::Value> {
        self.checks.get(&check).and_then(|f| f.evidence.get(key))
    }
    fn newest(&self) -> Option<DateTime<Utc>> {
        self.checks.values().map(|f| f.observed_at).max()
    }
    /// At least one of its verdicts is an observed fact.
    fn observed(&self) -> bool {
        self.checks.values().any(|f| is_observed(f.status))
    }
}

/// A verdict that states a fact: `error` (the probe failed) and `skip` (the check does not
/// apply) state none.
fn is_observed(status: Status) -> bool {
    matches!(
        status,
        Status::Pass | Status::Fail | Status::Warn | Status::Info
    )
}

/// What a capability's assets are, for the note that says why one was not graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AssetKind {
    /// A TLS or web endpoint, `host:port`.
    Endpoint,
    /// A mail domain.
    Domain,
    /// A scanned address (or a name that did not resolve).
    Address,
    /// A host of the agent.
    Host,
}

impl AssetKind {
    fn unreached_key(self) -> &'static str {
        match self {
            AssetKind::Endpoint => "note.unreached.endpoint",
            AssetKind::Domain => "note.unreached.domain",
            AssetKind::Address => "note.unreached.address",
            AssetKind::Host => "note.unreached.host",
        }
    }

    /// The note of a capability with no asset of this kind at all: what to add.
    fn none_key(self) -> &'static str {
        match self {
            AssetKind::Endpoint => "note.none.endpoint",
            AssetKind::Domain => "note.none.domain",
            AssetKind::Address => "note.none.address",
            AssetKind::Host => "note.none.host",
        }
    }
}

/// A capability's assets split into those with observed facts, which are graded, and the
/// targets of the others, which are only named.
struct Scope<'a> {
    kind: AssetKind,
    reached: Vec<Asset<'a>>,
    unreached: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    fn new(kind: AssetKind, assets: Vec<Asset<'a>>, reached: impl Fn(&Asset<'a>) -> bool) -> Self {
        let (reached, unreached): (Vec<_>, Vec<_>) = assets.into_iter().partition(|a| reached(a));
        Scope {
            kind,
            reached,
            unreached: unreached.iter().map(|a| a.target).collect(),
        }
    }

    /// Reached: at least one verdict is an observed fact.
    fn observed(kind: AssetKind, assets: Vec<Asset<'a>>) -> Self {
        Scope::new(kind, assets, Asset::observed)
    }

    /// The cell when nothing was reached: unknown, saying which assets were not, or that
    /// there is no data at all.
    fn unknown(&self, capability: &str) -> Cell {
        if self.unreached.is_empty() {
            Cell::unknown(capability, Note::new(self.kind.none_key()))
        } else {
            Cell::unknown(
                capability,
                Note::new(self.kind.unreached_key()).arg("targets", short_list(&self.unreached)),
            )
        }
    }

    /// The note naming the assets left out of a level, if any.
    fn excluded_note(&self) -> Option<Note> {
        (!self.unreached.is_empty()).then(|| {
            Note::new("note.unreached_excluded").arg("targets", short_list(&self.unreached))
        })
    }
}

/// `a, b, c (+2)`: notes stay one line.
fn short_list(targets: &[&str]) -> String {
    const SHOWN: usize = 3;
    let mut text = targets
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if targets.len() > SHOWN {
        text.push_str(&format!(" (+{})", targets.len() - SHOWN));
    }
    text
}

/// Groups the findings of `checks` by target.
fn assets<'a>(findings: &'a [FindingFact], checks: &[Check]) -> Vec<Asset<'a>> {
    let mut by_target: BTreeMap<&str, BTreeMap<Check, &FindingFact>> = BTreeMap::new();
    for finding in findings.iter().filter(|f| checks.contains(&f.check)) {
        by_target
            .entry(finding.target.as_str())
            .or_default()
            .insert(finding.check, finding);
    }
    by_target
        .into_iter()
        .map(|(target, checks)| Asset { target, checks })
        .collect()
}

fn feeds(capability: &str) -> Vec<Check> {
    catalogue()
        .capability(capability)
        .map(|c| c.feeds.iter().filter_map(|id| Check::from_id(id)).collect())
        .unwrap_or_default()
}

/// A level with the notes that explain it and the checks that set it (empty: the asset's
/// failing verdicts, see [`Asset::fallback_basis`]).
struct Graded {
    level: u8,
    notes: Vec<Note>,
    checks: Vec<Check>,
}

fn graded(level: u8) -> Graded {
    Graded {
        level,
        notes: Vec::new(),
        checks: Vec::new(),
    }
}

/// A level set by these checks.
fn by(level: u8, checks: Vec<Check>) -> Graded {
    Graded {
        level,
        notes: Vec::new(),
        checks,
    }
}

impl Graded {
    fn with_note(mut self, note: Note) -> Graded {
        self.notes.push(note);
        self
    }
}

/// The weakest in-scope asset sets the level (internet-facing capabilities); assets with no
/// observed fact are left out, and named.
fn weakest(
    capability: &str,
    scope: &Scope<'_>,
    now: DateTime<Utc>,
    grade: impl Fn(&Asset<'_>) -> Graded,
) -> Cell {
    let assets = scope.reached.as_slice();
    if assets.is_empty() {
        return scope.unknown(capability);
    }
    let mut results: Vec<(&Asset<'_>, Graded)> = assets.iter().map(|a| (a, grade(a))).collect();
    results.sort_by_key(|(asset, g)| (g.level, asset.target));
    let threshold = 3;
    let met = results.iter().filter(|(_, g)| g.level >= threshold).count();
    let (weakest_asset, weakest_grade) = &results[0];
    let mut notes = Vec::new();
    if results.len() > 1 {
        notes.push(Note::new("note.weakest").arg("target", weakest_asset.target));
    }
    notes.extend(weakest_grade.notes.iter().cloned());
    notes.extend(scope.excluded_note());
    // Every asset at the weakest level set it: their deciding verdicts, weakest first.
    let basis: Vec<Basis> = results
        .iter()
        .take_while(|(_, g)| g.level == weakest_grade.level)
        .flat_map(|(asset, g)| {
            let checks = if g.checks.is_empty() {
                asset.fallback_basis()
            } else {
                g.checks.clone()
            };
            checks.into_iter().filter_map(|c| asset.basis(c))
        })
        .take(MAX_BASIS)
        .collect();
    let mut cell = observed_cell(
        capability,
        weakest_grade.level,
        Coverage {
            met: count(met),
            total: count(results.len()),
        },
        assets,
        now,
        notes,
    );
    cell.basis = basis;
    cell
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn observed_cell(
    capability: &str,
    level: u8,
    coverage: Coverage,
    assets: &[Asset<'_>],
    now: DateTime<Utc>,
    mut notes: Vec<Note>,
) -> Cell {
    let observed_at = assets.iter().filter_map(Asset::newest).min();
    let stale = observed_at.is_some_and(|at| now - at > stale_after());
    if let (true, Some(at)) = (stale, observed_at) {
        notes.push(Note::new("note.stale").arg("date", at.format("%Y-%m-%d")));
    }
    Cell {
        capability: capability.to_owned(),
        value: Value::Level(level),
        source: Some(Source::Observed),
        coverage: Some(coverage),
        observed_at,
        stale,
        answered_on: None,
        evidence: Vec::new(),
        notes,
        basis: Vec::new(),
    }
}

fn stale_after() -> Duration {
    Duration::days(catalogue().thresholds.stale_after_days)
}

/// Every capability of the catalogue, in its order, for one organization.
pub fn grade_org(inputs: Inputs<'_>) -> Vec<Cell> {
    let c02 = c02_certificates(&inputs);
    let c05 = c05_attack_surface(&inputs);
    catalogue()
        .capabilities
        .iter()
        .map(|capability| match capability.id.as_str() {
            "C01" => c01_web_encryption(&inputs, &c02),
            "C02" => c02.clone(),
            "C03" => c03_email_spoofing(&inputs),
            "C04" => c04_email_transport(&inputs),
            "C05" => c05.clone(),
            "C06" => c06_vulnerabilities(&inputs),
            "C07" => c07_patching(&inputs),
            "C10" => c10_website_hardening(&inputs),
            "C15" => c15_mfa(&inputs),
            id => match capability.kind {
                CapabilityKind::SelfAssessed | CapabilityKind::Hybrid
                    if !capability.questions.is_empty() =>
                {
                    self_assessed(id, &inputs)
                }
                _ => Cell::unknown(id, Note::new("note.not_observable")),
            },
        })
        .collect()
}

/// A level from the questionnaire, or unknown.
fn self_assessed(capability: &str, inputs: &Inputs<'_>) -> Cell {
    match assess::grade(capability, inputs.answers, inputs.now) {
        Some(result) => Cell {
            capability: capability.to_owned(),
            value: Value::Level(result.level),
            source: Some(Source::SelfAssessed),
            coverage: None,
            observed_at: None,
            stale: false,
            answered_on: result.answered_on,
            evidence: result.evidence,
            notes: result.notes,
            basis: result
                .questions
                .into_iter()
                .map(|question| Basis::Answer { question })
                .collect(),
        },
        None => {
            let note = match assess::expired_since(capability, inputs.answers, inputs.now) {
                Some(date) => Note::new("note.answers_expired").arg("date", date),
                None => Note::new("note.no_answer").arg(
                    "questions",
                    catalogue()
                        .capability(capability)
                        .map(|c| c.questions.join(", "))
                        .unwrap_or_default(),
                ),
            };
            Cell::unknown(capability, note)
        }
    }
}

use Check::*;

/// A web endpoint: on the catalogue's `web_port` (443), or with any HTTPS verdict. Other
/// TLS endpoints (mail ports, 8443 without HTTPS checks) are graded by C02 only: C01's
/// levels 2–4 need the redirect and HSTS facts that the agent gathers on port 443 only, so
/// counting them would cap every such endpoint at 2 for a fact never sought.
fn is_web(asset: &Asset<'_>) -> bool {
    let port = catalogue().thresholds.web_port;
    asset
        .target
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().ok() == Some(port))
        || asset.checks.keys().any(|c| c.id().starts_with("https."))
}

/// C01: on every web host in scope (port 443, or any HTTPS check).
fn c01_web_encryption(inputs: &Inputs<'_>, c02: &Cell) -> Cell {
    let (web, other): (Vec<Asset<'_>>, Vec<Asset<'_>>) = assets(inputs.findings, &feeds("C01"))
        .into_iter()
        .partition(is_web);
    // TLS endpoints were seen, none of them a website: say so, not "no data".
    let other_tls = other.iter().filter(|a| a.observed()).count();
    if web.is_empty() && other_tls > 0 {
        return Cell::unknown(
            "C01",
            Note::new("note.no_web_endpoint")
                .arg("count", other_tls)
                .arg("port", catalogue().thresholds.web_port),
        );
    }
    // A failed TLS connection (refused, not TLS) is an endpoint not spoken to, not one
    // without encryption: nothing of its web encryption was observed.
    let web = Scope::new(AssetKind::Endpoint, web, |a| {
        a.status(TlsConnect) != Some(Status::Error) && a.observed()
    });
    let profile = inputs.profile;
    let mut cell = weakest("C01", &web, inputs.now, |a| {
        if a.fails(TlsConnect) {
            return by(0, vec![TlsConnect]);
        }
        let broken = a.failing(&[
            HttpsRedirect,
            TlsProtocolSslv2,
            TlsProtocolSslv3,
            TlsProtocolTls10,
            TlsProtocolTls11,
            TlsCipherRc4,
            TlsCipherDes,
            TlsCipherNull,
            TlsCipherAnon,
            TlsCipherExport,
        ]);
        if !broken.is_empty() {
            return by(1, broken);
        }
        // Level 2 says "TLS 1.2 or later only": without any protocol enumerated (`--quick`,
        // or every hello unanswered), that is not known.
        let legacy = [
            TlsProtocolSslv2,
            TlsProtocolSslv3,
            TlsProtocolTls10,
            TlsProtocolTls11,
        ];
        if !legacy
            .iter()
            .any(|check| a.status(*check).is_some_and(is_observed))
        {
            return by(1, vec![TlsConnect]).with_note(
                Note::new("note.missing_check")
                    .arg("check", TlsProtocolTls10.id())
                    .arg("level", 1),
            );
        }
        let mut phase_out = a.failing(&[
            HttpsHsts,
            HttpsHstsMaxAge,
            TlsCipherNoForwardSecrecy,
            TlsCipherWeakDh,
        ]);
        if a.fails(TlsCipherCbc) && cbc_phase_out(a) {
            phase_out.push(TlsCipherCbc);
        }
        if a.warns(HttpsHsts) {
            phase_out.push(HttpsHsts);
        }
        if profile == TlsProfile::ItspStrict && a.fails(TlsPolicyItsp40062) {
            phase_out.push(TlsPolicyItsp40062);
        }
        if !phase_out.is_empty() {
            return by(2, phase_out);
        }
        for needed in [HttpsRedirect, HttpsHsts] {
            if a.status(needed).is_none() {
                return by(2, vec![TlsConnect]).with_note(
                    Note::new("note.missing_check")
                        .arg("check", needed.id())
                        .arg("level", 2),
                );
            }
        }
        let mut advanced = vec![
            TlsProtocolTls13,
            HttpsHstsSubdomains,
            HttpsHstsPreload,
            TlsCipherCbc,
        ];
        if profile == TlsProfile::ItspStrict {
            advanced.push(TlsPolicyItsp40062);
        }
        // Level 4 when every advanced check passes; else the ones that do not kept it at 3.
        let short: Vec<Check> = advanced.iter().copied().filter(|c| !a.passes(*c)).collect();
        if short.is_empty() {
            by(4, advanced)
        } else {
            by(3, short)
        }
    });
    // Level 3 needs a valid certificate (C02 at least 2).
    if let (Value::Level(level), Some(cert)) = (cell.value, c02.value.level()) {
        if level >= 3 && cert < 2 {
            cell.value = Value::Level(2);
            cell.notes.push(Note::new("note.cert_caps_web"));
            cell.basis = c02.basis.clone();
        }
    }
    cell
}

/// Whether the CBC suites offered include an ITSP.40.062 phase-out one (SHA-1 MAC: names
/// ending in `_CBC_SHA`). CBC with SHA-256/384 is "sufficient": it blocks level 4, not 3.
/// Without the suite list, the failure counts as phase-out.
fn cbc_phase_out(asset: &Asset<'_>) -> bool {
    let Some(suites) = asset
        .evidence(TlsCipherCbc, "suites")
        .and_then(serde_json::Value::as_array)
    else {
        return true;
    };
    suites.is_empty()
        || suites.iter().any(|s| {
            let name = s
                .get("suite")
                .and_then(serde_json::Value::as_str)
                .or_else(|| s.as_str())
                .unwrap_or("_CBC_SHA");
            name.ends_with("_CBC_SHA")
        })
}

/// C02: every TLS endpoint that completed a handshake.
fn c02_certificates(inputs: &Inputs<'_>) -> Cell {
    let checks: Vec<Check> = feeds("C02").into_iter().filter(|c| *c != DnsCaa).collect();
    // Reached: a certificate was observed (a stapling fact alone is not one).
    let endpoints = Scope::new(AssetKind::Endpoint, assets(inputs.findings, &checks), |a| {
        a.checks
            .iter()
            .any(|(check, f)| *check != TlsOcspStapling && is_observed(f.status))
    });
    let caa_everywhere = {
        let caa = assets(inputs.findings, &[DnsCaa]);
        !caa.is_empty() && caa.iter().all(|a| a.passes(DnsCaa))
    };
    weakest("C02", &endpoints, inputs.now, |a| {
        let invalid = a.failing(&[
            TlsCertExpired,
            TlsCertNotYetValid,
            TlsCertSelfSigned,
            TlsCertUntrusted,
            TlsCertHostnameMismatch,
        ]);
        if !invalid.is_empty() {
            return by(0, invalid);
        }
        let weak = a.failing(&[TlsCertWeakSignature, TlsCertWeakKey, TlsCertExpiring]);
        if !weak.is_empty() {
            return by(1, weak);
        }
        if a.warns(TlsCertExpiring) || a.fails(TlsCertIncompleteChain) {
            return graded(2);
        }
        let lifetime = inputs
            .certificate_lifetimes
            .get(a.target)
            .copied()
            .or_else(|| lifetime_from_evidence(a));
        if caa_everywhere && a.passes(TlsOcspStapling) && lifetime.is_some_and(|d| d <= 90) {
            by(4, vec![TlsOcspStapling])
        } else if !a.passes(TlsOcspStapling) {
            by(3, vec![TlsOcspStapling])
        } else {
            graded(3)
        }
    })
}

/// The leaf certificate's lifetime in days, from the evidence of the validity checks
/// (`not_before` of `tls.cert.not_yet_valid`, `not_after` of `tls.cert.expired` or
/// `tls.cert.expiring`).
fn lifetime_from_evidence(asset: &Asset<'_>) -> Option<i64> {
    let time = |check: Check, key: &str| {
        asset
            .evidence(check, key)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    };
    let not_before = time(TlsCertNotYetValid, "not_before")?;
    let not_after =
        time(TlsCertExpired, "not_after").or_else(|| time(TlsCertExpiring, "not_after"))?;
    Some((not_after - not_before).num_days())
}

/// C03: every domain with email authentication findings.
fn c03_email_spoofing(inputs: &Inputs<'_>) -> Cell {
    let checks = feeds("C03");
    let domains: Vec<Asset<'_>> = assets(inputs.findings, &checks)
        .into_iter()
        .filter(|a| a.checks.keys().any(|c| c.id().starts_with("email.dmarc.")))
        .collect();
    // Every level hinges on DMARC: a domain whose DMARC record could not be read is not
    // graded, whatever else was seen.
    let domains = Scope::new(AssetKind::Domain, domains, |a| {
        a.checks
            .iter()
            .any(|(c, f)| c.id().starts_with("email.dmarc.") && is_observed(f.status))
    });
    let parked_ok = !inputs
        .findings
        .iter()
        .any(|f| f.check == EmailParked && f.status == Status::Fail);
    weakest("C03", &domains, inputs.now, |a| {
        let missing = a.failing(&[EmailDmarcMissing, EmailDmarcSyntax]);
        if !missing.is_empty() {
            return by(0, missing);
        }
        let weak = a.failing(&[EmailDmarcPolicy, EmailDmarcRua]);
        if !weak.is_empty() {
            return by(1, weak);
        }
        if a.warns(EmailDmarcPolicy)
            || a.warns(EmailSpfAll)
            || a.any_fails(&[
                EmailDmarcPct,
                EmailDmarcSubdomainPolicy,
                EmailSpfAll,
                EmailSpfLookupLimit,
                EmailSpfMissing,
                EmailSpfMultiple,
                EmailSpfSyntax,
                EmailDkimWeakKey,
            ])
        {
            return graded(2);
        }
        if !a.passes(EmailDmarcPolicy) {
            return graded(2).with_note(
                Note::new("note.missing_check")
                    .arg("check", EmailDmarcPolicy.id())
                    .arg("level", 2),
            );
        }
        let mut notes = Vec::new();
        if !a.passes(EmailDkimMissing) {
            notes.push(Note::new("note.dkim_unknown"));
        }
        // Level 4 also needs DKIM keys younger than a year, which DNS does not show.
        if parked_ok && a.passes(EmailDkimMissing) {
            notes.push(Note::new("note.max_observable"));
        }
        Graded {
            level: 3,
            notes,
            checks: vec![EmailDmarcPolicy, EmailDkimMissing],
        }
    })
}

/// C04: every domain with mail transport findings.
fn c04_email_transport(inputs: &Inputs<'_>) -> Cell {
    let domains = Scope::observed(
        AssetKind::Domain,
        assets(
            inputs.findings,
            &[
                EmailStarttls,
                EmailMtaSts,
                EmailMtaStsPolicy,
                EmailMtaStsMode,
                EmailTlsrpt,
                EmailDane,
            ],
        ),
    );
    let signed: Vec<&str> = inputs
        .findings
        .iter()
        .filter(|f| f.check == DnsDnssec && f.status == Status::Pass)
        .map(|f| f.target.as_str())
        .collect();
    weakest("C04", &domains, inputs.now, |a| {
        let mut notes = Vec::new();
        if a.fails(EmailStarttls) {
            // Level 1 when every MX offered STARTTLS and only the certificate or the
            // negotiation failed (the probe's `hosts` evidence); 0 when one did not offer it.
            let all_offered = a
                .evidence(EmailStarttls, "hosts")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|hosts| {
                    !hosts.is_empty()
                        && hosts.iter().all(|h| {
                            h.get("offered").and_then(serde_json::Value::as_bool) == Some(true)
                        })
                });
            return graded(if all_offered { 1 } else { 0 });
        }
        if a.status(EmailStarttls).is_none() {
            notes.push(Note::new("note.starttls_not_probed"));
        }
        let dane = a.passes(EmailDane) && signed.contains(&a.target);
        let mta_sts = a.passes(EmailMtaSts) && a.passes(EmailMtaStsPolicy);
        let level = if !(mta_sts && a.passes(EmailTlsrpt)) {
            if dane {
                4
            } else {
                2
            }
        } else {
            let max_age_ok = a
                .evidence(EmailMtaStsMode, "max_age")
                .and_then(serde_json::Value::as_u64)
                .is_none_or(|s| s >= 7 * 24 * 3600);
            if (a.passes(EmailMtaStsMode) && max_age_ok) || dane {
                4
            } else {
                3
            }
        };
        Graded {
            level,
            notes,
            checks: Vec::new(),
        }
    })
}

/// Services whose exposure is a level-0 emergency whatever the port.
const HIGH_RISK: [Check; 4] = [
    ServiceRemoteDesktop,
    ServiceFileSharing,
    ServiceDatabase,
    ServiceUnauthenticated,
];

fn service_name(asset: &Asset<'_>, check: Check) -> String {
    asset
        .evidence(check, "service")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The service assets that were scanned: a target whose verdicts are all errors (a name
/// that did not resolve, an address where no port answered) grades nothing.
fn scanned(assets: Vec<Asset<'_>>) -> Scope<'_> {
    Scope::observed(AssetKind::Address, assets)
}

/// C05: every exposed address:port.
fn c05_attack_surface(inputs: &Inputs<'_>) -> Cell {
    let services = scanned(assets(inputs.findings, &feeds("C05")));
    weakest("C05", &services, inputs.now, |a| {
        if a.any_fails(&HIGH_RISK) {
            return graded(0);
        }
        if a.fails(ServiceCleartext) {
            let service = service_name(a, ServiceCleartext);
            return graded(if service.contains("telnet") || service.contains("ftp") {
                0
            } else {
                2
            });
        }
        // Level 1 (remote administration with passwords) and 4 (declared inventory) need
        // facts the service scan does not report yet.
        graded(3).with_note(Note::new("note.max_observable"))
    })
}

/// C06: every exposed address:port.
fn c06_vulnerabilities(inputs: &Inputs<'_>) -> Cell {
    let services = scanned(assets(inputs.findings, &feeds("C06")));
    weakest("C06", &services, inputs.now, |a| {
        if a.fails(ServiceOutdated) {
            let flag = |key| {
                a.evidence(ServiceOutdated, key)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            };
            if flag("kev") || flag("confirmed") {
                return graded(0);
            }
            // A banner match is only suspected until a probe or the agent confirms it.
            return by(2, vec![ServiceOutdated])
                .with_note(Note::new("note.suspected").arg("target", a.target));
        }
        graded(3).with_note(Note::new("note.max_observable"))
    })
}

/// C07: the share of enrolled hosts (targets of host checks).
fn c07_patching(inputs: &Inputs<'_>) -> Cell {
    let scope = Scope::observed(AssetKind::Host, assets(inputs.findings, &feeds("C07")));
    let hosts = &scope.reached;
    if hosts.is_empty() {
        return scope.unknown("C07");
    }
    let total = hosts.len();
    let eol = hosts.iter().filter(|h| h.fails(HostOsEol)).count();
    let automatic = hosts
        .iter()
        .filter(|h| h.passes(HostUpdatesAutomatic))
        .count();
    let pending = hosts
        .iter()
        .filter(|h| h.fails(HostUpdatesSecurity))
        .count();
    // Hosts whose pending security updates could not be known (no package index, an
    // unreadable database): level 3 says "none pending" and cannot be granted on them.
    let pending_unknown: Vec<&str> = hosts
        .iter()
        .filter(|h| !h.passes(HostUpdatesSecurity) && !h.fails(HostUpdatesSecurity))
        .map(|h| h.target)
        .collect();
    let met = hosts
        .iter()
        .filter(|h| {
            !h.fails(HostOsEol) && h.passes(HostUpdatesAutomatic) && h.passes(HostUpdatesSecurity)
        })
        .count();
    // Shares compared in integers: automatic/total >= 95% ⇔ 100·automatic >= 95·total.
    let share_at_least = |n: usize, percent: usize| n * 100 >= percent * total;
    let mut notes = Vec::new();
    let level = if eol > 0 {
        0
    } else if automatic == 0 {
        1
    } else if !share_at_least(automatic, 80) || pending > 0 {
        2
    } else if let Some(host) = pending_unknown.first() {
        notes.push(
            Note::new("note.missing_check_on")
                .arg("check", HostUpdatesSecurity.id())
                .arg("target", host)
                .arg("level", 2),
        );
        2
    } else if share_at_least(automatic, 95) {
        // Level 4 needs third-party patching, which the agent does not observe yet.
        notes.push(Note::new("note.max_observable"));
        3
    } else {
        2
    };
    notes.extend(scope.excluded_note());
    // The hosts' verdicts that set the level: end of life at 0; automatic updates missing
    // at 1; at 2 the hosts short of automatic updates or with pending (or unknown) security
    // updates; at 3 every host's update facts.
    let deciding: &[Check] = match level {
        0 => &[HostOsEol],
        1 => &[HostUpdatesAutomatic],
        _ => &[HostUpdatesAutomatic, HostUpdatesSecurity],
    };
    let basis = hosts
        .iter()
        .flat_map(|h| {
            deciding
                .iter()
                .filter(|c| level >= 3 || !h.passes(**c))
                .filter_map(|c| h.basis(*c))
        })
        .take(MAX_BASIS)
        .collect();
    let mut cell = observed_cell(
        "C07",
        level,
        Coverage {
            met: count(met),
            total: count(total),
        },
        hosts,
        inputs.now,
        notes,
    );
    cell.basis = basis;
    cell
}

/// The key headers of `https.headers`, as its evidence names missing ones.
fn missing_headers(asset: &Asset<'_>) -> Option<Vec<String>> {
    let missing = asset.evidence(HttpsHeaders, "missing")?.as_array()?;
    Some(
        missing
            .iter()
            .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
            .collect(),
    )
}

/// C10: every web host with a header check.
fn c10_website_hardening(inputs: &Inputs<'_>) -> Cell {
    // A page that redirects elsewhere (`skip`) is judged at its destination; one whose
    // headers could not be read (`error`) is not reached.
    let sites: Vec<Asset<'_>> = assets(inputs.findings, &feeds("C10"))
        .into_iter()
        .filter(|a| a.status(HttpsHeaders).is_some_and(|s| s != Status::Skip))
        .collect();
    let sites = Scope::new(AssetKind::Endpoint, sites, |a| {
        a.status(HttpsHeaders).is_some_and(is_observed)
    });
    weakest("C10", &sites, inputs.now, |a| {
        let missing = if a.passes(HttpsHeaders) {
            Vec::new()
        } else {
            match missing_headers(a) {
                Some(missing) => missing,
                // Failing, without saying which: some headers are missing.
                None => return graded(2),
            }
        };
        // Entries name the header first, e.g. "X-Content-Type-Options: nosniff".
        let has = |name: &str| !missing.iter().any(|m| m.starts_with(name));
        let csp = has("content-security-policy");
        // The check reports frame protection missing when neither X-Frame-Options nor a CSP
        // frame-ancestors directive is sent.
        let frame = !missing
            .iter()
            .any(|m| m.contains("x-frame-options") || m.contains("frame-ancestors"));
        let nosniff = has("x-content-type-options");
        let referrer = has("referrer-policy");
        if !csp && !frame && !nosniff && !referrer {
            return graded(1);
        }
        if !(csp && frame && a.passes(HttpsHsts) && nosniff) {
            return graded(2);
        }
        // The CSP as sent (`present`), or an explicit flag; unknown counts as unsafe.
        let csp_value = a
            .evidence(HttpsHeaders, "present")
            .and_then(|p| p.get("content-security-policy"))
            .and_then(serde_json::Value::as_str);
        let unsafe_inline = match csp_value {
            Some(csp) => csp.to_ascii_lowercase().contains("'unsafe-inline'"),
            None => a
                .evidence(HttpsHeaders, "csp_unsafe_inline")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true),
        };
        if referrer && !unsafe_inline && a.passes(HttpsSecurityTxt) {
            graded(4)
        } else {
            graded(3)
        }
    })
}

/// The verdict showing a password-only remote login: RDP/VNC, or basic authentication over
/// plain HTTP.
fn password_only_remote_login(findings: &[FindingFact]) -> Option<&FindingFact> {
    findings.iter().find(|f| {
        f.status == Status::Fail
            && (f.check == ServiceRemoteDesktop
                    // service.cleartext fails plain HTTP only when it asks for basic
                    // authentication.
                    || (f.check == ServiceCleartext
                        && f.evidence
                            .get("service")
                            .and_then(serde_json::Value::as_str)
                            .is_some_and(|s| {
                                let s = s.to_ascii_lowercase();
                                s == "http" || s.contains("basic")
                            })))
    })
}

/// C15: self-assessed, capped at 2 (and marked hybrid) by an observed password-only login.
fn c15_mfa(inputs: &Inputs<'_>) -> Cell {
    let mut cell = self_assessed("C15", inputs);
    if let Some(finding) = password_only_remote_login(inputs.findings) {
        cell.notes
            .push(Note::new("note.cap_rdp").arg("target", &finding.target));
        if let Value::Level(level) = cell.value {
            cell.value = Value::Level(level.min(2));
            cell.source = Some(Source::Hybrid);
            cell.basis.insert(
                0,
                Basis::Finding {
                    check: finding.check.id(),
                    target: finding.target.clone(),
                    status: finding.status,
                },
            );
        }
    }
    cell
}

/// `baseline_attainment`: (capabilities at ≥3, capabilities with a known level).
pub fn baseline_attainment(cells: &[Cell]) -> (usize, usize) {
    let known: Vec<u8> = cells.iter().filter_map(|c| c.value.level()).collect();
    (known.iter().filter(|l| **l >= 3).count(), known.len())
}

/// `weakest_critical`: the lowest known level among the critical capabilities, with the ids
/// at that level.
pub fn weakest_critical(cells: &[Cell]) -> Option<(u8, Vec<String>)> {
    let critical: Vec<(&str, u8)> = cells
        .iter()
        .filter(|c| {
            catalogue()
                .capability(&c.capability)
                .is_some_and(|cap| cap.critical)
        })
        .filter_map(|c| c.value.level().map(|l| (c.capability.as_str(), l)))
        .collect();
    let lowest = critical.iter().map(|(_, l)| *l).min()?;
    Some((
        lowest,
        critical
            .iter()
            .filter(|(_, l)| *l == lowest)
            .map(|(id, _)| (*id).to_owned())
            .collect(),
    ))
}

/// The median of known levels (the lower middle for an even count, so that it is a level).
pub fn median(levels: &[u8]) -> Option<u8> {
    let mut sorted = levels.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[(sorted.len() - 1) / 2])
}

#[cfg(test)]
mod tests;
