//! The wire format survives serialization, accepts unknown fields, and rejects what breaks
//! the contract.

use vigie_model::*;

fn example() -> &'static str {
    include_str!("../../../docs/examples/report.json")
}

#[test]
fn example_report_round_trips_unchanged() {
    let report: Report = serde_json::from_str(example()).unwrap();
    assert_eq!(report.schema, SCHEMA_V1);
    assert_eq!(report.findings.len(), 2);
    assert_eq!(
        report.findings[0].check.known(),
        Some(Check::TlsCertExpired)
    );
    let again: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(again, report);
    let as_value: serde_json::Value = serde_json::from_str(example()).unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        as_value,
        "the example is in canonical form"
    );
    validate::validate(&report).unwrap();
}

#[test]
fn unknown_fields_and_unknown_check_ids_are_accepted() {
    let mut value: serde_json::Value = serde_json::from_str(example()).unwrap();
    value["from_a_newer_agent"] = serde_json::json!({"x": 1});
    value["findings"][0]["new_field"] = serde_json::json!(true);
    value["findings"][1]["check"] = serde_json::json!("tls.some_future_check");
    let report: Report = serde_json::from_value(value).unwrap();
    assert_eq!(report.findings[1].check.as_str(), "tls.some_future_check");
    assert_eq!(report.findings[1].check.known(), None);
}

/// A named way of breaking a valid report.
type Mutation = (&'static str, Box<dyn Fn(&mut serde_json::Value)>);

#[test]
fn contract_violations_are_rejected() {
    let base: serde_json::Value = serde_json::from_str(example()).unwrap();
    let cases: Vec<Mutation> = vec![
        (
            "bad status",
            Box::new(|v| v["findings"][0]["status"] = "broken".into()),
        ),
        (
            "bad severity",
            Box::new(|v| v["findings"][0]["severity"] = "urgent".into()),
        ),
        (
            "bad check id",
            Box::new(|v| v["findings"][0]["check"] = "Not An Id".into()),
        ),
        ("bad uuid", Box::new(|v| v["report_id"] = "1234".into())),
        (
            "missing org",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("org");
            }),
        ),
        (
            "bad time",
            Box::new(|v| v["started_at"] = "yesterday".into()),
        ),
    ];
    for (name, mutate) in cases {
        let mut value = base.clone();
        mutate(&mut value);
        assert!(
            serde_json::from_value::<Report>(value).is_err(),
            "{name} was accepted"
        );
    }
}

#[test]
fn semantic_rules_are_enforced() {
    let report: Report = serde_json::from_str(example()).unwrap();
    let mut r = report.clone();
    r.schema = "vigie.report.v2".into();
    assert!(matches!(
        validate::validate(&r),
        Err(validate::InvalidReport::UnsupportedSchema { .. })
    ));
    let mut r = report.clone();
    r.org = "Not Valid".into();
    assert!(matches!(
        validate::validate(&r),
        Err(validate::InvalidReport::BadOrg(_))
    ));
    let mut r = report.clone();
    r.finished_at = r.started_at - chrono::Duration::seconds(1);
    assert_eq!(
        validate::validate(&r),
        Err(validate::InvalidReport::TimeOrder)
    );
    let mut r = report.clone();
    r.findings[0].summary = " ".into();
    assert!(matches!(
        validate::validate(&r),
        Err(validate::InvalidReport::BadText {
            field: "summary",
            ..
        })
    ));
}

#[test]
fn verdicts_render_in_both_languages() {
    let verdict = Verdict::new(
        Check::TlsConnect,
        "a:443",
        Status::Pass,
        Message::new("common.ok"),
    );
    assert_eq!(verdict.clone().into_finding(Lang::En).summary, "OK");
    assert_eq!(verdict.into_finding(Lang::Fr).summary, "Correct");
}
