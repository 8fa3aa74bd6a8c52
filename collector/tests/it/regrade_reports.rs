//! Reports stored by the release before grading moved to its own crate still parse and
//! regrade to the verdicts their agent gave: the reports of the golden set
//! (`checks/testdata/golden/reports`, written by that release's agent against the loopback
//! labs of its tests, with observations of every family) read as the collector reads a stored
//! body, then graded by `regrade`'s own path, give their stored findings back, text for text,
//! in the language they were written in — but for the spaces before `:` `;` `?` `!` `»` and
//! after `«`, which French typography has since made no-break (U+00A0, U+202F).

use std::path::Path;

use vigie_model::Report;

#[test]
fn stored_reports_of_the_previous_release_regrade_to_their_own_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../checks/testdata/golden/reports");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
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
    for name in &names {
        let body = std::fs::read_to_string(dir.join(name)).unwrap();
        let report: Report = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        vigie_model::validate::validate(&report).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let o = &report.observations;
        families.extend(
            [
                ("tls", !o.tls.is_empty()),
                ("https", !o.https.is_empty()),
                ("email", !o.email.is_empty()),
                ("services", !o.services.is_empty()),
                ("host", o.host.is_some()),
            ]
            .into_iter()
            .filter_map(|(family, present)| present.then_some(family)),
        );
        let regraded = vigie_collector::regrade::grade(&report);
        let text = |findings: &[vigie_model::Finding]| {
            vigie_collector::regrade::untypeset(&serde_json::to_string(findings).unwrap())
        };
        let (now, then) = (text(&regraded), text(&report.findings));
        let at = now
            .chars()
            .zip(then.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let near = |s: &str| {
            s.chars()
                .skip(at.saturating_sub(60))
                .take(120)
                .collect::<String>()
        };
        assert!(
            now == then,
            "{name}: the regraded findings differ from the stored ones:\nnow:    {}\nstored: {}",
            near(&now),
            near(&then)
        );
    }
    assert_eq!(families.len(), 5, "{families:?}");
}
