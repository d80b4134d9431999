//! The backends a check runs against, and the adapter clients that reach them.
//!
//! Every check drives a backend only through the adapter's `TaskExecutionsStorage`; this file
//! is the one place that constructs those clients (and the in-memory model).
//!
//! | backend | what | store per test group |
//! |---|---|---|
//! | `memory` | the adapter's in-memory storage | a new one |
//! | `emulator` | the emulator in this process via testkit (`:memory:`, port 0, a real socket, manual clock) | a new emulator |
//! | `reference` | the Node reference server (our `convex/` code under convex-test) | a new process |
//! | `deployment` | a real Convex deployment from `CONVEX_URL` + `CONVEX_STORAGE_AUTH_SECRET` | shared: emptied with `deleteAll`, never two groups at once |

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convex_storage_emulator::clock::ClockControl;
use convex_storage_emulator::faults::FaultPlan;
use convex_storage_emulator::Controls;
use convex_storage_testkit::{Emulator, InProcessEmulator, ServerProcess};
use durable_execution_storage_convex::{
    ConvexStorageOptions, ConvexTaskExecutionsStorage, InMemoryTaskExecutionsStorage, ShardChooser,
    TaskExecutionsStorage,
};

use crate::error::ConformanceError;
use crate::model::pacing::STALE_AFTER_WRITE_MS;

/// The environment variable holding a real deployment's URL.
pub const DEPLOYMENT_URL_ENV: &str = "CONVEX_URL";
/// The environment variable holding a real deployment's auth secret.
pub const DEPLOYMENT_SECRET_ENV: &str = "CONVEX_STORAGE_AUTH_SECRET";
/// The environment variable naming the public module, when not `taskExecutionsStorage`.
pub const DEPLOYMENT_MODULE_ENV: &str = "CONVEX_STORAGE_MODULE";
/// The public module of the storage functions.
pub const DEFAULT_MODULE: &str = "taskExecutionsStorage";
/// How long one storage call may take before the client gives up, in milliseconds.
///
/// Generous: the reference server serializes every call, and a deployment is remote.
pub const REQUEST_TIMEOUT_MS: u64 = 60_000;

/// Which kind of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The adapter's in-memory storage (the model), on a clock the checks move.
    Memory,
    /// The emulator binary, on its manual clock (`--clock manual`).
    Emulator,
    /// The Node reference server.
    Reference,
    /// A Convex deployment (or any URL the command-line runner is given).
    Deployment,
}

impl BackendKind {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Emulator => "emulator",
            Self::Reference => "reference",
            Self::Deployment => "deployment",
        }
    }
}

/// Where a Convex-speaking backend listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The auth secret the backend was configured with.
    pub auth_secret: String,
    /// The public module of the 17 functions.
    pub module: String,
}

/// How a check wants its client configured.
#[derive(Clone)]
pub struct ClientOptions {
    /// `totalShards`.
    pub total_shards: u32,
    /// `shards`; `None` = all.
    pub shards: Option<Vec<u32>>,
    /// `enableTestMode`; on by default because every group empties the store.
    pub test_mode: bool,
    /// A different secret than the backend's, for the auth checks.
    pub auth_secret: Option<String>,
    /// Places inserted rows deterministically; `None` = random, as upstream's client.
    pub shard_for: Option<ShardChooser>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("total_shards", &self.total_shards)
            .field("shards", &self.shards)
            .field("test_mode", &self.test_mode)
            .field(
                "auth_secret",
                &self.auth_secret.as_ref().map(|_| "<other secret>"),
            )
            .field("shard_for", &self.shard_for.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            total_shards: 1,
            shards: None,
            test_mode: true,
            auth_secret: None,
            shard_for: None,
        }
    }
}

impl ClientOptions {
    /// `total_shards` shards, all used.
    pub fn shards(total_shards: u32) -> Self {
        Self {
            total_shards,
            ..Self::default()
        }
    }

    /// `total_shards` shards, only `shards` used.
    pub fn shard_subset(total_shards: u32, shards: &[u32]) -> Self {
        Self {
            total_shards,
            shards: Some(shards.to_vec()),
            ..Self::default()
        }
    }

    fn is_default(&self) -> bool {
        self.total_shards == 1
            && self.shards.is_none()
            && self.test_mode
            && self.auth_secret.is_none()
            && self.shard_for.is_none()
    }
}

/// A backend's time, as the checks see it: the wall clock, or a clock they move.
#[derive(Clone)]
pub enum BackendClock {
    /// The wall clock: time passes by waiting.
    Wall,
    /// The in-memory store's injected clock, in ms.
    Memory(Arc<AtomicI64>),
    /// An emulator started with `--clock manual`, moved through `POST /_emulator/clock`.
    Emulator {
        /// Where the emulator listens.
        url: String,
        /// Its auth secret, sent as a bearer token.
        auth_secret: String,
        /// A client for the control calls.
        http: reqwest::Client,
    },
}

impl std::fmt::Debug for BackendClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Wall => "wall clock",
            Self::Memory(_) => "manual (in memory)",
            Self::Emulator { .. } => "manual (emulator)",
        })
    }
}

/// The wall clock in ms since the epoch.
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl BackendClock {
    /// Whether time moves only when told (no waiting needed).
    pub fn is_manual(&self) -> bool {
        !matches!(self, Self::Wall)
    }

    /// The backend's time, in ms since the epoch.
    pub async fn now_ms(&self) -> Result<i64, ConformanceError> {
        match self {
            Self::Wall => Ok(wall_clock_ms()),
            Self::Memory(clock) => Ok(clock.load(Ordering::SeqCst)),
            Self::Emulator { .. } => self.control(None).await,
        }
    }

    /// Lets `ms` milliseconds pass: moves a manual clock, or waits that long.
    pub async fn pass(&self, ms: u64) -> Result<(), ConformanceError> {
        self.pass_and_read(ms).await.map(drop)
    }

    /// [`BackendClock::pass`], then the time after, in ms (one call on the emulator).
    pub async fn pass_and_read(&self, ms: u64) -> Result<i64, ConformanceError> {
        match self {
            Self::Wall => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(wall_clock_ms())
            }
            Self::Memory(clock) => Ok(clock.fetch_add(ms as i64, Ordering::SeqCst) + ms as i64),
            Self::Emulator { .. } => self.control(Some(ms)).await,
        }
    }

    /// `GET` (no `advance_ms`) or `POST` `/_emulator/clock`; the clock's reading after.
    async fn control(&self, advance_ms: Option<u64>) -> Result<i64, ConformanceError> {
        let Self::Emulator {
            url,
            auth_secret,
            http,
        } = self
        else {
            unreachable!("only the emulator's clock is moved over HTTP")
        };
        let route = format!("{url}/_emulator/clock");
        let request = match advance_ms {
            None => http.get(route),
            Some(ms) => http
                .post(route)
                .json(&serde_json::json!({ "advanceMs": ms })),
        };
        let fail = |message: String| ConformanceError::Control {
            route: "/_emulator/clock".to_string(),
            message,
        };
        let reply: serde_json::Value = request
            .bearer_auth(auth_secret)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fail(e.to_string()))?
            .json()
            .await
            .map_err(|e| fail(e.to_string()))?;
        reply["nowMs"]
            .as_i64()
            .ok_or_else(|| fail(format!("no nowMs in {reply}")))
    }
}

/// A running (or reachable) backend.
pub struct Backend {
    kind: BackendKind,
    endpoint: Option<Endpoint>,
    memory: Option<Arc<InMemoryTaskExecutionsStorage>>,
    clock: BackendClock,
    /// Keeps the server alive; it is stopped when the backend is dropped.
    _server: Option<Server>,
}

/// A server a backend started and owns; held only so that dropping the backend stops it.
#[allow(dead_code)]
enum Server {
    /// The emulator, served in this process (the suite checks the functions, not the binary).
    InProcess(InProcessEmulator),
    /// The Node reference server.
    Process(ServerProcess),
}

impl Backend {
    /// Starts a fresh backend of `kind`; for `Deployment`, connects to the one in the
    /// environment (and fails when the variables are missing).
    pub fn start(kind: BackendKind) -> Result<Self, ConformanceError> {
        let fail = |message: String| ConformanceError::Start {
            backend: kind.name().to_string(),
            message,
        };
        match kind {
            BackendKind::Memory => {
                let clock = Arc::new(AtomicI64::new(wall_clock_ms()));
                let reader = clock.clone();
                let storage = InMemoryTaskExecutionsStorage::with_clock(Arc::new(move || {
                    reader.load(Ordering::SeqCst)
                }));
                Ok(Self {
                    kind,
                    endpoint: None,
                    memory: Some(Arc::new(storage)),
                    clock: BackendClock::Memory(clock),
                    _server: None,
                })
            }
            BackendKind::Emulator => Self::start_emulator(&[]),
            BackendKind::Reference => {
                let auth_secret = format!("conformance-{:016x}", rand::random::<u64>());
                let process = ServerProcess::start_reference(&auth_secret)
                    .map_err(|e| fail(format!("{e:#}")))?;
                let endpoint = Endpoint {
                    url: process.url().to_string(),
                    auth_secret,
                    module: DEFAULT_MODULE.to_string(),
                };
                Ok(Self {
                    kind,
                    endpoint: Some(endpoint),
                    memory: None,
                    clock: BackendClock::Wall,
                    _server: Some(Server::Process(process)),
                })
            }
            BackendKind::Deployment => {
                let endpoint = deployment_from_env().ok_or_else(|| {
                    fail(format!(
                        "set {DEPLOYMENT_URL_ENV} and {DEPLOYMENT_SECRET_ENV}"
                    ))
                })?;
                Ok(Self::connect(endpoint))
            }
        }
    }

    /// A fresh emulator on its manual clock, starting at the wall clock's time, with
    /// `extra_args` as the binary would take them (only `--faults SPEC` is needed here).
    pub fn start_emulator(extra_args: &[&str]) -> Result<Self, ConformanceError> {
        let fail = |message: String| ConformanceError::Start {
            backend: BackendKind::Emulator.name().to_string(),
            message,
        };
        let auth_secret = format!("conformance-{:016x}", rand::random::<u64>());
        let start_ms = u64::try_from(wall_clock_ms()).unwrap_or_default();
        let controls = Controls {
            clock: ClockControl::manual(Some(start_ms)),
            faults: faults_of(extra_args).map_err(fail)?,
        };
        let builder = Emulator::builder()
            .auth_secret(auth_secret.clone())
            .controls(controls);
        let emulator =
            InProcessEmulator::start_with(builder).map_err(|e| fail(format!("{e:#}")))?;
        let endpoint = Endpoint {
            url: emulator.url().to_string(),
            auth_secret: auth_secret.clone(),
            module: DEFAULT_MODULE.to_string(),
        };
        Ok(Self {
            kind: BackendKind::Emulator,
            clock: BackendClock::Emulator {
                url: endpoint.url.clone(),
                auth_secret,
                http: reqwest::Client::new(),
            },
            endpoint: Some(endpoint),
            memory: None,
            _server: Some(Server::InProcess(emulator)),
        })
    }

    /// A backend that is already running at `endpoint` (a deployment, or an emulator the
    /// command-line runner is pointed at), on the wall clock.
    pub fn connect(endpoint: Endpoint) -> Self {
        Self {
            kind: BackendKind::Deployment,
            endpoint: Some(endpoint),
            memory: None,
            clock: BackendClock::Wall,
            _server: None,
        }
    }

    /// The backend's time: a manual clock the checks move, or the wall clock.
    pub fn clock(&self) -> &BackendClock {
        &self.clock
    }

    /// Makes every row written so far stale (`updatedAt < clock`): moves a manual clock by
    /// [`STALE_AFTER_WRITE_MS`], or waits that long on the wall clock.
    pub async fn wait_until_stale(&self) -> Result<(), ConformanceError> {
        self.clock.pass(STALE_AFTER_WRITE_MS).await
    }

    /// Which kind this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Where it listens (`None` for the in-memory store).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// A client with the default options: one shard, test mode on, the right secret.
    pub fn storage(&self) -> Result<Arc<dyn TaskExecutionsStorage>, ConformanceError> {
        self.client(&ClientOptions::default())
    }

    /// A client configured as `options` says; every client of one backend sees the same store.
    ///
    /// The in-memory store has no secret and keeps its shard options per instance, so only the
    /// default options are available on it; other options answer
    /// [`ConformanceError::NotApplicable`].
    pub fn client(
        &self,
        options: &ClientOptions,
    ) -> Result<Arc<dyn TaskExecutionsStorage>, ConformanceError> {
        if let Some(memory) = &self.memory {
            if !options.is_default() {
                return Err(ConformanceError::NotApplicable(format!(
                    "the in-memory store cannot share its rows with a client configured as {options:?}"
                )));
            }
            return Ok(memory.clone());
        }
        let endpoint = self
            .endpoint
            .as_ref()
            .expect("a backend has an endpoint or a memory store");
        let convex_options = ConvexStorageOptions {
            total_shards: options.total_shards,
            shards: options.shards.clone(),
            enable_test_mode: options.test_mode,
            module: endpoint.module.clone(),
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS),
            shard_for: options.shard_for.clone(),
        };
        let secret = options
            .auth_secret
            .as_deref()
            .unwrap_or(&endpoint.auth_secret);
        let storage = ConvexTaskExecutionsStorage::new(&endpoint.url, secret, convex_options)
            .map_err(|source| ConformanceError::Storage {
                operation: "ConvexTaskExecutionsStorage::new".to_string(),
                source,
            })?;
        Ok(Arc::new(storage))
    }
}

/// The fault plan of `--faults SPEC` among the emulator flags a check asks for (the only flag
/// an in-process emulator needs here; any other is refused rather than ignored).
fn faults_of(args: &[&str]) -> Result<Option<FaultPlan>, String> {
    match args {
        [] => Ok(None),
        ["--faults", spec] => FaultPlan::parse_spec(spec).map(Some),
        other => Err(format!("unsupported emulator flags {other:?}")),
    }
}

/// The deployment named by the environment, if both variables are set and non-empty.
pub fn deployment_from_env() -> Option<Endpoint> {
    let url = std::env::var(DEPLOYMENT_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty())?;
    let auth_secret = std::env::var(DEPLOYMENT_SECRET_ENV)
        .ok()
        .filter(|v| !v.is_empty())?;
    let module =
        std::env::var(DEPLOYMENT_MODULE_ENV).unwrap_or_else(|_| DEFAULT_MODULE.to_string());
    Some(Endpoint {
        url,
        auth_secret,
        module,
    })
}

/// Where the model-based tests place a row: always shard 0 of two.
///
/// Not spread over both shards on purpose. A sharded selector is one mutation per shard, sent
/// concurrently; on a server each reads its own clock, in whichever order the calls arrive,
/// while the model gives every shard of one step the same `now`. With rows on two shards, two
/// rows clamped in one step would tie in the model and not on the server (or the other way
/// round), and a later selector ordered by that time would pick differently: a flaky test.
/// With every row on shard 0, all writes of a step happen in one mutation on every side; the
/// second shard still gets its (empty) call, and the decrement sweep still divides its limit.
pub fn model_shard_for(_execution_id: &str) -> u32 {
    0
}

/// How many shards the model-based tests' clients use.
pub const MODEL_TOTAL_SHARDS: u32 = 2;

/// The model of the model-based tests: two shards, rows placed by [`model_shard_for`], `clock`
/// injected.
pub fn model_storage(clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> InMemoryTaskExecutionsStorage {
    InMemoryTaskExecutionsStorage::with_options(durable_execution_storage_convex::InMemoryOptions {
        total_shards: MODEL_TOTAL_SHARDS,
        shards: None,
        clock: Some(clock),
        shard_for: Some(Arc::new(model_shard_for)),
    })
    .expect("two shards are valid options")
}

/// The client a Convex-backed side of the model-based tests uses: two shards, rows placed by
/// [`model_shard_for`] exactly as the model places them, so the sharded operations fan out
/// over both shards and the decrement sweep divides its limit by two.
pub fn model_side_storage(
    backend: &Backend,
) -> Result<Arc<dyn TaskExecutionsStorage>, ConformanceError> {
    backend.client(&ClientOptions {
        shard_for: Some(Arc::new(model_shard_for)),
        ..ClientOptions::shards(MODEL_TOTAL_SHARDS)
    })
}
