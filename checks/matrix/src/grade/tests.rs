//! One test per rule, with the edges of the spec (thresholds, caps, expiry, evidence).

use super::*;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn f(check: Check, target: &str, status: Status) -> FindingFact {
    FindingFact {
        check,
        target: target.to_owned(),
        status,
        evidence: serde_json::Map::new(),
        observed_at: now() - Duration::days(1),
    }
}

fn with(mut finding: FindingFact, key: &str, value: serde_json::Value) -> FindingFact {
    finding.evidence.insert(key.to_owned(), value);
    finding
}

fn answer(question: &str, value: &str, days_ago: i64, evidence: Option<&str>) -> Answer {
    Answer {
        org: "o".into(),
        question: question.into(),
        answer: value.into(),
        respondent_role: "director".into(),
        answered_on: (now() - Duration::days(days_ago)).date_naive(),
        evidence: evidence.map(str::to_owned),
    }
}

fn grade_with(findings: &[FindingFact], answers: &[Answer], profile: TlsProfile) -> Vec<Cell> {
    let lifetimes = BTreeMap::new();
    grade_org(Inputs {
        findings,
        answers,
        now: now(),
        profile,
        certificate_lifetimes: &lifetimes,
    })
}

fn cell(findings: &[FindingFact], answers: &[Answer], id: &str) -> Cell {
    grade_with(findings, answers, TlsProfile::Modern)
        .into_iter()
        .find(|c| c.capability == id)
        .unwrap()
}

fn level(findings: &[FindingFact], id: &str) -> Value {
    cell(findings, &[], id).value
}

const WWW: &str = "www.example.ca:443";

/// A web host that meets C01 level 3 and C02 level 3.
fn good_web() -> Vec<FindingFact> {
    let mut v = vec![
        f(TlsConnect, WWW, Status::Pass),
        f(TlsProtocolTls10, WWW, Status::Pass),
        f(TlsProtocolTls11, WWW, Status::Pass),
        f(TlsProtocolTls13, WWW, Status::Pass),
        f(TlsCipherCbc, WWW, Status::Pass),
        f(HttpsRedirect, WWW, Status::Pass),
        f(HttpsHsts, WWW, Status::Pass),
        f(HttpsHstsMaxAge, WWW, Status::Pass),
        f(HttpsHstsSubdomains, WWW, Status::Pass),
        f(HttpsHstsPreload, WWW, Status::Info),
        f(TlsCertExpired, WWW, Status::Pass),
        f(TlsCertUntrusted, WWW, Status::Pass),
        f(TlsCertExpiring, WWW, Status::Pass),
    ];
    v.sort_by_key(|f| f.check);
    v
}

fn set(findings: &mut Vec<FindingFact>, check: Check, target: &str, status: Status) {
    findings.retain(|f| !(f.check == check && f.target == target));
    findings.push(f(check, target, status));
}

#[test]
fn every_capability_gets_a_cell_and_no_data_is_unknown_not_zero() {
    let cells = grade_with(&[], &[], TlsProfile::Modern);
    assert_eq!(cells.len(), 18);
    for c in &cells {
        assert_eq!(c.value, Value::Unknown, "{}", c.capability);
        assert_eq!(c.source, None);
        assert_eq!(c.label(), "?");
    }
}

#[test]
fn c01_levels_top_down() {
    let web = good_web();
    assert_eq!(level(&web, "C01"), Value::Level(3), "preload info → not 4");

    let mut v = web.clone();
    set(&mut v, HttpsHstsPreload, WWW, Status::Pass);
    assert_eq!(level(&v, "C01"), Value::Level(4));

    // A failed connection is an endpoint not spoken to: unknown, not "no encryption".
    let mut v = web.clone();
    set(&mut v, TlsConnect, WWW, Status::Error);
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Unknown, "not reached");
    assert_eq!(c.notes[0].key, "note.unreached.endpoint");
    let mut v = web.clone();
    set(&mut v, TlsConnect, WWW, Status::Fail);
    assert_eq!(level(&v, "C01"), Value::Level(0), "no working HTTPS");

    for check in [
        HttpsRedirect,
        TlsProtocolTls10,
        TlsProtocolTls11,
        TlsCipherDes,
        TlsCipherRc4,
    ] {
        let mut v = web.clone();
        set(&mut v, check, WWW, Status::Fail);
        assert_eq!(level(&v, "C01"), Value::Level(1), "{check}");
    }
    for check in [
        HttpsHsts,
        HttpsHstsMaxAge,
        TlsCipherNoForwardSecrecy,
        TlsCipherCbc,
    ] {
        let mut v = web.clone();
        set(&mut v, check, WWW, Status::Fail);
        assert_eq!(level(&v, "C01"), Value::Level(2), "{check}");
    }
    // CBC with SHA-256 is "sufficient" (3, not 4); CBC with SHA-1 is phase-out (2).
    let cbc = |suite: &str| {
        let mut v = web.clone();
        v.retain(|f| f.check != TlsCipherCbc);
        v.push(with(
            f(TlsCipherCbc, WWW, Status::Fail),
            "suites",
            serde_json::json!([{"protocol": "TLSv1.2", "suite": suite}]),
        ));
        set(&mut v, HttpsHstsPreload, WWW, Status::Pass);
        level(&v, "C01")
    };
    assert_eq!(
        cbc("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
        Value::Level(3)
    );
    assert_eq!(cbc("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), Value::Level(2));
    // HSTS never observed: level 3 cannot be established.
    let v: Vec<_> = web
        .iter()
        .filter(|f| f.check != HttpsHsts)
        .cloned()
        .collect();
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Level(2));
    assert!(c.notes.iter().any(|n| n.key == "note.missing_check"));
}

#[test]
fn c01_profile_decides_whether_the_itsp_summary_counts() {
    let mut v = good_web();
    set(&mut v, TlsPolicyItsp40062, WWW, Status::Fail);
    let level_in = |profile| {
        grade_with(&v, &[], profile)
            .into_iter()
            .find(|c| c.capability == "C01")
            .unwrap()
            .value
    };
    assert_eq!(level_in(TlsProfile::Modern), Value::Level(3));
    assert_eq!(level_in(TlsProfile::ItspStrict), Value::Level(2));
}

#[test]
fn c01_takes_the_weakest_web_host_and_is_capped_by_an_invalid_certificate() {
    let mut v = good_web();
    let other = "shop.example.ca:443";
    for mut finding in good_web() {
        finding.target = other.to_owned();
        v.push(finding);
    }
    set(&mut v, TlsProtocolTls10, other, Status::Fail);
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Level(1));
    assert_eq!(c.coverage, Some(Coverage { met: 1, total: 2 }));
    assert!(c
        .notes
        .iter()
        .any(|n| n.key == "note.weakest" && n.args[0].1 == other));

    let mut v = good_web();
    set(&mut v, TlsCertExpired, WWW, Status::Fail);
    let c = cell(&v, &[], "C01");
    assert_eq!(level(&v, "C02"), Value::Level(0));
    assert_eq!(c.value, Value::Level(2), "C02 < 2 caps C01 at 2");
}

#[test]
fn c02_levels_and_the_7_and_30_day_edges() {
    let web = good_web();
    assert_eq!(level(&web, "C02"), Value::Level(3));
    for (check, status, expected) in [
        (TlsCertUntrusted, Status::Fail, 0),
        (TlsCertSelfSigned, Status::Fail, 0),
        (TlsCertHostnameMismatch, Status::Fail, 0),
        (TlsCertWeakKey, Status::Fail, 1),
        (TlsCertWeakSignature, Status::Fail, 1),
        // tls.cert.expiring: fail within 7 days, warn within 30.
        (TlsCertExpiring, Status::Fail, 1),
        (TlsCertExpiring, Status::Warn, 2),
        (TlsCertIncompleteChain, Status::Fail, 2),
    ] {
        let mut v = web.clone();
        set(&mut v, check, WWW, status);
        assert_eq!(
            level(&v, "C02"),
            Value::Level(expected),
            "{check} {status:?}"
        );
    }
    // Level 4: CAA, OCSP stapling and a lifetime of at most 90 days.
    let mut v = web.clone();
    set(&mut v, TlsOcspStapling, WWW, Status::Pass);
    v.push(f(DnsCaa, "example.ca", Status::Pass));
    let grade_lifetime = |days: i64| {
        let lifetimes = BTreeMap::from([(WWW.to_owned(), days)]);
        grade_org(Inputs {
            findings: &v,
            answers: &[],
            now: now(),
            profile: TlsProfile::Modern,
            certificate_lifetimes: &lifetimes,
        })[1]
            .value
    };
    assert_eq!(grade_lifetime(90), Value::Level(4));
    assert_eq!(grade_lifetime(91), Value::Level(3));

    // Without a given lifetime, the validity checks' evidence gives it.
    let stamp = |days: i64| serde_json::Value::from((now() + Duration::days(days)).to_rfc3339());
    let mut from_evidence = v.clone();
    from_evidence.push(with(
        f(TlsCertNotYetValid, WWW, Status::Pass),
        "not_before",
        stamp(-30),
    ));
    from_evidence.retain(|f| f.check != TlsCertExpired);
    from_evidence.push(with(
        f(TlsCertExpired, WWW, Status::Pass),
        "not_after",
        stamp(60),
    ));
    assert_eq!(
        level(&from_evidence, "C02"),
        Value::Level(4),
        "90-day certificate"
    );
    from_evidence.retain(|f| f.check != TlsCertExpired);
    from_evidence.push(with(
        f(TlsCertExpired, WWW, Status::Pass),
        "not_after",
        stamp(367),
    ));
    assert_eq!(
        level(&from_evidence, "C02"),
        Value::Level(3),
        "a one-year certificate"
    );
}

const DOMAIN: &str = "example.ca";

fn good_mail() -> Vec<FindingFact> {
    vec![
        f(EmailDmarcMissing, DOMAIN, Status::Pass),
        f(EmailDmarcPolicy, DOMAIN, Status::Pass),
        f(EmailDmarcRua, DOMAIN, Status::Pass),
        f(EmailDmarcPct, DOMAIN, Status::Pass),
        f(EmailSpfAll, DOMAIN, Status::Pass),
        f(EmailDkimMissing, DOMAIN, Status::Pass),
        f(EmailMtaSts, DOMAIN, Status::Pass),
        f(EmailMtaStsPolicy, DOMAIN, Status::Pass),
        f(EmailMtaStsMode, DOMAIN, Status::Warn),
        f(EmailTlsrpt, DOMAIN, Status::Pass),
    ]
}

#[test]
fn c03_levels_and_dkim_not_found_is_unknown_not_a_failure() {
    let mail = good_mail();
    assert_eq!(level(&mail, "C03"), Value::Level(3));
    for (check, status, expected) in [
        (EmailDmarcMissing, Status::Fail, 0),
        (EmailDmarcSyntax, Status::Fail, 0),
        (EmailDmarcPolicy, Status::Fail, 1),
        (EmailDmarcRua, Status::Fail, 1),
        (EmailDmarcPolicy, Status::Warn, 2),
        (EmailDmarcPct, Status::Fail, 2),
        (EmailSpfAll, Status::Warn, 2),
        (EmailSpfLookupLimit, Status::Fail, 2),
    ] {
        let mut v = mail.clone();
        set(&mut v, check, DOMAIN, status);
        assert_eq!(
            level(&v, "C03"),
            Value::Level(expected),
            "{check} {status:?}"
        );
    }
    let mut v = mail.clone();
    set(&mut v, EmailDkimMissing, DOMAIN, Status::Warn);
    let c = cell(&v, &[], "C03");
    assert_eq!(c.value, Value::Level(3));
    assert!(c.notes.iter().any(|n| n.key == "note.dkim_unknown"));
}

#[test]
fn c04_levels() {
    let mail = good_mail();
    let c = cell(&mail, &[], "C04");
    assert_eq!(c.value, Value::Level(3), "testing mode + TLS-RPT");
    assert!(c.notes.iter().any(|n| n.key == "note.starttls_not_probed"));
    let mut v = mail.clone();
    set(&mut v, EmailMtaStsMode, DOMAIN, Status::Pass);
    assert_eq!(level(&v, "C04"), Value::Level(4));
    let short = with(
        f(EmailMtaStsMode, DOMAIN, Status::Pass),
        "max_age",
        86_400.into(),
    );
    v.retain(|f| f.check != EmailMtaStsMode);
    v.push(short);
    assert_eq!(
        level(&v, "C04"),
        Value::Level(3),
        "enforce with max_age under a week"
    );
    let mut v = mail.clone();
    set(&mut v, EmailMtaSts, DOMAIN, Status::Fail);
    assert_eq!(level(&v, "C04"), Value::Level(2));
    set(&mut v, EmailStarttls, DOMAIN, Status::Fail);
    assert_eq!(
        level(&v, "C04"),
        Value::Level(0),
        "no evidence: not offered"
    );
    let hosts = |offered: [bool; 2]| {
        serde_json::json!([
            {"host": "mx1.example.ca", "offered": offered[0], "certificate_valid": false},
            {"host": "mx2.example.ca", "offered": offered[1]},
        ])
    };
    v.retain(|f| f.check != EmailStarttls);
    v.push(with(
        f(EmailStarttls, DOMAIN, Status::Fail),
        "hosts",
        hosts([true, true]),
    ));
    assert_eq!(
        level(&v, "C04"),
        Value::Level(1),
        "offered, certificate invalid"
    );
    v.retain(|f| f.check != EmailStarttls);
    v.push(with(
        f(EmailStarttls, DOMAIN, Status::Fail),
        "hosts",
        hosts([true, false]),
    ));
    assert_eq!(
        level(&v, "C04"),
        Value::Level(0),
        "one MX does not offer STARTTLS"
    );
}

#[test]
fn c05_high_risk_services_are_level_0_and_plaintext_mail_is_2() {
    let open = f(ServiceOpen, "192.0.2.10:443", Status::Info);
    assert_eq!(level(std::slice::from_ref(&open), "C05"), Value::Level(3));
    let rdp = f(ServiceRemoteDesktop, "192.0.2.10:3389", Status::Fail);
    assert_eq!(level(&[open.clone(), rdp], "C05"), Value::Level(0));
    let telnet = with(
        f(ServiceCleartext, "192.0.2.10:23", Status::Fail),
        "service",
        "telnet".into(),
    );
    assert_eq!(level(&[open.clone(), telnet], "C05"), Value::Level(0));
    let unresolved = f(ServiceOpen, "printer.example.ca", Status::Error);
    assert_eq!(
        level(std::slice::from_ref(&unresolved), "C05"),
        Value::Unknown,
        "nothing scanned"
    );
    let imap = with(
        f(ServiceCleartext, "192.0.2.10:143", Status::Fail),
        "service",
        "imap".into(),
    );
    assert_eq!(level(&[open, imap], "C05"), Value::Level(2));
}

#[test]
fn c06_banner_matches_are_suspected_until_confirmed() {
    let t = "192.0.2.10:22";
    let suspected = f(ServiceOutdated, t, Status::Fail);
    let c = cell(std::slice::from_ref(&suspected), &[], "C06");
    assert_eq!(c.value, Value::Level(2));
    assert!(c.notes.iter().any(|n| n.key == "note.suspected"));
    let kev = with(suspected.clone(), "kev", true.into());
    assert_eq!(level(&[kev], "C06"), Value::Level(0));
    assert_eq!(
        level(&[f(ServiceOpen, t, Status::Info)], "C06"),
        Value::Level(3)
    );
}

fn host(name: &str, automatic: bool, pending: bool, eol: bool) -> Vec<FindingFact> {
    let st = |b: bool| if b { Status::Pass } else { Status::Fail };
    vec![
        f(HostOs, name, Status::Info),
        f(HostOsEol, name, st(!eol)),
        f(HostUpdatesAutomatic, name, st(automatic)),
        f(HostUpdatesSecurity, name, st(!pending)),
    ]
}

fn hosts(n: usize, automatic: usize) -> Vec<FindingFact> {
    (0..n)
        .flat_map(|i| host(&format!("h{i:02}"), i < automatic, false, false))
        .collect()
}

#[test]
fn c07_share_of_hosts_with_the_80_and_95_percent_edges() {
    // 19 of 20 = 95%: level 3; 18 of 20 = 90%: 2; 16 of 20 = 80%: 2; 15 of 20: 2 (under 80).
    let c = cell(&hosts(20, 19), &[], "C07");
    assert_eq!(c.value, Value::Level(3));
    assert_eq!(c.coverage, Some(Coverage { met: 19, total: 20 }));
    assert_eq!(level(&hosts(20, 18), "C07"), Value::Level(2));
    assert_eq!(level(&hosts(20, 16), "C07"), Value::Level(2));
    assert_eq!(
        level(&hosts(20, 0), "C07"),
        Value::Level(1),
        "manual everywhere"
    );
    let mut v = hosts(20, 20);
    v.extend(host("old", true, false, true));
    assert_eq!(level(&v, "C07"), Value::Level(0), "one end-of-life OS");
    let mut v = hosts(20, 20);
    v.extend(host("late", true, true, false));
    assert_eq!(
        level(&v, "C07"),
        Value::Level(2),
        "security updates pending"
    );
}

#[test]
fn c10_headers() {
    let headers = |missing: &[&str]| {
        vec![
            with(
                f(
                    HttpsHeaders,
                    WWW,
                    if missing.is_empty() {
                        Status::Pass
                    } else {
                        Status::Fail
                    },
                ),
                "missing",
                serde_json::json!(missing),
            ),
            f(HttpsHsts, WWW, Status::Pass),
        ]
    };
    // As the HTTPS check writes them.
    let all = [
        "Content-Security-Policy",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options or CSP frame-ancestors",
        "Referrer-Policy",
    ];
    assert_eq!(level(&headers(&all), "C10"), Value::Level(1));
    assert_eq!(
        level(&headers(&["Content-Security-Policy"]), "C10"),
        Value::Level(2)
    );
    assert_eq!(
        level(&headers(&["Referrer-Policy"]), "C10"),
        Value::Level(3)
    );
    assert_eq!(
        level(&headers(&[]), "C10"),
        Value::Level(3),
        "4 needs security.txt and a CSP without unsafe-inline"
    );
    assert_eq!(
        level(&headers(&["X-Content-Type-Options: nosniff"]), "C10"),
        Value::Level(2),
        "the trio without nosniff"
    );
    let advanced = |csp: &str| {
        let mut v = headers(&[]);
        v[0].evidence.insert(
            "present".into(),
            serde_json::json!({"content-security-policy": csp}),
        );
        v.push(f(HttpsSecurityTxt, WWW, Status::Pass));
        level(&v, "C10")
    };
    assert_eq!(advanced("default-src 'self'"), Value::Level(4));
    assert_eq!(
        advanced("default-src 'self' 'unsafe-inline'"),
        Value::Level(3)
    );
}

#[test]
fn self_assessment_levels_expiry_and_evidence() {
    // C13: written + reviewed → 3; tabletop within 12 months with evidence → 4.
    let a = [
        answer("Q1", "written", 10, None),
        answer("Q2", "within_12_months", 10, None),
        answer("Q3", "2026-06-01", 10, Some("tabletop-minutes.pdf")),
    ];
    let c = cell(&[], &a, "C13");
    assert_eq!(c.value, Value::Level(4));
    assert_eq!(c.source, Some(Source::SelfAssessed));
    assert_eq!(c.label(), "4 S");
    assert_eq!(c.evidence, ["tabletop-minutes.pdf"]);

    // Without evidence a level above 3 stays at 3.
    let mut no_evidence = a.clone();
    no_evidence[2].evidence = None;
    let c = cell(&[], &no_evidence, "C13");
    assert_eq!(c.value, Value::Level(3));
    assert!(c.notes.iter().any(|n| n.key == "note.evidence_required"));

    // Answers expire after 365 days: day 365 still counts, day 366 does not.
    let edge = [answer("Q9", "yearly", 365, None)];
    assert_eq!(cell(&[], &edge, "C16").value, Value::Level(3));
    let expired = [answer("Q9", "yearly", 366, None)];
    let c = cell(&[], &expired, "C16");
    assert_eq!(c.value, Value::Unknown);
    assert!(c.notes.iter().any(|n| n.key == "note.answers_expired"));

    // The latest answer wins.
    let changed = [
        answer("Q9", "yearly", 200, None),
        answer("Q9", "onboarding", 5, None),
    ];
    assert_eq!(cell(&[], &changed, "C16").value, Value::Level(2));

    // C14: restore tested 183 days ago with evidence → 4; 184 days → 3.
    let backup = |days: i64| {
        [
            answer("Q4", "automated", 1, None),
            answer("Q5", "yes", 1, None),
            answer(
                "Q6",
                &(now() - Duration::days(days)).date_naive().to_string(),
                1,
                Some("restore.log"),
            ),
        ]
    };
    assert_eq!(cell(&[], &backup(183), "C14").value, Value::Level(4));
    assert_eq!(cell(&[], &backup(184), "C14").value, Value::Level(3));
    assert_eq!(cell(&[], &backup(400), "C14").value, Value::Level(2));

    // C17 and C18.
    assert_eq!(
        cell(
            &[],
            &[answer("Q11", "separate_admin_accounts", 1, None)],
            "C17"
        )
        .value,
        Value::Level(2)
    );
    let gov = [
        answer("Q12", "executive director", 1, None),
        answer("Q13", "yes", 1, None),
        answer(
            "Q14",
            "cybersecure_canada_certified",
            1,
            Some("certificate-123"),
        ),
    ];
    assert_eq!(cell(&[], &gov, "C18").value, Value::Level(4));
    assert_eq!(
        cell(&[], &[answer("Q12", "nobody", 1, None)], "C18").value,
        Value::Level(0)
    );
}

#[test]
fn c15_exposed_rdp_caps_mfa_at_2_and_marks_it_hybrid() {
    let mfa = [
        answer("Q7", "admin;cloud;email;remote", 1, None),
        answer("Q8", "security_key", 1, Some("idp-export.csv")),
    ];
    let c = cell(&[], &mfa, "C15");
    assert_eq!(
        (c.value, c.source),
        (Value::Level(4), Some(Source::SelfAssessed))
    );
    let rdp = [f(ServiceRemoteDesktop, "192.0.2.10:3389", Status::Fail)];
    let c = cell(&rdp, &mfa, "C15");
    assert_eq!((c.value, c.source), (Value::Level(2), Some(Source::Hybrid)));
    assert_eq!(c.label(), "2 H");
    assert!(c.notes.iter().any(|n| n.key == "note.cap_rdp"));
    // Basic authentication over plain HTTP is a password-only login too.
    let basic = [with(
        f(ServiceCleartext, "192.0.2.10:80", Status::Fail),
        "service",
        "http".into(),
    )];
    assert_eq!(cell(&basic, &mfa, "C15").value, Value::Level(2));
    // A level already below the cap is kept.
    let some = [answer("Q7", "email", 1, None)];
    assert_eq!(cell(&rdp, &some, "C15").value, Value::Level(1));
}

#[test]
fn observations_older_than_35_days_are_stale() {
    let mut v = good_web();
    for finding in &mut v {
        finding.observed_at = now() - Duration::days(35);
    }
    assert!(!cell(&v, &[], "C01").stale, "35 days is not stale yet");
    for finding in &mut v {
        finding.observed_at = now() - Duration::days(36);
    }
    let c = cell(&v, &[], "C01");
    assert!(c.stale);
    assert_eq!(
        c.value,
        Value::Level(3),
        "stale data keeps its level, greyed"
    );
}

#[test]
fn summaries_count_known_levels_only() {
    let mut cells = grade_with(&good_web(), &[], TlsProfile::Modern);
    let (met, known) = baseline_attainment(&cells);
    assert_eq!((met, known), (2, 2));
    assert_eq!(weakest_critical(&cells), None);
    cells.extend(grade_with(
        &[f(ServiceFileSharing, "192.0.2.1:445", Status::Fail)],
        &[],
        TlsProfile::Modern,
    ));
    assert_eq!(weakest_critical(&cells), Some((0, vec!["C05".to_owned()])));
    assert_eq!(median(&[0, 3, 4]), Some(3));
    assert_eq!(median(&[1, 2, 3, 4]), Some(2));
    assert_eq!(median(&[]), None);
}

#[test]
fn import_validation_says_what_to_write() {
    let today = now().date_naive();
    let day = today - Duration::days(3);
    let ok = crate::assess::normalize(
        "o",
        "q7",
        "Email; cloud;EMAIL",
        "IT lead",
        day,
        Some(" "),
        today,
    )
    .unwrap();
    assert_eq!(ok.question, "Q7");
    assert_eq!(ok.answer, "cloud;email");
    assert_eq!(ok.evidence, None);
    assert_eq!(
        crate::assess::normalize("o", "Q5", "oui", "IT lead", day, None, today)
            .unwrap()
            .answer,
        "yes"
    );
    let error =
        crate::assess::normalize("o", "Q1", "maybe", "IT lead", day, None, today).unwrap_err();
    assert!(
        error.to_string().contains("no, contacts_only, written"),
        "{error}"
    );
    assert!(crate::assess::normalize("o", "Q99", "x", "r", day, None, today).is_err());
    assert!(crate::assess::normalize("o", "Q1", "no", " ", day, None, today).is_err());
    assert!(crate::assess::normalize("o", "Q6", "2026-13-01", "r", day, None, today).is_err());
    assert!(
        crate::assess::normalize("o", "Q1", "no", "r", today + Duration::days(1), None, today)
            .is_err()
    );
}

// An asset that was not reached, as each family's `evaluate` grades it: every check of the
// family `error` (or `skip`), never `pass`.

const ADDRESS: &str = "192.0.2.7";
const HOST: &str = "srv01";

/// A TLS endpoint that refused the connection: `tls.connect` and every certificate check
/// `error`.
fn unreached_endpoint(target: &str) -> Vec<FindingFact> {
    [
        TlsConnect,
        TlsCertUntrusted,
        TlsCertSelfSigned,
        TlsCertIncompleteChain,
        TlsCertHostnameMismatch,
        TlsCertExpired,
        TlsCertNotYetValid,
        TlsCertExpiring,
        TlsCertWeakKey,
        TlsCertWeakSignature,
        TlsCertTransparency,
    ]
    .into_iter()
    .map(|check| f(check, target, Status::Error))
    .collect()
}

/// A TLS endpoint that does not speak TLS: the handshake and the whole enumeration failed.
fn unspoken_endpoint(target: &str) -> Vec<FindingFact> {
    let mut v = unreached_endpoint(target);
    for check in [
        TlsProtocolSslv2,
        TlsProtocolSslv3,
        TlsProtocolTls10,
        TlsProtocolTls11,
        TlsProtocolTls12,
        TlsProtocolTls13,
        TlsCipherNull,
        TlsCipherAnon,
        TlsCipherExport,
        TlsCipherRc4,
        TlsCipherDes,
        TlsCipherCbc,
        TlsCipherNoForwardSecrecy,
        TlsCipherWeakDh,
        TlsCipherList,
        TlsCompression,
        TlsRenegotiation,
        TlsExtendedMasterSecret,
        TlsFallbackScsv,
        TlsHeartbleed,
        TlsPolicyItsp40062,
    ] {
        v.push(f(check, target, Status::Error));
    }
    v
}

/// A web endpoint whose HTTPS origin gave no answer: every web check `error`.
fn unreached_site(target: &str) -> Vec<FindingFact> {
    [
        HttpsRedirect,
        HttpsHsts,
        HttpsHstsMaxAge,
        HttpsHstsSubdomains,
        HttpsHstsPreload,
        HttpsSecurityTxt,
        HttpsHeaders,
        HttpServerBanner,
    ]
    .into_iter()
    .map(|check| f(check, target, Status::Error))
    .collect()
}

/// A mail domain behind a dead resolver: every DNS question failed.
fn unreached_domain(domain: &str) -> Vec<FindingFact> {
    let mut v: Vec<FindingFact> = Check::ALL
        .iter()
        .filter(|c| c.id().starts_with("email.") || c.id().starts_with("dns."))
        .map(|check| f(*check, domain, Status::Error))
        .collect();
    // STARTTLS not requested: does not apply.
    set(&mut v, EmailStarttls, domain, Status::Skip);
    v
}

/// An address where no port answered: `service.open` and every rule `error`.
fn unreached_address(address: &str) -> Vec<FindingFact> {
    [
        ServiceOpen,
        ServiceCleartext,
        ServiceRemoteDesktop,
        ServiceFileSharing,
        ServiceDatabase,
        ServiceUnauthenticated,
        ServiceOutdated,
    ]
    .into_iter()
    .map(|check| f(check, address, Status::Error))
    .collect()
}

/// A host whose root could not be read: every host check `error`, vulnerabilities skipped.
fn unreached_host(host: &str) -> Vec<FindingFact> {
    let mut v: Vec<FindingFact> = Check::ALL
        .iter()
        .filter(|c| c.id().starts_with("host."))
        .map(|check| f(*check, host, Status::Error))
        .collect();
    set(&mut v, HostVulnerabilities, host, Status::Skip);
    v
}

/// Every family's unreached asset at once.
fn unreached_everything() -> Vec<FindingFact> {
    let mut v = unspoken_endpoint(WWW);
    v.extend(unreached_endpoint("mail.example.ca:993"));
    v.extend(unreached_site("shop.example.ca:443"));
    v.extend(unreached_domain(DOMAIN));
    v.extend(unreached_address(ADDRESS));
    v.extend(unreached_host(HOST));
    v
}

#[test]
fn every_capability_with_only_unreached_assets_is_unknown_and_says_why() {
    let endpoint_en = "Unknown: the endpoint was not reached";
    let endpoint_fr = "Inconnu\u{a0}: le point d'accès n'a pas été joint";
    let web_only = format!("shop.example.ca:443, {WWW}");
    // (capability, findings of its unreached assets, note key, note in English, in French).
    // Rows with not_observable or no_data are capabilities graded from no observation (or
    // only from answers): an unreached asset must leave them exactly as no data at all does.
    let rows: Vec<(&str, Vec<FindingFact>, &str, String, String)> = vec![
        (
            "C01",
            [unspoken_endpoint(WWW), unreached_site("shop.example.ca:443")].concat(),
            "note.unreached.endpoint",
            format!("{endpoint_en} ({web_only})."),
            format!("{endpoint_fr} ({web_only})."),
        ),
        (
            "C02",
            [unspoken_endpoint(WWW), unreached_endpoint("mail.example.ca:993")].concat(),
            "note.unreached.endpoint",
            format!("{endpoint_en} (mail.example.ca:993, {WWW})."),
            format!("{endpoint_fr} (mail.example.ca:993, {WWW})."),
        ),
        (
            "C03",
            unreached_domain(DOMAIN),
            "note.unreached.domain",
            format!("Unknown: the domain's DNS records could not be read ({DOMAIN})."),
            format!(
                "Inconnu\u{a0}: les enregistrements DNS du domaine n'ont pas pu être lus ({DOMAIN})."
            ),
        ),
        (
            "C04",
            unreached_domain(DOMAIN),
            "note.unreached.domain",
            format!("Unknown: the domain's DNS records could not be read ({DOMAIN})."),
            format!(
                "Inconnu\u{a0}: les enregistrements DNS du domaine n'ont pas pu être lus ({DOMAIN})."
            ),
        ),
        (
            "C05",
            unreached_address(ADDRESS),
            "note.unreached.address",
            format!("Unknown: the address was not reached ({ADDRESS})."),
            format!("Inconnu\u{a0}: l'adresse n'a pas été jointe ({ADDRESS})."),
        ),
        (
            "C06",
            unreached_address(ADDRESS),
            "note.unreached.address",
            format!("Unknown: the address was not reached ({ADDRESS})."),
            format!("Inconnu\u{a0}: l'adresse n'a pas été jointe ({ADDRESS})."),
        ),
        (
            "C07",
            unreached_host(HOST),
            "note.unreached.host",
            format!("Unknown: the host's facts could not be read ({HOST})."),
            format!("Inconnu\u{a0}: l'état de l'hôte n'a pas pu être lu ({HOST})."),
        ),
        ("C08", unreached_host(HOST), "note.not_observable", "Not observed by this version of the agent; answer the questionnaire.".to_owned(), "Non observé par cette version de l'agent\u{202f}; répondez au questionnaire.".to_owned()),
        ("C09", unreached_host(HOST), "note.not_observable", "Not observed by this version of the agent; answer the questionnaire.".to_owned(), "Non observé par cette version de l'agent\u{202f}; répondez au questionnaire.".to_owned()),
        (
            "C10",
            unreached_site("shop.example.ca:443"),
            "note.unreached.endpoint",
            format!("{endpoint_en} (shop.example.ca:443)."),
            format!("{endpoint_fr} (shop.example.ca:443)."),
        ),
        ("C11", unreached_domain(DOMAIN), "note.not_observable", "Not observed by this version of the agent; answer the questionnaire.".to_owned(), "Non observé par cette version de l'agent\u{202f}; répondez au questionnaire.".to_owned()),
        ("C12", unreached_everything(), "note.not_observable", "Not observed by this version of the agent; answer the questionnaire.".to_owned(), "Non observé par cette version de l'agent\u{202f}; répondez au questionnaire.".to_owned()),
        ("C13", unreached_everything(), "note.no_answer", "No answer to the questionnaire (Q1, Q2, Q3).".to_owned(), "Aucune réponse au questionnaire (Q1, Q2, Q3).".to_owned()),
        ("C14", unreached_everything(), "note.no_answer", "No answer to the questionnaire (Q4, Q5, Q6).".to_owned(), "Aucune réponse au questionnaire (Q4, Q5, Q6).".to_owned()),
        ("C15", unreached_address(ADDRESS), "note.no_answer", "No answer to the questionnaire (Q7, Q8).".to_owned(), "Aucune réponse au questionnaire (Q7, Q8).".to_owned()),
        ("C16", unreached_everything(), "note.no_answer", "No answer to the questionnaire (Q9, Q10).".to_owned(), "Aucune réponse au questionnaire (Q9, Q10).".to_owned()),
        ("C17", unreached_everything(), "note.no_answer", "No answer to the questionnaire (Q11).".to_owned(), "Aucune réponse au questionnaire (Q11).".to_owned()),
        ("C18", unreached_everything(), "note.no_answer", "No answer to the questionnaire (Q12, Q13, Q14).".to_owned(), "Aucune réponse au questionnaire (Q12, Q13, Q14).".to_owned()),
    ];
    let ids: Vec<&str> = rows.iter().map(|row| row.0).collect();
    let catalogue_ids: Vec<&str> = catalogue()
        .capabilities
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        ids, catalogue_ids,
        "one row per capability of the catalogue"
    );

    for (id, findings, key, en, fr) in &rows {
        // Alone, and among every other family's unreached assets: the same answer.
        for findings in [findings.clone(), unreached_everything()] {
            let c = cell(&findings, &[], id);
            assert_eq!(c.value, Value::Unknown, "{id}");
            assert_eq!(c.label(), "?", "{id}");
            assert_eq!(c.source, None, "{id}: no level, no source");
            assert_eq!(
                c.coverage, None,
                "{id}: an unreached asset is counted nowhere"
            );
            assert_eq!(c.notes.len(), 1, "{id}: {:?}", c.notes);
            assert_eq!(c.notes[0].key, *key, "{id}");
            if matches!(*key, "note.not_observable" | "note.no_answer") {
                // Not graded from observations: exactly as with no findings at all.
                assert_eq!(c, cell(&[], &[], id), "{id}");
            }
        }
        let c = cell(findings, &[], id);
        assert_eq!(c.notes[0].render(Lang::En), *en, "{id}");
        assert_eq!(c.notes[0].render(Lang::Fr), *fr, "{id}");
    }
}

#[test]
fn an_unreached_asset_is_left_out_of_the_level_and_the_coverage_and_named() {
    let mut v = good_web();
    v.extend(unreached_endpoint("mail.example.ca:443"));
    for id in ["C01", "C02"] {
        let c = cell(&v, &[], id);
        assert_eq!(c.value, Value::Level(3), "{id}");
        assert_eq!(c.coverage, Some(Coverage { met: 1, total: 1 }), "{id}");
        let note = c
            .notes
            .iter()
            .find(|n| n.key == "note.unreached_excluded")
            .unwrap_or_else(|| panic!("{id}: {:?}", c.notes));
        assert_eq!(
            note.render(Lang::En),
            "Not counted, nothing observed: mail.example.ca:443."
        );
        assert_eq!(
            note.render(Lang::Fr),
            "Non comptés, rien d'observé\u{a0}: mail.example.ca:443."
        );
        assert!(!c.notes.iter().any(|n| n.key == "note.weakest"), "{id}");
    }
    // Hosts: one reached host meeting the rule, one unreadable: 1 of 1, not 1 of 2.
    let mut v = host("srv01", true, false, false);
    v.extend(unreached_host("srv02"));
    let c = cell(&v, &[], "C07");
    assert_eq!(c.value, Value::Level(3));
    assert_eq!(c.coverage, Some(Coverage { met: 1, total: 1 }));
    assert!(c
        .notes
        .iter()
        .any(|n| n.key == "note.unreached_excluded" && n.render(Lang::En).ends_with("srv02.")));
    // Many unreached assets: the note stays one line.
    let mut v = good_web();
    for n in 0..5 {
        v.extend(unreached_endpoint(&format!("h{n}.example.ca:443")));
    }
    let c = cell(&v, &[], "C02");
    let note = c
        .notes
        .iter()
        .find(|n| n.key == "note.unreached_excluded")
        .unwrap();
    assert_eq!(
        note.render(Lang::En),
        "Not counted, nothing observed: h0.example.ca:443, h1.example.ca:443, h2.example.ca:443 (+2)."
    );
}

#[test]
fn c01_without_any_protocol_enumerated_stops_at_1() {
    // A quick scan (no enumeration): "TLS 1.2 or later only" is not known.
    let mut v = good_web();
    v.retain(|f| !matches!(f.check, TlsProtocolTls10 | TlsProtocolTls11));
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Level(1));
    assert_eq!(
        c.notes[0].render(Lang::En),
        "Not observed: tls.protocol.tls1_0; level capped at 1."
    );
    // Every hello unanswered: the same.
    set(&mut v, TlsProtocolTls10, WWW, Status::Error);
    set(&mut v, TlsProtocolTls11, WWW, Status::Error);
    assert_eq!(level(&v, "C01"), Value::Level(1));
    // One protocol seen refused is enough to grade on.
    set(&mut v, TlsProtocolTls11, WWW, Status::Pass);
    assert_eq!(level(&v, "C01"), Value::Level(3));
}

#[test]
fn c07_level_3_needs_the_pending_security_updates_of_every_host_observed() {
    let mut v = hosts(20, 20);
    assert_eq!(level(&v, "C07"), Value::Level(3));
    // One host without package indexes: its security updates are unknown.
    set(&mut v, HostUpdatesSecurity, "h07", Status::Error);
    let c = cell(&v, &[], "C07");
    assert_eq!(c.value, Value::Level(2));
    assert_eq!(c.coverage, Some(Coverage { met: 19, total: 20 }));
    assert_eq!(
        c.notes[0].render(Lang::En),
        "Not observed: host.updates.security on h07; level capped at 2."
    );
    assert_eq!(
        c.notes[0].render(Lang::Fr),
        "Non observé\u{a0}: host.updates.security sur h07\u{202f}; niveau plafonné à 2."
    );
}

fn finding_basis(check: Check, target: &str, status: Status) -> Basis {
    Basis::Finding {
        check: check.id(),
        target: target.to_owned(),
        status,
    }
}

#[test]
fn every_graded_observed_cell_names_the_checks_and_assets_that_set_it() {
    // Level 3 short of 4: the advanced checks that do not pass kept it there.
    let web = good_web();
    let c = cell(&web, &[], "C01");
    assert_eq!(c.value, Value::Level(3));
    assert_eq!(
        c.basis,
        [finding_basis(HttpsHstsPreload, WWW, Status::Info)]
    );
    // Level 1: every failing check of the weakest asset, and only the weakest.
    let mut v = web.clone();
    let other = "shop.example.ca:443";
    for f in good_web() {
        v.push(FindingFact {
            target: other.to_owned(),
            ..f
        });
    }
    set(&mut v, TlsProtocolTls10, other, Status::Fail);
    set(&mut v, TlsCipherDes, other, Status::Fail);
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Level(1));
    assert_eq!(
        c.basis,
        [
            finding_basis(TlsProtocolTls10, other, Status::Fail),
            finding_basis(TlsCipherDes, other, Status::Fail),
        ]
    );
    // Two assets tied at the weakest level: both named.
    set(&mut v, TlsProtocolTls11, WWW, Status::Fail);
    let c = cell(&v, &[], "C01");
    let targets: Vec<String> = c
        .basis
        .iter()
        .map(|b| match b {
            Basis::Finding { target, .. } => target.clone(),
            Basis::Answer { question } => question.clone(),
        })
        .collect();
    assert_eq!(targets, [other, other, WWW]);
    // A certificate failure: C02's check, and C01 capped by it points at it too.
    let mut v = web.clone();
    set(&mut v, TlsCertExpired, WWW, Status::Fail);
    let c02 = cell(&v, &[], "C02");
    assert_eq!(c02.value, Value::Level(0));
    assert_eq!(
        c02.basis,
        [finding_basis(TlsCertExpired, WWW, Status::Fail)]
    );
    let c01 = cell(&v, &[], "C01");
    assert_eq!(c01.value, Value::Level(2));
    assert_eq!(c01.basis, c02.basis);
    // Services: the exposed database decides C05.
    let v = vec![
        f(ServiceDatabase, "127.0.0.1:5432", Status::Fail),
        f(ServiceCleartext, "127.0.0.1:5432", Status::Pass),
    ];
    let c = cell(&v, &[], "C05");
    assert_eq!(c.value, Value::Level(0));
    assert_eq!(
        c.basis,
        [finding_basis(
            ServiceDatabase,
            "127.0.0.1:5432",
            Status::Fail
        )]
    );
    // Hosts: the end-of-life one.
    let mut v = host("srv01", true, false, false);
    v.extend(host("srv02", true, false, false));
    set(&mut v, HostOsEol, "srv02", Status::Fail);
    let c = cell(&v, &[], "C07");
    assert_eq!(c.value, Value::Level(0));
    assert_eq!(c.basis, [finding_basis(HostOsEol, "srv02", Status::Fail)]);
}

#[test]
fn the_basis_is_bounded() {
    let mut v = Vec::new();
    for n in 0..20 {
        v.push(f(
            ServiceDatabase,
            &format!("127.0.0.{n}:5432"),
            Status::Fail,
        ));
    }
    let c = cell(&v, &[], "C05");
    assert_eq!(c.basis.len(), MAX_BASIS);
}

#[test]
fn a_self_assessed_cell_names_its_answers_and_a_cap_names_the_verdict() {
    let answers = [
        answer("Q7", "email;cloud;remote;admin", 10, None),
        answer("Q8", "app", 10, None),
    ];
    let c = cell(&[], &answers, "C15");
    assert_eq!(c.value, Value::Level(3));
    let q = |q: &str| Basis::Answer {
        question: q.to_owned(),
    };
    assert_eq!(c.basis, [q("Q7"), q("Q8")]);
    let rdp = [f(ServiceRemoteDesktop, "127.0.0.1:3389", Status::Fail)];
    let c = cell(&rdp, &answers, "C15");
    assert_eq!(c.value, Value::Level(2));
    assert_eq!(
        c.basis,
        [
            finding_basis(ServiceRemoteDesktop, "127.0.0.1:3389", Status::Fail),
            q("Q7"),
            q("Q8")
        ]
    );
}

#[test]
fn every_unknown_cell_says_what_was_missing() {
    // No data at all: each capability names what to add, never a bare "no data".
    let cells = grade_with(&[], &[], TlsProfile::Modern);
    for c in &cells {
        assert_eq!(c.value, Value::Unknown);
        assert!(c.basis.is_empty(), "{}", c.capability);
        let key = c.notes[0].key;
        assert!(
            key.starts_with("note.none.")
                || key == "note.no_answer"
                || key == "note.not_observable",
            "{}: {key}",
            c.capability
        );
    }
    let note = |id: &str| cells.iter().find(|c| c.capability == id).unwrap().notes[0].clone();
    assert_eq!(
        note("C05").render(Lang::En),
        "No service scan: list the organization's addresses in the agent's services targets."
    );
    assert_eq!(
        note("C13").render(Lang::Fr),
        "Aucune réponse au questionnaire (Q1, Q2, Q3)."
    );
}

#[test]
fn c01_counts_web_endpoints_only_and_says_when_tls_endpoints_are_not_websites() {
    // Six TLS endpoints off port 443 with no HTTPS verdict: C01 unknown, saying why;
    // C02 still grades their certificates.
    let mut v = Vec::new();
    for port in [993, 995, 465, 636, 8443, 9443] {
        let target = format!("mail.example.ca:{port}");
        for f in good_web()
            .into_iter()
            .filter(|f| !f.check.id().starts_with("https."))
        {
            v.push(FindingFact {
                target: target.clone(),
                ..f
            });
        }
    }
    let c = cell(&v, &[], "C01");
    assert_eq!(c.value, Value::Unknown);
    assert_eq!(c.notes[0].key, "note.no_web_endpoint");
    assert_eq!(
        c.notes[0].render(Lang::En),
        "6 TLS endpoints seen, none on port 443: C01 grades websites, which the agent checks on port 443 only."
    );
    assert_eq!(
        c.notes[0].render(Lang::Fr),
        "6 points d'accès TLS vus, aucun sur le port 443\u{a0}: C01 évalue les sites web, que l'agent ne vérifie que sur le port 443."
    );
    assert_eq!(level(&v, "C02"), Value::Level(3));
    // One endpoint: singular in both languages.
    let one: Vec<FindingFact> = v
        .iter()
        .filter(|f| f.target.ends_with(":993"))
        .cloned()
        .collect();
    let c = cell(&one, &[], "C01");
    assert!(c.notes[0]
        .render(Lang::En)
        .starts_with("1 TLS endpoint seen,"));
    assert!(c.notes[0]
        .render(Lang::Fr)
        .starts_with("1 point d'accès TLS vu,"));
    // An HTTPS verdict makes an endpoint on another port a website.
    v.push(f(HttpsRedirect, "mail.example.ca:8443", Status::Pass));
    v.push(f(HttpsHsts, "mail.example.ca:8443", Status::Pass));
    assert_eq!(level(&v, "C01"), Value::Level(3));
}
