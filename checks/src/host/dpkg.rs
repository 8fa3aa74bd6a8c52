//! Debian and Ubuntu: the dpkg status database, the apt lists, the apt configuration.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::observation::{Inventory, Package};
use super::os::PackageManager;
use super::rootfs::{open_maybe_compressed, Root};
use super::updates::Candidates;
use super::HostError;

pub const STATUS_FILE: &str = "var/lib/dpkg/status";
pub const LISTS_DIR: &str = "var/lib/apt/lists";

/// One deb822 paragraph: field name → value (continuation lines joined with `\n`), and the
/// line it starts on, for error messages.
#[derive(Debug, Default)]
pub struct Stanza {
    pub line: usize,
    pub fields: BTreeMap<String, String>,
}

impl Stanza {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// Reads deb822 paragraphs one at a time, keeping only the fields in `keep` (an apt list
/// holds tens of thousands of paragraphs with long descriptions nobody needs here).
pub struct StanzaReader<R> {
    reader: R,
    path: PathBuf,
    line_no: usize,
    keep: &'static [&'static str],
    buf: Vec<u8>,
}

impl<R: BufRead> StanzaReader<R> {
    pub fn new(reader: R, path: &Path, keep: &'static [&'static str]) -> Self {
        StanzaReader {
            reader,
            path: path.to_path_buf(),
            line_no: 0,
            keep,
            buf: Vec::new(),
        }
    }

    fn corrupt(&self, reason: String) -> HostError {
        HostError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// The next paragraph, `None` at the end of the file.
    pub fn next_stanza(&mut self) -> Result<Option<Stanza>, HostError> {
        let mut stanza = Stanza::default();
        let mut current: Option<String> = None;
        loop {
            self.buf.clear();
            let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
                self.corrupt(format!("read error after line {}: {e}", self.line_no))
            })?;
            if n == 0 {
                return Ok((stanza.line != 0).then_some(stanza));
            }
            self.line_no += 1;
            // Package managers always end their databases with a newline: a last line
            // without one is a file cut short (disk full, copy interrupted).
            if self.buf.last() != Some(&b'\n') {
                return Err(self.corrupt(format!(
                    "truncated: line {} ends without a newline",
                    self.line_no
                )));
            }
            if self.buf.contains(&0) {
                return Err(self.corrupt(format!("binary data at line {}", self.line_no)));
            }
            let line = String::from_utf8_lossy(&self.buf);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                if stanza.line == 0 {
                    continue;
                }
                return Ok(Some(stanza));
            }
            if line.starts_with([' ', '\t']) {
                if stanza.line == 0 {
                    return Err(self.corrupt(format!(
                        "continuation line {} outside a field",
                        self.line_no
                    )));
                }
                if let Some(key) = &current {
                    if let Some(value) = stanza.fields.get_mut(key) {
                        value.push('\n');
                        value.push_str(line.trim());
                    }
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if stanza.line == 0 {
                stanza.line = self.line_no;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(self.corrupt(format!(
                    "line {} is not a `Field: value` line",
                    self.line_no
                )));
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(self.corrupt(format!("bad field name at line {}", self.line_no)));
            }
            if self.keep.contains(&key) {
                stanza
                    .fields
                    .insert(key.to_owned(), value.trim().to_owned());
                current = Some(key.to_owned());
            } else {
                current = None;
            }
        }
    }
}

/// Parses the dpkg status database into the installed packages.
pub fn read_status(root: &Root) -> Result<Option<Inventory>, HostError> {
    let path = root.resolve(STATUS_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(HostError::Read { path, error }),
    };
    let packages = parse_status(std::io::BufReader::new(file), &path)?;
    Ok(Some(Inventory {
        manager: PackageManager::Dpkg,
        database: root.display(&path),
        packages,
    }))
}

const STATUS_FIELDS: &[&str] = &["Package", "Status", "Version", "Architecture", "Source"];

/// The installed packages of a dpkg status file. A paragraph without `Package` or
/// `Status`, or an installed package without `Version`, means the file is corrupt or was
/// cut short: that is an error naming the file, never a silently shorter inventory.
pub fn parse_status<R: BufRead>(reader: R, path: &Path) -> Result<Vec<Package>, HostError> {
    let mut stanzas = StanzaReader::new(reader, path, STATUS_FIELDS);
    let mut out = Vec::new();
    let corrupt = |reason: String| HostError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    while let Some(st) = stanzas.next_stanza()? {
        let Some(name) = st.get("Package") else {
            return Err(corrupt(format!(
                "paragraph at line {} has no Package",
                st.line
            )));
        };
        let Some(status) = st.get("Status") else {
            return Err(corrupt(format!(
                "package {name} (line {}) has no Status",
                st.line
            )));
        };
        let words: Vec<&str> = status.split_whitespace().collect();
        let [want, _flag, state] = words[..] else {
            return Err(corrupt(format!(
                "package {name} (line {}) has a malformed Status `{status}`",
                st.line
            )));
        };
        // Only fully installed packages count; half-installed or config-files are not
        // running code that an update would replace.
        if state != "installed" {
            continue;
        }
        let Some(version) = st.get("Version").filter(|v| !v.is_empty()) else {
            return Err(corrupt(format!(
                "installed package {name} (line {}) has no Version",
                st.line
            )));
        };
        let (source, source_version) = match st.get("Source") {
            Some(src) => match src.split_once('(') {
                Some((n, v)) => (
                    Some(n.trim().to_owned()),
                    Some(v.trim_end_matches(')').trim().to_owned()),
                ),
                None => (Some(src.trim().to_owned()), None),
            },
            None => (None, None),
        };
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: st.get("Architecture").map(str::to_owned),
            source: source.filter(|s| s != name),
            source_version: source_version.filter(|v| v != version),
            held: want == "hold",
        });
    }
    Ok(out)
}

/// Whether an apt list file comes from a security suite. Debian names it
/// `…debian-security_dists_bookworm-security_…` (`…security.debian.org_dists_buster_updates_…`
/// before bullseye), Ubuntu `…_dists_jammy-security_…`.
pub fn is_security_list(file_name: &str) -> bool {
    file_name.contains("-security_")
        || file_name.contains("security.debian.org")
        || file_name.contains("security.ubuntu.com")
}

/// apt's `URItoFileName`: the URI without scheme and credentials, special characters
/// %-escaped, `/` turned into `_`. A list file's name is this of its full URI.
fn uri_to_file_name(uri: &str) -> String {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    let rest = match rest.split_once('/') {
        Some((host, path)) => {
            let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
            format!("{host}/{path}")
        }
        None => rest
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(rest)
            .to_owned(),
    };
    let mut out = String::with_capacity(rest.len());
    for c in rest.chars() {
        if "\\|{}[]<>\"^~_=!@#$%&*".contains(c) || c.is_ascii_control() || c == ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02x}"));
            }
        } else if c == '/' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// The file-name prefixes of the apt lists that belong to a configured source
/// (`sources.list`, `sources.list.d/*.list` and deb822 `*.sources`). apt ignores lists
/// left behind by a source since removed, and so must we. `None` when no source is
/// configured at all (an image without `/etc/apt`): then every list is used.
pub fn configured_list_prefixes(root: &Root) -> Result<Option<Vec<String>>, HostError> {
    let mut files = vec![root.resolve("etc/apt/sources.list")];
    files.extend(
        root.list_dir("etc/apt/sources.list.d")?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources")),
    );
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut any_file = false;
    for path in files {
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(HostError::Read { path, error }),
        };
        any_file = true;
        if path.extension().is_some_and(|e| e == "sources") {
            // A hand-edited .sources without a final newline is still read by apt.
            let text = if text.ends_with('\n') {
                text
            } else {
                format!("{text}\n")
            };
            let mut stanzas = StanzaReader::new(
                text.as_bytes(),
                &path,
                &["Types", "URIs", "Suites", "Enabled"],
            );
            collect_deb822(&mut stanzas, &mut sources)?;
        } else {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                let mut words = line.split_whitespace();
                if words.next() != Some("deb") {
                    continue;
                }
                let mut rest: Vec<&str> = words.collect();
                // Options: `[arch=amd64 signed-by=/x]`, possibly spread over several words.
                if rest.first().is_some_and(|w| w.starts_with('[')) {
                    let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
                    rest.drain(..=end);
                }
                if let [uri, suite, ..] = rest[..] {
                    sources.push((uri.to_owned(), suite.to_owned()));
                }
            }
        }
    }
    if !any_file {
        return Ok(None);
    }
    Ok(Some(
        sources
            .iter()
            .map(|(uri, suite)| {
                let base = format!("{}/", uri.trim_end_matches('/'));
                if suite.ends_with('/') {
                    // Flat repository: lists live at URI/SUITE/Packages.
                    uri_to_file_name(&format!("{base}{suite}"))
                } else {
                    uri_to_file_name(&format!("{base}dists/{suite}/"))
                }
            })
            .collect(),
    ))
}

fn collect_deb822<R: BufRead>(
    stanzas: &mut StanzaReader<R>,
    sources: &mut Vec<(String, String)>,
) -> Result<(), HostError> {
    while let Some(st) = stanzas.next_stanza()? {
        let enabled = st
            .get("Enabled")
            .is_none_or(|e| !e.eq_ignore_ascii_case("no"));
        let debs = st
            .get("Types")
            .is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        if !enabled || !debs {
            continue;
        }
        for uri in st.get("URIs").unwrap_or("").split_whitespace() {
            for suite in st.get("Suites").unwrap_or("").split_whitespace() {
                sources.push((uri.to_owned(), suite.to_owned()));
            }
        }
    }
    Ok(())
}

/// Offers every version of the apt lists of configured sources to `candidates`; returns
/// the files read and those skipped (compression not supported).
pub fn read_apt_lists(
    root: &Root,
    candidates: &mut Candidates,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), HostError> {
    let mut read = Vec::new();
    let mut skipped = Vec::new();
    let prefixes = configured_list_prefixes(root)?;
    for path in root.list_dir(LISTS_DIR)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(prefixes) = &prefixes {
            if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                continue;
            }
        }
        // Binary package indexes only: `…_binary-amd64_Packages[.lz4|.gz]`.
        let base = name
            .trim_end_matches(".lz4")
            .trim_end_matches(".gz")
            .trim_end_matches(".xz")
            .trim_end_matches(".zst");
        if !base.ends_with("_Packages") || !path.is_file() {
            continue;
        }
        let Some(reader) = open_maybe_compressed(&path)? else {
            skipped.push(path);
            continue;
        };
        let security = is_security_list(&name);
        let origin = name.clone();
        let mut stanzas = StanzaReader::new(
            std::io::BufReader::new(reader),
            &path,
            &["Package", "Version", "Architecture"],
        );
        while let Some(st) = stanzas.next_stanza()? {
            let (Some(pkg), Some(version)) = (st.get("Package"), st.get("Version")) else {
                continue;
            };
            candidates.offer(pkg, st.get("Architecture"), version, security, &origin);
        }
        read.push(path);
    }
    Ok((read, skipped))
}

// ---------------------------------------------------------------------------------------
// apt configuration

/// Flat `A::B::C` → value view of apt configuration files, later files overriding earlier
/// ones as apt reads them.
pub fn parse_apt_conf(text: &str, into: &mut BTreeMap<String, String>) {
    let tokens = tokenize_apt_conf(text);
    let mut scope: Vec<String> = Vec::new();
    let mut i = 0;
    // Each step consumes at least one token.
    while i < tokens.len() {
        match tokens[i].as_str() {
            "}" => {
                scope.pop();
                i += 1;
                if tokens.get(i).map(String::as_str) == Some(";") {
                    i += 1;
                }
            }
            ";" => i += 1,
            name => {
                let name = name.to_owned();
                match tokens.get(i + 1).map(String::as_str) {
                    Some("{") => {
                        scope.push(name);
                        i += 2;
                    }
                    Some(value) if value != ";" && value != "}" => {
                        let mut key = scope.join("::");
                        if !key.is_empty() {
                            key.push_str("::");
                        }
                        key.push_str(&name);
                        let value = value.trim_matches('"').to_owned();
                        into.insert(key.to_ascii_lowercase(), value);
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
        }
    }
}

fn tokenize_apt_conf(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i += 1;
            tokens.push(chars[start..i.min(chars.len())].iter().collect());
        } else if c == '{' || c == '}' || c == ';' {
            tokens.push(c.to_string());
            i += 1;
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '{' | '}' | ';' | '"')
            {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        }
    }
    tokens
}

/// Whether apt reads a file of `apt.conf.d` (its rules: only `[A-Za-z0-9_.-]` names, and
/// backup or package-manager leftovers are ignored).
fn apt_reads(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && ![".disabled", ".bak", ".save", ".orig", ".distUpgrade"]
            .iter()
            .any(|s| name.ends_with(s))
        && !name.contains(".dpkg-")
        && !name.contains(".ucf-")
}

/// The apt configuration (`/etc/apt/apt.conf`, then `apt.conf.d/*` in name order… apt
/// actually reads the directory first, then `apt.conf`), with the file each key came from.
pub fn read_apt_config(root: &Root) -> Result<BTreeMap<String, (String, String)>, HostError> {
    let mut files: Vec<PathBuf> = root
        .list_dir("etc/apt/apt.conf.d")?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| apt_reads(&n.to_string_lossy()))
        })
        .collect();
    files.push(root.resolve("etc/apt/apt.conf"));
    let mut out = BTreeMap::new();
    for path in files {
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(HostError::Read { path, error }),
        };
        let mut keys = BTreeMap::new();
        parse_apt_conf(&text, &mut keys);
        let shown = root.display(&path);
        for (k, v) in keys {
            out.insert(k, (v, shown.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_conf_flat_and_nested() {
        let mut keys = BTreeMap::new();
        parse_apt_conf(
            "// comment\nAPT::Periodic::Update-Package-Lists \"1\";\n/* block\n comment */\nAPT { Periodic { Unattended-Upgrade \"1\"; }; };\n# hash\nUnattended-Upgrade::Origins-Pattern { \"origin=Debian\"; };\n",
            &mut keys,
        );
        assert_eq!(keys["apt::periodic::update-package-lists"], "1");
        assert_eq!(keys["apt::periodic::unattended-upgrade"], "1");
        assert!(apt_reads("20auto-upgrades"));
        assert!(!apt_reads("20auto-upgrades.dpkg-old"));
        assert!(!apt_reads("20auto upgrades"));
    }

    #[test]
    fn list_file_names_as_apt_makes_them() {
        assert_eq!(
            uri_to_file_name("http://deb.debian.org/debian/dists/bookworm/"),
            "deb.debian.org_debian_dists_bookworm_"
        );
        assert_eq!(
            uri_to_file_name("https://user:pw@deb.nodesource.com/node_20.x/dists/nodistro/"),
            "deb.nodesource.com_node%5f20.x_dists_nodistro_"
        );
    }

    #[test]
    fn status_source_fields() {
        let text = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: held\nStatus: hold ok installed\nVersion: 2\n";
        let pkgs = parse_status(text.as_bytes(), Path::new("status")).unwrap();
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].source_name(), "openssl");
        assert_eq!(pkgs[0].source_version(), "3.0.11-1~deb12u2");
        assert!(pkgs[1].held);
    }
}
