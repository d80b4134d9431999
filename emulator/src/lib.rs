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
//! data model), [`id`] (Convex document ids), [`clock`] (the only reader of the system time,
//! and the manual clock tests move), [`faults`] (seeded fault injection, asked once per call by
//! `http`), [`limits`] (every limit, with units), [`error`], and [`snapshot`] (Convex's
//! snapshot ZIPs, export and import).
//!
//! Use [`Emulator`] to run one on a real socket inside a Rust test (no separate binary), [`app`]
//! to get the bare router for in-process tests, and [`Server`] to bind and serve.
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
//! The rules are upstream's, warts included (docs/SPEC.md). What differs is listed, with the
//! reason, in the README's "Differences from a real deployment": the surface (17 functions over
//! HTTP), no history for `/api/query_at_ts`, error text without stack frames or `logLines`,
//! the random part of ids and strictly increasing `_creationTime`, no OCC conflicts (one
//! writer; a fault plan, `--faults`, can inject one), lock rows in memory (a restart frees
//! them), and `synchronous = NORMAL`.

pub mod clock;
pub mod error;
pub mod faults;
pub mod functions;
pub mod http;
pub mod id;
pub mod limits;
mod memory;
pub mod serve;
pub mod snapshot;
pub mod store;
pub mod value;
mod varint;

mod embedded;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use embedded::{Emulator, EmulatorBuilder};
pub use error::Error;
pub use http::AppState;

use clock::{Clock, ClockControl};
use faults::{FaultPlan, Faults};
use functions::Functions;
use limits::REQUEST_LOG_ENTRIES_DEFAULT;
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
    /// Calls the inspector's request log keeps (`--request-log-size`).
    pub request_log_size: usize,
}

/// The default module name, as durable-execution-storage-convex's README names it.
pub const DEFAULT_MODULE: &str = "taskExecutionsStorage";

/// The router of a deployment with this state.
pub fn app(state: Arc<AppState>) -> Router {
    http::router(state)
}

/// The test controls a deployment runs with: how its time runs and, when enabled, its fault
/// plan (`--clock`, `--clock-start-ms`, `--faults`).
#[derive(Debug, Clone)]
pub struct Controls {
    pub clock: ClockControl,
    /// `None`: fault injection is off and `/_emulator/faults` answers 404.
    pub faults: Option<FaultPlan>,
}

impl Controls {
    /// The system clock, no faults: a deployment as in production.
    pub fn system() -> Self {
        Self {
            clock: ClockControl::system(),
            faults: None,
        }
    }
}

/// Opens the store and builds the shared state, on `clock` (no route can move it) and without
/// fault injection.
pub fn open_state(
    db: &DbLocation,
    auth_secret: String,
    module: String,
    clock: Arc<dyn Clock>,
) -> Result<Arc<AppState>, Error> {
    let controls = Controls {
        clock: ClockControl::Fixed(clock),
        faults: None,
    };
    open_state_with(db, auth_secret, module, controls)
}

/// Opens the store and builds the shared state with the given test controls.
pub fn open_state_with(
    db: &DbLocation,
    auth_secret: String,
    module: String,
    controls: Controls,
) -> Result<Arc<AppState>, Error> {
    open_state_with_log(
        db,
        auth_secret,
        module,
        controls,
        REQUEST_LOG_ENTRIES_DEFAULT,
    )
}

/// [`open_state_with`] with an inspector request log keeping the last `request_log_size` calls.
pub fn open_state_with_log(
    db: &DbLocation,
    auth_secret: String,
    module: String,
    controls: Controls,
    request_log_size: usize,
) -> Result<Arc<AppState>, Error> {
    let clock = controls.clock.clock();
    let store = Arc::new(Store::open(db, clock.clone())?);
    let functions = Functions::new(store, auth_secret, clock);
    Ok(Arc::new(AppState {
        functions,
        module,
        clock: controls.clock,
        faults: controls.faults.map(|plan| Arc::new(Faults::new(plan))),
        inspector: http::control::inspector::Inspector::new(request_log_size),
    }))
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
        let controls = Controls {
            clock: ClockControl::Fixed(clock),
            faults: None,
        };
        Self::bind_with(config, controls).await
    }

    /// [`Server::bind`] with test controls: a manual clock, a fault plan.
    pub async fn bind_with(config: &Config, controls: Controls) -> Result<Self, Error> {
        let state = open_state_with_log(
            &config.db,
            config.auth_secret.clone(),
            config.module.clone(),
            controls,
            config.request_log_size,
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

    /// The shared state (its clock control and fault injector included).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
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
