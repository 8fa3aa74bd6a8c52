//! `run`: scan on a schedule, spool each report, deliver the outbox.
//!
//! One cycle is: scan → write the report to the outbox (durably) → deliver every pending
//! report, oldest first, retrying until the next cycle is due (for `--once`, until
//! `agent.once_deadline`). Shutdown stops any wait at once; a report is either wholly in
//! the outbox or not at all.

use std::path::PathBuf;

use tokio::time::Instant;
use vigie_model::Lang;

use crate::config::AgentConfig;
use crate::outbox::{Outbox, OutboxError};
use crate::scan::{self, ScanError, ScanRequest};
use crate::shutdown::Shutdown;
use crate::upload::{self, Backoff, UploadError, Uploader};

/// Why `run` could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has no `[collector]` section.
    #[error("`run` needs a [collector] section with `url` and `token_file` in {config}; add it, or use `scan all` for a scan without upload")]
    NoCollector { config: String },
    /// The token or the collector's CA could not be used.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The outbox could not be used.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The scan could not be set up (resolvers, trusted roots).
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// What one `run --once` cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// The report written to the outbox by this cycle (none if shutdown came first).
    pub spooled: Option<PathBuf>,
    /// Reports the collector acknowledged.
    pub delivered: usize,
    /// Reports moved to `rejected/`.
    pub rejected: usize,
    /// Reports still in the outbox at the end (exit status 3 when not zero).
    pub remaining: usize,
}

/// What a cycle needs, prepared once: checks the collector section, reads the token and
/// opens the outbox, so that configuration mistakes surface before any scan.
struct Agent {
    request: ScanRequest,
    outbox: Outbox,
    uploader: Uploader,
    backoff: Backoff,
}

impl Agent {
    fn prepare(config: &AgentConfig, lang: Lang) -> Result<Agent, RunError> {
        let collector = config
            .collector
            .as_ref()
            .ok_or_else(|| RunError::NoCollector {
                config: config
                    .source
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the configuration".to_owned()),
            })?;
        let uploader = Uploader::new(collector)?;
        let outbox = Outbox::open(&config.agent.outbox)?;
        Ok(Agent {
            request: ScanRequest::from_config(config, lang),
            outbox,
            uploader,
            backoff: Backoff::new(config.agent.retry_initial, config.agent.retry_max),
        })
    }

    /// Scans and spools; `None` when shutdown interrupted the scan.
    async fn scan_and_spool(&self, shutdown: &Shutdown) -> Result<Option<PathBuf>, RunError> {
        match scan::scan(&self.request, shutdown).await {
            Ok(report) => {
                tracing::info!(report_id = %report.report_id, targets = report.targets.len(), findings = report.findings.len(), "scan finished");
                // Not raced against shutdown: a report is written whole or not at all.
                Ok(Some(self.outbox.spool(&report)?))
            }
            Err(ScanError::Cancelled) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// One cycle: scan, spool, then deliver with retries until `agent.once_deadline` has passed.
/// Reports left by earlier runs are delivered too, oldest first.
///
/// Errors are configuration problems (no `[collector]`, unreadable token or CA file, outbox
/// not writable); an unreachable collector is not an error but `remaining > 0`.
pub async fn run_once(
    config: &AgentConfig,
    lang: Lang,
    shutdown: &Shutdown,
) -> Result<RunOutcome, RunError> {
    let mut agent = Agent::prepare(config, lang)?;
    let deadline = Instant::now() + config.agent.once_deadline;
    let spooled = agent.scan_and_spool(shutdown).await?;
    let round = upload::deliver_pending(
        &agent.outbox,
        &agent.uploader,
        &mut agent.backoff,
        deadline,
        shutdown,
    )
    .await?;
    // After a refusal (logged where it happened), saying the collector "could not be
    // reached" would contradict it.
    if round.remaining > 0 && !round.blocked {
        let text = crate::i18n::t(
            lang,
            "log.run.unreached",
            &[
                ("remaining", round.remaining.to_string()),
                ("outbox", agent.outbox.folder().display().to_string()),
            ],
        );
        tracing::warn!("{text}");
    }
    Ok(RunOutcome {
        spooled,
        delivered: round.delivered,
        rejected: round.rejected,
        remaining: round.remaining,
    })
}

/// The daemon: a cycle at start, then one every `agent.schedule`, until shutdown. Delivery
/// retries run until the next cycle is due. A scan that cannot be set up at start is an
/// error (exit status 2); a cycle that fails later (a scan or an outbox write) is logged and
/// the daemon goes on.
pub async fn run_daemon(
    config: &AgentConfig,
    lang: Lang,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let mut agent = Agent::prepare(config, lang)?;
    tracing::info!(
        org = %config.org,
        schedule_s = config.agent.schedule.as_secs(),
        outbox = %agent.outbox.folder().display(),
        endpoint = %agent.uploader.endpoint(),
        "vigie-agent running"
    );
    let mut first_cycle = true;
    loop {
        let next_cycle = Instant::now() + config.agent.schedule;
        match agent.scan_and_spool(&shutdown).await {
            Ok(_) => {}
            // At start, a scan that cannot be set up is a configuration error to fix now;
            // later (a CA file being replaced, a full disk) the next cycle may succeed.
            Err(error) if first_cycle && !matches!(error, RunError::Outbox(_)) => {
                return Err(error)
            }
            Err(error) => {
                tracing::error!(%error, "this cycle produced no report; the next cycle will try again")
            }
        }
        first_cycle = false;
        if shutdown.is_triggered() {
            break;
        }
        match upload::deliver_pending(
            &agent.outbox,
            &agent.uploader,
            &mut agent.backoff,
            next_cycle,
            &shutdown,
        )
        .await
        {
            Ok(round) if round.remaining > 0 => {
                tracing::warn!(
                    remaining = round.remaining,
                    "reports wait in the outbox for the next cycle"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "cannot read the outbox"),
        }
        tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep_until(next_cycle) => {}
        }
    }
    tracing::info!("vigie-agent stopped");
    Ok(())
}
