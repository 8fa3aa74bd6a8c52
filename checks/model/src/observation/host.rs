//! The facts `probe` gathers about a host, graded by `evaluate`.
//!
//! Serialized as-is into the report's `observations.host` (so the collector can re-grade
//! history): field names are part of the wire format. This list of fields may expand over
//! time; fields are never removed or repurposed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Severity;

/// Everything known about the host's patch posture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostObservation {
    /// The root that was inspected (`/` for the running system).
    pub root: String,
    pub probed_at: DateTime<Utc>,
    #[serde(default)]
    pub os: Option<OsRelease>,
    #[serde(default)]
    pub system: SystemInfo,
    #[serde(default)]
    pub inventory: Option<Inventory>,
    #[serde(default)]
    pub updates: Option<Updates>,
    #[serde(default)]
    pub automatic: Option<AutomaticUpdates>,
    #[serde(default)]
    pub reboot: Option<Reboot>,
    /// Set by [`super::vulndb::scan`] when a vulnerability index is available.
    #[serde(default)]
    pub vulnerabilities: Option<VulnScan>,
    /// What could not be read, by part (`os`, `inventory`, `updates`, `automatic`,
    /// `reboot`, `vulnerabilities`): the error message names the file.
    #[serde(default)]
    pub errors: BTreeMap<String, String>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Package {
    pub name: String,
    /// The version as the package manager writes it: dpkg `[epoch:]upstream[-revision]`,
    /// rpm `[epoch:]version-release`, apk `version-rN`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The source package it was built from (dpkg `Source:`, rpm `SOURCERPM`, apk origin),
    /// the name advisories use; absent when equal to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source package's version, when it differs from `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// On hold: the package manager will not upgrade it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

impl Package {
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }

    pub fn source_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }
}

/// The installed packages, read from the package database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Inventory {
    pub manager: PackageManager,
    /// The database read, e.g. `/var/lib/dpkg/status`, or the command run.
    pub database: String,
    pub packages: Vec<Package>,
}

/// An installed package for which the host's package indexes offer a newer version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PendingUpdate {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    pub installed: String,
    /// The newest version offered by any index.
    pub available: String,
    /// A security source (security suite, security advisory) offers a newer version.
    pub security: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

/// Pending updates, computed without network from the indexes the host already has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Updates {
    /// Index files read (apt lists, rpm-md repodata, APKINDEX).
    pub indexes: Vec<String>,
    /// How many of them are security sources.
    pub security_indexes: usize,
    /// Index files present but not read (unsupported compression), named.
    #[serde(default)]
    pub unreadable: Vec<String>,
    /// Whether this distribution's indexes tell security updates apart (Alpine's do not).
    pub security_known: bool,
    /// Age of the newest index in seconds at probe time: stale indexes under-report.
    #[serde(default)]
    pub newest_index_age_seconds: Option<u64>,
    pub pending: Vec<PendingUpdate>,
}

/// How automatic updates are configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AutomaticUpdates {
    /// The mechanism found, e.g. `unattended-upgrades`, `dnf-automatic`.
    #[serde(default)]
    pub mechanism: Option<String>,
    /// It is installed and enabled, and it installs (not only downloads) updates.
    pub enabled: bool,
    /// The settings and files that led to the answer, e.g.
    /// `APT::Periodic::Unattended-Upgrade "1" (/etc/apt/apt.conf.d/20auto-upgrades)`.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Whether the host needs a reboot to run what is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reboot {
    /// The flag file found (`/run/reboot-required`).
    #[serde(default)]
    pub flag_file: Option<String>,
    /// Packages that asked for it (`reboot-required.pkgs`).
    #[serde(default)]
    pub flag_packages: Vec<String>,
    #[serde(default)]
    pub running_kernel: Option<String>,
    /// Kernel release of the newest installed kernel package.
    #[serde(default)]
    pub newest_installed_kernel: Option<String>,
    /// Whether the running kernel is one of the installed kernel packages (when not, e.g.
    /// in a container, the kernel comparison says nothing).
    #[serde(default)]
    pub running_kernel_installed: bool,
}

/// The families whose patch posture Vigie reads; each has one package database format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OsFamily {
    Debian,
    Ubuntu,
    /// RHEL and its rebuilds: Rocky, AlmaLinux, CentOS, Oracle Linux.
    Rhel,
    Fedora,
    Alpine,
    /// SUSE Linux Enterprise and openSUSE.
    Suse,
    /// Windows Server: identified, not yet inspected (see `docs/host-windows-plan.md`).
    Windows,
    Other,
}

impl OsFamily {
    /// The package manager whose database holds the inventory.
    pub fn package_manager(self) -> Option<PackageManager> {
        match self {
            OsFamily::Debian | OsFamily::Ubuntu => Some(PackageManager::Dpkg),
            OsFamily::Rhel | OsFamily::Fedora | OsFamily::Suse => Some(PackageManager::Rpm),
            OsFamily::Alpine => Some(PackageManager::Apk),
            OsFamily::Windows | OsFamily::Other => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Dpkg,
    Rpm,
    Apk,
}

/// The fields of os-release that Vigie uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OsRelease {
    /// Where it was read, e.g. `/etc/os-release`.
    pub file: String,
    pub id: String,
    #[serde(default)]
    pub id_like: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub pretty_name: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub version_codename: Option<String>,
    pub family: OsFamily,
}

/// The kernel, architecture, uptime and host name, as far as the root shows them. Under
/// `--root` of an image there is no running kernel: those fields stay empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemInfo {
    #[serde(default)]
    pub hostname: Option<String>,
    /// `uname -r` of the running kernel (`/proc/sys/kernel/osrelease`).
    #[serde(default)]
    pub kernel_release: Option<String>,
    /// Machine architecture (`/proc/sys/kernel/arch`, else the package database's).
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
}

/// One advisory affecting one installed (source) package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VulnMatch {
    /// The package name the advisory names (source package on Debian, Ubuntu and Alpine).
    pub package: String,
    /// Installed binary packages built from it.
    pub binaries: Vec<String>,
    pub installed: String,
    pub advisory: String,
    /// CVE and other ids of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub fixed: Option<String>,
    /// As stated by the advisory; `None` when it states none.
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// The result of matching a host's packages against an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VulnScan {
    /// The index file used.
    pub index: String,
    #[serde(default)]
    pub index_imported_at: Option<String>,
    pub advisories_in_index: u64,
    /// The index's ecosystems that apply to this host (empty: the index has no data for
    /// this release).
    pub ecosystems: Vec<String>,
    pub packages_checked: usize,
    pub matches: Vec<VulnMatch>,
}
