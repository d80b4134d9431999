//! The emulator inside a Rust program: [`Emulator::builder`] binds a real socket and serves on
//! the current tokio runtime, so a `#[tokio::test]` gets a deployment URL without building or
//! spawning the binary.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), convex_storage_emulator::Error> {
//! use convex_storage_emulator::Emulator;
//!
//! let emulator = Emulator::builder().start().await?; // :memory:, 127.0.0.1:0, random secret
//! assert!(emulator.url().starts_with("http://127.0.0.1:"));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rand::RngCore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{Clock, ClockControl};
use crate::error::Error;
use crate::http::AppState;
use crate::limits::REQUEST_LOG_ENTRIES_DEFAULT;
use crate::serve::Timeouts;
use crate::snapshot::{self, ImportOptions};
use crate::store::DbLocation;
use crate::{Config, Controls, Server, DEFAULT_MODULE};

/// Bytes of randomness in a secret the builder makes up (hex-encoded, so twice as many chars).
const RANDOM_SECRET_BYTES: usize = 16;

/// How to start an in-process emulator. Every setting has a test-friendly default.
#[derive(Clone)]
pub struct EmulatorBuilder {
    auth_secret: Option<String>,
    db: DbLocation,
    host: String,
    port: u16,
    module: String,
    controls: Controls,
    snapshot: Option<PathBuf>,
    request_log_size: usize,
    timeouts: Timeouts,
    allowed_hosts: Vec<String>,
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("auth_secret", &self.auth_secret.as_ref().map(|_| "<set>"))
            .field("db", &self.db)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("module", &self.module)
            .field("snapshot", &self.snapshot)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            auth_secret: None,
            db: DbLocation::Memory,
            host: "127.0.0.1".to_string(),
            port: 0,
            module: DEFAULT_MODULE.to_string(),
            controls: Controls::system(),
            snapshot: None,
            request_log_size: REQUEST_LOG_ENTRIES_DEFAULT,
            timeouts: Timeouts::default(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// The secret every call must carry; a random one when not given.
    pub fn auth_secret(mut self, secret: impl Into<String>) -> Self {
        self.auth_secret = Some(secret.into());
        self
    }

    /// Where the data lives; `:memory:` by default.
    pub fn db(mut self, db: DbLocation) -> Self {
        self.db = db;
        self
    }

    /// Address to bind; `127.0.0.1` by default.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Port to bind; 0 (a free one) by default.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The module the functions are exported from; `taskExecutionsStorage` by default.
    pub fn module(mut self, module: impl Into<String>) -> Self {
        self.module = module.into();
        self
    }

    /// The clock every "now" comes from; the system clock by default. No route can move it
    /// (see [`EmulatorBuilder::controls`] for a manual clock that `/_emulator/clock` moves).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.controls.clock = ClockControl::Fixed(clock);
        self
    }

    /// The test controls: how time runs and the fault plan (`--clock`, `--faults`).
    pub fn controls(mut self, controls: Controls) -> Self {
        self.controls = controls;
        self
    }

    /// The connection timeouts (header, body, idle, shutdown grace); the defaults of
    /// `limits.rs` when not given.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Host names answered besides loopback and the bound address (`--allowed-host`).
    pub fn allowed_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.allowed_hosts.extend(hosts);
        self
    }

    /// How many calls the inspector's request log keeps (0 keeps none).
    pub fn request_log_size(mut self, entries: usize) -> Self {
        self.request_log_size = entries;
        self
    }

    /// Starts from this snapshot ZIP (docs/SNAPSHOTS.md): its executions replace whatever the
    /// database holds, before the first connection is served.
    pub fn snapshot(mut self, path: impl Into<PathBuf>) -> Self {
        self.snapshot = Some(path.into());
        self
    }

    /// Opens the store, binds the socket and starts serving on the current tokio runtime.
    /// Connections are accepted once this returns.
    pub async fn start(self) -> Result<Emulator, Error> {
        let auth_secret = self.auth_secret.unwrap_or_else(random_secret);
        let config = Config {
            auth_secret: auth_secret.clone(),
            host: self.host,
            port: self.port,
            db: self.db,
            module: self.module,
            request_log_size: self.request_log_size,
        };
        let server = Server::bind_with(&config, self.controls)
            .await?
            .with_timeouts(self.timeouts)
            .allow_hosts(self.allowed_hosts);
        let addr = server.local_addr()?;
        let state = server.state().clone();
        if let Some(path) = self.snapshot {
            load_snapshot(&state, path).await?;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok(Emulator {
            addr,
            url: format!("http://{addr}"),
            auth_secret,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running in-process emulator. Dropping it stops serving (without waiting); call
/// [`Emulator::shutdown`] to wait until the store is closed.
pub struct Emulator {
    addr: SocketAddr,
    url: String,
    auth_secret: String,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Error>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("url", &self.url).finish()
    }
}

impl Emulator {
    /// A builder with the defaults: `:memory:`, `127.0.0.1:0`, a random secret.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The deployment URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The secret calls must carry (the one given, or the random one made up).
    pub fn auth_secret(&self) -> &str {
        &self.auth_secret
    }

    /// The deployment's shared state, for features that hang their own handles on it.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting connections, lets the requests in flight finish, and closes the store.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Replaces the store's executions with those of the snapshot at `path`.
async fn load_snapshot(state: &AppState, path: PathBuf) -> Result<u64, Error> {
    let failed = |message: String| Error::Snapshot {
        path: path.clone(),
        message,
    };
    let zip = tokio::fs::read(&path)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let options = ImportOptions {
        replace: true,
        component: None,
    };
    snapshot::import(state.functions.store(), zip, options)
        .await
        .map_err(|e| failed(e.to_string()))
}

/// A fresh secret from the operating system's random source, as 32 hex characters.
pub fn random_secret() -> String {
    let mut bytes = [0u8; RANDOM_SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
