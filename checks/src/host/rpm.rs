//! The RHEL family, Fedora and SUSE: the rpm database and the rpm-md metadata caches of
//! dnf and zypper.
//!
//! Current distributions keep the rpm database in SQLite (`rpmdb.sqlite`, table `Packages`,
//! one row per package whose `blob` is the package's *header* as rpm stores it: the header
//! without its 8-byte magic). The header format, from rpm's `lib/header.c`:
//!
//! ```text
//! il: u32 BE   number of index entries
//! dl: u32 BE   size of the data store
//! il × { tag: u32 BE, type: u32 BE, offset: u32 BE (into the data store), count: u32 BE }
//! dl bytes of data: strings NUL-terminated, INT32 big-endian and 4-aligned
//! ```
//!
//! Older databases (Berkeley DB `Packages`, SUSE's `Packages.db` "ndb") are read through
//! `rpm -qa` when the `rpm` command is present.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::observation::{Inventory, Package};
use super::os::PackageManager;
use super::rootfs::{read_to_string_maybe_compressed, Root};
use super::updates::Candidates;
use super::HostError;
use vigie_grade::host::version::format_evr;

/// Where current distributions keep the SQLite rpm database, newest layout first.
pub const SQLITE_DBS: [&str; 2] = [
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite",
];
/// Formats read only through the `rpm` command.
const OTHER_DBS: [&str; 4] = [
    "usr/lib/sysimage/rpm/Packages.db",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "var/lib/rpm/Packages",
];

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's own sanity limits (`hdrchkTags`, `hdrchkData`).
const MAX_TAGS: u32 = 0xffff;
const MAX_DATA: u32 = 256 * 1024 * 1024;

/// The fields of one package header that Vigie needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    pub name: String,
    pub epoch: Option<u64>,
    pub version: String,
    pub release: String,
    pub arch: Option<String>,
    pub source_rpm: Option<String>,
}

/// Parses a header blob; the error says what is wrong with it.
pub fn parse_header(blob: &[u8]) -> Result<HeaderInfo, String> {
    let be32 = |at: usize| -> Option<u32> {
        blob.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(il), Some(dl)) = (be32(0), be32(4)) else {
        return Err(format!(
            "header of {} bytes is shorter than its preamble",
            blob.len()
        ));
    };
    if il == 0 || il > MAX_TAGS {
        return Err(format!("implausible index count {il}"));
    }
    if dl > MAX_DATA {
        return Err(format!("implausible data size {dl}"));
    }
    let data_start = 8 + il as usize * 16;
    let data_end = data_start + dl as usize;
    if blob.len() < data_end {
        return Err(format!(
            "truncated: {} bytes, the header declares {data_end}",
            blob.len()
        ));
    }
    let data = &blob[data_start..data_end];
    let string_at = |offset: u32| -> Result<String, String> {
        let rest = data
            .get(offset as usize..)
            .ok_or_else(|| format!("string offset {offset} outside the data ({dl} bytes)"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("unterminated string at offset {offset}"))?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let mut info = HeaderInfo {
        name: String::new(),
        epoch: None,
        version: String::new(),
        release: String::new(),
        arch: None,
        source_rpm: None,
    };
    for i in 0..il as usize {
        let at = 8 + i * 16;
        let (Some(tag), Some(ty), Some(offset), Some(count)) =
            (be32(at), be32(at + 4), be32(at + 8), be32(at + 12))
        else {
            return Err(format!("index entry {i} is cut short"));
        };
        let wanted = matches!(
            tag,
            TAG_NAME | TAG_VERSION | TAG_RELEASE | TAG_EPOCH | TAG_ARCH | TAG_SOURCERPM
        );
        if !wanted {
            continue;
        }
        if count == 0 {
            return Err(format!("tag {tag} has no value"));
        }
        if tag == TAG_EPOCH {
            if ty != TYPE_INT32 {
                return Err(format!("EPOCH has type {ty}, expected INT32"));
            }
            let value = data
                .get(offset as usize..offset as usize + 4)
                .ok_or_else(|| format!("EPOCH offset {offset} outside the data"))?;
            info.epoch = Some(u64::from(u32::from_be_bytes([
                value[0], value[1], value[2], value[3],
            ])));
            continue;
        }
        if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(format!("tag {tag} has type {ty}, expected a string"));
        }
        let value = string_at(offset)?;
        match tag {
            TAG_NAME => info.name = value,
            TAG_VERSION => info.version = value,
            TAG_RELEASE => info.release = value,
            TAG_ARCH => info.arch = Some(value),
            TAG_SOURCERPM => info.source_rpm = Some(value),
            _ => {}
        }
    }
    if info.name.is_empty() || info.version.is_empty() {
        return Err("no NAME or VERSION tag".into());
    }
    Ok(info)
}

/// `openssl-3.0.7-25.el9_3.src.rpm` → (`openssl`, `3.0.7`, `25.el9_3`).
pub fn split_source_rpm(srpm: &str) -> Option<(&str, &str, &str)> {
    let base = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name, version, release))
}

fn package_of(h: HeaderInfo) -> Package {
    let version = format_evr(h.epoch, &h.version, &h.release);
    let (source, source_version) = match h.source_rpm.as_deref().and_then(split_source_rpm) {
        Some((name, v, r)) => {
            let sv = format_evr(h.epoch, v, r);
            (
                (name != h.name).then(|| name.to_owned()),
                (sv != version).then_some(sv),
            )
        }
        None => (None, None),
    };
    Package {
        name: h.name,
        version,
        arch: h.arch,
        source,
        source_version,
        held: false,
    }
}

/// Reads every package of an `rpmdb.sqlite`. The database is opened read-only; without a
/// write-ahead log it is opened `immutable`, so that not even a lock file is created.
pub fn read_sqlite_db(path: &Path) -> Result<Vec<Package>, HostError> {
    use rusqlite::OpenFlags;
    let corrupt = |reason: String| HostError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mode = if Path::new(&wal).exists() {
        "mode=ro"
    } else {
        "immutable=1"
    };
    let uri = format!("file:{}?{mode}", path.display());
    let conn = rusqlite::Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| corrupt(format!("cannot open as SQLite: {e}")))?;
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| corrupt(format!("not an rpm database: {e}")))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .map_err(|e| corrupt(format!("cannot read the Packages table: {e}")))?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, blob) = row.map_err(|e| corrupt(format!("cannot read a row: {e}")))?;
        let header = parse_header(&blob)
            .map_err(|reason| corrupt(format!("package header #{hnum}: {reason}")))?;
        // Imported signing keys are stored as pseudo-packages.
        if header.name == "gpg-pubkey" {
            continue;
        }
        out.push(package_of(header));
    }
    Ok(out)
}

/// `rpm -qa` for database formats this crate does not parse; `None` when `rpm` is absent.
///
/// rpm opens a database read-write and creates one where it finds none, so it never sees
/// the inspected system's files: it runs on a copy of the database file in a private
/// temporary directory, with the backend named explicitly (`ndb` for `Packages.db`,
/// read-only Berkeley DB for `Packages`).
fn rpm_query_all(db_file: &Path) -> Result<Option<Vec<Package>>, HostError> {
    let backend = if db_file.file_name().is_some_and(|n| n == "Packages.db") {
        "ndb"
    } else {
        "bdb_ro"
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let scratch = std::env::temp_dir().join(format!("vigie-rpmdb-{}-{nanos}", std::process::id()));
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| HostError::Read { path, error }
    };
    std::fs::create_dir(&scratch).map_err(io_err(&scratch))?;
    let result = (|| {
        let name = db_file.file_name().unwrap_or_default();
        std::fs::copy(db_file, scratch.join(name)).map_err(io_err(db_file))?;
        let output = match Command::new("rpm")
            .arg("--dbpath")
            .arg(&scratch)
            .args(["--define", &format!("_db_backend {backend}")])
            .args([
                "-qa",
                "--qf",
                "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n",
            ])
            .output()
        {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(HostError::Read {
                    path: db_file.to_path_buf(),
                    error,
                })
            }
        };
        let corrupt = |reason: String| HostError::Corrupt {
            path: db_file.to_path_buf(),
            reason,
        };
        if !output.status.success() {
            return Err(corrupt(format!(
                "rpm -qa failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let mut out = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let [name, epoch, version, release, arch, srpm] = f[..] else {
                continue;
            };
            if name == "gpg-pubkey" {
                continue;
            }
            let none = |v: &str| (v != "(none)").then(|| v.to_owned());
            out.push(package_of(HeaderInfo {
                name: name.into(),
                epoch: epoch.parse().ok(),
                version: version.into(),
                release: release.into(),
                arch: none(arch),
                source_rpm: none(srpm),
            }));
        }
        // A database file that yields nothing is unreadable, not an empty system.
        if out.is_empty() {
            return Err(corrupt(format!(
                "rpm -qa ({backend}) read no package: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(Some(out))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The rpm inventory: the SQLite database if present, else `rpm -qa` over another format.
pub fn read_inventory(root: &Root) -> Result<Option<Inventory>, HostError> {
    for rel in SQLITE_DBS {
        let path = root.resolve(rel);
        if path.is_file() {
            return Ok(Some(Inventory {
                manager: PackageManager::Rpm,
                database: root.display(&path),
                packages: read_sqlite_db(&path)?,
            }));
        }
    }
    for rel in OTHER_DBS {
        let path = root.resolve(rel);
        if !path.is_file() {
            continue;
        }
        return match rpm_query_all(&path)? {
            Some(packages) => Ok(Some(Inventory {
                manager: PackageManager::Rpm,
                database: format!("{} (rpm -qa)", root.display(&path)),
                packages,
            })),
            None => Err(HostError::Unsupported {
                path,
                reason: "this rpm database format is read through the `rpm` command, which is not installed".into(),
            }),
        };
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// rpm-md metadata (dnf, zypper caches)

/// Cache folders holding one sub-folder per repository with a `repodata/` inside.
const CACHE_DIRS: [&str; 3] = ["var/cache/dnf", "var/cache/libdnf5", "var/cache/zypp/raw"];

/// The `primary` and `updateinfo` files of every cached repository.
fn repodata_files(root: &Root) -> Result<(Vec<PathBuf>, Vec<PathBuf>), HostError> {
    let mut primary = Vec::new();
    let mut updateinfo = Vec::new();
    for cache in CACHE_DIRS {
        for repo in root.list_dir(cache)? {
            for file in root.list_dir(&format!(
                "{}/repodata",
                repo.strip_prefix(root.dir()).unwrap_or(&repo).display()
            ))? {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name.contains("primary.xml") {
                    primary.push(file);
                } else if name.contains("updateinfo.xml") {
                    updateinfo.push(file);
                }
            }
        }
    }
    Ok((primary, updateinfo))
}

/// The text of each `<tag …>…</tag>` (or self-closed `<tag …/>`) element, opening tag
/// included, in document order. Enough XML for createrepo's regular output.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<package` must not match `<packages`.
        if !after.starts_with([' ', '>', '/', '\n', '\t', '\r']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let end = if after[..gt].ends_with('/') {
            start + open.len() + gt + 1
        } else {
            match after.find(&close) {
                Some(c) => start + open.len() + c + close.len(),
                None => break,
            }
        };
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

/// The value of `name="…"` in the opening tag of an element.
fn attr(element: &str, name: &str) -> Option<String> {
    let head = &element[..element.find('>').unwrap_or(element.len())];
    let needle = format!(" {name}=\"");
    let start = head.find(&needle)? + needle.len();
    let len = head[start..].find('"')?;
    Some(unescape(&head[start..start + len]))
}

fn text_of(element: &str, child: &str) -> Option<String> {
    let el = elements(element, child).into_iter().next()?;
    let start = el.find('>')? + 1;
    let end = el.rfind("</")?;
    (start <= end).then(|| unescape(el[start..end].trim()))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn evr_of(epoch: Option<String>, ver: Option<String>, rel: Option<String>) -> Option<String> {
    let epoch = epoch.and_then(|e| e.parse().ok());
    Some(format_evr(epoch, &ver?, &rel?))
}

/// Offers the versions of every cached rpm-md repository; security comes from updateinfo
/// advisories of `type="security"`.
pub fn read_repodata(
    root: &Root,
    candidates: &mut Candidates,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>, usize), HostError> {
    let (primary, updateinfo) = repodata_files(root)?;
    let mut read = Vec::new();
    let mut skipped = Vec::new();
    for path in primary {
        let Some(xml) = read_to_string_maybe_compressed(&path)? else {
            skipped.push(path);
            continue;
        };
        if !xml.contains("<metadata") {
            return Err(HostError::Corrupt {
                path,
                reason: "not rpm-md primary metadata (no <metadata>)".into(),
            });
        }
        let origin = root.display(&path);
        for pkg in elements(&xml, "package") {
            let Some(name) = text_of(pkg, "name") else {
                continue;
            };
            let arch = text_of(pkg, "arch");
            if arch.as_deref() == Some("src") {
                continue;
            }
            let Some(version_el) = elements(pkg, "version").into_iter().next() else {
                continue;
            };
            let Some(evr) = evr_of(
                attr(version_el, "epoch"),
                attr(version_el, "ver"),
                attr(version_el, "rel"),
            ) else {
                continue;
            };
            candidates.offer(&name, arch.as_deref(), &evr, false, &origin);
        }
        read.push(path);
    }
    let mut security_sources = 0;
    for path in updateinfo {
        let Some(xml) = read_to_string_maybe_compressed(&path)? else {
            skipped.push(path);
            continue;
        };
        if !xml.contains("<updates") {
            return Err(HostError::Corrupt {
                path,
                reason: "not rpm-md updateinfo (no <updates>)".into(),
            });
        }
        let origin = root.display(&path);
        security_sources += 1;
        for update in elements(&xml, "update") {
            if attr(update, "type").as_deref() != Some("security") {
                continue;
            }
            let mut seen = BTreeSet::new();
            for pkg in elements(update, "package") {
                let Some(name) = attr(pkg, "name") else {
                    continue;
                };
                let Some(evr) = evr_of(
                    attr(pkg, "epoch"),
                    attr(pkg, "version"),
                    attr(pkg, "release"),
                ) else {
                    continue;
                };
                let arch = attr(pkg, "arch");
                if seen.insert((name.clone(), arch.clone(), evr.clone())) {
                    candidates.offer(&name, arch.as_deref(), &evr, true, &origin);
                }
            }
        }
        read.push(path);
    }
    Ok((read, skipped, security_sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-25.el9_3.src.rpm"),
            Some(("openssl", "3.0.7", "25.el9_3"))
        );
        assert_eq!(
            split_source_rpm("python-requests-2.25.1-7.el9.src.rpm"),
            Some(("python-requests", "2.25.1", "7.el9"))
        );
        assert_eq!(split_source_rpm("nonsense"), None);
    }

    #[test]
    fn header_errors_are_descriptive_not_panics() {
        assert!(parse_header(&[]).unwrap_err().contains("shorter"));
        assert!(parse_header(&[0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .contains("index count"));
        // One entry declared, data store of 100 bytes, but nothing follows.
        let mut blob = vec![0, 0, 0, 1, 0, 0, 0, 100];
        blob.extend([0u8; 16]);
        assert!(parse_header(&blob).unwrap_err().contains("truncated"));
        // NAME pointing outside the data.
        let mut blob = vec![0, 0, 0, 1, 0, 0, 0, 4];
        blob.extend(1000u32.to_be_bytes());
        blob.extend(6u32.to_be_bytes());
        blob.extend(9u32.to_be_bytes());
        blob.extend(1u32.to_be_bytes());
        blob.extend(*b"abc\0");
        assert!(parse_header(&blob).unwrap_err().contains("outside"));
    }

    #[test]
    fn xml_elements() {
        let xml = r#"<metadata packages="1"><package type="rpm"><name>a&amp;b</name><arch>x86_64</arch><version epoch="1" ver="2" rel="3.el9"/></package></metadata>"#;
        let pkgs = elements(xml, "package");
        assert_eq!(pkgs.len(), 1);
        assert_eq!(text_of(pkgs[0], "name").as_deref(), Some("a&b"));
        let v = elements(pkgs[0], "version")[0];
        assert_eq!(attr(v, "rel").as_deref(), Some("3.el9"));
    }
}
