//! The command line, and its translation into one typed [`Command`].
//!
//! Clap rejects malformed flags (exit status 2, with its own message); [`Cli::into_command`]
//! then reads the configuration file, merges the flags over it, and returns everything the
//! command needs, parsed.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use vigie_checks::services::{PortSet, ScopeEntry, ServiceTarget};
use vigie_checks::tls::TlsTarget;
use vigie_grade::tls::Profile;
use vigie_model::{Lang, Severity};

use crate::config::{
    self, AgentConfig, ConfigError, DEFAULT_CONCURRENCY, DEFAULT_HOST_ROOT, DEFAULT_PROBE_TIMEOUT,
    DEFAULT_VULNDB,
};
use crate::output::Format;
use crate::scan::{agent_info, EmailScan, HostScan, ScanRequest, ServicesScan, TlsScan, VulnDb};

/// The org of a `scan tls` report when `--org` is not given.
pub const DEFAULT_ORG: &str = "local";

/// vigie-agent: check what an attacker or an auditor sees first, and report it.
#[derive(Debug, Parser)]
#[command(name = "vigie-agent", version, about, propagate_version = true)]
pub struct Cli {
    /// Language of the texts (summaries, remediation, table): en or fr.
    #[arg(long, global = true, env = "VIGIE_LANG", default_value = "en")]
    pub lang: Lang,
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Scan once and print the report (exit status 1 when --fail-on is crossed).
    Scan {
        /// Which family to scan.
        #[command(subcommand)]
        what: ScanCommand,
    },
    /// Scan on the configured schedule and upload the reports to the collector.
    Run(RunArgs),
    /// The local vulnerability index the host checks match installed packages against.
    Vulndb {
        /// What to do with it.
        #[command(subcommand)]
        what: VulndbCommand,
    },
}

/// `vulndb` subcommands.
#[derive(Debug, Subcommand)]
pub enum VulndbCommand {
    /// Import OSV advisories (a folder of .json files, one .json file, or an osv.dev .zip
    /// export such as Debian/all.zip) into a new index, replacing the old one atomically.
    Import(VulndbImportArgs),
}

/// `vulndb import`.
#[derive(Debug, Args)]
pub struct VulndbImportArgs {
    /// The OSV advisories: a folder (searched recursively), a .json file or a .zip export.
    #[arg(value_name = "PATH")]
    pub source: PathBuf,
    /// The index to write [default: [host] vulndb of --config, else /var/lib/vigie/vulndb.sqlite].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Read the index's place from this configuration file's [host] vulndb.
    #[arg(long, value_name = "FILE", env = "VIGIE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Output format of the import's counts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `scan` families.
#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// TLS endpoints: connection, certificate chain, name and dates.
    Tls(ScanTlsArgs),
    /// Mail domains: SPF, DMARC, DKIM, MX, MTA-STS, TLS-RPT, BIMI, DNSSEC and CAA.
    Email(ScanEmailArgs),
    /// The patch posture of this machine (or of a mounted image with --root); reads only.
    Host(ScanHostArgs),
    /// Exposed TCP services of hosts, addresses or CIDRs: open ports, what speaks on them,
    /// and the risk each carries. Never leaves the scope allowlist.
    Services(ScanServicesArgs),
    /// Everything the configuration file names, once.
    All(ScanAllArgs),
}

/// `scan tls`.
#[derive(Debug, Args)]
pub struct ScanTlsArgs {
    /// Endpoints to check, `HOST[:PORT]` (port 443 by default).
    #[arg(required = true, value_name = "HOST[:PORT]")]
    pub targets: Vec<TlsTarget>,
    /// Server name to send (SNI) and to check the certificate against, instead of HOST.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Connect to this address instead of resolving HOST.
    #[arg(long, value_name = "IP")]
    pub connect: Option<IpAddr>,
    /// One handshake per endpoint only: skip the protocol, cipher-suite and group enumeration.
    #[arg(long)]
    pub quick: bool,
    /// Grading profile of the TLS findings: modern (strong primitives outside ITSP.40.062,
    /// such as ChaCha20-Poly1305 and X25519, pass), itsp-strict or mozilla-intermediate.
    /// tls.policy.itsp_40_062 always reports the strict ITSP.40.062 view.
    #[arg(long, value_name = "PROFILE", default_value = "modern")]
    pub profile: Profile,
    /// Speak SMTP, IMAP or POP3 in clear and ask for TLS (STARTTLS) before every handshake,
    /// or `none`: implicit TLS on every port [default: by port: 25 and 587 smtp, 143 imap,
    /// 110 pop3; implicit TLS on any other].
    #[arg(long, value_name = "PROTOCOL")]
    pub starttls: Option<crate::scan::Upgrade>,
    /// Organization id written in the report.
    #[arg(long, value_name = "ORG", default_value = DEFAULT_ORG, value_parser = parse_org)]
    pub org: String,
    /// Options shared by every scan.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `scan email`.
#[derive(Debug, Args)]
pub struct ScanEmailArgs {
    /// Mail domains to check, e.g. example.ca.
    #[arg(required = true, value_name = "DOMAIN", value_parser = parse_domain)]
    pub domains: Vec<String>,
    /// A DKIM selector the domains use, tried besides the common ones (repeatable).
    #[arg(long = "dkim-selector", value_name = "NAME", value_parser = parse_dkim_selector)]
    pub dkim_selectors: Vec<String>,
    /// Also connect to each MX host on port 25 to check STARTTLS and its certificate
    /// (read-only: EHLO, STARTTLS, QUIT; outbound port 25 is often filtered).
    #[arg(long)]
    pub smtp_probe: bool,
    /// The port of the STARTTLS probe, for a test lab or a relay [default: 25].
    #[arg(long, value_name = "PORT", requires = "smtp_probe")]
    pub smtp_port: Option<u16>,
    /// Validate DNSSEC ourselves (from the root's keys, or --trust-anchor) instead of
    /// trusting the resolver's AD bit: for a resolver that does not validate.
    #[arg(long)]
    pub dnssec_validate: bool,
    /// DNSKEY records to trust for --dnssec-validate instead of the root's (zone-file
    /// lines, every key of the zone, e.g. from `dig DNSKEY zone`).
    #[arg(long, value_name = "FILE", requires = "dnssec_validate")]
    pub trust_anchor: Option<PathBuf>,
    /// Organization id written in the report.
    #[arg(long, value_name = "ORG", default_value = DEFAULT_ORG, value_parser = parse_org)]
    pub org: String,
    /// Options shared by every scan.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `scan services`.
#[derive(Debug, Args)]
pub struct ScanServicesArgs {
    /// Hosts, addresses or CIDRs to scan, e.g. 203.0.113.10 or 203.0.113.0/28.
    #[arg(required = true, value_name = "HOST|CIDR")]
    pub targets: Vec<ServiceTarget>,
    /// Which ports: top100, top1000, or a list with ranges such as 22,80,8000-8100
    /// [default: top100].
    #[arg(long, value_name = "PORTS")]
    pub ports: Option<PortSet>,
    /// An allowlist entry (address, CIDR, host name; repeatable). Without --scope nor
    /// --config, the addresses and CIDRs given as targets are the allowlist, so a host name's
    /// addresses must be allowed by one of these two.
    #[arg(long = "scope", value_name = "ENTRY")]
    pub scope: Vec<ScopeEntry>,
    /// Read the allowlist from this configuration file's [scope] allow.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The most addresses the scan may touch [default: 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_addresses: Option<u32>,
    /// How connection attempts to one address are spaced: adaptive (10 ms apart, tightening
    /// while the address answers at once) or fixed (always 10 ms).
    #[arg(long, value_enum, default_value = "adaptive")]
    pub pacing: crate::config::Pacing,
    /// Organization id written in the report.
    #[arg(long, value_name = "ORG", default_value = DEFAULT_ORG, value_parser = parse_org)]
    pub org: String,
    /// Options shared by every scan.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `scan host`.
#[derive(Debug, Args)]
pub struct ScanHostArgs {
    /// The root folder to inspect: / for this machine, or a mounted image.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_HOST_ROOT)]
    pub root: PathBuf,
    /// The vulnerability index made by `vigie-agent vulndb import`
    /// [default: /var/lib/vigie/vulndb.sqlite, when it exists].
    #[arg(long, value_name = "PATH")]
    pub vulndb: Option<PathBuf>,
    /// Organization id written in the report.
    #[arg(long, value_name = "ORG", default_value = DEFAULT_ORG, value_parser = parse_org)]
    pub org: String,
    /// Options shared by every scan.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `scan all`.
#[derive(Debug, Args)]
pub struct ScanAllArgs {
    /// The agent configuration file (TOML).
    #[arg(long, value_name = "FILE", env = "VIGIE_CONFIG")]
    pub config: PathBuf,
    /// Grading profile of the TLS findings, instead of [tls] profile: modern, itsp-strict
    /// or mozilla-intermediate.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<Profile>,
    /// Options shared by every scan; they override the configuration file.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of every scan.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// DNS resolver to use, `IP[:PORT]` (repeatable; default: the system's).
    #[arg(long = "resolver", value_name = "IP[:PORT]", value_parser = parse_resolver)]
    pub resolvers: Vec<SocketAddr>,
    /// Extra trusted root certificates (PEM) for the scanned endpoints.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Bound on each probe step (connection, handshake, DNS question), e.g. 5s or 1500ms
    /// [default: 5s].
    #[arg(long, value_name = "DUR", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// How many endpoints (or mail domains) to probe at once, 1 to 1024
    /// [default: 16 endpoints, 4 mail domains].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the output to FILE (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with status 1 when a finding fails or errs at this severity or above
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent configuration file (TOML).
    #[arg(long, value_name = "FILE", env = "VIGIE_CONFIG")]
    pub config: PathBuf,
    /// Run one cycle (scan, spool, deliver until agent.once_deadline) and exit:
    /// 0 when the outbox is empty, 3 when reports could not be delivered.
    #[arg(long)]
    pub once: bool,
}

/// A command, parsed and merged with its configuration file.
#[derive(Debug)]
pub enum Command {
    /// `scan …`: one scan, printed.
    Scan {
        /// What to scan.
        request: Box<ScanRequest>,
        /// How to print it.
        output: OutputOptions,
    },
    /// `run`: the daemon, or one cycle.
    Run {
        /// The configuration.
        config: Box<AgentConfig>,
        /// `--once`.
        once: bool,
        /// Language of the reports' texts.
        lang: Lang,
    },
    /// `vulndb import`: build the vulnerability index.
    VulndbImport {
        /// The OSV advisories.
        source: PathBuf,
        /// The index to write.
        index: PathBuf,
        /// How to print the counts.
        format: Format,
        /// Language of the text.
        lang: Lang,
    },
}

/// How a scan is printed and judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputOptions {
    /// Text or JSON.
    pub format: Format,
    /// A file instead of standard output.
    pub output: Option<PathBuf>,
    /// The `--fail-on` gate.
    pub fail_on: Option<Severity>,
    /// Language of the text.
    pub lang: Lang,
}

impl Cli {
    /// Reads the configuration file the command names, if any, and merges the flags over
    /// it. Errors are configuration errors (exit status 2).
    pub fn into_command(self) -> Result<Command, ConfigError> {
        let lang = self.lang;
        match self.command {
            Commands::Scan {
                what: ScanCommand::Tls(args),
            } => {
                let common = &args.common;
                let mut request = command_line_request(&args.org, lang, common);
                request.tls.targets = args.targets.clone();
                request.tls.sni = args.sni.clone();
                request.tls.connect = args.connect;
                request.tls.deep = !args.quick;
                request.tls.profile = args.profile;
                request.tls.starttls = args.starttls.unwrap_or_default();
                Ok(Command::Scan {
                    request: Box::new(request),
                    output: common.output_options(lang),
                })
            }
            Commands::Scan {
                what: ScanCommand::Email(args),
            } => {
                let common = &args.common;
                let mut request = command_line_request(&args.org, lang, common);
                request.email.domains = args.domains.clone();
                request.email.dkim_selectors = args.dkim_selectors.clone();
                request.email.smtp_port = args
                    .smtp_probe
                    .then(|| args.smtp_port.unwrap_or(crate::scan::SMTP_PORT));
                request.email.dnssec_validation =
                    args.dnssec_validate
                        .then(|| vigie_checks::email::DnssecValidation {
                            trust_anchor: args.trust_anchor.clone(),
                        });
                Ok(Command::Scan {
                    request: Box::new(request),
                    output: common.output_options(lang),
                })
            }
            Commands::Scan {
                what: ScanCommand::Services(args),
            } => {
                let common = &args.common;
                let mut request = command_line_request(&args.org, lang, common);
                let mut entries: Vec<ScopeEntry> = match &args.config {
                    Some(path) => config::load_config(path)?.scope.entries().to_vec(),
                    None => Vec::new(),
                };
                entries.extend(args.scope.iter().cloned());
                if args.config.is_none() && args.scope.is_empty() {
                    // The command line names what it scans: its addresses and CIDRs.
                    entries.extend(args.targets.iter().filter_map(|target| match target {
                        ServiceTarget::Address(ip) => Some(ScopeEntry::Network((*ip).into())),
                        ServiceTarget::Network(net) => Some(ScopeEntry::Network(*net)),
                        ServiceTarget::Host(_) => None,
                    }));
                }
                request.services = ServicesScan {
                    targets: args.targets.clone(),
                    ports: args.ports.clone(),
                    scope: vigie_checks::services::Scope::from_entries(entries),
                    timeout: common.timeout,
                    concurrency: common.concurrency.map(usize::from),
                    max_addresses: args
                        .max_addresses
                        .map_or(vigie_checks::services::scope::DEFAULT_MAX_ADDRESSES, |n| {
                            n as usize
                        }),
                    pacing: args.pacing,
                };
                Ok(Command::Scan {
                    request: Box::new(request),
                    output: common.output_options(lang),
                })
            }
            Commands::Scan {
                what: ScanCommand::Host(args),
            } => {
                let common = &args.common;
                let mut request = command_line_request(&args.org, lang, common);
                request.host = Some(HostScan {
                    root: args.root.clone(),
                    vulndb: VulnDb::from_option(args.vulndb.clone()),
                });
                Ok(Command::Scan {
                    request: Box::new(request),
                    output: common.output_options(lang),
                })
            }
            Commands::Scan {
                what: ScanCommand::All(args),
            } => {
                let config = config::load_config(&args.config)?;
                let mut request = ScanRequest::from_config(&config, lang);
                let common = &args.common;
                if !common.resolvers.is_empty() {
                    request.resolvers = common.resolvers.clone();
                }
                if let Some(ca_file) = &common.ca_file {
                    request.tls.ca_file = Some(ca_file.clone());
                    request.email.ca_file = Some(ca_file.clone());
                }
                if let Some(timeout) = common.timeout {
                    request.tls.timeout = timeout;
                    request.email.timeout = timeout;
                    request.services.timeout = Some(timeout);
                }
                if let Some(concurrency) = common.concurrency {
                    request.tls.concurrency = usize::from(concurrency);
                    request.email.concurrency = usize::from(concurrency);
                    request.services.concurrency = Some(usize::from(concurrency));
                }
                if let Some(profile) = args.profile {
                    request.tls.profile = profile;
                }
                if request.is_empty() {
                    tracing::warn!(config = %args.config.display(), "the configuration names no TLS target, no mail domain and [host] is not enabled: nothing to scan");
                }
                Ok(Command::Scan {
                    request: Box::new(request),
                    output: common.output_options(lang),
                })
            }
            Commands::Run(args) => Ok(Command::Run {
                config: Box::new(config::load_config(&args.config)?),
                once: args.once,
                lang,
            }),
            Commands::Vulndb {
                what: VulndbCommand::Import(args),
            } => {
                let configured = match (&args.db, &args.config) {
                    (None, Some(path)) => config::load_config(path)?.host.vulndb,
                    _ => None,
                };
                let index = args
                    .db
                    .clone()
                    .or(configured)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_VULNDB));
                Ok(Command::VulndbImport {
                    source: args.source.clone(),
                    index,
                    format: args.format,
                    lang,
                })
            }
        }
    }
}

/// A request with nothing to scan yet, and the command line's options applied.
fn command_line_request(org: &str, lang: Lang, common: &CommonArgs) -> ScanRequest {
    let timeout = common.timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT);
    ScanRequest {
        org: org.to_owned(),
        lang,
        agent: agent_info(&config::default_agent_id()),
        resolvers: common.resolvers.clone(),
        tls: TlsScan {
            targets: Vec::new(),
            sni: None,
            connect: None,
            ca_file: common.ca_file.clone(),
            timeout,
            concurrency: common.concurrency.map_or(DEFAULT_CONCURRENCY, usize::from),
            deep: true,
            profile: Profile::default(),
            starttls: crate::scan::Upgrade::ByPort,
        },
        email: EmailScan {
            ca_file: common.ca_file.clone(),
            timeout,
            concurrency: common
                .concurrency
                .map_or(config::DEFAULT_EMAIL_CONCURRENCY, usize::from),
            ..EmailScan::none()
        },
        host: None,
        services: ServicesScan::none(),
    }
}

impl CommonArgs {
    fn output_options(&self, lang: Lang) -> OutputOptions {
        OutputOptions {
            format: self.format,
            output: self.output.clone(),
            fail_on: self.fail_on,
            lang,
        }
    }
}

fn parse_org(text: &str) -> Result<String, String> {
    config::parse_org(text)
}

fn parse_domain(text: &str) -> Result<String, String> {
    config::parse_domain(text)
}

fn parse_dkim_selector(text: &str) -> Result<String, String> {
    config::parse_dkim_selector(text)
}

fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    vigie_checks::dns::parse_resolver(text).map_err(|e| e.to_string())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    config::parse_positive_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn scan_tls_flags_become_a_typed_request() {
        let cli = Cli::try_parse_from([
            "vigie-agent",
            "scan",
            "tls",
            "www.example.ca",
            "127.0.0.1:8443",
            "--sni",
            "name.example",
            "--connect",
            "127.0.0.2",
            "--resolver",
            "127.0.0.53",
            "--timeout",
            "1500ms",
            "--concurrency",
            "4",
            "--fail-on",
            "HIGH",
            "--format",
            "json",
            "--lang",
            "fr",
        ])
        .unwrap();
        let Command::Scan { request, output } = cli.into_command().unwrap() else {
            panic!("not a scan");
        };
        assert_eq!(request.tls.targets.len(), 2);
        assert_eq!(request.tls.targets[0].port, 443);
        assert_eq!(request.tls.sni.as_deref(), Some("name.example"));
        assert_eq!(request.tls.connect, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(request.resolvers, vec!["127.0.0.53:53".parse().unwrap()]);
        assert_eq!(request.tls.timeout, Duration::from_millis(1500));
        assert_eq!(request.tls.concurrency, 4);
        assert_eq!(request.org, DEFAULT_ORG);
        assert_eq!(request.lang, Lang::Fr);
        assert_eq!(output.fail_on, Some(Severity::High));
        assert_eq!(output.format, Format::Json);
        // Deep by default; --quick is one handshake per endpoint.
        assert!(request.tls.deep);
        let quick = Cli::try_parse_from(["vigie-agent", "scan", "tls", "a.example", "--quick"])
            .unwrap()
            .into_command()
            .unwrap();
        let Command::Scan { request, .. } = quick else {
            panic!("not a scan");
        };
        assert!(!request.tls.deep);
    }

    #[test]
    fn scan_email_and_scan_host_flags_become_a_typed_request() {
        let cli = Cli::try_parse_from([
            "vigie-agent",
            "scan",
            "email",
            "Example.CA.",
            "example.org",
            "--dkim-selector",
            "Sel1",
            "--dkim-selector",
            "s2",
            "--resolver",
            "127.0.0.53:5353",
            "--timeout",
            "2s",
            "--concurrency",
            "3",
        ])
        .unwrap();
        let Command::Scan { request, .. } = cli.into_command().unwrap() else {
            panic!("not a scan");
        };
        assert_eq!(request.email.domains, ["example.ca", "example.org"]);
        assert_eq!(request.email.dkim_selectors, ["sel1", "s2"]);
        assert_eq!(request.email.timeout, Duration::from_secs(2));
        assert_eq!(request.email.concurrency, 3);
        assert!(request.tls.targets.is_empty());
        assert!(request.host.is_none());

        let cli =
            Cli::try_parse_from(["vigie-agent", "scan", "host", "--vulndb", "/tmp/v.db"]).unwrap();
        let Command::Scan { request, .. } = cli.into_command().unwrap() else {
            panic!("not a scan");
        };
        let host = request.host.expect("a host scan");
        assert_eq!(host.root, PathBuf::from("/"));
        assert_eq!(host.vulndb, VulnDb::Named(PathBuf::from("/tmp/v.db")));
        assert!(request.email.domains.is_empty());
    }

    #[test]
    fn vulndb_import_defaults_to_the_documented_index() {
        let cli = Cli::try_parse_from(["vigie-agent", "vulndb", "import", "all.zip"]).unwrap();
        let Command::VulndbImport { source, index, .. } = cli.into_command().unwrap() else {
            panic!("not an import");
        };
        assert_eq!(source, PathBuf::from("all.zip"));
        assert_eq!(index, PathBuf::from(DEFAULT_VULNDB));
    }

    #[test]
    fn malformed_flags_are_usage_errors() {
        for args in [
            &["vigie-agent", "scan", "tls"][..],
            &["vigie-agent", "scan", "tls", "host:0"],
            &["vigie-agent", "scan", "tls", "h", "--fail-on", "urgent"],
            &["vigie-agent", "scan", "tls", "h", "--timeout", "5"],
            &["vigie-agent", "scan", "tls", "h", "--concurrency", "0"],
            &[
                "vigie-agent",
                "scan",
                "tls",
                "h",
                "--resolver",
                "dns.example",
            ],
            &["vigie-agent", "scan", "tls", "h", "--org", "Bad Org"],
            &["vigie-agent", "scan", "tls", "h", "--lang", "de"],
            &["vigie-agent", "scan", "email"],
            &["vigie-agent", "scan", "email", "not a domain"],
            &["vigie-agent", "scan", "email", "192.0.2.1"],
            &[
                "vigie-agent",
                "scan",
                "email",
                "x.ca",
                "--dkim-selector",
                "a b",
            ],
            &["vigie-agent", "vulndb", "import"],
            &["vigie-agent", "run"],
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }
}
