//! Whether security updates install themselves: unattended-upgrades (Debian, Ubuntu),
//! dnf-automatic (RHEL family, Fedora), SUSE's timers, a cron job on Alpine.
//!
//! Read from configuration files and systemd's enablement symlinks, never by asking a
//! running service.

use super::dpkg;
use super::observation::{AutomaticUpdates, Inventory};
use super::os::OsFamily;
use super::rootfs::Root;
use super::HostError;

/// Where `systemctl enable` puts a timer's symlink (admin first, then vendor presets).
const TIMER_WANTS: [&str; 2] = [
    "etc/systemd/system/timers.target.wants",
    "usr/lib/systemd/system/timers.target.wants",
];

fn installed(inventory: Option<&Inventory>, name: &str) -> bool {
    inventory.is_some_and(|inv| inv.packages.iter().any(|p| p.name == name))
}

/// The enabled timer among `names`, with where its symlink is.
fn enabled_timer(root: &Root, names: &[&str]) -> Option<String> {
    for dir in TIMER_WANTS {
        for name in names {
            let rel = format!("{dir}/{name}");
            if std::fs::symlink_metadata(root.resolve(dir).join(name)).is_ok() {
                return Some(format!("/{rel}"));
            }
        }
    }
    None
}

pub fn read(
    root: &Root,
    family: OsFamily,
    inventory: Option<&Inventory>,
) -> Result<AutomaticUpdates, HostError> {
    match family {
        OsFamily::Debian | OsFamily::Ubuntu => debian(root, inventory),
        OsFamily::Rhel | OsFamily::Fedora => dnf(root, inventory),
        OsFamily::Suse => suse(root),
        OsFamily::Alpine => alpine(root),
        OsFamily::Windows | OsFamily::Other => Ok(AutomaticUpdates::default()),
    }
}

fn debian(root: &Root, inventory: Option<&Inventory>) -> Result<AutomaticUpdates, HostError> {
    let config = dpkg::read_apt_config(root)?;
    let mut out = AutomaticUpdates {
        mechanism: Some("unattended-upgrades".into()),
        ..Default::default()
    };
    let package = installed(inventory, "unattended-upgrades");
    out.evidence.push(format!(
        "unattended-upgrades package {}",
        if package {
            "installed"
        } else {
            "not installed"
        }
    ));
    // The value is an interval in days; "0" (or absent) disables it.
    let periodic = config.get("apt::periodic::unattended-upgrade");
    let enabled_conf = match periodic {
        Some((value, file)) => {
            out.evidence.push(format!(
                "APT::Periodic::Unattended-Upgrade \"{value}\" ({file})"
            ));
            value.trim().parse::<u64>().map(|d| d > 0).unwrap_or(false)
        }
        None => {
            out.evidence
                .push("APT::Periodic::Unattended-Upgrade not set".into());
            false
        }
    };
    // apt-daily-upgrade.timer runs it; a masked timer (symlink to /dev/null) stops it.
    let masked = std::fs::read_link(root.resolve("etc/systemd/system/apt-daily-upgrade.timer"))
        .is_ok_and(|t| t == std::path::Path::new("/dev/null"));
    if masked {
        out.evidence
            .push("apt-daily-upgrade.timer is masked (/etc/systemd/system)".into());
    }
    out.enabled = package && enabled_conf && !masked;
    Ok(out)
}

fn dnf(root: &Root, inventory: Option<&Inventory>) -> Result<AutomaticUpdates, HostError> {
    let mut out = AutomaticUpdates {
        mechanism: Some("dnf-automatic".into()),
        ..Default::default()
    };
    let package =
        installed(inventory, "dnf-automatic") || installed(inventory, "dnf5-plugin-automatic");
    out.evidence.push(format!(
        "dnf-automatic package {}",
        if package {
            "installed"
        } else {
            "not installed"
        }
    ));
    // dnf-automatic-install.timer always applies; dnf-automatic.timer applies only with
    // `apply_updates = yes` in automatic.conf.
    if let Some(link) = enabled_timer(root, &["dnf-automatic-install.timer"]) {
        out.evidence.push(format!("{link} enabled"));
        out.enabled = package;
        return Ok(out);
    }
    let Some(link) = enabled_timer(root, &["dnf-automatic.timer", "dnf5-automatic.timer"]) else {
        out.evidence.push("no dnf-automatic timer enabled".into());
        return Ok(out);
    };
    out.evidence.push(format!("{link} enabled"));
    let mut apply = false;
    for conf in [
        "etc/dnf/automatic.conf",
        "etc/dnf/dnf5-plugins/automatic.conf",
    ] {
        let Some(text) = root.read_optional(conf)? else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "apply_updates" {
                    apply = matches!(
                        v.trim().to_ascii_lowercase().as_str(),
                        "yes" | "true" | "1" | "on"
                    );
                    out.evidence
                        .push(format!("apply_updates = {} (/{conf})", v.trim()));
                }
                if k.trim() == "upgrade_type" {
                    out.evidence
                        .push(format!("upgrade_type = {} (/{conf})", v.trim()));
                }
            }
        }
    }
    out.enabled = package && apply;
    Ok(out)
}

fn suse(root: &Root) -> Result<AutomaticUpdates, HostError> {
    let mut out = AutomaticUpdates::default();
    // Transactional systems (SLE Micro, MicroOS) update through transactional-update.timer;
    // openSUSE's os-update package provides os-update.timer; YaST's online update
    // configuration writes a cron job.
    if let Some(link) = enabled_timer(root, &["transactional-update.timer", "os-update.timer"]) {
        out.mechanism = Some("systemd timer".into());
        out.evidence.push(format!("{link} enabled"));
        out.enabled = true;
        return Ok(out);
    }
    for dir in ["etc/cron.daily", "etc/cron.weekly", "etc/cron.monthly"] {
        for path in root.list_dir(dir)? {
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("online_update"))
            {
                out.mechanism = Some("yast2-online-update-configuration".into());
                out.evidence
                    .push(format!("{} present", root.display(&path)));
                out.enabled = true;
                return Ok(out);
            }
        }
    }
    out.evidence
        .push("no os-update/transactional-update timer and no online_update cron job".into());
    Ok(out)
}

fn alpine(root: &Root) -> Result<AutomaticUpdates, HostError> {
    let mut out = AutomaticUpdates::default();
    // Alpine ships no updater; the usual setup is a periodic script or crontab line
    // running `apk upgrade`.
    let mut files = Vec::new();
    for dir in [
        "etc/periodic/daily",
        "etc/periodic/weekly",
        "etc/periodic/hourly",
        "etc/periodic/monthly",
    ] {
        files.extend(root.list_dir(dir)?);
    }
    files.push(root.resolve("etc/crontabs/root"));
    for path in files {
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(_) => continue,
        };
        let runs_upgrade = text.lines().any(|l| {
            let l = l.trim();
            !l.starts_with('#') && l.contains("apk") && l.contains("upgrade")
        });
        if runs_upgrade {
            out.mechanism = Some("cron apk upgrade".into());
            out.evidence
                .push(format!("{} runs apk upgrade", root.display(&path)));
            out.enabled = true;
            return Ok(out);
        }
    }
    out.evidence
        .push("no periodic job runs apk upgrade (/etc/periodic, /etc/crontabs/root)".into());
    Ok(out)
}
