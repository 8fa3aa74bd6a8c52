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

/// The observations of every family, as the agent wrote them before they were typed in this
/// crate (the golden reports of `checks/testdata/golden`), read into the typed structs and
/// written back unchanged: the field names and shapes of the wire are those of before. A
/// field added to an observation by a newer agent is accepted and ignored.
#[test]
fn observations_of_every_family_round_trip_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden/reports");
    let mut families = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let report: Report = serde_json::from_value(value.clone()).unwrap();
        for (family, facts) in value["observations"].as_object().unwrap() {
            families.insert(family.clone());
            assert_eq!(
                &serde_json::to_value(&report.observations).unwrap()[family],
                facts,
                "{}: {family}",
                path.display()
            );
        }
    }
    assert_eq!(families.len(), 5, "{families:?}");

    let mut newer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("email_host-3.json")).unwrap())
            .unwrap();
    let observations = newer["observations"].as_object_mut().unwrap();
    observations["email"][0]["from_a_newer_agent"] = serde_json::json!({"x": 1});
    observations["host"]["from_a_newer_agent"] = serde_json::json!([1]);
    observations["tls"][0]["from_a_newer_agent"] = serde_json::json!(true);
    serde_json::from_value::<Report>(newer).expect("unknown observation fields are ignored");
}
