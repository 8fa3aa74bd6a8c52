//! The agent's configuration file (TOML), parsed once into typed values.
//!
//! Every section rejects unknown keys, and every value that has a syntax of its own (a
//! duration, a URL, a CIDR, a target) is parsed while the file is read, so that a mistake is
//! reported with the line and the key it is on, and the rest of the agent only sees typed
//! values. `CONFIGURATION.md` at the repository root documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use vigie_checks::tls::{Profile, TlsTarget};

use crate::scope::{Scope, ScopeEntry};
use vigie_checks::services::scope::DEFAULT_MAX_ADDRESSES;
use vigie_checks::services::{PortSet, ServiceTarget};

/// Where reports wait for the collector when the file names no other place.
pub const DEFAULT_OUTBOX: &str = "/var/lib/vigie/outbox";
/// The timeout of one probe step when neither the file nor `--timeout` sets one.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many endpoints are probed at once when neither the file nor `--concurrency` says.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Above this, probing stops being polite to the networks the agent runs in.
pub const MAX_CONCURRENCY: usize = 1024;
/// How many mail domains are probed at once by default (each one asks some thirty DNS
/// questions of the same resolvers).
pub const DEFAULT_EMAIL_CONCURRENCY: usize = 4;
/// The local vulnerability index (`vigie-agent vulndb import`) when neither the file nor
/// `--vulndb`/`--db` names one. Inside the systemd unit's `StateDirectory`.
pub const DEFAULT_VULNDB: &str = "/var/lib/vigie/vulndb.sqlite";
/// The root of the running system, inspected by the host checks.
pub const DEFAULT_HOST_ROOT: &str = "/";

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read the config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not valid TOML, or a key or value is wrong.
    #[error("{}", describe_invalid(path, *line, *column, key.as_deref(), message))]
    Invalid {
        path: PathBuf,
        /// 1-based line of the offending key or value, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The dotted key, e.g. `agent.schedule`, when known.
        key: Option<String>,
        /// What is wrong, and what is expected instead.
        message: String,
    },
}

fn describe_invalid(
    path: &Path,
    line: Option<usize>,
    column: Option<usize>,
    key: Option<&str>,
    message: &str,
) -> String {
    let mut text = format!("invalid config file {}", path.display());
    match (line, column) {
        (Some(line), Some(column)) => text.push_str(&format!(", line {line}, column {column}")),
        (Some(line), None) => text.push_str(&format!(", line {line}")),
        _ => {}
    }
    if let Some(key) = key {
        text.push_str(&format!(", key `{key}`"));
    }
    text.push_str(": ");
    text.push_str(message);
    text
}

/// The whole configuration of an agent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The organization this agent reports for (1–64 of `a-z 0-9 - _ .`); the collector
    /// checks it against the agent's token.
    #[serde(deserialize_with = "de_org")]
    pub org: String,
    /// Where `run` sends reports. Optional for `scan all`, required for `run`.
    #[serde(default)]
    pub collector: Option<CollectorConfig>,
    /// The agent's identity, schedule, outbox and retry policy.
    #[serde(default)]
    pub agent: AgentSettings,
    /// What service scans may touch.
    #[serde(default)]
    pub scope: Scope,
    /// Which DNS resolvers the probes use.
    #[serde(default)]
    pub dns: DnsConfig,
    /// TLS endpoints to check.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Mail domains to check.
    #[serde(default)]
    pub email: EmailConfig,
    /// Hosts whose exposed services to check.
    #[serde(default)]
    pub services: ServicesConfig,
    /// Patch posture of the agent's own host.
    #[serde(default)]
    pub host: HostConfig,
    /// The file this configuration was read from, for messages; set by [`load_config`].
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[collector]`: where reports go.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorConfig {
    /// Base URL of the collector, e.g. `https://collector.example.ca:8443`; reports are
    /// posted to `<url>/api/v1/reports`. `https` is required except for loopback hosts.
    pub url: reqwest::Url,
    /// File holding the agent token on one line (trimmed). Relative paths are relative to
    /// the config file's folder. Read when `run` starts.
    pub token_file: PathBuf,
    /// The line of `token_file` in the config file, so that a token file found missing at
    /// `run` is reported at its key; set by [`load_config`].
    pub token_file_line: Option<usize>,
    /// Extra trusted roots (PEM) for the collector's certificate, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// Bound on one upload request (connect, send, answer). Default `30s`.
    pub timeout: Duration,
    token_file_span: std::ops::Range<usize>,
}

/// The `[collector]` section as written, with the span of `token_file` kept for messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectorSection {
    /// See [`CollectorConfig::url`].
    #[serde(deserialize_with = "de_collector_url")]
    url: reqwest::Url,
    /// See [`CollectorConfig::token_file`].
    token_file: toml::Spanned<PathBuf>,
    /// See [`CollectorConfig::ca_file`].
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// See [`CollectorConfig::timeout`].
    #[serde(
        default = "default_collector_timeout",
        deserialize_with = "de_duration"
    )]
    timeout: Duration,
}

impl<'de> Deserialize<'de> for CollectorConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let section = CollectorSection::deserialize(deserializer)?;
        let token_file_span = section.token_file.span();
        Ok(CollectorConfig {
            url: section.url,
            token_file: section.token_file.into_inner(),
            token_file_line: None,
            ca_file: section.ca_file,
            timeout: section.timeout,
            token_file_span,
        })
    }
}

fn default_collector_timeout() -> Duration {
    Duration::from_secs(30)
}

/// `[agent]`: identity, schedule, outbox and retry policy of `run`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// A stable id for this installation (1–128 of `A-Z a-z 0-9 - _ .`). Default: derived
    /// from `/etc/machine-id` (hashed, never sent as is) or else the host name.
    #[serde(default, deserialize_with = "de_agent_id")]
    pub id: Option<String>,
    /// How often `run` scans. Default `6h`.
    #[serde(default = "default_schedule", deserialize_with = "de_duration")]
    pub schedule: Duration,
    /// Folder where reports wait until the collector acknowledges them. Default
    /// `/var/lib/vigie/outbox`. Relative paths are relative to the config file's folder.
    #[serde(default = "default_outbox")]
    pub outbox: PathBuf,
    /// First delay before retrying an upload. Default `1s`.
    #[serde(default = "default_retry_initial", deserialize_with = "de_duration")]
    pub retry_initial: Duration,
    /// Longest delay between upload retries. Default `5m`.
    #[serde(default = "default_retry_max", deserialize_with = "de_duration")]
    pub retry_max: Duration,
    /// How long `run --once` keeps retrying uploads before it gives up. Default `60s`.
    #[serde(default = "default_once_deadline", deserialize_with = "de_duration")]
    pub once_deadline: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            id: None,
            schedule: default_schedule(),
            outbox: default_outbox(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            once_deadline: default_once_deadline(),
        }
    }
}

fn default_schedule() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_outbox() -> PathBuf {
    PathBuf::from(DEFAULT_OUTBOX)
}
fn default_retry_initial() -> Duration {
    Duration::from_secs(1)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}
fn default_once_deadline() -> Duration {
    Duration::from_secs(60)
}

/// `[dns]`: resolvers for the probes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// `IP[:PORT]` of the resolvers to query (port 53 by default). Empty: the system's.
    #[serde(default, deserialize_with = "de_resolvers")]
    pub resolvers: Vec<SocketAddr>,
    /// Judge DNSSEC with our own validation instead of the resolvers' AD bit (for
    /// resolvers that do not validate). Default false.
    #[serde(default)]
    pub dnssec_validate: bool,
    /// DNSKEY records to trust for that validation instead of the root's (zone-file lines,
    /// every key of the zone); setting it turns `dnssec_validate` on.
    #[serde(default)]
    pub trust_anchor: Option<PathBuf>,
}

/// `[tls]`: TLS endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `HOST[:PORT]` endpoints (port 443 by default).
    #[serde(default, deserialize_with = "de_tls_targets")]
    pub targets: Vec<TlsTarget>,
    /// Extra trusted roots (PEM) for the scanned endpoints, e.g. an internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Bound on each probe step (resolve, connect, handshake). Default `5s`.
    #[serde(default = "default_probe_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// How many endpoints are probed at once (1–1024). Default 16.
    #[serde(default = "default_concurrency", deserialize_with = "de_concurrency")]
    pub concurrency: usize,
    /// The grading profile of the TLS findings: `modern` (default), `itsp-strict` or
    /// `mozilla-intermediate`.
    #[serde(default, deserialize_with = "de_profile")]
    pub profile: Profile,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            targets: Vec::new(),
            ca_file: None,
            timeout: DEFAULT_PROBE_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            profile: Profile::default(),
        }
    }
}

fn default_probe_timeout() -> Duration {
    DEFAULT_PROBE_TIMEOUT
}
fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}

/// `[email]`: mail domains whose SPF, DMARC, DKIM, MTA-STS, TLS-RPT, DNSSEC and CAA to check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Mail domains to check, e.g. `example.ca` (validated, lowercased, final dot dropped).
    #[serde(default, deserialize_with = "de_domains")]
    pub domains: Vec<String>,
    /// DKIM selectors to look up besides the common ones.
    #[serde(default, deserialize_with = "de_selectors")]
    pub dkim_selectors: Vec<String>,
    /// Whether to probe the MX hosts' STARTTLS on port 25 (often filtered). Default false.
    /// Not performed by this version (a warning says so).
    #[serde(default)]
    pub smtp_probe: bool,
    /// Bound on each DNS query and on the MTA-STS policy fetch. Default `5s`.
    #[serde(default = "default_probe_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// How many domains are probed at once (1–1024). Default 4.
    #[serde(
        default = "default_email_concurrency",
        deserialize_with = "de_concurrency"
    )]
    pub concurrency: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            domains: Vec::new(),
            dkim_selectors: Vec::new(),
            smtp_probe: false,
            timeout: DEFAULT_PROBE_TIMEOUT,
            concurrency: DEFAULT_EMAIL_CONCURRENCY,
        }
    }
}

fn default_email_concurrency() -> usize {
    DEFAULT_EMAIL_CONCURRENCY
}

/// `[services]`: hosts whose exposed TCP services to check. Every address (given, inside a
/// CIDR, or resolved from a name) must be inside `[scope] allow`, or the scan is refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    /// Hosts, addresses or CIDRs to scan, e.g. `"203.0.113.10"`, `"203.0.113.0/28"`.
    #[serde(default, deserialize_with = "de_service_targets")]
    pub targets: Vec<ServiceTarget>,
    /// Which ports: `top100` (the default), `top1000`, or a list with ranges such as
    /// `"22,80,8000-8100"`.
    #[serde(default, deserialize_with = "de_port_set")]
    pub ports: Option<PortSet>,
    /// The most addresses one scan may touch (default 1024).
    #[serde(default = "default_max_addresses")]
    pub max_addresses: usize,
    /// How connection attempts to one address are spaced (default adaptive).
    #[serde(default)]
    pub pacing: Pacing,
}

/// How a service scan spaces its connection attempts to one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pacing {
    /// 10 ms apart, tightening to 100 µs while the address answers every attempt at once and
    /// back to 10 ms at the first timeout or slow answer.
    #[default]
    Adaptive,
    /// Always 10 ms apart, for devices that answer fast but should not be hurried.
    Fixed,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            targets: Vec::new(),
            ports: None,
            max_addresses: DEFAULT_MAX_ADDRESSES,
            pacing: Pacing::default(),
        }
    }
}

fn default_max_addresses() -> usize {
    DEFAULT_MAX_ADDRESSES
}

fn de_service_targets<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ServiceTarget>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<ServiceTarget>().map_err(|e| e.to_string()),
        "addresses, CIDRs or host names such as \"203.0.113.10\" or \"203.0.113.0/28\"",
    )
}

fn de_port_set<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<PortSet>, D::Error> {
    deserializer
        .deserialize_str(ParseWith {
            parse: |text| text.parse::<PortSet>().map_err(|e| e.to_string()),
            expecting: "a port set such as \"top100\", \"top1000\" or \"22,80,8000-8100\"",
        })
        .map(Some)
}

/// `[host]`: patch posture of the machine the agent runs on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Whether to check the patch posture of the machine the agent runs on. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// The root folder to inspect: `/` for the running system, or a mounted image.
    #[serde(default = "default_host_root")]
    pub root: PathBuf,
    /// The vulnerability index made by `vigie-agent vulndb import`. `None`: the default
    /// [`DEFAULT_VULNDB`], used only when it exists.
    #[serde(default)]
    pub vulndb: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            enabled: false,
            root: default_host_root(),
            vulndb: None,
        }
    }
}

fn default_host_root() -> PathBuf {
    PathBuf::from(DEFAULT_HOST_ROOT)
}

/// Reads and parses a configuration file. Relative paths in it (`collector.token_file`,
/// `collector.ca_file`, `agent.outbox`, `tls.ca_file`, `host.root`, `host.vulndb`) are made
/// relative to the file's
/// folder, and a missing `agent.id` is derived from the machine (see [`default_agent_id`]).
///
/// Errors name the file, the line and the key, and say what is expected.
pub fn load_config(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let mut config = parse_config(&text, path)?;
    if let Some(collector) = &mut config.collector {
        collector.token_file_line = Some(line_column(&text, collector.token_file_span.start).0);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    config.resolve_paths(base);
    if config.agent.id.is_none() {
        config.agent.id = Some(default_agent_id());
    }
    config.source = Some(path.to_owned());
    Ok(config)
}

/// Parses configuration text; `path` only names the file in errors. Paths are left as
/// written and `agent.id` as given (see [`load_config`] for both).
pub fn parse_config(text: &str, path: &Path) -> Result<AgentConfig, ConfigError> {
    toml::from_str::<AgentConfig>(text).map_err(|error| invalid_from_toml(text, path, &error))
}

impl AgentConfig {
    /// The agent id: `agent.id` or, when absent, the one derived from the machine.
    pub fn agent_id(&self) -> String {
        self.agent.id.clone().unwrap_or_else(default_agent_id)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(collector) = &mut self.collector {
            join(&mut collector.token_file);
            if let Some(ca) = &mut collector.ca_file {
                join(ca);
            }
        }
        join(&mut self.agent.outbox);
        if let Some(ca) = &mut self.tls.ca_file {
            join(ca);
        }
        join(&mut self.host.root);
        if let Some(vulndb) = &mut self.host.vulndb {
            join(vulndb);
        }
    }
}

/// An id stable across restarts that does not reveal the machine id (which systemd asks
/// applications not to expose): a hash of it under an application key, else the host name.
pub fn default_agent_id() -> String {
    use sha2::Digest;
    match std::fs::read_to_string("/etc/machine-id") {
        Ok(id) if !id.trim().is_empty() => {
            let digest = sha2::Sha256::digest(format!("vigie-agent:{}", id.trim()).as_bytes());
            format!("m-{}", &hex::encode(digest)[..20])
        }
        _ => sanitize_id(&crate::host_name::hostname()),
    }
}

fn sanitize_id(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if id.is_empty() {
        "unknown-host".to_owned()
    } else {
        id
    }
}

/// Turns a toml error into one that names the file, line, column and dotted key.
fn invalid_from_toml(text: &str, path: &Path, error: &toml::de::Error) -> ConfigError {
    let (line, column) = match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    let message = error.message().trim().to_owned();
    let mut keys = error_keys(error);
    let top_level = keys.is_empty();
    // The field named by these messages is the key the reader needs, not its table.
    for prefix in ["unknown field `", "missing field `", "duplicate key `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(name) = rest.split('`').next() {
                keys.push(name.to_owned());
            }
        }
    }
    // A missing key has no line of its own; toml points at the enclosing table, which for
    // the top level is the whole file (line 1), so say nothing rather than mislead.
    let (line, column) = if message.starts_with("missing field") && top_level {
        (None, None)
    } else {
        (line, column)
    };
    let key = (!keys.is_empty()).then(|| keys.join("."));
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        column,
        key,
        message,
    }
}

/// The dotted path of the table a toml error happened in. toml keeps it private but prints
/// it as "in `a.b`" when the error carries no input text, so print it that way.
fn error_keys(error: &toml::de::Error) -> Vec<String> {
    let mut bare = error.clone();
    bare.set_input(None);
    bare.to_string()
        .lines()
        .rev()
        .find_map(|line| {
            line.strip_prefix("in `")?
                .strip_suffix('`')
                .map(str::to_owned)
        })
        .map(|keys| keys.split('.').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses a duration such as `6h`, `90s`, `1h30m` or `500ms`: one or more integers, each
/// followed by a unit among `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let expected = "expected a number and a unit (ms, s, m, h, d), e.g. 90s, 6h or 1h30m";
    if trimmed.is_empty() {
        return Err(format!("the duration is empty: {expected}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{trimmed}` is not a duration: {expected}"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let (unit, after) = after.split_at(unit_len);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{trimmed}` is too long a duration"))?;
        let part = match unit {
            "ms" => Some(Duration::from_millis(value)),
            "s" => Some(Duration::from_secs(value)),
            "m" => value.checked_mul(60).map(Duration::from_secs),
            "h" => value.checked_mul(3600).map(Duration::from_secs),
            "d" => value.checked_mul(86_400).map(Duration::from_secs),
            "" if after.is_empty() => {
                return Err(format!(
                    "`{trimmed}` has no unit: {expected} (write {number}s for seconds)"
                ))
            }
            "" => return Err(format!("`{trimmed}` is not a duration: {expected}")),
            other => {
                return Err(format!(
                    "`{trimmed}` is not a duration: unknown unit `{other}`; {expected}"
                ))
            }
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("`{trimmed}` is too long a duration"))?;
        rest = after;
    }
    Ok(total)
}

/// Parses a string value inside the deserializer, so that toml attaches the span of the
/// value itself (an element of a list, not the whole list) to the error.
struct ParseWith<T> {
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
}

impl<T> Clone for ParseWith<T> {
    fn clone(&self) -> Self {
        ParseWith {
            parse: self.parse,
            expecting: self.expecting,
        }
    }
}

impl<'de, T> serde::de::Visitor<'de> for ParseWith<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).map_err(E::custom)
    }
}

impl<'de, T> serde::de::DeserializeSeed<'de> for ParseWith<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

/// A list of strings, each parsed by `parse` with its own span.
struct ParseList<T>(ParseWith<T>);

impl<'de, T> serde::de::Visitor<'de> for ParseList<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list of {}", self.0.expecting)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.0.clone())? {
            items.push(item);
        }
        Ok(items)
    }
}

fn parse_list<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_seq(ParseList(ParseWith { parse, expecting }))
}

fn de_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_positive_duration,
        expecting: "a duration such as \"30s\", \"5m\" or \"6h\"",
    })
}

/// [`parse_duration`], refusing zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "`{text}` is zero: give a positive duration, e.g. 30s"
        ));
    }
    Ok(duration)
}

fn de_org<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_org,
        expecting: "an organization id such as \"example-org\"",
    })
}

/// An organization id: 1–64 of `a-z 0-9 - _ .` (the collector's rule).
pub fn parse_org(org: &str) -> Result<String, String> {
    if vigie_model::validate::is_valid_org(org) {
        Ok(org.to_owned())
    } else {
        Err(format!(
            "`{org}` is not a valid organization id: use 1 to 64 lowercase letters, digits, `-`, `_` or `.`, as given by the collector's operator (e.g. \"example-org\")"
        ))
    }
}

fn de_agent_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer
        .deserialize_str(ParseWith {
            parse: parse_agent_id,
            expecting: "an agent id such as \"web-01\"",
        })
        .map(Some)
}

fn parse_agent_id(id: &str) -> Result<String, String> {
    // The collector's rule, so that every id the agent accepts is one the collector takes.
    if vigie_model::validate::is_valid_agent_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "`{id}` is not a valid agent id: use 1 to 128 letters, digits, `-`, `_` or `.`, or remove the key to derive one from the machine"
        ))
    }
}

fn de_collector_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<reqwest::Url, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: parse_collector_url,
        expecting: "a URL such as \"https://collector.example.ca:8443\"",
    })
}

/// A collector base URL: `https://HOST[:PORT][/PREFIX]`; `http` only for loopback hosts,
/// since the agent token travels in every request.
pub fn parse_collector_url(text: &str) -> Result<reqwest::Url, String> {
    let expected = "expected https://HOST[:PORT], e.g. https://collector.example.ca:8443";
    let url = match reqwest::Url::parse(text.trim()) {
        Ok(url) if !url.cannot_be_a_base() => url,
        Ok(_) => return Err(format!("`{text}` is not a URL: {expected}")),
        Err(error) => return Err(format!("`{text}` is not a URL ({error}): {expected}")),
    };
    let loopback = url.host_str().is_some_and(|host| {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bare.eq_ignore_ascii_case("localhost"),
        }
    });
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "`{text}` uses plain http: the agent token would travel in clear; use https:// (http is allowed only for a collector on loopback)"
            ))
        }
        other => return Err(format!("`{text}` has scheme `{other}`: {expected}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host: {expected}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{text}` carries credentials: remove them, the agent authenticates with token_file"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment: give the collector's base URL only"
        ));
    }
    Ok(url)
}

fn de_resolvers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SocketAddr>, D::Error> {
    parse_list(
        deserializer,
        |text| vigie_checks::dns::parse_resolver(text).map_err(|e| e.to_string()),
        "resolver addresses such as \"192.0.2.53\" or \"192.0.2.53:5353\"",
    )
}

fn de_tls_targets<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<TlsTarget>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<TlsTarget>().map_err(|e| e.to_string()),
        "TLS endpoints such as \"www.example.ca\" or \"mail.example.ca:465\"",
    )
}

fn de_profile<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Profile, D::Error> {
    deserializer.deserialize_str(ParseWith {
        parse: |text: &str| text.parse::<Profile>(),
        expecting: "a TLS profile: \"modern\", \"itsp-strict\" or \"mozilla-intermediate\"",
    })
}

fn de_domains<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    parse_list(
        deserializer,
        parse_domain,
        "mail domains such as \"example.ca\"",
    )
}

fn de_selectors<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    parse_list(
        deserializer,
        parse_dkim_selector,
        "DKIM selectors such as \"selector1\"",
    )
}

/// A mail domain as written by a person: `example.ca` or `Example.CA.`, returned lowercased
/// without the final dot. Two labels at least, each 1–63 of `a-z 0-9 -` not starting or
/// ending with `-`, 253 characters at most. An address, a URL or an e-mail address is
/// refused with a hint.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let name = trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    let hint = "give a domain name such as example.ca";
    if name.is_empty() {
        return Err(format!("the domain is empty: {hint}"));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "`{trimmed}` is an address, not a domain: {hint} (the mail domain, not a server)"
        ));
    }
    if name.contains("://") || name.contains('/') {
        return Err(format!("`{trimmed}` is a URL, not a domain: {hint}"));
    }
    if name.contains('@') {
        return Err(format!(
            "`{trimmed}` is an e-mail address: give only the part after @"
        ));
    }
    if !name.is_ascii() {
        return Err(format!(
            "`{trimmed}` has non-ASCII letters: give its ASCII form (xn--…), e.g. from `idn2`"
        ));
    }
    if name.len() > 253 {
        return Err(format!(
            "`{trimmed}` is longer than the 253 characters a domain name may have"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "`{trimmed}` is not a valid domain name: each part between dots must be 1 to 63 letters, digits or `-`, not starting or ending with `-`; {hint}"
            ));
        }
    }
    if labels.len() < 2 {
        return Err(format!(
            "`{trimmed}` has a single label: {hint} (a name with at least one dot)"
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{trimmed}` ends in a number: {hint} (the mail domain, not a server address)"
        ));
    }
    Ok(name)
}

/// A DKIM selector (RFC 6376 §3.1): one or more dot-separated labels of `a-z 0-9 - _`,
/// returned lowercased.
pub fn parse_dkim_selector(text: &str) -> Result<String, String> {
    let selector = text.trim().to_ascii_lowercase();
    let valid = !selector.is_empty()
        && selector.len() <= 200
        && selector.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    if valid {
        Ok(selector)
    } else {
        Err(format!(
            "`{text}` is not a DKIM selector: use letters, digits, `-` or `_`, in parts separated by dots, e.g. selector1 (the name before ._domainkey.)"
        ))
    }
}

fn de_scope_entries<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ScopeEntry>, D::Error> {
    parse_list(
        deserializer,
        |text| text.parse::<ScopeEntry>().map_err(|e| e.to_string()),
        "addresses, CIDRs, host names or *.domain wildcards",
    )
}

fn de_concurrency<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    struct Concurrency;
    impl serde::de::Visitor<'_> for Concurrency {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a whole number from 1 to {MAX_CONCURRENCY}")
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<usize, E> {
            match usize::try_from(value) {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
                _ => Err(E::custom(format!(
                    "{value} is out of range: give 1 to {MAX_CONCURRENCY} endpoints probed at once"
                ))),
            }
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<usize, E> {
            self.visit_i64(i64::try_from(value).unwrap_or(i64::MAX))
        }
    }
    deserializer.deserialize_i64(Concurrency)
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// `[scope]` as written.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ScopeSection {
            /// Addresses, CIDRs, host names and `*.` wildcards.
            #[serde(default, deserialize_with = "de_scope_entries")]
            allow: Vec<ScopeEntry>,
        }
        let section = ScopeSection::deserialize(deserializer)?;
        Ok(Scope::from_entries(section.allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_the_rest() {
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2d "), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "60", "6 hours", "h", "1h30", "-5s", "1.5h", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("60").unwrap_err().contains("60s"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn line_and_column_count_from_one() {
        let text = "a = 1\nb = 2\nçé = 3\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 5));
        let offset = text.find("= 3").unwrap();
        assert_eq!(line_column(text, offset), (3, 4));
    }

    #[test]
    fn collector_urls_need_https_except_on_loopback() {
        assert!(parse_collector_url("https://collector.example.ca:8443").is_ok());
        assert!(parse_collector_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_collector_url("http://[::1]:8080").is_ok());
        assert!(parse_collector_url("http://localhost:8080/").is_ok());
        for bad in [
            "collector.example.ca",
            "http://collector.example.ca",
            "ftp://collector.example.ca",
            "https://user:pw@collector.example.ca",
            "https://collector.example.ca/?x=1",
        ] {
            assert!(parse_collector_url(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn domains_are_normalized_and_malformed_ones_refused() {
        assert_eq!(parse_domain("Example.CA."), Ok("example.ca".to_owned()));
        assert_eq!(
            parse_domain(" mail-1.example.org "),
            Ok("mail-1.example.org".to_owned())
        );
        for bad in [
            "",
            ".",
            "example",
            "192.0.2.1",
            "::1",
            "https://example.ca",
            "admin@example.ca",
            "exa mple.ca",
            "-bad.example.ca",
            "bad-.example.ca",
            "a..b",
            "étoile.ca",
            "example.123",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_domain(&format!("{}.ca", "a".repeat(64))).is_err());
        assert!(parse_domain("admin@example.ca")
            .unwrap_err()
            .contains("after @"));
    }

    #[test]
    fn dkim_selectors_are_dns_labels() {
        assert_eq!(parse_dkim_selector("Selector1"), Ok("selector1".to_owned()));
        assert_eq!(parse_dkim_selector("s1.eu_2"), Ok("s1.eu_2".to_owned()));
        for bad in ["", "a b", "a..b", "x._domainkey.example.ca/", "sel@"] {
            assert!(parse_dkim_selector(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sanitized_ids_keep_a_safe_alphabet() {
        assert_eq!(sanitize_id("web 01.example"), "web-01.example");
        assert_eq!(sanitize_id(""), "unknown-host");
    }
}
