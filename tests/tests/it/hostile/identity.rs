//! An agent token speaks for exactly one agent: the one it is named after
//! (`vigie-collector agent add --name <agent id>`). Before, `agent.id` came from the report:
//! srv01's token could post as srv02 and retire srv02's findings, or invent agents.

use chrono::Utc;
use vigie_tests::scale;

use super::{Backend, Lab};

const ORG: &str = "maple-clinic";

/// Current (not retired) findings of `agent`.
fn current_rows(lab: &Lab, agent: &str) -> i64 {
    lab.count(&format!(
        "SELECT COUNT(*) FROM latest WHERE org = '{ORG}' AND agent_id = '{agent}' AND retired = 0"
    ))
}

fn posing_as_another_agent_is_refused(backend: Backend) {
    let lab = Lab::start(backend, &[]);
    let srv01 = lab.agent_token(ORG, "srv01");
    let srv02 = lab.agent_token(ORG, "srv02");
    let id = scale::report_id(1, 2, 1);
    let own = scale::report_json(&id, ORG, "srv02", "srv02-", 40, Utc::now());
    assert_eq!(lab.post_report(&srv02, &own).status, 201);
    let before = current_rows(&lab, "srv02");
    assert_eq!(before, 40);

    // srv01's token, posting srv02's newer report without those targets: it would retire them.
    let id = scale::report_id(1, 1, 1);
    let forged = scale::report_json(&id, ORG, "srv02", "other-", 20, Utc::now());
    let answer = lab.post_report(&srv01, &forged);
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.json()["error"], "agent_mismatch", "{}", answer.body);
    let detail = answer.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for part in [
        "`srv02`",
        "`srv01`",
        "[agent] id",
        "agent add --org maple-clinic",
    ] {
        assert!(detail.contains(part), "{part} missing from: {detail}");
    }
    assert_eq!(
        current_rows(&lab, "srv02"),
        before,
        "srv02's findings are intact"
    );
    assert_eq!(
        lab.count(&format!(
            "SELECT COUNT(*) FROM reports WHERE report_id = '{id}'"
        )),
        0
    );

    // Nor can it invent agents.
    for n in 0..3 {
        let id = scale::report_id(1, 3, n);
        let ghost = scale::report_json(&id, ORG, &format!("ghost-{n}"), "g-", 20, Utc::now());
        assert_eq!(lab.post_report(&srv01, &ghost).status, 409);
    }
    assert_eq!(
        lab.count(&format!("SELECT COUNT(*) FROM agents WHERE org = '{ORG}'")),
        1,
        "only srv02 ever reported"
    );

    // Its own report goes in.
    let id = scale::report_id(1, 1, 2);
    let mine = scale::report_json(&id, ORG, "srv01", "srv01-", 20, Utc::now());
    assert_eq!(lab.post_report(&srv01, &mine).status, 201);
    assert_eq!(current_rows(&lab, "srv02"), before);
}

#[test]
fn posing_as_another_agent_is_refused_sqlite() {
    posing_as_another_agent_is_refused(Backend::Sqlite);
}

#[test]
fn posing_as_another_agent_is_refused_postgres() {
    posing_as_another_agent_is_refused(Backend::Postgres);
}

/// A token whose name can never be an agent id is refused when it is made, not at the first
/// report.
#[test]
fn an_agent_token_name_must_be_an_agent_id() {
    let lab = Lab::start(Backend::Sqlite, &[]);
    let output = lab
        .collector
        .manage(&["agent", "add", "--org", ORG, "--name", "web server 1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[agent] id"), "{stderr}");
    assert!(output.stdout.is_empty(), "no token printed");
}
