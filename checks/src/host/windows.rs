//! Windows Server: the boundary of the planned probe (`docs/host-windows-plan.md`).
//!
//! Today a Windows root (an agent on Windows, or a mounted Windows volume) is recognised
//! and reported as such, and every part the probe cannot read yet is an `error` finding
//! that says so, rather than a Linux-shaped guess. The plan fills [`super::probe`]'s parts
//! from the registry hives and the servicing store, behind the same `HostObservation`.

use super::os::{OsFamily, OsRelease};
use super::rootfs::Root;

/// The reason every not-yet-read part gives.
pub const NOT_YET: &str =
    "Windows hosts are recognised but not yet inspected (see docs/host-windows-plan.md)";

/// A Windows system volume: the SOFTWARE registry hive is where the plan reads from.
pub fn looks_like_windows(root: &Root) -> bool {
    cfg!(windows)
        || [
            "Windows/System32/config/SOFTWARE",
            "WINDOWS/system32/config/SOFTWARE",
            "windows/system32/config/software",
        ]
        .iter()
        .any(|p| root.resolve(p).is_file())
}

pub fn placeholder_release() -> OsRelease {
    OsRelease {
        file: "/Windows/System32/config/SOFTWARE".into(),
        id: "windows".into(),
        id_like: Vec::new(),
        name: Some("Windows".into()),
        pretty_name: None,
        version_id: None,
        version_codename: None,
        family: OsFamily::Windows,
    }
}
