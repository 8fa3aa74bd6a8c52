//! `https::evaluate` truth tables: observations built by hand, one row per situation, the
//! status each check must get. Pure: no server, the clock is an argument.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use vigie_grade::https::evaluate;
use vigie_grade::https::observation::{
    FetchError, FetchStage, HttpExchange, HttpHop, HttpsObservation, RedirectStop,
};
use vigie_model::{Check, Status, Verdict};

const TARGET: &str = "www.vigie.test:443";
const HTTPS: &str = "https://www.vigie.test/";
const HTTP: &str = "http://www.vigie.test/";
const SECURITY_TXT: &str = "https://www.vigie.test/.well-known/security.txt";

/// Header name and value, as the probe records them.
type Headers<'a> = Vec<(&'a str, &'a str)>;
/// Headers of the HTTPS answer, of the port-80 answer, expected status.
type BannerRow<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)], Status);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()
}

fn hop(url: &str, status: u16, headers: &[(&str, &str)], location: Option<&str>) -> HttpHop {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name.to_string())
            .or_default()
            .push(value.to_string());
    }
    HttpHop {
        url: url.to_owned(),
        address: Some("127.0.0.1:443".to_owned()),
        status,
        headers: map,
        location: location.map(str::to_owned),
    }
}

fn exchange(url: &str, hops: Vec<HttpHop>) -> HttpExchange {
    HttpExchange {
        url: url.to_owned(),
        hops,
        ..HttpExchange::default()
    }
}

fn failed(url: &str, stage: FetchStage) -> HttpExchange {
    HttpExchange {
        url: url.to_owned(),
        error: Some(FetchError {
            url: url.to_owned(),
            stage,
            error: "the reason".to_owned(),
            kind: None,
        }),
        ..HttpExchange::default()
    }
}

const GOOD_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains; preload",
    ),
    ("content-security-policy", "default-src 'self'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("server", "nginx"),
];

const GOOD_SECURITY_TXT: &str =
    "Contact: mailto:security@vigie.test\nExpires: 2027-06-01T00:00:00Z\n";

fn security_txt(body: &str) -> HttpExchange {
    HttpExchange {
        body: Some(body.to_owned()),
        ..exchange(SECURITY_TXT, vec![hop(SECURITY_TXT, 200, &[], None)])
    }
}

/// Everything right.
fn good() -> HttpsObservation {
    HttpsObservation {
        target: TARGET.to_owned(),
        host: "www.vigie.test".to_owned(),
        observed_at: now(),
        https: exchange(HTTPS, vec![hop(HTTPS, 200, GOOD_HEADERS, None)]),
        redirect: Some(exchange(
            HTTP,
            vec![hop(HTTP, 301, &[("server", "nginx")], Some(HTTPS))],
        )),
        security_txt: Some(security_txt(GOOD_SECURITY_TXT)),
    }
}

fn statuses(observation: &HttpsObservation) -> Vec<(Check, Status)> {
    evaluate(observation, now())
        .into_iter()
        .map(|v| (v.check, v.status))
        .collect()
}

fn verdict(observation: &HttpsObservation, check: Check) -> Verdict {
    let verdicts = evaluate(observation, now());
    assert_eq!(verdicts.len(), 8, "one verdict per check: {verdicts:#?}");
    for v in &verdicts {
        assert!(v.summary.is_defined(), "{} undefined", v.summary.key);
        assert_eq!(v.target, TARGET);
        if let Some(fix) = &v.remediation {
            assert!(fix.is_defined(), "{} undefined", fix.key);
        }
    }
    verdicts
        .into_iter()
        .find(|v| v.check == check)
        .expect("the check is graded")
}

fn status(observation: &HttpsObservation, check: Check) -> Status {
    verdict(observation, check).status
}

#[test]
fn a_good_site_passes_everything() {
    let observation = good();
    for (check, status) in statuses(&observation) {
        assert_eq!(status, Status::Pass, "{check:?}");
    }
    let redirect = verdict(&observation, Check::HttpsRedirect);
    assert_eq!(
        redirect.evidence["chain"],
        serde_json::json!([format!("301 {HTTP} → {HTTPS}")])
    );
}

#[test]
fn redirect_truth_table() {
    let rows: Vec<(&str, Option<HttpExchange>, Status)> = vec![
        ("not probed", None, Status::Skip),
        (
            "port closed",
            Some(failed(HTTP, FetchStage::Refused)),
            Status::Pass,
        ),
        (
            "port filtered",
            Some(failed(HTTP, FetchStage::Timeout)),
            Status::Pass,
        ),
        (
            "not HTTP",
            Some(failed(HTTP, FetchStage::Http)),
            Status::Error,
        ),
        (
            "serves plain HTTP",
            Some(exchange(HTTP, vec![hop(HTTP, 200, &[], None)])),
            Status::Fail,
        ),
        (
            "same-origin hop then HTTPS",
            Some(exchange(
                HTTP,
                vec![
                    hop(HTTP, 302, &[], Some("http://www.vigie.test/en/")),
                    hop(
                        "http://www.vigie.test/en/",
                        308,
                        &[],
                        Some("https://www.vigie.test/en/"),
                    ),
                ],
            )),
            Status::Pass,
        ),
        (
            "to another host over HTTP",
            Some(HttpExchange {
                stop: Some(RedirectStop::OtherOrigin {
                    location: "http://other.test/".into(),
                }),
                ..exchange(HTTP, vec![hop(HTTP, 301, &[], Some("http://other.test/"))])
            }),
            Status::Fail,
        ),
        (
            "a loop",
            Some(HttpExchange {
                stop: Some(RedirectStop::TooMany { limit: 5 }),
                ..exchange(HTTP, vec![hop(HTTP, 302, &[], Some(HTTP)); 6])
            }),
            Status::Fail,
        ),
        (
            "a 3xx without Location",
            Some(HttpExchange {
                stop: Some(RedirectStop::BadLocation {
                    location: String::new(),
                }),
                ..exchange(HTTP, vec![hop(HTTP, 302, &[], None)])
            }),
            Status::Fail,
        ),
        (
            "second request failed",
            Some(HttpExchange {
                error: failed("http://www.vigie.test/en/", FetchStage::Timeout).error,
                ..exchange(
                    HTTP,
                    vec![hop(HTTP, 302, &[], Some("http://www.vigie.test/en/"))],
                )
            }),
            Status::Error,
        ),
    ];
    for (name, redirect, expected) in rows {
        let observation = HttpsObservation { redirect, ..good() };
        assert_eq!(
            status(&observation, Check::HttpsRedirect),
            expected,
            "{name}"
        );
    }
}

#[test]
fn hsts_truth_table() {
    use Status::*;
    // header value (None: absent) → hsts, max_age, subdomains, preload
    let rows: &[(Option<&str>, [Status; 4])] = &[
        (None, [Fail, Skip, Skip, Skip]),
        (Some("includeSubDomains"), [Fail, Skip, Skip, Skip]),
        (Some("max-age=1; max-age=2"), [Fail, Skip, Skip, Skip]),
        (Some("max-age=0"), [Fail, Skip, Skip, Skip]),
        (Some("max-age=300"), [Pass, Fail, Fail, Info]),
        (
            Some("max-age=15768000; includeSubDomains"),
            [Pass, Fail, Pass, Info],
        ),
        (Some("max-age=31535999; preload"), [Pass, Fail, Fail, Pass]),
        (Some("max-age=31536000"), [Pass, Pass, Fail, Info]),
        (
            Some("max-age=31536000; includeSubDomains; preload"),
            [Pass, Pass, Pass, Pass],
        ),
    ];
    let checks = [
        Check::HttpsHsts,
        Check::HttpsHstsMaxAge,
        Check::HttpsHstsSubdomains,
        Check::HttpsHstsPreload,
    ];
    for (value, expected) in rows {
        let mut headers: Vec<(&str, &str)> = GOOD_HEADERS[1..].to_vec();
        if let Some(value) = value {
            headers.push(("strict-transport-security", value));
        }
        let observation = HttpsObservation {
            https: exchange(HTTPS, vec![hop(HTTPS, 200, &headers, None)]),
            ..good()
        };
        let got: Vec<Status> = checks.iter().map(|c| status(&observation, *c)).collect();
        assert_eq!(got, expected, "{value:?}");
    }
    // Only the first header counts (RFC 6797 §8.1).
    let observation = HttpsObservation {
        https: exchange(
            HTTPS,
            vec![hop(
                HTTPS,
                200,
                &[
                    ("strict-transport-security", "max-age=300"),
                    ("strict-transport-security", "max-age=31536000"),
                ],
                None,
            )],
        ),
        ..good()
    };
    assert_eq!(status(&observation, Check::HttpsHstsMaxAge), Fail);
    // A policy sent on a same-origin redirect before the page counts.
    let observation = HttpsObservation {
        https: exchange(
            HTTPS,
            vec![
                hop(
                    HTTPS,
                    302,
                    &[("strict-transport-security", "max-age=31536000")],
                    Some("https://www.vigie.test/en/"),
                ),
                hop("https://www.vigie.test/en/", 200, &[], None),
            ],
        ),
        ..good()
    };
    assert_eq!(status(&observation, Check::HttpsHsts), Pass);
}

#[test]
fn security_txt_truth_table() {
    let rows: Vec<(&str, Option<HttpExchange>, Status)> = vec![
        ("valid", Some(security_txt(GOOD_SECURITY_TXT)), Status::Pass),
        ("not fetched", None, Status::Error),
        (
            "unreachable",
            Some(failed(SECURITY_TXT, FetchStage::Timeout)),
            Status::Error,
        ),
        (
            "404",
            Some(exchange(
                SECURITY_TXT,
                vec![hop(SECURITY_TXT, 404, &[], None)],
            )),
            Status::Fail,
        ),
        (
            "expired",
            Some(security_txt(
                "Contact: mailto:a@vigie.test\nExpires: 2026-11-29T23:59:59Z\n",
            )),
            Status::Fail,
        ),
        (
            "no contact",
            Some(security_txt("Expires: 2027-06-01T00:00:00Z\n")),
            Status::Fail,
        ),
        (
            "an HTML page",
            Some(security_txt("<html><body>Welcome</body></html>\n")),
            Status::Fail,
        ),
        (
            "too large",
            Some(HttpExchange {
                body_truncated: true,
                ..security_txt(GOOD_SECURITY_TXT)
            }),
            Status::Fail,
        ),
        (
            "on another origin",
            Some(HttpExchange {
                stop: Some(RedirectStop::OtherOrigin {
                    location: "https://security.vigie.test/security.txt".into(),
                }),
                ..exchange(
                    SECURITY_TXT,
                    vec![hop(
                        SECURITY_TXT,
                        301,
                        &[],
                        Some("https://security.vigie.test/security.txt"),
                    )],
                )
            }),
            Status::Warn,
        ),
    ];
    for (name, security_txt, expected) in rows {
        let observation = HttpsObservation {
            security_txt,
            ..good()
        };
        assert_eq!(
            status(&observation, Check::HttpsSecurityTxt),
            expected,
            "{name}"
        );
    }
    let expired = HttpsObservation {
        security_txt: Some(security_txt(
            "Contact: mailto:a@vigie.test\nExpires: 2026-01-01T00:00:00Z\n",
        )),
        ..good()
    };
    let verdict = verdict(&expired, Check::HttpsSecurityTxt);
    assert_eq!(verdict.summary.key, "https.security_txt.expired");
    assert_eq!(verdict.evidence["expires"], "2026-01-01T00:00:00Z");
}

#[test]
fn headers_truth_table() {
    let base = &GOOD_HEADERS[1..5];
    let without = |name: &str| -> Vec<(&'static str, &'static str)> {
        base.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let mut frame_ancestors = without("x-frame-options");
    frame_ancestors.retain(|(n, _)| *n != "content-security-policy");
    frame_ancestors.push((
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'",
    ));
    let mut sniffing = without("x-content-type-options");
    sniffing.push(("x-content-type-options", "sniff-away"));
    let mut allow_from = without("x-frame-options");
    allow_from.push(("x-frame-options", "ALLOW-FROM https://a.test/"));
    let rows: Vec<(&str, Headers, Status, Vec<&str>)> = vec![
        ("all", base.to_vec(), Status::Pass, vec![]),
        (
            "frame-ancestors instead of X-Frame-Options",
            frame_ancestors,
            Status::Pass,
            vec![],
        ),
        (
            "no CSP",
            without("content-security-policy"),
            Status::Fail,
            vec!["Content-Security-Policy"],
        ),
        (
            "no nosniff",
            sniffing,
            Status::Fail,
            vec!["X-Content-Type-Options: nosniff"],
        ),
        (
            "obsolete ALLOW-FROM",
            allow_from,
            Status::Fail,
            vec!["X-Frame-Options or CSP frame-ancestors"],
        ),
        (
            "none",
            vec![],
            Status::Fail,
            vec![
                "Content-Security-Policy",
                "X-Content-Type-Options: nosniff",
                "X-Frame-Options or CSP frame-ancestors",
                "Referrer-Policy",
            ],
        ),
    ];
    for (name, headers, expected, missing) in rows {
        let observation = HttpsObservation {
            https: exchange(HTTPS, vec![hop(HTTPS, 200, &headers, None)]),
            ..good()
        };
        let verdict = verdict(&observation, Check::HttpsHeaders);
        assert_eq!(verdict.status, expected, "{name}");
        assert_eq!(
            verdict.evidence["missing"],
            serde_json::json!(missing),
            "{name}"
        );
    }
    // The page is elsewhere: its headers are another origin's to grade.
    let observation = HttpsObservation {
        https: HttpExchange {
            stop: Some(RedirectStop::OtherOrigin {
                location: "https://vigie.test/".into(),
            }),
            ..exchange(
                HTTPS,
                vec![hop(HTTPS, 301, &[], Some("https://vigie.test/"))],
            )
        },
        ..good()
    };
    assert_eq!(status(&observation, Check::HttpsHeaders), Status::Skip);
}

#[test]
fn server_banner_truth_table() {
    let rows: &[BannerRow] = &[
        (&[("server", "nginx")], &[], Status::Pass),
        (&[], &[], Status::Pass),
        (&[("server", "nginx/1.18.0 (Ubuntu)")], &[], Status::Fail),
        (
            &[("server", "Apache"), ("x-powered-by", "PHP/7.4.3")],
            &[],
            Status::Fail,
        ),
        // The port-80 answer discloses what the HTTPS one hides.
        (
            &[("server", "nginx")],
            &[("server", "nginx/1.18.0")],
            Status::Fail,
        ),
        (&[("x-powered-by", "Express")], &[], Status::Pass),
    ];
    for (https_headers, http_headers, expected) in rows {
        let observation = HttpsObservation {
            https: exchange(HTTPS, vec![hop(HTTPS, 200, https_headers, None)]),
            redirect: Some(exchange(
                HTTP,
                vec![hop(HTTP, 301, http_headers, Some(HTTPS))],
            )),
            ..good()
        };
        assert_eq!(
            status(&observation, Check::HttpServerBanner),
            *expected,
            "{https_headers:?} {http_headers:?}"
        );
    }
    let disclosing = HttpsObservation {
        https: exchange(
            HTTPS,
            vec![hop(HTTPS, 200, &[("server", "Microsoft-IIS/10.0")], None)],
        ),
        ..good()
    };
    let verdict = verdict(&disclosing, Check::HttpServerBanner);
    assert_eq!(
        verdict.evidence["banners"][0]["versions"],
        serde_json::json!(["10.0"])
    );
}

#[test]
fn an_unreachable_https_origin_is_an_error_for_each_of_its_checks() {
    for stage in [FetchStage::Tls, FetchStage::Refused, FetchStage::Http] {
        let observation = HttpsObservation {
            https: failed(HTTPS, stage),
            redirect: Some(failed(HTTP, FetchStage::Refused)),
            security_txt: None,
            ..good()
        };
        let got = statuses(&observation);
        assert_eq!(got[0], (Check::HttpsRedirect, Status::Pass));
        for (check, status) in &got[1..] {
            assert_eq!(*status, Status::Error, "{check:?} {stage:?}");
        }
        let verdict = verdict(&observation, Check::HttpsHsts);
        assert!(verdict
            .summary
            .render(vigie_model::Lang::En)
            .contains("the reason"));
    }
    // The banner still comes from port 80 when HTTPS gave nothing.
    let observation = HttpsObservation {
        https: failed(HTTPS, FetchStage::Tls),
        redirect: Some(exchange(
            HTTP,
            vec![hop(HTTP, 200, &[("server", "Apache/2.4.41")], None)],
        )),
        security_txt: None,
        ..good()
    };
    assert_eq!(status(&observation, Check::HttpServerBanner), Status::Fail);
}

#[test]
fn a_host_that_answers_nothing_gets_no_pass() {
    // Nothing answered on either port: a silent port 80 proves nothing when the host
    // itself was not reached.
    for stage in [
        FetchStage::Timeout,
        FetchStage::Connect,
        FetchStage::Resolve,
    ] {
        let observation = HttpsObservation {
            https: failed(HTTPS, stage),
            redirect: Some(failed(HTTP, FetchStage::Timeout)),
            security_txt: None,
            ..good()
        };
        for (check, status) in statuses(&observation) {
            assert_eq!(status, Status::Error, "{check:?} {stage:?}");
        }
        let redirect = verdict(&observation, Check::HttpsRedirect);
        assert!(redirect
            .summary
            .render(vigie_model::Lang::Fr)
            .contains("the reason"));
    }
}

#[test]
fn the_observation_round_trips_through_json() {
    let observation = good();
    let json = serde_json::to_string(&observation).unwrap();
    let back: HttpsObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, observation);
    // Tolerant on the way in: unknown fields are ignored.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["from_a_newer_agent"] = serde_json::json!(1);
    let back: HttpsObservation = serde_json::from_value(value).unwrap();
    assert_eq!(back, observation);
}

#[test]
fn a_failed_fetch_is_counted_once_with_the_kind_the_probe_recorded() {
    use vigie_model::FailureKind;
    let with_kind = |url: &str, stage, kind| {
        let mut exchange = failed(url, stage);
        if let Some(error) = exchange.error.as_mut() {
            error.kind = kind;
        }
        exchange
    };
    let failures = |observation: &HttpsObservation| -> Vec<(Check, String)> {
        evaluate(observation, now())
            .into_iter()
            .filter_map(|v| {
                let kind = v.evidence.get("failure")?.as_str()?.to_owned();
                Some((v.check, kind))
            })
            .collect()
    };
    let mut unreachable = good();
    unreachable.https = with_kind(HTTPS, FetchStage::Refused, Some(FailureKind::Refused));
    unreachable.redirect = Some(with_kind(
        HTTP,
        FetchStage::Connect,
        Some(FailureKind::Protocol),
    ));
    assert_eq!(
        failures(&unreachable),
        vec![
            (Check::HttpsRedirect, "protocol".to_owned()),
            (Check::HttpsHsts, "refused".to_owned()),
        ]
    );
    // A report of an older agent: the same verdicts, no kind guessed.
    let mut older = unreachable.clone();
    older.https = failed(HTTPS, FetchStage::Refused);
    older.redirect = Some(failed(HTTP, FetchStage::Connect));
    assert_eq!(failures(&older), vec![]);
    assert_eq!(statuses(&older), statuses(&unreachable));
}
