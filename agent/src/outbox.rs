//! The outbox: a folder where each report is written durably before any upload, and
//! removed only once the collector has acknowledged it.
//!
//! Layout (one agent per outbox):
//! - `<time>-<report id>.json`: pending reports; `<time>` is the report's start,
//!   `YYYYMMDDTHHMMSS.ffffffZ`, so names sort chronologically;
//! - `.<name>.tmp`: a report being written; one left by a crash is removed when the outbox
//!   is opened and never read;
//! - `rejected/`: reports the collector refused for good, or files that are not readable
//!   reports, each with a `.reason` file beside it saying why.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use vigie_model::Report;

/// The sub-folder for reports that will not be sent again.
pub const REJECTED: &str = "rejected";
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Why the outbox could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The folder could not be created or listed.
    #[error("cannot use the outbox folder {path}: {error}; check `agent.outbox` and that the agent may write there")]
    Folder {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A report could not be written durably.
    #[error("cannot write the report {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A report could not be serialized (a defect, not an operator error).
    #[error("cannot serialize the report: {0}")]
    Serialize(serde_json::Error),
    /// A report could not be removed or moved aside.
    #[error("cannot move or remove {path}: {error}")]
    Move {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A pending report, read back from the outbox.
#[derive(Debug)]
pub enum Pending {
    /// A readable report and its exact bytes (sent as written).
    Report {
        path: PathBuf,
        report: Box<Report>,
        body: Vec<u8>,
    },
    /// A file that cannot be read or is not a report.
    Corrupt { path: PathBuf, reason: String },
}

/// The outbox folder.
#[derive(Debug, Clone)]
pub struct Outbox {
    folder: PathBuf,
}

impl Outbox {
    /// Opens (creating it, owner-only, if needed) the outbox and removes the temporary files
    /// a crash may have left.
    pub fn open(folder: &Path) -> Result<Outbox, OutboxError> {
        let folder_error = |error| OutboxError::Folder {
            path: folder.to_owned(),
            error,
        };
        create_private_dir(folder).map_err(folder_error)?;
        for entry in fs::read_dir(folder).map_err(folder_error)? {
            let entry = entry.map_err(folder_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary(&name) {
                tracing::warn!(file = %entry.path().display(), "removing a report left half-written by an earlier crash");
                if let Err(error) = fs::remove_file(entry.path()) {
                    tracing::warn!(file = %entry.path().display(), %error, "cannot remove a leftover temporary file");
                }
            }
        }
        Ok(Outbox {
            folder: folder.to_owned(),
        })
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The file name a report gets: its start time then its id.
    pub fn file_name(report: &Report) -> String {
        format!(
            "{}-{}.json",
            report.started_at.format("%Y%m%dT%H%M%S%.6fZ"),
            report.report_id
        )
    }

    /// Writes a report durably: a temporary file in the outbox, synced, renamed to its final
    /// name, then the folder synced so that the rename survives a power cut.
    pub fn spool(&self, report: &Report) -> Result<PathBuf, OutboxError> {
        let body = serde_json::to_vec_pretty(report).map_err(OutboxError::Serialize)?;
        let name = Outbox::file_name(report);
        let path = self.folder.join(&name);
        let temporary = self.folder.join(format!(".{name}{TEMPORARY_SUFFIX}"));
        let write_error = |error| OutboxError::Write {
            path: path.clone(),
            error,
        };
        let written = (|| {
            let mut file = File::create(&temporary)?;
            file.write_all(&body)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            sync_dir(&self.folder)
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(write_error(error));
        }
        tracing::info!(file = %path.display(), report_id = %report.report_id, "report spooled");
        Ok(path)
    }

    /// Pending report files, oldest first (by name). Temporary files and sub-folders are
    /// not pending.
    pub fn pending(&self) -> Result<Vec<PathBuf>, OutboxError> {
        let folder_error = |error| OutboxError::Folder {
            path: self.folder.clone(),
            error,
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.folder).map_err(folder_error)? {
            let entry = entry.map_err(folder_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file && !name.starts_with('.') && name.ends_with(".json") {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// Reads a pending file back; an unreadable or malformed one is [`Pending::Corrupt`].
    pub fn read(&self, path: &Path) -> Pending {
        let body = match fs::read(path) {
            Ok(body) => body,
            Err(error) => {
                return Pending::Corrupt {
                    path: path.to_owned(),
                    reason: format!("cannot read the file: {error}"),
                }
            }
        };
        match serde_json::from_slice::<Report>(&body) {
            Ok(report) => Pending::Report {
                path: path.to_owned(),
                report: Box::new(report),
                body,
            },
            Err(error) => Pending::Corrupt {
                path: path.to_owned(),
                reason: format!("not a vigie.report.v1 report: {error}"),
            },
        }
    }

    /// Removes a delivered report.
    pub fn remove(&self, path: &Path) -> Result<(), OutboxError> {
        fs::remove_file(path).map_err(|error| OutboxError::Move {
            path: path.to_owned(),
            error,
        })?;
        sync_dir(&self.folder).map_err(|error| OutboxError::Move {
            path: path.to_owned(),
            error,
        })
    }

    /// Moves a file to `rejected/`, with a `.reason` file beside it; returns the new path.
    pub fn reject(&self, path: &Path, reason: &str) -> Result<PathBuf, OutboxError> {
        let rejected = self.folder.join(REJECTED);
        let move_error = |error| OutboxError::Move {
            path: path.to_owned(),
            error,
        };
        create_private_dir(&rejected).map_err(move_error)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed.json".to_owned());
        let destination = rejected.join(&name);
        fs::rename(path, &destination).map_err(move_error)?;
        let mut reason_file = destination.as_os_str().to_owned();
        reason_file.push(".reason");
        if let Err(error) = fs::write(&reason_file, format!("{reason}\n")) {
            tracing::warn!(file = %destination.display(), %error, "cannot write why the report was rejected");
        }
        sync_dir(&rejected).map_err(move_error)?;
        sync_dir(&self.folder).map_err(move_error)?;
        Ok(destination)
    }
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMPORARY_SUFFIX)
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Makes a rename or removal in `folder` durable.
fn sync_dir(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(folder)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vigie_model::{AgentInfo, Observations};

    pub(crate) fn report_at(second: u32) -> Report {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 10, 0, second)
            .unwrap();
        Report {
            schema: vigie_model::SCHEMA_V1.to_owned(),
            report_id: uuid::Uuid::new_v4(),
            agent: AgentInfo {
                id: "a".into(),
                version: "0.1.0".into(),
                hostname: "h".into(),
            },
            org: "example-org".into(),
            started_at: at,
            finished_at: at,
            targets: vec![],
            findings: vec![],
            observations: Observations::default(),
            profile: None,
        }
    }

    #[test]
    fn names_sort_chronologically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let reports = [report_at(30), report_at(5), report_at(59), report_at(6)];
        for report in &reports {
            outbox.spool(report).unwrap();
        }
        let pending = outbox.pending().unwrap();
        let ids: Vec<_> = pending
            .iter()
            .map(|path| match outbox.read(path) {
                Pending::Report { report, .. } => report.report_id,
                Pending::Corrupt { reason, .. } => panic!("{reason}"),
            })
            .collect();
        let mut expected = reports.to_vec();
        expected.sort_by_key(|r| r.started_at);
        assert_eq!(
            ids,
            expected.iter().map(|r| r.report_id).collect::<Vec<_>>()
        );
        let first = pending[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(first.starts_with("20261122T100005.000000Z-"), "{first}");
    }

    #[test]
    fn a_temporary_file_left_by_a_crash_is_ignored_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.spool(&report_at(1)).unwrap();
        let leftover = dir.path().join(".20261122T100002.000000Z-x.json.tmp");
        fs::write(&leftover, b"{\"schema\": \"vigie.rep").unwrap();
        assert_eq!(
            outbox.pending().unwrap().len(),
            1,
            "the half-written file is not pending"
        );
        let reopened = Outbox::open(dir.path()).unwrap();
        assert!(!leftover.exists(), "removed when the outbox is opened");
        assert_eq!(
            reopened.pending().unwrap().len(),
            1,
            "the complete report stays"
        );
    }

    #[test]
    fn corrupt_files_are_recognized_and_moved_aside_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let bad = dir.path().join("20261122T100000.000000Z-bad.json");
        fs::write(&bad, b"not json").unwrap();
        let Pending::Corrupt { reason, .. } = outbox.read(&bad) else {
            panic!("a corrupt file read as a report");
        };
        let moved = outbox.reject(&bad, &reason).unwrap();
        assert!(!bad.exists());
        assert!(moved.starts_with(dir.path().join(REJECTED)));
        assert_eq!(fs::read(&moved).unwrap(), b"not json");
        let why = fs::read_to_string(
            dir.path()
                .join(REJECTED)
                .join("20261122T100000.000000Z-bad.json.reason"),
        )
        .unwrap();
        assert!(why.contains("not a vigie.report.v1 report"), "{why}");
        assert!(
            outbox.pending().unwrap().is_empty(),
            "rejected/ is not pending"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_outbox_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("spool/outbox");
        Outbox::open(&folder).unwrap();
        let mode = fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
}
