//! The fault property: an executor-like workload over the adapter against an emulator that
//! injects faults from a seeded plan, on the emulator's manual clock (no sleeps).
//!
//! # One run
//!
//! A run seed picks the workload's shape (a parent with one or two children, zero or one
//! standalone task) and a fault plan of one to three rules (`fail`, `occ`, `drop`, `hold` on the
//! functions the workload calls; see the emulator's `/_emulator/faults`). Then an executor:
//!
//! 1. enqueues each root task with `insertMany`, retrying a call that failed or lost its reply
//!    with the same ids (`Execution id already exists` after a lost reply means the first
//!    attempt committed);
//! 2. loops: claims ready executions (`updateByStatusAndStartAtLessThanAndReturn`), runs each
//!    (the parent spawns its children with `updateManyByIdAndInsertChildrenIfUpdated`, the others
//!    complete with `updateManyById`, both filtered on `status = running`, so a retry after a
//!    lost reply changes nothing), returns expired claims to `ready` (the expiry sweep),
//!    completes a parent whose children are all closed (`updateByStatusAndOCFPStatusAndACC…`),
//!    and closes finished executions while decrementing their parent (the decrement sweep);
//!    an iteration that got nowhere lets 15 s pass, so claims of lost replies expire and a
//!    crashed holder's lock (60 s) is taken over.
//!
//! # What is checked
//!
//! After every call, from the rows read back with `getManyById` (never faulted):
//! - no task has two executions (nothing duplicated);
//! - the parent's `acc` is never below 0, and equals its children minus those closed: each
//!   finished child is decremented exactly once, in the same step that closes it;
//! - an execution is claimed again only once the `expiresAt` of its previous claim has passed.
//!
//! At the end: every enqueued task exists once, finished and closed (nothing lost), every child
//! exists, and the parent's `acc` is 0.
//!
//! # Replaying
//!
//! Everything in a run follows from its seed and its plan: the workload is sequential, the
//! clock manual and the faults deterministic. A failure prints the run seed, the plan shrunk to
//! the fewest rules that still fail, and one command line that replays it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use durable_execution_storage_convex::{
    CallOutcome, ConvexStorageOptions, ConvexTaskExecutionsStorage, GetByIdRequest,
    NewTaskExecution, OnChildrenFinishedProcessingStatus as Ocfp, ParentTaskExecutionSummary,
    StorageError, TaskExecutionCloseStatus as Close, TaskExecutionStatus as Status,
    TaskExecutionStorageGetByIdFilters, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
    TaskExecutionsStorage, UpdateAndDecrementParentActiveChildrenCountRequest,
    UpdateByIdAndInsertChildrenRequest, UpdateByIdRequest,
    UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    UpdateByStatusAndStartAtLessThanRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::backend::{Backend, BackendClock, DEFAULT_MODULE, REQUEST_TIMEOUT_MS};
use crate::error::ConformanceError;

/// Scales the number of runs of the fault property.
pub const FAULT_RUNS_ENV: &str = "CONFORMANCE_FAULT_RUNS";
/// Replays one run: its seed (decimal).
pub const FAULT_SEED_ENV: &str = "CONFORMANCE_FAULT_SEED";
/// With [`FAULT_SEED_ENV`]: the plan to use instead of the generated one, as a SPEC.
pub const FAULT_PLAN_ENV: &str = "CONFORMANCE_FAULT_PLAN";

/// How far the clock moves after each iteration of the executor loop, in ms: past the 50 ms a
/// write adds to `now`, so everything written is stale for the sweeps of the next iteration.
pub const ITERATION_MS: u64 = 100;
/// How far the clock moves after an iteration that got nowhere, in ms: a quarter of a lock's
/// 60 s, and far past a claim's 1 s timeout.
pub const IDLE_MS: u64 = 15_000;
/// Moved at the start of each run, in ms: past any lock a crashed holder took in the run before.
pub const RUN_GAP_MS: u64 = 61_000;
/// How long a claim lasts (`timeoutMs` of every execution), in ms.
pub const TIMEOUT_MS: i64 = 1_000;
/// Iterations of the executor loop before a run counts as not draining.
pub const ITERATIONS_MAX: usize = 120;
/// Attempts of one call that failed or lost its reply, before the executor moves on.
pub const ATTEMPTS_MAX: usize = 6;
/// Rows a claim or a sweep takes at once.
const BATCH: u32 = 4;
/// The executor id the workload claims under.
const EXECUTOR: &str = "executor-1";

/// The functions the workload calls, as fault rules name them.
const INSERT: &str = "insertMany";
const COMPLETE: &str = "updateManyById";
const SPAWN: &str = "updateManyByIdAndInsertChildrenIfUpdated";
const CLAIM: &str = "updateByStatusAndStartAtLessThanAndReturn";
const EXPIRE: &str = "updateByStatusAndIsSleepingTaskAndExpiresAtLessThan";
const FINISH_PARENT: &str = "updateByStatusAndOCFPStatusAndACCZeroAndReturn";
const DECREMENT: &str = "updateAndDecrementParentACCByIsFinishedAndCloseStatus";

/// Rule targets, `insertMany` twice so lost inserts come up often.
const TARGETS: [&str; 8] = [
    INSERT,
    INSERT,
    COMPLETE,
    SPAWN,
    CLAIM,
    EXPIRE,
    FINISH_PARENT,
    DECREMENT,
];
/// The targets that take a selector lock (the only ones `hold` applies to).
const LOCKED: [&str; 4] = [CLAIM, EXPIRE, FINISH_PARENT, DECREMENT];

/// How a rule strikes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// With this probability per matching call.
    Probability(f64),
    /// On every n-th matching call.
    Every(u64),
}

/// One rule of a plan, as the emulator takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub function: String,
    pub fault: String,
    pub trigger: Trigger,
}

/// A fault plan: the emulator's JSON body, or its SPEC text.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub seed: u64,
    pub rules: Vec<Rule>,
}

impl Plan {
    /// A plan of one to three rules, from `rng`. Faults that stop every call (`every=1`) are
    /// only generated for `insertMany`, whose give-up the checks allow for; everything else
    /// must still drain.
    pub fn generate(rng: &mut StdRng) -> Self {
        let count = rng.gen_range(1..=3);
        let rules = (0..count)
            .map(|_| {
                let function = TARGETS[rng.gen_range(0..TARGETS.len())];
                let kinds: &[&str] = if LOCKED.contains(&function) {
                    &["fail", "occ", "drop", "hold"]
                } else {
                    &["fail", "occ", "drop"]
                };
                let fault = kinds[rng.gen_range(0..kinds.len())];
                // The executor's loop is periodic: a fault on every n-th call of a function it
                // calls once per iteration can fall on the same step each time (every claim that
                // finds the row, every call once a held lock expires) and stall it for ever. So
                // every-n triggers only for `insertMany`, called once per task; elsewhere faults
                // strike at random, at most half the time.
                let trigger = if function == INSERT && rng.gen_bool(0.5) {
                    Trigger::Every(rng.gen_range(1..=3))
                } else {
                    Trigger::Probability(f64::from(rng.gen_range(1..=5u32)) / 10.0)
                };
                Rule {
                    function: function.to_string(),
                    fault: fault.to_string(),
                    trigger,
                }
            })
            .collect();
        Plan {
            // Small enough for a JavaScript number, so a plan reads the same from Node.
            seed: u64::from(rng.gen::<u32>()),
            rules,
        }
    }

    /// The body of `POST /_emulator/faults`.
    pub fn to_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut rule = json!({ "function": r.function, "fault": r.fault });
                match r.trigger {
                    Trigger::Probability(p) => rule["probability"] = json!(p),
                    Trigger::Every(n) => rule["every"] = json!(n),
                }
                rule
            })
            .collect();
        json!({ "seed": self.seed, "rules": rules })
    }

    /// Parses the SPEC this plan prints as (`seed=N;function:fault@p=x;...`): the subset of
    /// the emulator's grammar that generated plans use.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut plan = Plan {
            seed: 0,
            rules: Vec::new(),
        };
        for clause in spec.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            if let Some(seed) = clause.strip_prefix("seed=") {
                plan.seed = seed
                    .parse()
                    .map_err(|_| format!("bad seed in `{clause}`"))?;
                continue;
            }
            let bad = || format!("`{clause}` is not function:fault@p=x or @every=n");
            let (function, rest) = clause.split_once(':').ok_or_else(bad)?;
            let (fault, trigger) = rest.split_once('@').ok_or_else(bad)?;
            let trigger = if let Some(p) = trigger.strip_prefix("p=") {
                Trigger::Probability(p.parse().map_err(|_| bad())?)
            } else if let Some(n) = trigger.strip_prefix("every=") {
                Trigger::Every(n.parse().map_err(|_| bad())?)
            } else {
                return Err(bad());
            };
            plan.rules.push(Rule {
                function: function.to_string(),
                fault: fault.to_string(),
                trigger,
            });
        }
        Ok(plan)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for r in &self.rules {
            write!(f, ";{}:{}@", r.function, r.fault)?;
            match r.trigger {
                Trigger::Probability(p) => write!(f, "p={p}")?,
                Trigger::Every(n) => write!(f, "every={n}")?,
            }
        }
        Ok(())
    }
}

/// Faults injected in a run, by kind (`fail`, `occ`, `drop`, `hold`).
pub type Injected = BTreeMap<String, u64>;

/// How the executor retries an `insertMany` that failed or lost its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertRetry {
    /// Sends the same executions again; `Execution id already exists` then means the earlier
    /// attempt committed. What docs/FAULTS.md says to do.
    SameIds,
    /// A mutant: retries blindly, building the executions anew under fresh ids, as a client
    /// that cannot tell a lost reply from a failure. A committed first attempt then leaves the
    /// task enqueued twice.
    FreshIds,
}

/// The shape of one run's workload.
#[derive(Debug, Clone, Copy)]
struct Shape {
    children: usize,
    standalone: usize,
}

/// A run that broke an invariant (or could not run).
#[derive(Debug, Clone)]
pub struct RunFailure {
    pub seed: u64,
    pub plan: Plan,
    pub message: String,
    /// The calls of the run, with their outcomes, up to the failure.
    pub trace: Vec<String>,
}

impl RunFailure {
    /// The one command line that replays this run.
    pub fn replay_command(&self, test: &str) -> String {
        format!(
            "{FAULT_SEED_ENV}={} {FAULT_PLAN_ENV}='{}' cargo test -p convex-storage-conformance --test faults {test} -- --nocapture",
            self.seed, self.plan
        )
    }
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "run seed {} with plan {}: {}",
            self.seed, self.plan, self.message
        )?;
        let skip = self.trace.len().saturating_sub(40);
        if skip > 0 {
            writeln!(f, "  ... {skip} earlier calls")?;
        }
        for line in &self.trace[skip..] {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// An emulator with fault injection and a manual clock, and a client of it.
pub struct FaultBed {
    backend: Backend,
    storage: Arc<dyn TaskExecutionsStorage>,
    http: reqwest::Client,
}

impl FaultBed {
    /// Starts an emulator with `--clock manual --faults seed=0` (an empty plan).
    pub fn start() -> Result<Self, ConformanceError> {
        let backend = Backend::start_emulator(&["--faults", "seed=0"])?;
        let endpoint = backend.endpoint().expect("an emulator has an endpoint");
        let options = ConvexStorageOptions {
            module: DEFAULT_MODULE.to_string(),
            enable_test_mode: true,
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS),
            ..ConvexStorageOptions::default()
        };
        let storage =
            ConvexTaskExecutionsStorage::new(&endpoint.url, &endpoint.auth_secret, options)
                .map_err(|source| ConformanceError::Storage {
                    operation: "ConvexTaskExecutionsStorage::new".to_string(),
                    source,
                })?;
        Ok(Self {
            backend,
            storage: Arc::new(storage),
            http: reqwest::Client::new(),
        })
    }

    /// The emulator's clock.
    pub fn clock(&self) -> &BackendClock {
        self.backend.clock()
    }

    /// The client the workload uses.
    pub fn storage(&self) -> &Arc<dyn TaskExecutionsStorage> {
        &self.storage
    }

    /// Sets the fault plan (`POST /_emulator/faults`): counts and log start afresh.
    pub async fn set_plan(&self, plan: &Plan) -> Result<(), ConformanceError> {
        self.faults_call(reqwest::Method::POST, Some(plan.to_json()))
            .await
            .map(drop)
    }

    /// The fault report (`GET /_emulator/faults`): the plan and the injected faults.
    pub async fn report(&self) -> Result<Value, ConformanceError> {
        self.faults_call(reqwest::Method::GET, None).await
    }

    async fn faults_call(
        &self,
        method: reqwest::Method,
        body: Option<Value>,
    ) -> Result<Value, ConformanceError> {
        let endpoint = self
            .backend
            .endpoint()
            .expect("an emulator has an endpoint");
        let fail = |message: String| ConformanceError::Control {
            route: "/_emulator/faults".to_string(),
            message,
        };
        let mut request = self
            .http
            .request(method, format!("{}/_emulator/faults", endpoint.url))
            .bearer_auth(&endpoint.auth_secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let reply: Value = response.json().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}: {reply}")));
        }
        Ok(reply)
    }

    /// Runs the workload of `seed` under `plan` (the generated one when `None`); on success,
    /// how many faults of each kind the emulator injected (from `GET /_emulator/faults`).
    pub async fn run(
        &self,
        seed: u64,
        plan: Option<Plan>,
        insert_retry: InsertRetry,
    ) -> Result<Injected, RunFailure> {
        let mut rng = StdRng::seed_from_u64(seed);
        let generated = Plan::generate(&mut rng);
        let shape = Shape {
            children: rng.gen_range(1..=2),
            standalone: rng.gen_range(0..=1),
        };
        let plan = plan.unwrap_or(generated);
        let mut run = Run::new(self, seed, shape, insert_retry);
        let outcome = async {
            run.prepare(&plan).await?;
            run.work().await?;
            let report = self.report().await.map_err(|e| e.to_string())?;
            let mut injected = Injected::new();
            for entry in report["injected"].as_array().into_iter().flatten() {
                let kind = entry["fault"].as_str().unwrap_or("?").to_string();
                *injected.entry(kind).or_default() += 1;
            }
            Ok(injected)
        }
        .await;
        outcome.map_err(|message| RunFailure {
            seed,
            plan,
            message,
            trace: run.trace,
        })
    }

    /// Runs `seed` again with fewer and fewer rules while it still fails: the smallest plan
    /// that still breaks an invariant.
    pub async fn shrink(&self, failure: RunFailure, insert_retry: InsertRetry) -> RunFailure {
        let mut best = failure;
        let mut i = 0;
        while i < best.plan.rules.len() {
            let mut smaller = best.plan.clone();
            smaller.rules.remove(i);
            match self.run(best.seed, Some(smaller), insert_retry).await {
                Err(still) => best = still,
                Ok(_) => i += 1,
            }
        }
        best
    }
}

/// One run's executor and checker.
struct Run<'a> {
    bed: &'a FaultBed,
    seed: u64,
    shape: Shape,
    insert_retry: InsertRetry,
    /// The clock as of the current iteration, in ms.
    now: i64,
    /// The clock when the run started, in ms.
    start: i64,
    /// Every execution id ever sent in an insert (a blind retry adds fresh ones).
    ids: BTreeSet<String>,
    /// Root tasks enqueued for sure (the insert was acknowledged, or answered "already
    /// exists" after a lost reply).
    enqueued: BTreeSet<String>,
    /// The `expiresAt` of the last claim seen per execution.
    claims: BTreeMap<String, i64>,
    /// The rows after the last call, by id.
    rows: BTreeMap<String, TaskExecutionStorageValue>,
    trace: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(bed: &'a FaultBed, seed: u64, shape: Shape, insert_retry: InsertRetry) -> Self {
        Self {
            bed,
            seed,
            shape,
            insert_retry,
            now: 0,
            start: 0,
            ids: BTreeSet::new(),
            enqueued: BTreeSet::new(),
            claims: BTreeMap::new(),
            rows: BTreeMap::new(),
            trace: Vec::new(),
        }
    }

    fn parent(&self) -> String {
        format!("r{}-parent", self.seed)
    }

    fn child(&self, i: usize) -> String {
        format!("r{}-parent-child-{i}", self.seed)
    }

    fn roots(&self) -> Vec<String> {
        let mut roots = vec![self.parent()];
        roots.extend((0..self.shape.standalone).map(|i| format!("r{}-solo-{i}", self.seed)));
        roots
    }

    /// Empties the store (no plan names `deleteAll`), lets every old lock expire, sets the
    /// plan.
    async fn prepare(&mut self, plan: &Plan) -> Result<(), String> {
        let bed = self.bed;
        bed.storage.delete_all().await.map_err(|e| e.to_string())?;
        self.now = bed
            .clock()
            .pass_and_read(RUN_GAP_MS)
            .await
            .map_err(|e| e.to_string())?;
        self.start = self.now;
        bed.set_plan(plan).await.map_err(|e| e.to_string())
    }

    async fn work(&mut self) -> Result<(), String> {
        for root in self.roots() {
            self.enqueue(&root).await?;
        }
        let mut idle = false;
        for _ in 0..ITERATIONS_MAX {
            if self.drained() {
                return self.check_final();
            }
            let before = self.rows.clone();
            // Claims expire only when time jumps, so the expiry sweep runs after idle
            // iterations, as an executor runs it on a slower timer than claims.
            if idle {
                self.sweep(EXPIRE).await?;
            }
            let claimed = self.claim().await?;
            for execution in claimed {
                self.execute(execution).await?;
            }
            self.sweep(FINISH_PARENT).await?;
            self.sweep(DECREMENT).await?;
            idle = self.rows == before;
            let moved = if idle { IDLE_MS } else { ITERATION_MS };
            self.now = self
                .bed
                .clock()
                .pass_and_read(moved)
                .await
                .map_err(|e| e.to_string())?;
        }
        Err(format!(
            "did not drain in {ITERATIONS_MAX} iterations: {}",
            self.describe_rows()
        ))
    }

    /// A new root execution of `task` under `execution_id`; its `input` names the task.
    fn root_value(task: &str, execution_id: &str) -> TaskExecutionStorageValue {
        TaskExecutionStorageValue::create(NewTaskExecution {
            timeout_ms: TIMEOUT_MS,
            ..NewTaskExecution::new("task", execution_id, task)
        })
    }

    async fn enqueue(&mut self, task: &str) -> Result<(), String> {
        let mut execution_id = task.to_string();
        let mut reply_lost = false;
        for attempt in 0..ATTEMPTS_MAX {
            self.ids.insert(execution_id.clone());
            let value = Self::root_value(task, &execution_id);
            let result = self.bed.storage.insert_many(vec![value]).await;
            let lost_before = attempt > 0;
            let answer = self.record(INSERT, &result);
            self.check_after(changed_nothing(&result, |_| false))
                .await?;
            match result {
                Ok(()) => {
                    self.enqueued.insert(task.to_string());
                    return Ok(());
                }
                Err(e) if lost_before && is_already_exists(&e) => {
                    // The earlier attempt committed; its reply was lost.
                    self.enqueued.insert(task.to_string());
                    return Ok(());
                }
                Err(e) if e.outcome() == CallOutcome::RanAndThrew => {
                    return Err(format!("insertMany of {task} threw: {answer}"));
                }
                Err(e) => {
                    reply_lost |= e.outcome() == CallOutcome::Unknown;
                    if self.insert_retry == InsertRetry::FreshIds {
                        execution_id = format!("{task}~retry-{}", attempt + 1);
                    }
                }
            }
        }
        // Given up. Whether a lost reply had committed it, only a read can tell.
        if reply_lost {
            let request = GetByIdRequest {
                execution_id,
                filters: None,
            };
            let found = self.bed.storage.get_many_by_id(vec![request]).await;
            if matches!(found.as_deref(), Ok([Some(_)])) {
                self.enqueued.insert(task.to_string());
            }
        }
        Ok(())
    }

    async fn claim(&mut self) -> Result<Vec<TaskExecutionStorageValue>, String> {
        let request = UpdateByStatusAndStartAtLessThanRequest {
            status: Status::Ready,
            start_at_less_than: self.now,
            update: TaskExecutionStorageUpdate {
                executor_id: Some(EXECUTOR.to_string()),
                status: Some(Status::Running),
                started_at: Some(self.now),
                updated_at: self.now,
                ..TaskExecutionStorageUpdate::default()
            },
            update_expires_at_with_started_at: self.now,
            limit: BATCH,
        };
        let result = self
            .bed
            .storage
            .update_by_status_and_start_at_less_than_and_return(request)
            .await;
        self.record(CLAIM, &result);
        self.check_after(changed_nothing(&result, |rows| rows.is_empty()))
            .await?;
        Ok(result.unwrap_or_default())
    }

    /// Runs a claimed execution: the parent spawns its children, everything else completes.
    async fn execute(&mut self, claimed: TaskExecutionStorageValue) -> Result<(), String> {
        let running = Some(TaskExecutionStorageGetByIdFilters {
            status: Some(Status::Running),
            ..TaskExecutionStorageGetByIdFilters::default()
        });
        let id = claimed.execution_id.clone();
        let is_parent = claimed.input == self.parent();
        for _ in 0..ATTEMPTS_MAX {
            let result = if is_parent {
                let children = (0..self.shape.children)
                    .map(|i| self.child_value(&id, i))
                    .collect();
                let request = UpdateByIdAndInsertChildrenRequest {
                    execution_id: id.clone(),
                    filters: running.clone(),
                    update: TaskExecutionStorageUpdate {
                        status: Some(Status::WaitingForChildren),
                        active_children_count: Some(self.shape.children as i64),
                        waiting_for_children_started_at: Some(self.now),
                        updated_at: self.now,
                        ..TaskExecutionStorageUpdate::default()
                    },
                    children_task_executions_to_insert_if_any_updated: children,
                };
                let result = self
                    .bed
                    .storage
                    .update_many_by_id_and_insert_children_if_updated(vec![request])
                    .await;
                self.record(SPAWN, &result);
                result
            } else {
                let request = UpdateByIdRequest {
                    execution_id: id.clone(),
                    filters: running.clone(),
                    update: finished(self.now),
                };
                let result = self.bed.storage.update_many_by_id(vec![request]).await;
                self.record(COMPLETE, &result);
                result
            };
            self.check_after(changed_nothing(&result, |_| false))
                .await?;
            match result {
                Ok(()) => return Ok(()),
                Err(e) if e.outcome() == CallOutcome::RanAndThrew => {
                    return Err(format!("running {id} threw: {e}"));
                }
                // Refused (nothing ran) or no reply (may have run): the filter on `running`
                // makes sending it again safe either way.
                Err(_) => {}
            }
        }
        // Given up; the claim expires and the execution is claimed again.
        Ok(())
    }

    fn child_value(&self, parent: &str, index: usize) -> TaskExecutionStorageValue {
        TaskExecutionStorageValue::create(NewTaskExecution {
            timeout_ms: TIMEOUT_MS,
            parent: Some(ParentTaskExecutionSummary {
                task_id: "task".to_string(),
                execution_id: parent.to_string(),
                index_in_parent_children: index as i64,
                is_only_child_of_parent: self.shape.children == 1,
                is_finalize_of_parent: false,
            }),
            ..NewTaskExecution::new("task", self.child(index), self.child(index))
        })
    }

    async fn sweep(&mut self, function: &'static str) -> Result<(), String> {
        let now = self.now;
        let storage = &self.bed.storage;
        let result = match function {
            EXPIRE => {
                storage
                    .update_by_status_and_is_sleeping_task_and_expires_at_less_than(
                        UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                            status: Status::Running,
                            is_sleeping_task: false,
                            expires_at_less_than: now,
                            update: TaskExecutionStorageUpdate {
                                status: Some(Status::Ready),
                                updated_at: now,
                                ..TaskExecutionStorageUpdate::default()
                            },
                            limit: BATCH,
                        },
                    )
                    .await
            }
            FINISH_PARENT => storage
                .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
                    UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
                        status: Status::WaitingForChildren,
                        on_children_finished_processing_status: Ocfp::Idle,
                        update: TaskExecutionStorageUpdate {
                            on_children_finished_processing_status: Some(Ocfp::Processed),
                            ..finished(now)
                        },
                        limit: BATCH,
                    },
                )
                .await
                .map(|rows| rows.len() as u64),
            _ => storage
                .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                    UpdateAndDecrementParentActiveChildrenCountRequest {
                        is_finished: true,
                        close_status: Close::Ready,
                        update: TaskExecutionStorageUpdate {
                            close_status: Some(Close::Closed),
                            closed_at: Some(now),
                            updated_at: now,
                            ..TaskExecutionStorageUpdate::default()
                        },
                        limit: BATCH,
                    },
                )
                .await,
        };
        self.record(function, &result);
        self.check_after(changed_nothing(&result, |n| *n == 0))
            .await
    }

    /// Adds one call to the trace; returns its outcome as text.
    fn record<T: fmt::Debug>(
        &mut self,
        function: &str,
        result: &Result<T, StorageError>,
    ) -> String {
        let outcome = match result {
            Ok(value) => {
                let text = format!("{value:?}");
                if text.len() > 80 {
                    format!("ok ({} chars)", text.len())
                } else {
                    format!("ok {text}")
                }
            }
            Err(e) => format!("{:?}: {e}", e.outcome()),
        };
        self.trace.push(format!(
            "t+{}ms {function}: {outcome}",
            self.now - self.start
        ));
        outcome
    }

    /// Checks the per-step invariants, unless the call certainly changed nothing (then the
    /// rows are those of the last check).
    async fn check_after(&mut self, changed_nothing: bool) -> Result<(), String> {
        if changed_nothing {
            return Ok(());
        }
        self.check_step().await
    }

    /// Reads every known execution back and checks the per-step invariants.
    async fn check_step(&mut self) -> Result<(), String> {
        let mut ids: BTreeSet<String> = self.ids.clone();
        ids.extend((0..self.shape.children).map(|i| self.child(i)));
        let requests = ids
            .iter()
            .map(|id| GetByIdRequest {
                execution_id: id.clone(),
                filters: None,
            })
            .collect();
        let rows = self
            .bed
            .storage
            .get_many_by_id(requests)
            .await
            .map_err(|e| format!("reading the rows back failed: {e}"))?;
        self.rows = ids
            .into_iter()
            .zip(rows)
            .filter_map(|(id, row)| row.map(|r| (id, r)))
            .collect();

        let mut per_task: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, row) in &self.rows {
            per_task.entry(row.input.as_str()).or_default().push(id);
        }
        if let Some((task, ids)) = per_task.iter().find(|(_, ids)| ids.len() > 1) {
            return Err(format!("task {task} is stored twice: {ids:?}"));
        }

        if let Some(parent) = self.rows.get(&self.parent()) {
            let acc = parent.active_children_count;
            if acc < 0 {
                return Err(format!("the parent's acc is {acc}"));
            }
            let children: Vec<&TaskExecutionStorageValue> = (0..self.shape.children)
                .filter_map(|i| self.rows.get(&self.child(i)))
                .collect();
            if !children.is_empty() {
                let closed = children
                    .iter()
                    .filter(|c| c.close_status == Close::Closed)
                    .count() as i64;
                let expected = self.shape.children as i64 - closed;
                if acc != expected {
                    return Err(format!(
                        "the parent's acc is {acc} with {closed} of {} children closed (each closed child must be decremented exactly once)",
                        self.shape.children
                    ));
                }
            }
        }

        for (id, row) in &self.rows {
            let (Status::Running, Some(expires_at)) = (row.status, row.expires_at) else {
                continue;
            };
            if row.executor_id.as_deref() != Some(EXECUTOR) {
                continue;
            }
            match self.claims.get(id) {
                Some(&previous) if previous == expires_at => {}
                Some(&previous) if previous > self.now => {
                    return Err(format!(
                        "{id} claimed again at {} while its previous claim runs until {previous}",
                        self.now
                    ));
                }
                _ => {
                    self.claims.insert(id.clone(), expires_at);
                }
            }
        }
        Ok(())
    }

    /// Whether every enqueued task and every child is finished and closed.
    fn drained(&self) -> bool {
        let mut tasks: Vec<String> = self.enqueued.iter().cloned().collect();
        if self.enqueued.contains(&self.parent()) {
            tasks.extend((0..self.shape.children).map(|i| self.child(i)));
        }
        let rows_by_task: BTreeMap<&str, &TaskExecutionStorageValue> =
            self.rows.values().map(|r| (r.input.as_str(), r)).collect();
        let all_closed = |tasks: &[String]| {
            tasks.iter().all(|t| {
                rows_by_task
                    .get(t.as_str())
                    .is_some_and(|r| r.is_finished && r.close_status == Close::Closed)
            })
        };
        all_closed(&tasks) && self.rows.values().all(|r| r.close_status == Close::Closed)
    }

    /// Nothing lost: every enqueued task once, finished and closed; the parent's acc is 0.
    fn check_final(&self) -> Result<(), String> {
        let stored: BTreeSet<&str> = self.rows.values().map(|r| r.input.as_str()).collect();
        for task in &self.enqueued {
            if !stored.contains(task.as_str()) {
                return Err(format!("task {task} was enqueued and is lost"));
            }
        }
        let known: BTreeSet<String> = self
            .enqueued
            .iter()
            .cloned()
            .chain((0..self.shape.children).map(|i| self.child(i)))
            .collect();
        if let Some(orphan) = stored.iter().find(|t| !known.contains(**t)) {
            return Err(format!(
                "task {orphan} is stored but the executor believes it was never enqueued"
            ));
        }
        if let Some(parent) = self.rows.get(&self.parent()) {
            if parent.active_children_count != 0 {
                return Err(format!(
                    "the sweeps drained but the parent's acc is {}",
                    parent.active_children_count
                ));
            }
        }
        Ok(())
    }

    fn describe_rows(&self) -> String {
        self.rows
            .iter()
            .map(|(id, r)| {
                format!(
                    "{id}: {:?} finished={} close={:?} acc={}",
                    r.status, r.is_finished, r.close_status, r.active_children_count
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The update that finishes an execution: completed, finished, ready to close.
fn finished(now: i64) -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        status: Some(Status::Completed),
        is_finished: Some(true),
        output: Some("done".to_string()),
        finished_at: Some(now),
        close_status: Some(Close::Ready),
        updated_at: now,
        ..TaskExecutionStorageUpdate::default()
    }
}

/// Whether a call certainly changed nothing: refused before running, thrown (a mutation that
/// throws rolls back), or answered with nothing selected.
fn changed_nothing<T>(result: &Result<T, StorageError>, empty: impl Fn(&T) -> bool) -> bool {
    match result {
        Ok(value) => empty(value),
        Err(e) => e.outcome() != CallOutcome::Unknown,
    }
}

fn is_already_exists(error: &StorageError) -> bool {
    error.thrown_message().as_deref() == Some("Execution id already exists")
}

/// How many runs: [`FAULT_RUNS_ENV`] or `default`.
pub fn runs_from_env(default: u64) -> u64 {
    std::env::var(FAULT_RUNS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The run to replay, from [`FAULT_SEED_ENV`] and [`FAULT_PLAN_ENV`].
pub fn replay_from_env() -> Option<(u64, Option<Plan>)> {
    let seed = std::env::var(FAULT_SEED_ENV).ok()?.parse().ok()?;
    let plan = std::env::var(FAULT_PLAN_ENV)
        .ok()
        .map(|spec| Plan::parse(&spec).unwrap_or_else(|e| panic!("{FAULT_PLAN_ENV}: {e}")));
    Some((seed, plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_prints_as_a_spec_and_parses_back() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let plan = Plan::generate(&mut rng);
            assert_eq!(Plan::parse(&plan.to_string()).unwrap(), plan);
        }
    }

    #[test]
    fn generated_plans_only_hold_locked_functions_and_never_block_everything() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..500 {
            for rule in Plan::generate(&mut rng).rules {
                if rule.fault == "hold" {
                    assert!(LOCKED.contains(&rule.function.as_str()), "{rule:?}");
                }
                match rule.trigger {
                    Trigger::Every(_) => assert_eq!(rule.function, INSERT, "{rule:?}"),
                    Trigger::Probability(p) => assert!(p <= 0.5, "{rule:?}"),
                }
            }
        }
    }
}
