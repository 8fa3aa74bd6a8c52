//! SPF evaluation for posture, not for one message: every branch of the record is expanded
//! (includes and redirect followed recursively) and the DNS-querying terms counted, because
//! a receiver may walk any branch depending on the sender's address. RFC 7208 §4.6.4 sets
//! the limits: at most 10 terms that query DNS (include, a, mx, ptr, exists, redirect) and
//! at most 2 "void" lookups (no answer), beyond which receivers return `permerror`.
//!
//! The result is a tree, serialized as evidence, with each term's own count and the
//! subtotal of its subtree, so a person can see which include eats the budget.

use std::future::Future;
use std::pin::Pin;

use super::lookup::{normalize, DnsLookup};
use super::spf::{self, DomainSpec, Mechanism, Modifier, SpfRecord, TermKind};

pub use vigie_model::observation::email::{EvaluatedTerm, SpfEvaluation, SpfNode, SpfProblem};

pub use super::spf::{LOOKUP_LIMIT, MX_LIMIT, VOID_LIMIT};
/// Expansion stops following includes past this many counted lookups or this depth: the
/// verdict is already "over the limit" and a hostile record must not make us walk forever.
const STOP_AFTER_LOOKUPS: u32 = 3 * LOOKUP_LIMIT;
const MAX_DEPTH: usize = 12;

struct State {
    lookups: u32,
    void_lookups: u32,
    problems: Vec<SpfProblem>,
}

/// Expands the SPF record of `domain`. The root's own TXT lookup is not counted (it is
/// the lookup that finds the policy); every other query is.
pub async fn evaluate_spf<L: DnsLookup>(domain: &str, dns: &L) -> SpfEvaluation {
    let mut state = State {
        lookups: 0,
        void_lookups: 0,
        problems: Vec::new(),
    };
    let mut stack = Vec::new();
    let tree = node(dns, normalize(domain), &mut stack, &mut state, true).await;
    SpfEvaluation {
        lookups: state.lookups,
        void_lookups: state.void_lookups,
        problems: state.problems,
        tree,
    }
}

type NodeFuture<'a> = Pin<Box<dyn Future<Output = SpfNode> + Send + 'a>>;

fn node<'a, L: DnsLookup>(
    dns: &'a L,
    domain: String,
    stack: &'a mut Vec<String>,
    state: &'a mut State,
    root: bool,
) -> NodeFuture<'a> {
    Box::pin(async move {
        let mut out = SpfNode {
            domain: domain.clone(),
            record: None,
            terms: Vec::new(),
        };
        let txt = match dns.txt(&domain).await {
            Ok(txt) => txt,
            Err(error) => {
                state.problems.push(SpfProblem::Dns {
                    domain,
                    reason: error.reason,
                });
                return out;
            }
        };
        if !root && txt.is_empty() {
            state.void_lookups += 1;
        }
        let records: Vec<&String> = txt.iter().filter(|t| spf::is_spf(t)).collect();
        let record = match records.as_slice() {
            [] => {
                // The root's absence is `email.spf.missing`, judged by the caller.
                if !root {
                    state.problems.push(SpfProblem::NoRecord { domain });
                }
                return out;
            }
            [one] => (*one).clone(),
            many => {
                state.problems.push(SpfProblem::MultipleRecords {
                    domain,
                    count: many.len(),
                });
                return out;
            }
        };
        out.record = Some(record.clone());
        let parsed = match SpfRecord::parse(&record) {
            Ok(parsed) => parsed,
            Err(error) => {
                state.problems.push(SpfProblem::Syntax { domain, error });
                return out;
            }
        };
        stack.push(domain.clone());
        let has_all = parsed.all().is_some();
        for term in &parsed.terms {
            let mut eval = EvaluatedTerm {
                term: term.text.clone(),
                lookups: 0,
                subtotal: 0,
                void: false,
                note: None,
                child: None,
            };
            let before = state.lookups;
            match &term.kind {
                TermKind::Directive(d) => match &d.mechanism {
                    Mechanism::Include { domain: target } => {
                        count(state, &mut eval);
                        follow(dns, target, &domain, stack, state, &mut eval).await;
                    }
                    Mechanism::A { domain: target, .. } => {
                        count(state, &mut eval);
                        if let Some(name) = literal(target.as_ref(), &domain, &mut eval) {
                            match dns.ip(&name).await {
                                Ok(ips) if ips.is_empty() => void(state, &mut eval),
                                Ok(_) => {}
                                Err(e) => dns_problem(state, &mut eval, name, e.reason),
                            }
                        }
                    }
                    Mechanism::Mx { domain: target, .. } => {
                        count(state, &mut eval);
                        if let Some(name) = literal(target.as_ref(), &domain, &mut eval) {
                            match dns.mx(&name).await {
                                Ok(mx) if mx.is_empty() => void(state, &mut eval),
                                Ok(mx) if mx.len() > MX_LIMIT => {
                                    state.problems.push(SpfProblem::TooManyMx {
                                        domain: name,
                                        count: mx.len(),
                                    });
                                }
                                Ok(_) => {}
                                Err(e) => dns_problem(state, &mut eval, name, e.reason),
                            }
                        }
                    }
                    Mechanism::Ptr { .. } => {
                        // Needs the sender's address to query: counted, not run.
                        count(state, &mut eval);
                        eval.note = Some("depends on the sender's address".into());
                    }
                    Mechanism::Exists { domain: target } => {
                        count(state, &mut eval);
                        if target.has_macros() {
                            eval.note = Some("depends on the message (macros)".into());
                        }
                    }
                    Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
                },
                TermKind::Modifier(Modifier::Redirect { domain: target }) => {
                    if has_all {
                        // §6.1: redirect is ignored when the record has `all`.
                        eval.note = Some("ignored: the record has `all`".into());
                    } else {
                        count(state, &mut eval);
                        follow(dns, target, &domain, stack, state, &mut eval).await;
                    }
                }
                TermKind::Modifier(_) => {}
            }
            eval.subtotal = state.lookups - before;
            out.terms.push(eval);
        }
        stack.pop();
        out
    })
}

fn count(state: &mut State, eval: &mut EvaluatedTerm) {
    state.lookups += 1;
    eval.lookups = 1;
}

fn void(state: &mut State, eval: &mut EvaluatedTerm) {
    state.void_lookups += 1;
    eval.void = true;
}

fn dns_problem(state: &mut State, eval: &mut EvaluatedTerm, domain: String, reason: String) {
    eval.note = Some(format!("DNS failure: {reason}"));
    state.problems.push(SpfProblem::Dns { domain, reason });
}

/// The name a term queries, or `None` (with a note) when it depends on macros.
fn literal(target: Option<&DomainSpec>, current: &str, eval: &mut EvaluatedTerm) -> Option<String> {
    match target {
        None => Some(current.to_owned()),
        Some(spec) if spec.has_macros() => {
            eval.note = Some("depends on the message (macros)".into());
            None
        }
        Some(spec) => Some(normalize(spec.as_str())),
    }
}

async fn follow<L: DnsLookup>(
    dns: &L,
    target: &DomainSpec,
    current: &str,
    stack: &mut Vec<String>,
    state: &mut State,
    eval: &mut EvaluatedTerm,
) {
    let Some(name) = literal(Some(target), current, eval) else {
        return;
    };
    if stack.contains(&name) {
        eval.note = Some("loop".into());
        state.problems.push(SpfProblem::Loop { domain: name });
        return;
    }
    if state.lookups > STOP_AFTER_LOOKUPS || stack.len() >= MAX_DEPTH {
        eval.note = Some("not expanded: limits already exceeded".into());
        if !state
            .problems
            .iter()
            .any(|p| matches!(p, SpfProblem::Truncated { .. }))
        {
            state.problems.push(SpfProblem::Truncated { domain: name });
        }
        return;
    }
    let child = node(dns, name, stack, state, false).await;
    eval.child = Some(Box::new(child));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::lookup::MemoryZone;

    fn run(zone: &MemoryZone, domain: &str) -> SpfEvaluation {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(evaluate_spf(domain, zone))
    }

    #[test]
    fn counts_recursively_with_subtotals() {
        let zone = MemoryZone::new()
            .txt(
                "example.org",
                "v=spf1 mx a include:_spf.provider.example ip4:192.0.2.1 -all",
            )
            .mx("example.org", 10, "mail.example.org")
            .ip("example.org", "192.0.2.1".parse().unwrap())
            .txt(
                "_spf.provider.example",
                "v=spf1 include:_n1.provider.example include:_n2.provider.example ~all",
            )
            .txt("_n1.provider.example", "v=spf1 ip4:198.51.100.0/24 ~all")
            .txt("_n2.provider.example", "v=spf1 ip6:2001:db8::/32 ~all");
        let e = run(&zone, "example.org");
        assert_eq!(e.lookups, 5, "mx + a + include + 2 nested includes");
        assert_eq!(e.void_lookups, 0);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let include = &e.tree.terms[2];
        assert_eq!((include.lookups, include.subtotal), (1, 3));
        assert_eq!(include.child.as_ref().map(|c| c.terms.len()), Some(3));
    }

    #[test]
    fn eleven_lookups_over_the_limit_and_void_lookups() {
        let mut zone = MemoryZone::new();
        let mut record = String::from("v=spf1");
        for i in 0..11 {
            record.push_str(&format!(" include:s{i}.example.net"));
            zone = zone.txt(&format!("s{i}.example.net"), "v=spf1 -all");
        }
        record.push_str(" -all");
        let zone = zone.txt("example.org", &record);
        let e = run(&zone, "example.org");
        assert_eq!(e.lookups, 11);

        let zone = MemoryZone::new().txt(
            "example.org",
            "v=spf1 a:nohost.example.org mx:nomx.example.org a:gone.example.org -all",
        );
        let e = run(&zone, "example.org");
        assert_eq!((e.lookups, e.void_lookups), (3, 3));
        assert!(e.tree.terms.iter().take(3).all(|t| t.void));
    }

    #[test]
    fn loops_missing_includes_and_redirect() {
        let zone = MemoryZone::new()
            .txt("a.example", "v=spf1 include:b.example -all")
            .txt("b.example", "v=spf1 include:a.example -all");
        let e = run(&zone, "a.example");
        assert_eq!(
            e.problems,
            vec![SpfProblem::Loop {
                domain: "a.example".into()
            }]
        );
        assert_eq!(e.lookups, 2);

        let zone = MemoryZone::new()
            .txt("a.example", "v=spf1 redirect=_spf.a.example")
            .txt("_spf.a.example", "v=spf1 include:missing.example -all");
        let e = run(&zone, "a.example");
        assert_eq!(e.lookups, 2);
        assert_eq!(e.void_lookups, 1);
        assert_eq!(
            e.problems,
            vec![SpfProblem::NoRecord {
                domain: "missing.example".into()
            }]
        );

        // redirect beside `all` is ignored and not counted.
        let zone = MemoryZone::new().txt("a.example", "v=spf1 -all redirect=b.example");
        assert_eq!(run(&zone, "a.example").lookups, 0);
    }

    #[test]
    fn self_include_loop_terminates_and_deep_chains_are_bounded() {
        let zone = MemoryZone::new().txt("a.example", "v=spf1 include:a.example -all");
        let e = run(&zone, "a.example");
        assert_eq!(
            e.problems,
            vec![SpfProblem::Loop {
                domain: "a.example".into()
            }]
        );
        // A chain of 100 distinct includes stops early instead of walking all of it.
        let mut zone = MemoryZone::new();
        for i in 0..100 {
            zone = zone.txt(
                &format!("n{i}.example"),
                &format!(
                    "v=spf1 include:n{}.example include:n{}.example -all",
                    i + 1,
                    i + 1
                ),
            );
        }
        let e = run(&zone, "n0.example");
        assert!(e.lookups > LOOKUP_LIMIT);
        assert!(zone.queries().len() < 200, "{}", zone.queries().len());
        assert!(e
            .problems
            .iter()
            .any(|p| matches!(p, SpfProblem::Truncated { .. })));
    }

    #[test]
    fn macros_ptr_multiple_and_dns_failures() {
        let zone = MemoryZone::new()
            .txt("a.example", "v=spf1 exists:%{i}._spf.a.example ptr include:two.example include:bad.example include:down.example -all")
            .txt("two.example", "v=spf1 -all")
            .txt("two.example", "v=spf1 ~all")
            .txt("bad.example", "v=spf1 ipv4:192.0.2.1 -all")
            .failing_txt("down.example");
        let e = run(&zone, "a.example");
        assert_eq!(e.lookups, 5);
        assert_eq!(
            e.tree.terms[0].note.as_deref(),
            Some("depends on the message (macros)")
        );
        assert!(matches!(
            e.problems[0],
            SpfProblem::MultipleRecords { count: 2, .. }
        ));
        assert!(matches!(e.problems[1], SpfProblem::Syntax { .. }));
        assert!(matches!(e.problems[2], SpfProblem::Dns { .. }));
        let json = serde_json::to_value(&e).unwrap();
        let back: SpfEvaluation = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }
}
