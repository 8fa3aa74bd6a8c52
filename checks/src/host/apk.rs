//! Alpine: the apk installed database and the cached `APKINDEX.*.tar.gz` indexes.
//!
//! The installed database is a text file of paragraphs of `K:value` lines (`P` name,
//! `V` version, `A` architecture, `o` origin, i.e. the source package advisories name).
//! Alpine has no separate security repository: updates cannot be told apart by source.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::dpkg::StanzaReader;
use super::observation::{Inventory, Package};
use super::os::PackageManager;
use super::rootfs::Root;
use super::updates::Candidates;
use super::HostError;

pub const INSTALLED_DB: &str = "lib/apk/db/installed";
pub const CACHE_DIR: &str = "var/cache/apk";

/// Parses apk paragraphs (installed database or APKINDEX) into packages. A paragraph
/// without a name or version means a damaged file: an error naming it.
pub fn parse_apk_db<R: std::io::BufRead>(
    reader: R,
    path: &Path,
) -> Result<Vec<Package>, HostError> {
    let mut stanzas = StanzaReader::new(reader, path, &["P", "V", "A", "o"]);
    let mut out = Vec::new();
    while let Some(st) = stanzas.next_stanza()? {
        let (Some(name), Some(version)) = (st.get("P"), st.get("V")) else {
            return Err(HostError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("package at line {} has no P: or V: line", st.line),
            });
        };
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: st.get("A").map(str::to_owned),
            source: st.get("o").filter(|o| *o != name).map(str::to_owned),
            source_version: None,
            held: false,
        });
    }
    Ok(out)
}

pub fn read_inventory(root: &Root) -> Result<Option<Inventory>, HostError> {
    let path = root.resolve(INSTALLED_DB);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(HostError::Read { path, error }),
    };
    let packages = parse_apk_db(std::io::BufReader::new(file), &path)?;
    Ok(Some(Inventory {
        manager: PackageManager::Apk,
        database: root.display(&path),
        packages,
    }))
}

/// The `APKINDEX` member of an `APKINDEX.*.tar.gz` (a signature tar and the index tar,
/// gzip streams one after the other, apk leaving out the end-of-archive blocks).
pub fn apkindex_text(path: &Path) -> Result<String, HostError> {
    let corrupt = |reason: String| HostError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|error| HostError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
    let mut at = 0usize;
    while at + 512 <= bytes.len() {
        let header = &bytes[at..at + 512];
        at += 512;
        if header.iter().all(|&b| b == 0) {
            continue;
        }
        let name_end = header[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&header[..name_end]).into_owned();
        let size_field = String::from_utf8_lossy(&header[124..136]);
        let size =
            usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .map_err(|_| corrupt(format!("bad tar size field for member {name}")))?;
        let end = at
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| corrupt(format!("tar member {name} is cut short")))?;
        if name == "APKINDEX" {
            return Ok(String::from_utf8_lossy(&bytes[at..end]).into_owned());
        }
        at = end.div_ceil(512) * 512;
    }
    Err(corrupt("no APKINDEX member".into()))
}

/// Offers the versions of every cached APKINDEX. Returns the files read.
pub fn read_indexes(root: &Root, candidates: &mut Candidates) -> Result<Vec<PathBuf>, HostError> {
    let mut read = Vec::new();
    for path in root.list_dir(CACHE_DIR)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.starts_with("APKINDEX.") && name.ends_with(".tar.gz")) {
            continue;
        }
        let text = apkindex_text(&path)?;
        let origin = root.display(&path);
        for p in parse_apk_db(text.as_bytes(), &path)? {
            candidates.offer(&p.name, p.arch.as_deref(), &p.version, false, &origin);
        }
        read.push(path);
    }
    Ok(read)
}
