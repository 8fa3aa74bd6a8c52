//! Runs the probes a scan asks for and assembles one `vigie.report.v1` report.
//!
//! The families run side by side: TLS endpoints and mail domains are each probed once, many
//! at a time (bounded by their `concurrency`), and the host is read on a blocking thread. A
//! failed probe is a finding with status `error`, never a missing row, and never stops the
//! other targets.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vigie_checks::dns::{DnsError, Resolver};
use vigie_checks::email::{self, CachedLookups, EmailObservation, NetLookups, NetOptions};
use vigie_checks::host::{self, HostObservation};
use vigie_checks::https::{self, HttpsObservation, HttpsOptions};
use vigie_checks::services::{
    self, PortSet, PortSetError, ScopeError, ServiceTarget, ServicesObservation,
};
use vigie_checks::tls::{
    EnumerationOptions, Starttls, TlsError, TlsProbeOptions, TlsTarget, TrustStore,
};
use vigie_grade::grade::grade_observations;
use vigie_grade::tls::Profile;
use vigie_model::{
    AgentInfo, Lang, Observations, Report, Target, TargetKind, TlsObservation, SCHEMA_V1,
};

use crate::config::{AgentConfig, DEFAULT_VULNDB};
use crate::host_name::hostname;
use crate::shutdown::Shutdown;

/// Why a scan could not run at all (as opposed to endpoints that could not be reached, which
/// are findings).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The resolvers could not be set up.
    #[error("cannot set up DNS resolution: {0}")]
    Resolver(DnsError),
    /// The trust store (system roots plus `--ca-file`) could not be loaded.
    #[error("cannot load the trusted roots: {0}")]
    Trust(TlsError),
    /// The DNS and HTTPS clients of the email checks could not be set up.
    #[error("cannot set up the email checks' DNS and HTTPS clients: {0}")]
    Email(email::SetupError),
    /// The extra trusted roots could not be read for the MTA-STS policy fetch.
    #[error("cannot read the CA file {path}: {error}; check --ca-file or [tls] ca_file")]
    CaFile {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The host root to inspect is not a readable folder.
    #[error("cannot inspect the host root {path}: {reason}; give --root (or [host] root) an existing folder, `/` for this machine")]
    HostRoot { path: PathBuf, reason: String },
    /// The host probe's thread stopped unexpectedly.
    #[error("internal error: the host probe stopped unexpectedly: {0}")]
    HostTask(String),
    /// The service scan was refused by the scope allowlist or its address cap; nothing was
    /// sent to any address of it.
    #[error("the service scan was refused, nothing was sent: {0}")]
    Scope(ScopeError),
    /// The port set could not be built.
    #[error("{0}")]
    Ports(PortSetError),
    /// Shutdown was asked for before the scan finished; no report was produced.
    #[error("the scan was interrupted by shutdown")]
    Cancelled,
}

// Each cause is shown in its variant's message, so it is not also the error's `source()`
// (the `{:#}` printer would print it twice): plain fields, and `From` written here.
macro_rules! from_cause {
    ($($variant:ident($cause:ty)),* $(,)?) => {
        $(impl From<$cause> for ScanError {
            fn from(cause: $cause) -> Self {
                ScanError::$variant(cause)
            }
        })*
    };
}

from_cause!(
    Resolver(DnsError),
    Trust(TlsError),
    Email(email::SetupError),
    Scope(ScopeError),
    Ports(PortSetError),
);

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
    /// The email part of the scan.
    pub email: EmailScan,
    /// The host part of the scan; `None`: the host is not inspected.
    pub host: Option<HostScan>,
    /// The exposed-services part of the scan.
    pub services: ServicesScan,
}

/// The exposed-services part of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicesScan {
    /// Addresses, CIDRs and host names; every address must be inside `scope`.
    pub targets: Vec<ServiceTarget>,
    /// Which ports; `None`: `top100`.
    pub ports: Option<PortSet>,
    /// The allowlist the scan may not leave.
    pub scope: services::Scope,
    /// Bound on each connect and each read; `None`: the scan's defaults (1.5 s, 2 s).
    pub timeout: Option<Duration>,
    /// Connections in flight at once; `None`: 64.
    pub concurrency: Option<usize>,
    /// The most addresses the scan may touch.
    pub max_addresses: usize,
    pub pacing: crate::config::Pacing,
}

impl ServicesScan {
    /// No targets.
    pub fn none() -> ServicesScan {
        ServicesScan {
            targets: Vec::new(),
            ports: None,
            scope: services::Scope::default(),
            timeout: None,
            concurrency: None,
            max_addresses: services::scope::DEFAULT_MAX_ADDRESSES,
            pacing: crate::config::Pacing::default(),
        }
    }
}

/// The SMTP port of the MX hosts' STARTTLS probe.
pub const SMTP_PORT: u16 = 25;

/// The mail domains of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailScan {
    /// Domains, already validated and lowercased; probed once each.
    pub domains: Vec<String>,
    /// DKIM selectors tried besides the common ones.
    pub dkim_selectors: Vec<String>,
    /// Extra trusted roots for the MTA-STS policy fetch (`--ca-file`, `[tls] ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Bound on each DNS query and HTTPS request.
    pub timeout: Duration,
    /// Domains probed at once (at least 1).
    pub concurrency: usize,
    /// The port on which to probe the MX hosts' STARTTLS (`--smtp-probe`,
    /// `[email] smtp_probe`: 25; `--smtp-port` for a lab); `None`: not probed.
    pub smtp_port: Option<u16>,
    /// Judge DNSSEC with our own validation (`--dnssec-validate`, from `--trust-anchor` or
    /// the root's keys) instead of the resolver's AD bit; `None`: the resolver's word.
    pub dnssec_validation: Option<email::DnssecValidation>,
}

/// How the host is inspected.
#[derive(Debug, Clone, PartialEq)]
pub struct HostScan {
    /// The root folder: `/` for the running system.
    pub root: PathBuf,
    /// The vulnerability index to match the packages against.
    pub vulndb: VulnDb,
}

/// Which vulnerability index a host scan uses.
#[derive(Debug, Clone, PartialEq)]
pub enum VulnDb {
    /// Named by `--vulndb` or `[host] vulndb`: when it is missing or unreadable,
    /// `host.vulnerabilities` is an `error` finding that says so.
    Named(PathBuf),
    /// The default place ([`DEFAULT_VULNDB`]): used when it exists; otherwise
    /// `host.vulnerabilities` is skipped with the advice to import advisories.
    Default(PathBuf),
}

impl VulnDb {
    /// `path` when given, else the default place.
    pub fn from_option(path: Option<PathBuf>) -> VulnDb {
        match path {
            Some(path) => VulnDb::Named(path),
            None => VulnDb::Default(PathBuf::from(DEFAULT_VULNDB)),
        }
    }
}

impl EmailScan {
    /// No domains; the other fields at their defaults.
    pub fn none() -> EmailScan {
        EmailScan {
            domains: Vec::new(),
            dkim_selectors: Vec::new(),
            ca_file: None,
            timeout: crate::config::DEFAULT_PROBE_TIMEOUT,
            concurrency: crate::config::DEFAULT_EMAIL_CONCURRENCY,
            smtp_port: None,
            dnssec_validation: None,
        }
    }
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
    /// After the handshake, enumerate protocols, cipher suites and groups with our own hellos
    /// (`tls.protocol.*`, `tls.cipher.*`…); `--quick` turns it off.
    pub deep: bool,
    /// Grades the TLS findings' severities (`--profile`, `[tls] profile`); the report names it.
    pub profile: Profile,
    /// How every endpoint reaches TLS (`--starttls`).
    pub starttls: Upgrade,
}

impl TlsScan {
    /// The preamble `target` is probed with.
    pub fn starttls_for(&self, target: &TlsTarget) -> Option<Starttls> {
        match self.starttls {
            Upgrade::ByPort => Starttls::for_port(target.port),
            Upgrade::Starttls(protocol) => Some(protocol),
            Upgrade::Implicit => None,
        }
    }
}

/// How `scan tls` reaches TLS on an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Upgrade {
    /// STARTTLS on the well-known mail ports (25 and 587 SMTP, 143 IMAP, 110 POP3), implicit
    /// TLS on any other.
    #[default]
    ByPort,
    /// This STARTTLS preamble on every endpoint.
    Starttls(Starttls),
    /// Implicit TLS on every endpoint, mail ports included (`--starttls none`).
    Implicit,
}

impl std::str::FromStr for Upgrade {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Upgrade::Implicit);
        }
        s.parse().map(Upgrade::Starttls).map_err(|_| {
            format!(
                "unknown STARTTLS protocol `{s}` (expected smtp, imap, pop3, or none for implicit TLS)"
            )
        })
    }
}

impl ScanRequest {
    /// The scan `scan all` and `run` perform for a configuration.
    pub fn from_config(config: &AgentConfig, lang: Lang) -> ScanRequest {
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
                deep: true,
                profile: config.tls.profile,
                starttls: Upgrade::ByPort,
            },
            email: EmailScan {
                domains: config.email.domains.clone(),
                dkim_selectors: config.email.dkim_selectors.clone(),
                ca_file: config.tls.ca_file.clone(),
                timeout: config.email.timeout,
                concurrency: config.email.concurrency,
                smtp_port: config.email.smtp_probe.then_some(SMTP_PORT),
                dnssec_validation: (config.dns.dnssec_validate
                    || config.dns.trust_anchor.is_some())
                .then(|| email::DnssecValidation {
                    trust_anchor: config.dns.trust_anchor.clone(),
                }),
            },
            host: config.host.enabled.then(|| HostScan {
                root: config.host.root.clone(),
                vulndb: VulnDb::from_option(config.host.vulndb.clone()),
            }),
            services: ServicesScan {
                targets: config.services.targets.clone(),
                ports: config.services.ports.clone(),
                scope: config.scope.as_checks().clone(),
                timeout: None,
                concurrency: None,
                max_addresses: config.services.max_addresses,
                pacing: config.services.pacing,
            },
        }
    }

    /// Whether the request names anything to scan.
    pub fn is_empty(&self) -> bool {
        self.tls.targets.is_empty()
            && self.email.domains.is_empty()
            && self.host.is_none()
            && self.services.targets.is_empty()
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

/// Probes every target of the request and returns the report. Shutdown abandons the scan
/// (no partial report).
pub async fn scan(request: &ScanRequest, shutdown: &Shutdown) -> Result<Report, ScanError> {
    let started_at = Utc::now();
    let tls_targets = dedup(&request.tls.targets);
    let domains = dedup(&request.email.domains);
    if let Some(host) = &request.host {
        check_root(&host.root)?;
    }
    let probes = async {
        tokio::join!(
            probe_tls(&request.resolvers, &request.tls, &tls_targets),
            probe_email(&request.resolvers, &request.email, &domains),
            probe_host(request.host.as_ref()),
            probe_services(&request.resolvers, &request.services),
        )
    };
    let (tls, email, host, services_seen) = tokio::select! {
        biased;
        _ = shutdown.wait() => return Err(ScanError::Cancelled),
        results = probes => results,
    };
    let (tls, email, host, services_seen) = (tls?, email?, host?, services_seen?);
    // The web checks of each endpoint on port 443 whose TLS handshake worked.
    let web = tokio::select! {
        biased;
        _ = shutdown.wait() => return Err(ScanError::Cancelled),
        web = probe_https(&request.tls, &tls_targets, &tls) => web?,
    };
    let mut targets: Vec<Target> = tls_targets
        .iter()
        .map(|target| Target {
            kind: TargetKind::Tls,
            target: target.to_string(),
        })
        .collect();
    let mut observations = Observations {
        tls,
        https: web,
        ..Observations::default()
    };
    targets.extend(domains.iter().map(|domain| Target {
        kind: TargetKind::Email,
        target: domain.clone(),
    }));
    observations.email = email;
    if let Some(observation) = &host {
        targets.push(Target {
            kind: TargetKind::Host,
            target: vigie_grade::host::evaluate::target_of(observation),
        });
    }
    observations.host = host;
    if let Some(observation) = services_seen {
        targets.extend(request.services.targets.iter().map(|target| Target {
            kind: TargetKind::Services,
            target: target.to_string(),
        }));
        observations.services.push(observation);
    }
    // Graded from the recorded observations by the one function `vigie-collector regrade`
    // also uses, so that a report's findings are exactly what its observations say today.
    // One instant for the whole grading, the report's `finished_at`: the one `regrade` grades
    // a stored report at, so both give the same verdicts.
    let finished_at = Utc::now();
    let all_findings = grade_observations(
        &observations,
        request.tls.profile,
        finished_at,
        request.lang,
    );
    Ok(Report {
        schema: SCHEMA_V1.to_owned(),
        report_id: uuid::Uuid::new_v4(),
        agent: request.agent.clone(),
        org: request.org.clone(),
        started_at,
        finished_at,
        targets,
        findings: all_findings,
        observations,
        profile: Some(request.tls.profile.as_str().to_owned()),
    })
}

fn dedup<T: Clone + Eq + std::hash::Hash>(targets: &[T]) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    targets
        .iter()
        .filter(|target| seen.insert((*target).clone()))
        .cloned()
        .collect()
}

/// The service scan, when the request names targets. A scope refusal is an error of the
/// whole scan (exit status 2), raised before anything is sent to the services' targets.
async fn probe_services(
    resolvers: &[SocketAddr],
    scan: &ServicesScan,
) -> Result<Option<ServicesObservation>, ScanError> {
    if scan.targets.is_empty() {
        return Ok(None);
    }
    let ports = match &scan.ports {
        Some(ports) => ports.clone(),
        None => PortSet::top100()?,
    };
    let mut options = services::ScanOptions::new(ports);
    options.resolvers = resolvers.to_vec();
    options.max_addresses = scan.max_addresses;
    if let Some(timeout) = scan.timeout {
        options.connect_timeout = timeout;
        options.read_timeout = timeout;
        options.dns_timeout = timeout;
    }
    if let Some(concurrency) = scan.concurrency {
        options.concurrency = concurrency.max(1);
    }
    if scan.pacing == crate::config::Pacing::Fixed {
        options.min_per_host_interval = options.per_host_interval;
    }
    let bar = crate::progress::bar(None);
    let drawn = bar.clone();
    options.progress = Some(Arc::new(move |step: services::ScanProgress| {
        drawn.set_length(step.total as u64);
        drawn.set_position(step.done as u64);
    }));
    let result = services::probe(&scan.targets, &options, &scan.scope).await;
    bar.finish_and_clear();
    Ok(Some(result?))
}

/// The port whose TLS endpoints also get the web checks (`https.*`, `http.server_banner`).
pub const HTTPS_PORT: u16 = 443;

/// The HTTPS probe (with the port-80 redirect) of each endpoint on [`HTTPS_PORT`] whose
/// TLS handshake worked, pinned to the address the TLS probe reached, so that `--connect`
/// and `--resolver` hold, and named by `--sni` when given; in the targets' order. Other
/// endpoints (mail ports, failed handshakes, whose `tls.connect` already says why) get none.
async fn probe_https(
    scan: &TlsScan,
    targets: &[TlsTarget],
    tls: &[TlsObservation],
) -> Result<Vec<HttpsObservation>, ScanError> {
    let web: Vec<(usize, TlsTarget, Option<IpAddr>)> = targets
        .iter()
        .zip(tls)
        .enumerate()
        .filter(|(_, (target, observation))| {
            target.port == HTTPS_PORT
                && matches!(
                    observation.result,
                    vigie_model::TlsProbeResult::Handshake(_)
                )
        })
        .map(|(index, (target, observation))| {
            let reached = observation
                .address
                .as_deref()
                .and_then(|address| address.parse::<SocketAddr>().ok())
                .map(|address| address.ip());
            (index, target.clone(), scan.connect.or(reached))
        })
        .collect();
    if web.is_empty() {
        return Ok(Vec::new());
    }
    let ca_pem = read_ca_file(scan.ca_file.as_deref()).await?;
    let permits = Arc::new(Semaphore::new(scan.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, target, connect) in web {
        let options = HttpsOptions {
            connect,
            ca_pem: ca_pem.clone(),
            timeout: scan.timeout,
            ..HttpsOptions::default()
        };
        // With `--sni`, the site is that name (Host and SNI) at the address reached.
        let site = match &scan.sni {
            Some(name) => TlsTarget {
                host: name.trim_end_matches('.').to_ascii_lowercase(),
                port: target.port,
            },
            None => target.clone(),
        };
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits for a free slot.
            let _permit = permits.acquire_owned().await.ok();
            tracing::debug!(%target, %site, "probing HTTPS");
            let mut observation = https::probe(&site, &options).await;
            // Findings name the endpoint as scanned, like its TLS findings.
            observation.target = target.to_string();
            (index, observation)
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => done.push(result),
            Err(error) => tracing::error!(%error, "an HTTPS probe task failed"),
        }
    }
    done.sort_by_key(|(index, _)| *index);
    Ok(done
        .into_iter()
        .map(|(_, observation)| observation)
        .collect())
}

/// How many endpoints of one host a TLS scan enumerates at once.
pub const TLS_ENDPOINTS_PER_HOST: usize = 2;

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
    let options = TlsProbeOptions {
        sni: scan.sni.clone(),
        connect: scan.connect,
        timeout: scan.timeout,
        starttls: None,
    };
    // Each enumeration connection is bounded by the scan's timeout, at most 5 s.
    let deep = Arc::new(scan.deep.then(|| EnumerationOptions {
        timeout: scan.timeout.min(Duration::from_secs(5)),
        ..EnumerationOptions::default()
    }));
    let permits = Arc::new(Semaphore::new(scan.concurrency.max(1)));
    // Several endpoints of one host (443, 8443, 993…) are scanned side by side only up to
    // this cap, so that the host sees at most this many times the enumeration's own
    // connections at once, whatever `--concurrency` lets the whole scan do.
    let mut per_host: std::collections::HashMap<String, Arc<Semaphore>> =
        std::collections::HashMap::new();
    let bar = crate::progress::bar(Some(targets.len() as u64));
    let mut tasks = JoinSet::new();
    for (index, target) in targets.iter().cloned().enumerate() {
        let host = match scan.connect {
            Some(address) => address.to_string(),
            None => target.host.to_ascii_lowercase(),
        };
        let host_permits = Arc::clone(
            per_host
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(TLS_ENDPOINTS_PER_HOST))),
        );
        let options = TlsProbeOptions {
            starttls: scan.starttls_for(&target),
            ..options.clone()
        };
        let (resolver, trust, permits, deep) = (
            Arc::clone(&resolver),
            Arc::clone(&trust),
            Arc::clone(&permits),
            Arc::clone(&deep),
        );
        tasks.spawn(async move {
            // The semaphores are never closed, so acquiring only waits for a free slot; the
            // host's first, so that waiting for it holds none of the scan's slots.
            let _host_permit = host_permits.acquire_owned().await.ok();
            let _permit = permits.acquire_owned().await.ok();
            tracing::debug!(%target, "probing");
            let observation = match deep.as_ref() {
                Some(deep) => {
                    vigie_checks::tls::probe_deep(&target, &options, deep, &resolver, &trust).await
                }
                None => vigie_checks::tls::probe(&target, &options, &resolver, &trust).await,
            };
            (index, observation)
        });
    }
    let mut slots: Vec<Option<TlsObservation>> = vec![None; targets.len()];
    while let Some(joined) = tasks.join_next().await {
        bar.inc(1);
        match joined {
            Ok((index, observation)) => slots[index] = Some(observation),
            Err(error) => tracing::error!(%error, "a probe task failed"),
        }
    }
    bar.finish_and_clear();
    Ok(slots
        .into_iter()
        .zip(targets)
        .map(|(slot, target)| slot.unwrap_or_else(|| lost_probe(target)))
        .collect())
}

/// The extra trusted roots (`--ca-file`) as PEM bytes, read once per scan family.
async fn read_ca_file(path: Option<&std::path::Path>) -> Result<Option<Vec<u8>>, ScanError> {
    let Some(path) = path else {
        return Ok(None);
    };
    tokio::fs::read(path)
        .await
        .map(Some)
        .map_err(|error| ScanError::CaFile {
            path: path.to_path_buf(),
            error,
        })
}

/// One observation per domain, in the domains' order, through one cached set of lookups:
/// domains sharing includes, MX hosts or report destinations cost one query each.
async fn probe_email(
    resolvers: &[SocketAddr],
    scan: &EmailScan,
    domains: &[String],
) -> Result<Vec<EmailObservation>, ScanError> {
    if domains.is_empty() {
        return Ok(Vec::new());
    }
    let ca_pem = read_ca_file(scan.ca_file.as_deref()).await?;
    let mut net = NetLookups::new(&NetOptions {
        resolvers: resolvers.to_vec(),
        timeout: scan.timeout,
        ca_pem,
        https_resolve: Vec::new(),
    })?;
    if let Some(validation) = &scan.dnssec_validation {
        net = net.with_dnssec_validation(validation)?;
    }
    let lookups = Arc::new(CachedLookups::new(net));
    let options = Arc::new(email::ProbeOptions {
        dkim_selectors: scan.dkim_selectors.clone(),
        common_selectors: true,
        smtp: match scan.smtp_port {
            Some(port) => Some(email::SmtpOptions {
                port,
                timeout: scan.timeout,
                ..email::SmtpOptions::new(TrustStore::load(scan.ca_file.as_deref())?)
            }),
            None => None,
        },
    });
    let permits = Arc::new(Semaphore::new(scan.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, domain) in domains.iter().cloned().enumerate() {
        let (lookups, options, permits) = (
            Arc::clone(&lookups),
            Arc::clone(&options),
            Arc::clone(&permits),
        );
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits for a free slot.
            let _permit = permits.acquire_owned().await.ok();
            tracing::debug!(%domain, "probing mail domain");
            let observation = email::probe(&domain, &options, &*lookups).await;
            (index, observation)
        });
    }
    let mut slots: Vec<Option<EmailObservation>> = vec![None; domains.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, observation)) => slots[index] = Some(observation),
            Err(error) => tracing::error!(%error, "an email probe task failed"),
        }
    }
    // A task that panicked leaves no observation: its domain is still listed as a target,
    // and the log says why it has no findings.
    Ok(slots.into_iter().flatten().collect())
}

/// Refuses a root that is not a folder before anything is probed: a mistyped `--root`
/// would otherwise be graded as a host where nothing could be read.
fn check_root(root: &Path) -> Result<(), ScanError> {
    match std::fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(ScanError::HostRoot {
            path: root.to_owned(),
            reason: "not a folder".to_owned(),
        }),
        Err(error) => Err(ScanError::HostRoot {
            path: root.to_owned(),
            reason: error.to_string(),
        }),
    }
}

/// Reads the host (files only, on a blocking thread) and matches it against the
/// vulnerability index when there is one.
async fn probe_host(scan: Option<&HostScan>) -> Result<Option<HostObservation>, ScanError> {
    let Some(scan) = scan.cloned() else {
        return Ok(None);
    };
    let observation = tokio::task::spawn_blocking(move || {
        let mut observation = host::probe(&scan.root, Utc::now());
        let index = match &scan.vulndb {
            VulnDb::Named(path) => Some(path),
            VulnDb::Default(path) if path.exists() => Some(path),
            VulnDb::Default(_) => None,
        };
        if let Some(index) = index {
            match host::vulndb::scan(&observation, index) {
                Ok(found) => observation.vulnerabilities = Some(found),
                Err(error) => {
                    tracing::warn!(%error, "the vulnerability index cannot be used; host.vulnerabilities is in error");
                    observation.errors.insert(
                        "vulnerabilities".to_owned(),
                        format!("{error}; rebuild it with `vigie-agent vulndb import`"),
                    );
                }
            }
        }
        observation
    })
    .await
    .map_err(|error| ScanError::HostTask(error.to_string()))?;
    Ok(Some(observation))
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
            kind: Some(vigie_model::FailureKind::Other),
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
                deep: false,
                profile: Profile::default(),
                starttls: Upgrade::ByPort,
            },
            email: EmailScan::none(),
            host: None,
            services: ServicesScan::none(),
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
        assert_eq!(report.profile.as_deref(), Some("modern"));
    }

    #[test]
    fn starttls_follows_the_flag_else_the_well_known_port() {
        let mut scan = request(Vec::new()).tls;
        let on = |port: u16| TlsTarget {
            host: "mail.example.ca".to_owned(),
            port,
        };
        assert_eq!(scan.starttls_for(&on(25)), Some(Starttls::Smtp));
        assert_eq!(scan.starttls_for(&on(587)), Some(Starttls::Smtp));
        assert_eq!(scan.starttls_for(&on(143)), Some(Starttls::Imap));
        assert_eq!(scan.starttls_for(&on(110)), Some(Starttls::Pop3));
        for implicit in [443, 465, 993, 995, 8443] {
            assert_eq!(scan.starttls_for(&on(implicit)), None, "{implicit}");
        }
        scan.starttls = Upgrade::Starttls(Starttls::Imap);
        assert_eq!(scan.starttls_for(&on(2525)), Some(Starttls::Imap));
        assert_eq!(scan.starttls_for(&on(25)), Some(Starttls::Imap));
        scan.starttls = "none".parse().unwrap();
        assert_eq!(scan.starttls_for(&on(25)), None);
        assert_eq!(scan.starttls_for(&on(143)), None);
        assert_eq!("POP3".parse(), Ok(Upgrade::Starttls(Starttls::Pop3)));
        assert!("ftp"
            .parse::<Upgrade>()
            .is_err_and(|e| e.contains("none for implicit TLS")));
    }

    #[test]
    fn the_configuration_names_the_email_and_host_parts_of_the_scan() {
        let config = crate::config::parse_config(
            r#"org = "o"
[email]
domains = ["Example.CA", "example.org"]
dkim_selectors = ["s1"]
timeout = "2s"
concurrency = 3
[host]
enabled = true
root = "/srv/image"
"#,
            Path::new("agent.toml"),
        )
        .unwrap();
        let request = ScanRequest::from_config(&config, Lang::En);
        assert_eq!(request.email.domains, ["example.ca", "example.org"]);
        assert_eq!(request.email.dkim_selectors, ["s1"]);
        assert_eq!(request.email.timeout, Duration::from_secs(2));
        assert_eq!(request.email.concurrency, 3);
        assert!(!request.is_empty());
        let host = request.host.expect("[host] enabled");
        assert_eq!(host.root, PathBuf::from("/srv/image"));
        assert_eq!(
            host.vulndb,
            VulnDb::Default(PathBuf::from(crate::config::DEFAULT_VULNDB))
        );

        let disabled = crate::config::parse_config("org = \"o\"\n", Path::new("a.toml")).unwrap();
        let request = ScanRequest::from_config(&disabled, Lang::En);
        assert!(request.host.is_none() && request.is_empty());
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
