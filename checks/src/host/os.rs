//! Which operating system this is: `/etc/os-release` (or `/usr/lib/os-release`), the
//! running kernel, the architecture, the uptime.

use std::collections::BTreeMap;

use super::rootfs::Root;
use super::HostError;

pub use vigie_model::observation::host::{OsFamily, OsRelease, PackageManager, SystemInfo};

/// Parses the os-release format (shell-like `KEY=value`, values optionally quoted with
/// `"` or `'`, backslash escapes inside double quotes).
pub fn parse_os_release_fields(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            let mut s = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        s.push(next);
                    }
                } else {
                    s.push(c);
                }
            }
            s
        } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            inner.to_owned()
        } else {
            value.to_owned()
        };
        out.insert(key.trim().to_owned(), value);
    }
    out
}

/// The family of an os-release `ID` and `ID_LIKE`.
pub fn family_of(id: &str, id_like: &[String]) -> OsFamily {
    let by_id = |id: &str| match id {
        "debian" | "raspbian" => Some(OsFamily::Debian),
        "ubuntu" => Some(OsFamily::Ubuntu),
        "rhel" | "rocky" | "almalinux" | "centos" | "ol" | "redhat" => Some(OsFamily::Rhel),
        "fedora" => Some(OsFamily::Fedora),
        "alpine" => Some(OsFamily::Alpine),
        "sles"
        | "sled"
        | "sle-micro"
        | "suse"
        | "opensuse"
        | "opensuse-leap"
        | "opensuse-tumbleweed"
        | "opensuse-microos" => Some(OsFamily::Suse),
        "windows" => Some(OsFamily::Windows),
        _ => None,
    };
    if let Some(family) = by_id(id) {
        return family;
    }
    // Derivatives name their parents in ID_LIKE, closest first ("ubuntu debian").
    id_like
        .iter()
        .find_map(|like| by_id(like))
        .unwrap_or(OsFamily::Other)
}

/// Reads os-release under the root; `Ok(None)` when neither file exists.
pub fn read_os_release(root: &Root) -> Result<Option<OsRelease>, HostError> {
    for file in ["etc/os-release", "usr/lib/os-release"] {
        let Some(text) = root.read_optional(file)? else {
            continue;
        };
        let fields = parse_os_release_fields(&text);
        let Some(id) = fields.get("ID").filter(|id| !id.is_empty()) else {
            return Err(HostError::Corrupt {
                path: root.resolve(file),
                reason: "no ID= line".into(),
            });
        };
        let id = id.to_ascii_lowercase();
        let id_like: Vec<String> = fields
            .get("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default();
        let family = family_of(&id, &id_like);
        return Ok(Some(OsRelease {
            file: format!("/{file}"),
            family,
            name: fields.get("NAME").cloned(),
            pretty_name: fields.get("PRETTY_NAME").cloned(),
            version_id: fields.get("VERSION_ID").cloned(),
            version_codename: fields.get("VERSION_CODENAME").cloned(),
            id,
            id_like,
        }));
    }
    Ok(None)
}

pub fn read_system_info(root: &Root) -> Result<SystemInfo, HostError> {
    let first_line = |rel: &str| -> Result<Option<String>, HostError> {
        Ok(root
            .read_optional(rel)?
            .and_then(|t| t.lines().next().map(|l| l.trim().to_owned()))
            .filter(|l| !l.is_empty()))
    };
    // The running system's name is the kernel's; an image only has its /etc/hostname.
    let (first, second) = if root.is_live() {
        ("proc/sys/kernel/hostname", "etc/hostname")
    } else {
        ("etc/hostname", "proc/sys/kernel/hostname")
    };
    let hostname = match first_line(first)? {
        Some(h) => Some(h),
        None => first_line(second)?,
    };
    let uptime_seconds = first_line("proc/uptime")?.and_then(|line| {
        line.split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s as u64)
    });
    Ok(SystemInfo {
        hostname,
        kernel_release: first_line("proc/sys/kernel/osrelease")?,
        architecture: first_line("proc/sys/kernel/arch")?,
        uptime_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_families() {
        let f = parse_os_release_fields(
            "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID='9.3'\n# c\nX=\"a \\\"b\\\"\"\n",
        );
        assert_eq!(f["NAME"], "Rocky Linux");
        assert_eq!(f["VERSION_ID"], "9.3");
        assert_eq!(f["X"], "a \"b\"");
        assert_eq!(family_of("rocky", &[]), OsFamily::Rhel);
        assert_eq!(
            family_of("linuxmint", &["ubuntu".into(), "debian".into()]),
            OsFamily::Ubuntu
        );
        assert_eq!(family_of("opensuse-leap", &[]), OsFamily::Suse);
        assert_eq!(family_of("gentoo", &[]), OsFamily::Other);
    }
}
