//! Every route × every role on a real `vigie-collector serve`, on SQLite and PostgreSQL: a
//! `sector` viewer, an `org` viewer asking for its own organization and one of another
//! organization, a `committee` viewer, a scrape token, an agent token and nobody. Each cell
//! of [`CASES`] is the status the route answers; every answer is also searched for the names
//! of the organizations that principal may not see (body and `Location`), so a page that
//! answers 200 but leaks another organization's name fails too.
//!
//! The table must cover the router: the routes are read from the router's sources
//! (`collector/src/api/**.rs`, every `.route("…", get(…).post(…))`) and a route without a
//! row fails [`every_route_of_the_router_has_a_row`].

use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use vigie_tests::harness::url_encode;
use vigie_tests::scale::{self, read_answer, Answer};

use crate::hostile::{Backend, Lab};

/// The organization the `org` viewer asks about, and the one it may not see.
const OWN: &str = "rowan-clinic";
const OTHER: &str = "birch-school";

/// Who sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Sector,
    /// An `org` viewer of [`OWN`].
    OrgOwn,
    /// An `org` viewer of [`OTHER`], asking the same paths (which name [`OWN`]).
    OrgOther,
    Committee,
    Scraper,
    /// The agent token of [`OWN`].
    Agent,
    Nobody,
}

const WHO: [Who; 7] = [
    Who::Sector,
    Who::OrgOwn,
    Who::OrgOther,
    Who::Committee,
    Who::Scraper,
    Who::Agent,
    Who::Nobody,
];

impl Who {
    /// The organizations whose names this principal may read anywhere.
    fn may_see(self) -> &'static [&'static str] {
        match self {
            Who::Sector | Who::Scraper => &[OWN, OTHER],
            Who::OrgOwn | Who::Agent => &[OWN],
            Who::OrgOther => &[OTHER],
            Who::Committee | Who::Nobody => &[],
        }
    }
}

/// One row: a route of the router (`method`, `route` as written in the router), the path
/// sent, and the status for each of [`WHO`].
struct Case {
    method: &'static str,
    route: &'static str,
    path: &'static str,
    expect: [u16; 7],
}

const fn case(
    method: &'static str,
    route: &'static str,
    path: &'static str,
    expect: [u16; 7],
) -> Case {
    Case {
        method,
        route,
        path,
        expect,
    }
}

//                     sector  own  other committee scraper agent nobody
const CASES: &[Case] = &[
    case("GET", "/", "/", [303, 303, 303, 303, 303, 303, 303]),
    case(
        "POST",
        "/api/v1/reports",
        "/api/v1/reports",
        [403, 403, 403, 403, 403, 422, 401],
    ),
    case(
        "GET",
        "/api/v1/orgs",
        "/api/v1/orgs",
        [200, 200, 200, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/orgs/{org}",
        "/api/v1/orgs/rowan-clinic",
        [200, 200, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/orgs/{org}",
        "/api/v1/orgs/no-such-org",
        [404, 404, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/orgs/{org}/card",
        "/api/v1/orgs/rowan-clinic/card?lang=fr",
        [200, 200, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/orgs/{org}/card",
        "/api/v1/orgs/no-such-org/card",
        [404, 404, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix",
        [200, 200, 200, 200, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?view=aggregate&format=csv",
        [200, 403, 403, 200, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?view=aggregate&format=html&group_by=region",
        [200, 403, 403, 200, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?view=org&format=json",
        [200, 200, 200, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?view=org&org=rowan-clinic&format=html",
        [200, 200, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?view=org&org=rowan-clinic&format=xlsx",
        [200, 200, 404, 403, 403, 403, 401],
    ),
    case(
        "GET",
        "/api/v1/matrix",
        "/api/v1/matrix?format=csv&table=dictionary",
        [200, 200, 200, 200, 403, 403, 401],
    ),
    case(
        "GET",
        "/metrics",
        "/metrics",
        [200, 403, 403, 403, 200, 403, 401],
    ),
    case(
        "GET",
        "/healthz",
        "/healthz",
        [200, 200, 200, 200, 200, 200, 200],
    ),
    case(
        "GET",
        "/readyz",
        "/readyz",
        [200, 200, 200, 200, 200, 200, 200],
    ),
    case("GET", "/ui", "/ui", [303, 303, 303, 303, 303, 303, 303]),
    case("GET", "/ui/", "/ui/", [303, 303, 303, 303, 303, 303, 303]),
    case(
        "GET",
        "/ui/login",
        "/ui/login?lang=fr",
        [200, 200, 200, 200, 200, 200, 200],
    ),
    case(
        "POST",
        "/ui/login",
        "/ui/login",
        [303, 303, 303, 303, 403, 403, 401],
    ),
    case(
        "POST",
        "/ui/logout",
        "/ui/logout",
        [303, 303, 303, 303, 303, 303, 303],
    ),
    case(
        "GET",
        "/ui/matrix",
        "/ui/matrix",
        [200, 303, 303, 200, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/matrix",
        "/ui/matrix?lang=fr",
        [200, 303, 303, 200, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs",
        "/ui/orgs",
        [200, 200, 200, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}",
        "/ui/orgs/rowan-clinic",
        [200, 200, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}",
        "/ui/orgs/no-such-org?lang=fr",
        [404, 404, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}/card",
        "/ui/orgs/rowan-clinic/card",
        [200, 200, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}/card",
        "/ui/orgs/no-such-org/card?lang=fr",
        [404, 404, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}/targets/{target}",
        "/ui/orgs/rowan-clinic/targets/t-0",
        [200, 200, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/orgs/{org}/findings",
        "/ui/orgs/rowan-clinic/findings?check=tls.protocol.tls1_0&target=t-0&lang=fr",
        [200, 200, 404, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/triage",
        "/ui/triage",
        [200, 403, 403, 403, 401, 401, 401],
    ),
    case(
        "GET",
        "/ui/triage",
        "/ui/triage?csv=ranking",
        [200, 403, 403, 403, 401, 401, 401],
    ),
];

/// What one request carries.
#[derive(Default)]
struct Request<'a> {
    bearer: Option<&'a str>,
    cookie: Option<&'a str>,
    form: Option<String>,
    json: Option<&'a str>,
    accept: Option<&'a str>,
}

/// One request on a new connection.
fn send(addr: SocketAddr, method: &str, path: &str, request: &Request<'_>) -> Answer {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = request.bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(cookie) = request.cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if let Some(accept) = request.accept {
        head.push_str(&format!("Accept: {accept}\r\n"));
    }
    let body = match (&request.form, request.json) {
        (Some(form), _) => {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            form.as_str()
        }
        (None, Some(json)) => {
            head.push_str("Content-Type: application/json\r\n");
            json
        }
        (None, None) => "",
    };
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(head.as_bytes()).expect("send");
    reader.get_mut().write_all(body.as_bytes()).expect("send");
    read_answer(&mut reader).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The collector, two organizations that reported, and a token of every kind.
struct World {
    lab: Lab,
    tokens: [Option<String>; 7],
    /// The session cookie of each viewer.
    sessions: [Option<String>; 7],
}

impl World {
    fn start(backend: Backend) -> World {
        let lab = Lab::start(backend, &[]);
        let c = &lab.collector;
        let agent = lab.agent_token(OWN, "srv01");
        let other_agent = lab.agent_token(OTHER, "srv01");
        let run = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        for (n, (org, token)) in [(OWN, &agent), (OTHER, &other_agent)]
            .into_iter()
            .enumerate()
        {
            let id = scale::report_id(run, n as u64, 1);
            let body = scale::report_json(&id, org, "srv01", "t-", 40, Utc::now());
            let answer = lab.post_report(token, &body);
            assert_eq!(answer.status, 201, "{}", answer.body);
            c.manage_ok(&["org", "set", org, "--region", "ON"]);
        }
        let viewer = |name: &str, role: &str, org: Option<&str>| {
            let mut args = vec!["viewer", "add", "--name", name, "--role", role];
            if let Some(org) = org {
                args.extend(["--org", org]);
            }
            c.manage_ok(&args)
        };
        let tokens = [
            Some(viewer("lead", "sector", None)),
            Some(viewer("it-own", "org", Some(OWN))),
            Some(viewer("it-other", "org", Some(OTHER))),
            Some(viewer("committee", "committee", None)),
            Some(c.scraper_token("prometheus")),
            Some(agent),
            None,
        ];
        let mut world = World {
            lab,
            tokens,
            sessions: Default::default(),
        };
        for (i, who) in WHO.into_iter().enumerate() {
            if matches!(
                who,
                Who::Sector | Who::OrgOwn | Who::OrgOther | Who::Committee
            ) {
                world.sessions[i] = Some(world.login(i));
            }
        }
        world
    }

    fn addr(&self) -> SocketAddr {
        self.lab.collector.addr
    }

    /// Signs viewer `i` in; returns its session cookie.
    fn login(&self, i: usize) -> String {
        let token = self.tokens[i].as_deref().expect("a viewer token");
        let form = format!("token={}&lang=en", url_encode(token));
        let answer = send(
            self.addr(),
            "POST",
            "/ui/login",
            &Request {
                form: Some(form),
                ..Request::default()
            },
        );
        assert_eq!(answer.status, 303, "{}", answer.body);
        let cookie = answer.header("set-cookie").expect("a session cookie");
        cookie
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Sends `case` as principal `i`: bearer tokens to the API, the session cookie (and the
    /// bearer token, which the web view ignores) to `/ui`, the token in the login form.
    fn run(&self, case: &Case, i: usize) -> Answer {
        let token = self.tokens[i].as_deref();
        let ui = case.path.starts_with("/ui");
        let fresh_session;
        let cookie = if case.route == "/ui/logout" && self.sessions[i].is_some() {
            // A session of its own, so that signing out ends no other row's.
            fresh_session = self.login(i);
            Some(fresh_session.as_str())
        } else if ui {
            self.sessions[i].as_deref()
        } else {
            None
        };
        let request = Request {
            bearer: token,
            cookie,
            form: match case.route {
                "/ui/login" => Some(format!("token={}&lang=en", url_encode(token.unwrap_or("")))),
                "/ui/logout" => Some(String::new()),
                _ => None,
            },
            json: (case.route == "/api/v1/reports").then_some("{}"),
            accept: None,
        };
        send(self.addr(), case.method, case.path, &request)
    }
}

fn every_route_answers_each_role_as_the_table_says(backend: Backend) {
    let world = World::start(backend);
    let mut wrong = Vec::new();
    for case in CASES {
        for (i, who) in WHO.into_iter().enumerate() {
            let answer = world.run(case, i);
            let expected = case.expect[i];
            if answer.status != expected {
                wrong.push(format!(
                    "{} {} as {who:?}: {} (expected {expected}): {}",
                    case.method,
                    case.path,
                    answer.status,
                    answer.body.chars().take(300).collect::<String>()
                ));
                continue;
            }
            let location = answer.header("location").unwrap_or_default();
            for org in [OWN, OTHER] {
                if !who.may_see().contains(&org)
                    && (answer.body.contains(org) || location.contains(org))
                {
                    wrong.push(format!(
                        "{} {} as {who:?}: names {org}, which it may not see",
                        case.method, case.path
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{backend:?}:\n{}", wrong.join("\n"));

    // What each may see is there, not only what it may not.
    let get = |i: usize, path: &str| {
        let cookie = world.sessions[i].as_deref();
        let bearer = if path.starts_with("/ui") {
            None
        } else {
            world.tokens[i].as_deref()
        };
        send(
            world.addr(),
            "GET",
            path,
            &Request {
                bearer,
                cookie,
                ..Request::default()
            },
        )
    };
    for path in ["/api/v1/orgs", "/ui/orgs", "/metrics"] {
        let body = get(0, path).body;
        assert!(body.contains(OWN) && body.contains(OTHER), "sector {path}");
    }
    for path in [
        "/api/v1/orgs",
        "/ui/orgs",
        "/api/v1/matrix",
        "/ui/orgs/rowan-clinic",
    ] {
        assert!(get(1, path).body.contains(OWN), "org viewer {path}");
    }
    // The committee sees no region of fewer than 5 organizations; the sector sees it.
    let grouped = "/api/v1/matrix?view=aggregate&group_by=region&format=json";
    let groups = |i| {
        get(i, grouped).json()["groups"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(groups(0), 1, "the sector sees the region of 2");
    assert_eq!(groups(3), 0, "the committee does not");

    // A browser gets a bilingual HTML page for an API error; a script keeps the JSON.
    for (path, status) in [("/api/v1/orgs", 401), ("/nowhere", 404)] {
        let answer = send(
            world.addr(),
            "GET",
            path,
            &Request {
                accept: Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                ..Request::default()
            },
        );
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        for text in [format!("Error {status}"), format!("Erreur {status}")] {
            assert!(answer.body.contains(&text), "{path}: {}", answer.body);
        }
        let script = send(world.addr(), "GET", path, &Request::default());
        assert!(script.json()["error"].as_str().is_some(), "{path}");
    }

    // Sessions live in the database: a second collector over it knows them, and revoking
    // the token ends them on both.
    if backend == Backend::Postgres {
        let url = world.lab.collector.database_url.clone();
        let dir = tempfile::tempdir().expect("a scratch folder");
        let second =
            scale::CollectorProcess::start_with_url(dir.path(), url, &["--rate-limit", "0"]);
        let cookie = world.sessions[3].as_deref();
        let page = |addr| {
            send(
                addr,
                "GET",
                "/ui/matrix",
                &Request {
                    cookie,
                    ..Request::default()
                },
            )
            .status
        };
        assert_eq!(
            page(second.addr),
            200,
            "the other collector knows the session"
        );
        world
            .lab
            .collector
            .manage_ok(&["viewer", "revoke", "--name", "committee"]);
        assert_eq!(page(second.addr), 401);
        assert_eq!(page(world.addr()), 401);
    }
}

#[test]
fn every_route_answers_each_role_as_the_table_says_on_sqlite() {
    every_route_answers_each_role_as_the_table_says(Backend::Sqlite);
}

#[test]
fn every_route_answers_each_role_as_the_table_says_on_postgres() {
    every_route_answers_each_role_as_the_table_says(Backend::Postgres);
}

/// The text of a call's parentheses, from just after `(` at `start` to its matching `)`.
fn call_arguments(source: &str, start: usize) -> &str {
    let mut depth = 1usize;
    for (offset, c) in source[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &source[start..start + offset];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {start}");
}

/// `METHOD route` of every `.route("route", get(…).post(…))` in the sources under `dir`.
fn router_routes(dir: &Path, out: &mut BTreeSet<String>) {
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            router_routes(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("a source file");
        for (at, _) in source.match_indices(".route(") {
            let arguments = call_arguments(&source, at + ".route(".len());
            let Some(route) = arguments.split('"').nth(1) else {
                continue;
            };
            let handlers = &arguments[arguments.find(',').unwrap_or(0)..];
            for method in METHODS {
                for (i, _) in handlers.match_indices(&format!("{method}(")) {
                    let before = handlers[..i].chars().next_back();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        out.insert(format!("{} {route}", method.to_ascii_uppercase()));
                    }
                }
            }
        }
    }
}

#[test]
fn every_route_of_the_router_has_a_row() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("../collector/src/api");
    let mut router = BTreeSet::new();
    router_routes(&api, &mut router);
    assert!(router.len() >= 15, "only {router:?} found in the router");
    let table: BTreeSet<String> = CASES
        .iter()
        .map(|c| format!("{} {}", c.method, c.route))
        .collect();
    let missing: Vec<_> = router.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes of the router without a row in roles.rs CASES: {missing:?}"
    );
    let unknown: Vec<_> = table.difference(&router).collect();
    assert!(
        unknown.is_empty(),
        "rows of routes the router does not have: {unknown:?}"
    );
}
