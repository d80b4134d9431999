//! The suite must be able to fail: each test here wraps a correct store in a mutant that gets
//! one rule of SPEC.md wrong, runs the model-based property against it, and expects the
//! property to catch the mutant (and print a shrunk case). The stores are in memory, on a
//! manual clock the harness moves with the model's (no pauses), driven like a real backend.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use convex_storage_conformance::backend::{wall_clock_ms, BackendClock};
use convex_storage_conformance::model::harness::Compare;
use convex_storage_conformance::model::runner::{run_property, PropertyConfig};
use convex_storage_conformance::model::side::{BackendSide, Side};
use convex_storage_conformance::testing::STEPS_MAX;
use durable_execution_storage_convex::*;

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

struct Mutant {
    inner: InMemoryTaskExecutionsStorage,
    mutation: Mutation,
}

impl Mutant {
    /// A mutant on `clock` (ms), which the harness moves.
    fn new(mutation: Mutation, clock: Arc<AtomicI64>) -> Self {
        let inner = InMemoryTaskExecutionsStorage::with_options(InMemoryOptions {
            total_shards: 2,
            shards: None,
            clock: Some(Arc::new(move || clock.load(Ordering::SeqCst))),
            shard_for: Some(Arc::new(|_: &str| 0)),
        })
        .expect("valid options");
        Self { inner, mutation }
    }
}

#[async_trait]
impl TaskExecutionsStorage for Mutant {
    async fn insert_many(
        &self,
        executions: Vec<TaskExecutionStorageValue>,
    ) -> Result<(), StorageError> {
        if self.mutation == Mutation::InsertNotAtomic {
            for e in executions {
                self.inner.insert_many(vec![e]).await?;
            }
            return Ok(());
        }
        self.inner.insert_many(executions).await
    }
    async fn get_many_by_id(
        &self,
        mut requests: Vec<GetByIdRequest>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        if self.mutation == Mutation::ReadIgnoresFilters {
            requests.iter_mut().for_each(|r| r.filters = None);
        }
        self.inner.get_many_by_id(requests).await
    }
    async fn get_many_by_sleeping_task_unique_id(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<Option<TaskExecutionStorageValue>>, StorageError> {
        self.inner.get_many_by_sleeping_task_unique_id(ids).await
    }
    async fn update_many_by_id(
        &self,
        mut requests: Vec<UpdateByIdRequest>,
    ) -> Result<(), StorageError> {
        if self.mutation == Mutation::UpdateIgnoresUnset {
            requests.iter_mut().for_each(|r| r.update.unset = None);
        }
        self.inner.update_many_by_id(requests).await
    }
    async fn update_many_by_id_and_insert_children_if_updated(
        &self,
        requests: Vec<UpdateByIdAndInsertChildrenRequest>,
    ) -> Result<(), StorageError> {
        self.inner
            .update_many_by_id_and_insert_children_if_updated(requests)
            .await
    }
    async fn update_by_status_and_start_at_less_than_and_return(
        &self,
        request: UpdateByStatusAndStartAtLessThanRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        self.inner
            .update_by_status_and_start_at_less_than_and_return(request)
            .await
    }
    async fn update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
        &self,
        request: UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        self.inner.update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(request).await
    }
    async fn update_by_close_status_and_return(
        &self,
        mut request: UpdateByCloseStatusRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        if self.mutation == Mutation::CloseClaimLimitPlusOne {
            request.limit += 1;
        }
        self.inner.update_by_close_status_and_return(request).await
    }
    async fn update_by_status_and_is_sleeping_task_and_expires_at_less_than(
        &self,
        mut request: UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        if self.mutation == Mutation::ExpirySweepInclusive {
            request.expires_at_less_than += 1;
        }
        self.inner
            .update_by_status_and_is_sleeping_task_and_expires_at_less_than(request)
            .await
    }
    async fn update_by_on_children_finished_processing_expires_at_less_than(
        &self,
        request: UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        self.inner
            .update_by_on_children_finished_processing_expires_at_less_than(request)
            .await
    }
    async fn update_by_close_expires_at_less_than(
        &self,
        request: UpdateByCloseExpiresAtLessThanRequest,
    ) -> Result<u64, StorageError> {
        self.inner
            .update_by_close_expires_at_less_than(request)
            .await
    }
    async fn update_by_executor_id_and_needs_promise_cancellation_and_return(
        &self,
        request: UpdateByExecutorIdAndNeedsPromiseCancellationRequest,
    ) -> Result<Vec<TaskExecutionStorageValue>, StorageError> {
        self.inner
            .update_by_executor_id_and_needs_promise_cancellation_and_return(request)
            .await
    }
    async fn get_many_by_parent_execution_id(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<Vec<TaskExecutionStorageValue>>, StorageError> {
        self.inner.get_many_by_parent_execution_id(ids).await
    }
    async fn update_many_by_parent_execution_id_and_is_finished(
        &self,
        requests: Vec<UpdateByParentExecutionIdAndIsFinishedRequest>,
    ) -> Result<(), StorageError> {
        self.inner
            .update_many_by_parent_execution_id_and_is_finished(requests)
            .await
    }
    async fn update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
        &self,
        mut request: UpdateAndDecrementParentActiveChildrenCountRequest,
    ) -> Result<u64, StorageError> {
        if self.mutation == Mutation::SweepLimitNotDivided {
            // Two shards divide the limit by two; doubling it undoes the division.
            request.limit *= 2;
        }
        self.inner
            .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                request,
            )
            .await
    }
    async fn delete_by_id(&self, execution_id: &str) -> Result<(), StorageError> {
        self.inner.delete_by_id(execution_id).await
    }
    async fn delete_all(&self) -> Result<(), StorageError> {
        self.inner.delete_all().await
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
    let side: Box<dyn Side> = Box::new(
        BackendSide::new(
            "mutant",
            Arc::new(Mutant::new(mutation, clock.clone())),
            runtime,
        )
        .on_clock(BackendClock::Memory(clock)),
    );
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
