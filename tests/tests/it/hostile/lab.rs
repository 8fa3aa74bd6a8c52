//! One collector process on one backend, with the tokens an attack needs.

use vigie_tests::postgres::PostgresServer;
use vigie_tests::scale::CollectorProcess;

/// Which store the collector under attack runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Both backends, for tests that run each attack on each.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
}

/// A collector under attack. Field order matters: the collector stops before its database.
pub struct Lab {
    pub collector: CollectorProcess,
    pub postgres: Option<PostgresServer>,
    pub backend: Backend,
    // Last: the folder outlives the processes that write into it.
    _dir: tempfile::TempDir,
}

impl Lab {
    /// A collector on `backend` with `extra` flags (`--rate-limit 0` is added so that an
    /// attack is not cut short by the per-token limit unless a test asks for it).
    pub fn start(backend: Backend, extra: &[&str]) -> Lab {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let mut flags: Vec<&str> = Vec::new();
        if !extra.contains(&"--rate-limit") {
            flags.extend(["--rate-limit", "0"]);
        }
        flags.extend_from_slice(extra);
        let (collector, postgres) = match backend {
            Backend::Sqlite => (CollectorProcess::start(dir.path(), &flags), None),
            Backend::Postgres => {
                let server = PostgresServer::start("127.0.75.1");
                let url = server.create_database("vigie");
                (
                    CollectorProcess::start_with_url(dir.path(), url, &flags),
                    Some(server),
                )
            }
        };
        Lab {
            collector,
            postgres,
            backend,
            _dir: dir,
        }
    }

    /// A new agent token for `org`, for the agent `agent_id`.
    pub fn agent_token(&self, org: &str, agent_id: &str) -> String {
        self.collector.agent_token(org, agent_id)
    }

    /// A new viewer token.
    pub fn viewer_token(&self, name: &str) -> String {
        self.collector
            .manage_ok(&["viewer", "add", "--name", name, "--role", "sector"])
    }
}

impl Lab {
    /// `/metrics` as Prometheus reads it, with a new scrape token (`/metrics` needs one).
    pub fn scrape(&self) -> vigie_tests::scale::Answer {
        let token = self.collector.scraper_token("hostile-lab");
        vigie_tests::scale::request(self.collector.addr, "GET", "/metrics", Some(&token), None)
            .expect("the collector answers /metrics")
    }
}

// Helpers of the identity and quota attacks.
impl Lab {
    /// `POST /api/v1/reports` with `token` and `body`, on a new connection.
    pub fn post_report(&self, token: &str, body: &str) -> vigie_tests::scale::Answer {
        vigie_tests::scale::request(
            self.collector.addr,
            "POST",
            "/api/v1/reports",
            Some(token),
            Some(body),
        )
        .expect("an answer to the report")
    }

    /// The one integer `query` returns, read straight from the store.
    pub fn count(&self, query: &str) -> i64 {
        match &self.postgres {
            Some(server) => server
                .psql("vigie", query)
                .parse()
                .unwrap_or_else(|e| panic!("`{query}` is not a count: {e}")),
            None => self
                .sqlite()
                .query_row(query, [], |row| row.get(0))
                .unwrap_or_else(|e| panic!("`{query}`: {e}")),
        }
    }

    /// Runs `statement` on the store, as an older collector (or an operator) could have.
    pub fn execute(&self, statement: &str) {
        match &self.postgres {
            Some(server) => {
                server.psql("vigie", statement);
            }
            None => self
                .sqlite()
                .execute_batch(statement)
                .unwrap_or_else(|e| panic!("`{statement}`: {e}")),
        }
    }

    fn sqlite(&self) -> rusqlite::Connection {
        let connection =
            rusqlite::Connection::open(self.collector.db_path()).expect("the SQLite store");
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .expect("a busy timeout");
        connection
    }
}
