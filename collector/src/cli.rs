//! The command line: parsed once into typed values, run, and turned into an exit status in
//! [`exit_code`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use chrono::NaiveDate;
use vigie_matrix::TlsProfile;
use vigie_model::Lang;

use crate::auth::TokenKind;
use crate::config::{self, ConfigError, FileConfig, Overrides};
use crate::export::Format;
use crate::i18n::t;
use crate::matrix::View;
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// How long requests in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The Vigie collector: receives agents' reports, keeps the sector's posture, serves metrics.
/// Exit status: 0 done, 1 a failure at run time (database, network), 2 a usage or
/// configuration error.
#[derive(Debug, Parser)]
#[command(name = "vigie-collector", version, about)]
pub struct Cli {
    /// A TOML file with the same keys as the flags of `serve` and `database_url` (every key in
    /// CONFIGURATION.md, "Configuring the collector"); flags and environment variables win over
    /// it.
    #[arg(long, global = true, env = "VIGIE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where the data lives: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
    /// [default: sqlite://vigie.db].
    #[arg(
        long,
        global = true,
        env = "VIGIE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// `agent add`, `viewer add`, `scraper add`: create the SQLite database when it does not
    /// exist (without it they refuse, so that a token is not made in a database no collector
    /// serves).
    #[arg(long, global = true)]
    pub create: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API, the metrics and the health endpoints.
    Serve(ServeArgs),
    /// Manage agent tokens.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage read-API tokens.
    #[command(subcommand)]
    Viewer(ViewerCommand),
    /// Create the database or bring its schema up to date, then exit; prints the schema
    /// versions before and after.
    Migrate,
    /// Delete raw reports older than --older-than-days (default: the config's
    /// `[retention] reports_days`), except those the current state points at; the history
    /// of status transitions is kept.
    Prune(PruneArgs),
    /// Recompute the current verdicts from the stored observations with this version's
    /// grading rules, recording the changes as status transitions (run after an upgrade
    /// that changed the rules).
    Regrade,
    /// The capability matrix.
    #[command(subcommand)]
    Matrix(MatrixCommand),
    /// Self-assessment answers.
    #[command(subcommand)]
    Assess(AssessCommand),
    /// Organization metadata (region, size band) for the aggregate matrix.
    #[command(subcommand)]
    Org(OrgCommand),
    /// The audit log of enrollments, revocations and exports.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage scrape tokens: they read /metrics and nothing else (give one to Prometheus).
    #[command(subcommand)]
    Scraper(ScraperCommand),
}

/// `prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete reports received more than this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub older_than_days: Option<u64>,
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit log, oldest first, one JSON object per line (no token in it).
    Show,
}

/// `matrix …`.
#[derive(Debug, Subcommand)]
pub enum MatrixCommand {
    /// Write the capability matrix to a file. CSV also writes its data dictionary beside
    /// it (`NAME-dictionary.csv`).
    Export(ExportArgs),
}

/// `matrix export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `aggregate` (the committee's default, no organization named) or `org` (one column
    /// per organization: PROTECTED A).
    #[arg(long, value_enum, default_value = "aggregate")]
    pub view: View,
    #[arg(long, value_enum)]
    pub format: Format,
    /// The language of every header, name and legend: en or fr.
    #[arg(long, default_value = "en")]
    pub lang: Lang,
    /// Trend compared with the state at the start of this day (YYYY-MM-DD) [default: the
    /// start of the current quarter].
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// Only this organization (org view).
    #[arg(long)]
    pub org: Option<String>,
    /// The TLS grading profile of the levels: modern or itsp-strict.
    #[arg(long, default_value = "modern")]
    pub tls_profile: TlsProfile,
    /// Aggregate view: add the median and share at level 3 or more per region or size band
    /// (set with `org set` or `org import`).
    #[arg(long, value_enum)]
    pub group_by: Option<crate::matrix::GroupBy>,
    /// The file to write; `-` for standard output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Set an organization's region and/or size band (a field not given is kept).
    Set {
        /// The organization id.
        org: String,
        /// Its region, e.g. a province code (ON, QC …).
        #[arg(long)]
        region: Option<String>,
        /// Its size band, e.g. 1-9, 10-49, 50-249, 250+.
        #[arg(long)]
        size_band: Option<String>,
    },
    /// Import regions and size bands from a CSV file with the header `org,region,size_band`
    /// (an empty cell keeps the stored value); all lines or none.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Print every organization's metadata, one JSON object per line.
    Show,
}

/// `assess …`.
#[derive(Debug, Subcommand)]
pub enum AssessCommand {
    /// Import questionnaire answers from a CSV file (columns org, question, answer,
    /// respondent_role, answered_on, evidence) or a YAML file (`.yaml`, `.yml`; see
    /// docs/matrix.md); all answers or none.
    Import {
        /// The CSV or YAML file.
        file: PathBuf,
    },
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// ADDR:PORT to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "VIGIE_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Allow listening on a non-loopback address without TLS.
    #[arg(long, env = "VIGIE_INSECURE_LISTEN")]
    pub insecure_listen: bool,

    /// The largest report body accepted, in bytes [default: 8388608 (8 MiB)].
    #[arg(long, env = "VIGIE_MAX_BODY_BYTES", value_name = "N")]
    pub max_body_bytes: Option<u64>,

    /// PEM certificate chain (server's certificate first): serve HTTPS. Read again on
    /// SIGHUP, with the key, without closing the listener.
    #[arg(
        long,
        env = "VIGIE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "VIGIE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Connections open at once; beyond, 8 more answer only /healthz and /readyz, then new
    /// connections wait in the kernel's backlog [default: 1024].
    #[arg(long, env = "VIGIE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u64>,

    /// Seconds a client has to send its request head (and finish the TLS handshake) before
    /// it is disconnected [default: 10].
    #[arg(long, env = "VIGIE_HEADER_TIMEOUT", value_name = "SECONDS")]
    pub header_timeout: Option<u64>,

    /// Seconds a client has to send a report body (408 beyond) [default: 60].
    #[arg(long, env = "VIGIE_BODY_TIMEOUT", value_name = "SECONDS")]
    pub body_timeout: Option<u64>,

    /// Requests per minute per token, as a burst of that size (429 with Retry-After
    /// beyond); 0 turns the limit off [default: 120].
    #[arg(long, env = "VIGIE_RATE_LIMIT", value_name = "N")]
    pub rate_limit: Option<u64>,

    /// Serve /metrics without a token, as before scrape tokens existed: only where nobody
    /// but the Prometheus server can reach the listener (it names every organization's
    /// exposed services and expiring certificates). Logged as a warning at start.
    #[arg(long, env = "VIGIE_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// Connections open at once from one source address (IPv6: one /64); beyond, new ones
    /// from it are closed at once. 0 turns the limit off (behind a reverse proxy, where
    /// every connection comes from the proxy) [default: 64].
    #[arg(long, env = "VIGIE_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub max_connections_per_address: Option<u64>,

    /// Findings accepted in one report (413 beyond) [default: 5000; at most 50000].
    #[arg(long, env = "VIGIE_MAX_FINDINGS", value_name = "N")]
    pub max_findings: Option<u64>,

    /// Distinct targets accepted in one report (413 beyond) [default: 1000; at most 10000].
    #[arg(long, env = "VIGIE_MAX_TARGETS", value_name = "N")]
    pub max_targets: Option<u64>,

    /// Bytes of stored reports per organization (429 beyond, until retention frees room);
    /// 0 turns the budget off [default: 1073741824 (1 GiB)].
    #[arg(long, env = "VIGIE_ORG_STORAGE_BYTES", value_name = "BYTES")]
    pub org_storage_bytes: Option<u64>,

    /// Bytes of report bodies held in memory at once by all requests (503 with Retry-After
    /// beyond); at least --max-body-bytes [default: 268435456 (256 MiB)].
    #[arg(long, env = "VIGIE_MAX_INFLIGHT_BODY_BYTES", value_name = "BYTES")]
    pub max_inflight_body_bytes: Option<u64>,
}

/// `agent …`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent token for an organization (created if new); prints the token alone
    /// on stdout.
    Add {
        /// The organization id: 1-64 of a-z, 0-9, '-', '_', '.'.
        #[arg(long, env = "VIGIE_ORG")]
        org: String,
        /// The agent's id (`[agent] id` of its config): the token posts only reports of
        /// that agent (409 otherwise). 1-128 of A-Z, a-z, 0-9, '-', '_', '.'.
        #[arg(long, default_value = "agent")]
        name: String,
    },
    /// Revoke the organization's active agent tokens of that name: refused (401) at once.
    Revoke {
        /// The organization id of the token, as given to `agent add`.
        #[arg(long, env = "VIGIE_ORG")]
        org: String,
        /// The agent's id, the `--name` given to `agent add` [default: agent].
        #[arg(long, default_value = "agent")]
        name: String,
    },
    /// Replace the organization's active agent tokens of that name by a new one, printed
    /// alone on stdout; the old ones are refused (401) at once.
    Rotate {
        /// The organization id of the token, as given to `agent add`.
        #[arg(long, env = "VIGIE_ORG")]
        org: String,
        /// The agent's id, the `--name` given to `agent add` [default: agent].
        #[arg(long, default_value = "agent")]
        name: String,
    },
}

/// `viewer …`.
#[derive(Debug, Subcommand)]
pub enum ViewerCommand {
    /// Create a viewer token (`vgv_…`) of a role; prints the token alone on stdout.
    Add {
        /// A label for the token, e.g. who uses it.
        #[arg(long)]
        name: String,
        /// What it may see: `sector` (every organization), `org` (one organization, --org)
        /// or `committee` (the aggregate only, no organization named).
        #[arg(long, value_enum)]
        role: crate::scope::Role,
        /// The organization of an `org` viewer: one the collector knows (`agent add`).
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke the active viewer tokens of that name: refused (401) at once.
    Revoke {
        /// The token's label, as given to `viewer add`.
        #[arg(long)]
        name: String,
    },
    /// Replace the active viewer tokens of that name by a new one, printed alone on stdout.
    Rotate {
        /// The token's label, as given to `viewer add`.
        #[arg(long)]
        name: String,
    },
}

/// `scraper …`.
#[derive(Debug, Subcommand)]
pub enum ScraperCommand {
    /// Create a scrape token (`vgs_…`): it reads /metrics and nothing else. Prints the token
    /// alone on stdout; put it in the file Prometheus's `credentials_file` names.
    Add {
        /// A label for the token, e.g. the Prometheus server that uses it.
        #[arg(long)]
        name: String,
    },
    /// Revoke the active scrape tokens of that name: refused (401) at once.
    Revoke {
        /// The token's label, as given to `scraper add`.
        #[arg(long)]
        name: String,
    },
    /// Replace the active scrape tokens of that name by a new one, printed alone on stdout.
    Rotate {
        /// The token's label, as given to `scraper add`.
        #[arg(long)]
        name: String,
    },
}

/// Runs the command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let lang = crate::i18n::process_lang();
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                database_url: cli.database_url,
                insecure_listen: args.insecure_listen,
                max_body_bytes: args.max_body_bytes,
                tls_cert: args.tls_cert,
                tls_key: args.tls_key,
                max_connections: args.max_connections,
                header_timeout_seconds: args.header_timeout,
                body_timeout_seconds: args.body_timeout,
                rate_limit_per_minute: args.rate_limit,
                metrics_public: args.metrics_public,
                max_connections_per_address: args.max_connections_per_address,
                max_findings: args.max_findings,
                max_targets: args.max_targets,
                org_storage_bytes: args.org_storage_bytes,
                max_inflight_body_bytes: args.max_inflight_body_bytes,
            };
            let config = config::resolve(overrides, file)?;
            serve(config).await
        }
        Command::Agent(AgentCommand::Add { org, name }) => {
            let store = open_to_add(cli.database_url, file, cli.create, "agent add").await?;
            let token = store
                .create_token(TokenKind::Agent, Some(&org), &name)
                .await
                .context("creating the agent token")?;
            println!("{token}");
            let database = store.location();
            let said = t(
                lang,
                "token.agent.created",
                &[("name", name), ("org", org), ("database", database)],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Agent(AgentCommand::Revoke { org, name }) => {
            let store = open(cli.database_url, file).await?;
            let count = store
                .revoke_tokens(TokenKind::Agent, Some(&org), &name)
                .await
                .context("revoking the agent token")?;
            let said = t(
                lang,
                "token.agent.revoked",
                &[("count", count.to_string()), ("name", name), ("org", org)],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Agent(AgentCommand::Rotate { org, name }) => {
            let store = open(cli.database_url, file).await?;
            let token = store
                .rotate_token(TokenKind::Agent, Some(&org), &name)
                .await
                .context("rotating the agent token")?;
            println!("{token}");
            let said = t(lang, "token.agent.rotated", &[("name", name), ("org", org)]);
            eprintln!("{said}");
            Ok(())
        }
        Command::Viewer(ViewerCommand::Revoke { name }) => {
            let store = open(cli.database_url, file).await?;
            let count = store
                .revoke_tokens(TokenKind::Viewer, None, &name)
                .await
                .context("revoking the viewer token")?;
            let said = t(
                lang,
                "token.viewer.revoked",
                &[("count", count.to_string()), ("name", name)],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Viewer(ViewerCommand::Rotate { name }) => {
            let store = open(cli.database_url, file).await?;
            let token = store
                .rotate_token(TokenKind::Viewer, None, &name)
                .await
                .context("rotating the viewer token")?;
            println!("{token}");
            let said = t(lang, "token.viewer.rotated", &[("name", name)]);
            eprintln!("{said}");
            Ok(())
        }
        Command::Audit(AuditCommand::Show) => {
            let store = open(cli.database_url, file).await?;
            for entry in store
                .audit_entries()
                .await
                .context("reading the audit log")?
            {
                println!(
                    "{}",
                    serde_json::to_string(&entry).context("writing the audit log")?
                );
            }
            Ok(())
        }
        Command::Viewer(ViewerCommand::Add { name, role, org }) => {
            let store = open_to_add(cli.database_url, file, cli.create, "viewer add").await?;
            let token = store
                .create_viewer(role, org.as_deref(), &name)
                .await
                .context("creating the viewer token")?;
            println!("{token}");
            let database = store.location();
            let scope = match org {
                Some(org) => format!("{} ({org})", role.as_str()),
                None => role.as_str().to_string(),
            };
            let said = t(
                lang,
                "token.viewer.created",
                &[("name", name), ("role", scope), ("database", database)],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Scraper(command) => {
            let store = match command {
                ScraperCommand::Add { .. } => {
                    open_to_add(cli.database_url, file, cli.create, "scraper add").await?
                }
                _ => open(cli.database_url, file).await?,
            };
            scraper_command(&store, command).await
        }
        Command::Matrix(MatrixCommand::Export(args)) => {
            let store = open(cli.database_url, file).await?;
            export(&store, args).await
        }
        Command::Org(command) => {
            let store = open(cli.database_url, file).await?;
            org_command(&store, command).await
        }
        Command::Assess(AssessCommand::Import { file: path }) => {
            let store = open(cli.database_url, file).await?;
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {} (is it a UTF-8 CSV or YAML file?)",
                    path.display()
                )
            })?;
            let answers = crate::assess::parse(&path, &text, chrono::Utc::now().date_naive())
                .with_context(|| format!("{} was not imported", path.display()))?;
            let count = store
                .import_answers(answers)
                .await
                .with_context(|| format!("{} was not imported", path.display()))?;
            let said = t(
                lang,
                "assess.imported",
                &[
                    ("count", count.to_string()),
                    ("path", path.display().to_string()),
                ],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Prune(args) => {
            let days = match args.older_than_days {
                Some(0) => {
                    return Err(UsageError("--older-than-days must be at least 1".to_owned()).into())
                }
                Some(days) => config::MAX_RETENTION_DAYS.min(days) as u32,
                None => file.retention_days()?.ok_or_else(|| {
                    UsageError(
                        "how old is too old? give --older-than-days DAYS or set [retention] reports_days in the config file".to_owned(),
                    )
                })?,
            };
            let store = open(cli.database_url, file).await?;
            let before = retention_cutoff(days);
            let deleted = store.prune(before).await.context("pruning old reports")?;
            let before = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let said = t(
                lang,
                "prune.done",
                &[
                    ("deleted", deleted.to_string()),
                    ("before", before),
                    ("days", days.to_string()),
                ],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Regrade => {
            let store = open(cli.database_url, file).await?;
            let summary = crate::regrade::regrade(&store, chrono::Utc::now())
                .await
                .context("regrading the stored reports")?;
            let said = t(
                lang,
                "regrade.done",
                &[
                    ("reports", summary.reports.to_string()),
                    ("changed", summary.changed.to_string()),
                    ("added", summary.added.to_string()),
                    ("skipped", summary.skipped.to_string()),
                ],
            );
            eprintln!("{said}");
            Ok(())
        }
        Command::Migrate => {
            let url = cli
                .database_url
                .or(file.database_url)
                .unwrap_or_else(|| config::DEFAULT_DATABASE_URL.to_owned());
            let (store, from, to) = Store::open_with(&url, true).await?;
            if from == to {
                let said = t(
                    lang,
                    "migrate.current",
                    &[
                        ("database", store.location()),
                        ("backend", store.backend_name().to_string()),
                        ("to", to.to_string()),
                    ],
                );
                eprintln!("{said}");
            } else {
                let said = t(
                    lang,
                    "migrate.done",
                    &[
                        ("database", store.location()),
                        ("backend", store.backend_name().to_string()),
                        ("from", from.to_string()),
                        ("to", to.to_string()),
                    ],
                );
                eprintln!("{said}");
            }
            Ok(())
        }
    }
}

async fn scraper_command(store: &Store, command: ScraperCommand) -> anyhow::Result<()> {
    match command {
        ScraperCommand::Add { name } => {
            let token = store
                .create_token(TokenKind::Scraper, None, &name)
                .await
                .context("creating the scrape token")?;
            println!("{token}");
            let said = t(
                crate::i18n::process_lang(),
                "token.scraper.created",
                &[("name", name)],
            );
            eprintln!("{said}");
        }
        ScraperCommand::Revoke { name } => {
            let count = store
                .revoke_tokens(TokenKind::Scraper, None, &name)
                .await
                .context("revoking the scrape token")?;
            let said = t(
                crate::i18n::process_lang(),
                "token.scraper.revoked",
                &[("count", count.to_string()), ("name", name)],
            );
            eprintln!("{said}");
        }
        ScraperCommand::Rotate { name } => {
            let token = store
                .rotate_token(TokenKind::Scraper, None, &name)
                .await
                .context("rotating the scrape token")?;
            println!("{token}");
            let said = t(
                crate::i18n::process_lang(),
                "token.scraper.rotated",
                &[("name", name)],
            );
            eprintln!("{said}");
        }
    }
    Ok(())
}

async fn org_command(store: &Store, command: OrgCommand) -> anyhow::Result<()> {
    let updates = match command {
        OrgCommand::Show => {
            for meta in store
                .org_meta()
                .await
                .context("reading organization metadata")?
            {
                println!("{}", serde_json::to_string(&meta)?);
            }
            return Ok(());
        }
        OrgCommand::Set {
            org,
            region,
            size_band,
        } => vec![
            crate::orgmeta::update(&org, region.as_deref(), size_band.as_deref())
                .map_err(|e| UsageError(e.to_string()))?,
        ],
        OrgCommand::Import { file: path } => {
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read {} (is it a UTF-8 CSV file?)", path.display())
            })?;
            crate::orgmeta::parse_csv(&text)
                .map_err(|e| UsageError(format!("{} was not imported: {e}", path.display())))?
        }
    };
    let count = store
        .set_org_meta(updates)
        .await
        .context("storing organization metadata; nothing was changed")?;
    let said = t(
        crate::i18n::process_lang(),
        "org.stored",
        &[("count", count.to_string())],
    );
    eprintln!("{said}");
    Ok(())
}

async fn export(store: &Store, args: ExportArgs) -> anyhow::Result<()> {
    if args.org.is_some() && args.view == View::Aggregate {
        return Err(UsageError("--org needs --view org".to_owned()).into());
    }
    if args.group_by.is_some() && args.view == View::Org {
        return Err(UsageError("--group-by needs --view aggregate".to_owned()).into());
    }
    let request = crate::matrix::MatrixRequest {
        view: args.view,
        lang: args.lang,
        since: args.since,
        org: args.org,
        profile: args.tls_profile,
        now: chrono::Utc::now(),
        group_by: args.group_by,
    };
    let matrix = crate::matrix::compute(store, &request)
        .await
        .map_err(|e| match e {
            crate::matrix::MatrixError::Store(e) => anyhow::Error::from(e),
            other => UsageError(other.to_string()).into(),
        })?;
    let bytes = crate::export::render(&matrix, args.format).context("rendering the matrix")?;
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .context("writing the matrix to standard output")?;
    } else {
        std::fs::write(&args.out, bytes).with_context(|| {
            format!(
                "cannot write {} (does its folder exist?)",
                args.out.display()
            )
        })?;
    }
    store
        .audit(
            crate::store::audit::AuditAction::MatrixExport,
            "cli",
            &format!(
                "view={} format={} lang={}",
                args.view.as_str(),
                args.format.extension(),
                args.lang.as_str()
            ),
        )
        .await
        .context("writing the audit log")?;
    let lang = crate::i18n::process_lang();
    let said = t(
        lang,
        "matrix.written",
        &[
            ("view", args.view.as_str().to_owned()),
            (
                "orgs",
                vigie_matrix::catalogue::render(
                    lang,
                    "count.orgs",
                    &[("count", matrix.orgs.len().to_string())],
                ),
            ),
            ("rules", matrix.rules_version.to_string()),
            ("out", args.out.display().to_string()),
        ],
    );
    eprintln!("{said}");
    if args.format == Format::Csv && to_stdout {
        eprintln!("{}", t(lang, "matrix.no_dictionary", &[]));
    } else if args.format == Format::Csv {
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "matrix".to_owned());
        let dictionary = args.out.with_file_name(format!("{stem}-dictionary.csv"));
        std::fs::write(&dictionary, crate::export::dictionary_csv(args.lang))
            .with_context(|| format!("cannot write {}", dictionary.display()))?;
        let said = t(
            lang,
            "matrix.dictionary_written",
            &[("path", dictionary.display().to_string())],
        );
        eprintln!("{said}");
    }
    Ok(())
}

/// When reports kept `days` days start.
fn retention_cutoff(days: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::days(i64::from(days))
}

/// `[retention] reports_days`: prunes once at start, then every 24 hours, for as long as the
/// server runs. A failure is logged and retried the next day; it never stops the server.
fn spawn_daily_prune(store: Store, days: u32) {
    tokio::spawn(async move {
        let mut every_day = tokio::time::interval(Duration::from_secs(24 * 3600));
        every_day.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every_day.tick().await;
            match store.prune(retention_cutoff(days)).await {
                Ok(deleted) => tracing::info!(deleted, days, "pruned old reports"),
                Err(error) => {
                    tracing::warn!(%error, "pruning old reports failed; retrying in 24 h")
                }
            }
        }
    });
}

/// Keeps the past quarter ends of the matrix graded (see `matrix::keep_past_states`): at
/// start, then hourly, so that a quarter that has just ended or a late report is graded
/// before someone exports, not while they wait. The API's default profile is the one kept.
fn spawn_past_states(store: Store) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        every_hour.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every_hour.tick().await;
            let now = chrono::Utc::now();
            if let Err(error) =
                crate::matrix::keep_past_states(&store, now, vigie_matrix::TlsProfile::Modern).await
            {
                tracing::warn!(%error, "grading the past quarter ends failed; retrying in an hour");
            }
        }
    });
}

/// A command-line mistake the message explains (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Opens the store for a command that adds a token: a SQLite file that does not exist yet is
/// created only with `--create`, since a token in a database no collector serves is useless.
async fn open_to_add(
    database_url: Option<String>,
    file: FileConfig,
    create: bool,
    command: &str,
) -> anyhow::Result<Store> {
    let url = database_url
        .or(file.database_url.clone())
        .unwrap_or_else(|| config::DEFAULT_DATABASE_URL.to_owned());
    if let Ok(crate::store::DatabaseUrl::Sqlite(path)) = crate::store::DatabaseUrl::parse(&url) {
        if !create && !path.exists() {
            let path = std::path::absolute(&path).unwrap_or(path);
            return Err(UsageError(t(
                crate::i18n::process_lang(),
                "error.no_database",
                &[
                    ("path", path.display().to_string()),
                    ("command", command.to_owned()),
                ],
            ))
            .into());
        }
    }
    open(Some(url), file).await
}

async fn open(database_url: Option<String>, file: FileConfig) -> anyhow::Result<Store> {
    let url = database_url
        .or(file.database_url)
        .unwrap_or_else(|| config::DEFAULT_DATABASE_URL.to_owned());
    Ok(Store::open(&url).await?)
}

async fn serve(config: config::CollectorConfig) -> anyhow::Result<()> {
    let tls = match &config.tls {
        Some(files) => {
            let reloader = std::sync::Arc::new(
                crate::server::TlsReloader::load(&files.cert, &files.key)
                    .map_err(|e| UsageError(e.to_string()))?,
            );
            crate::server::reload_on_sighup(std::sync::Arc::clone(&reloader));
            Some(reloader)
        }
        None => None,
    };
    let store = Store::open(&config.database_url).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is the port in use?)", config.listen))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(listen = %local, tls = tls.is_some(), database = %store.location(), "collector serving");

    if let Some(days) = config.retention_days {
        spawn_daily_prune(store.clone(), days);
    }
    spawn_past_states(store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::with_limits(
        store,
        crate::state::RequestLimits {
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            rate_limit_per_minute: config.rate_limit_per_minute,
            report_limits: config.report_limits,
            org_storage_bytes: config.org_storage_bytes,
            max_inflight_body_bytes: config.max_inflight_body_bytes,
        },
    );
    if config.metrics_public {
        tracing::warn!(
            "/metrics answers without a token (--metrics-public): anyone who reaches the listener reads every organization's exposed services and expiring certificates"
        );
        state.set_metrics_public(true);
    }
    let options = crate::server::ServeOptions {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout,
        tls,
        max_connections_per_address: config.max_connections_per_address,
    };
    let server = crate::server::serve_with(listener, state, options, async move {
        let _ = stopped.await;
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result.context("the HTTP server failed")?,
        () = crate::server::shutdown_signal() => {
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop.send(());
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(result) => result.context("the HTTP server failed while stopping")?,
                Err(_) => tracing::warn!(
                    grace_seconds = SHUTDOWN_GRACE.as_secs(),
                    "requests still running after the grace period; exiting anyway"
                ),
            }
        }
    }
    tracing::info!("collector stopped");
    Ok(())
}

/// 2 for usage and configuration errors (the message says what to fix), 1 for the rest.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let usage = error.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.is::<UsageError>()
            || cause.is::<crate::assess::ImportError>()
            || cause.downcast_ref::<StoreError>().is_some_and(|e| {
                matches!(
                    e,
                    StoreError::BadUrl { .. }
                        | StoreError::InvalidOrg(_)
                        | StoreError::InvalidName
                        | StoreError::TokenOrg
                        | StoreError::UnknownOrg(_)
                        | StoreError::NoSuchToken { .. }
                        | StoreError::InvalidAgentName(_)
                )
            })
    });
    if usage {
        2
    } else {
        1
    }
}
