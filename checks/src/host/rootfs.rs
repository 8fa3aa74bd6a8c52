//! Reading files of the inspected system, which may be `/` or a mounted image.
//!
//! Under `--root DIR`, an absolute symbolic link inside the image (`/var/run -> /run`,
//! `/etc/os-release -> /usr/lib/os-release`) must resolve inside `DIR`, not on the machine
//! running the agent: [`Root::resolve`] follows links itself, relative to the root.
//! Everything here only reads.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::HostError;

/// How many symbolic links one path may traverse (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// The root of the inspected system.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    pub fn new(dir: &Path) -> Self {
        Root {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this is the running system's own root, where `/proc` and commands describe it.
    pub fn is_live(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// The real path of `rel` (a path inside the inspected system, with or without a leading
    /// `/`), following symbolic links inside the root. A path that does not exist resolves
    /// to where it would be.
    pub fn resolve(&self, rel: &str) -> PathBuf {
        let mut parts: Vec<std::ffi::OsString> = Vec::new();
        let mut pending: Vec<std::ffi::OsString> = Path::new(rel)
            .components()
            .filter_map(|c| match c {
                Component::Normal(p) => Some(p.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .rev()
            .collect();
        let mut links = 0usize;
        while let Some(part) = pending.pop() {
            if part == ".." {
                parts.pop();
                continue;
            }
            let mut candidate = self.dir.clone();
            candidate.extend(&parts);
            candidate.push(&part);
            match fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() && links < MAX_LINKS => {
                    links += 1;
                    let Ok(target) = fs::read_link(&candidate) else {
                        parts.push(part);
                        continue;
                    };
                    if target.is_absolute() {
                        parts.clear();
                    }
                    for c in target.components().rev() {
                        match c {
                            Component::Normal(p) => pending.push(p.to_os_string()),
                            Component::ParentDir => pending.push("..".into()),
                            _ => {}
                        }
                    }
                }
                _ => parts.push(part),
            }
        }
        let mut out = self.dir.clone();
        out.extend(&parts);
        out
    }

    /// The whole file as text, `None` when it does not exist. Invalid UTF-8 is replaced, as
    /// package databases sometimes carry Latin-1 descriptions.
    pub fn read_optional(&self, rel: &str) -> Result<Option<String>, HostError> {
        let path = self.resolve(rel);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(HostError::Read { path, error }),
        }
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.resolve(rel).exists()
    }

    /// Entries of a directory inside the root, sorted by name; empty when it does not exist.
    pub fn list_dir(&self, rel: &str) -> Result<Vec<PathBuf>, HostError> {
        let path = self.resolve(rel);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(HostError::Read { path, error }),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| HostError::Read {
                path: path.clone(),
                error,
            })?;
            out.push(entry.path());
        }
        out.sort();
        Ok(out)
    }

    /// The path as shown in evidence: relative to the root, with a leading `/`.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.dir) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => path.display().to_string(),
        }
    }
}

/// Opens a file and wraps it in the decompressor its name calls for (`.lz4`, `.gz`);
/// `None` for a compression this build does not read.
pub fn open_maybe_compressed(path: &Path) -> Result<Option<Box<dyn Read>>, HostError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = fs::File::open(path).map_err(|error| HostError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let reader = io::BufReader::new(file);
    Ok(if name.ends_with(".lz4") {
        Some(Box::new(lz4_flex::frame::FrameDecoder::new(reader)))
    } else if name.ends_with(".gz") {
        Some(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else if [".xz", ".bz2", ".zst", ".zck", ".lzma"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        None
    } else {
        Some(Box::new(reader))
    })
}

/// Reads a whole (possibly compressed) file into text, naming the file on failure.
pub fn read_to_string_maybe_compressed(path: &Path) -> Result<Option<String>, HostError> {
    let Some(mut reader) = open_maybe_compressed(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| HostError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("cannot decompress: {source}"),
        })?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("run")).unwrap();
        fs::create_dir_all(root.join("var")).unwrap();
        fs::write(
            root.join("run/reboot-required"),
            "*** System restart required ***\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
        // A loop must end, not hang.
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let r = Root::new(root);
        assert_eq!(
            r.resolve("/var/run/reboot-required"),
            root.join("run/reboot-required")
        );
        assert!(r
            .read_optional("var/run/reboot-required")
            .unwrap()
            .is_some());
        assert!(r.read_optional("loop").is_err() || r.read_optional("loop").unwrap().is_none());
        assert_eq!(r.resolve("../../etc/passwd"), root.join("etc/passwd"));
    }
}
