//! The agent's configuration file (TOML), parsed once into typed values.
//!
//! Every section rejects unknown keys, and every value that has a syntax of its own (a
//! duration, a URL, a CIDR, a target) is parsed while the file is read, so that a mistake is
//! reported with the line and the key it is on, and the rest of the agent only sees typed
//! values. `CONFIGURATION.md` at the repository root documents every key.

mod agent;
mod collector;
mod dns;
mod email;
mod host;
mod scope;
mod services;
mod tls;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::scope::Scope;
use agent::de_org;

pub use agent::{default_agent_id, parse_org, AgentSettings};
pub use collector::{parse_collector_url, CollectorConfig};
pub use dns::DnsConfig;
pub use email::{parse_dkim_selector, parse_domain, EmailConfig};
pub use host::HostConfig;
pub use services::{Pacing, ServicesConfig};
pub use tls::TlsConfig;
pub use values::{parse_duration, parse_positive_duration};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_from_one() {
        let text = "a = 1\nb = 2\nçé = 3\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 5));
        let offset = text.find("= 3").unwrap();
        assert_eq!(line_column(text, offset), (3, 4));
    }
}
