//! SPF evaluation for posture, not for one message: every branch of the record is expanded
//! (includes and redirect followed recursively) and the DNS-querying terms counted, because
//! a receiver may walk any branch depending on the sender's address. RFC 7208 §4.6.4 sets
//! the limits: at most 10 terms that query DNS (include, a, mx, ptr, exists, redirect) and
//! at most 2 "void" lookups (no answer), beyond which receivers return `permerror`.
//!
//! Pure: the walk reads the raw answers the probe recorded ([`SpfBranches`]). The probe
//! gathers them with the same walk: it asks [`expand`] which answer is missing first
//! ([`Expansion::missing`]), queries it, and asks again until nothing is missing, so it
//! sends exactly the queries the walk needs, in its order, within its bounds.
//!
//! The result is a tree, serialized as evidence, with each term's own count and the
//! subtotal of its subtree, so a person can see which include eats the budget.

use std::collections::HashMap;

use super::spf::{self, DomainSpec, Mechanism, Modifier, SpfRecord, TermKind};
use super::spf::{LOOKUP_LIMIT, MX_LIMIT};
use vigie_model::observation::email::{
    Answer, EvaluatedTerm, SpfBranches, SpfEvaluation, SpfNode, SpfProblem,
};

/// Expansion stops following includes past this many counted lookups or this depth: the
/// verdict is already "over the limit" and a hostile record must not make us walk forever.
pub const STOP_AFTER_LOOKUPS: u32 = 3 * LOOKUP_LIMIT;
pub const MAX_DEPTH: usize = 12;

/// The reason a DNS problem names when the observation holds no answer for a name the walk
/// needs (the probe stopped at its bound).
pub const NOT_ASKED: &str = "not asked: the probe's query budget was spent";

/// A query the walk needs, of the type and name it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfQuery {
    Txt(String),
    /// A and AAAA.
    Ip(String),
    Mx(String),
}

/// The walk over the answers at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub evaluation: SpfEvaluation,
    /// The first query, in the walk's order, whose answer the branches lack; `None` when the
    /// evaluation read only recorded answers.
    pub missing: Option<SpfQuery>,
}

/// Lowercase, without the trailing dot: how names are asked and recorded.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Expands the SPF record of `domain`, whose own TXT answer is `txt`, over the recorded
/// `branches`. The root's own TXT lookup is not counted (it is the lookup that finds the
/// policy); every other query is.
pub fn expand(domain: &str, txt: &Answer<String>, branches: &SpfBranches) -> Expansion {
    let domain = normalize(domain);
    let mut walk = Walk {
        txt: index(&branches.txt),
        ip: index(&branches.ip),
        mx: index(&branches.mx),
        root: txt,
        lookups: 0,
        void_lookups: 0,
        problems: Vec::new(),
        missing: None,
        stack: Vec::new(),
    };
    let tree = walk.node(domain, true);
    Expansion {
        evaluation: SpfEvaluation {
            lookups: walk.lookups,
            void_lookups: walk.void_lookups,
            problems: walk.problems,
            tree,
        },
        missing: walk.missing,
    }
}

/// The first answer recorded for each name.
fn index<T>(answers: &[Answer<T>]) -> HashMap<&str, &Answer<T>> {
    let mut out = HashMap::with_capacity(answers.len());
    for answer in answers {
        out.entry(answer.name.as_str()).or_insert(answer);
    }
    out
}

struct Walk<'a> {
    txt: HashMap<&'a str, &'a Answer<String>>,
    ip: HashMap<&'a str, &'a Answer<std::net::IpAddr>>,
    mx: HashMap<&'a str, &'a Answer<vigie_model::observation::email::MxRecord>>,
    root: &'a Answer<String>,
    lookups: u32,
    void_lookups: u32,
    problems: Vec<SpfProblem>,
    missing: Option<SpfQuery>,
    stack: Vec<String>,
}

/// The records of `name`, or the reason there is no usable answer. A name without a recorded
/// answer is the walk's first missing query, if none came before it.
fn read<'a, T>(
    answers: &HashMap<&str, &'a Answer<T>>,
    name: &str,
    missing: &mut Option<SpfQuery>,
    query: fn(String) -> SpfQuery,
) -> Result<&'a [T], String> {
    match answers.get(name) {
        Some(answer) => match &answer.error {
            Some(reason) => Err(reason.clone()),
            None => Ok(&answer.records),
        },
        None => {
            if missing.is_none() {
                *missing = Some(query(name.to_owned()));
            }
            Err(NOT_ASKED.to_owned())
        }
    }
}

impl Walk<'_> {
    fn node(&mut self, domain: String, root: bool) -> SpfNode {
        let mut out = SpfNode {
            domain: domain.clone(),
            record: None,
            terms: Vec::new(),
        };
        let txt = if root {
            match &self.root.error {
                Some(reason) => Err(reason.clone()),
                None => Ok(self.root.records.as_slice()),
            }
        } else {
            read(&self.txt, &domain, &mut self.missing, SpfQuery::Txt)
        };
        let txt = match txt {
            Ok(txt) => txt,
            Err(reason) => {
                self.problems.push(SpfProblem::Dns { domain, reason });
                return out;
            }
        };
        if !root && txt.is_empty() {
            self.void_lookups += 1;
        }
        let records: Vec<&String> = txt.iter().filter(|t| spf::is_spf(t)).collect();
        let record = match records.as_slice() {
            [] => {
                // The root's absence is `email.spf.missing`, judged by the caller.
                if !root {
                    self.problems.push(SpfProblem::NoRecord { domain });
                }
                return out;
            }
            [one] => (*one).clone(),
            many => {
                self.problems.push(SpfProblem::MultipleRecords {
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
                self.problems.push(SpfProblem::Syntax { domain, error });
                return out;
            }
        };
        self.stack.push(domain.clone());
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
            let before = self.lookups;
            match &term.kind {
                TermKind::Directive(d) => match &d.mechanism {
                    Mechanism::Include { domain: target } => {
                        self.count(&mut eval);
                        self.follow(target, &domain, &mut eval);
                    }
                    Mechanism::A { domain: target, .. } => {
                        self.count(&mut eval);
                        if let Some(name) = literal(target.as_ref(), &domain, &mut eval) {
                            match read(&self.ip, &name, &mut self.missing, SpfQuery::Ip) {
                                Ok([]) => self.void(&mut eval),
                                Ok(_) => {}
                                Err(reason) => self.dns_problem(&mut eval, name, reason),
                            }
                        }
                    }
                    Mechanism::Mx { domain: target, .. } => {
                        self.count(&mut eval);
                        if let Some(name) = literal(target.as_ref(), &domain, &mut eval) {
                            match read(&self.mx, &name, &mut self.missing, SpfQuery::Mx) {
                                Ok([]) => self.void(&mut eval),
                                Ok(mx) if mx.len() > MX_LIMIT => {
                                    self.problems.push(SpfProblem::TooManyMx {
                                        domain: name,
                                        count: mx.len(),
                                    });
                                }
                                Ok(_) => {}
                                Err(reason) => self.dns_problem(&mut eval, name, reason),
                            }
                        }
                    }
                    Mechanism::Ptr { .. } => {
                        // Needs the sender's address to query: counted, not run.
                        self.count(&mut eval);
                        eval.note = Some("depends on the sender's address".into());
                    }
                    Mechanism::Exists { domain: target } => {
                        self.count(&mut eval);
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
                        self.count(&mut eval);
                        self.follow(target, &domain, &mut eval);
                    }
                }
                TermKind::Modifier(_) => {}
            }
            eval.subtotal = self.lookups - before;
            out.terms.push(eval);
        }
        self.stack.pop();
        out
    }

    fn count(&mut self, eval: &mut EvaluatedTerm) {
        self.lookups += 1;
        eval.lookups = 1;
    }

    fn void(&mut self, eval: &mut EvaluatedTerm) {
        self.void_lookups += 1;
        eval.void = true;
    }

    fn dns_problem(&mut self, eval: &mut EvaluatedTerm, domain: String, reason: String) {
        eval.note = Some(format!("DNS failure: {reason}"));
        self.problems.push(SpfProblem::Dns { domain, reason });
    }

    fn follow(&mut self, target: &DomainSpec, current: &str, eval: &mut EvaluatedTerm) {
        let Some(name) = literal(Some(target), current, eval) else {
            return;
        };
        if self.stack.contains(&name) {
            eval.note = Some("loop".into());
            self.problems.push(SpfProblem::Loop { domain: name });
            return;
        }
        if self.lookups > STOP_AFTER_LOOKUPS || self.stack.len() >= MAX_DEPTH {
            eval.note = Some("not expanded: limits already exceeded".into());
            if !self
                .problems
                .iter()
                .any(|p| matches!(p, SpfProblem::Truncated { .. }))
            {
                self.problems.push(SpfProblem::Truncated { domain: name });
            }
            return;
        }
        let child = self.node(name, false);
        eval.child = Some(Box::new(child));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use vigie_model::observation::email::MxRecord;

    /// A zone the test walks the way the probe does: ask [`expand`] for its first missing
    /// answer, answer it from the zone, again, until nothing is missing.
    #[derive(Default)]
    struct Zone {
        txt: HashMap<String, Vec<String>>,
        ip: HashMap<String, Vec<IpAddr>>,
        mx: HashMap<String, Vec<MxRecord>>,
        failing: Vec<String>,
    }

    impl Zone {
        fn txt(mut self, name: &str, text: &str) -> Self {
            self.txt.entry(name.into()).or_default().push(text.into());
            self
        }
        fn ip(mut self, name: &str, ip: &str) -> Self {
            let ip = ip.parse().expect("a test address");
            self.ip.entry(name.into()).or_default().push(ip);
            self
        }
        fn mx(mut self, name: &str, host: &str) -> Self {
            let record = MxRecord {
                preference: 10,
                exchange: host.into(),
            };
            self.mx.entry(name.into()).or_default().push(record);
            self
        }
        fn failing_txt(mut self, name: &str) -> Self {
            self.failing.push(name.into());
            self
        }

        fn answer<T: Clone>(&self, map: &HashMap<String, Vec<T>>, name: &str) -> Answer<T> {
            if self.failing.iter().any(|f| f == name) {
                return Answer {
                    name: name.into(),
                    records: Vec::new(),
                    error: Some("SERVFAIL".into()),
                    kind: None,
                };
            }
            Answer::records(name, map.get(name).cloned().unwrap_or_default())
        }

        /// The evaluation, and the number of queries the walk needed beyond the root's.
        fn run(&self, domain: &str) -> (SpfEvaluation, usize) {
            let root = self.answer(&self.txt, domain);
            let mut branches = SpfBranches::default();
            for queries in 0..1_000 {
                let expansion = expand(domain, &root, &branches);
                match expansion.missing {
                    None => return (expansion.evaluation, queries),
                    Some(SpfQuery::Txt(name)) => branches.txt.push(self.answer(&self.txt, &name)),
                    Some(SpfQuery::Ip(name)) => branches.ip.push(self.answer(&self.ip, &name)),
                    Some(SpfQuery::Mx(name)) => branches.mx.push(self.answer(&self.mx, &name)),
                }
            }
            panic!("the walk asked for more than 1,000 answers");
        }
    }

    fn run(zone: &Zone, domain: &str) -> SpfEvaluation {
        zone.run(domain).0
    }

    #[test]
    fn counts_recursively_with_subtotals() {
        let zone = Zone::default()
            .txt(
                "example.org",
                "v=spf1 mx a include:_spf.provider.example ip4:192.0.2.1 -all",
            )
            .mx("example.org", "mail.example.org")
            .ip("example.org", "192.0.2.1")
            .txt(
                "_spf.provider.example",
                "v=spf1 include:_n1.provider.example include:_n2.provider.example ~all",
            )
            .txt("_n1.provider.example", "v=spf1 ip4:198.51.100.0/24 ~all")
            .txt("_n2.provider.example", "v=spf1 ip6:2001:db8::/32 ~all");
        let (e, queries) = zone.run("example.org");
        assert_eq!(e.lookups, 5, "mx + a + include + 2 nested includes");
        assert_eq!(queries, 5, "MX, A, and the three TXT");
        assert_eq!(e.void_lookups, 0);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let include = &e.tree.terms[2];
        assert_eq!((include.lookups, include.subtotal), (1, 3));
        assert_eq!(include.child.as_ref().map(|c| c.terms.len()), Some(3));
    }

    #[test]
    fn eleven_lookups_over_the_limit_and_void_lookups() {
        let mut zone = Zone::default();
        let mut record = String::from("v=spf1");
        for i in 0..11 {
            record.push_str(&format!(" include:s{i}.example.net"));
            zone = zone.txt(&format!("s{i}.example.net"), "v=spf1 -all");
        }
        record.push_str(" -all");
        let zone = zone.txt("example.org", &record);
        assert_eq!(run(&zone, "example.org").lookups, 11);

        let zone = Zone::default().txt(
            "example.org",
            "v=spf1 a:nohost.example.org mx:nomx.example.org a:gone.example.org -all",
        );
        let e = run(&zone, "example.org");
        assert_eq!((e.lookups, e.void_lookups), (3, 3));
        assert!(e.tree.terms.iter().take(3).all(|t| t.void));
    }

    #[test]
    fn loops_missing_includes_and_redirect() {
        let zone = Zone::default()
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

        let zone = Zone::default()
            .txt("a.example", "v=spf1 redirect=_spf.a.example")
            .txt("_spf.a.example", "v=spf1 include:missing.example -all");
        let e = run(&zone, "a.example");
        assert_eq!((e.lookups, e.void_lookups), (2, 1));
        assert_eq!(
            e.problems,
            vec![SpfProblem::NoRecord {
                domain: "missing.example".into()
            }]
        );

        // redirect beside `all` is ignored and not counted.
        let zone = Zone::default().txt("a.example", "v=spf1 -all redirect=b.example");
        assert_eq!(zone.run("a.example").1, 0, "nothing to ask");
        assert_eq!(run(&zone, "a.example").lookups, 0);
    }

    #[test]
    fn self_include_loop_terminates_and_deep_chains_are_bounded() {
        let zone = Zone::default().txt("a.example", "v=spf1 include:a.example -all");
        let e = run(&zone, "a.example");
        assert_eq!(
            e.problems,
            vec![SpfProblem::Loop {
                domain: "a.example".into()
            }]
        );
        // A chain of 100 distinct includes stops early instead of walking all of it.
        let mut zone = Zone::default();
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
        let (e, queries) = zone.run("n0.example");
        assert!(e.lookups > LOOKUP_LIMIT);
        assert!(queries < 200, "{queries}");
        assert!(e
            .problems
            .iter()
            .any(|p| matches!(p, SpfProblem::Truncated { .. })));
    }

    #[test]
    fn macros_ptr_multiple_and_dns_failures() {
        let zone = Zone::default()
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
        assert_eq!(
            e.problems[2],
            SpfProblem::Dns {
                domain: "down.example".into(),
                reason: "SERVFAIL".into()
            }
        );
        let json = serde_json::to_value(&e).unwrap();
        let back: SpfEvaluation = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn an_answer_the_probe_did_not_record_grades_as_a_dns_failure() {
        let zone = Zone::default().txt("a.example", "v=spf1 a:one.example mx:two.example -all");
        let root = zone.answer(&zone.txt, "a.example");
        let expansion = expand("a.example", &root, &SpfBranches::default());
        assert_eq!(expansion.missing, Some(SpfQuery::Ip("one.example".into())));
        let e = expansion.evaluation;
        assert_eq!((e.lookups, e.void_lookups), (2, 0));
        assert_eq!(
            e.problems,
            vec![
                SpfProblem::Dns {
                    domain: "one.example".into(),
                    reason: NOT_ASKED.into()
                },
                SpfProblem::Dns {
                    domain: "two.example".into(),
                    reason: NOT_ASKED.into()
                }
            ]
        );
        // A failed root answer is a DNS problem of the root, with nothing to ask.
        let failed = Answer {
            name: "a.example".into(),
            records: Vec::new(),
            error: Some("timed out".into()),
            kind: None,
        };
        let expansion = expand("a.example", &failed, &SpfBranches::default());
        assert_eq!(expansion.missing, None);
        assert!(matches!(
            expansion.evaluation.problems[..],
            [SpfProblem::Dns { .. }]
        ));
    }
}
