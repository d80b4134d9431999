//! The suite must be able to fail: each test here puts a correct store behind a mutant side
//! that gets one rule of docs/SPEC.md wrong (by rewriting the calls it breaks), runs the
//! model-based property against it, and expects the property to catch the mutant (and print a
//! shrunk case). The stores are in memory, on a manual clock the harness moves with the
//! model's (no pauses), driven like a real backend.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convex_storage_conformance::backend::{wall_clock_ms, BackendClock};
use convex_storage_conformance::model::harness::Compare;
use convex_storage_conformance::model::runner::{run_property, PropertyConfig};
use convex_storage_conformance::model::side::{BackendSide, Side};
use convex_storage_conformance::model::transition::Transition;
use convex_storage_conformance::testing::STEPS_MAX;
use durable_execution_storage_convex::{InMemoryOptions, InMemoryTaskExecutionsStorage};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

/// Cases a mutant may survive before the test fails; most die in the first few.
const CASES: u32 = 300;
/// Shrinking time per mutant, in milliseconds: enough for a short case, not for polish.
const SHRINK_TIME_MS: u32 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mutation {
    /// The close-status claim takes one row more than its limit.
    CloseClaimLimitPlusOne,
    /// `updateManyById` drops the unset flags.
    UpdateIgnoresUnset,
    /// `getManyById` ignores the filters.
    ReadIgnoresFilters,
    /// `insertMany` inserts item by item, so a failing batch leaves its earlier items.
    InsertNotAtomic,
    /// The expiry sweep compares `<=` instead of `<`.
    ExpirySweepInclusive,
    /// The decrement sweep's limit is not divided over the shards.
    SweepLimitNotDivided,
}

/// A correct in-memory store behind a side that rewrites the transitions its mutation gets
/// wrong before they reach the store. Working on transitions, not on the storage trait, it
/// names only the operations it breaks.
struct MutantSide {
    store: BackendSide,
    mutation: Mutation,
}

impl MutantSide {
    /// A mutant on `clock` (ms), which the harness moves.
    fn new(mutation: Mutation, clock: Arc<AtomicI64>, runtime: Arc<Runtime>) -> Self {
        let reading = clock.clone();
        let inner = InMemoryTaskExecutionsStorage::with_options(InMemoryOptions {
            total_shards: 2,
            shards: None,
            clock: Some(Arc::new(move || reading.load(Ordering::SeqCst))),
            shard_for: Some(Arc::new(|_: &str| 0)),
        })
        .expect("valid options");
        let store = BackendSide::new("mutant", Arc::new(inner), runtime)
            .on_clock(BackendClock::Memory(clock));
        Self { store, mutation }
    }

    /// `transition` as the mutant runs it.
    fn mutate(&self, transition: &Transition) -> Transition {
        let mut mutated = transition.clone();
        match (self.mutation, &mut mutated) {
            (Mutation::CloseClaimLimitPlusOne, Transition::ClaimByCloseStatus { limit, .. }) => {
                *limit += 1;
            }
            (Mutation::UpdateIgnoresUnset, Transition::UpdateManyById { requests }) => {
                requests.iter_mut().for_each(|r| r.update.unset = None);
            }
            (Mutation::ReadIgnoresFilters, Transition::GetManyById { requests }) => {
                requests.iter_mut().for_each(|r| r.filters = None);
            }
            (
                Mutation::ExpirySweepInclusive,
                Transition::ExpireByStatusAndIsSleepingTask {
                    expires_at_less_than,
                    ..
                },
            ) => *expires_at_less_than += 1,
            (
                Mutation::SweepLimitNotDivided,
                Transition::CloseAndDecrementParents { limit, .. },
            ) => {
                // Two shards divide the limit by two; doubling it undoes the division.
                *limit *= 2;
            }
            _ => {}
        }
        mutated
    }
}

impl Side for MutantSide {
    fn name(&self) -> &str {
        self.store.name()
    }

    fn reset(&mut self) -> Result<(), String> {
        self.store.reset()
    }

    fn apply(&mut self, transition: &Transition) -> (Value, Instant, Duration) {
        match (self.mutation, transition) {
            // Item by item: a failing item leaves the items before it.
            (Mutation::InsertNotAtomic, Transition::InsertMany { executions }) => {
                let started = Instant::now();
                let mut answer = json!({ "ok": null });
                for execution in executions {
                    let one = Transition::InsertMany {
                        executions: vec![execution.clone()],
                    };
                    answer = self.store.apply(&one).0;
                    if answer.get("ok").is_none() {
                        break;
                    }
                }
                let answered_at = Instant::now();
                (answer, answered_at, answered_at - started)
            }
            _ => {
                let mutated = self.mutate(transition);
                self.store.apply(&mutated)
            }
        }
    }

    fn rows(&mut self) -> Value {
        self.store.rows()
    }

    fn has_manual_clock(&self) -> bool {
        self.store.has_manual_clock()
    }

    fn advance_clock(&mut self, ms: u64) -> Result<(), String> {
        self.store.advance_clock(ms)
    }
}

fn expect_caught(mutation: Mutation) {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    let clock = Arc::new(AtomicI64::new(wall_clock_ms()));
    let side: Box<dyn Side> = Box::new(MutantSide::new(mutation, clock, runtime));
    let config = PropertyConfig {
        cases: CASES,
        steps_max: STEPS_MAX,
        seed: [7; 32],
        regressions: None,
        compare: Compare::ModelAgainstSides,
        shrink_time_max_ms: SHRINK_TIME_MS,
    };
    match run_property(&config, vec![side]) {
        Ok(stats) => panic!(
            "{mutation:?} survived {} cases ({} steps)",
            stats.cases, stats.steps
        ),
        Err(failure) => eprintln!("{mutation:?} caught:\n{failure}"),
    }
}

#[test]
fn close_claim_limit_plus_one_is_caught() {
    expect_caught(Mutation::CloseClaimLimitPlusOne);
}

#[test]
fn update_ignoring_unset_is_caught() {
    expect_caught(Mutation::UpdateIgnoresUnset);
}

#[test]
fn read_ignoring_filters_is_caught() {
    expect_caught(Mutation::ReadIgnoresFilters);
}

#[test]
fn non_atomic_insert_is_caught() {
    expect_caught(Mutation::InsertNotAtomic);
}

#[test]
fn inclusive_expiry_sweep_is_caught() {
    expect_caught(Mutation::ExpirySweepInclusive);
}

#[test]
fn undivided_sweep_limit_is_caught() {
    expect_caught(Mutation::SweepLimitNotDivided);
}
