//! The golden test of grading: reports written by the agent against the loopback labs of its
//! own tests (`agent/tests`: TLS with enumeration, STARTTLS, unreached endpoints, HTTPS,
//! email, SMTP, services, host with and without a vulnerability index) are graded again from
//! their observations, at each report's own `finished_at` and with the profile it names, in
//! English and in French; the findings must equal the committed ones, field by field.
//!
//! The fixtures (`checks/testdata/golden/reports`) were captured once; the expected findings
//! (`checks/testdata/golden/expected`) were written by the grading code of the release
//! before grading moved to this crate, and are unchanged since. A difference is a change of behaviour: if it is
//! meant, run with `VIGIE_GOLDEN_BLESS=1` and commit the new expectations with the reason.

use std::path::{Path, PathBuf};

use vigie_grade::grade_observations;
use vigie_grade::tls::Profile;
use vigie_model::{Finding, Lang, Report};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/golden")
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Expected {
    en: Vec<Finding>,
    fr: Vec<Finding>,
}

fn graded(report: &Report) -> Expected {
    let profile = report
        .profile
        .as_deref()
        .map(|p| p.parse::<Profile>().expect("a profile this build knows"))
        .unwrap_or_default();
    let grade = |lang| grade_observations(&report.observations, profile, report.finished_at, lang);
    Expected {
        en: grade(Lang::En),
        fr: grade(Lang::Fr),
    }
}

#[test]
fn grading_the_golden_reports_gives_the_committed_findings() {
    let bless = std::env::var_os("VIGIE_GOLDEN_BLESS").is_some();
    let mut names: Vec<_> = std::fs::read_dir(golden().join("reports"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "the golden reports are missing: {names:?}"
    );
    let mut families = std::collections::BTreeSet::new();
    let mut differ = Vec::new();
    for name in &names {
        let body = std::fs::read_to_string(golden().join("reports").join(name)).unwrap();
        let report: Report = serde_json::from_str(&body).unwrap();
        let o = &report.observations;
        for (family, present) in [
            ("tls", !o.tls.is_empty()),
            (
                "tls enumeration",
                o.tls.iter().any(|t| t.enumeration.is_some()),
            ),
            ("https", !o.https.is_empty()),
            ("email", !o.email.is_empty()),
            ("services", !o.services.is_empty()),
            ("host", o.host.is_some()),
        ] {
            if present {
                families.insert(family);
            }
        }
        let got = graded(&report);
        assert!(!got.en.is_empty(), "{name}: no findings");
        let path = golden().join("expected").join(name);
        if bless {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
            continue;
        }
        let expected: Expected = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
        if got != expected {
            differ.push(name.clone());
        }
    }
    assert_eq!(
        families.len(),
        6,
        "every family is in the golden set: {families:?}"
    );
    assert!(differ.is_empty(), "findings differ for {differ:?}");
}
