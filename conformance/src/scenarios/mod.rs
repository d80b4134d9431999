//! Hand-written scenarios: each checks one rule of SPEC.md against a backend, by name.
//!
//! Scenarios are grouped in families (one file each); a test group (one cargo test, or one
//! family in the command-line runner) starts from an empty store and empties it again before
//! every scenario. A scenario returns [`ConformanceError::NotApplicable`] when the backend
//! cannot run it (the in-memory store has no auth secret and no shared shard views), which is
//! reported as skipped, never as passed.
//!
//! The lock rule (a busy selector answers `[]`/`0` at once) has no deterministic scenario: the
//! public API offers no way to hold a lock from outside, so it is checked through the
//! concurrency properties in [`crate::concurrency`] (two claimers never get the same row).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use durable_execution_storage_convex::TaskExecutionsStorage;

use crate::backend::{Backend, BackendKind, ClientOptions};
use crate::error::{ConformanceError, StorageResultExt};
use crate::operation::Operation;

pub mod support;

mod auth;
mod children;
mod claims;
mod clock;
mod decrement;
mod deletes;
mod expiries;
mod inserts;
mod limits;
mod reads;
mod shards;
mod updates;

/// A scenario's future; not `Send`, since scenarios run on the caller's runtime.
pub type ScenarioFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ConformanceError>> + 'a>>;

/// The families, in the order the runner runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inserts,
    Reads,
    Updates,
    Claims,
    Expiries,
    Children,
    Decrement,
    Deletes,
    Shards,
    Clock,
    Auth,
    Limits,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 12] = [
        Self::Inserts,
        Self::Reads,
        Self::Updates,
        Self::Claims,
        Self::Expiries,
        Self::Children,
        Self::Decrement,
        Self::Deletes,
        Self::Shards,
        Self::Clock,
        Self::Auth,
        Self::Limits,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inserts => "inserts",
            Self::Reads => "reads",
            Self::Updates => "updates",
            Self::Claims => "claims",
            Self::Expiries => "expiries",
            Self::Children => "children",
            Self::Decrement => "decrement",
            Self::Deletes => "deletes",
            Self::Shards => "shards",
            Self::Clock => "clock",
            Self::Auth => "auth",
            Self::Limits => "limits",
        }
    }
}

/// One named check.
pub struct Scenario {
    /// Unique name, in snake case.
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// The operations it checks, for the per-operation table.
    pub operations: &'static [Operation],
    /// The check itself.
    pub run: for<'a> fn(&'a Ctx<'a>) -> ScenarioFuture<'a>,
}

/// What a scenario gets: the backend and ways to make clients of it.
pub struct Ctx<'a> {
    backend: &'a Backend,
}

impl Ctx<'_> {
    /// A client with the default options (one shard, test mode, the right secret).
    pub fn storage(&self) -> Result<std::sync::Arc<dyn TaskExecutionsStorage>, ConformanceError> {
        self.backend.storage()
    }

    /// A client configured as `options` says, over the same store.
    pub fn client(
        &self,
        options: &ClientOptions,
    ) -> Result<std::sync::Arc<dyn TaskExecutionsStorage>, ConformanceError> {
        self.backend.client(options)
    }

    /// Whether the backend reads this machine's clock, so absolute time windows can be checked.
    pub fn shares_clock(&self) -> bool {
        self.backend.kind() != BackendKind::Deployment
    }

    /// The backend's time in ms: its manual clock, or the wall clock.
    pub async fn now_ms(&self) -> Result<i64, ConformanceError> {
        self.backend.clock().now_ms().await
    }

    /// Whether the backend's time moves only when a check moves it.
    pub fn has_manual_clock(&self) -> bool {
        self.backend.clock().is_manual()
    }

    /// Lets `ms` pass on the backend: moves its manual clock, or waits.
    pub async fn pass_ms(&self, ms: u64) -> Result<(), ConformanceError> {
        self.backend.clock().pass(ms).await
    }

    /// Makes every row written so far stale (`updatedAt < clock`) on the backend.
    pub async fn wait_until_stale(&self) -> Result<(), ConformanceError> {
        self.backend.wait_until_stale().await
    }

    /// The backend's auth secret (`None` for the in-memory store).
    pub fn auth_secret(&self) -> Option<String> {
        self.backend.endpoint().map(|e| e.auth_secret.clone())
    }

    /// Whether the backend is the reference server (`convex-test`, which enforces no
    /// transaction limits).
    pub fn is_reference(&self) -> bool {
        self.backend.kind() == BackendKind::Reference
    }

    /// Whether the backend is the in-memory store.
    pub fn is_memory(&self) -> bool {
        self.backend.kind() == BackendKind::Memory
    }
}

/// How one scenario ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Passed,
    Skipped(String),
    Failed(String),
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    pub name: &'static str,
    pub family: Family,
    pub operations: &'static [Operation],
    pub verdict: Verdict,
    pub took: Duration,
}

/// Every scenario, family by family.
pub fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(inserts::scenarios());
    all.extend(reads::scenarios());
    all.extend(updates::scenarios());
    all.extend(claims::scenarios());
    all.extend(expiries::scenarios());
    all.extend(children::scenarios());
    all.extend(decrement::scenarios());
    all.extend(deletes::scenarios());
    all.extend(shards::scenarios());
    all.extend(clock::scenarios());
    all.extend(auth::scenarios());
    all.extend(limits::scenarios());
    all
}

/// The scenarios of one family.
pub fn of_family(family: Family) -> Vec<Scenario> {
    all().into_iter().filter(|s| s.family == family).collect()
}

/// Empties the store, then runs one scenario.
pub async fn run_one(backend: &Backend, scenario: &Scenario) -> ScenarioOutcome {
    let started = Instant::now();
    let ctx = Ctx { backend };
    let result = async {
        ctx.storage()?
            .delete_all()
            .await
            .during("deleteAll before the scenario")?;
        (scenario.run)(&ctx).await
    }
    .await;
    let verdict = match result {
        Ok(()) => Verdict::Passed,
        Err(ConformanceError::NotApplicable(reason)) => Verdict::Skipped(reason),
        Err(error) => Verdict::Failed(error.to_string()),
    };
    ScenarioOutcome {
        name: scenario.name,
        family: scenario.family,
        operations: scenario.operations,
        verdict,
        took: started.elapsed(),
    }
}

/// Runs `scenarios` one after another on `backend`.
pub async fn run_all(backend: &Backend, scenarios: &[Scenario]) -> Vec<ScenarioOutcome> {
    let mut outcomes = Vec::new();
    for scenario in scenarios {
        outcomes.push(run_one(backend, scenario).await);
    }
    outcomes
}

/// A family's scenarios, one a line: `Family::X; name: [Operation, ...], ...`, each `name` an
/// `async fn(&Ctx) -> Result<(), ConformanceError>` of the calling file.
macro_rules! scenarios {
    ($family:expr; $($name:ident: [$($op:ident),+ $(,)?]),+ $(,)?) => {
        vec![$($crate::scenarios::Scenario {
            name: stringify!($name),
            family: $family,
            operations: &[$($crate::operation::Operation::$op),+],
            run: |ctx| Box::pin($name(ctx)),
        }),+]
    };
}
pub(crate) use scenarios;
