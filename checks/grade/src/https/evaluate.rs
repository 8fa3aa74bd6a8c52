//! Pure grading of an HTTPS observation: no I/O, time only from `now`.
//!
//! Every check of the `https.*` rows of `docs/checks.md` and `http.server_banner` gives one
//! verdict per observation, targeted at the HTTPS endpoint (`host:port`). When the HTTPS
//! origin gave no answer, its checks are `error` with the reason, never a silent gap.

use chrono::{DateTime, SecondsFormat, Utc};
use vigie_model::{Check, Message, Status, Verdict};

use super::banner;
use super::hsts::{self, Hsts};
use super::observation::{
    FetchError, FetchStage, HttpExchange, HttpHop, HttpsObservation, RedirectStop,
};
use super::security_txt;

/// The most bytes of a body read (security.txt).
pub const MAX_BODY_BYTES: usize = 32 * 1024;

/// `https.hsts.max_age` fails below one year (docs/checks.md).
pub const HSTS_MIN_MAX_AGE: u64 = 31_536_000;

/// The checks this module grades, in report order.
pub const CHECKS: [Check; 8] = [
    Check::HttpsRedirect,
    Check::HttpsHsts,
    Check::HttpsHstsMaxAge,
    Check::HttpsHstsSubdomains,
    Check::HttpsHstsPreload,
    Check::HttpsSecurityTxt,
    Check::HttpsHeaders,
    Check::HttpServerBanner,
];

/// One verdict per check of [`CHECKS`], in that order.
pub fn evaluate(observation: &HttpsObservation, now: DateTime<Utc>) -> Vec<Verdict> {
    let target = observation.target.as_str();
    let https_answered = !observation.https.hops.is_empty();
    let mut verdicts = vec![redirect(
        target,
        observation.redirect.as_ref(),
        https_answered,
    )];
    match observation.https.hops.first() {
        None => {
            let (url, reason) = failure(&observation.https);
            let errors = CHECKS[1..7].iter().map(|check| {
                Verdict::new(
                    *check,
                    target,
                    Status::Error,
                    Message::new("https.error.fetch")
                        .arg("url", &url)
                        .arg("reason", &reason),
                )
            });
            // The one failed fetch is counted once, on the first check it left undecided.
            verdicts.extend(errors.enumerate().map(|(index, verdict)| match index {
                0 => with_failure_kind(verdict, &observation.https),
                _ => verdict,
            }));
        }
        Some(_) => {
            verdicts.extend(hsts_verdicts(target, &observation.https));
            verdicts.push(security_txt_verdict(
                target,
                &observation.host,
                observation.security_txt.as_ref(),
                now,
            ));
            verdicts.push(headers(target, &observation.https));
        }
    }
    verdicts.push(server_banner(target, observation));
    verdicts
}

/// `verdict` with the kind of the exchange's failure as evidence (`failure`), when the probe
/// recorded one: reports of older agents have none, and none is guessed.
fn with_failure_kind(verdict: Verdict, exchange: &HttpExchange) -> Verdict {
    match exchange.error.as_ref().and_then(|error| error.kind) {
        Some(kind) => verdict.evidence("failure", kind.as_str()),
        None => verdict,
    }
}

/// The URL and reason of an exchange that got no answer.
fn failure(exchange: &HttpExchange) -> (String, String) {
    match &exchange.error {
        Some(FetchError { url, error, .. }) => (url.clone(), error.clone()),
        None => (exchange.url.clone(), "no answer".to_owned()),
    }
}

/// `https_answered`: the HTTPS origin gave an answer. Silence on port 80 says "nothing
/// served in clear" only from a host that was reached; from one that answered nothing at
/// all, it says nothing.
fn redirect(target: &str, exchange: Option<&HttpExchange>, https_answered: bool) -> Verdict {
    let check = Check::HttpsRedirect;
    let Some(exchange) = exchange else {
        return Verdict::new(
            check,
            target,
            Status::Skip,
            Message::new("https.redirect.not_checked"),
        );
    };
    let chain: Vec<String> = exchange
        .hops
        .iter()
        .map(|hop| match &hop.location {
            Some(location) => format!("{} {} → {location}", hop.status, hop.url),
            None => format!("{} {}", hop.status, hop.url),
        })
        .collect();
    let url = exchange.url.as_str();
    let fix = Message::new("https.redirect.fix");
    let verdict = |status, summary: Message| {
        Verdict::new(check, target, status, summary)
            .evidence("url", url)
            .evidence("chain", &chain)
    };
    let Some(last) = exchange.last() else {
        let (_, reason) = failure(exchange);
        return match exchange.error.as_ref().map(|e| e.stage) {
            Some(FetchStage::Refused) => verdict(
                Status::Pass,
                Message::new("https.redirect.closed").arg("url", url),
            ),
            Some(FetchStage::Timeout) if https_answered => verdict(
                Status::Pass,
                Message::new("https.redirect.no_answer").arg("url", url),
            )
            .evidence("error", &reason),
            _ => with_failure_kind(
                verdict(
                    Status::Error,
                    Message::new("https.redirect.error")
                        .arg("url", url)
                        .arg("reason", &reason),
                ),
                exchange,
            ),
        };
    };
    if let Some(location) = last
        .location
        .as_deref()
        .filter(|l| l.starts_with("https://"))
    {
        return verdict(
            Status::Pass,
            Message::new("https.redirect.pass")
                .arg("url", url)
                .arg("location", location),
        )
        .evidence("status", last.status);
    }
    let failed = |summary: Message| verdict(Status::Fail, summary).remediation(fix.clone());
    if let Some(error) = &exchange.error {
        return with_failure_kind(
            verdict(
                Status::Error,
                Message::new("https.redirect.error")
                    .arg("url", &error.url)
                    .arg("reason", &error.error),
            ),
            exchange,
        );
    }
    match &exchange.stop {
        Some(RedirectStop::TooMany { limit }) => failed(
            Message::new("https.redirect.too_many")
                .arg("url", url)
                .arg("limit", limit),
        ),
        Some(RedirectStop::BadLocation { location }) => failed(
            Message::new("https.redirect.bad_location")
                .arg("url", &last.url)
                .arg("location", location),
        ),
        Some(RedirectStop::OtherOrigin { location }) => failed(
            Message::new("https.redirect.other_origin")
                .arg("url", &last.url)
                .arg("location", location),
        ),
        None => failed(
            Message::new("https.redirect.fail")
                .arg("url", &last.url)
                .arg("status", last.status),
        ),
    }
}

/// `https.hsts` and its three details, from the first answer that carries the header
/// (browsers take the policy from any HTTPS answer of the origin, and only the first
/// header of an answer, RFC 6797 §8.1).
fn hsts_verdicts(target: &str, exchange: &HttpExchange) -> Vec<Verdict> {
    let carrying = exchange
        .hops
        .iter()
        .find(|hop| !hop.header("strict-transport-security").is_empty());
    let first_url = exchange
        .hops
        .first()
        .map(|hop| hop.url.as_str())
        .unwrap_or(&exchange.url);
    let fix = Message::new("https.hsts.fix");
    let details_skipped = || {
        [
            Check::HttpsHstsMaxAge,
            Check::HttpsHstsSubdomains,
            Check::HttpsHstsPreload,
        ]
        .map(|check| {
            Verdict::new(
                check,
                target,
                Status::Skip,
                Message::new("https.hsts.not_checked.no_policy"),
            )
        })
    };
    let Some(hop) = carrying else {
        let mut verdicts = vec![Verdict::new(
            Check::HttpsHsts,
            target,
            Status::Fail,
            Message::new("https.hsts.fail").arg("url", first_url),
        )
        .remediation(fix)];
        verdicts.extend(details_skipped());
        return verdicts;
    };
    let values = hop.header("strict-transport-security");
    let value = values.first().map(String::as_str).unwrap_or_default();
    let base = |status, summary| {
        Verdict::new(Check::HttpsHsts, target, status, summary)
            .evidence("url", &hop.url)
            .evidence("header", value)
            .evidence("headers_sent", values.len())
    };
    let policy: Hsts = match hsts::parse(value) {
        Ok(policy) if policy.max_age == 0 => {
            let mut verdicts = vec![base(
                Status::Fail,
                Message::new("https.hsts.zero").arg("url", &hop.url),
            )
            .remediation(fix)];
            verdicts.extend(details_skipped());
            return verdicts;
        }
        Ok(policy) => policy,
        Err(error) => {
            let mut verdicts = vec![base(
                Status::Fail,
                Message::new("https.hsts.malformed")
                    .arg("url", &hop.url)
                    .arg("error", &error),
            )
            .evidence("error", error.to_string())
            .remediation(fix)];
            verdicts.extend(details_skipped());
            return verdicts;
        }
    };
    let detail = |check, pass: bool, pass_key, fail_key, fail_status, fix_key| {
        let verdict = if pass {
            Verdict::new(check, target, Status::Pass, Message::new(pass_key))
        } else {
            Verdict::new(check, target, fail_status, Message::new(fail_key))
                .remediation(Message::new(fix_key))
        };
        verdict.evidence("header", value)
    };
    let max_age_ok = policy.max_age >= HSTS_MIN_MAX_AGE;
    let max_age_message = |key| {
        Message::new(key)
            .arg("max_age", policy.max_age)
            .arg("minimum", HSTS_MIN_MAX_AGE)
    };
    let mut max_age = Verdict::new(
        Check::HttpsHstsMaxAge,
        target,
        if max_age_ok {
            Status::Pass
        } else {
            Status::Fail
        },
        max_age_message(if max_age_ok {
            "https.hsts.max_age.pass"
        } else {
            "https.hsts.max_age.fail"
        }),
    )
    .evidence("max_age", policy.max_age)
    .evidence("minimum", HSTS_MIN_MAX_AGE);
    if !max_age_ok {
        max_age = max_age.remediation(Message::new("https.hsts.max_age.fix"));
    }
    vec![
        base(
            Status::Pass,
            Message::new("https.hsts.pass")
                .arg("url", &hop.url)
                .arg("value", value),
        ),
        max_age,
        detail(
            Check::HttpsHstsSubdomains,
            policy.include_subdomains,
            "https.hsts.subdomains.pass",
            "https.hsts.subdomains.fail",
            Status::Fail,
            "https.hsts.subdomains.fix",
        ),
        detail(
            Check::HttpsHstsPreload,
            policy.preload,
            "https.hsts.preload.pass",
            "https.hsts.preload.info",
            Status::Info,
            "https.hsts.preload.fix",
        ),
    ]
}

fn security_txt_verdict(
    target: &str,
    host: &str,
    exchange: Option<&HttpExchange>,
    now: DateTime<Utc>,
) -> Verdict {
    let check = Check::HttpsSecurityTxt;
    let Some(exchange) = exchange else {
        return Verdict::new(
            check,
            target,
            Status::Error,
            Message::new("https.security_txt.not_fetched"),
        );
    };
    let url = exchange.url.as_str();
    let fix = Message::new("https.security_txt.fix").arg("host", host);
    let verdict =
        |status, summary| Verdict::new(check, target, status, summary).evidence("url", url);
    let failed = |summary| verdict(Status::Fail, summary).remediation(fix.clone());
    let Some(last) = exchange.last() else {
        let (url, reason) = failure(exchange);
        return with_failure_kind(
            verdict(
                Status::Error,
                Message::new("https.error.fetch")
                    .arg("url", url)
                    .arg("reason", reason),
            ),
            exchange,
        );
    };
    if let Some(RedirectStop::OtherOrigin { location }) = &exchange.stop {
        return verdict(
            Status::Warn,
            Message::new("https.security_txt.elsewhere")
                .arg("url", url)
                .arg("location", location),
        )
        .evidence("location", location);
    }
    if last.status != 200 {
        return failed(
            Message::new("https.security_txt.missing")
                .arg("url", url)
                .arg("status", last.status),
        )
        .evidence("status", last.status);
    }
    if let Some(error) = &exchange.error {
        return with_failure_kind(
            verdict(
                Status::Error,
                Message::new("https.error.fetch")
                    .arg("url", &error.url)
                    .arg("reason", &error.error),
            ),
            exchange,
        );
    }
    let body = exchange.body.as_deref().unwrap_or_default();
    let file = security_txt::parse(body);
    let mut problems: Vec<String> = file.problems.iter().map(ToString::to_string).collect();
    if exchange.body_truncated {
        problems.push(format!("larger than {MAX_BODY_BYTES} bytes"));
    }
    let expires = file
        .expires
        .map(|date| date.to_rfc3339_opts(SecondsFormat::Secs, true));
    let verdict = |status, summary| {
        verdict(status, summary)
            .evidence("contacts", &file.contacts)
            .evidence("expires", &expires)
            .evidence("problems", &problems)
            .evidence(
                "content_type",
                last.header("content-type")
                    .first()
                    .cloned()
                    .unwrap_or_default(),
            )
    };
    if !problems.is_empty() {
        return verdict(
            Status::Fail,
            Message::new("https.security_txt.invalid")
                .arg("url", url)
                .arg("problems", problems.join("; ")),
        )
        .remediation(fix);
    }
    match (file.is_valid_at(now), &expires) {
        (true, Some(expires)) => verdict(
            Status::Pass,
            Message::new("https.security_txt.pass")
                .arg("url", url)
                .arg("contacts", file.contacts.len())
                .arg("expires", expires),
        ),
        (_, expires) => verdict(
            Status::Fail,
            Message::new("https.security_txt.expired")
                .arg("url", url)
                .arg("expires", expires.as_deref().unwrap_or_default()),
        )
        .remediation(fix),
    }
}

/// The security headers a page must send (docs/checks.md, `https.headers`).
fn missing_headers(hop: &HttpHop) -> Vec<&'static str> {
    let csp = hop.header("content-security-policy");
    let has_csp = csp.iter().any(|value| !value.trim().is_empty());
    let frame_ancestors = csp.iter().any(|value| {
        value.split(';').any(|directive| {
            directive
                .split_whitespace()
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("frame-ancestors"))
        })
    });
    let frame_options = hop.header("x-frame-options").iter().any(|value| {
        value.trim().eq_ignore_ascii_case("deny") || value.trim().eq_ignore_ascii_case("sameorigin")
    });
    let nosniff = hop
        .header("x-content-type-options")
        .iter()
        .any(|value| value.trim().eq_ignore_ascii_case("nosniff"));
    let referrer = hop
        .header("referrer-policy")
        .iter()
        .any(|value| !value.trim().is_empty());
    let mut missing = Vec::new();
    if !has_csp {
        missing.push("Content-Security-Policy");
    }
    if !nosniff {
        missing.push("X-Content-Type-Options: nosniff");
    }
    if !frame_options && !frame_ancestors {
        missing.push("X-Frame-Options or CSP frame-ancestors");
    }
    if !referrer {
        missing.push("Referrer-Policy");
    }
    missing
}

fn headers(target: &str, exchange: &HttpExchange) -> Verdict {
    let check = Check::HttpsHeaders;
    let Some(last) = exchange.last() else {
        let (url, reason) = failure(exchange);
        return Verdict::new(
            check,
            target,
            Status::Error,
            Message::new("https.error.fetch")
                .arg("url", url)
                .arg("reason", reason),
        );
    };
    if let (true, Some(location)) = (last.is_redirect(), &last.location) {
        return Verdict::new(
            check,
            target,
            Status::Skip,
            Message::new("https.headers.redirect")
                .arg("url", &last.url)
                .arg("location", location),
        )
        .evidence("url", &last.url);
    }
    let missing = missing_headers(last);
    let present: serde_json::Map<String, serde_json::Value> = [
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ]
    .iter()
    .filter_map(|name| {
        last.header(name)
            .first()
            .map(|value| ((*name).to_owned(), value.clone().into()))
    })
    .collect();
    let verdict = if missing.is_empty() {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("https.headers.pass").arg("url", &last.url),
        )
    } else {
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("https.headers.fail")
                .arg("url", &last.url)
                .arg("missing", missing.join(", ")),
        )
        .remediation(Message::new("https.headers.fix"))
    };
    verdict
        .evidence("url", &last.url)
        .evidence("missing", &missing)
        .evidence("present", present)
}

/// `Server` and `X-Powered-By` of every answer, HTTPS and plain HTTP alike.
fn server_banner(target: &str, observation: &HttpsObservation) -> Verdict {
    let check = Check::HttpServerBanner;
    let hops: Vec<&HttpHop> = observation
        .https
        .hops
        .iter()
        .chain(observation.redirect.iter().flat_map(|e| e.hops.iter()))
        .collect();
    if hops.is_empty() {
        let (url, reason) = failure(&observation.https);
        return Verdict::new(
            check,
            target,
            Status::Error,
            Message::new("https.error.fetch")
                .arg("url", url)
                .arg("reason", reason),
        );
    }
    let mut banners: Vec<serde_json::Value> = Vec::new();
    let mut disclosing: Vec<String> = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for hop in &hops {
        for (name, header) in [("server", "Server"), ("x-powered-by", "X-Powered-By")] {
            for value in hop.header(name) {
                if seen.contains(&(header, value.as_str())) {
                    continue;
                }
                seen.push((header, value.as_str()));
                let versions = banner::versions(value);
                if !versions.is_empty() {
                    disclosing.push(format!("{header}: {value}"));
                }
                banners.push(serde_json::json!({
                    "header": header,
                    "value": value,
                    "url": hop.url,
                    "versions": versions,
                }));
            }
        }
    }
    let listed: Vec<String> = seen.iter().map(|(h, v)| format!("{h}: {v}")).collect();
    let verdict = if !disclosing.is_empty() {
        Verdict::new(
            check,
            target,
            Status::Fail,
            Message::new("http.server_banner.fail").arg("banners", disclosing.join("; ")),
        )
        .remediation(Message::new("http.server_banner.fix"))
    } else if listed.is_empty() {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("http.server_banner.none"),
        )
    } else {
        Verdict::new(
            check,
            target,
            Status::Pass,
            Message::new("http.server_banner.pass").arg("banners", listed.join("; ")),
        )
    };
    verdict.evidence("banners", banners)
}
