//! Whether the host needs a reboot: the flag file Debian and Ubuntu packages leave
//! (`/run/reboot-required`), or a running kernel older than the newest installed one.

use std::cmp::Ordering;

use super::observation::{Inventory, Package, Reboot};
use super::os::PackageManager;
use super::rootfs::Root;
use super::HostError;
use vigie_grade::host::version::VersionSchemeOf;

/// The `uname -r` a kernel package boots, `None` for packages that are not kernels.
pub fn kernel_release(manager: PackageManager, p: &Package) -> Option<String> {
    match manager {
        PackageManager::Dpkg => {
            // linux-image-6.1.0-18-amd64, linux-image-unsigned-5.15.0-91-generic; not the
            // metapackages (linux-image-amd64, linux-image-generic).
            let rest = p.name.strip_prefix("linux-image-")?;
            let rest = rest.strip_prefix("unsigned-").unwrap_or(rest);
            rest.starts_with(|c: char| c.is_ascii_digit())
                .then(|| rest.to_owned())
        }
        PackageManager::Rpm => {
            let (_, vr) = p.version.split_once(':').unwrap_or(("", &p.version));
            let arch = p.arch.as_deref().unwrap_or("");
            match p.name.as_str() {
                // RHEL 8+, Fedora: 5.14.0-362.8.1.el9_3.x86_64
                "kernel-core" | "kernel" | "kernel-uek-core" | "kernel-uek" => {
                    Some(format!("{vr}.{arch}"))
                }
                // SUSE: kernel-default 5.14.21-150500.55.39.1 boots 5.14.21-150500.55.39-default
                name => {
                    let flavor = name.strip_prefix("kernel-")?;
                    if !matches!(flavor, "default" | "azure" | "rt" | "64kb") {
                        return None;
                    }
                    let (v, r) = vr.rsplit_once('-')?;
                    let r = r.rsplit_once('.').map(|(head, _)| head).unwrap_or(r);
                    Some(format!("{v}-{r}-{flavor}"))
                }
            }
        }
        PackageManager::Apk => {
            // linux-lts 6.6.14-r0 boots 6.6.14-0-lts
            let flavor = p.name.strip_prefix("linux-")?;
            if !matches!(flavor, "lts" | "virt" | "edge" | "rpi" | "stable") {
                return None;
            }
            let (v, r) = p.version.rsplit_once("-r")?;
            Some(format!("{v}-{r}-{flavor}"))
        }
    }
}

pub fn read(
    root: &Root,
    inventory: Option<&Inventory>,
    running_kernel: Option<&str>,
) -> Result<Reboot, HostError> {
    let mut out = Reboot {
        running_kernel: running_kernel.map(str::to_owned),
        ..Default::default()
    };
    for rel in ["run/reboot-required", "var/run/reboot-required"] {
        if root.exists(rel) {
            out.flag_file = Some(format!("/{rel}"));
            let pkgs = root
                .read_optional(&format!("{rel}.pkgs"))?
                .unwrap_or_default();
            out.flag_packages = pkgs
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            out.flag_packages.sort();
            out.flag_packages.dedup();
            break;
        }
    }
    if let Some(inv) = inventory {
        let scheme = inv.manager.version_scheme();
        let kernels: Vec<(&Package, String)> = inv
            .packages
            .iter()
            .filter_map(|p| kernel_release(inv.manager, p).map(|r| (p, r)))
            .collect();
        out.newest_installed_kernel = kernels
            .iter()
            .max_by(|a, b| {
                scheme
                    .compare(&a.0.version, &b.0.version)
                    // Same package version (two flavours): any order, but a stable one.
                    .then_with(|| a.1.cmp(&b.1))
            })
            .map(|(_, r)| r.clone());
        if let Some(running) = running_kernel {
            out.running_kernel_installed = kernels.iter().any(|(_, r)| r == running);
        }
    }
    Ok(out)
}

/// Compare helper kept for tests of the kernel naming.
pub fn cmp_versions(manager: PackageManager, a: &str, b: &str) -> Ordering {
    manager.version_scheme().compare(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some(arch.into()),
            source: None,
            source_version: None,
            held: false,
        }
    }

    #[test]
    fn kernel_names_per_family() {
        assert_eq!(
            kernel_release(
                PackageManager::Dpkg,
                &p("linux-image-6.1.0-18-amd64", "6.1.76-1", "amd64")
            ),
            Some("6.1.0-18-amd64".into())
        );
        assert_eq!(
            kernel_release(
                PackageManager::Dpkg,
                &p("linux-image-amd64", "6.1.76-1", "amd64")
            ),
            None
        );
        assert_eq!(
            kernel_release(
                PackageManager::Rpm,
                &p("kernel-core", "5.14.0-362.8.1.el9_3", "x86_64")
            ),
            Some("5.14.0-362.8.1.el9_3.x86_64".into())
        );
        assert_eq!(
            kernel_release(
                PackageManager::Rpm,
                &p("kernel-default", "5.14.21-150500.55.39.1", "x86_64")
            ),
            Some("5.14.21-150500.55.39-default".into())
        );
        assert_eq!(
            kernel_release(
                PackageManager::Rpm,
                &p("kernel-headers", "5.14.0-1", "x86_64")
            ),
            None
        );
        assert_eq!(
            kernel_release(PackageManager::Apk, &p("linux-lts", "6.6.14-r0", "x86_64")),
            Some("6.6.14-0-lts".into())
        );
        assert_eq!(
            cmp_versions(PackageManager::Dpkg, "6.1.76-1", "6.1.90-1"),
            Ordering::Less
        );
    }
}
