//! The SPF probe: the answers every branch of a domain's SPF record reads, gathered by the
//! grading's own walk ([`vigie_grade::email::spf_eval::expand`]) so that the probe asks
//! exactly what the expansion needs, in its order, within its bounds (depth, stop after
//! three times the lookup limit). The counting is left to grading.

use vigie_grade::email::spf_eval::{self, SpfQuery};
use vigie_model::observation::email::{Answer, SpfBranches};

use super::lookup::{AnswerFrom, DnsLookup};

/// The most answers one domain's expansion records. The walk's own bounds stop far earlier
/// for includes; this bounds a record of thousands of `a` or `mx` terms, whose unasked
/// names then grade as DNS failures.
pub const MAX_QUERIES: usize = 256;

/// Queries, one at a time and each name once, what the expansion of `domain`'s record
/// (whose TXT answer is `txt`) needs.
pub async fn fetch_branches<L: DnsLookup>(
    domain: &str,
    txt: &Answer<String>,
    lookups: &L,
) -> SpfBranches {
    let mut branches = SpfBranches::default();
    for _ in 0..MAX_QUERIES {
        let Some(query) = spf_eval::expand(domain, txt, &branches).missing else {
            break;
        };
        match query {
            SpfQuery::Txt(name) => {
                let answer = lookups.txt(&name).await;
                branches.txt.push(Answer::from_result(name, answer));
            }
            SpfQuery::Ip(name) => {
                let answer = lookups.ip(&name).await;
                branches.ip.push(Answer::from_result(name, answer));
            }
            SpfQuery::Mx(name) => {
                let answer = lookups.mx(&name).await;
                branches.mx.push(Answer::from_result(name, answer));
            }
        }
    }
    branches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::lookup::MemoryZone;

    fn fetch(zone: &MemoryZone, domain: &str) -> SpfBranches {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let txt = Answer::from_result(domain, rt.block_on(DnsLookup::txt(zone, domain)));
        rt.block_on(fetch_branches(domain, &txt, zone))
    }

    #[test]
    fn asks_each_branch_once_in_the_walks_order() {
        let zone = MemoryZone::new()
            .txt(
                "example.org",
                "v=spf1 mx a include:_spf.provider.example a:example.org -all",
            )
            .mx("example.org", 10, "mail.example.org")
            .ip("example.org", "192.0.2.1".parse().unwrap())
            .txt(
                "_spf.provider.example",
                "v=spf1 include:_n1.provider.example ~all",
            )
            .failing_txt("_n1.provider.example");
        let branches = fetch(&zone, "example.org");
        assert_eq!(
            zone.queries(),
            vec![
                "TXT example.org",
                "MX example.org",
                "A/AAAA example.org",
                "TXT _spf.provider.example",
                "TXT _n1.provider.example",
            ]
        );
        assert_eq!(branches.txt.len(), 2);
        assert_eq!(branches.txt[1].error.as_deref(), Some("SERVFAIL"));
        assert_eq!(branches.ip[0].records.len(), 1);
        assert_eq!(branches.mx[0].records[0].exchange, "mail.example.org");
    }

    #[test]
    fn a_chain_of_includes_and_a_flood_of_terms_are_bounded() {
        let mut zone = MemoryZone::new();
        for i in 0..100 {
            zone = zone.txt(
                &format!("n{i}.example"),
                &format!("v=spf1 include:n{}.example -all", i + 1),
            );
        }
        fetch(&zone, "n0.example");
        // The depth bound stops the chain: the root's TXT and 11 includes below it.
        assert_eq!(zone.queries().len(), spf_eval::MAX_DEPTH);

        let terms: Vec<String> = (0..1_000).map(|i| format!("a:h{i}.example")).collect();
        let zone =
            MemoryZone::new().txt("flood.example", &format!("v=spf1 {} -all", terms.join(" ")));
        let branches = fetch(&zone, "flood.example");
        assert_eq!(branches.ip.len(), MAX_QUERIES);
        assert_eq!(zone.queries().len(), 1 + MAX_QUERIES);
    }
}
