//! A local stand-in for a Convex deployment that serves durable-execution's Convex storage
//! component: the 17 public functions of the `taskExecutionsStorage` module, answered over
//! Convex's HTTP API exactly enough that the official `ConvexHttpClient` cannot tell.
//!
//! A request flows one way, through one module per layer:
//!
//! * [`http`]: routes, body parsing, Convex's JSON value encoding, paths, output formats and
//!   error shapes. Finds the function and hands it decoded [`value::Value`]s.
//! * [`functions`]: the auth check, strict argument validation with Convex's messages, and one
//!   file per family of storage functions holding its rules (clamps, filters, locks).
//! * [`store`]: SQLite behind one writer thread and pooled readers; Convex's index order as
//!   byte keys; numbered migrations.
//!
//! Beside them: [`serve`] (connections: timeouts, the cap, graceful shutdown), [`value`] (the
//! data model), [`id`] (Convex document ids), [`clock`] (the only reader of the system time),
//! [`limits`] (every limit, with units), [`error`].
//!
//! Use [`app`] to get the router for in-process tests, and [`Server`] to bind and serve.
//!
//! # Invariants
//!
//! * Only `http` knows the Convex wire format (JSON encodings, status codes, error shapes).
//! * `functions` knows the storage component's rules and nothing of HTTP or SQL.
//! * `store` knows SQL and Convex values, never HTTP, JSON or the component's rules.
//! * Only `clock` reads the system time; everything else gets "now" from a transaction.
//! * Every write runs on the one writer thread; a mutation is acknowledged only after the
//!   commit that contains it.
//!
//! # Differences from a real deployment
//!
//! * Serves only the 17 functions of one module. No WebSocket sync, no `/api/function`,
//!   `/api/query_batch`, `GET /api/query`, `/echo`; `Authorization` headers are ignored.
//! * `/api/query_at_ts` answers from the latest state (there is no history to read from).
//! * No `logLines`; error messages carry no stack frames; request ids are random (a
//!   `Convex-Request-Id` header is not echoed).
//! * Mutations run one at a time, so they never fail with an OCC conflict (no 503).
//! * `_creationTime` is strictly increasing across the whole store (a deployment may give two
//!   concurrent transactions equal values), so index keys leave out the `_id` tie-breaker.
//! * Limits enforced: body size, 8192 array elements, 1024 object fields (both applied while
//!   parsing), at most `JSON_VALUES_MAX` values in `args` (400 beyond), the 1 MiB document
//!   size (`Value is too large (… MiB > maximum size 1 MiB)`). Not enforced:
//!   per-transaction read/write counts (a parent with more than 32 000
//!   children is listed in full where a deployment would fail the query).
//! * The selector locks live in memory, not in a `locks` table: a restart frees every key
//!   (a deployment keeps a crashed holder's key blocked for up to 60 s), and a holder whose
//!   lock expired and was taken over does not release the new holder's lock on its way out
//!   (upstream's `releaseLock` deletes the shared row).
//! * The locked selectors validate their arguments (upstream does not) before taking the
//!   lock; the decrement sweep skips parents that no longer exist (upstream's patch throws).
//! * Inner `args` that are not an object are an `ArgumentValidationError`; a deployment running
//!   upstream's code throws "The arguments to a Convex function must be an object" instead.

pub mod clock;
pub mod error;
pub mod functions;
pub mod http;
pub mod id;
pub mod limits;
pub mod serve;
pub mod store;
pub mod value;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use error::Error;
pub use http::AppState;

use clock::Clock;
use functions::Functions;
use store::{DbLocation, Store};

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// The secret every call must carry in `authSecret`.
    pub auth_secret: String,
    /// Address to bind, e.g. `127.0.0.1`.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Where the data lives.
    pub db: DbLocation,
    /// The module the functions are exported from.
    pub module: String,
}

/// The default module name, as durable-execution-storage-convex's README names it.
pub const DEFAULT_MODULE: &str = "taskExecutionsStorage";

/// The router of a deployment with this state.
pub fn app(state: Arc<AppState>) -> Router {
    http::router(state)
}

/// Opens the store and builds the shared state.
pub fn open_state(
    db: &DbLocation,
    auth_secret: String,
    module: String,
    clock: Arc<dyn Clock>,
) -> Result<Arc<AppState>, Error> {
    let store = Arc::new(Store::open(db, clock.clone())?);
    let functions = Functions::new(store, auth_secret, clock);
    Ok(Arc::new(AppState { functions, module }))
}

/// A bound, not yet serving, emulator.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    timeouts: serve::Timeouts,
    hosts: http::host::AllowedHosts,
}

impl Server {
    /// Opens the database and binds the socket; connections are accepted once this returns
    /// (the kernel queues them until [`Server::run`] picks them up).
    pub async fn bind(config: &Config, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let state = open_state(
            &config.db,
            config.auth_secret.clone(),
            config.module.clone(),
            clock,
        )?;
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.clone(),
                source,
            })?;
        Ok(Self {
            listener,
            state,
            timeouts: serve::Timeouts::default(),
            hosts: http::host::AllowedHosts::new([config.host.clone()]),
        })
    }

    /// Replaces the serving timeouts (tests shorten them).
    pub fn with_timeouts(mut self, timeouts: serve::Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Serves these `Host` names too, besides the loopback ones and the bound host
    /// (`--allowed-host`).
    pub fn allow_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        let bound = self.hosts.clone();
        self.hosts = bound.with(hosts);
        self
    }

    /// The address actually bound (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener.local_addr().map_err(Error::Serve)
    }

    /// Serves until `shutdown` resolves, gives the requests in flight up to the shutdown
    /// grace to finish (see [`serve`]), then closes the database cleanly.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let hosts = Arc::new(self.hosts);
        let app = app(self.state.clone()).layer(axum::middleware::from_fn_with_state(
            hosts,
            http::host::check,
        ));
        serve::serve(self.listener, app, self.timeouts, shutdown).await;
        let state = self.state;
        tokio::task::spawn_blocking(move || {
            if let Ok(state) = Arc::try_unwrap(state) {
                if let Ok(store) = Arc::try_unwrap(state.functions.into_store()) {
                    store.close();
                }
            }
        })
        .await
        .ok();
        Ok(())
    }
}
