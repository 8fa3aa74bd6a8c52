//! Pure grading of a TLS observation: no I/O, time only from `now`.
//!
//! Each certificate check stands on its own: the trust path was judged inside the leaf's
//! validity window and the name apart, so an expired certificate from a trusted CA gives
//! `tls.cert.expired` fail and `tls.cert.untrusted` pass. When there was no handshake, every
//! check is an `error` that says why, never a silent gap.

use chrono::{DateTime, Duration, Utc};
use vigie_model::{
    CertificateInfo, Check, FailureKind, Message, ProbeStage, Severity, Status, TlsHandshake,
    TlsObservation, TlsProbeResult, Verdict,
};

use super::posture::{self, Profile};

/// `tls.cert.expiring` fails (severity high) when the certificate expires within this.
pub const EXPIRING_FAIL_WITHIN: Duration = Duration::days(7);
/// `tls.cert.expiring` warns when the certificate expires within this.
pub const EXPIRING_WARN_WITHIN: Duration = Duration::days(30);

/// The certificate checks this module grades, in report order after `tls.connect`.
pub const CERTIFICATE_CHECKS: [Check; 10] = [
    Check::TlsCertUntrusted,
    Check::TlsCertSelfSigned,
    Check::TlsCertIncompleteChain,
    Check::TlsCertHostnameMismatch,
    Check::TlsCertExpired,
    Check::TlsCertNotYetValid,
    Check::TlsCertExpiring,
    Check::TlsCertWeakKey,
    Check::TlsCertWeakSignature,
    Check::TlsCertTransparency,
];

/// `tls.cert.weak_key`: the smallest RSA (and DSA) modulus that passes.
pub const MIN_RSA_BITS: u32 = 2048;
/// `tls.cert.weak_key`: the smallest elliptic-curve key that passes.
pub const MIN_EC_BITS: u32 = 256;

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
        TlsProbeResult::Failed { stage, error, kind } => failed(observation, *stage, error, *kind),
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
                let must_staple = handshake
                    .certificates
                    .first()
                    .is_some_and(|leaf| leaf.must_staple);
                verdicts.push(ocsp_verdict(target, stapled, must_staple));
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

fn failed(
    observation: &TlsObservation,
    stage: ProbeStage,
    error: &str,
    kind: Option<FailureKind>,
) -> Vec<Verdict> {
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
    // Only the probe classifies: a report of an older agent has no kind, and none is guessed.
    if let Some(kind) = kind {
        connect = connect.evidence("failure", kind.as_str());
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
        incomplete_chain_verdict(target, handshake),
        hostname,
        expired,
        not_yet_valid,
        expiring,
        weak_key_verdict(target, handshake),
        weak_signature_verdict(target, handshake),
        transparency_verdict(target, handshake, leaf),
    ]
}

/// The certificates whose own key and signature are the server's business: the leaf and the
/// intermediates. A self-signed certificate after the leaf is a root the server sent along;
/// clients take roots from their trust store, so its key and self-signature do not count.
fn judged_certificates(
    handshake: &TlsHandshake,
) -> impl Iterator<Item = (usize, &CertificateInfo)> {
    handshake
        .certificates
        .iter()
        .enumerate()
        .filter(|(position, cert)| *position == 0 || !cert.self_signed)
}

/// What the evidence says of one certificate: enough to find it and to see why it was judged.
fn certificate_evidence(position: usize, cert: &CertificateInfo) -> serde_json::Value {
    serde_json::json!({
        "position": position,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "signature_algorithm": cert.signature_algorithm,
    })
}

/// `RSA 1024 bits (CN=www.example.ca)`, the same in both languages.
fn describe_key(cert: &CertificateInfo) -> String {
    match cert.key_bits {
        Some(bits) => format!("{} {bits} bits ({})", cert.key_type, cert.subject),
        None => format!("{} ({})", cert.key_type, cert.subject),
    }
}

/// Whether a key is below the spec's floor: RSA < 2048, EC < 256, any DSA.
fn weak_key(cert: &CertificateInfo) -> bool {
    match (cert.key_type.as_str(), cert.key_bits) {
        ("RSA", Some(bits)) => bits < MIN_RSA_BITS,
        ("EC", Some(bits)) => bits < MIN_EC_BITS,
        ("DSA", _) => true,
        _ => false,
    }
}

fn weak_key_verdict(target: &str, handshake: &TlsHandshake) -> Verdict {
    let judged: Vec<_> = judged_certificates(handshake).collect();
    let weak: Vec<String> = judged
        .iter()
        .filter(|(_, cert)| weak_key(cert))
        .map(|(_, cert)| describe_key(cert))
        .collect();
    let verdict = if weak.is_empty() {
        let keys: Vec<String> = judged.iter().map(|(_, c)| describe_key(c)).collect();
        Verdict::new(
            Check::TlsCertWeakKey,
            target,
            Status::Pass,
            Message::new("tls.cert.weak_key.pass").arg("keys", keys.join(", ")),
        )
    } else {
        Verdict::new(
            Check::TlsCertWeakKey,
            target,
            Status::Fail,
            Message::new("tls.cert.weak_key.fail").arg("weak", weak.join(", ")),
        )
        .remediation(Message::new("tls.cert.weak_key.fix"))
    };
    let certificates: Vec<_> = judged
        .iter()
        .map(|(position, cert)| certificate_evidence(*position, cert))
        .collect();
    let mut verdict = verdict
        .evidence("certificates", certificates)
        .evidence("weak", &weak)
        .evidence("min_rsa_bits", MIN_RSA_BITS)
        .evidence("min_ec_bits", MIN_EC_BITS);
    if let Some(reason) = &handshake.key_proof_unverified {
        verdict = verdict.evidence("key_proof_unverified", reason);
    }
    verdict
}

/// SHA-1, MD5 and older hashes, by the names x509-parser gives signature algorithms
/// (`sha1WithRSAEncryption`, `ecdsa-with-SHA1`, `md5WithRSAEncryption`…).
fn weak_signature(algorithm: &str) -> bool {
    let lower = algorithm.to_ascii_lowercase();
    ["sha1", "sha-1", "md5", "md4", "md2"]
        .iter()
        .any(|hash| lower.contains(hash))
}

fn weak_signature_verdict(target: &str, handshake: &TlsHandshake) -> Verdict {
    let judged: Vec<_> = judged_certificates(handshake).collect();
    let weak: Vec<String> = judged
        .iter()
        .filter(|(_, cert)| weak_signature(&cert.signature_algorithm))
        .map(|(_, cert)| format!("{} ({})", cert.signature_algorithm, cert.subject))
        .collect();
    let verdict = if weak.is_empty() {
        let mut algorithms: Vec<&str> = judged
            .iter()
            .map(|(_, c)| c.signature_algorithm.as_str())
            .collect();
        algorithms.dedup();
        Verdict::new(
            Check::TlsCertWeakSignature,
            target,
            Status::Pass,
            Message::new("tls.cert.weak_signature.pass").arg("algorithms", algorithms.join(", ")),
        )
    } else {
        Verdict::new(
            Check::TlsCertWeakSignature,
            target,
            Status::Fail,
            Message::new("tls.cert.weak_signature.fail").arg("weak", weak.join(", ")),
        )
        .remediation(Message::new("tls.cert.weak_signature.fix"))
    };
    let certificates: Vec<_> = judged
        .iter()
        .map(|(position, cert)| certificate_evidence(*position, cert))
        .collect();
    verdict
        .evidence("certificates", certificates)
        .evidence("weak", &weak)
}

/// The certificate at which the chain the server sent stops short: following issuers from
/// the leaf through the certificates sent, the first one whose issuer was not sent and which
/// is not self-signed. `None` when the chain ends in a self-signed certificate.
fn chain_end_missing_issuer(certificates: &[CertificateInfo]) -> Option<&CertificateInfo> {
    let mut current = certificates.first()?;
    // Bounded by the chain's length, so that a loop of issuers cannot spin.
    for _ in 0..certificates.len() {
        if current.self_signed {
            return None;
        }
        match certificates
            .iter()
            .find(|c| c.subject == current.issuer && c.sha256 != current.sha256)
        {
            Some(issuer) => current = issuer,
            None => return Some(current),
        }
    }
    None
}

/// `tls.cert.incomplete_chain`. Only an unknown issuer can come from a missing
/// intermediate; when the chain fails for another reason, `tls.cert.untrusted` says why.
/// The AIA `caIssuers` URL is the hint that an intermediate exists and names where it is;
/// it is recorded, never fetched.
fn incomplete_chain_verdict(target: &str, handshake: &TlsHandshake) -> Verdict {
    let sent = handshake.certificates.len();
    let unknown_issuer = !handshake.chain.trusted
        && handshake
            .chain
            .error
            .as_deref()
            .is_some_and(|e| e.contains("UnknownIssuer"));
    let missing = unknown_issuer
        .then(|| chain_end_missing_issuer(&handshake.certificates))
        .flatten();
    let pass = || {
        Verdict::new(
            Check::TlsCertIncompleteChain,
            target,
            Status::Pass,
            Message::new("tls.cert.incomplete_chain.pass").arg("count", sent),
        )
    };
    let verdict = match missing {
        None => pass(),
        Some(last) => {
            let verdict = match last.ca_issuers.first() {
                Some(url) => Verdict::new(
                    Check::TlsCertIncompleteChain,
                    target,
                    Status::Fail,
                    Message::new("tls.cert.incomplete_chain.fail")
                        .arg("issuer", &last.issuer)
                        .arg("url", url),
                ),
                None => Verdict::new(
                    Check::TlsCertIncompleteChain,
                    target,
                    Status::Warn,
                    Message::new("tls.cert.incomplete_chain.warn").arg("issuer", &last.issuer),
                ),
            };
            verdict
                .remediation(Message::new("tls.cert.incomplete_chain.fix"))
                .evidence("missing_issuer", &last.issuer)
                .evidence("issued_to", &last.subject)
                .evidence("ca_issuers", &last.ca_issuers)
        }
    };
    let chain: Vec<&str> = handshake
        .certificates
        .iter()
        .map(|c| c.subject.as_str())
        .collect();
    verdict
        .evidence("chain", chain)
        .evidence("certificates_sent", sent)
}

/// `tls.cert.transparency`: graded for publicly trusted certificates only, where browsers
/// enforce CT. The probe sees the SCTs embedded in the certificate and those of a stapled
/// OCSP response; rustls does not ask for the SCT TLS extension, so those are not counted.
fn transparency_verdict(target: &str, handshake: &TlsHandshake, leaf: &CertificateInfo) -> Verdict {
    let count = leaf.sct_log_ids.len() + handshake.ocsp_sct_log_ids.len();
    let public = handshake.chain.trusted && handshake.chain.public_root == Some(true);
    let verdict = if !public {
        Verdict::new(
            Check::TlsCertTransparency,
            target,
            Status::Skip,
            Message::new("tls.cert.transparency.private").arg("count", count),
        )
    } else if count > 0 {
        Verdict::new(
            Check::TlsCertTransparency,
            target,
            Status::Pass,
            Message::new("tls.cert.transparency.pass").arg("count", count),
        )
    } else {
        Verdict::new(
            Check::TlsCertTransparency,
            target,
            Status::Fail,
            Message::new("tls.cert.transparency.fail"),
        )
        .remediation(Message::new("tls.cert.transparency.fix"))
    };
    verdict
        .evidence("sct_count", count)
        .evidence("sct_log_ids", &leaf.sct_log_ids)
        .evidence("ocsp_sct_log_ids", &handshake.ocsp_sct_log_ids)
        .evidence("sct_sources_checked", ["certificate", "stapled_ocsp"])
        .evidence("publicly_trusted", public)
}

/// `tls.ocsp_stapling`: a fact (info) when nothing is stapled, as the spec grades it, but a
/// failure (high) when the certificate demands stapling (must-staple, RFC 7633): clients
/// that honour it refuse the connection, so the site is down for them.
fn ocsp_verdict(target: &str, stapled: bool, must_staple: bool) -> Verdict {
    if must_staple && !stapled {
        Verdict::new(
            Check::TlsOcspStapling,
            target,
            Status::Fail,
            Message::new("tls.ocsp_stapling.must_staple"),
        )
        .severity(Severity::High)
        .remediation(Message::new("tls.ocsp_stapling.must_staple_fix"))
    } else if stapled {
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
    .evidence("must_staple", must_staple)
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
            sct_log_ids: vec!["A".repeat(43) + "=", "B".repeat(43) + "="],
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
                public_root: Some(true),
            },
            hostname_matches: true,
            ocsp_stapled: Some(true),
            key_proof_unverified: None,
            ocsp_sct_log_ids: Vec::new(),
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
                kind: None,
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
    fn the_probe_failure_kind_is_evidence_and_never_guessed_from_the_text() {
        let mut obs = observation(TlsProbeResult::Failed {
            stage: ProbeStage::Connect,
            error: "127.0.0.1:9: Connection refused (os error 111)".to_owned(),
            kind: Some(FailureKind::Timeout),
        });
        let verdicts = evaluate(&obs, now());
        let connect = find(&verdicts, Check::TlsConnect);
        assert_eq!(
            connect.evidence["failure"], "timeout",
            "the probe's kind, not the text's"
        );
        // Only tls.connect counts the failure; the certificate checks it skipped do not.
        for check in CERTIFICATE_CHECKS {
            assert!(!find(&verdicts, check).evidence.contains_key("failure"));
        }
        // A report of an older agent: no kind, none guessed.
        obs.result = TlsProbeResult::Failed {
            stage: ProbeStage::Connect,
            error: "127.0.0.1:9: Connection refused (os error 111)".to_owned(),
            kind: None,
        };
        let verdicts = evaluate(&obs, now());
        assert!(!find(&verdicts, Check::TlsConnect)
            .evidence
            .contains_key("failure"));
    }

    #[test]
    fn an_endpoint_refusing_connections_or_not_speaking_tls_gets_no_pass() {
        use vigie_model::{TlsEnumeration, TlsProtocolSupport};
        // A closed port: no enumeration runs.
        let refused = observation(TlsProbeResult::Failed {
            stage: ProbeStage::Connect,
            error: "127.0.0.1:9: Connection refused (os error 111)".to_owned(),
            kind: Some(FailureKind::Refused),
        });
        // A plain-TCP server: the handshake fails, and every enumeration hello is closed.
        let mut plain = observation(TlsProbeResult::Failed {
            stage: ProbeStage::Handshake,
            error: "received corrupt message of type InvalidContentType".to_owned(),
            kind: Some(FailureKind::Protocol),
        });
        plain.enumeration = Some(TlsEnumeration {
            protocols: ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
                .into_iter()
                .map(|protocol| TlsProtocolSupport {
                    protocol: protocol.to_owned(),
                    refusal: Some("connection closed without an answer".to_owned()),
                    ..TlsProtocolSupport::default()
                })
                .collect(),
            handshakes: 6,
            ..TlsEnumeration::default()
        });
        for obs in [refused, plain] {
            for profile in [
                Profile::Modern,
                Profile::ItspStrict,
                Profile::MozillaIntermediate,
            ] {
                let verdicts = evaluate_with_profile(&obs, now(), profile);
                assert!(verdicts.len() > 1);
                for verdict in &verdicts {
                    assert_eq!(
                        verdict.status,
                        Status::Error,
                        "{}: {}",
                        verdict.check.id(),
                        verdict.summary.render(Lang::En)
                    );
                }
                assert_all_texts_defined(&verdicts);
            }
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
                kind: None,
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

    fn intermediate(subject: &str, issuer: &str) -> CertificateInfo {
        let mut cert = leaf(now() - Duration::days(365), now() + Duration::days(365));
        cert.subject = subject.to_owned();
        cert.issuer = issuer.to_owned();
        cert.subject_alt_names.clear();
        cert.sha256 = "11".repeat(32);
        cert
    }

    fn unknown_issuer(hs: &mut TlsHandshake) {
        hs.chain.trusted = false;
        hs.chain.error = Some("no path to a trusted root (UnknownIssuer)".to_owned());
        hs.chain.public_root = None;
    }

    #[test]
    fn a_missing_intermediate_named_by_aia_fails_incomplete_chain_with_url_and_issuer() {
        let mut hs = good(90);
        hs.certificates[0].ca_issuers = vec!["http://ca.example.ca/issuing.crt".to_owned()];
        unknown_issuer(&mut hs);
        let verdicts = grade(hs.clone());
        let verdict = find(&verdicts, Check::TlsCertIncompleteChain);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::Medium);
        assert_eq!(verdict.evidence["missing_issuer"], "CN=Example CA");
        assert_eq!(
            verdict.evidence["ca_issuers"],
            serde_json::json!(["http://ca.example.ca/issuing.crt"])
        );
        assert!(verdict
            .summary
            .render(Lang::Fr)
            .contains("http://ca.example.ca/issuing.crt"));
        // Without the hint, it cannot be told from an unknown root: a warning.
        hs.certificates[0].ca_issuers.clear();
        let verdicts = grade(hs.clone());
        assert_eq!(
            status(&verdicts, Check::TlsCertIncompleteChain),
            Status::Warn
        );
        // With the intermediate sent, the chain reaches a self-signed root: nothing missing
        // even if that root is not trusted.
        let mut root = intermediate("CN=Example CA", "CN=Example CA");
        root.self_signed = true;
        hs.certificates.push(root);
        hs.certificates[0].ca_issuers = vec!["http://ca.example.ca/issuing.crt".to_owned()];
        assert_eq!(
            status(&grade(hs), Check::TlsCertIncompleteChain),
            Status::Pass
        );
        assert_all_texts_defined(&verdicts);
    }

    #[test]
    fn a_chain_failing_for_another_reason_is_not_called_incomplete() {
        let mut hs = good(90);
        hs.certificates[0].ca_issuers = vec!["http://ca.example.ca/issuing.crt".to_owned()];
        hs.chain.trusted = false;
        hs.chain.error = Some("a signature in the chain does not verify".to_owned());
        assert_eq!(
            status(&grade(hs), Check::TlsCertIncompleteChain),
            Status::Pass
        );
    }

    #[test]
    fn weak_keys_fail_at_the_spec_boundaries_for_leaf_and_intermediates() {
        for (key_type, bits, weak) in [
            ("RSA", 1024, true),
            ("RSA", 2047, true),
            ("RSA", 2048, false),
            ("EC", 224, true),
            ("EC", 256, false),
            ("DSA", 2048, true),
            ("Ed25519", 256, false),
        ] {
            let mut hs = good(90);
            hs.certificates[0].key_type = key_type.to_owned();
            hs.certificates[0].key_bits = Some(bits);
            let verdicts = grade(hs.clone());
            let verdict = find(&verdicts, Check::TlsCertWeakKey);
            let expected = if weak { Status::Fail } else { Status::Pass };
            assert_eq!(verdict.status, expected, "{key_type} {bits}");
            assert_eq!(verdict.evidence["certificates"][0]["key_bits"], bits);
            assert_eq!(verdict.evidence["certificates"][0]["serial"], "01ab");
            // The same key in an intermediate.
            let mut hs = good(90);
            let mut int = intermediate("CN=Example CA", "CN=Example Root");
            int.key_type = key_type.to_owned();
            int.key_bits = Some(bits);
            hs.certificates.push(int);
            assert_eq!(status(&grade(hs), Check::TlsCertWeakKey), expected);
        }
        // A self-signed root sent along is the trust store's business.
        let mut hs = good(90);
        let mut root = intermediate("CN=Example Root", "CN=Example Root");
        root.self_signed = true;
        root.key_type = "RSA".to_owned();
        root.key_bits = Some(1024);
        hs.certificates.push(root);
        assert_eq!(status(&grade(hs), Check::TlsCertWeakKey), Status::Pass);
    }

    #[test]
    fn sha1_or_md5_in_leaf_or_intermediate_fails_weak_signature() {
        for (algorithm, weak) in [
            ("sha1WithRSAEncryption", true),
            ("ecdsa-with-SHA1", true),
            ("md5WithRSAEncryption", true),
            ("sha256WithRSAEncryption", false),
            ("ecdsa-with-SHA384", false),
            ("ED25519", false),
        ] {
            let expected = if weak { Status::Fail } else { Status::Pass };
            let mut hs = good(90);
            hs.certificates[0].signature_algorithm = algorithm.to_owned();
            let verdicts = grade(hs);
            let verdict = find(&verdicts, Check::TlsCertWeakSignature);
            assert_eq!(verdict.status, expected, "{algorithm}");
            assert_eq!(
                verdict.evidence["certificates"][0]["signature_algorithm"],
                algorithm
            );
            let mut hs = good(90);
            let mut int = intermediate("CN=Example CA", "CN=Example Root");
            int.signature_algorithm = algorithm.to_owned();
            hs.certificates.push(int);
            assert_eq!(status(&grade(hs), Check::TlsCertWeakSignature), expected);
        }
    }

    #[test]
    fn transparency_is_graded_for_public_roots_only() {
        let mut hs = good(90);
        hs.certificates[0].sct_log_ids.clear();
        assert_eq!(
            status(&grade(hs.clone()), Check::TlsCertTransparency),
            Status::Fail
        );
        hs.certificates[0].sct_log_ids = vec!["a".repeat(44), "b".repeat(44)];
        let verdicts = grade(hs.clone());
        let verdict = find(&verdicts, Check::TlsCertTransparency);
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(verdict.evidence["sct_count"], 2);
        // SCTs from the stapled OCSP response count as well.
        let mut stapled = hs.clone();
        stapled.certificates[0].sct_log_ids.clear();
        stapled.ocsp_sct_log_ids = vec!["c".repeat(44)];
        let verdicts = grade(stapled);
        let verdict = find(&verdicts, Check::TlsCertTransparency);
        assert_eq!(verdict.status, Status::Pass);
        assert_eq!(verdict.evidence["sct_count"], 1);
        hs.chain.public_root = Some(false);
        assert_eq!(
            status(&grade(hs.clone()), Check::TlsCertTransparency),
            Status::Skip
        );
        unknown_issuer(&mut hs);
        assert_eq!(status(&grade(hs), Check::TlsCertTransparency), Status::Skip);
    }

    #[test]
    fn must_staple_without_a_stapled_response_fails_high() {
        let mut hs = good(90);
        hs.certificates[0].must_staple = true;
        hs.ocsp_stapled = Some(false);
        let verdicts = grade(hs.clone());
        let verdict = find(&verdicts, Check::TlsOcspStapling);
        assert_eq!(verdict.status, Status::Fail);
        assert_eq!(verdict.severity, Severity::High);
        assert_eq!(verdict.evidence["must_staple"], true);
        assert_all_texts_defined(&verdicts);
        hs.ocsp_stapled = Some(true);
        assert_eq!(
            status(&grade(hs.clone()), Check::TlsOcspStapling),
            Status::Pass
        );
        hs.certificates[0].must_staple = false;
        hs.ocsp_stapled = Some(false);
        assert_eq!(status(&grade(hs), Check::TlsOcspStapling), Status::Info);
    }

    #[test]
    fn the_new_certificate_checks_render_in_both_languages() {
        let mut all = Vec::new();
        let mut hs = good(90);
        all.extend(grade(hs.clone()));
        hs.certificates[0].sct_log_ids.clear();
        hs.certificates[0].key_bits = Some(1024);
        hs.certificates[0].key_type = "RSA".to_owned();
        hs.certificates[0].signature_algorithm = "sha1WithRSAEncryption".to_owned();
        hs.certificates[0].sct_log_ids = vec!["x".to_owned()];
        hs.certificates[0].must_staple = true;
        hs.ocsp_stapled = Some(false);
        all.extend(grade(hs.clone()));
        hs.certificates[0].ca_issuers = vec!["http://x/".to_owned()];
        unknown_issuer(&mut hs);
        all.extend(grade(hs.clone()));
        hs.certificates[0].ca_issuers.clear();
        all.extend(grade(hs));
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
