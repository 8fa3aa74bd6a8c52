//! The Vigie collector: receives the agents' reports, stores the sector's posture, and
//! serves it to viewers and to Prometheus.
//!
//! Code map:
//! - [`cli`], [`config`]: the command line and its TOML file, parsed once into typed values;
//! - [`api`]: the HTTP routes ([`app`]) and their one error type;
//! - [`auth`]: tokens (generation, hashing, the `Authorization` header);
//! - [`scope`]: what each viewer role may see, decided in one place;
//! - [`store`]: SQLite storage, the only place with SQL;
//! - [`metrics`]: the Prometheus text page;
//! - [`server`]: the listener and the shutdown signal.
//!
//! In-process use (tests, demos):
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use vigie_collector::{app, serve, AppState, Store, TokenKind};
//! let store = Store::open("sqlite:///tmp/vigie-demo.db").await?;
//! let agent_token = store.create_token(TokenKind::Agent, Some("example-org"), "demo").await?;
//! let state = AppState::new(store, vigie_collector::DEFAULT_MAX_BODY_BYTES);
//! let router = app(state.clone()); // drive with tower::ServiceExt::oneshot, or:
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod assess;
pub mod auth;
pub mod card;
pub mod cli;
pub mod config;
pub mod export;
pub mod family_metrics;
pub mod i18n;
pub mod matrix;
pub mod metrics;
pub mod orgmeta;
pub mod regrade;
pub mod scope;
pub mod server;
pub mod source;
pub mod state;
pub mod store;

pub use api::{app, ApiError};
pub use auth::{Principal, TokenKind};
pub use config::CollectorConfig;
pub use scope::{Role, Scope};
pub use server::serve;
pub use state::{AppState, DEFAULT_MAX_BODY_BYTES};
pub use store::{IngestOutcome, Store, StoreError};
