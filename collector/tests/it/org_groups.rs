//! The aggregate matrix by region and by size band, as an operator makes it: metadata set
//! with `org set` and `org import`, then `matrix export --view aggregate --group-by …` in
//! JSON, CSV, XLSX and HTML, read back and compared with the medians and shares computed
//! here from the organization view's own levels.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::cli::{collector_on, run};

use calamine::{Data, Reader, Xlsx};
use serde_json::Value;

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn export(dir: &Path, args: &[&str], name: &str) -> Vec<u8> {
    let out = dir.join(name);
    ok(run(collector_on(dir)
        .args(["matrix", "export"])
        .args(args)
        .arg("--out")
        .arg(&out)));
    std::fs::read(out).unwrap()
}

/// The lower median, as the matrix defines it.
fn median(levels: &mut [u8]) -> Option<u8> {
    levels.sort_unstable();
    (!levels.is_empty()).then(|| levels[(levels.len() - 1) / 2])
}

#[test]
fn aggregates_by_region_and_size_band_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let orgs = ["org-a", "org-b", "org-c", "org-d", "org-e"];
    for org in orgs {
        ok(run(
            collector_on(dir.path()).args(["agent", "add", "--create", "--org", org])
        ));
    }
    // Incident response (C13) and awareness (C16) at different levels per organization.
    let today = chrono::Utc::now().date_naive();
    let mut answers = String::from("org,question,answer,respondent_role,answered_on,evidence\n");
    for (org, q1, q2, q9) in [
        ("org-a", "written", "within_12_months", "yearly"),
        ("org-b", "contacts_only", "never", "onboarding"),
        ("org-c", "written", "within_12_months", "no"),
        ("org-d", "no", "never", "yearly"),
        ("org-e", "written", "over_12_months", "onboarding"),
    ] {
        for (q, a) in [("Q1", q1), ("Q2", q2), ("Q9", q9)] {
            answers.push_str(&format!("{org},{q},{a},director,{today},\n"));
        }
    }
    std::fs::write(dir.path().join("answers.csv"), answers).unwrap();
    ok(run(collector_on(dir.path())
        .args(["assess", "import"])
        .arg(dir.path().join("answers.csv"))));

    // Metadata: two by `org set`, the rest by import; org-e has none.
    ok(run(collector_on(dir.path()).args([
        "org",
        "set",
        "org-a",
        "--region",
        "ON",
        "--size-band",
        "1-9",
    ])));
    ok(run(
        collector_on(dir.path()).args(["org", "set", "org-b", "--region", "ON"])
    ));
    std::fs::write(
        dir.path().join("meta.csv"),
        "org,region,size_band\norg-b,,10-49\norg-c,QC,1-9\norg-d,\"QC\",10-49\n",
    )
    .unwrap();
    ok(run(collector_on(dir.path())
        .args(["org", "import"])
        .arg(dir.path().join("meta.csv"))));
    let shown = ok(run(collector_on(dir.path()).args(["org", "show"])));
    assert!(
        shown.contains(r#"{"org":"org-b","region":"ON","size_band":"10-49"}"#),
        "a field left empty keeps its value:\n{shown}"
    );

    // Refused: an unknown organization changes nothing; a bad value; nothing to set.
    let unknown = run(collector_on(dir.path()).args(["org", "set", "nobody", "--region", "NS"]));
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));
    assert!(
        !run(collector_on(dir.path()).args(["org", "set", "org-a", "--region", " ON"]))
            .status
            .success()
    );
    assert!(!run(collector_on(dir.path()).args(["org", "set", "org-a"]))
        .status
        .success());
    assert!(!run(collector_on(dir.path()).args([
        "matrix",
        "export",
        "--view",
        "org",
        "--format",
        "json",
        "--group-by",
        "region",
        "--out",
        "-"
    ]))
    .status
    .success());

    // The truth: each organization's levels from the organization view.
    let by_org: Value = serde_json::from_slice(&export(
        dir.path(),
        &["--view", "org", "--format", "json"],
        "org.json",
    ))
    .unwrap();
    let mut levels: BTreeMap<String, BTreeMap<String, Option<u8>>> = BTreeMap::new();
    for org in by_org["orgs"].as_array().unwrap() {
        let cells = org["cells"].as_array().unwrap();
        levels.insert(
            org["org"].as_str().unwrap().to_owned(),
            cells
                .iter()
                .map(|c| {
                    (
                        c["capability"].as_str().unwrap().to_owned(),
                        c["level"].as_u64().map(|l| l as u8),
                    )
                })
                .collect(),
        );
    }
    let c13: Vec<Option<u8>> = orgs.iter().map(|o| levels[*o]["C13"]).collect();
    assert!(
        c13.iter()
            .flatten()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 3,
        "the answers spread C13 over several levels: {c13:?}"
    );

    let regions = [
        (Some("ON"), vec!["org-a", "org-b"]),
        (Some("QC"), vec!["org-c", "org-d"]),
        (None, vec!["org-e"]),
    ];
    let bands = [
        (Some("1-9"), vec!["org-a", "org-c"]),
        (Some("10-49"), vec!["org-b", "org-d"]),
        (
            None,
            vec!["org-a"; 0].into_iter().chain(["org-e"]).collect(),
        ),
    ];
    for (group_by, groups) in [("region", &regions), ("size-band", &bands)] {
        let json: Value = serde_json::from_slice(&export(
            dir.path(),
            &["--format", "json", "--group-by", group_by],
            &format!("agg-{group_by}.json"),
        ))
        .unwrap();
        assert_eq!(json["group_by"], group_by);
        let got = json["groups"].as_array().unwrap();
        assert_eq!(got.len(), groups.len(), "{json}");
        for ((key, members), group) in groups.iter().zip(got) {
            assert_eq!(
                group["key"].as_str(),
                *key,
                "groups sorted, unassigned last"
            );
            assert_eq!(group["orgs"], members.len());
            for capability in ["C13", "C16"] {
                let mut known: Vec<u8> = members
                    .iter()
                    .filter_map(|m| levels[*m][capability])
                    .collect();
                let at_baseline = known.iter().filter(|l| **l >= 3).count();
                let cell = &group["capabilities"][capability];
                assert_eq!(cell["known"], known.len(), "{capability} {key:?}");
                assert_eq!(cell["at_baseline"], at_baseline, "{capability} {key:?}");
                assert_eq!(
                    cell["median"].as_u64().map(|m| m as u8),
                    median(&mut known),
                    "{capability} {key:?}"
                );
            }
        }
    }

    // CSV in French: bilingual-ready headers per group, and the values.
    let csv = String::from_utf8(export(
        dir.path(),
        &["--format", "csv", "--lang", "fr", "--group-by", "region"],
        "agg.csv",
    ))
    .unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let on = header
        .iter()
        .position(|h| *h == "Région\u{a0}: ON (n = 2) — Niveau médian")
        .unwrap_or_else(|| panic!("no ON median column in {header:?}"));
    assert_eq!(
        header[on + 1],
        "Région\u{a0}: ON (n = 2) — Part au niveau 3 ou plus"
    );
    assert!(header.contains(&"Région\u{a0}: non attribuée (n = 1) — Niveau médian"));
    let c13_line = lines.find(|l| l.starts_with("C13,")).unwrap();
    let fields: Vec<&str> = c13_line.split(',').collect();
    let mut on_levels: Vec<u8> = ["org-a", "org-b"]
        .iter()
        .filter_map(|m| levels[*m]["C13"])
        .collect();
    assert_eq!(
        fields[on],
        median(&mut on_levels).map_or("?".to_owned(), |m| m.to_string())
    );

    // XLSX in English: the group columns after the sector's, with the same values.
    let bytes = export(
        dir.path(),
        &["--format", "xlsx", "--group-by", "size-band"],
        "agg.xlsx",
    );
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("Matrix").unwrap();
    let text = |r: u32, c: u32| match sheet.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    assert_eq!(text(1, 10), "Size band: 1-9 (n = 2) — Median level");
    assert_eq!(text(1, 14), "Size band: unassigned (n = 1) — Median level");
    let c13_row = (2..20).find(|r| text(*r, 0) == "C13").unwrap();
    let mut small: Vec<u8> = ["org-a", "org-c"]
        .iter()
        .filter_map(|m| levels[*m]["C13"])
        .collect();
    assert_eq!(
        text(c13_row, 10),
        median(&mut small).map_or("?".to_owned(), |m| m.to_string())
    );

    // HTML: the group headers in the table.
    let html = String::from_utf8(export(
        dir.path(),
        &["--format", "html", "--group-by", "region"],
        "agg.html",
    ))
    .unwrap();
    assert!(
        html.contains("<th scope=\"col\" class=\"group\">Region: QC (n = 2) — Median level</th>")
    );
    assert!(html.contains("Aggregate grouped by"));
}
