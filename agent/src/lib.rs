//! The Vigie agent: one-off scans (`vigie-agent scan …`) and the scheduled daemon
//! (`vigie-agent run`) that spools reports to an outbox and uploads them to the collector.
//!
//! Modules, one job each:
//! - [`cli`]: the command line, turned into one typed [`cli::Command`];
//! - [`config`]: the TOML configuration, parsed once ([`load_config`]);
//! - [`host_name`]: the name of the machine, the default agent id and every report's host;
//! - [`scope`]: the allowlist of what service scans may touch;
//! - [`scan`]: runs the probes (TLS, email, host) and assembles a `vigie.report.v1` report;
//! - [`output`]: the JSON report or a table for a person, written atomically;
//! - [`outbox`]: durable spooling of reports until the collector acknowledges them;
//! - [`upload`]: posting to the collector, with retries and backoff;
//! - [`daemon`]: the schedule, [`run_once`] and [`run_daemon`];
//! - [`shutdown`]: the one shutdown signal passed into every task;
//! - [`exit`]: exit statuses, decided in one place;
//! - [`vulndb`]: `vulndb import`, the local vulnerability index of the host checks.
//!
//! For the end-to-end tests: [`load_config`] then [`run_once`] (or [`scan::scan`] with a
//! [`scan::ScanRequest`]) run exactly what the binary runs.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod exit;
pub mod host_name;
pub mod i18n;
pub mod messages;
pub mod outbox;
pub mod output;
pub mod progress;
pub mod scan;
pub mod scope;
pub mod shutdown;
pub mod upload;
pub mod vulndb;

use std::io::Write;

use anyhow::Context;

pub use config::{load_config, AgentConfig, ConfigError};
pub use daemon::{run_daemon, run_once, RunError, RunOutcome};
pub use exit::Exit;
pub use scope::Scope;
pub use shutdown::Shutdown;

use cli::{Command, OutputOptions};
use output::Format;

/// Runs a parsed command to its end and says how the process should exit. `run` listens to
/// SIGTERM and Ctrl-C; scans are short and keep the default signal behaviour.
pub async fn execute(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Scan { request, output } => {
            // The scan's errors say what could not run and why; no frame around them.
            let report = scan::scan(&request, &Shutdown::never()).await?;
            emit(&report, &output)?;
            Ok(Exit::for_scan(&report, output.fail_on))
        }
        Command::Run { config, once, lang } => {
            let shutdown =
                Shutdown::on_signals().context("cannot listen for SIGTERM and Ctrl-C")?;
            if once {
                let outcome = run_once(&config, lang, &shutdown).await?;
                tracing::info!(
                    delivered = outcome.delivered,
                    rejected = outcome.rejected,
                    remaining = outcome.remaining,
                    "cycle finished"
                );
                Ok(Exit::for_run_once(&outcome))
            } else {
                run_daemon(&config, lang, shutdown).await?;
                Ok(Exit::Success)
            }
        }
        Command::VulndbImport {
            source,
            index,
            format,
            lang,
        } => {
            let stats = vulndb::import(&source, &index).await?;
            let text = match format {
                Format::Json => vulndb::render_json(&stats, &index)
                    .context("cannot serialize the import's counts")?,
                Format::Text => vulndb::render_text(&stats, &index, lang),
            };
            write_stdout(&text)?;
            Ok(Exit::Success)
        }
    }
}

/// The text of an error that reached `main`, in `lang`: the catalogue's text of the agent's
/// own errors, else the English chain, printed once.
pub fn error_text(error: &anyhow::Error, lang: vigie_model::Lang) -> String {
    messages::error_text(error, lang).unwrap_or_else(|| format!("{error:#}"))
}

/// Writes to standard output; a closed pipe (`| head`) is the reader's choice, not a failure.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// Prints or writes the report in the requested format.
fn emit(report: &vigie_model::Report, options: &OutputOptions) -> anyhow::Result<()> {
    let to_file = options.output.is_some();
    let text = match options.format {
        Format::Json => output::render_json(report).context("cannot serialize the report")?,
        Format::Text => output::render_text(
            report,
            options.lang,
            output::colour_wanted(to_file),
            options.fail_on,
        ),
    };
    match &options.output {
        Some(path) => output::write_atomically(path, text.as_bytes()).with_context(|| {
            format!(
                "cannot write the output file {}; check that its folder exists and is writable",
                path.display()
            )
        }),
        None => write_stdout(&text),
    }
}
