//! The collector's configuration: flags and environment over an optional TOML file over
//! defaults, turned into one typed [`CollectorConfig`] in [`resolve`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::server::{
    DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
use crate::state::{DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_RATE_LIMIT_PER_MINUTE};
use crate::state::{
    DEFAULT_MAX_FINDINGS, DEFAULT_MAX_INFLIGHT_BODY_BYTES, DEFAULT_MAX_TARGETS,
    DEFAULT_ORG_STORAGE_BYTES,
};
use vigie_model::validate::ReportLimits;

/// The default `--listen`.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The default `--database-url`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vigie.db";

/// A usage or configuration error: the process exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("listen address `{value}` is not ADDR:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)")]
    BadListen { value: String },
    #[error("refusing to listen on {addr}, which is not a loopback address, without TLS: tokens and reports would cross the network in clear. Give --tls-cert FILE and --tls-key FILE, or put a TLS reverse proxy in front and listen on 127.0.0.1, or pass --insecure-listen (VIGIE_INSECURE_LISTEN=true) if the network is trusted")]
    NotLoopback { addr: SocketAddr },
    #[error("max_body_bytes must be at least 1024, got {0}")]
    BadMaxBody(u64),
    #[error("--tls-cert and --tls-key go together: give both or neither")]
    TlsPair,
    #[error("{name} must be between {min} and {max}, got {value}")]
    OutOfRange {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("max_inflight_body_bytes ({inflight}) is below max_body_bytes ({body}): a report of the largest size could never be read; raise the first or lower the second")]
    InflightBelowBody { inflight: u64, body: u64 },
}

/// The keys of `--config FILE`, the same as the flags. Unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `ADDR:PORT` to listen on.
    pub listen: Option<String>,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: Option<String>,
    /// Allow a non-loopback listen address.
    pub insecure_listen: Option<bool>,
    /// The largest report body accepted, in bytes.
    pub max_body_bytes: Option<u64>,
    /// PEM certificate chain (server's certificate first) for TLS on the listener.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Connections open at once.
    pub max_connections: Option<u64>,
    /// Seconds a client has to send its request head (and finish the TLS handshake).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a client has to send a report body.
    pub body_timeout_seconds: Option<u64>,
    /// Requests per minute per token; 0 turns the limit off.
    pub rate_limit_per_minute: Option<u64>,
    /// `[retention]`: how long raw reports are kept.
    pub retention: Option<RetentionConfig>,
    /// Serve `/metrics` without a token (a private network only).
    pub metrics_public: Option<bool>,
    /// Connections open at once from one source address; 0 turns the limit off.
    pub max_connections_per_address: Option<u64>,
    /// Findings accepted in one report.
    pub max_findings: Option<u64>,
    /// Distinct targets accepted in one report.
    pub max_targets: Option<u64>,
    /// Stored report bytes per organization; 0 turns the budget off.
    pub org_storage_bytes: Option<u64>,
    /// Report body bytes held in memory at once by all requests.
    pub max_inflight_body_bytes: Option<u64>,
}

/// `[retention]` of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Raw reports received more than this many days ago are deleted once a day (and by
    /// `vigie-collector prune`), except those the current state points at; transitions
    /// are kept. Absent: reports are kept forever.
    pub reports_days: Option<u64>,
}

/// The longest retention accepted: 100 years, so that the cutoff date is always valid.
pub const MAX_RETENTION_DAYS: u64 = 36_500;

impl FileConfig {
    /// `[retention] reports_days`, checked.
    pub fn retention_days(&self) -> Result<Option<u32>, ConfigError> {
        self.retention
            .as_ref()
            .and_then(|r| r.reports_days)
            .map(|days| {
                in_range("retention.reports_days", days, 1, MAX_RETENTION_DAYS).map(|d| d as u32)
            })
            .transpose()
    }

    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// What the command line (or its environment variables) set; `None` where it said nothing.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub insecure_listen: bool,
    pub max_body_bytes: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_connections: Option<u64>,
    pub header_timeout_seconds: Option<u64>,
    pub body_timeout_seconds: Option<u64>,
    pub rate_limit_per_minute: Option<u64>,
    pub metrics_public: bool,
    pub max_connections_per_address: Option<u64>,
    pub max_findings: Option<u64>,
    pub max_targets: Option<u64>,
    pub org_storage_bytes: Option<u64>,
    pub max_inflight_body_bytes: Option<u64>,
}

/// TLS on the listener: the two PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// The address to listen on; loopback unless `insecure_listen`.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Whether a non-loopback `listen` was explicitly allowed.
    pub insecure_listen: bool,
    /// The largest report body accepted (HTTP 413 beyond).
    pub max_body_bytes: usize,
    /// TLS on the listener, if configured.
    pub tls: Option<TlsFiles>,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a client has to send its request head.
    pub header_timeout: Duration,
    /// How long a client has to send a report body.
    pub body_timeout: Duration,
    /// Requests per minute per token; `None` for no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Days raw reports are kept (`[retention] reports_days`); `None`: forever.
    pub retention_days: Option<u32>,
    /// Whether `/metrics` answers without a token.
    pub metrics_public: bool,
    /// Connections open at once from one source address; `None` for no limit.
    pub max_connections_per_address: Option<usize>,
    /// Findings and distinct targets accepted in one report (413 beyond).
    pub report_limits: ReportLimits,
    /// Stored report bytes per organization (429 beyond); `None`: no budget.
    pub org_storage_bytes: Option<u64>,
    /// Report body bytes held in memory at once (503 beyond).
    pub max_inflight_body_bytes: usize,
}

impl Default for CollectorConfig {
    fn default() -> CollectorConfig {
        CollectorConfig {
            listen: DEFAULT_LISTEN,
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            insecure_listen: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            rate_limit_per_minute: Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
            retention_days: None,
            metrics_public: false,
            max_connections_per_address: Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
            report_limits: ReportLimits {
                max_findings: DEFAULT_MAX_FINDINGS,
                max_targets: DEFAULT_MAX_TARGETS,
            },
            org_storage_bytes: Some(DEFAULT_ORG_STORAGE_BYTES),
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
        }
    }
}

fn in_range(name: &'static str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            name,
            value,
            min,
            max,
        })
    }
}

/// Merges command line over file over defaults, and checks the result.
pub fn resolve(cli: Overrides, file: FileConfig) -> Result<CollectorConfig, ConfigError> {
    let retention_days = file.retention_days()?;
    let listen = match cli.listen.or(file.listen) {
        Some(value) => value
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::BadListen { value })?,
        None => DEFAULT_LISTEN,
    };
    let insecure_listen = cli.insecure_listen || file.insecure_listen.unwrap_or(false);
    let tls = match (cli.tls_cert.or(file.tls_cert), cli.tls_key.or(file.tls_key)) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err(ConfigError::TlsPair),
    };
    if !listen.ip().is_loopback() && !insecure_listen && tls.is_none() {
        return Err(ConfigError::NotLoopback { addr: listen });
    }
    let max_connections = match cli.max_connections.or(file.max_connections) {
        Some(n) => in_range("max_connections", n, 1, 1_000_000)? as usize,
        None => DEFAULT_MAX_CONNECTIONS,
    };
    let seconds = |name, value: Option<u64>, default| -> Result<Duration, ConfigError> {
        match value {
            Some(n) => Ok(Duration::from_secs(in_range(name, n, 1, 3600)?)),
            None => Ok(default),
        }
    };
    let header_timeout = seconds(
        "header_timeout_seconds",
        cli.header_timeout_seconds.or(file.header_timeout_seconds),
        DEFAULT_HEADER_TIMEOUT,
    )?;
    let body_timeout = seconds(
        "body_timeout_seconds",
        cli.body_timeout_seconds.or(file.body_timeout_seconds),
        DEFAULT_BODY_TIMEOUT,
    )?;
    let rate_limit_per_minute = match cli.rate_limit_per_minute.or(file.rate_limit_per_minute) {
        Some(0) => None,
        Some(n) => Some(in_range("rate_limit_per_minute", n, 1, 1_000_000)? as u32),
        None => Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
    };
    let max_connections_per_address = match cli
        .max_connections_per_address
        .or(file.max_connections_per_address)
    {
        Some(0) => None,
        Some(n) => Some(in_range("max_connections_per_address", n, 1, 1_000_000)? as usize),
        None => Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
    };
    let max_body_bytes = match cli.max_body_bytes.or(file.max_body_bytes) {
        Some(n) if n < 1024 => return Err(ConfigError::BadMaxBody(n)),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_BODY_BYTES,
    };
    let quotas = resolve_quotas(
        [
            cli.max_findings.or(file.max_findings),
            cli.max_targets.or(file.max_targets),
            cli.org_storage_bytes.or(file.org_storage_bytes),
            cli.max_inflight_body_bytes.or(file.max_inflight_body_bytes),
        ],
        max_body_bytes,
    )?;
    Ok(CollectorConfig {
        retention_days,
        listen,
        database_url: cli
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        insecure_listen,
        max_body_bytes,
        tls,
        max_connections,
        header_timeout,
        body_timeout,
        rate_limit_per_minute,
        metrics_public: cli.metrics_public || file.metrics_public.unwrap_or(false),
        max_connections_per_address,
        report_limits: quotas.report_limits,
        org_storage_bytes: quotas.org_storage_bytes,
        max_inflight_body_bytes: quotas.max_inflight_body_bytes,
    })
}

/// The largest `org_storage_bytes` accepted: 1 PiB, beyond any database this collector runs.
const MAX_ORG_STORAGE_BYTES: u64 = 1 << 50;

/// What one agent may make: the per-report limits, the organization's storage budget and
/// the bodies held at once.
struct Quotas {
    report_limits: ReportLimits,
    org_storage_bytes: Option<u64>,
    max_inflight_body_bytes: usize,
}

/// From `[max_findings, max_targets, org_storage_bytes, max_inflight_body_bytes]` as given.
fn resolve_quotas(given: [Option<u64>; 4], max_body_bytes: usize) -> Result<Quotas, ConfigError> {
    use vigie_model::validate::{MAX_FINDINGS, MAX_TARGETS};
    let [max_findings, max_targets, org_storage_bytes, max_inflight_body_bytes] = given;
    let max_findings = match max_findings {
        Some(n) => in_range("max_findings", n, 1, MAX_FINDINGS as u64)? as usize,
        None => DEFAULT_MAX_FINDINGS,
    };
    let max_targets = match max_targets {
        Some(n) => in_range("max_targets", n, 1, MAX_TARGETS as u64)? as usize,
        None => DEFAULT_MAX_TARGETS,
    };
    let org_storage_bytes = match org_storage_bytes {
        Some(0) => None,
        Some(n) => Some(in_range(
            "org_storage_bytes",
            n,
            1024,
            MAX_ORG_STORAGE_BYTES,
        )?),
        None => Some(DEFAULT_ORG_STORAGE_BYTES),
    };
    // At least one body of the largest size, or such a report could never be accepted.
    let max_inflight_body_bytes = match max_inflight_body_bytes {
        Some(n) if n < max_body_bytes as u64 => {
            return Err(ConfigError::InflightBelowBody {
                inflight: n,
                body: max_body_bytes as u64,
            })
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_INFLIGHT_BODY_BYTES.max(max_body_bytes),
    };
    Ok(Quotas {
        report_limits: ReportLimits {
            max_findings,
            max_targets,
        },
        org_storage_bytes,
        max_inflight_body_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_wins_over_file_over_defaults() {
        let config = resolve(Overrides::default(), FileConfig::default()).unwrap();
        assert_eq!(config, CollectorConfig::default());

        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.2:9000\"\ndatabase_url = \"sqlite:///x.db\"\nmax_body_bytes = 2048\n",
        )
        .unwrap();
        let cli = Overrides {
            listen: Some("127.0.0.3:9001".into()),
            ..Overrides::default()
        };
        let config = resolve(cli, file).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.3:9001");
        assert_eq!(config.database_url, "sqlite:///x.db");
        assert_eq!(config.max_body_bytes, 2048);
    }

    #[test]
    fn non_loopback_needs_insecure_listen() {
        let cli = Overrides {
            listen: Some("0.0.0.0:8080".into()),
            ..Overrides::default()
        };
        let error = resolve(cli.clone(), FileConfig::default()).unwrap_err();
        assert!(matches!(error, ConfigError::NotLoopback { .. }));
        assert!(error.to_string().contains("--insecure-listen"));
        let allowed = Overrides {
            insecure_listen: true,
            ..cli.clone()
        };
        assert!(resolve(allowed, FileConfig::default()).is_ok());
        let v6 = Overrides {
            listen: Some("[::1]:8080".into()),
            ..Overrides::default()
        };
        assert!(resolve(v6, FileConfig::default()).is_ok());
        let with_tls = Overrides {
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..cli.clone()
        };
        let config = resolve(with_tls, FileConfig::default()).unwrap();
        assert!(config.tls.is_some(), "TLS allows a non-loopback listen");
        let half = Overrides {
            tls_cert: Some("cert.pem".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            resolve(half, FileConfig::default()),
            Err(ConfigError::TlsPair)
        ));
    }

    #[test]
    fn limits_and_timeouts() {
        let file: FileConfig = toml::from_str(
            "max_connections = 10\nheader_timeout_seconds = 2\nbody_timeout_seconds = 3\nrate_limit_per_minute = 0\n",
        )
        .unwrap();
        let config = resolve(Overrides::default(), file).unwrap();
        assert_eq!(config.max_connections, 10);
        assert_eq!(config.header_timeout, Duration::from_secs(2));
        assert_eq!(config.body_timeout, Duration::from_secs(3));
        assert_eq!(config.rate_limit_per_minute, None, "0 turns the limit off");
        assert!(
            !config.metrics_public,
            "metrics need a token unless said otherwise"
        );
        let public: FileConfig = toml::from_str("metrics_public = true\n").unwrap();
        assert!(
            resolve(Overrides::default(), public)
                .unwrap()
                .metrics_public
        );
        assert_eq!(
            config.max_connections_per_address,
            Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)
        );
        let per_address = |n| {
            let file: FileConfig =
                toml::from_str(&format!("max_connections_per_address = {n}\n")).unwrap();
            resolve(Overrides::default(), file).map(|c| c.max_connections_per_address)
        };
        assert_eq!(per_address(8).unwrap(), Some(8));
        assert_eq!(per_address(0).unwrap(), None, "0 turns the limit off");
        assert!(matches!(
            per_address(2_000_000),
            Err(ConfigError::OutOfRange { .. })
        ));
        let zero = Overrides {
            header_timeout_seconds: Some(0),
            ..Overrides::default()
        };
        assert!(matches!(
            resolve(zero, FileConfig::default()),
            Err(ConfigError::OutOfRange { .. })
        ));
    }

    #[test]
    fn quotas() {
        let file: FileConfig = toml::from_str(
            "max_findings = 10\nmax_targets = 3\norg_storage_bytes = 0\nmax_body_bytes = 4096\nmax_inflight_body_bytes = 8192\n",
        )
        .unwrap();
        let config = resolve(Overrides::default(), file).unwrap();
        assert_eq!(config.report_limits.max_findings, 10);
        assert_eq!(config.report_limits.max_targets, 3);
        assert_eq!(config.org_storage_bytes, None, "0 turns the budget off");
        assert_eq!(config.max_inflight_body_bytes, 8192);
        let defaults = resolve(Overrides::default(), FileConfig::default()).unwrap();
        assert_eq!(defaults.report_limits.max_findings, 5_000);
        assert_eq!(defaults.org_storage_bytes, Some(1 << 30));
        for bad in [
            Overrides {
                max_findings: Some(50_001),
                ..Overrides::default()
            },
            Overrides {
                max_targets: Some(0),
                ..Overrides::default()
            },
        ] {
            let error = resolve(bad, FileConfig::default()).unwrap_err();
            assert!(matches!(error, ConfigError::OutOfRange { .. }), "{error}");
        }
        let below = Overrides {
            max_inflight_body_bytes: Some(1024),
            ..Overrides::default()
        };
        let error = resolve(below, FileConfig::default()).unwrap_err();
        assert!(
            matches!(error, ConfigError::InflightBelowBody { .. }),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let error = toml::from_str::<FileConfig>("listn = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(error.to_string().contains("listn"), "{error}");
        let bad = Overrides {
            listen: Some("localhost".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            resolve(bad, FileConfig::default()),
            Err(ConfigError::BadListen { .. })
        ));
        let small = Overrides {
            max_body_bytes: Some(10),
            ..Overrides::default()
        };
        assert!(matches!(
            resolve(small, FileConfig::default()),
            Err(ConfigError::BadMaxBody(10))
        ));
    }
}
