//! Runs the probes a scan asks for and assembles one `vigie.report.v1` report.
//!
//! Each endpoint is probed once, many at a time (bounded by `concurrency`); a failed probe is
//! a finding with status `error`, never a missing row, and never stops the other endpoints.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vigie_checks::dns::{DnsError, Resolver};
use vigie_checks::tls::{TlsError, TlsProbeOptions, TlsTarget, TrustStore};
use vigie_model::{
    AgentInfo, Lang, Observations, Report, Target, TargetKind, TlsObservation, SCHEMA_V1,
};

use crate::config::AgentConfig;
use crate::shutdown::Shutdown;

/// The grading profile of this version's verdicts.
pub const PROFILE: &str = "modern";

/// Why a scan could not run at all (as opposed to endpoints that could not be reached, which
/// are findings).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The resolvers could not be set up.
    #[error("cannot set up DNS resolution: {0}")]
    Resolver(#[from] DnsError),
    /// The trust store (system roots plus `--ca-file`) could not be loaded.
    #[error("cannot load the trusted roots: {0}")]
    Trust(#[from] TlsError),
    /// Shutdown was asked for before the scan finished; no report was produced.
    #[error("the scan was interrupted by shutdown")]
    Cancelled,
}

/// Everything one scan needs, already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    /// The organization the report is for.
    pub org: String,
    /// The language of the findings' texts.
    pub lang: Lang,
    /// Who produces the report.
    pub agent: AgentInfo,
    /// DNS resolvers; empty: the system's.
    pub resolvers: Vec<SocketAddr>,
    /// The TLS part of the scan.
    pub tls: TlsScan,
}

/// The TLS endpoints of a scan and how to reach them.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsScan {
    /// Endpoints, probed once each (duplicates are dropped).
    pub targets: Vec<TlsTarget>,
    /// SNI name for every endpoint instead of its host (`--sni`).
    pub sni: Option<String>,
    /// Address to connect to instead of resolving (`--connect`).
    pub connect: Option<IpAddr>,
    /// Extra trusted roots (`--ca-file`, `[tls] ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Bound on each probe step.
    pub timeout: Duration,
    /// Endpoints probed at once (at least 1).
    pub concurrency: usize,
}

impl ScanRequest {
    /// The scan `scan all` and `run` perform for a configuration. Families this version does
    /// not scan yet are logged and skipped.
    pub fn from_config(config: &AgentConfig, lang: Lang) -> ScanRequest {
        warn_unavailable_families(config);
        ScanRequest {
            org: config.org.clone(),
            lang,
            agent: agent_info(&config.agent_id()),
            resolvers: config.dns.resolvers.clone(),
            tls: TlsScan {
                targets: config.tls.targets.clone(),
                sni: None,
                connect: None,
                ca_file: config.tls.ca_file.clone(),
                timeout: config.tls.timeout,
                concurrency: config.tls.concurrency,
            },
        }
    }
}

fn warn_unavailable_families(config: &AgentConfig) {
    if !config.email.domains.is_empty() {
        tracing::warn!(
            family = "email",
            domains = config.email.domains.len(),
            "email checks are not available in this version of vigie-agent; skipping [email]"
        );
    }
    if !config.services.targets.is_empty() {
        tracing::warn!(
            family = "services",
            targets = config.services.targets.len(),
            "service checks are not available in this version of vigie-agent; skipping [services]"
        );
    }
    if config.host.enabled {
        tracing::warn!(
            family = "host",
            "host checks are not available in this version of vigie-agent; skipping [host]"
        );
    }
}

/// Who produces a report: this build's version and the machine's host name.
pub fn agent_info(id: &str) -> AgentInfo {
    AgentInfo {
        id: id.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: hostname(),
    }
}

/// The kernel's host name, or `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Probes every endpoint of the request and returns the report. Shutdown abandons the scan
/// (no partial report).
pub async fn scan(request: &ScanRequest, shutdown: &Shutdown) -> Result<Report, ScanError> {
    let started_at = Utc::now();
    let targets = dedup(&request.tls.targets);
    let observations = tokio::select! {
        biased;
        _ = shutdown.wait() => return Err(ScanError::Cancelled),
        observations = probe_tls(&request.resolvers, &request.tls, &targets) => observations?,
    };
    let now = Utc::now();
    let findings = observations
        .iter()
        .flat_map(|observation| vigie_checks::tls::evaluate(observation, now))
        .map(|verdict| verdict.into_finding(request.lang))
        .collect();
    Ok(Report {
        schema: SCHEMA_V1.to_owned(),
        report_id: uuid::Uuid::new_v4(),
        agent: request.agent.clone(),
        org: request.org.clone(),
        started_at,
        finished_at: Utc::now(),
        targets: targets
            .iter()
            .map(|target| Target {
                kind: TargetKind::Tls,
                target: target.to_string(),
            })
            .collect(),
        findings,
        observations: Observations {
            tls: observations,
            ..Observations::default()
        },
        profile: Some(PROFILE.to_owned()),
    })
}

fn dedup(targets: &[TlsTarget]) -> Vec<TlsTarget> {
    let mut seen = std::collections::HashSet::new();
    targets
        .iter()
        .filter(|target| seen.insert((*target).clone()))
        .cloned()
        .collect()
}

/// One observation per target, in the targets' order.
async fn probe_tls(
    resolvers: &[SocketAddr],
    scan: &TlsScan,
    targets: &[TlsTarget],
) -> Result<Vec<TlsObservation>, ScanError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let resolver = Arc::new(Resolver::new(resolvers, scan.timeout)?);
    let trust = Arc::new(TrustStore::load(scan.ca_file.as_deref())?);
    let options = Arc::new(TlsProbeOptions {
        sni: scan.sni.clone(),
        connect: scan.connect,
        timeout: scan.timeout,
    });
    let permits = Arc::new(Semaphore::new(scan.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, target) in targets.iter().cloned().enumerate() {
        let (resolver, trust, options, permits) = (
            Arc::clone(&resolver),
            Arc::clone(&trust),
            Arc::clone(&options),
            Arc::clone(&permits),
        );
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits for a free slot.
            let _permit = permits.acquire_owned().await.ok();
            tracing::debug!(%target, "probing");
            let observation = vigie_checks::tls::probe(&target, &options, &resolver, &trust).await;
            (index, observation)
        });
    }
    let mut slots: Vec<Option<TlsObservation>> = vec![None; targets.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, observation)) => slots[index] = Some(observation),
            Err(error) => tracing::error!(%error, "a probe task failed"),
        }
    }
    Ok(slots
        .into_iter()
        .zip(targets)
        .map(|(slot, target)| slot.unwrap_or_else(|| lost_probe(target)))
        .collect())
}

/// A probe task that panicked still leaves an `error` finding for its endpoint.
fn lost_probe(target: &TlsTarget) -> TlsObservation {
    TlsObservation {
        target: target.to_string(),
        server_name: target.host.clone(),
        address: None,
        observed_at: Utc::now(),
        result: vigie_model::TlsProbeResult::Failed {
            stage: vigie_model::ProbeStage::Connect,
            error: "internal error: the probe task stopped unexpectedly".to_owned(),
        },
        enumeration: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::Status;

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn request(targets: Vec<TlsTarget>) -> ScanRequest {
        ScanRequest {
            org: "test-org".to_owned(),
            lang: Lang::En,
            agent: agent_info("test-agent"),
            resolvers: vec!["127.0.0.1:9".parse().unwrap()],
            tls: TlsScan {
                targets,
                sni: None,
                connect: None,
                ca_file: None,
                timeout: Duration::from_secs(2),
                concurrency: 2,
            },
        }
    }

    #[tokio::test]
    async fn unreachable_endpoints_become_error_findings_in_target_order() {
        let ports = [closed_port(), closed_port(), closed_port()];
        let mut targets: Vec<TlsTarget> = ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}").parse().unwrap())
            .collect();
        targets.push(targets[0].clone());
        let report = scan(&request(targets), &Shutdown::never()).await.unwrap();
        vigie_model::validate::validate(&report).unwrap();
        assert_eq!(report.targets.len(), 3, "duplicates dropped");
        let order: Vec<&str> = report
            .observations
            .tls
            .iter()
            .map(|o| o.target.as_str())
            .collect();
        let expected: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        assert_eq!(order, expected);
        for target in &expected {
            let connect = report
                .findings
                .iter()
                .find(|f| f.check.as_str() == "tls.connect" && f.target == *target)
                .expect("a tls.connect finding per target");
            assert_eq!(connect.status, Status::Error);
        }
        assert_eq!(report.profile.as_deref(), Some(PROFILE));
    }

    #[tokio::test]
    async fn shutdown_abandons_the_scan() {
        let (trigger, shutdown) = crate::shutdown::channel();
        trigger.trigger();
        let target = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
        let result = scan(&request(vec![target]), &shutdown).await;
        assert!(matches!(result, Err(ScanError::Cancelled)), "{result:?}");
    }
}
