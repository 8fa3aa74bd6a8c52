//! The probe: all the I/O for one domain, through [`DnsLookup`] and [`HttpsFetch`], into
//! an [`EmailObservation`]. It never fails as a whole: each query's failure is recorded
//! where it happened, and [`vigie_grade::email::evaluate`] turns it into an `error` verdict for the
//! checks that needed it.
//!
//! Wrap the lookups in [`super::lookup::CachedLookups`] once per run, so that domains
//! sharing includes, MX hosts or report destinations cost one query each.

use chrono::Utc;

use super::health::Guarded;
use super::lookup::{normalize, AnswerFrom, DnsLookup, HttpsFetch};
use super::observation::{
    Answer, DkimSelectorFacts, DmarcFacts, EmailObservation, FetchedPolicy, MtaStsFacts, SpfFacts,
};
use super::smtp::{self, SmtpOptions};
use super::spf_fetch::fetch_branches;
use vigie_grade::email::dmarc::{self, DmarcRecord};
use vigie_grade::email::mta_sts;
use vigie_grade::email::orgdomain::{
    is_external, organizational_domain, report_authorization_name,
};
use vigie_grade::email::spf;

/// DKIM selectors tried on every domain, besides the configured ones: those of the common
/// mail services and of the defaults of common signing software.
pub const COMMON_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "selector1",
    "selector2",
    "google",
    "k1",
    "k2",
    "s1",
    "s2",
    "smtp",
    "mx",
    "email",
    "key1",
    "dkim1",
    "mandrill",
    "everlytickey1",
    "protonmail",
    "zoho",
    "fm1",
];

/// The most MX hosts whose STARTTLS one domain's probe tries (in preference order).
const MAX_SMTP_HOSTS: usize = 10;

/// What to probe beyond the defaults.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Selectors the organization uses (`--dkim-selector`, `[email] dkim_selectors`).
    pub dkim_selectors: Vec<String>,
    /// Also try [`COMMON_SELECTORS`].
    pub common_selectors: bool,
    /// Probe each MX host's STARTTLS (opt-in: outbound port 25 is often filtered).
    pub smtp: Option<SmtpOptions>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            dkim_selectors: Vec::new(),
            common_selectors: true,
            smtp: None,
        }
    }
}

/// The URL of a domain's MTA-STS policy (RFC 8461 §3.2).
pub fn mta_sts_policy_url(domain: &str) -> String {
    format!(
        "https://mta-sts.{}/.well-known/mta-sts.txt",
        normalize(domain)
    )
}

/// Probes one domain. Independent groups of queries run concurrently, once the resolver
/// has answered a first question; a resolver that answers none of the first few questions
/// is asked nothing more about the domain (see [`super::health`]).
pub async fn probe<L: DnsLookup + HttpsFetch>(
    domain: &str,
    options: &ProbeOptions,
    lookups: &L,
) -> EmailObservation {
    let guarded = Guarded::new(lookups);
    let mut observation = probe_through(domain, options, &guarded).await;
    observation.resolver_silent = guarded.silence();
    observation
}

async fn probe_through<L: DnsLookup + HttpsFetch>(
    domain: &str,
    options: &ProbeOptions,
    lookups: &L,
) -> EmailObservation {
    let domain = normalize(domain);
    let org = organizational_domain(&domain);
    let observed_at = Utc::now();

    let mx = async {
        let mx = Answer::from_result(domain.clone(), lookups.mx(&domain).await);
        let mut tlsa = Vec::new();
        for host in mx
            .records
            .iter()
            .map(|m| m.exchange.as_str())
            .filter(|h| !h.is_empty())
        {
            let name = format!("_25._tcp.{host}");
            tlsa.push(Answer::from_result(name.clone(), lookups.tlsa(&name).await));
        }
        let starttls = match &options.smtp {
            Some(smtp) => {
                let mut hosts: Vec<&str> = Vec::new();
                for record in &mx.records {
                    let host = record.exchange.as_str();
                    if !host.is_empty() && !hosts.contains(&host) && hosts.len() < MAX_SMTP_HOSTS {
                        hosts.push(host);
                    }
                }
                let mut facts = Vec::new();
                for host in hosts {
                    facts.push(smtp::probe_mx(host, smtp, lookups).await);
                }
                Some(facts)
            }
            None => None,
        };
        (mx, tlsa, starttls)
    };
    let spf = async {
        let txt = Answer::from_result(domain.clone(), lookups.txt(&domain).await);
        let single = !txt.failed() && txt.records.iter().filter(|t| spf::is_spf(t)).count() == 1;
        let branches = if single {
            Some(fetch_branches(&domain, &txt, lookups).await)
        } else {
            None
        };
        SpfFacts {
            txt,
            branches,
            evaluation: None,
        }
    };
    let dmarc = probe_dmarc(&domain, org.as_deref(), lookups);
    let dkim = async {
        let mut selectors: Vec<String> = options
            .dkim_selectors
            .iter()
            .map(|s| normalize(s))
            .collect();
        if options.common_selectors {
            selectors.extend(COMMON_SELECTORS.iter().map(|s| (*s).to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        selectors.retain(|s| !s.is_empty() && seen.insert(s.clone()));
        let mut out = Vec::new();
        for selector in selectors {
            let name = format!("{selector}._domainkey.{domain}");
            let txt = Answer::from_result(name.clone(), lookups.txt(&name).await);
            out.push(DkimSelectorFacts { selector, txt });
        }
        out
    };
    let mta_sts = async {
        let name = format!("_mta-sts.{domain}");
        let txt = Answer::from_result(name.clone(), lookups.txt(&name).await);
        let policy = if txt.records.iter().any(|t| mta_sts::is_mta_sts(t)) {
            let url = mta_sts_policy_url(&domain);
            Some(match lookups.fetch_text(&url).await {
                Ok(body) => FetchedPolicy {
                    url,
                    body: Some(body),
                    error: None,
                },
                Err(e) => FetchedPolicy {
                    url,
                    body: None,
                    error: Some(e.reason),
                },
            })
        } else {
            None
        };
        MtaStsFacts { txt, policy }
    };
    let small = async {
        let tlsrpt_name = format!("_smtp._tls.{domain}");
        let bimi_name = format!("default._bimi.{domain}");
        let tlsrpt = Answer::from_result(tlsrpt_name.clone(), lookups.txt(&tlsrpt_name).await);
        let bimi = Answer::from_result(bimi_name.clone(), lookups.txt(&bimi_name).await);
        // CAA: the name, then its parents up to the organizational domain; the first
        // non-empty set is the relevant one (RFC 8659 §3).
        let mut caa = Vec::new();
        for name in caa_names(&domain, org.as_deref()) {
            let answer = Answer::from_result(name.clone(), lookups.caa(&name).await);
            let stop = answer.failed() || !answer.records.is_empty();
            caa.push(answer);
            if stop {
                break;
            }
        }
        let dnssec = lookups.dnssec(&domain).await.map_err(|e| e.to_string());
        (tlsrpt, bimi, caa, dnssec)
    };

    let ((mx, tlsa, starttls), spf, dmarc, dkim, mta_sts, (tlsrpt, bimi, caa, dnssec)) =
        tokio::join!(mx, spf, dmarc, dkim, mta_sts, small);
    EmailObservation {
        domain,
        observed_at,
        organizational_domain: org,
        mx,
        spf,
        dmarc,
        dkim,
        mta_sts,
        tlsrpt,
        bimi,
        caa,
        tlsa,
        dnssec,
        starttls,
        resolver_silent: None,
    }
}

/// `a.b.example.com` → `a.b.example.com`, `b.example.com`, `example.com`.
fn caa_names(domain: &str, org: Option<&str>) -> Vec<String> {
    let mut names = vec![domain.to_owned()];
    let Some(org) = org else {
        return names;
    };
    let mut current = domain;
    while current != org {
        match current.split_once('.') {
            Some((_, parent)) if parent.len() >= org.len() => {
                names.push(parent.to_owned());
                current = parent;
            }
            _ => break,
        }
    }
    names
}

async fn probe_dmarc<L: DnsLookup>(domain: &str, org: Option<&str>, lookups: &L) -> DmarcFacts {
    let name = format!("_dmarc.{domain}");
    let txt = Answer::from_result(name.clone(), lookups.txt(&name).await);
    let has_record = |a: &Answer<String>| a.records.iter().any(|t| dmarc::is_dmarc(t));
    // RFC 7489 §6.6.3: no record at the domain → the organizational domain's applies.
    let org_txt = match org {
        Some(org) if org != domain && !txt.failed() && !has_record(&txt) => {
            let name = format!("_dmarc.{org}");
            Some(Answer::from_result(name.clone(), lookups.txt(&name).await))
        }
        _ => None,
    };
    let (policy_domain, record) = {
        let pick = |a: &Answer<String>| -> Option<DmarcRecord> {
            let found: Vec<&String> = a.records.iter().filter(|t| dmarc::is_dmarc(t)).collect();
            match found.as_slice() {
                [one] => DmarcRecord::parse(one).ok(),
                _ => None,
            }
        };
        match (pick(&txt), org_txt.as_ref().and_then(pick)) {
            (Some(r), _) => (domain.to_owned(), Some(r)),
            (None, Some(r)) => (org.unwrap_or(domain).to_owned(), Some(r)),
            (None, None) => (domain.to_owned(), None),
        }
    };
    let mut authorizations = Vec::new();
    if let Some(record) = record {
        let mut dests: Vec<String> = record
            .rua
            .iter()
            .chain(&record.ruf)
            .filter_map(|u| u.mailto_domain())
            .filter(|d| is_external(&policy_domain, d))
            .collect();
        dests.sort();
        dests.dedup();
        for dest in dests {
            let name = report_authorization_name(&policy_domain, &dest);
            authorizations.push(Answer::from_result(name.clone(), lookups.txt(&name).await));
        }
    }
    DmarcFacts {
        txt,
        org_txt,
        authorizations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caa_walks_up_to_the_organizational_domain() {
        assert_eq!(
            caa_names("a.b.example.com", Some("example.com")),
            vec!["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(
            caa_names("example.com", Some("example.com")),
            vec!["example.com"]
        );
        assert_eq!(caa_names("localhost", None), vec!["localhost"]);
    }
}
