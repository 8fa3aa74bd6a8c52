//! Pure grading of a protocol and cipher enumeration ([`TlsEnumeration`]) into the
//! `tls.protocol.*`, `tls.cipher.*`, `tls.compression`, `tls.renegotiation`,
//! `tls.extended_master_secret`, `tls.fallback_scsv` and `tls.policy.itsp_40_062` verdicts.
//!
//! Evidence names the protocol and suite (or group) at fault. `tls.policy.itsp_40_062` is
//! always the strict ITSP.40.062 view; the [`Profile`] decides how the other suites are tiered
//! in `tls.cipher.list` (`modern` accepts unlisted strong primitives such as ChaCha20 and
//! X25519).

use serde_json::{json, Value};
use vigie_model::{Check, Message, Severity, Status, TlsEnumeration, TlsProtocolSupport, Verdict};

use super::ciphers::{self, CipherMode, CipherSuite};
use super::protocol::ProtocolVersion;

/// A grading profile (`--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// ITSP.40.062 tiers, plus unlisted primitives that are strong (AEAD with forward secrecy,
    /// X25519/X448) counted as sufficient.
    #[default]
    Modern,
    /// ITSP.40.062 tiers exactly: anything unlisted is not acceptable.
    ItspStrict,
    /// Mozilla's "intermediate" server configuration (v5.7).
    MozillaIntermediate,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Modern => "modern",
            Profile::ItspStrict => "itsp-strict",
            Profile::MozillaIntermediate => "mozilla-intermediate",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "modern" => Ok(Profile::Modern),
            "itsp-strict" => Ok(Profile::ItspStrict),
            "mozilla-intermediate" => Ok(Profile::MozillaIntermediate),
            other => Err(format!(
                "unknown TLS profile `{other}` (expected modern, itsp-strict or mozilla-intermediate)"
            )),
        }
    }
}

/// Where a suite, group or protocol stands in a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Recommended,
    Sufficient,
    PhaseOut,
    NotListed,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Recommended => "recommended",
            Tier::Sufficient => "sufficient",
            Tier::PhaseOut => "phase-out",
            Tier::NotListed => "not-listed",
        }
    }
}

/// ITSP.40.062 tier of a suite, as the guidance's TLS 1.3 and TLS 1.2 tables list them.
pub fn itsp_suite_tier(suite: &CipherSuite) -> Tier {
    match suite.name {
        "TLS_AES_256_GCM_SHA384"
        | "TLS_AES_128_GCM_SHA256"
        | "TLS_AES_128_CCM_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"
        | "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => Tier::Recommended,
        "TLS_AES_128_CCM_8_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" => Tier::Sufficient,
        _ => {
            let aes_or_3des =
                suite.encryption.starts_with("AES_") || suite.encryption == "3DES_EDE_CBC";
            let phase_out_kx = matches!(suite.key_exchange, "DHE" | "ECDHE" | "RSA")
                && matches!(suite.authentication, "RSA" | "DSS" | "ECDSA");
            let sha1_cbc = suite.mode == CipherMode::Cbc && suite.mac == "SHA1";
            if aes_or_3des
                && phase_out_kx
                && (suite.key_exchange != "ECDHE" || sha1_cbc || suite.is_des())
            {
                Tier::PhaseOut
            } else {
                Tier::NotListed
            }
        }
    }
}

/// ITSP.40.062 tier of a named group.
pub fn itsp_group_tier(group: &str) -> Tier {
    match group {
        "secp256r1" | "secp384r1" | "secp521r1" => Tier::Recommended,
        "ffdhe3072" | "ffdhe4096" | "ffdhe6144" | "ffdhe8192" => Tier::Sufficient,
        "secp224r1" | "ffdhe2048" => Tier::PhaseOut,
        g if g.starts_with("sect") => Tier::PhaseOut,
        _ => Tier::NotListed,
    }
}

/// The tier of a suite in `profile`.
pub fn suite_tier(profile: Profile, suite: &CipherSuite) -> Tier {
    let itsp = itsp_suite_tier(suite);
    match profile {
        Profile::ItspStrict => itsp,
        Profile::Modern => {
            let strong = suite.mode == CipherMode::Aead
                && suite.forward_secrecy()
                && suite.bits >= 128
                && !suite.is_anonymous()
                && matches!(suite.authentication, "RSA" | "ECDSA" | "any");
            if itsp == Tier::NotListed && strong {
                Tier::Sufficient
            } else {
                itsp
            }
        }
        Profile::MozillaIntermediate => match suite.name {
            "TLS_AES_128_GCM_SHA256"
            | "TLS_AES_256_GCM_SHA384"
            | "TLS_CHACHA20_POLY1305_SHA256"
            | "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            | "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            | "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
            | "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => Tier::Recommended,
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
            | "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
            | "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => Tier::Sufficient,
            _ => Tier::NotListed,
        },
    }
}

/// One accepted suite, resolved in the registry.
struct Accepted<'a> {
    protocol: &'a str,
    name: &'a str,
    suite: Option<&'static CipherSuite>,
}

impl Accepted<'_> {
    fn evidence(&self) -> Value {
        json!({"protocol": self.protocol, "suite": self.name})
    }
    fn label(&self) -> String {
        format!("{} {}", self.protocol, self.name)
    }
}

fn accepted_suites(enumeration: &TlsEnumeration) -> Vec<Accepted<'_>> {
    enumeration
        .protocols
        .iter()
        .filter(|p| p.accepted)
        .flat_map(|p| {
            p.cipher_suites.iter().map(move |name| Accepted {
                protocol: &p.protocol,
                name,
                suite: ciphers::by_name(name),
            })
        })
        .collect()
}

fn find(enumeration: &TlsEnumeration, protocol: ProtocolVersion) -> Option<&TlsProtocolSupport> {
    enumeration
        .protocols
        .iter()
        .find(|p| p.protocol == protocol.name())
}

/// `a, b, c` then `… (n more)`: summaries stay one line.
fn short_list(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" (+{})", items.len() - SHOWN));
    }
    text
}

/// The verdicts of an enumeration of `target`, graded with `profile`.
pub fn evaluate_enumeration(
    target: &str,
    enumeration: &TlsEnumeration,
    profile: Profile,
) -> Vec<Verdict> {
    let mut verdicts = protocol_verdicts(target, enumeration);
    if !enumeration.protocols.iter().any(|p| p.accepted) {
        // No TLS version was spoken: nothing is known of suites or extensions, and a
        // "refusal" of an old protocol by an endpoint that refuses every version (or does
        // not speak TLS) is no assurance either.
        let (summary, error) = match enumeration.protocols.iter().find_map(|p| p.refusal.clone()) {
            Some(refusal) => (
                Message::new("tls.enumeration.none_accepted")
                    .arg("target", target)
                    .arg("refusal", &refusal),
                refusal,
            ),
            None => {
                let error = enumeration
                    .protocols
                    .iter()
                    .find_map(|p| p.error.clone())
                    .unwrap_or_else(|| "-".to_owned());
                (
                    Message::new("tls.enumeration.not_checked")
                        .arg("target", target)
                        .arg("error", &error),
                    error,
                )
            }
        };
        for verdict in &mut verdicts {
            if verdict.status != Status::Error {
                verdict.status = Status::Error;
                verdict.summary = summary.clone();
                verdict.remediation =
                    Some(Message::new("tls.connect.fix.handshake").arg("target", target));
                verdict
                    .evidence
                    .insert("error".to_owned(), Value::String(error.clone()));
            }
        }
        for check in SUITE_CHECKS {
            verdicts.push(
                Verdict::new(check, target, Status::Error, summary.clone())
                    .evidence("error", &error),
            );
        }
        return verdicts;
    }
    let accepted = accepted_suites(enumeration);
    verdicts.extend(cipher_verdicts(target, enumeration, &accepted, profile));
    verdicts.extend(extension_verdicts(target, enumeration));
    verdicts.extend(heartbleed_verdict(target, enumeration));
    verdicts.push(itsp_verdict(target, enumeration, &accepted, profile));
    for verdict in &mut verdicts {
        if enumeration.truncated {
            verdict
                .evidence
                .insert("truncated".to_owned(), Value::Bool(true));
        }
    }
    verdicts
}

/// The checks graded from accepted suites and extensions, after the protocol checks.
pub const SUITE_CHECKS: [Check; 15] = [
    Check::TlsCipherNull,
    Check::TlsCipherAnon,
    Check::TlsCipherExport,
    Check::TlsCipherRc4,
    Check::TlsCipherDes,
    Check::TlsCipherCbc,
    Check::TlsCipherNoForwardSecrecy,
    Check::TlsCipherWeakDh,
    Check::TlsCipherList,
    Check::TlsCompression,
    Check::TlsRenegotiation,
    Check::TlsExtendedMasterSecret,
    Check::TlsFallbackScsv,
    Check::TlsHeartbleed,
    Check::TlsPolicyItsp40062,
];

fn protocol_verdicts(target: &str, enumeration: &TlsEnumeration) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for (check, protocol) in [
        (Check::TlsProtocolSslv2, ProtocolVersion::Ssl2),
        (Check::TlsProtocolSslv3, ProtocolVersion::Ssl3),
        (Check::TlsProtocolTls10, ProtocolVersion::Tls10),
        (Check::TlsProtocolTls11, ProtocolVersion::Tls11),
    ] {
        let Some(support) = find(enumeration, protocol) else {
            continue;
        };
        let verdict = if support.accepted {
            Verdict::new(
                check,
                target,
                Status::Fail,
                Message::new("tls.protocol.accepted").arg("protocol", protocol),
            )
            .remediation(Message::new("tls.protocol.legacy.fix").arg("protocol", protocol))
            .evidence("cipher_suites", &support.cipher_suites)
        } else if let Some(error) = &support.error {
            protocol_error(check, target, protocol, error)
        } else {
            Verdict::new(
                check,
                target,
                Status::Pass,
                Message::new("tls.protocol.refused")
                    .arg("protocol", protocol)
                    .arg("refusal", support.refusal.as_deref().unwrap_or("-")),
            )
        };
        verdicts.push(with_protocol_evidence(verdict, support));
    }

    let tls12 = find(enumeration, ProtocolVersion::Tls12);
    let tls13 = find(enumeration, ProtocolVersion::Tls13);
    if let Some(support) = tls12 {
        let tls13_accepted = tls13.is_some_and(|p| p.accepted);
        let verdict = if support.accepted {
            Verdict::new(
                Check::TlsProtocolTls12,
                target,
                Status::Info,
                Message::new("tls.protocol.accepted").arg("protocol", ProtocolVersion::Tls12),
            )
        } else if let Some(error) = &support.error {
            protocol_error(
                Check::TlsProtocolTls12,
                target,
                ProtocolVersion::Tls12,
                error,
            )
        } else if tls13_accepted {
            Verdict::new(
                Check::TlsProtocolTls12,
                target,
                Status::Info,
                Message::new("tls.protocol.tls1_2.only_tls1_3"),
            )
        } else {
            Verdict::new(
                Check::TlsProtocolTls12,
                target,
                Status::Fail,
                Message::new("tls.protocol.tls1_2.fail"),
            )
            .remediation(Message::new("tls.protocol.tls1_2.fix"))
        };
        verdicts.push(with_protocol_evidence(verdict, support));
    }
    if let Some(support) = tls13 {
        let verdict = if support.accepted {
            Verdict::new(
                Check::TlsProtocolTls13,
                target,
                Status::Pass,
                Message::new("tls.protocol.accepted").arg("protocol", ProtocolVersion::Tls13),
            )
        } else if let Some(error) = &support.error {
            protocol_error(
                Check::TlsProtocolTls13,
                target,
                ProtocolVersion::Tls13,
                error,
            )
        } else {
            Verdict::new(
                Check::TlsProtocolTls13,
                target,
                Status::Warn,
                Message::new("tls.protocol.refused")
                    .arg("protocol", ProtocolVersion::Tls13)
                    .arg("refusal", support.refusal.as_deref().unwrap_or("-")),
            )
            .remediation(Message::new("tls.protocol.tls1_3.fix"))
        };
        verdicts.push(with_protocol_evidence(verdict, support));
    }
    verdicts
}

fn protocol_error(check: Check, target: &str, protocol: ProtocolVersion, error: &str) -> Verdict {
    Verdict::new(
        check,
        target,
        Status::Error,
        Message::new("tls.protocol.error")
            .arg("protocol", protocol)
            .arg("error", error),
    )
    .remediation(Message::new("tls.connect.fix.connect").arg("target", target))
    .evidence("error", error)
}

fn with_protocol_evidence(verdict: Verdict, support: &TlsProtocolSupport) -> Verdict {
    let mut verdict = verdict
        .evidence("protocol", &support.protocol)
        .evidence("accepted", support.accepted);
    if let Some(refusal) = &support.refusal {
        verdict = verdict.evidence("refusal", refusal);
    }
    verdict
}

/// A fail verdict listing the accepted suites matching `is_bad`, or a pass.
fn suite_class(
    target: &str,
    check: Check,
    accepted: &[Accepted<'_>],
    is_bad: impl Fn(&Accepted<'_>) -> bool,
    key: &'static str,
) -> Verdict {
    let bad: Vec<&Accepted<'_>> = accepted.iter().filter(|a| is_bad(a)).collect();
    let (fail, pass, fix) = keys(key);
    if bad.is_empty() {
        Verdict::new(check, target, Status::Pass, Message::new(pass))
    } else {
        let labels: Vec<String> = bad.iter().map(|a| a.label()).collect();
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new(fail).arg("suites", short_list(&labels)),
        )
        .remediation(Message::new(fix))
        .evidence(
            "suites",
            bad.iter().map(|a| a.evidence()).collect::<Vec<_>>(),
        )
    }
}

/// The fail, pass and fix keys of a suite class.
fn keys(class: &'static str) -> (&'static str, &'static str, &'static str) {
    match class {
        "null" => (
            "tls.cipher.null.fail",
            "tls.cipher.null.pass",
            "tls.cipher.null.fix",
        ),
        "anon" => (
            "tls.cipher.anon.fail",
            "tls.cipher.anon.pass",
            "tls.cipher.anon.fix",
        ),
        "export" => (
            "tls.cipher.export.fail",
            "tls.cipher.export.pass",
            "tls.cipher.export.fix",
        ),
        "rc4" => (
            "tls.cipher.rc4.fail",
            "tls.cipher.rc4.pass",
            "tls.cipher.rc4.fix",
        ),
        "des" => (
            "tls.cipher.des.fail",
            "tls.cipher.des.pass",
            "tls.cipher.des.fix",
        ),
        "cbc" => (
            "tls.cipher.cbc.fail",
            "tls.cipher.cbc.pass",
            "tls.cipher.cbc.fix",
        ),
        _ => (
            "tls.cipher.no_forward_secrecy.fail",
            "tls.cipher.no_forward_secrecy.pass",
            "tls.cipher.no_forward_secrecy.fix",
        ),
    }
}

fn cipher_verdicts(
    target: &str,
    enumeration: &TlsEnumeration,
    accepted: &[Accepted<'_>],
    profile: Profile,
) -> Vec<Verdict> {
    let has = |a: &Accepted<'_>, f: fn(&CipherSuite) -> bool| a.suite.is_some_and(f);
    let mut verdicts = vec![
        suite_class(
            target,
            Check::TlsCipherNull,
            accepted,
            |a| has(a, CipherSuite::is_null),
            "null",
        ),
        suite_class(
            target,
            Check::TlsCipherAnon,
            accepted,
            |a| has(a, CipherSuite::is_anonymous),
            "anon",
        ),
        suite_class(
            target,
            Check::TlsCipherExport,
            accepted,
            |a| has(a, |s| s.export),
            "export",
        ),
        suite_class(
            target,
            Check::TlsCipherRc4,
            accepted,
            |a| has(a, CipherSuite::is_rc4),
            "rc4",
        ),
        suite_class(
            target,
            Check::TlsCipherDes,
            accepted,
            |a| has(a, CipherSuite::is_des),
            "des",
        ),
        suite_class(
            target,
            Check::TlsCipherCbc,
            accepted,
            |a| a.protocol == ProtocolVersion::Tls12.name() && has(a, CipherSuite::is_cbc),
            "cbc",
        ),
        suite_class(
            target,
            Check::TlsCipherNoForwardSecrecy,
            accepted,
            |a| {
                has(a, |s| {
                    !s.forward_secrecy()
                        && matches!(s.key_exchange, "RSA" | "DH" | "ECDH")
                        && !s.is_anonymous()
                })
            },
            "no_forward_secrecy",
        ),
    ];

    // Weak DH: the smallest finite-field prime seen.
    let dh = enumeration
        .protocols
        .iter()
        .filter_map(|p| p.dh_bits.map(|bits| (bits, p.protocol.as_str())))
        .min();
    verdicts.push(match dh {
        Some((bits, protocol)) if bits < 2048 => Verdict::new(
            Check::TlsCipherWeakDh,
            target,
            Status::Fail,
            Message::new("tls.cipher.weak_dh.fail")
                .arg("bits", bits)
                .arg("protocol", protocol),
        )
        .remediation(Message::new("tls.cipher.weak_dh.fix"))
        .evidence("dh_bits", bits)
        .evidence("protocol", protocol),
        Some((bits, protocol)) => Verdict::new(
            Check::TlsCipherWeakDh,
            target,
            Status::Pass,
            Message::new("tls.cipher.weak_dh.pass").arg("bits", bits),
        )
        .evidence("dh_bits", bits)
        .evidence("protocol", protocol),
        None => Verdict::new(
            Check::TlsCipherWeakDh,
            target,
            Status::Pass,
            Message::new("tls.cipher.weak_dh.none"),
        ),
    });

    // The list, per protocol, with the profile's tiers.
    let mut per_protocol = Vec::new();
    let mut summary = Vec::new();
    for p in enumeration.protocols.iter().filter(|p| p.accepted) {
        let suites: Vec<Value> = p
            .cipher_suites
            .iter()
            .map(|name| {
                let tier = ciphers::by_name(name)
                    .map(|s| suite_tier(profile, s))
                    .unwrap_or(Tier::NotListed);
                json!({"suite": name, "tier": tier.as_str()})
            })
            .collect();
        per_protocol.push(json!({
            "protocol": p.protocol,
            "preference": p.preference,
            "cipher_suites": suites,
            "groups": p.groups,
            "dh_bits": p.dh_bits,
        }));
        summary.push(format!("{} {}", p.protocol, p.cipher_suites.len()));
    }
    verdicts.push(
        Verdict::new(
            Check::TlsCipherList,
            target,
            Status::Info,
            Message::new("tls.cipher.list.info")
                .arg("count", accepted.len())
                .arg("protocols", summary.join(", ")),
        )
        .evidence("profile", profile.as_str())
        .evidence("protocols", per_protocol)
        .evidence("handshakes", enumeration.handshakes),
    );
    verdicts
}

fn extension_verdicts(target: &str, enumeration: &TlsEnumeration) -> Vec<Verdict> {
    let tri =
        |check: Check, value: Option<bool>, good: bool, key: &'static str, skip: &'static str| {
            let (fail, pass, fix) = match key {
                "compression" => (
                    "tls.compression.fail",
                    "tls.compression.pass",
                    "tls.compression.fix",
                ),
                "renegotiation" => (
                    "tls.renegotiation.fail",
                    "tls.renegotiation.pass",
                    "tls.renegotiation.fix",
                ),
                "ems" => (
                    "tls.extended_master_secret.fail",
                    "tls.extended_master_secret.pass",
                    "tls.extended_master_secret.fix",
                ),
                _ => (
                    "tls.fallback_scsv.fail",
                    "tls.fallback_scsv.pass",
                    "tls.fallback_scsv.fix",
                ),
            };
            match value {
                Some(v) if v == good => {
                    Verdict::new(check, target, Status::Pass, Message::new(pass))
                }
                Some(_) => Verdict::new(check, target, Status::Fail, Message::new(fail))
                    .remediation(Message::new(fix)),
                None => Verdict::new(check, target, Status::Skip, Message::new(skip)),
            }
        };
    let several = enumeration
        .protocols
        .iter()
        .filter(|p| p.accepted && p.protocol != ProtocolVersion::Ssl2.name())
        .count()
        >= 2;
    vec![
        tri(
            Check::TlsCompression,
            enumeration.compression,
            false,
            "compression",
            "tls.enumeration.skip.no_legacy_protocol",
        ),
        tri(
            Check::TlsRenegotiation,
            enumeration.secure_renegotiation,
            true,
            "renegotiation",
            "tls.enumeration.skip.no_legacy_protocol",
        ),
        tri(
            Check::TlsExtendedMasterSecret,
            enumeration.extended_master_secret,
            true,
            "ems",
            "tls.extended_master_secret.skip",
        ),
        tri(
            Check::TlsFallbackScsv,
            enumeration.fallback_scsv,
            true,
            "fallback",
            if several {
                "tls.fallback_scsv.unknown"
            } else {
                "tls.fallback_scsv.skip"
            },
        ),
    ]
}

/// `tls.heartbleed` from the probe's facts. No verdict for an older report that accepted TLS
/// 1.0–1.2 but has no probe: absence is not a pass.
fn heartbleed_verdict(target: &str, enumeration: &TlsEnumeration) -> Option<Verdict> {
    let check = Check::TlsHeartbleed;
    let Some(probe) = &enumeration.heartbeat else {
        let legacy: Vec<Option<&TlsProtocolSupport>> = [
            ProtocolVersion::Tls10,
            ProtocolVersion::Tls11,
            ProtocolVersion::Tls12,
        ]
        .into_iter()
        .map(|protocol| find(enumeration, protocol))
        .collect();
        if legacy.iter().flatten().any(|p| p.accepted) {
            return None;
        }
        // A pass needs TLS 1.0 to 1.2 each seen refused: one that timed out, or was not
        // tried, might be accepted, and Heartbleed would then not have been probed.
        if let Some(error) = legacy.iter().flatten().find_map(|p| p.error.as_deref()) {
            return Some(
                Verdict::new(
                    check,
                    target,
                    Status::Error,
                    Message::new("tls.heartbleed.error").arg("error", error),
                )
                .evidence("error", error),
            );
        }
        if legacy.iter().any(Option::is_none) {
            return Some(Verdict::new(
                check,
                target,
                Status::Skip,
                Message::new("tls.heartbleed.not_probed"),
            ));
        }
        return Some(Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("tls.heartbleed.tls13_only"),
        ));
    };
    let answer = probe.answer.as_deref().unwrap_or("-");
    let verdict = match (probe.vulnerable, &probe.error) {
        (Some(true), _) => Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("tls.heartbleed.fail").arg("answer", answer),
        )
        .remediation(Message::new("tls.heartbleed.fix")),
        (Some(false), _) if !probe.extension_offered => Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("tls.heartbleed.not_offered").arg("protocol", &probe.protocol),
        ),
        (Some(false), _) => Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("tls.heartbleed.pass")
                .arg("protocol", &probe.protocol)
                .arg("answer", answer),
        ),
        (None, error) => {
            let error = error.as_deref().unwrap_or("no conclusive answer");
            Verdict::new(
                check,
                target,
                Status::Error,
                Message::new("tls.heartbleed.error").arg("error", error),
            )
            .evidence("error", error)
        }
    };
    let mut verdict = verdict
        .evidence("protocol", &probe.protocol)
        .evidence("extension_offered", probe.extension_offered);
    if let Some(answer) = &probe.answer {
        verdict = verdict.evidence("answer", answer);
    }
    Some(verdict)
}

/// The strict ITSP.40.062 view: protocols, suites and groups outside its tiers fail;
/// phase-out ones warn.
/// Strong key-exchange groups that ITSP.40.062 does not list but the other profiles accept.
fn group_outside_profile(profile: Profile, group: &str) -> bool {
    itsp_group_tier(group) == Tier::NotListed
        && (profile == Profile::ItspStrict
            || !matches!(group.to_ascii_lowercase().as_str(), "x25519" | "x448"))
}

/// The strict ITSP.40.062 view, always. Its severity follows the profile: when everything
/// outside ITSP is a strong primitive the profile accepts (X25519, ChaCha20-Poly1305 under
/// `modern`), the finding stays a failure of the strict view but at low severity, so that a
/// `--fail-on medium` gate does not fail every modern server.
fn itsp_verdict(
    target: &str,
    enumeration: &TlsEnumeration,
    accepted: &[Accepted<'_>],
    profile: Profile,
) -> Verdict {
    let mut outside_profile = false;
    let mut not_listed: Vec<String> = Vec::new();
    let mut phase_out: Vec<String> = Vec::new();
    let mut items: Vec<Value> = Vec::new();
    for p in enumeration.protocols.iter().filter(|p| p.accepted) {
        if !matches!(p.protocol.as_str(), "TLSv1.2" | "TLSv1.3") {
            outside_profile = true;
            not_listed.push(p.protocol.clone());
            items.push(json!({"protocol": p.protocol, "tier": Tier::NotListed.as_str()}));
        }
        for group in &p.groups {
            let tier = itsp_group_tier(group);
            outside_profile |= group_outside_profile(profile, group);
            let label = format!("{} {group}", p.protocol);
            match tier {
                Tier::NotListed => not_listed.push(label),
                Tier::PhaseOut => phase_out.push(label),
                _ => {}
            }
            if tier >= Tier::PhaseOut {
                items.push(json!({"protocol": p.protocol, "group": group, "tier": tier.as_str()}));
            }
        }
        if let Some(bits) = p.dh_bits {
            let tier = match bits {
                0..=2047 => {
                    outside_profile = true;
                    Tier::NotListed
                }
                2048..=3071 => Tier::PhaseOut,
                _ => Tier::Sufficient,
            };
            let label = format!("{} DH {bits}", p.protocol);
            match tier {
                Tier::NotListed => not_listed.push(label),
                Tier::PhaseOut => phase_out.push(label),
                _ => {}
            }
            if tier >= Tier::PhaseOut {
                items.push(json!({"protocol": p.protocol, "dh_bits": bits, "tier": tier.as_str()}));
            }
        }
    }
    for a in accepted {
        let tier = a.suite.map(itsp_suite_tier).unwrap_or(Tier::NotListed);
        outside_profile |= a
            .suite
            .map(|suite| suite_tier(profile, suite))
            .unwrap_or(Tier::NotListed)
            == Tier::NotListed;
        match tier {
            Tier::NotListed => not_listed.push(a.label()),
            Tier::PhaseOut => phase_out.push(a.label()),
            _ => continue,
        }
        items.push(json!({"protocol": a.protocol, "suite": a.name, "tier": tier.as_str()}));
    }
    let verdict = if !not_listed.is_empty() {
        let verdict = Verdict::new(
            Check::TlsPolicyItsp40062,
            target,
            Status::Fail,
            Message::new("tls.policy.itsp_40_062.fail").arg("items", short_list(&not_listed)),
        )
        .remediation(Message::new("tls.policy.itsp_40_062.fix"));
        if outside_profile {
            verdict
        } else {
            verdict.severity(Severity::Low)
        }
    } else if !phase_out.is_empty() {
        Verdict::new(
            Check::TlsPolicyItsp40062,
            target,
            Status::Warn,
            Message::new("tls.policy.itsp_40_062.warn").arg("items", short_list(&phase_out)),
        )
        .severity(Severity::Low)
        .remediation(Message::new("tls.policy.itsp_40_062.fix"))
    } else {
        Verdict::new(
            Check::TlsPolicyItsp40062,
            target,
            Status::Pass,
            Message::new("tls.policy.itsp_40_062.pass"),
        )
    };
    verdict
        .evidence("profile", Profile::ItspStrict.as_str())
        .evidence("severity_profile", profile.as_str())
        .evidence("outside", items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_model::{Lang, TlsHeartbeat};

    fn support(protocol: &str, suites: &[&str]) -> TlsProtocolSupport {
        TlsProtocolSupport {
            protocol: protocol.to_owned(),
            accepted: !suites.is_empty(),
            refusal: suites
                .is_empty()
                .then(|| "alert protocol_version".to_owned()),
            cipher_suites: suites.iter().map(|s| (*s).to_owned()).collect(),
            ..TlsProtocolSupport::default()
        }
    }

    fn modern() -> TlsEnumeration {
        let mut tls12 = support(
            "TLSv1.2",
            &[
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            ],
        );
        tls12.groups = vec!["secp256r1".to_owned(), "secp384r1".to_owned()];
        tls12.preference = Some("server".to_owned());
        let mut tls13 = support(
            "TLSv1.3",
            &["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"],
        );
        tls13.groups = vec!["secp384r1".to_owned()];
        TlsEnumeration {
            protocols: vec![
                support("SSLv2", &[]),
                support("SSLv3", &[]),
                support("TLSv1.0", &[]),
                support("TLSv1.1", &[]),
                tls12,
                tls13,
            ],
            compression: Some(false),
            secure_renegotiation: Some(true),
            extended_master_secret: Some(true),
            fallback_scsv: Some(true),
            heartbeat: Some(TlsHeartbeat {
                protocol: "TLSv1.2".to_owned(),
                extension_offered: false,
                vulnerable: Some(false),
                ..TlsHeartbeat::default()
            }),
            handshakes: 12,
            truncated: false,
            errors: vec![],
        }
    }

    fn grade(e: &TlsEnumeration) -> Vec<Verdict> {
        evaluate_enumeration("www.example.ca:443", e, Profile::Modern)
    }

    fn get(verdicts: &[Verdict], check: Check) -> &Verdict {
        verdicts
            .iter()
            .find(|v| v.check == check)
            .unwrap_or_else(|| panic!("no {}", check.id()))
    }

    fn all_rendered(verdicts: &[Verdict]) {
        for v in verdicts {
            assert!(v.summary.is_defined(), "{}", v.summary.key);
            for lang in Lang::ALL {
                assert!(!v.summary.render(lang).contains('{'), "{}", v.summary.key);
            }
            assert_ne!(
                v.summary.render(Lang::En),
                v.summary.render(Lang::Fr),
                "{}",
                v.summary.key
            );
            if let Some(fix) = &v.remediation {
                assert!(fix.is_defined(), "{}", fix.key);
            }
        }
    }

    #[test]
    fn a_strict_modern_server_passes_everything() {
        let verdicts = grade(&modern());
        assert_eq!(verdicts.len(), 6 + SUITE_CHECKS.len());
        for v in &verdicts {
            let expected = match v.check {
                Check::TlsProtocolTls12 | Check::TlsCipherList => Status::Info,
                _ => Status::Pass,
            };
            assert_eq!(
                v.status,
                expected,
                "{}: {}",
                v.check.id(),
                v.summary.render(Lang::En)
            );
        }
        assert_eq!(
            get(&verdicts, Check::TlsCipherList)
                .summary
                .render(Lang::En),
            "4 suite(s) accepted: TLSv1.2 2, TLSv1.3 2"
        );
        all_rendered(&verdicts);
    }

    #[test]
    fn a_legacy_server_fails_with_the_protocol_and_suite_at_fault() {
        let mut e = modern();
        e.protocols[2] = support(
            "TLSv1.0",
            &["TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
        );
        e.protocols[4].cipher_suites.extend([
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA".to_owned(),
            "TLS_DH_anon_WITH_AES_128_CBC_SHA".to_owned(),
            "TLS_RSA_WITH_NULL_SHA256".to_owned(),
            "TLS_RSA_EXPORT_WITH_RC4_40_MD5".to_owned(),
        ]);
        e.protocols[4].dh_bits = Some(1024);
        e.compression = Some(true);
        e.secure_renegotiation = Some(false);
        e.extended_master_secret = Some(false);
        e.fallback_scsv = Some(false);
        e.heartbeat = Some(TlsHeartbeat {
            protocol: "TLSv1.2".to_owned(),
            extension_offered: true,
            vulnerable: Some(true),
            answer: Some("heartbeat response of 56 bytes to a request carrying 16".to_owned()),
            error: None,
        });
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsProtocolTls10);
        assert_eq!((v.status, v.severity), (Status::Fail, Severity::Medium));
        assert_eq!(v.summary.render(Lang::En), "TLSv1.0 is accepted");
        assert_eq!(v.evidence["protocol"], "TLSv1.0");
        let rc4 = get(&verdicts, Check::TlsCipherRc4);
        assert_eq!(rc4.status, Status::Fail);
        assert_eq!(
            rc4.evidence["suites"],
            json!([
                {"protocol": "TLSv1.0", "suite": "TLS_RSA_WITH_RC4_128_SHA"},
                {"protocol": "TLSv1.2", "suite": "TLS_RSA_EXPORT_WITH_RC4_40_MD5"}
            ])
        );
        assert_eq!(
            rc4.summary.render(Lang::En),
            "RC4 suites are accepted: TLSv1.0 TLS_RSA_WITH_RC4_128_SHA, TLSv1.2 TLS_RSA_EXPORT_WITH_RC4_40_MD5"
        );
        let des = get(&verdicts, Check::TlsCipherDes);
        assert_eq!(
            des.evidence["suites"][0]["suite"],
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        );
        // CBC is judged on TLS 1.2 only: the 3DES suite of TLS 1.0 is not listed there.
        let cbc = get(&verdicts, Check::TlsCipherCbc);
        assert_eq!(cbc.status, Status::Fail);
        assert!(cbc.evidence["suites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["protocol"] == "TLSv1.2"));
        for check in [
            Check::TlsCipherAnon,
            Check::TlsCipherNull,
            Check::TlsCipherExport,
            Check::TlsCipherNoForwardSecrecy,
            Check::TlsCipherWeakDh,
            Check::TlsCompression,
            Check::TlsRenegotiation,
            Check::TlsExtendedMasterSecret,
            Check::TlsFallbackScsv,
            Check::TlsHeartbleed,
            Check::TlsPolicyItsp40062,
        ] {
            let v = get(&verdicts, check);
            assert_eq!(v.status, Status::Fail, "{}", check.id());
            assert!(v.remediation.is_some(), "{}", check.id());
        }
        assert_eq!(
            get(&verdicts, Check::TlsCipherAnon).severity,
            Severity::Critical
        );
        assert_eq!(
            get(&verdicts, Check::TlsCipherWeakDh).evidence["dh_bits"],
            1024
        );
        // The anonymous suite is not a forward-secrecy finding; static RSA is.
        let fs = &get(&verdicts, Check::TlsCipherNoForwardSecrecy).evidence["suites"];
        assert!(fs
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["suite"].as_str().unwrap().starts_with("TLS_RSA_")));
        all_rendered(&verdicts);
    }

    #[test]
    fn heartbleed_from_the_probe_facts() {
        let mut e = modern();
        let probe = |offered: bool, vulnerable: Option<bool>, answer: &str, error: Option<&str>| {
            Some(TlsHeartbeat {
                protocol: "TLSv1.2".to_owned(),
                extension_offered: offered,
                vulnerable,
                answer: Some(answer.to_owned()),
                error: error.map(str::to_owned),
            })
        };
        e.heartbeat = probe(true, Some(true), "heartbeat response of 56 bytes", None);
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsHeartbleed);
        assert_eq!((v.status, v.severity), (Status::Fail, Severity::Critical));
        assert!(v.remediation.is_some());
        // Evidence holds what the probe saw, never bytes from the server.
        let keys: Vec<&String> = v.evidence.keys().collect();
        assert_eq!(keys, ["answer", "extension_offered", "protocol"]);

        e.heartbeat = probe(true, Some(false), "no answer", None);
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsHeartbleed);
        assert_eq!(v.status, Status::Pass);
        assert_eq!(v.evidence["extension_offered"], true);

        e.heartbeat = probe(false, Some(false), "-", None);
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsHeartbleed);
        assert_eq!(v.status, Status::Pass);
        assert!(v.summary.render(Lang::En).contains("does not offer"));

        e.heartbeat = probe(true, None, "-", Some("the server sent 2 of the 5 bytes"));
        let verdicts = grade(&e);
        assert_eq!(get(&verdicts, Check::TlsHeartbleed).status, Status::Error);
        all_rendered(&verdicts);

        // No probe: a TLS 1.3-only server passes, an older report with TLS 1.2 gets no verdict.
        e.heartbeat = None;
        assert!(!grade(&e).iter().any(|v| v.check == Check::TlsHeartbleed));
        e.protocols[4] = support("TLSv1.2", &[]);
        assert_eq!(get(&grade(&e), Check::TlsHeartbleed).status, Status::Pass);
    }

    #[test]
    fn tls12_and_tls13_rules() {
        // Only TLS 1.3: 1.2 is info, extensions of older protocols do not apply.
        let mut e = modern();
        e.protocols[4] = support("TLSv1.2", &[]);
        e.compression = None;
        e.secure_renegotiation = None;
        e.extended_master_secret = None;
        e.fallback_scsv = None;
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsProtocolTls12);
        assert_eq!(v.status, Status::Info);
        assert_eq!(v.summary.key, "tls.protocol.tls1_2.only_tls1_3");
        for check in [
            Check::TlsCompression,
            Check::TlsRenegotiation,
            Check::TlsExtendedMasterSecret,
            Check::TlsFallbackScsv,
        ] {
            assert_eq!(get(&verdicts, check).status, Status::Skip, "{}", check.id());
        }
        all_rendered(&verdicts);

        // No TLS 1.3: warn, low.
        let mut e = modern();
        e.protocols[5] = support("TLSv1.3", &[]);
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsProtocolTls13);
        assert_eq!((v.status, v.severity), (Status::Warn, Severity::Low));
        assert!(v.remediation.is_some());

        // Neither: tls1_2 fails.
        e.protocols[4] = support("TLSv1.2", &[]);
        e.protocols[3] = support("TLSv1.1", &["TLS_RSA_WITH_AES_128_CBC_SHA"]);
        let verdicts = grade(&e);
        assert_eq!(get(&verdicts, Check::TlsProtocolTls12).status, Status::Fail);
        assert_eq!(get(&verdicts, Check::TlsProtocolTls11).status, Status::Fail);
        all_rendered(&verdicts);
    }

    #[test]
    fn an_unreachable_enumeration_is_an_error_never_a_pass() {
        let mut e = modern();
        for p in &mut e.protocols {
            *p = TlsProtocolSupport {
                protocol: p.protocol.clone(),
                error: Some("no answer within 5 s".to_owned()),
                ..TlsProtocolSupport::default()
            };
        }
        let verdicts = grade(&e);
        assert_eq!(verdicts.len(), 6 + SUITE_CHECKS.len());
        for v in &verdicts {
            assert_eq!(v.status, Status::Error, "{}", v.check.id());
        }
        all_rendered(&verdicts);
    }

    #[test]
    fn an_endpoint_that_accepts_no_tls_version_gets_no_pass() {
        // What a plain-TCP server that closes every connection gives: each hello "refused".
        let mut e = modern();
        for p in &mut e.protocols {
            *p = TlsProtocolSupport {
                protocol: p.protocol.clone(),
                refusal: Some("connection closed without an answer".to_owned()),
                ..TlsProtocolSupport::default()
            };
        }
        e.compression = None;
        e.secure_renegotiation = None;
        e.extended_master_secret = None;
        e.fallback_scsv = None;
        e.heartbeat = None;
        let verdicts = grade(&e);
        assert_eq!(verdicts.len(), 6 + SUITE_CHECKS.len());
        for v in &verdicts {
            assert_eq!(v.status, Status::Error, "{}", v.check.id());
            assert!(
                v.summary
                    .render(Lang::En)
                    .contains("accepted no TLS version"),
                "{}",
                v.check.id()
            );
            assert!(v
                .summary
                .render(Lang::Fr)
                .contains("n'a accepté aucune version"));
        }
        all_rendered(&verdicts);
        // Some protocols refused, the others unanswered: still no pass.
        e.protocols[5].refusal = None;
        e.protocols[5].error = Some("no answer within 5 s".to_owned());
        let verdicts = grade(&e);
        assert!(verdicts.iter().all(|v| v.status == Status::Error));
        all_rendered(&verdicts);
    }

    #[test]
    fn heartbleed_passes_without_a_probe_only_when_tls_1_0_to_1_2_were_seen_refused() {
        let mut e = modern();
        e.heartbeat = None;
        e.protocols[4] = support("TLSv1.2", &[]);
        assert_eq!(get(&grade(&e), Check::TlsHeartbleed).status, Status::Pass);
        // TLS 1.2 timed out: it might be accepted, so Heartbleed is unknown.
        e.protocols[4].refusal = None;
        e.protocols[4].error = Some("no answer within 5 s".to_owned());
        let v = grade(&e);
        let v = get(&v, Check::TlsHeartbleed);
        assert_eq!(v.status, Status::Error);
        assert!(v.summary.render(Lang::En).contains("no answer within 5 s"));
        // TLS 1.0 to 1.2 not tried at all (a restricted enumeration): does not apply.
        let mut e = modern();
        e.heartbeat = None;
        e.protocols.retain(|p| p.protocol == "TLSv1.3");
        let verdicts = grade(&e);
        let v = get(&verdicts, Check::TlsHeartbleed);
        assert_eq!(v.status, Status::Skip);
        all_rendered(&verdicts);
    }

    #[test]
    fn the_itsp_view_is_strict_and_the_profiles_differ_on_unlisted_primitives() {
        // ChaCha20 and X25519 are strong but not listed by ITSP.40.062.
        let mut e = modern();
        e.protocols[5]
            .cipher_suites
            .push("TLS_CHACHA20_POLY1305_SHA256".to_owned());
        e.protocols[5].groups.push("x25519".to_owned());
        let verdicts = grade(&e);
        let itsp = get(&verdicts, Check::TlsPolicyItsp40062);
        assert_eq!(itsp.status, Status::Fail);
        assert_eq!(
            itsp.summary.render(Lang::En),
            "Outside ITSP.40.062: TLSv1.3 x25519, TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"
        );
        // The strict view fails either way; its severity follows the profile.
        assert_eq!(itsp.severity, Severity::Low, "modern accepts both");
        let strict = evaluate_enumeration("www.example.ca:443", &e, Profile::ItspStrict);
        let strict = get(&strict, Check::TlsPolicyItsp40062);
        assert_eq!(
            (strict.status, strict.severity),
            (Status::Fail, Severity::Medium)
        );
        // Something the modern profile refuses too keeps the default severity.
        let mut weak = e.clone();
        weak.protocols[5].groups.push("ffdhe2048".to_owned());
        weak.protocols[5].dh_bits = Some(1024);
        let weak = grade(&weak);
        assert_eq!(
            get(&weak, Check::TlsPolicyItsp40062).severity,
            Severity::Medium
        );
        let chacha = ciphers::by_name("TLS_CHACHA20_POLY1305_SHA256").unwrap();
        assert_eq!(suite_tier(Profile::Modern, chacha), Tier::Sufficient);
        assert_eq!(suite_tier(Profile::ItspStrict, chacha), Tier::NotListed);
        assert_eq!(
            suite_tier(Profile::MozillaIntermediate, chacha),
            Tier::Recommended
        );
        let cbc_sha = ciphers::by_name("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").unwrap();
        assert_eq!(itsp_suite_tier(cbc_sha), Tier::PhaseOut);
        let dhe = ciphers::by_name("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256").unwrap();
        assert_eq!(itsp_suite_tier(dhe), Tier::PhaseOut);
        let camellia = ciphers::by_name("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA").unwrap();
        assert_eq!(itsp_suite_tier(camellia), Tier::NotListed);
        assert_eq!(suite_tier(Profile::Modern, camellia), Tier::NotListed);

        // Phase-out only: warn.
        let mut e = modern();
        e.protocols[4]
            .cipher_suites
            .push("TLS_RSA_WITH_AES_128_GCM_SHA256".to_owned());
        let itsp = get(&grade(&e), Check::TlsPolicyItsp40062).clone();
        assert_eq!((itsp.status, itsp.severity), (Status::Warn, Severity::Low));
        assert_eq!(
            itsp.evidence["outside"],
            json!([{"protocol": "TLSv1.2", "suite": "TLS_RSA_WITH_AES_128_GCM_SHA256", "tier": "phase-out"}])
        );
        assert_eq!("itsp-strict".parse::<Profile>(), Ok(Profile::ItspStrict));
        assert!("strict".parse::<Profile>().is_err());
    }
}
