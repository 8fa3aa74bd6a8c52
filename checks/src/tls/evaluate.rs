//! Pure grading of a TLS observation: no I/O, time only from `now`.
//!
//! Each certificate check stands on its own: the trust path was judged inside the leaf's
//! validity window and the name apart, so an expired certificate from a trusted CA gives
//! `tls.cert.expired` fail and `tls.cert.untrusted` pass. When there was no handshake, every
//! check is an `error` that says why, never a silent gap.

use chrono::{DateTime, Duration, Utc};
use vigie_model::{
    CertificateInfo, Check, Message, ProbeStage, Severity, Status, TlsHandshake, TlsObservation,
    TlsProbeResult, Verdict,
};

use super::posture::{self, Profile};

/// `tls.cert.expiring` fails (severity high) when the certificate expires within this.
pub const EXPIRING_FAIL_WITHIN: Duration = Duration::days(7);
/// `tls.cert.expiring` warns when the certificate expires within this.
pub const EXPIRING_WARN_WITHIN: Duration = Duration::days(30);

/// The certificate checks this module grades, in report order after `tls.connect`.
pub const CERTIFICATE_CHECKS: [Check; 6] = [
    Check::TlsCertUntrusted,
    Check::TlsCertSelfSigned,
    Check::TlsCertHostnameMismatch,
    Check::TlsCertExpired,
    Check::TlsCertNotYetValid,
    Check::TlsCertExpiring,
];

/// The verdicts of `tls.connect`, every certificate check and, when the enumeration ran, the
/// protocol, cipher and extension checks for one observation, graded with the default
/// profile (`modern`).
pub fn evaluate(observation: &TlsObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    evaluate_with_profile(observation, now, Profile::default())
}

/// [`evaluate`] with a grading profile (`--profile`).
pub fn evaluate_with_profile(
    observation: &TlsObservation,
    now: DateTime<Utc>,
    profile: Profile,
) -> Vec<Verdict> {
    let mut verdicts = handshake_verdicts(observation, now);
    if let Some(enumeration) = &observation.enumeration {
        verdicts.extend(posture::evaluate_enumeration(
            &observation.target,
            enumeration,
            profile,
        ));
    }
    verdicts
}

fn handshake_verdicts(observation: &TlsObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    let target = observation.target.as_str();
    match &observation.result {
        TlsProbeResult::Failed { stage, error } => failed(observation, *stage, error),
        TlsProbeResult::Handshake(handshake) => {
            let mut verdicts = vec![Verdict::new(
                Check::TlsConnect,
                target,
                Status::Pass,
                Message::new("tls.connect.pass")
                    .arg("protocol", &handshake.protocol)
                    .arg("cipher", &handshake.cipher_suite)
                    .arg("address", address(observation)),
            )
            .evidence("address", address(observation))
            .evidence("server_name", &observation.server_name)
            .evidence("protocol", &handshake.protocol)
            .evidence("cipher_suite", &handshake.cipher_suite)];
            if let Some(stapled) = handshake.ocsp_stapled {
                verdicts.push(ocsp_verdict(target, stapled));
            }
            match handshake.certificates.first() {
                Some(leaf) => {
                    verdicts.extend(certificate_verdicts(observation, handshake, leaf, now))
                }
                None => verdicts.extend(CERTIFICATE_CHECKS.iter().map(|check| {
                    Verdict::new(
                        *check,
                        target,
                        Status::Error,
                        Message::new("tls.cert.not_checked.no_certificate").arg("target", target),
                    )
                })),
            }
            verdicts
        }
    }
}

fn address(observation: &TlsObservation) -> &str {
    observation
        .address
        .as_deref()
        .unwrap_or(&observation.target)
}

fn failed(observation: &TlsObservation, stage: ProbeStage, error: &str) -> Vec<Verdict> {
    let target = observation.target.as_str();
    let (summary, fix, not_checked) = match stage {
        ProbeStage::Resolve => (
            "tls.connect.error.resolve",
            "tls.connect.fix.resolve",
            "tls.cert.not_checked.resolve",
        ),
        ProbeStage::Connect => (
            "tls.connect.error.connect",
            "tls.connect.fix.connect",
            "tls.cert.not_checked.connect",
        ),
        ProbeStage::Handshake => (
            "tls.connect.error.handshake",
            "tls.connect.fix.handshake",
            "tls.cert.not_checked.handshake",
        ),
    };
    let mut connect = Verdict::new(
        Check::TlsConnect,
        target,
        Status::Error,
        Message::new(summary)
            .arg("target", target)
            .arg("reason", error),
    )
    .remediation(Message::new(fix).arg("target", target))
    .evidence("stage", stage.as_str())
    .evidence("error", error)
    .evidence("server_name", &observation.server_name);
    if let Some(address) = &observation.address {
        connect = connect.evidence("address", address);
    }
    let mut verdicts = vec![connect];
    verdicts.extend(CERTIFICATE_CHECKS.iter().map(|check| {
        Verdict::new(
            *check,
            target,
            Status::Error,
            Message::new(not_checked).arg("target", target),
        )
        .evidence("stage", stage.as_str())
    }));
    verdicts
}

fn certificate_verdicts(
    observation: &TlsObservation,
    handshake: &TlsHandshake,
    leaf: &CertificateInfo,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    let target = observation.target.as_str();
    let name = observation.server_name.as_str();
    let chain_subjects: Vec<&str> = handshake
        .certificates
        .iter()
        .map(|c| c.subject.as_str())
        .collect();

    let untrusted = if handshake.chain.trusted {
        Verdict::new(
            Check::TlsCertUntrusted,
            target,
            Status::Pass,
            Message::new("tls.cert.untrusted.pass")
                .arg("trust_store", &handshake.chain.trust_store),
        )
    } else {
        let error = handshake.chain.error.as_deref().unwrap_or("-");
        Verdict::new(
            Check::TlsCertUntrusted,
            target,
            Status::Fail,
            Message::new("tls.cert.untrusted.fail")
                .arg("trust_store", &handshake.chain.trust_store)
                .arg("error", error),
        )
        .remediation(Message::new("tls.cert.untrusted.fix"))
        .evidence("error", error)
    }
    .evidence("trust_store", &handshake.chain.trust_store)
    .evidence("issuer", &leaf.issuer)
    .evidence("chain", &chain_subjects);

    let self_signed = if leaf.self_signed {
        Verdict::new(
            Check::TlsCertSelfSigned,
            target,
            Status::Fail,
            Message::new("tls.cert.self_signed.fail").arg("subject", &leaf.subject),
        )
        .remediation(Message::new("tls.cert.self_signed.fix"))
    } else {
        Verdict::new(
            Check::TlsCertSelfSigned,
            target,
            Status::Pass,
            Message::new("tls.cert.self_signed.pass").arg("issuer", &leaf.issuer),
        )
    }
    .evidence("subject", &leaf.subject)
    .evidence("issuer", &leaf.issuer)
    .evidence("sha256", &leaf.sha256);

    let hostname = if handshake.hostname_matches {
        Verdict::new(
            Check::TlsCertHostnameMismatch,
            target,
            Status::Pass,
            Message::new("tls.cert.hostname_mismatch.pass").arg("name", name),
        )
    } else {
        let summary = if leaf.subject_alt_names.is_empty() {
            Message::new("tls.cert.hostname_mismatch.fail_no_names").arg("name", name)
        } else {
            Message::new("tls.cert.hostname_mismatch.fail")
                .arg("name", name)
                .arg("names", leaf.subject_alt_names.join(", "))
        };
        Verdict::new(
            Check::TlsCertHostnameMismatch,
            target,
            Status::Fail,
            summary,
        )
        .remediation(Message::new("tls.cert.hostname_mismatch.fix").arg("name", name))
    }
    .evidence("server_name", name)
    .evidence("subject_alt_names", &leaf.subject_alt_names)
    .evidence("subject", &leaf.subject);

    let not_after = format_date(leaf.not_after);
    let not_before = format_date(leaf.not_before);
    let left = leaf.not_after - now;
    let expired = if now > leaf.not_after {
        Verdict::new(
            Check::TlsCertExpired,
            target,
            Status::Fail,
            Message::new("tls.cert.expired.fail")
                .arg("not_after", &not_after)
                .arg("days", (-left).num_days()),
        )
        .remediation(Message::new("tls.cert.expired.fix").arg("target", target))
        .evidence("days_since_expiry", (-left).num_days())
    } else {
        Verdict::new(
            Check::TlsCertExpired,
            target,
            Status::Pass,
            Message::new("tls.cert.expired.pass").arg("not_after", &not_after),
        )
    }
    .evidence("not_after", leaf.not_after)
    .evidence("serial", &leaf.serial);

    let not_yet_valid = if now < leaf.not_before {
        let until = leaf.not_before - now;
        Verdict::new(
            Check::TlsCertNotYetValid,
            target,
            Status::Fail,
            Message::new("tls.cert.not_yet_valid.fail")
                .arg("not_before", &not_before)
                .arg("days", until.num_days()),
        )
        .remediation(Message::new("tls.cert.not_yet_valid.fix"))
        .evidence("days_until_valid", until.num_days())
    } else {
        Verdict::new(
            Check::TlsCertNotYetValid,
            target,
            Status::Pass,
            Message::new("tls.cert.not_yet_valid.pass").arg("not_before", &not_before),
        )
    }
    .evidence("not_before", leaf.not_before)
    .evidence("observed_at", observation.observed_at);

    let expiring = if now > leaf.not_after {
        Verdict::new(
            Check::TlsCertExpiring,
            target,
            Status::Skip,
            Message::new("tls.cert.expiring.expired"),
        )
    } else if left <= EXPIRING_WARN_WITHIN {
        let (status, severity) = if left <= EXPIRING_FAIL_WITHIN {
            (Status::Fail, Severity::High)
        } else {
            (Status::Warn, Check::TlsCertExpiring.default_severity())
        };
        Verdict::new(
            Check::TlsCertExpiring,
            target,
            status,
            Message::new("tls.cert.expiring.soon")
                .arg("days", left.num_days())
                .arg("not_after", &not_after),
        )
        .severity(severity)
        .remediation(Message::new("tls.cert.expiring.fix").arg("not_after", &not_after))
    } else {
        Verdict::new(
            Check::TlsCertExpiring,
            target,
            Status::Pass,
            Message::new("tls.cert.expiring.pass")
                .arg("days", left.num_days())
                .arg("not_after", &not_after),
        )
    }
    .evidence("not_after", leaf.not_after)
    .evidence("days_left", left.num_days())
    .evidence("seconds_left", left.num_seconds());

    vec![
        untrusted,
        self_signed,
        hostname,
        expired,
        not_yet_valid,
        expiring,
    ]
}

/// `tls.ocsp_stapling`: a fact (info) when nothing is stapled, as the spec grades it.
fn ocsp_verdict(target: &str, stapled: bool) -> Verdict {
    if stapled {
        Verdict::new(
            Check::TlsOcspStapling,
            target,
            Status::Pass,
            Message::new("tls.ocsp_stapling.pass"),
        )
    } else {
        Verdict::new(
            Check::TlsOcspStapling,
            target,
            Status::Info,
            Message::new("tls.ocsp_stapling.info"),
        )
        .remediation(Message::new("tls.ocsp_stapling.fix"))
    }
    .evidence("ocsp_stapled", stapled)
}

/// A date for a sentence, the same in both languages.
fn format_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vigie_model::{ChainValidation, Lang};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
    }

    fn leaf(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=www.example.ca".to_owned(),
            issuer: "CN=Example CA".to_owned(),
            serial: "01ab".to_owned(),
            not_before,
            not_after,
            subject_alt_names: vec!["www.example.ca".to_owned(), "example.ca".to_owned()],
            self_signed: false,
            key_type: "EC".to_owned(),
            key_bits: Some(256),
            signature_algorithm: "ecdsa-with-SHA256".to_owned(),
            sha256: "00".repeat(32),
            ca_issuers: Vec::new(),
            must_staple: false,
            sct_log_ids: Vec::new(),
        }
    }

    fn handshake(leaf: CertificateInfo) -> TlsHandshake {
        TlsHandshake {
            protocol: "TLSv1.3".to_owned(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".to_owned(),
            certificates: vec![leaf],
            chain: ChainValidation {
                trusted: true,
                error: None,
                trust_store: "system+ca-file".to_owned(),
                public_root: Some(false),
            },
            hostname_matches: true,
            ocsp_stapled: Some(true),
            key_proof_unverified: None,
        }
    }

    fn observation(result: TlsProbeResult) -> TlsObservation {
        TlsObservation {
            target: "www.example.ca:443".to_owned(),
            server_name: "www.example.ca".to_owned(),
            address: Some("192.0.2.10:443".to_owned()),
            observed_at: now(),
            result,
            enumeration: None,
        }
    }

    /// A valid certificate, a year old, expiring in `days_left` days.
    fn good(days_left: i64) -> TlsHandshake {
        handshake(leaf(
            now() - Duration::days(365),
            now() + Duration::days(days_left),
        ))
    }

    fn grade(handshake: TlsHandshake) -> Vec<Verdict> {
        evaluate(&observation(TlsProbeResult::Handshake(handshake)), now())
    }

    fn find(verdicts: &[Verdict], check: Check) -> &Verdict {
        verdicts
            .iter()
            .find(|v| v.check == check)
            .unwrap_or_else(|| panic!("no verdict for {}", check.id()))
    }

    fn status(verdicts: &[Verdict], check: Check) -> Status {
        find(verdicts, check).status
    }

    fn assert_all_texts_defined(verdicts: &[Verdict]) {
        for verdict in verdicts {
            assert!(
                verdict.summary.is_defined(),
                "{} summary key {} undefined",
                verdict.check.id(),
                verdict.summary.key
            );
            if let Some(fix) = &verdict.remediation {
                assert!(fix.is_defined(), "remediation key {} undefined", fix.key);
            }
            for lang in Lang::ALL {
                let text = verdict.summary.render(lang);
                assert!(!text.contains('{'), "unfilled placeholder in {text:?}");
            }
        }
    }

    #[test]
    fn a_good_certificate_passes_every_check_with_evidence() {
        let verdicts = grade(good(90));
        assert_eq!(verdicts.len(), 2 + CERTIFICATE_CHECKS.len());
        for verdict in &verdicts {
            assert_eq!(verdict.status, Status::Pass, "{}", verdict.check.id());
            assert_eq!(verdict.target, "www.example.ca:443");
            assert!(verdict.remediation.is_none());
        }
        let connect = find(&verdicts, Check::TlsConnect);
        assert_eq!(
            connect.summary.render(Lang::En),
            "TLS TLSv1.3 handshake with TLS13_AES_128_GCM_SHA256 at 192.0.2.10:443"
        );
        assert_eq!(connect.evidence["address"], "192.0.2.10:443");
        let expiring = find(&verdicts, Check::TlsCertExpiring);
        assert_eq!(expiring.evidence["days_left"], 90);
        assert_all_texts_defined(&verdicts);
    }

    #[test]
    fn expired_by_one_second_fails_critical_and_expiring_does_not_apply() {
        let cert = leaf(now() - Duration::days(90), now() - Duration::seconds(1));
        let verdicts = grade(handshake(cert));
        let expired = find(&verdicts, Check::TlsCertExpired);
        assert_eq!(expired.status, Status::Fail);
        assert_eq!(expired.severity, Severity::Critical);
        assert!(expired.remediation.is_some());
        assert_eq!(status(&verdicts, Check::TlsCertExpiring), Status::Skip);
        // Independent checks: trust and name were judged apart from expiry.
        assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Pass);
        assert_eq!(status(&verdicts, Check::TlsCertNotYetValid), Status::Pass);
        assert_all_texts_defined(&verdicts);

        // At the last valid second, it is not expired yet but fails expiring.
        let cert = leaf(now() - Duration::days(90), now());
        let verdicts = grade(handshake(cert));
        assert_eq!(status(&verdicts, Check::TlsCertExpired), Status::Pass);
        assert_eq!(status(&verdicts, Check::TlsCertExpiring), Status::Fail);
    }

    #[test]
    fn expiring_is_fail_high_within_7_days_warn_within_30_pass_beyond() {
        for (days, expected, severity) in [
            (3, Status::Fail, Severity::High),
            (6, Status::Fail, Severity::High),
            (7, Status::Fail, Severity::High),
            (8, Status::Warn, Severity::Medium),
            (20, Status::Warn, Severity::Medium),
            (30, Status::Warn, Severity::Medium),
            (31, Status::Pass, Severity::Medium),
        ] {
            let verdicts = grade(good(days));
            let expiring = find(&verdicts, Check::TlsCertExpiring);
            assert_eq!(expiring.status, expected, "{days} days left");
            assert_eq!(expiring.severity, severity, "{days} days left");
            assert_eq!(expiring.evidence["days_left"], days);
            assert_eq!(
                expiring.remediation.is_some(),
                expected != Status::Pass,
                "{days}"
            );
            assert_eq!(status(&verdicts, Check::TlsCertExpired), Status::Pass);
        }
        let verdicts = grade(good(6));
        assert_eq!(
            find(&verdicts, Check::TlsCertExpiring)
                .summary
                .render(Lang::Fr),
            "Le certificat expire dans 6 jours, le 2026-03-21 12:00:00 UTC"
        );
    }

    #[test]
    fn ocsp_stapling_is_a_fact_when_absent_and_unknown_in_old_reports() {
        let mut hs = good(90);
        hs.ocsp_stapled = Some(false);
        let verdicts = grade(hs.clone());
        let ocsp = find(&verdicts, Check::TlsOcspStapling);
        assert_eq!((ocsp.status, ocsp.severity), (Status::Info, Severity::Info));
        assert_eq!(ocsp.evidence["ocsp_stapled"], false);
        assert!(ocsp.remediation.is_some());
        assert_all_texts_defined(&verdicts);
        hs.ocsp_stapled = None;
        assert!(!grade(hs).iter().any(|v| v.check == Check::TlsOcspStapling));
    }

    #[test]
    fn not_yet_valid_fails_high() {
        let cert = leaf(now() + Duration::days(2), now() + Duration::days(92));
        let verdicts = grade(handshake(cert));
        let verdict = find(&verdicts, Check::TlsCertNotYetValid);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::High);
        assert_eq!(verdict.evidence["days_until_valid"], 2);
        assert_eq!(status(&verdicts, Check::TlsCertExpired), Status::Pass);
        assert_eq!(status(&verdicts, Check::TlsCertExpiring), Status::Pass);
        // One second before its start, it is not valid yet; at its start it is.
        let cert = leaf(now() + Duration::seconds(1), now() + Duration::days(92));
        assert_eq!(
            status(&grade(handshake(cert)), Check::TlsCertNotYetValid),
            Status::Fail
        );
        let cert = leaf(now(), now() + Duration::days(92));
        assert_eq!(
            status(&grade(handshake(cert)), Check::TlsCertNotYetValid),
            Status::Pass
        );
    }

    #[test]
    fn self_signed_fails_high_with_remediation() {
        let mut hs = good(90);
        hs.certificates[0].self_signed = true;
        hs.certificates[0].issuer = hs.certificates[0].subject.clone();
        hs.chain.trusted = false;
        hs.chain.error = Some("UnknownIssuer".to_owned());
        let verdicts = grade(hs);
        let verdict = find(&verdicts, Check::TlsCertSelfSigned);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::High);
        assert!(verdict.remediation.is_some());
        assert_eq!(status(&verdicts, Check::TlsCertUntrusted), Status::Fail);
        assert_all_texts_defined(&verdicts);
    }

    #[test]
    fn untrusted_chain_fails_with_the_reason_in_summary_and_evidence() {
        let mut hs = good(90);
        hs.chain.trusted = false;
        hs.chain.error = Some("no path to a trusted root (UnknownIssuer)".to_owned());
        let verdicts = grade(hs);
        let verdict = find(&verdicts, Check::TlsCertUntrusted);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::High);
        assert!(verdict.summary.render(Lang::En).contains("UnknownIssuer"));
        assert_eq!(
            verdict.evidence["error"],
            "no path to a trusted root (UnknownIssuer)"
        );
        assert_eq!(verdict.evidence["trust_store"], "system+ca-file");
        assert_eq!(status(&verdicts, Check::TlsCertSelfSigned), Status::Pass);
        assert_eq!(
            status(&verdicts, Check::TlsCertHostnameMismatch),
            Status::Pass
        );
    }

    #[test]
    fn hostname_mismatch_names_what_the_certificate_is_for() {
        let mut hs = good(90);
        hs.hostname_matches = false;
        let verdicts = grade(hs.clone());
        let verdict = find(&verdicts, Check::TlsCertHostnameMismatch);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::High);
        assert_eq!(
            verdict.summary.render(Lang::En),
            "The certificate is not valid for www.example.ca: it names www.example.ca, example.ca"
        );
        assert_eq!(
            verdict.evidence["subject_alt_names"],
            serde_json::json!(["www.example.ca", "example.ca"])
        );
        hs.certificates[0].subject_alt_names.clear();
        let verdicts = grade(hs);
        let verdict = find(&verdicts, Check::TlsCertHostnameMismatch);
        assert_eq!(
            verdict.summary.key,
            "tls.cert.hostname_mismatch.fail_no_names"
        );
        assert_all_texts_defined(&verdicts);
    }

    #[test]
    fn a_failed_probe_is_a_connect_error_and_every_certificate_check_an_error() {
        for stage in [
            ProbeStage::Resolve,
            ProbeStage::Connect,
            ProbeStage::Handshake,
        ] {
            let obs = observation(TlsProbeResult::Failed {
                stage,
                error: "connection refused".to_owned(),
            });
            let verdicts = evaluate(&obs, now());
            assert_eq!(verdicts.len(), 1 + CERTIFICATE_CHECKS.len());
            let connect = find(&verdicts, Check::TlsConnect);
            assert_eq!(connect.status, Status::Error);
            assert_eq!(connect.severity, Severity::High);
            assert_eq!(connect.evidence["stage"], stage.as_str());
            assert_eq!(connect.evidence["error"], "connection refused");
            assert!(connect
                .summary
                .render(Lang::En)
                .contains("connection refused"));
            assert!(connect.remediation.is_some());
            for check in CERTIFICATE_CHECKS {
                let verdict = find(&verdicts, check);
                assert_eq!(verdict.status, Status::Error, "{}", check.id());
                assert!(verdict
                    .summary
                    .render(Lang::En)
                    .starts_with("Not checked: no TLS handshake with www.example.ca:443"));
            }
            assert_all_texts_defined(&verdicts);
        }
    }

    #[test]
    fn a_handshake_without_certificate_is_an_error_per_certificate_check() {
        let mut hs = good(90);
        hs.certificates.clear();
        let verdicts = grade(hs);
        assert_eq!(status(&verdicts, Check::TlsConnect), Status::Pass);
        for check in CERTIFICATE_CHECKS {
            assert_eq!(status(&verdicts, check), Status::Error);
        }
        assert_all_texts_defined(&verdicts);
    }

    #[test]
    fn every_verdict_renders_in_both_languages_without_fallback() {
        // A French rendering equal to the key would mean the key is missing in fr.
        let mut all = grade(good(3));
        all.extend(grade(good(20)));
        let mut bad = good(90);
        bad.hostname_matches = false;
        bad.chain.trusted = false;
        bad.chain.error = Some("x".to_owned());
        bad.certificates[0].self_signed = true;
        all.extend(grade(bad));
        all.extend(evaluate(
            &observation(TlsProbeResult::Failed {
                stage: ProbeStage::Handshake,
                error: "x".to_owned(),
            }),
            now(),
        ));
        assert_all_texts_defined(&all);
        for verdict in &all {
            assert_ne!(
                verdict.summary.render(Lang::En),
                verdict.summary.render(Lang::Fr),
                "{}",
                verdict.summary.key
            );
        }
    }
}
