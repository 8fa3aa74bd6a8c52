//! `vulndb import`: OSV advisories into the local index the host checks match packages
//! against, and the counts printed afterwards.
//!
//! The import itself is `vigie_checks::host::import_osv` (a new index, renamed over the old
//! one only when every file was read); this module makes the index's folder and says what
//! was kept.

use std::path::{Path, PathBuf};

use vigie_checks::host::{self, ImportStats, VulnDbError};
use vigie_model::{Lang, Message};

/// Why an import did not replace the index (the previous one, if any, is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source does not exist.
    #[error("cannot read the OSV advisories at {path}: {error}; give a folder of .json files, a .json file or an osv.dev .zip export")]
    Source {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The index's folder could not be created.
    #[error("cannot create the folder {path} of the vulnerability index: {error}; create it, or choose another place with --db")]
    Folder {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The import failed (a file that is not OSV, an unwritable index…).
    #[error("the import from {source_path} into {index} failed, the previous index is unchanged: {error}")]
    Import {
        source_path: PathBuf,
        index: PathBuf,
        error: Box<VulnDbError>,
    },
    /// The import thread stopped unexpectedly.
    #[error("internal error: the import stopped unexpectedly: {0}")]
    Task(String),
}

/// Imports `source` into a new index at `index` (its folder is created when missing).
/// Blocking work runs on a blocking thread.
pub async fn import(source: &Path, index: &Path) -> Result<ImportStats, ImportError> {
    let (source, index) = (source.to_owned(), index.to_owned());
    tokio::task::spawn_blocking(move || import_blocking(&source, &index))
        .await
        .map_err(|error| ImportError::Task(error.to_string()))?
}

fn import_blocking(source: &Path, index: &Path) -> Result<ImportStats, ImportError> {
    std::fs::metadata(source).map_err(|error| ImportError::Source {
        path: source.to_owned(),
        error,
    })?;
    if let Some(folder) = index.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|error| ImportError::Folder {
            path: folder.to_owned(),
            error,
        })?;
    }
    host::import_osv(source, index).map_err(|error| ImportError::Import {
        source_path: source.to_owned(),
        index: index.to_owned(),
        error: Box::new(error),
    })
}

/// The counts for a person, in `lang`, one fact a line.
pub fn render_text(stats: &ImportStats, index: &Path, lang: Lang) -> String {
    let mut lines = vec![
        Message::new("agent.vulndb.imported")
            .arg("advisories", stats.advisories)
            .arg("affected", stats.affected)
            .arg("files", stats.files)
            .arg("index", index.display().to_string())
            .render(lang),
        Message::new("agent.vulndb.left_out")
            .arg("withdrawn", stats.withdrawn)
            .arg("other", stats.other_ecosystems)
            .render(lang),
    ];
    if stats.ecosystems.is_empty() {
        lines.push(Message::new("agent.vulndb.no_ecosystem").render(lang));
    } else {
        let ecosystems: Vec<&str> = stats.ecosystems.iter().map(String::as_str).collect();
        lines.push(
            Message::new("agent.vulndb.ecosystems")
                .arg("ecosystems", ecosystems.join(", "))
                .render(lang),
        );
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The counts as JSON, with the index's path, and a final newline.
pub fn render_json(stats: &ImportStats, index: &Path) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(stats)?;
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "index".to_owned(),
            serde_json::Value::String(index.display().to_string()),
        );
    }
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osv() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../checks/testdata/host/osv/debian")
    }

    #[tokio::test]
    async fn import_makes_the_folder_and_counts_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("new/folder/vulndb.sqlite");
        let stats = import(&osv(), &index).await.unwrap();
        assert!(index.is_file());
        assert!(stats.advisories > 0, "{stats:?}");
        let en = render_text(&stats, &index, Lang::En);
        assert!(en.contains("Debian:12"), "{en}");
        assert!(
            en.contains(&format!("Imported {} advisories", stats.advisories)),
            "{en}"
        );
        let fr = render_text(&stats, &index, Lang::Fr);
        assert!(fr.contains("avis importés"), "{fr}");
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&stats, &index).unwrap()).unwrap();
        assert_eq!(json["advisories"], stats.advisories);
        assert_eq!(json["index"], index.display().to_string());
    }

    #[tokio::test]
    async fn a_missing_source_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = import(&dir.path().join("none.zip"), &dir.path().join("i.sqlite"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("none.zip"), "{error}");
        assert!(!dir.path().join("i.sqlite").exists());
    }
}
