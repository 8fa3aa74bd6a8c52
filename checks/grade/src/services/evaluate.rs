//! Pure grading of a service scan into `service.*` verdicts (no I/O, no clock).
//!
//! Per-port verdicts name their target `address:port` (`[v6]:port` for IPv6); a host where a
//! rule finds nothing gets one `pass` verdict for that rule, targeted at its address. A host
//! where no port answered at all (not even closed) was not reached: `error`, never a pass.

use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};

use vigie_model::{Check, Message, Status, Verdict};

use super::observation::{Auth, HostObservation, PortObservation, Service, ServicesObservation};
use super::versions;

/// The verdicts of one run: `service.open` per open port, then each risk rule per host.
/// Graded at `now` like every family's, although no rule of this one depends on time yet.
pub fn evaluate(observation: &ServicesObservation, _now: DateTime<Utc>) -> Vec<Verdict> {
    let table = versions::table();
    let mut verdicts = Vec::new();
    for unresolved in &observation.unresolved {
        let mut verdict = Verdict::new(
            Check::ServiceOpen,
            unresolved.target.clone(),
            Status::Error,
            Message::new("service.open.unresolved")
                .arg("target", &unresolved.target)
                .arg("reason", &unresolved.reason),
        )
        .remediation(Message::new("service.open.unresolved.fix").arg("target", &unresolved.target));
        if let Some(kind) = unresolved.kind {
            verdict = verdict.evidence("failure", kind.as_str());
        }
        verdicts.push(verdict);
    }
    for host in &observation.hosts {
        if unreached(host) {
            not_reached(host, observation.port_count, &mut verdicts);
            continue;
        }
        open_ports(host, observation.port_count, &mut verdicts);
        rule(host, Check::ServiceCleartext, cleartext, &mut verdicts);
        rule(
            host,
            Check::ServiceRemoteDesktop,
            remote_desktop,
            &mut verdicts,
        );
        rule(host, Check::ServiceFileSharing, file_sharing, &mut verdicts);
        rule(host, Check::ServiceDatabase, database, &mut verdicts);
        rule(
            host,
            Check::ServiceUnauthenticated,
            unauthenticated,
            &mut verdicts,
        );
        match &table {
            Ok(table) => rule(
                host,
                Check::ServiceOutdated,
                |port| outdated(table, port),
                &mut verdicts,
            ),
            Err(reason) => verdicts.push(Verdict::new(
                Check::ServiceOutdated,
                host.address.to_string(),
                Status::Error,
                Message::new("service.outdated.error").arg("reason", reason),
            )),
        }
    }
    verdicts
}

/// The checks graded per host, after `service.open`.
const HOST_RULES: [Check; 6] = [
    Check::ServiceCleartext,
    Check::ServiceRemoteDesktop,
    Check::ServiceFileSharing,
    Check::ServiceDatabase,
    Check::ServiceUnauthenticated,
    Check::ServiceOutdated,
];

/// No port answered, not even with a reset: the host is down or drops every probe, and
/// nothing is known of what it exposes.
fn unreached(host: &HostObservation) -> bool {
    host.open.is_empty() && host.closed == 0
}

/// An unreached host: `error` for `service.open` and each rule, never "nothing found".
fn not_reached(host: &HostObservation, port_count: usize, verdicts: &mut Vec<Verdict>) {
    let address = host.address.to_string();
    verdicts.push(
        Verdict::new(
            Check::ServiceOpen,
            address.clone(),
            Status::Error,
            Message::new("service.open.unreached")
                .arg("address", host.address)
                .arg("count", port_count),
        )
        .remediation(Message::new("service.open.unreached.fix").arg("address", host.address))
        .evidence("closed", host.closed)
        .evidence("filtered", host.filtered),
    );
    for check in HOST_RULES {
        verdicts.push(Verdict::new(
            check,
            address.clone(),
            Status::Error,
            Message::new("service.not_checked.unreached").arg("address", host.address),
        ));
    }
}

/// `address:port`, bracketing IPv6.
pub fn port_target(address: IpAddr, port: u16) -> String {
    SocketAddr::new(address, port).to_string()
}

fn service_name(port: &PortObservation) -> String {
    port.service()
        .map(|service| service.as_str().to_owned())
        .unwrap_or_else(|| "unidentified".to_owned())
}

fn port_evidence(verdict: Verdict, port: &PortObservation) -> Verdict {
    let found = port.identified.as_ref();
    let mut verdict = verdict
        .evidence("port", port.port)
        .evidence("state", port.state)
        .evidence("service", service_name(port))
        .evidence("tls", port.tls);
    if let Some(product) = found.and_then(|f| f.product.as_ref()) {
        verdict = verdict.evidence("product", product);
    }
    if let Some(version) = found.and_then(|f| f.version.as_ref()) {
        verdict = verdict.evidence("version", version);
    }
    if let Some(detail) = found.and_then(|f| f.detail.as_ref()) {
        verdict = verdict.evidence("detail", detail);
    }
    if let Some(banner) = &port.banner {
        verdict = verdict.evidence("banner", banner);
    }
    verdict
}

fn open_ports(host: &HostObservation, port_count: usize, verdicts: &mut Vec<Verdict>) {
    if host.open.is_empty() {
        verdicts.push(
            Verdict::new(
                Check::ServiceOpen,
                host.address.to_string(),
                Status::Pass,
                Message::new("service.open.none")
                    .arg("address", host.address)
                    .arg("count", port_count),
            )
            .evidence("closed", host.closed)
            .evidence("filtered", host.filtered),
        );
        return;
    }
    for port in &host.open {
        let verdict = Verdict::new(
            Check::ServiceOpen,
            port_target(host.address, port.port),
            Status::Info,
            Message::new("service.open.info")
                .arg("port", port.port)
                .arg("address", host.address)
                .arg("service", service_name(port)),
        );
        verdicts.push(port_evidence(verdict, port));
    }
}

/// A failing rule's finding on one port: its summary and remediation, with extra evidence.
struct Failure {
    summary: Message,
    fix: Message,
    evidence: Vec<(&'static str, serde_json::Value)>,
}

fn rule(
    host: &HostObservation,
    check: Check,
    judge: impl Fn(&PortObservation) -> Option<Failure>,
    verdicts: &mut Vec<Verdict>,
) {
    let mut failed = false;
    for port in &host.open {
        let Some(failure) = judge(port) else {
            continue;
        };
        failed = true;
        let target = port_target(host.address, port.port);
        let mut verdict = Verdict::new(
            check,
            target.clone(),
            Status::Fail,
            failure.summary.arg("target", &target),
        )
        .remediation(failure.fix.arg("target", &target));
        for (key, value) in failure.evidence {
            verdict = verdict.evidence(key, value);
        }
        verdicts.push(port_evidence(verdict, port));
    }
    if !failed {
        let key = match check {
            Check::ServiceCleartext => "service.cleartext.pass",
            Check::ServiceRemoteDesktop => "service.remote_desktop.pass",
            Check::ServiceFileSharing => "service.file_sharing.pass",
            Check::ServiceDatabase => "service.database.pass",
            Check::ServiceUnauthenticated => "service.unauthenticated.pass",
            _ => "service.outdated.pass",
        };
        verdicts.push(Verdict::new(
            check,
            host.address.to_string(),
            Status::Pass,
            Message::new(key).arg("address", host.address),
        ));
    }
}

fn failure(summary: &'static str, fix: &'static str, port: &PortObservation) -> Option<Failure> {
    Some(Failure {
        summary: Message::new(summary)
            .arg("service", service_name(port))
            .arg("port", port.port),
        fix: Message::new(fix)
            .arg("service", service_name(port))
            .arg("port", port.port),
        evidence: Vec::new(),
    })
}

fn cleartext(port: &PortObservation) -> Option<Failure> {
    let found = port.identified.as_ref()?;
    if port.tls {
        return None;
    }
    match found.service {
        Service::Telnet => failure(
            "service.cleartext.telnet",
            "service.cleartext.telnet.fix",
            port,
        ),
        Service::Ftp if found.starttls != Some(true) => {
            failure("service.cleartext.ftp", "service.cleartext.ftp.fix", port)
        }
        Service::Pop3 | Service::Imap if found.starttls != Some(true) => {
            failure("service.cleartext.mail", "service.cleartext.mail.fix", port)
        }
        Service::Http if found.basic_auth => failure(
            "service.cleartext.http_basic",
            "service.cleartext.http_basic.fix",
            port,
        ),
        _ => None,
    }
}

fn remote_desktop(port: &PortObservation) -> Option<Failure> {
    match port.service()? {
        Service::Rdp | Service::Vnc => failure(
            "service.remote_desktop.fail",
            "service.remote_desktop.fix",
            port,
        ),
        _ => None,
    }
}

fn file_sharing(port: &PortObservation) -> Option<Failure> {
    match port.service()? {
        Service::Nfs => failure(
            "service.file_sharing.fail",
            "service.file_sharing.fix.nfs",
            port,
        ),
        Service::Smb | Service::Netbios => failure(
            "service.file_sharing.fail",
            "service.file_sharing.fix",
            port,
        ),
        _ => None,
    }
}

fn database(port: &PortObservation) -> Option<Failure> {
    match port.service()? {
        Service::Mysql
        | Service::Postgresql
        | Service::Mssql
        | Service::Mongodb
        | Service::Redis
        | Service::Elasticsearch
        | Service::Memcached
        | Service::Couchdb => failure("service.database.fail", "service.database.fix", port),
        _ => None,
    }
}

fn unauthenticated(port: &PortObservation) -> Option<Failure> {
    let found = port.identified.as_ref()?;
    (found.auth == Some(Auth::NotRequired)).then(|| {
        failure(
            "service.unauthenticated.fail",
            "service.unauthenticated.fix",
            port,
        )
    })?
}

fn outdated(table: &[versions::Branches], port: &PortObservation) -> Option<Failure> {
    let found = port.identified.as_ref()?;
    let main = found
        .product
        .as_ref()
        .map(|product| (product.as_str(), found.version.as_deref()));
    let components = found
        .components
        .iter()
        .map(|software| (software.product.as_str(), software.version.as_deref()));
    let mut stale = Vec::new();
    for (product, version) in main.into_iter().chain(components) {
        let Some(version) = version else { continue };
        if let Some(row) = versions::outdated(table, product, version) {
            stale.push((product, version, row));
        }
    }
    let (product, version, row) = stale.first()?;
    let names: Vec<String> = stale
        .iter()
        .map(|(product, version, _)| format!("{product} {version}"))
        .collect();
    Some(Failure {
        summary: Message::new("service.outdated.fail")
            .arg("software", names.join(", "))
            .arg("port", port.port),
        fix: Message::new("service.outdated.fix")
            .arg("product", product)
            .arg("oldest", &row.oldest_maintained),
        evidence: vec![
            (
                "outdated",
                serde_json::json!(stale
                    .iter()
                    .map(|(p, v, r)| serde_json::json!({
                        "product": p, "version": v, "oldest_maintained": r.oldest_maintained,
                        "note": r.note, "reviewed": r.reviewed,
                    }))
                    .collect::<Vec<_>>()),
            ),
            ("version_checked", serde_json::json!(version)),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use vigie_model::Lang;

    fn scan(closed: usize, filtered: usize) -> ServicesObservation {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        ServicesObservation {
            targets: vec!["192.0.2.7".to_owned()],
            ports: "top100".to_owned(),
            port_count: 100,
            started_at: at,
            finished_at: at,
            hosts: vec![HostObservation {
                address: "192.0.2.7".parse().unwrap(),
                target: "192.0.2.7".to_owned(),
                names: Vec::new(),
                open: Vec::new(),
                closed,
                filtered,
            }],
            unresolved: Vec::new(),
        }
    }

    #[test]
    fn a_host_where_no_port_answered_gets_errors_not_passes() {
        let verdicts = evaluate(&scan(0, 100), Utc::now());
        assert_eq!(verdicts.len(), 1 + HOST_RULES.len());
        for verdict in &verdicts {
            assert_eq!(verdict.status, Status::Error, "{}", verdict.check.id());
            assert_eq!(verdict.target, "192.0.2.7");
            assert!(verdict.summary.is_defined(), "{}", verdict.summary.key);
            let (en, fr) = (
                verdict.summary.render(Lang::En),
                verdict.summary.render(Lang::Fr),
            );
            assert!(en.contains("192.0.2.7") && fr.contains("192.0.2.7"));
            assert_ne!(en, fr);
        }
        let open = &verdicts[0];
        assert_eq!(open.check, Check::ServiceOpen);
        assert!(open.summary.render(Lang::En).contains("not even closed"));
        assert!(open
            .remediation
            .as_ref()
            .is_some_and(|fix| fix.is_defined()));
    }

    #[test]
    fn a_host_that_answered_closed_is_graded() {
        // Resets are answers: the host was reached and exposes nothing.
        let verdicts = evaluate(&scan(100, 0), Utc::now());
        assert!(verdicts.iter().all(|v| v.status == Status::Pass));
        let verdicts = evaluate(&scan(3, 97), Utc::now());
        assert!(verdicts.iter().all(|v| v.status == Status::Pass));
    }
}
