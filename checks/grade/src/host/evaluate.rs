//! Grading: [`HostObservation`] → one [`Verdict`] per `host.*` check.
//!
//! Pure: no I/O, and time only from the argument. Every check gives exactly one verdict
//! (`error` when the facts it needs could not be read, with the reason; `skip` when it does
//! not apply), so a report never has silent gaps.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use vigie_model::{Check, Message, Severity, Status, Verdict};

use super::eol;
use super::observation::{HostObservation, OsFamily, PendingUpdate, Reboot};
use super::version::{VersionScheme, VersionSchemeOf};

/// How many packages or advisories evidence lists before it says "and N more".
pub const EVIDENCE_LIST_MAX: usize = 50;

/// `host.os.eol` warns this many days before the end of support.
pub const EOL_WARN_DAYS: i64 = 90;

/// All verdicts for the host, in catalogue order, graded with the bundled EOL dataset.
pub fn evaluate(obs: &HostObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    evaluate_with(obs, now, eol::bundled())
}

/// As [`evaluate`], with a given EOL dataset (tests, or a newer file).
pub fn evaluate_with(
    obs: &HostObservation,
    now: DateTime<Utc>,
    eol_data: &[eol::EolEntry],
) -> Vec<Verdict> {
    let target = target_of(obs);
    vec![
        os_verdict(obs, &target),
        eol_verdict(obs, &target, now, eol_data),
        security_verdict(obs, &target),
        pending_verdict(obs, &target),
        automatic_verdict(obs, &target),
        reboot_verdict(obs, &target),
        vulnerabilities_verdict(obs, &target),
    ]
}

/// The finding target: the host name, else the inspected root.
pub fn target_of(obs: &HostObservation) -> String {
    obs.system
        .hostname
        .clone()
        .unwrap_or_else(|| obs.root.clone())
}

fn error(check: Check, target: &str, reason: &str) -> Verdict {
    Verdict::new(
        check,
        target,
        Status::Error,
        Message::new("host.error").arg("reason", reason),
    )
}

/// The reason a part is missing: its recorded error, or a generic one.
fn missing(obs: &HostObservation, part: &str) -> String {
    obs.errors
        .get(part)
        .cloned()
        .unwrap_or_else(|| format!("{part} not observed"))
}

fn os_label(obs: &HostObservation) -> String {
    match &obs.os {
        Some(os) => os
            .pretty_name
            .clone()
            .or_else(|| {
                Some(format!(
                    "{} {}",
                    os.name.as_deref().unwrap_or(&os.id),
                    os.version_id.as_deref().unwrap_or("")
                ))
            })
            .unwrap_or_default()
            .trim()
            .to_owned(),
        None => "?".into(),
    }
}

fn list_truncated<T: serde::Serialize>(items: &[T]) -> serde_json::Value {
    json!(items.iter().take(EVIDENCE_LIST_MAX).collect::<Vec<_>>())
}

fn os_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostOs;
    let Some(os) = &obs.os else {
        return error(check, target, &missing(obs, "os"));
    };
    let unknown = || "?".to_owned();
    let s = &obs.system;
    Verdict::new(
        check,
        target,
        Status::Info,
        Message::new("host.os.info")
            .arg("os", os_label(obs))
            .arg("kernel", s.kernel_release.clone().unwrap_or_else(unknown))
            .arg("arch", s.architecture.clone().unwrap_or_else(unknown))
            .arg(
                "uptime_days",
                s.uptime_seconds
                    .map(|u| (u / 86_400).to_string())
                    .unwrap_or_else(unknown),
            ),
    )
    .evidence("id", &os.id)
    .evidence("version_id", &os.version_id)
    .evidence("pretty_name", &os.pretty_name)
    .evidence("family", os.family)
    .evidence("kernel", &s.kernel_release)
    .evidence("architecture", &s.architecture)
    .evidence("uptime_seconds", s.uptime_seconds)
    .evidence("hostname", &s.hostname)
    .evidence("package_manager", obs.inventory.as_ref().map(|i| i.manager))
    .evidence("packages", obs.inventory.as_ref().map(|i| i.packages.len()))
}

/// Whether the host receives paid/opt-in extended updates (Ubuntu Pro ESM lists).
fn extended_support_active(obs: &HostObservation) -> bool {
    obs.updates
        .as_ref()
        .is_some_and(|u| u.indexes.iter().any(|i| i.contains("esm.ubuntu.com")))
}

fn eol_verdict(
    obs: &HostObservation,
    target: &str,
    now: DateTime<Utc>,
    data: &[eol::EolEntry],
) -> Verdict {
    let check = Check::HostOsEol;
    let Some(os) = &obs.os else {
        return error(check, target, &missing(obs, "os"));
    };
    let label = os_label(obs);
    let Some(version) = os.version_id.as_deref() else {
        // Rolling releases (Debian testing, Tumbleweed) have no end of life.
        return Verdict::new(
            check,
            target,
            Status::Skip,
            Message::new("host.os.eol.rolling").arg("os", &label),
        );
    };
    let Some(entry) = eol::lookup(data, &os.id, version) else {
        let key = if eol::knows_id(data, &os.id) {
            "host.os.eol.unknown_release"
        } else {
            "host.os.eol.unknown_os"
        };
        return Verdict::new(
            check,
            target,
            Status::Error,
            Message::new(key).arg("os", &label),
        )
        .remediation(Message::new("host.os.eol.unknown_fix"))
        .evidence("id", &os.id)
        .evidence("version_id", version);
    };
    let extended = extended_support_active(obs);
    let end = match (extended, entry.extended_end) {
        (true, Some(ext)) => ext,
        _ => entry.security_end,
    };
    let today = now.date_naive();
    let days_left = (end - today).num_days();
    let base = |status, message: Message| {
        Verdict::new(check, target, status, message)
            .evidence("release", &entry.name)
            .evidence("security_end", entry.security_end.to_string())
            .evidence("extended_end", entry.extended_end.map(|d| d.to_string()))
            .evidence("extended_support_active", extended)
            .evidence("end_used", end.to_string())
            .evidence("days_left", days_left)
            .evidence("estimated", entry.estimated)
            .evidence("source", &entry.source)
    };
    let args = |m: Message| {
        m.arg("os", &entry.name)
            .arg("date", end)
            .arg("days", days_left.abs())
    };
    if today > end {
        base(Status::Fail, args(Message::new("host.os.eol.fail")))
            .severity(Severity::Critical)
            .remediation(args(Message::new("host.os.eol.fix")))
    } else if today + Duration::days(EOL_WARN_DAYS) >= end {
        base(Status::Warn, args(Message::new("host.os.eol.warn")))
            .severity(Severity::High)
            .remediation(args(Message::new("host.os.eol.fix")))
    } else {
        base(Status::Pass, args(Message::new("host.os.eol.pass")))
    }
}

fn update_line(u: &PendingUpdate) -> String {
    let arch = u
        .arch
        .as_deref()
        .map(|a| format!(":{a}"))
        .unwrap_or_default();
    let held = if u.held { " (held)" } else { "" };
    format!("{}{arch} {} -> {}{held}", u.name, u.installed, u.available)
}

const UNCLASSIFIED: &str = "this distribution's package indexes do not tell security updates apart; import vulnerability data (vigie-agent vulndb import) to classify them";

/// The pending updates split into (security, other), or the reason that cannot be known.
fn split_updates(
    obs: &HostObservation,
) -> Result<(Vec<&PendingUpdate>, Vec<&PendingUpdate>, &'static str), String> {
    if obs.inventory.is_none() {
        return Err(missing(obs, "inventory"));
    }
    let Some(updates) = &obs.updates else {
        return Err(missing(obs, "updates"));
    };
    if updates.indexes.is_empty() {
        return Err("no package index found on the host (apt lists, dnf/zypper metadata cache, APKINDEX): pending updates cannot be known without network".into());
    }
    if updates.security_known {
        let (sec, other) = updates.pending.iter().partition(|u| u.security);
        return Ok((sec, other, "index"));
    }
    // Alpine's indexes do not say which updates are security fixes: an update that fixes a
    // known vulnerability of the imported data is one.
    let Some(scan) = &obs.vulnerabilities else {
        return Err(UNCLASSIFIED.into());
    };
    let scheme = obs
        .inventory
        .as_ref()
        .map(|i| i.manager.version_scheme())
        .unwrap_or(VersionScheme::Apk);
    let fixes = |u: &PendingUpdate| {
        scan.matches.iter().any(|m| {
            m.binaries.contains(&u.name)
                && m.fixed
                    .as_deref()
                    .is_some_and(|f| scheme.compare(f, &u.available) != std::cmp::Ordering::Greater)
        })
    };
    let (sec, other) = updates.pending.iter().partition(|u| fixes(u));
    Ok((sec, other, "vulnerability_data"))
}

fn updates_evidence(v: Verdict, obs: &HostObservation, list: &[&PendingUpdate]) -> Verdict {
    let lines: Vec<String> = list.iter().map(|u| update_line(u)).collect();
    let u = obs.updates.as_ref();
    v.evidence("count", list.len())
        .evidence("held", list.iter().filter(|u| u.held).count())
        .evidence("packages", list_truncated(&lines))
        .evidence("truncated", list.len() > EVIDENCE_LIST_MAX)
        .evidence("indexes", u.map(|u| u.indexes.len()))
        .evidence("security_indexes", u.map(|u| u.security_indexes))
        .evidence("unreadable_indexes", u.map(|u| u.unreadable.clone()))
        .evidence(
            "newest_index_age_days",
            u.and_then(|u| u.newest_index_age_seconds)
                .map(|s| s / 86_400),
        )
}

fn fix_for(obs: &HostObservation, security: bool) -> Message {
    let manager = obs.inventory.as_ref().map(|i| i.manager);
    let family = obs.os.as_ref().map(|o| o.family);
    let key = match (manager, family, security) {
        (_, Some(OsFamily::Suse), true) => "host.updates.fix.zypper_security",
        (_, Some(OsFamily::Suse), false) => "host.updates.fix.zypper",
        (Some(super::PackageManager::Dpkg), _, _) => "host.updates.fix.apt",
        (Some(super::PackageManager::Rpm), _, true) => "host.updates.fix.dnf_security",
        (Some(super::PackageManager::Rpm), _, false) => "host.updates.fix.dnf",
        (Some(super::PackageManager::Apk), _, _) => "host.updates.fix.apk",
        _ => "host.updates.fix.generic",
    };
    Message::new(key)
}

fn security_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostUpdatesSecurity;
    let (security, _, basis) = match split_updates(obs) {
        Ok(s) => s,
        Err(reason) => return error(check, target, &reason),
    };
    let v = if security.is_empty() {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("host.updates.security.pass"),
        )
    } else {
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("host.updates.security.fail")
                .arg("count", security.len())
                .arg("packages", short_list(&security)),
        )
        .remediation(fix_for(obs, true))
    };
    updates_evidence(v, obs, &security).evidence("classified_by", basis)
}

fn pending_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostUpdatesPending;
    let (_, other, basis) = match split_updates(obs) {
        Ok(s) => s,
        // Unclassified (Alpine without vulnerability data): every pending update is still
        // a pending update.
        Err(reason) if reason == UNCLASSIFIED => match &obs.updates {
            Some(u) => (Vec::new(), u.pending.iter().collect(), "none"),
            None => return error(check, target, &reason),
        },
        Err(reason) => return error(check, target, &reason),
    };
    let v = if other.is_empty() {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("host.updates.pending.pass"),
        )
    } else {
        Verdict::new(
            check,
            target,
            Status::Warn,
            Message::new("host.updates.pending.warn")
                .arg("count", other.len())
                .arg("packages", short_list(&other)),
        )
        .remediation(fix_for(obs, false))
    };
    updates_evidence(v, obs, &other).evidence("classified_by", basis)
}

/// The first few names, for a one-line summary.
fn short_list(list: &[&PendingUpdate]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<&str> = list.iter().take(SHOWN).map(|u| u.name.as_str()).collect();
    let more = list.len().saturating_sub(SHOWN);
    let extra;
    if more > 0 {
        extra = format!("+{more}");
        names.push(&extra);
    }
    names.join(", ")
}

fn automatic_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostUpdatesAutomatic;
    let Some(a) = &obs.automatic else {
        return error(check, target, &missing(obs, "automatic"));
    };
    let family = obs.os.as_ref().map(|o| o.family).unwrap_or(OsFamily::Other);
    if matches!(family, OsFamily::Other) {
        return error(
            check,
            target,
            "unknown distribution: no known automatic-update mechanism to look for",
        );
    }
    let mechanism = a.mechanism.clone().unwrap_or_else(|| "-".into());
    let v = if a.enabled {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("host.updates.automatic.pass").arg("mechanism", &mechanism),
        )
    } else {
        let fix = match family {
            OsFamily::Debian | OsFamily::Ubuntu => "host.updates.automatic.fix.apt",
            OsFamily::Rhel | OsFamily::Fedora => "host.updates.automatic.fix.dnf",
            OsFamily::Suse => "host.updates.automatic.fix.suse",
            OsFamily::Alpine => "host.updates.automatic.fix.apk",
            OsFamily::Windows | OsFamily::Other => "host.updates.fix.generic",
        };
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("host.updates.automatic.fail"),
        )
        .remediation(Message::new(fix))
    };
    v.evidence("mechanism", &a.mechanism)
        .evidence("enabled", a.enabled)
        .evidence("details", &a.evidence)
}

fn reboot_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostRebootRequired;
    let Some(r) = &obs.reboot else {
        return error(check, target, &missing(obs, "reboot"));
    };
    let v = if let Some(flag) = &r.flag_file {
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("host.reboot_required.flag").arg("file", flag),
        )
        .remediation(Message::new("host.reboot_required.fix"))
    } else if kernel_outdated(r) {
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("host.reboot_required.kernel")
                .arg("running", r.running_kernel.as_deref().unwrap_or("?"))
                .arg(
                    "newest",
                    r.newest_installed_kernel.as_deref().unwrap_or("?"),
                ),
        )
        .remediation(Message::new("host.reboot_required.fix"))
    } else if obs.os.is_none() && obs.inventory.is_none() {
        // No flag file in a root where neither the system nor its packages could be read
        // says nothing about a reboot.
        return error(check, target, &missing(obs, "os"));
    } else {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("host.reboot_required.pass"),
        )
    };
    v.evidence("flag_file", &r.flag_file)
        .evidence("flag_packages", list_truncated(&r.flag_packages))
        .evidence("running_kernel", &r.running_kernel)
        .evidence("newest_installed_kernel", &r.newest_installed_kernel)
        .evidence("running_kernel_installed", r.running_kernel_installed)
}

fn vulnerabilities_verdict(obs: &HostObservation, target: &str) -> Verdict {
    let check = Check::HostVulnerabilities;
    if let Some(reason) = obs.errors.get("vulnerabilities") {
        return error(check, target, reason);
    }
    let Some(scan) = &obs.vulnerabilities else {
        return Verdict::new(
            check,
            target,
            Status::Skip,
            Message::new("host.vulnerabilities.no_data"),
        )
        .remediation(Message::new("host.vulnerabilities.import_fix"));
    };
    if obs.inventory.is_none() {
        return error(check, target, &missing(obs, "inventory"));
    }
    let base = |v: Verdict| {
        v.evidence("index", &scan.index)
            .evidence("index_imported_at", &scan.index_imported_at)
            .evidence("advisories_in_index", scan.advisories_in_index)
            .evidence("ecosystems", &scan.ecosystems)
            .evidence("packages_checked", scan.packages_checked)
    };
    if scan.ecosystems.is_empty() {
        return base(
            Verdict::new(
                check,
                target,
                Status::Error,
                Message::new("host.vulnerabilities.no_ecosystem").arg("os", os_label(obs)),
            )
            .remediation(Message::new("host.vulnerabilities.import_fix")),
        );
    }
    if scan.matches.is_empty() {
        return base(Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("host.vulnerabilities.pass").arg("advisories", scan.advisories_in_index),
        ));
    }
    let worst = scan
        .matches
        .iter()
        .map(|m| m.severity.unwrap_or(check.default_severity()))
        .max()
        .unwrap_or(check.default_severity());
    let mut cves: Vec<&str> = scan
        .matches
        .iter()
        .flat_map(|m| m.aliases.iter().map(String::as_str))
        .filter(|a| a.starts_with("CVE-"))
        .collect();
    cves.sort_unstable();
    cves.dedup();
    let mut packages: Vec<&str> = scan.matches.iter().map(|m| m.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    base(
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("host.vulnerabilities.fail")
                .arg("count", scan.matches.len())
                .arg("packages", packages.len())
                .arg("cves", cves.len()),
        )
        .severity(worst)
        .remediation(fix_for(obs, true)),
    )
    .evidence("count", scan.matches.len())
    .evidence("packages", list_truncated(&packages))
    .evidence("cves", list_truncated(&cves))
    .evidence("cves_total", cves.len())
    .evidence("matches", list_truncated(&scan.matches))
    .evidence("truncated", scan.matches.len() > EVIDENCE_LIST_MAX)
}

/// The running kernel is installed, and older than the newest installed kernel.
pub fn kernel_outdated(r: &Reboot) -> bool {
    match (&r.running_kernel, &r.newest_installed_kernel) {
        (Some(running), Some(newest)) => r.running_kernel_installed && running != newest,
        _ => false,
    }
}
