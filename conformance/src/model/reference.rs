//! The reference state machine: the adapter's in-memory storage under an injected clock.
//!
//! [`ModelState`] owns an `InMemoryTaskExecutionsStorage` whose clock the harness moves by
//! [`MODEL_STEP_MS`] before every transition, so every row the model wrote in one step is
//! stale (`updatedAt < clock`) in the next one, exactly like the real backends after the
//! harness's pause (see [`super::pacing`]). Applying a transition runs it on the model and
//! keeps the answer for the system under test to be compared against.
//!
//! proptest-state-machine clones the state to replay shrunk sequences, and a storage behind an
//! `Arc` would be shared by both copies; so cloning rebuilds the model by replaying the log of
//! transitions on a fresh store with a fresh clock. The model is deterministic, so the replay
//! is exact (in practice only empty initial states are cloned).

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use durable_execution_storage_convex::{
    InMemoryTaskExecutionsStorage, StorageError, TaskExecutionStorageValue, TaskExecutionsStorage,
};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use serde_json::Value;

use super::driver::answer_of;
use super::pools::EXECUTION_IDS;
use super::strategy::{self, Shape};
use super::transition::Transition;
use crate::backend::model_storage;

/// The model's clock at the start of every case, in milliseconds (2023-11-14).
///
/// Any fixed value inside the clock band works; a fixed one makes replays exact.
pub const MODEL_CLOCK_START_MS: i64 = 1_700_000_000_000;
/// How far the model's clock moves before each transition, in milliseconds.
///
/// More than the 50 ms that writes add to `now`, so every row written in one step is stale in
/// the next; less than 1 000 ms is not required because clock-written values are compared as
/// tokens.
pub const MODEL_STEP_MS: i64 = 100;

/// The in-memory model, its clock and what it answered last.
pub struct ModelState {
    clock: Arc<AtomicI64>,
    storage: Arc<InMemoryTaskExecutionsStorage>,
    log: Vec<Transition>,
    /// The model's answer to the last transition applied (`None` before the first).
    pub last_answer: Option<Value>,
}

impl ModelState {
    /// An empty model at [`MODEL_CLOCK_START_MS`].
    pub fn new() -> Self {
        let clock = Arc::new(AtomicI64::new(MODEL_CLOCK_START_MS));
        let reader = clock.clone();
        let storage: Arc<InMemoryTaskExecutionsStorage> =
            Arc::new(model_storage(Arc::new(move || {
                reader.load(Ordering::SeqCst)
            })));
        Self {
            clock,
            storage,
            log: Vec::new(),
            last_answer: None,
        }
    }

    /// Moves the clock by one step, runs `transition` on the model and keeps its answer.
    pub fn step(&mut self, transition: &Transition) {
        self.clock.fetch_add(MODEL_STEP_MS, Ordering::SeqCst);
        let storage: Arc<dyn TaskExecutionsStorage> = self.storage.clone();
        self.last_answer = Some(block_on_model(transition.perform(&storage)));
        self.log.push(transition.clone());
    }

    /// Every pool id as a `getManyById` over the pool would answer, taken from the model's
    /// snapshot (not from its own `getManyById`, so a read bug in the model cannot hide).
    pub fn rows(&self) -> Value {
        let snapshot = self.storage.snapshot();
        let rows: Vec<Option<&TaskExecutionStorageValue>> = EXECUTION_IDS
            .iter()
            .map(|id| snapshot.iter().find(|v| v.execution_id == *id))
            .collect();
        answer_of::<_>(Ok::<_, StorageError>(rows))
    }

    /// Which pool ids the model holds, for the generators.
    pub fn shape(&self) -> Shape {
        Shape::of(&self.storage.snapshot())
    }

    /// The transitions applied so far.
    pub fn log(&self) -> &[Transition] {
        &self.log
    }
}

impl Default for ModelState {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for ModelState {
    fn clone(&self) -> Self {
        let mut copy = Self::new();
        for transition in &self.log {
            copy.step(transition);
        }
        copy
    }
}

impl std::fmt::Debug for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ModelState {{ {} transitions applied, pool {:?} }}",
            self.log.len(),
            EXECUTION_IDS
        )
    }
}

thread_local! {
    /// A runtime of the calling thread's own for the model's async methods, which never wait
    /// on anything: the model must run outside the harness's runtime (proptest generates and
    /// shrinks on the test thread).
    static MODEL_RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Runs a future of the in-memory model to completion on this thread.
pub fn block_on_model<F: std::future::Future>(future: F) -> F::Output {
    MODEL_RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        let runtime = slot.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime builds")
        });
        runtime.block_on(future)
    })
}

/// The reference state machine: generation from the pools, application on the model.
pub struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = ModelState;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Self::State> {
        Just(()).prop_map(|()| ModelState::new()).boxed()
    }

    fn transitions(state: &Self::State) -> BoxedStrategy<Self::Transition> {
        strategy::transition(&state.shape())
    }

    fn apply(mut state: Self::State, transition: &Self::Transition) -> Self::State {
        state.step(transition);
        state
    }
}
