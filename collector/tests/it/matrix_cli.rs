//! `vigie-collector assess import` and `matrix export` as an operator runs them: answers
//! from a CSV file, exports written to files, usage mistakes refused with exit status 2 and
//! a message that says what to fix.

use crate::common;

use std::process::Output;

use common::cli::{collector_on, run};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn answers_are_imported_and_every_format_is_exported_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let added =
        run(collector_on(dir.path()).args(["agent", "add", "--create", "--org", "maple-health"]));
    assert!(added.status.success(), "{}", stderr(&added));

    let today = chrono::Utc::now().date_naive();
    let answers = dir.path().join("answers.csv");
    std::fs::write(
        &answers,
        format!(
            "\u{feff}org,question,answer,respondent_role,answered_on,evidence\r\n\
             maple-health,Q1,written,executive director,{today},\r\n\
             maple-health,Q2,within_12_months,executive director,{today},\r\n\
             maple-health,Q3,{today},IT lead,{today},tabletop-minutes.pdf\r\n\
             maple-health,Q9,onboarding,\"HR, volunteers\",{today},\r\n"
        ),
    )
    .unwrap();
    let imported = run(collector_on(dir.path())
        .args(["assess", "import"])
        .arg(&answers));
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(stderr(&imported).contains("imported 4 answers"));
    let yaml = dir.path().join("governance.yaml");
    std::fs::write(
        &yaml,
        format!(
            "org: maple-health\nrespondent_role: board chair\nanswered_on: {today}\nanswers:\n  - {{question: Q12, answer: executive director}}\n  - {{question: Q13, answer: yes}}\n"
        ),
    )
    .unwrap();
    let imported = run(collector_on(dir.path())
        .args(["assess", "import"])
        .arg(&yaml));
    assert!(imported.status.success(), "{}", stderr(&imported));

    for lang in ["en", "fr"] {
        for format in ["json", "csv", "xlsx", "html", "pdf"] {
            let out = dir.path().join(format!("matrix-{lang}.{format}"));
            let exported = run(collector_on(dir.path())
                .args([
                    "matrix", "export", "--view", "org", "--format", format, "--lang", lang,
                ])
                .arg("--out")
                .arg(&out));
            assert!(
                exported.status.success(),
                "{format} {lang}: {}",
                stderr(&exported)
            );
            assert!(
                exported.stdout.is_empty(),
                "stdout carries no export written to a file"
            );
            assert!(std::fs::metadata(&out).unwrap().len() > 100, "{format}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("matrix-fr.json")).unwrap()).unwrap();
    let cells = json["orgs"][0]["cells"].as_array().unwrap();
    assert_eq!(cells[12]["capability"], "C13");
    assert_eq!(cells[12]["label"], "4 S", "tabletop with evidence");
    assert_eq!(cells[15]["label"], "2 S", "training at onboarding only");
    assert_eq!(cells[17]["label"], "2 S", "C18 from the YAML file");
    // The PDF from the CLI: made by the collector, read back by poppler.
    let pdf = dir.path().join("matrix-fr.pdf");
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Matrice des capacités de cybersécurité"),
        "{text}"
    );
    assert!(text.contains("maple-health"), "{text}");
    let dictionary = std::fs::read_to_string(dir.path().join("matrix-fr-dictionary.csv")).unwrap();
    assert!(dictionary.starts_with('\u{feff}'));
    assert!(dictionary.contains("Préparation à l'intervention en cas d'incident"));

    // `--out -` writes the export alone on stdout.
    let piped = run(collector_on(dir.path()).args([
        "matrix", "export", "--format", "json", "--lang", "fr", "--out", "-",
    ]));
    assert!(piped.status.success(), "{}", stderr(&piped));
    let json: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(json["view"], "aggregate");

    // The aggregate is the default view.
    let out = dir.path().join("aggregate.csv");
    let exported = run(collector_on(dir.path())
        .args([
            "matrix", "export", "--format", "csv", "--lang", "fr", "--out",
        ])
        .arg(&out));
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("\u{feff}ID,Capacité,Niveau médian"),
        "{text}"
    );
    assert!(
        !text.contains("maple-health"),
        "the aggregate names no organization"
    );
}

#[test]
fn mistakes_exit_2_and_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let added =
        run(collector_on(dir.path()).args(["agent", "add", "--create", "--org", "maple-health"]));
    assert!(added.status.success(), "{}", stderr(&added));
    let file = dir.path().join("answers.csv");
    for (content, expected) in [
        (
            "org,question,answer,respondent_role,answered_on\nmaple-health,Q1,written,ED,2026-01-05\nmaple-health,Q4,daily,ED,2026-01-05\n",
            "line 3",
        ),
        (
            "org,question,answer,respondent_role,answered_on\nmaple-helth,Q1,written,ED,2026-01-05\n",
            "not known",
        ),
        ("org,answer\n", "`question`"),
    ] {
        std::fs::write(&file, content).unwrap();
        let output = run(collector_on(dir.path()).args(["assess", "import"]).arg(&file));
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    // Nothing of the refused files was stored: the C13 cell is still unknown.
    let out = dir.path().join("m.json");
    let exported = run(collector_on(dir.path())
        .args([
            "matrix", "export", "--view", "org", "--format", "json", "--out",
        ])
        .arg(&out));
    assert!(exported.status.success(), "{}", stderr(&exported));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["orgs"][0]["cells"][12]["level"], "?");

    for args in [
        vec![
            "matrix",
            "export",
            "--format",
            "csv",
            "--org",
            "maple-health",
        ],
        vec![
            "matrix", "export", "--view", "org", "--format", "csv", "--org", "nobody",
        ],
        vec![
            "matrix",
            "export",
            "--format",
            "csv",
            "--since",
            "2999-01-01",
        ],
    ] {
        let output = run(collector_on(dir.path()).args(&args).arg("--out").arg(&out));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = run(collector_on(dir.path())
        .args(["matrix", "export", "--format", "docx", "--out"])
        .arg(&out));
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses an unknown format"
    );
}
