//! The check catalogue: one variant per stable check id, as `docs/checks.md` lists them.
//!
//! Ids are never reused for a different meaning. Titles live in the locale files
//! (see [`crate::i18n`]), not here, so that each language is kept in one place.

use serde::{Deserialize, Serialize};

use crate::severity::Severity;

/// The family a check belongs to: which probe produces it and which part of the config
/// enables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// TLS endpoints, HTTPS and HTTP headers (`scan tls`).
    Tls,
    /// Email authentication and DNS security of a domain (`scan email`).
    Email,
    /// Exposed network services (`scan services`).
    Services,
    /// Patch posture of the agent's host (`scan host`).
    Host,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Tls => "tls",
            Family::Email => "email",
            Family::Services => "services",
            Family::Host => "host",
        }
    }
}

macro_rules! catalogue {
    ($($variant:ident => ($id:literal, $family:expr, $severity:expr),)*) => {
        /// A check of the catalogue. Its wire form is its dotted id ([`Check::id`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Check {
            $($variant,)*
        }

        impl Check {
            /// Every check, in the order of `docs/checks.md`.
            pub const ALL: &'static [Check] = &[$(Check::$variant,)*];

            /// The stable dotted id, e.g. `tls.cert.expired`.
            pub fn id(self) -> &'static str {
                match self { $(Check::$variant => $id,)* }
            }

            /// Which probe family produces this check.
            pub fn family(self) -> Family {
                match self { $(Check::$variant => $family,)* }
            }

            /// The severity of a failure when no policy profile overrides it.
            pub fn default_severity(self) -> Severity {
                match self { $(Check::$variant => $severity,)* }
            }

            /// The check with this id, if the catalogue knows it. A newer agent may send ids
            /// this build does not know: callers treat `None` as "unknown", not as an error.
            pub fn from_id(id: &str) -> Option<Check> {
                match id { $($id => Some(Check::$variant),)* _ => None }
            }
        }
    };
}

catalogue! {
    TlsConnect => ("tls.connect", Family::Tls, Severity::High),
    TlsProtocolSslv2 => ("tls.protocol.sslv2", Family::Tls, Severity::Critical),
    TlsProtocolSslv3 => ("tls.protocol.sslv3", Family::Tls, Severity::High),
    TlsProtocolTls10 => ("tls.protocol.tls1_0", Family::Tls, Severity::Medium),
    TlsProtocolTls11 => ("tls.protocol.tls1_1", Family::Tls, Severity::Medium),
    TlsProtocolTls12 => ("tls.protocol.tls1_2", Family::Tls, Severity::Info),
    TlsProtocolTls13 => ("tls.protocol.tls1_3", Family::Tls, Severity::Low),
    TlsCipherNull => ("tls.cipher.null", Family::Tls, Severity::Critical),
    TlsCipherAnon => ("tls.cipher.anon", Family::Tls, Severity::Critical),
    TlsCipherExport => ("tls.cipher.export", Family::Tls, Severity::Critical),
    TlsCipherRc4 => ("tls.cipher.rc4", Family::Tls, Severity::High),
    TlsCipherDes => ("tls.cipher.des", Family::Tls, Severity::Medium),
    TlsCipherCbc => ("tls.cipher.cbc", Family::Tls, Severity::Low),
    TlsCipherNoForwardSecrecy => ("tls.cipher.no_forward_secrecy", Family::Tls, Severity::Medium),
    TlsCipherWeakDh => ("tls.cipher.weak_dh", Family::Tls, Severity::Medium),
    TlsCipherList => ("tls.cipher.list", Family::Tls, Severity::Info),
    TlsCertUntrusted => ("tls.cert.untrusted", Family::Tls, Severity::High),
    TlsCertSelfSigned => ("tls.cert.self_signed", Family::Tls, Severity::High),
    TlsCertIncompleteChain => ("tls.cert.incomplete_chain", Family::Tls, Severity::Medium),
    TlsCertHostnameMismatch => ("tls.cert.hostname_mismatch", Family::Tls, Severity::High),
    TlsCertExpired => ("tls.cert.expired", Family::Tls, Severity::Critical),
    TlsCertNotYetValid => ("tls.cert.not_yet_valid", Family::Tls, Severity::High),
    TlsCertExpiring => ("tls.cert.expiring", Family::Tls, Severity::Medium),
    TlsCertWeakKey => ("tls.cert.weak_key", Family::Tls, Severity::High),
    TlsCertWeakSignature => ("tls.cert.weak_signature", Family::Tls, Severity::High),
    TlsOcspStapling => ("tls.ocsp_stapling", Family::Tls, Severity::Info),
    TlsCompression => ("tls.compression", Family::Tls, Severity::Medium),
    TlsRenegotiation => ("tls.renegotiation", Family::Tls, Severity::Medium),
    TlsFallbackScsv => ("tls.fallback_scsv", Family::Tls, Severity::Low),
    TlsHeartbleed => ("tls.heartbleed", Family::Tls, Severity::Critical),
    TlsExtendedMasterSecret => ("tls.extended_master_secret", Family::Tls, Severity::Low),
    TlsCertTransparency => ("tls.cert.transparency", Family::Tls, Severity::Low),
    TlsPolicyItsp40062 => ("tls.policy.itsp_40_062", Family::Tls, Severity::Medium),
    HttpsRedirect => ("https.redirect", Family::Tls, Severity::Medium),
    HttpsHsts => ("https.hsts", Family::Tls, Severity::Medium),
    HttpsHstsMaxAge => ("https.hsts.max_age", Family::Tls, Severity::Low),
    HttpsHstsSubdomains => ("https.hsts.subdomains", Family::Tls, Severity::Low),
    HttpsHstsPreload => ("https.hsts.preload", Family::Tls, Severity::Info),
    HttpsSecurityTxt => ("https.security_txt", Family::Tls, Severity::Low),
    HttpsHeaders => ("https.headers", Family::Tls, Severity::Low),
    HttpServerBanner => ("http.server_banner", Family::Tls, Severity::Low),
    EmailSpfMissing => ("email.spf.missing", Family::Email, Severity::High),
    EmailSpfMultiple => ("email.spf.multiple", Family::Email, Severity::High),
    EmailSpfSyntax => ("email.spf.syntax", Family::Email, Severity::High),
    EmailSpfLookupLimit => ("email.spf.lookup_limit", Family::Email, Severity::High),
    EmailSpfVoidLookups => ("email.spf.void_lookups", Family::Email, Severity::Medium),
    EmailSpfAll => ("email.spf.all", Family::Email, Severity::High),
    EmailSpfPtr => ("email.spf.ptr", Family::Email, Severity::Low),
    EmailDmarcMissing => ("email.dmarc.missing", Family::Email, Severity::High),
    EmailDmarcSyntax => ("email.dmarc.syntax", Family::Email, Severity::High),
    EmailDmarcPolicy => ("email.dmarc.policy", Family::Email, Severity::High),
    EmailDmarcPct => ("email.dmarc.pct", Family::Email, Severity::Medium),
    EmailDmarcSubdomainPolicy => ("email.dmarc.subdomain_policy", Family::Email, Severity::Medium),
    EmailDmarcRua => ("email.dmarc.rua", Family::Email, Severity::Low),
    EmailDmarcRuaAuthorization => ("email.dmarc.rua_authorization", Family::Email, Severity::Medium),
    EmailDkimMissing => ("email.dkim.missing", Family::Email, Severity::Medium),
    EmailDkimWeakKey => ("email.dkim.weak_key", Family::Email, Severity::High),
    EmailDkimTesting => ("email.dkim.testing", Family::Email, Severity::Low),
    EmailDkimRevoked => ("email.dkim.revoked", Family::Email, Severity::Info),
    EmailMxMissing => ("email.mx.missing", Family::Email, Severity::Low),
    EmailMxNull => ("email.mx.null", Family::Email, Severity::Info),
    EmailParked => ("email.parked", Family::Email, Severity::High),
    EmailMtaSts => ("email.mta_sts", Family::Email, Severity::Low),
    EmailMtaStsPolicy => ("email.mta_sts.policy", Family::Email, Severity::Medium),
    EmailMtaStsMode => ("email.mta_sts.mode", Family::Email, Severity::Low),
    EmailMtaStsMxMismatch => ("email.mta_sts.mx_mismatch", Family::Email, Severity::Medium),
    EmailTlsrpt => ("email.tlsrpt", Family::Email, Severity::Low),
    EmailStarttls => ("email.starttls", Family::Email, Severity::Medium),
    EmailDane => ("email.dane", Family::Email, Severity::Info),
    EmailBimi => ("email.bimi", Family::Email, Severity::Info),
    DnsDnssec => ("dns.dnssec", Family::Email, Severity::Medium),
    DnsCaa => ("dns.caa", Family::Email, Severity::Low),
    ServiceOpen => ("service.open", Family::Services, Severity::Info),
    ServiceCleartext => ("service.cleartext", Family::Services, Severity::High),
    ServiceRemoteDesktop => ("service.remote_desktop", Family::Services, Severity::High),
    ServiceFileSharing => ("service.file_sharing", Family::Services, Severity::Critical),
    ServiceDatabase => ("service.database", Family::Services, Severity::High),
    ServiceUnauthenticated => ("service.unauthenticated", Family::Services, Severity::Critical),
    ServiceOutdated => ("service.outdated", Family::Services, Severity::Medium),
    HostOs => ("host.os", Family::Host, Severity::Info),
    HostOsEol => ("host.os.eol", Family::Host, Severity::Critical),
    HostUpdatesSecurity => ("host.updates.security", Family::Host, Severity::High),
    HostUpdatesPending => ("host.updates.pending", Family::Host, Severity::Low),
    HostUpdatesAutomatic => ("host.updates.automatic", Family::Host, Severity::Medium),
    HostRebootRequired => ("host.reboot_required", Family::Host, Severity::Medium),
    HostVulnerabilities => ("host.vulnerabilities", Family::Host, Severity::High),
}

/// `word(.word)+` with words of `[a-z0-9_]`.
pub fn is_valid_check_id(id: &str) -> bool {
    id.len() <= 128
        && id.split('.').count() >= 2
        && id.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for check in Check::ALL {
            assert!(seen.insert(check.id()), "duplicate id {}", check.id());
            assert_eq!(Check::from_id(check.id()), Some(*check));
            assert!(is_valid_check_id(check.id()), "{}", check.id());
        }
        assert_eq!(Check::from_id("tls.no_such_check"), None);
    }
}
