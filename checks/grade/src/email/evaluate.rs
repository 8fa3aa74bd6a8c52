//! Grading: [`EmailObservation`] → one [`Verdict`] per `email.*` and `dns.*` check.
//!
//! Pure: no I/O, and time only from the argument. Every check of the family gives exactly
//! one verdict per domain (`skip` when it does not apply, `error` when the facts it needs
//! could not be had), so a report never has silent gaps.

use chrono::{DateTime, Utc};
use serde_json::json;
use vigie_model::{Check, FailureKind, Family, Message, Severity, Status, Verdict};

use super::dkim::{DkimKey, KeyType};
use super::dmarc::{self, DmarcError, DmarcRecord, Policy};
use super::mta_sts::{self, Mode, MtaStsPolicy, MtaStsRecord};
use super::observation::{Answer, EmailObservation, ResolverSilence, SpfNode, SpfProblem};
use super::orgdomain::is_external;
use super::records::{self, BimiRecord, TlsRptRecord};
use super::spf::{self, Qualifier, SpfRecord, LOOKUP_LIMIT, VOID_LIMIT};
use super::spf_eval;

/// All verdicts for one domain, in catalogue order.
pub fn evaluate(obs: &EmailObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    if let Some(silence) = &obs.resolver_silent {
        return silent_resolver_verdicts(obs, silence);
    }
    let ctx = Context::new(obs, now);
    let mut out = Vec::new();
    spf_verdicts(&ctx, &mut out);
    dmarc_verdicts(&ctx, &mut out);
    dkim_verdicts(&ctx, &mut out);
    mx_verdicts(&ctx, &mut out);
    transport_verdicts(&ctx, &mut out);
    dns_verdicts(&ctx, &mut out);
    out
}

/// The probe stopped asking a resolver that answered none of its first questions: one
/// finding says what failed and what to do, every other check of the domain is an `error`
/// that points to it. Never a `pass`, and never a "missing record" `fail` that would tell
/// someone to publish a record that may well exist.
/// The verdict that counts a probe failure carries its kind as evidence (`failure`), read by
/// the collector's `vigie_probe_failures`; reports of older agents carry no kind and add none.
fn with_failure(verdict: Verdict, kind: Option<FailureKind>) -> Verdict {
    match kind {
        Some(kind) => verdict.evidence("failure", kind.as_str()),
        None => verdict,
    }
}

fn silent_resolver_verdicts(obs: &EmailObservation, silence: &ResolverSilence) -> Vec<Verdict> {
    let resolver = if silence.resolvers.is_empty() {
        "-".to_owned()
    } else {
        silence.resolvers.join(", ")
    };
    let domain = obs.domain.as_str();
    let mut checks = Check::ALL
        .iter()
        .copied()
        .filter(|check| check.family() == Family::Email);
    let mut out = Vec::new();
    if let Some(first) = checks.next() {
        let verdict = Verdict::new(
            first,
            domain,
            Status::Error,
            Message::new("email.error.resolver_silent")
                .arg("domain", domain)
                .arg("resolver", &resolver)
                .arg("count", silence.unanswered),
        )
        .remediation(Message::new("email.error.resolver_silent.fix").arg("resolver", &resolver))
        .evidence("resolvers", &silence.resolvers)
        .evidence("unanswered", silence.unanswered);
        // The first check (`email.spf.missing`) counts the domain's DNS failure, once.
        out.push(with_failure(verdict, silence.kind));
    }
    out.extend(checks.map(|check| {
        Verdict::new(
            check,
            domain,
            Status::Error,
            Message::new("email.error.resolver_silent.not_checked")
                .arg("domain", domain)
                .arg("resolver", &resolver),
        )
    }));
    out
}

/// Facts derived once and used by several rules.
struct Context<'a> {
    obs: &'a EmailObservation,
    /// The scan's instant: MX certificates are judged current at it.
    now: DateTime<Utc>,
    domain: &'a str,
    /// The SPF records among the domain's TXT records.
    spf_records: Vec<&'a String>,
    spf: Option<Result<SpfRecord, spf::SpfError>>,
    /// No MX, or a null MX: the domain receives no mail.
    parked: bool,
    null_mx: bool,
    dmarc: DmarcFound,
}

/// The DMARC policy that applies to the domain, and where it came from.
enum DmarcFound {
    /// The lookup failed (at the domain or, when needed, at the organizational domain).
    Error(String),
    None,
    /// Several valid records at one name: receivers apply no policy (RFC 7489 §6.6.3).
    Several {
        name: String,
        count: usize,
    },
    Found {
        name: String,
        text: String,
        record: DmarcRecord,
        /// Found at the organizational domain, not the domain itself.
        inherited: bool,
    },
}

fn dmarc_candidates(answer: &Answer<String>) -> Vec<&String> {
    answer
        .records
        .iter()
        .filter(|t| dmarc::is_dmarc(t))
        .collect()
}

impl<'a> Context<'a> {
    fn new(obs: &'a EmailObservation, now: DateTime<Utc>) -> Self {
        let spf_records: Vec<&String> = obs
            .spf
            .txt
            .records
            .iter()
            .filter(|t| spf::is_spf(t))
            .collect();
        let spf = match spf_records.as_slice() {
            [one] => Some(SpfRecord::parse(one)),
            _ => None,
        };
        let null_mx = obs
            .mx
            .records
            .iter()
            .any(|mx| mx.exchange.is_empty() || mx.exchange == ".");
        let parked = !obs.mx.failed() && (obs.mx.records.is_empty() || null_mx);
        Context {
            obs,
            now,
            domain: &obs.domain,
            spf_records,
            spf,
            parked,
            null_mx,
            dmarc: find_dmarc(obs),
        }
    }

    fn verdict(&self, check: Check, status: Status, summary: Message) -> Verdict {
        Verdict::new(check, self.domain, status, summary)
    }

    fn msg(&self, key: &'static str) -> Message {
        Message::new(key).arg("domain", self.domain)
    }

    fn skip(&self, check: Check, key: &'static str) -> Verdict {
        self.verdict(check, Status::Skip, self.msg(key))
    }

    fn dns_error(&self, check: Check, answer_name: &str, reason: &str) -> Verdict {
        self.verdict(
            check,
            Status::Error,
            Message::new("email.error.dns")
                .arg("name", answer_name)
                .arg("reason", reason),
        )
        .evidence("name", answer_name)
        .evidence("reason", reason)
    }

    fn sends_mail(&self) -> bool {
        let spf_authorizes = matches!(&self.spf, Some(Ok(r)) if r.directives().any(|d| d.qualifier == Qualifier::Pass && d.mechanism != spf::Mechanism::All));
        spf_authorizes || !dkim_keys(self.obs).is_empty()
    }
}

fn find_dmarc(obs: &EmailObservation) -> DmarcFound {
    let at = |answer: &Answer<String>, inherited: bool| -> Option<DmarcFound> {
        if let Some(e) = &answer.error {
            return Some(DmarcFound::Error(format!("{}: {e}", answer.name)));
        }
        match dmarc_candidates(answer).as_slice() {
            [] => None,
            [one] => DmarcRecord::parse(one)
                .ok()
                .map(|record| DmarcFound::Found {
                    name: answer.name.clone(),
                    text: (*one).clone(),
                    record,
                    inherited,
                }),
            many => Some(DmarcFound::Several {
                name: answer.name.clone(),
                count: many.len(),
            }),
        }
    };
    if let Some(found) = at(&obs.dmarc.txt, false) {
        return found;
    }
    match &obs.dmarc.org_txt {
        Some(org) => at(org, true).unwrap_or(DmarcFound::None),
        None => DmarcFound::None,
    }
}

/// The `all` qualifier in force: the record's own, else the redirect target's (§6.1).
/// `Err(())` when a redirect target could not be read.
fn effective_all(node: &SpfNode) -> Result<Option<Qualifier>, ()> {
    let Some(text) = &node.record else {
        return Err(());
    };
    let Ok(record) = SpfRecord::parse(text) else {
        return Err(());
    };
    if let Some(q) = record.all() {
        return Ok(Some(q));
    }
    if record.redirect().is_none() {
        return Ok(None);
    }
    let child = node
        .terms
        .iter()
        .find(|t| t.term.to_ascii_lowercase().starts_with("redirect="))
        .and_then(|t| t.child.as_deref());
    match child {
        Some(child) => effective_all(child),
        None => Err(()),
    }
}

fn tree_uses_ptr(node: &SpfNode) -> bool {
    let own = node
        .record
        .as_deref()
        .and_then(|r| SpfRecord::parse(r).ok())
        .is_some_and(|r| r.uses_ptr());
    own || node
        .terms
        .iter()
        .filter_map(|t| t.child.as_deref())
        .any(tree_uses_ptr)
}

fn spf_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    let txt = &ctx.obs.spf.txt;
    if let Some(reason) = &txt.error {
        for check in [
            Check::EmailSpfMissing,
            Check::EmailSpfMultiple,
            Check::EmailSpfSyntax,
            Check::EmailSpfLookupLimit,
            Check::EmailSpfVoidLookups,
            Check::EmailSpfAll,
            Check::EmailSpfPtr,
        ] {
            let verdict = ctx.dns_error(check, &txt.name, reason);
            // The domain's own TXT answer counts the domain's DNS failure, once.
            out.push(if check == Check::EmailSpfMissing {
                with_failure(verdict, txt.kind)
            } else {
                verdict
            });
        }
        return;
    }
    let suggestion = if ctx.parked {
        "v=spf1 -all".to_owned()
    } else {
        "v=spf1 mx -all".to_owned()
    };

    // email.spf.missing
    out.push(match ctx.spf_records.len() {
        0 if ctx.parked => ctx.skip(Check::EmailSpfMissing, "email.spf.missing.parked"),
        0 => ctx
            .verdict(
                Check::EmailSpfMissing,
                Status::Fail,
                ctx.msg("email.spf.missing.fail"),
            )
            .remediation(ctx.msg("email.spf.missing.fix").arg("record", &suggestion)),
        _ => ctx.verdict(
            Check::EmailSpfMissing,
            Status::Pass,
            ctx.msg("email.spf.missing.pass"),
        ),
    });

    // email.spf.multiple
    out.push(match ctx.spf_records.len() {
        0 => ctx.skip(Check::EmailSpfMultiple, "email.spf.none"),
        1 => ctx.verdict(
            Check::EmailSpfMultiple,
            Status::Pass,
            ctx.msg("email.spf.multiple.pass"),
        ),
        n => ctx
            .verdict(
                Check::EmailSpfMultiple,
                Status::Fail,
                ctx.msg("email.spf.multiple.fail").arg("count", n),
            )
            .remediation(ctx.msg("email.spf.multiple.fix"))
            .evidence("records", &ctx.spf_records),
    });

    // The expansion over the answers the probe recorded; a report of an agent before them
    // carries the expansion that agent computed.
    let facts = &ctx.obs.spf;
    let expanded = facts
        .branches
        .as_ref()
        .map(|branches| spf_eval::expand(ctx.domain, &facts.txt, branches).evaluation);
    let (record, evaluation) = match (&ctx.spf, expanded.as_ref().or(facts.evaluation.as_ref())) {
        (Some(Ok(record)), Some(evaluation)) => (record, evaluation),
        (Some(Err(error)), _) => {
            out.push(
                ctx.verdict(
                    Check::EmailSpfSyntax,
                    Status::Fail,
                    ctx.msg("email.spf.syntax.fail").arg("error", error),
                )
                .remediation(ctx.msg("email.spf.syntax.fix"))
                .evidence("record", ctx.spf_records.first())
                .evidence("error", error),
            );
            for check in [
                Check::EmailSpfLookupLimit,
                Check::EmailSpfVoidLookups,
                Check::EmailSpfAll,
                Check::EmailSpfPtr,
            ] {
                out.push(ctx.skip(check, "email.spf.unusable"));
            }
            return;
        }
        _ => {
            for check in [
                Check::EmailSpfSyntax,
                Check::EmailSpfLookupLimit,
                Check::EmailSpfVoidLookups,
                Check::EmailSpfAll,
                Check::EmailSpfPtr,
            ] {
                out.push(ctx.skip(
                    check,
                    if ctx.spf_records.is_empty() {
                        "email.spf.none"
                    } else {
                        "email.spf.unusable"
                    },
                ));
            }
            return;
        }
    };

    // email.spf.syntax: the record itself parsed; permerrors deeper in the tree count too.
    let nested: Vec<&SpfProblem> = evaluation
        .problems
        .iter()
        .filter(|p| {
            matches!(
                p,
                SpfProblem::Syntax { .. }
                    | SpfProblem::NoRecord { .. }
                    | SpfProblem::MultipleRecords { .. }
                    | SpfProblem::TooManyMx { .. }
            )
        })
        .collect();
    out.push(if nested.is_empty() {
        ctx.verdict(
            Check::EmailSpfSyntax,
            Status::Pass,
            ctx.msg("email.spf.syntax.pass"),
        )
    } else {
        ctx.verdict(
            Check::EmailSpfSyntax,
            Status::Fail,
            ctx.msg("email.spf.syntax.nested")
                .arg("count", nested.len()),
        )
        .remediation(ctx.msg("email.spf.syntax.nested_fix"))
        .evidence("problems", &nested)
    });

    // email.spf.lookup_limit
    let has_loop = evaluation
        .problems
        .iter()
        .any(|p| matches!(p, SpfProblem::Loop { .. }));
    let dns_failures: Vec<&SpfProblem> = evaluation
        .problems
        .iter()
        .filter(|p| matches!(p, SpfProblem::Dns { .. }))
        .collect();
    let lookups = evaluation.lookups;
    out.push(if lookups > LOOKUP_LIMIT || has_loop {
        let key = if has_loop {
            "email.spf.lookup_limit.loop"
        } else {
            "email.spf.lookup_limit.fail"
        };
        ctx.verdict(
            Check::EmailSpfLookupLimit,
            Status::Fail,
            ctx.msg(key)
                .arg("count", lookups)
                .arg("limit", LOOKUP_LIMIT),
        )
        .remediation(ctx.msg("email.spf.lookup_limit.fix"))
        .evidence("lookups", lookups)
        .evidence("tree", &evaluation.tree)
    } else if !dns_failures.is_empty() {
        ctx.verdict(
            Check::EmailSpfLookupLimit,
            Status::Error,
            ctx.msg("email.spf.lookup_limit.incomplete")
                .arg("count", lookups),
        )
        .evidence("problems", &dns_failures)
        .evidence("tree", &evaluation.tree)
    } else {
        ctx.verdict(
            Check::EmailSpfLookupLimit,
            Status::Pass,
            ctx.msg("email.spf.lookup_limit.pass")
                .arg("count", lookups)
                .arg("limit", LOOKUP_LIMIT),
        )
        .evidence("lookups", lookups)
        .evidence("tree", &evaluation.tree)
    });

    // email.spf.void_lookups
    let voids = evaluation.void_lookups;
    out.push(if voids > VOID_LIMIT {
        ctx.verdict(
            Check::EmailSpfVoidLookups,
            Status::Fail,
            ctx.msg("email.spf.void_lookups.fail")
                .arg("count", voids)
                .arg("limit", VOID_LIMIT),
        )
        .remediation(ctx.msg("email.spf.void_lookups.fix"))
        .evidence("void_lookups", voids)
    } else {
        ctx.verdict(
            Check::EmailSpfVoidLookups,
            Status::Pass,
            ctx.msg("email.spf.void_lookups.pass").arg("count", voids),
        )
        .evidence("void_lookups", voids)
    });

    // email.spf.all
    let _ = record;
    out.push(match effective_all(&evaluation.tree) {
        Err(()) => ctx.verdict(
            Check::EmailSpfAll,
            Status::Error,
            ctx.msg("email.spf.all.unknown"),
        ),
        Ok(q) => {
            let shown = q
                .map(|q| format!("{}all", q.symbol()))
                .unwrap_or_else(|| "-".into());
            let v = match q {
                Some(Qualifier::Fail) => ctx.verdict(
                    Check::EmailSpfAll,
                    Status::Pass,
                    ctx.msg("email.spf.all.pass"),
                ),
                Some(Qualifier::SoftFail) => ctx
                    .verdict(
                        Check::EmailSpfAll,
                        Status::Warn,
                        ctx.msg("email.spf.all.softfail"),
                    )
                    .remediation(ctx.msg("email.spf.all.fix")),
                Some(Qualifier::Pass) => ctx
                    .verdict(
                        Check::EmailSpfAll,
                        Status::Fail,
                        ctx.msg("email.spf.all.pass_all"),
                    )
                    .severity(Severity::Critical)
                    .remediation(ctx.msg("email.spf.all.fix")),
                Some(Qualifier::Neutral) => ctx
                    .verdict(
                        Check::EmailSpfAll,
                        Status::Fail,
                        ctx.msg("email.spf.all.neutral"),
                    )
                    .remediation(ctx.msg("email.spf.all.fix")),
                None => ctx
                    .verdict(
                        Check::EmailSpfAll,
                        Status::Fail,
                        ctx.msg("email.spf.all.none"),
                    )
                    .remediation(ctx.msg("email.spf.all.fix")),
            };
            v.evidence("all", shown)
        }
    });

    // email.spf.ptr
    out.push(if tree_uses_ptr(&evaluation.tree) {
        ctx.verdict(
            Check::EmailSpfPtr,
            Status::Fail,
            ctx.msg("email.spf.ptr.fail"),
        )
        .remediation(ctx.msg("email.spf.ptr.fix"))
    } else {
        ctx.verdict(
            Check::EmailSpfPtr,
            Status::Pass,
            ctx.msg("email.spf.ptr.pass"),
        )
    });
}

fn dmarc_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    let all = [
        Check::EmailDmarcMissing,
        Check::EmailDmarcSyntax,
        Check::EmailDmarcPolicy,
        Check::EmailDmarcPct,
        Check::EmailDmarcSubdomainPolicy,
        Check::EmailDmarcRua,
        Check::EmailDmarcRuaAuthorization,
    ];
    let fix_missing = ctx.msg("email.dmarc.missing.fix");
    let (name, text, record, inherited) = match &ctx.dmarc {
        DmarcFound::Error(reason) => {
            for check in all {
                out.push(
                    ctx.verdict(
                        check,
                        Status::Error,
                        Message::new("email.error.dmarc").arg("reason", reason),
                    )
                    .evidence("reason", reason),
                );
            }
            return;
        }
        DmarcFound::None => {
            // A record at _dmarc that is not usable (version not first) is still a syntax
            // problem worth naming.
            let misplaced: Vec<&String> = ctx
                .obs
                .dmarc
                .txt
                .records
                .iter()
                .filter(|t| DmarcRecord::parse(t) == Err(DmarcError::VersionNotFirst))
                .collect();
            out.push(
                ctx.verdict(
                    Check::EmailDmarcMissing,
                    Status::Fail,
                    ctx.msg("email.dmarc.missing.fail"),
                )
                .remediation(fix_missing),
            );
            out.push(if misplaced.is_empty() {
                ctx.skip(Check::EmailDmarcSyntax, "email.dmarc.none")
            } else {
                ctx.verdict(
                    Check::EmailDmarcSyntax,
                    Status::Fail,
                    ctx.msg("email.dmarc.syntax.version"),
                )
                .remediation(ctx.msg("email.dmarc.syntax.fix"))
                .evidence("records", &misplaced)
            });
            out.push(
                ctx.verdict(
                    Check::EmailDmarcPolicy,
                    Status::Fail,
                    ctx.msg("email.dmarc.policy.missing"),
                )
                .remediation(ctx.msg("email.dmarc.missing.fix")),
            );
            for check in &all[3..] {
                out.push(ctx.skip(*check, "email.dmarc.none"));
            }
            return;
        }
        DmarcFound::Several { name, count } => {
            out.push(
                ctx.verdict(
                    Check::EmailDmarcMissing,
                    Status::Pass,
                    ctx.msg("email.dmarc.missing.pass"),
                )
                .evidence("name", name),
            );
            out.push(
                ctx.verdict(
                    Check::EmailDmarcSyntax,
                    Status::Fail,
                    ctx.msg("email.dmarc.syntax.several").arg("count", count),
                )
                .remediation(ctx.msg("email.dmarc.syntax.fix"))
                .evidence("name", name),
            );
            out.push(
                ctx.verdict(
                    Check::EmailDmarcPolicy,
                    Status::Fail,
                    ctx.msg("email.dmarc.policy.several"),
                )
                .remediation(ctx.msg("email.dmarc.syntax.fix")),
            );
            for check in &all[3..] {
                out.push(ctx.skip(*check, "email.dmarc.unusable"));
            }
            return;
        }
        DmarcFound::Found {
            name,
            text,
            record,
            inherited,
        } => (name, text, record, *inherited),
    };

    // email.dmarc.missing
    out.push(
        ctx.verdict(
            Check::EmailDmarcMissing,
            Status::Pass,
            if inherited {
                ctx.msg("email.dmarc.missing.inherited").arg("name", name)
            } else {
                ctx.msg("email.dmarc.missing.pass")
            },
        )
        .evidence("name", name)
        .evidence("record", text),
    );

    // email.dmarc.syntax
    out.push(if record.problems.is_empty() {
        ctx.verdict(
            Check::EmailDmarcSyntax,
            Status::Pass,
            ctx.msg("email.dmarc.syntax.pass"),
        )
    } else {
        ctx.verdict(
            Check::EmailDmarcSyntax,
            Status::Fail,
            ctx.msg("email.dmarc.syntax.fail")
                .arg("count", record.problems.len()),
        )
        .remediation(ctx.msg("email.dmarc.syntax.fix"))
        .evidence("problems", &record.problems)
        .evidence("record", text)
    });

    // email.dmarc.policy: a subdomain under its organizational domain's record gets `sp`.
    let policy = if inherited {
        record.effective_subdomain_policy()
    } else {
        record.policy
    };
    let policy_name = policy.map(Policy::as_str).unwrap_or("none");
    let reject_fix = ctx.msg("email.dmarc.policy.fix");
    out.push(
        match policy {
            Some(Policy::Reject) => ctx.verdict(
                Check::EmailDmarcPolicy,
                Status::Pass,
                ctx.msg("email.dmarc.policy.reject"),
            ),
            Some(Policy::Quarantine) => ctx
                .verdict(
                    Check::EmailDmarcPolicy,
                    Status::Warn,
                    ctx.msg("email.dmarc.policy.quarantine"),
                )
                .remediation(reject_fix),
            // A missing or invalid `p` is treated as `none` by receivers (RFC 7489 §6.6.3).
            Some(Policy::None) | None => ctx
                .verdict(
                    Check::EmailDmarcPolicy,
                    Status::Fail,
                    ctx.msg("email.dmarc.policy.none"),
                )
                .remediation(reject_fix),
        }
        .evidence("policy", policy_name)
        .evidence("inherited", inherited),
    );

    // email.dmarc.pct (and DMARCbis `t=y`, its replacement)
    let pct = record.effective_pct();
    out.push(if record.testing == Some(true) {
        ctx.verdict(
            Check::EmailDmarcPct,
            Status::Fail,
            ctx.msg("email.dmarc.pct.testing"),
        )
        .remediation(ctx.msg("email.dmarc.pct.fix"))
    } else if pct < 100 {
        ctx.verdict(
            Check::EmailDmarcPct,
            Status::Fail,
            ctx.msg("email.dmarc.pct.fail").arg("pct", pct),
        )
        .remediation(ctx.msg("email.dmarc.pct.fix"))
        .evidence("pct", pct)
    } else {
        ctx.verdict(
            Check::EmailDmarcPct,
            Status::Pass,
            ctx.msg("email.dmarc.pct.pass"),
        )
    });

    // email.dmarc.subdomain_policy
    out.push(match (record.policy, record.subdomain_policy) {
        (Some(p), Some(sp)) if sp < p => ctx
            .verdict(
                Check::EmailDmarcSubdomainPolicy,
                Status::Fail,
                ctx.msg("email.dmarc.subdomain_policy.fail")
                    .arg("sp", sp.as_str())
                    .arg("p", p.as_str()),
            )
            .remediation(
                ctx.msg("email.dmarc.subdomain_policy.fix")
                    .arg("p", p.as_str()),
            )
            .evidence("p", p)
            .evidence("sp", sp),
        _ => ctx.verdict(
            Check::EmailDmarcSubdomainPolicy,
            Status::Pass,
            ctx.msg("email.dmarc.subdomain_policy.pass"),
        ),
    });

    // email.dmarc.rua
    out.push(if record.rua.is_empty() {
        ctx.verdict(
            Check::EmailDmarcRua,
            Status::Fail,
            ctx.msg("email.dmarc.rua.fail"),
        )
        .remediation(ctx.msg("email.dmarc.rua.fix"))
    } else {
        ctx.verdict(
            Check::EmailDmarcRua,
            Status::Pass,
            ctx.msg("email.dmarc.rua.pass"),
        )
        .evidence(
            "rua",
            record
                .rua
                .iter()
                .map(|u| u.uri.as_str())
                .collect::<Vec<_>>(),
        )
    });

    // email.dmarc.rua_authorization
    let policy_domain = name.strip_prefix("_dmarc.").unwrap_or(name);
    let mut unauthorized = Vec::new();
    let mut errors = Vec::new();
    let mut external = 0;
    let mut dests: Vec<String> = record
        .rua
        .iter()
        .chain(&record.ruf)
        .filter_map(|u| u.mailto_domain())
        .collect();
    dests.sort();
    dests.dedup();
    for dest in dests.iter().filter(|d| is_external(policy_domain, d)) {
        external += 1;
        let query = super::orgdomain::report_authorization_name(policy_domain, dest);
        match ctx
            .obs
            .dmarc
            .authorizations
            .iter()
            .find(|a| a.name == query)
        {
            None => errors.push(format!("{query}: not queried")),
            Some(a) => match &a.error {
                Some(e) => errors.push(format!("{query}: {e}")),
                None if a
                    .records
                    .iter()
                    .any(|t| t.trim_start().to_ascii_lowercase().starts_with("v=dmarc1")) => {}
                None => unauthorized.push(query),
            },
        }
    }
    out.push(if !unauthorized.is_empty() {
        ctx.verdict(
            Check::EmailDmarcRuaAuthorization,
            Status::Fail,
            ctx.msg("email.dmarc.rua_authorization.fail")
                .arg("names", unauthorized.join(", ")),
        )
        .remediation(
            ctx.msg("email.dmarc.rua_authorization.fix")
                .arg("names", unauthorized.join(", ")),
        )
        .evidence("missing", &unauthorized)
    } else if !errors.is_empty() {
        ctx.verdict(
            Check::EmailDmarcRuaAuthorization,
            Status::Error,
            ctx.msg("email.dmarc.rua_authorization.error")
                .arg("reason", errors.join("; ")),
        )
        .evidence("errors", &errors)
    } else if external == 0 {
        ctx.verdict(
            Check::EmailDmarcRuaAuthorization,
            Status::Pass,
            ctx.msg("email.dmarc.rua_authorization.internal"),
        )
    } else {
        ctx.verdict(
            Check::EmailDmarcRuaAuthorization,
            Status::Pass,
            ctx.msg("email.dmarc.rua_authorization.pass"),
        )
    });
}

/// The DKIM records found, per selector: `(selector, record text, parse result)`.
fn dkim_keys(obs: &EmailObservation) -> Vec<(&str, &str, Result<DkimKey, super::dkim::DkimError>)> {
    obs.dkim
        .iter()
        .flat_map(|s| {
            s.txt
                .records
                .iter()
                .filter(|t| super::dkim::looks_like_dkim(t))
                .map(move |t| (s.selector.as_str(), t.as_str(), DkimKey::parse(t)))
        })
        .collect()
}

fn dkim_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    let keys = dkim_keys(ctx.obs);
    let tried: Vec<&str> = ctx.obs.dkim.iter().map(|s| s.selector.as_str()).collect();
    let failed: Vec<String> = ctx
        .obs
        .dkim
        .iter()
        .filter_map(|s| s.txt.error.as_ref().map(|e| format!("{}: {e}", s.txt.name)))
        .collect();
    if keys.is_empty() {
        out.push(if !failed.is_empty() && failed.len() == tried.len() {
            ctx.verdict(
                Check::EmailDkimMissing,
                Status::Error,
                Message::new("email.error.dkim").arg("reason", failed.join("; ")),
            )
        } else {
            // Selectors cannot be listed: absence at the names we know is not proof.
            ctx.verdict(
                Check::EmailDkimMissing,
                Status::Warn,
                ctx.msg("email.dkim.missing.warn").arg("count", tried.len()),
            )
            .remediation(ctx.msg("email.dkim.missing.fix"))
            .evidence("selectors_tried", &tried)
        });
        for check in [
            Check::EmailDkimWeakKey,
            Check::EmailDkimTesting,
            Check::EmailDkimRevoked,
        ] {
            out.push(ctx.skip(check, "email.dkim.none"));
        }
        return;
    }
    let selectors: Vec<&str> = keys.iter().map(|(s, _, _)| *s).collect();
    out.push(
        ctx.verdict(
            Check::EmailDkimMissing,
            Status::Pass,
            ctx.msg("email.dkim.missing.pass")
                .arg("selectors", selectors.join(", ")),
        )
        .evidence("selectors", &selectors),
    );

    // email.dkim.weak_key: the weakest active RSA key decides; unreadable keys fail too.
    let mut weakest: Option<(&str, u32)> = None;
    let mut unreadable = Vec::new();
    for (selector, _, key) in &keys {
        match key {
            Ok(k) if k.key_type == KeyType::Rsa && !k.revoked => {
                if let Some(bits) = k.bits {
                    if weakest.is_none_or(|(_, b)| bits < b) {
                        weakest = Some((selector, bits));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => unreadable.push(json!({"selector": selector, "error": e.to_string()})),
        }
    }
    let sizes: Vec<_> = keys
        .iter()
        .filter_map(|(s, _, k)| k.as_ref().ok().map(|k| json!({"selector": s, "type": k.key_type, "bits": k.bits, "revoked": k.revoked})))
        .collect();
    out.push(
        match weakest {
            Some((selector, bits)) if bits < 2048 => {
                let v = ctx
                    .verdict(
                        Check::EmailDkimWeakKey,
                        Status::Fail,
                        ctx.msg("email.dkim.weak_key.fail")
                            .arg("selector", selector)
                            .arg("bits", bits),
                    )
                    .remediation(ctx.msg("email.dkim.weak_key.fix"));
                if bits < 1024 {
                    v.severity(Severity::Critical)
                } else {
                    v
                }
            }
            _ if !unreadable.is_empty() => ctx
                .verdict(
                    Check::EmailDkimWeakKey,
                    Status::Fail,
                    ctx.msg("email.dkim.weak_key.unreadable"),
                )
                .remediation(ctx.msg("email.dkim.weak_key.fix"))
                .evidence("unreadable", &unreadable),
            _ => ctx.verdict(
                Check::EmailDkimWeakKey,
                Status::Pass,
                ctx.msg("email.dkim.weak_key.pass"),
            ),
        }
        .evidence("keys", &sizes),
    );

    let testing: Vec<&str> = keys
        .iter()
        .filter(|(_, _, k)| k.as_ref().is_ok_and(|k| k.testing))
        .map(|(s, _, _)| *s)
        .collect();
    out.push(if testing.is_empty() {
        ctx.verdict(
            Check::EmailDkimTesting,
            Status::Pass,
            ctx.msg("email.dkim.testing.pass"),
        )
    } else {
        ctx.verdict(
            Check::EmailDkimTesting,
            Status::Fail,
            ctx.msg("email.dkim.testing.fail")
                .arg("selectors", testing.join(", ")),
        )
        .remediation(ctx.msg("email.dkim.testing.fix"))
        .evidence("selectors", &testing)
    });

    let revoked: Vec<&str> = keys
        .iter()
        .filter(|(_, _, k)| k.as_ref().is_ok_and(|k| k.revoked))
        .map(|(s, _, _)| *s)
        .collect();
    out.push(if revoked.is_empty() {
        ctx.verdict(
            Check::EmailDkimRevoked,
            Status::Pass,
            ctx.msg("email.dkim.revoked.pass"),
        )
    } else {
        ctx.verdict(
            Check::EmailDkimRevoked,
            Status::Info,
            ctx.msg("email.dkim.revoked.info")
                .arg("selectors", revoked.join(", ")),
        )
        .evidence("selectors", &revoked)
    });
}

fn mx_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    let mx = &ctx.obs.mx;
    if let Some(reason) = &mx.error {
        for check in [
            Check::EmailMxMissing,
            Check::EmailMxNull,
            Check::EmailParked,
        ] {
            out.push(ctx.dns_error(check, &mx.name, reason));
        }
        return;
    }
    let hosts: Vec<&str> = mx.records.iter().map(|m| m.exchange.as_str()).collect();
    out.push(if !mx.records.is_empty() {
        ctx.verdict(
            Check::EmailMxMissing,
            Status::Pass,
            ctx.msg("email.mx.missing.pass"),
        )
        .evidence("mx", &hosts)
    } else if ctx.sends_mail() {
        ctx.verdict(
            Check::EmailMxMissing,
            Status::Fail,
            ctx.msg("email.mx.missing.fail"),
        )
        .remediation(ctx.msg("email.mx.missing.fix"))
    } else {
        ctx.verdict(
            Check::EmailMxMissing,
            Status::Pass,
            ctx.msg("email.mx.missing.no_mail"),
        )
    });
    out.push(if ctx.null_mx {
        ctx.verdict(
            Check::EmailMxNull,
            Status::Info,
            ctx.msg("email.mx.null.info"),
        )
    } else {
        ctx.verdict(
            Check::EmailMxNull,
            Status::Pass,
            ctx.msg("email.mx.null.pass"),
        )
    });

    // email.parked: a domain that takes no mail should also say it sends none.
    if !ctx.parked {
        out.push(ctx.skip(Check::EmailParked, "email.parked.not_parked"));
        return;
    }
    let spf_locked =
        matches!(&ctx.spf, Some(Ok(r)) if r.terms.len() == 1 && r.all() == Some(Qualifier::Fail));
    let dmarc_reject = matches!(&ctx.dmarc, DmarcFound::Found { record, inherited, .. }
        if (if *inherited { record.effective_subdomain_policy() } else { record.policy }) == Some(Policy::Reject));
    out.push(if spf_locked && dmarc_reject {
        ctx.verdict(
            Check::EmailParked,
            Status::Pass,
            ctx.msg("email.parked.pass"),
        )
    } else {
        let mut missing = Vec::new();
        if !spf_locked {
            missing.push("v=spf1 -all");
        }
        if !dmarc_reject {
            missing.push("v=DMARC1; p=reject");
        }
        ctx.verdict(
            Check::EmailParked,
            Status::Fail,
            ctx.msg("email.parked.fail")
                .arg("missing", missing.join(" + ")),
        )
        .remediation(ctx.msg("email.parked.fix"))
        .evidence("missing", &missing)
    });
}

fn transport_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    // MTA-STS
    let sts = &ctx.obs.mta_sts;
    let mut policy: Option<MtaStsPolicy> = None;
    if let Some(reason) = &sts.txt.error {
        for check in [
            Check::EmailMtaSts,
            Check::EmailMtaStsPolicy,
            Check::EmailMtaStsMode,
            Check::EmailMtaStsMxMismatch,
        ] {
            out.push(ctx.dns_error(check, &sts.txt.name, reason));
        }
    } else {
        let records: Vec<&String> = sts
            .txt
            .records
            .iter()
            .filter(|t| mta_sts::is_mta_sts(t))
            .collect();
        let record = match records.as_slice() {
            [] => {
                out.push(
                    ctx.verdict(
                        Check::EmailMtaSts,
                        Status::Fail,
                        ctx.msg("email.mta_sts.fail"),
                    )
                    .remediation(ctx.msg("email.mta_sts.fix")),
                );
                None
            }
            [one] => match MtaStsRecord::parse(one) {
                Ok(r) => {
                    out.push(
                        ctx.verdict(
                            Check::EmailMtaSts,
                            Status::Pass,
                            ctx.msg("email.mta_sts.pass"),
                        )
                        .evidence("id", &r.id),
                    );
                    Some(r)
                }
                Err(e) => {
                    out.push(
                        ctx.verdict(
                            Check::EmailMtaSts,
                            Status::Fail,
                            ctx.msg("email.mta_sts.invalid").arg("error", &e),
                        )
                        .remediation(ctx.msg("email.mta_sts.fix"))
                        .evidence("record", one),
                    );
                    None
                }
            },
            many => {
                out.push(
                    ctx.verdict(
                        Check::EmailMtaSts,
                        Status::Fail,
                        ctx.msg("email.mta_sts.several").arg("count", many.len()),
                    )
                    .remediation(ctx.msg("email.mta_sts.fix")),
                );
                None
            }
        };
        match (&record, &sts.policy) {
            (None, _) => out.push(ctx.skip(Check::EmailMtaStsPolicy, "email.mta_sts.no_record")),
            (Some(_), None) => out.push(ctx.verdict(
                Check::EmailMtaStsPolicy,
                Status::Error,
                ctx.msg("email.mta_sts.policy.not_fetched"),
            )),
            (Some(_), Some(fetched)) => match (&fetched.body, &fetched.error) {
                (Some(body), _) => match MtaStsPolicy::parse(body) {
                    Ok(p) => {
                        out.push(
                            ctx.verdict(
                                Check::EmailMtaStsPolicy,
                                Status::Pass,
                                ctx.msg("email.mta_sts.policy.pass"),
                            )
                            .evidence("url", &fetched.url)
                            .evidence("policy", &p),
                        );
                        policy = Some(p);
                    }
                    Err(e) => out.push(
                        ctx.verdict(
                            Check::EmailMtaStsPolicy,
                            Status::Fail,
                            ctx.msg("email.mta_sts.policy.invalid").arg("error", &e),
                        )
                        .remediation(ctx.msg("email.mta_sts.policy.fix"))
                        .evidence("url", &fetched.url),
                    ),
                },
                (None, error) => {
                    let reason = error.clone().unwrap_or_default();
                    out.push(
                        ctx.verdict(
                            Check::EmailMtaStsPolicy,
                            Status::Fail,
                            ctx.msg("email.mta_sts.policy.unreachable")
                                .arg("url", &fetched.url)
                                .arg("reason", &reason),
                        )
                        .remediation(ctx.msg("email.mta_sts.policy.fix"))
                        .evidence("url", &fetched.url)
                        .evidence("reason", &reason),
                    )
                }
            },
        }
        match &policy {
            None => {
                out.push(ctx.skip(Check::EmailMtaStsMode, "email.mta_sts.no_policy"));
                out.push(ctx.skip(Check::EmailMtaStsMxMismatch, "email.mta_sts.no_policy"));
            }
            Some(p) => {
                out.push(match p.mode {
                    Mode::Enforce => ctx.verdict(
                        Check::EmailMtaStsMode,
                        Status::Pass,
                        ctx.msg("email.mta_sts.mode.pass"),
                    ),
                    mode => ctx
                        .verdict(
                            Check::EmailMtaStsMode,
                            Status::Warn,
                            ctx.msg("email.mta_sts.mode.warn")
                                .arg("mode", mode.as_str()),
                        )
                        .remediation(ctx.msg("email.mta_sts.mode.fix")),
                });
                let unmatched: Vec<&str> = ctx
                    .obs
                    .mx
                    .records
                    .iter()
                    .map(|m| m.exchange.as_str())
                    .filter(|h| !h.is_empty() && !p.matches_mx(h))
                    .collect();
                out.push(if p.mode == Mode::None || ctx.obs.mx.records.is_empty() {
                    ctx.skip(
                        Check::EmailMtaStsMxMismatch,
                        "email.mta_sts.mx_mismatch.not_applicable",
                    )
                } else if unmatched.is_empty() {
                    ctx.verdict(
                        Check::EmailMtaStsMxMismatch,
                        Status::Pass,
                        ctx.msg("email.mta_sts.mx_mismatch.pass"),
                    )
                } else {
                    ctx.verdict(
                        Check::EmailMtaStsMxMismatch,
                        Status::Fail,
                        ctx.msg("email.mta_sts.mx_mismatch.fail")
                            .arg("hosts", unmatched.join(", ")),
                    )
                    .remediation(
                        ctx.msg("email.mta_sts.mx_mismatch.fix")
                            .arg("hosts", unmatched.join(", ")),
                    )
                    .evidence("unmatched", &unmatched)
                    .evidence("patterns", &p.mx)
                });
            }
        }
    }

    // TLS-RPT
    let rpt = &ctx.obs.tlsrpt;
    out.push(if let Some(reason) = &rpt.error {
        ctx.dns_error(Check::EmailTlsrpt, &rpt.name, reason)
    } else {
        let records: Vec<&String> = rpt
            .records
            .iter()
            .filter(|t| records::is_tlsrpt(t))
            .collect();
        match records.as_slice() {
            [] => ctx
                .verdict(
                    Check::EmailTlsrpt,
                    Status::Fail,
                    ctx.msg("email.tlsrpt.fail"),
                )
                .remediation(ctx.msg("email.tlsrpt.fix")),
            [one] => match TlsRptRecord::parse(one) {
                Ok(r) => ctx
                    .verdict(
                        Check::EmailTlsrpt,
                        Status::Pass,
                        ctx.msg("email.tlsrpt.pass"),
                    )
                    .evidence("rua", &r.rua),
                Err(e) => ctx
                    .verdict(
                        Check::EmailTlsrpt,
                        Status::Fail,
                        ctx.msg("email.tlsrpt.invalid").arg("error", &e),
                    )
                    .remediation(ctx.msg("email.tlsrpt.fix"))
                    .evidence("record", one),
            },
            many => ctx
                .verdict(
                    Check::EmailTlsrpt,
                    Status::Fail,
                    ctx.msg("email.tlsrpt.several").arg("count", many.len()),
                )
                .remediation(ctx.msg("email.tlsrpt.fix")),
        }
    });

    // STARTTLS (opt-in)
    let mx = &ctx.obs.mx;
    out.push(match &ctx.obs.starttls {
        None => ctx.skip(Check::EmailStarttls, "email.starttls.not_requested"),
        // No MX host to probe because the MX lookup failed: unknown, not "no MX".
        Some(hosts) if hosts.is_empty() && mx.failed() => ctx.dns_error(
            Check::EmailStarttls,
            &mx.name,
            mx.error.as_deref().unwrap_or_default(),
        ),
        Some(hosts) if hosts.is_empty() => ctx.skip(Check::EmailStarttls, "email.starttls.no_mx"),
        Some(hosts) => {
            // Not reached, or no SMTP conversation: the host could not be judged.
            let errors: Vec<&str> = hosts
                .iter()
                .filter(|h| h.error.is_some() && !h.offered)
                .map(|h| h.host.as_str())
                .collect();
            // No STARTTLS, or STARTTLS offered without a valid certificate (an invalid one,
            // or a TLS negotiation that failed after the server offered it).
            let bad: Vec<&str> = hosts
                .iter()
                .filter(|h| {
                    (h.error.is_none() && !h.offered)
                        || (h.offered && !h.certificate_ok_at(ctx.now))
                })
                .map(|h| h.host.as_str())
                .collect();
            if !bad.is_empty() {
                ctx.verdict(
                    Check::EmailStarttls,
                    Status::Fail,
                    ctx.msg("email.starttls.fail").arg("hosts", bad.join(", ")),
                )
                .remediation(ctx.msg("email.starttls.fix"))
                .evidence("hosts", hosts)
            } else if !errors.is_empty() {
                let verdict = ctx
                    .verdict(
                        Check::EmailStarttls,
                        Status::Error,
                        ctx.msg("email.starttls.error")
                            .arg("hosts", errors.join(", ")),
                    )
                    .evidence("hosts", hosts);
                // One verdict for every host: counted once, with the first host's kind (none
                // in reports of older agents, and none guessed).
                let kind = hosts
                    .iter()
                    .filter(|h| h.error.is_some() && !h.offered)
                    .find_map(|h| h.kind);
                match kind {
                    Some(kind) => verdict.evidence("failure", kind.as_str()),
                    None => verdict,
                }
            } else {
                ctx.verdict(
                    Check::EmailStarttls,
                    Status::Pass,
                    ctx.msg("email.starttls.pass"),
                )
                .evidence("hosts", hosts)
            }
        }
    });

    // DANE
    let signed = matches!(&ctx.obs.dnssec, Ok(f) if f.authenticated);
    let real_mx = ctx.obs.mx.records.iter().any(|m| !m.exchange.is_empty());
    out.push(if let (false, Some(reason)) = (real_mx, &mx.error) {
        ctx.dns_error(Check::EmailDane, &mx.name, reason)
    } else if !real_mx {
        ctx.skip(Check::EmailDane, "email.dane.no_mx")
    } else if let Some(failed) = ctx.obs.tlsa.iter().find(|a| a.failed()) {
        ctx.dns_error(
            Check::EmailDane,
            &failed.name,
            failed.error.as_deref().unwrap_or_default(),
        )
    } else {
        let without: Vec<&str> = ctx
            .obs
            .tlsa
            .iter()
            .filter(|a| a.records.is_empty())
            .map(|a| a.name.as_str())
            .collect();
        if without.is_empty() && !ctx.obs.tlsa.is_empty() {
            ctx.verdict(Check::EmailDane, Status::Pass, ctx.msg("email.dane.pass"))
        } else if signed {
            ctx.verdict(
                Check::EmailDane,
                Status::Warn,
                ctx.msg("email.dane.signed_missing")
                    .arg("names", without.join(", ")),
            )
            .remediation(ctx.msg("email.dane.fix"))
            .evidence("missing", &without)
        } else {
            ctx.verdict(Check::EmailDane, Status::Info, ctx.msg("email.dane.info"))
                .evidence("missing", &without)
        }
    });

    // BIMI: a fact either way.
    let bimi = &ctx.obs.bimi;
    out.push(if let Some(reason) = &bimi.error {
        ctx.dns_error(Check::EmailBimi, &bimi.name, reason)
    } else {
        match bimi
            .records
            .iter()
            .find(|t| t.trim_start().starts_with("v=BIMI1"))
        {
            None => ctx.verdict(Check::EmailBimi, Status::Info, ctx.msg("email.bimi.absent")),
            Some(text) => match BimiRecord::parse(text) {
                Ok(r) => ctx
                    .verdict(
                        Check::EmailBimi,
                        Status::Info,
                        ctx.msg("email.bimi.present"),
                    )
                    .evidence("bimi", &r),
                Err(e) => ctx
                    .verdict(
                        Check::EmailBimi,
                        Status::Info,
                        ctx.msg("email.bimi.invalid").arg("error", &e),
                    )
                    .evidence("record", text),
            },
        }
    });
}

fn dns_verdicts(ctx: &Context, out: &mut Vec<Verdict>) {
    out.push(match &ctx.obs.dnssec {
        Err(reason) => ctx
            .verdict(
                Check::DnsDnssec,
                Status::Error,
                Message::new("email.error.dnssec").arg("reason", reason),
            )
            .evidence("reason", reason),
        Ok(f) if f.bogus => ctx
            .verdict(Check::DnsDnssec, Status::Fail, ctx.msg("dns.dnssec.bogus"))
            .severity(Severity::High)
            .remediation(ctx.msg("dns.dnssec.bogus_fix"))
            .evidence("dnssec", f),
        Ok(f) if f.authenticated => ctx
            .verdict(Check::DnsDnssec, Status::Pass, ctx.msg("dns.dnssec.pass"))
            .evidence("dnssec", f),
        Ok(f) if f.dnskey && f.ds => ctx
            .verdict(
                Check::DnsDnssec,
                Status::Error,
                ctx.msg("dns.dnssec.not_validated"),
            )
            .evidence("dnssec", f),
        Ok(f) if f.dnskey => ctx
            .verdict(Check::DnsDnssec, Status::Warn, ctx.msg("dns.dnssec.no_ds"))
            .remediation(ctx.msg("dns.dnssec.no_ds_fix"))
            .evidence("dnssec", f),
        Ok(f) => ctx
            .verdict(
                Check::DnsDnssec,
                Status::Warn,
                ctx.msg("dns.dnssec.unsigned"),
            )
            .remediation(ctx.msg("dns.dnssec.fix"))
            .evidence("dnssec", f),
    });

    // dns.caa: the first name up the tree with a CAA set is the one CAs use.
    let mut verdict = None;
    for answer in &ctx.obs.caa {
        if let Some(reason) = &answer.error {
            verdict = Some(ctx.dns_error(Check::DnsCaa, &answer.name, reason));
            break;
        }
        if !answer.records.is_empty() {
            let summary = records::summarize_caa(&answer.records);
            verdict = Some(
                ctx.verdict(
                    Check::DnsCaa,
                    Status::Pass,
                    ctx.msg("dns.caa.pass")
                        .arg("name", &answer.name)
                        .arg("issuers", summary.issue.join(", ")),
                )
                .evidence("name", &answer.name)
                .evidence("caa", &summary),
            );
            break;
        }
    }
    let names: Vec<&str> = ctx.obs.caa.iter().map(|a| a.name.as_str()).collect();
    out.push(verdict.unwrap_or_else(|| {
        ctx.verdict(Check::DnsCaa, Status::Fail, ctx.msg("dns.caa.fail"))
            .remediation(ctx.msg("dns.caa.fix"))
            .evidence("names", &names)
    }));
}
