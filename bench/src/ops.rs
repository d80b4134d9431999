//! Per-operation latency: every one of the 17 operations, at concurrency 1 and 16.
//!
//! Each operation runs against a seeded store in a way that keeps its work the same from the
//! first call to the last: the selectors update only `updatedAt` (or re-clamp an expiry), so the
//! rows they pick become selectable again instead of running out; inserts and deletes use fresh
//! ids. A run lasts `duration` or `max_calls` calls, whichever comes first, after a short warm-up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use convex_storage_operations::Operation;
use durable_execution_storage_convex::*;
use rand::Rng;

use crate::fixtures::{child_execution, now_ms, ready_execution, touch, FAR_FUTURE_MS, PAST_MS};
use crate::stats::{summarize, LatencySummary};

/// How many rows of each kind the store holds while the operations run.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    /// Ready roots for the start-at claim, and by-id reads and updates.
    pub ready: usize,
    /// Parents, each with `children_per_parent` finished children inserted by the parent.
    pub parents: usize,
    /// Children per parent.
    pub children_per_parent: usize,
    /// Rows for each of the other selectors (sleeping, running, waiting, npc).
    pub per_selector: usize,
    /// Rows that `delete_by_id` may delete.
    pub deletable: usize,
}

/// Fills an empty store with the rows the operations work on.
pub async fn seed(storage: &dyn TaskExecutionsStorage, seed: Seed) -> Result<usize> {
    let mut batch = Vec::new();
    for i in 0..seed.ready {
        batch.push(ready_execution(format!("ready-{i}"), 256));
    }
    for i in 0..seed.per_selector {
        let mut sleeping = ready_execution(format!("sleep-{i}"), 16);
        sleeping.is_sleeping_task = true;
        sleeping.sleeping_task_unique_id = Some(format!("sleep-uid-{i}"));
        sleeping.status = TaskExecutionStatus::Running;
        sleeping.expires_at = Some(FAR_FUTURE_MS);
        batch.push(sleeping);

        // Running past its expiry, ready to close: the expiry sweep and the close-status claim.
        let mut running = ready_execution(format!("run-{i}"), 16);
        running.status = TaskExecutionStatus::Running;
        running.expires_at = Some(PAST_MS);
        running.close_status = TaskExecutionCloseStatus::Ready;
        running.close_expires_at = Some(PAST_MS);
        batch.push(running);

        // Waiting for children that all finished: the ocfp claim and the ocfp expiry sweep.
        let mut waiting = ready_execution(format!("wfc-{i}"), 16);
        waiting.status = TaskExecutionStatus::WaitingForChildren;
        waiting.on_children_finished_processing_expires_at = Some(PAST_MS);
        batch.push(waiting);

        let mut npc = ready_execution(format!("npc-{i}"), 16);
        npc.status = TaskExecutionStatus::Running;
        npc.executor_id = Some("bench-executor".to_string());
        npc.needs_promise_cancellation = true;
        batch.push(npc);
    }
    for i in 0..seed.deletable {
        let mut row = ready_execution(format!("del-{i}"), 16);
        row.status = TaskExecutionStatus::Completed;
        row.start_at = FAR_FUTURE_MS;
        batch.push(row);
    }
    let mut parents = Vec::new();
    for i in 0..seed.parents {
        let mut parent = ready_execution(format!("parent-{i}"), 16);
        parent.status = TaskExecutionStatus::Running;
        parent.start_at = FAR_FUTURE_MS;
        // Large enough that the decrement sweep never brings it near zero during a run.
        parent.active_children_count = 1_000_000_000;
        parents.push(parent.clone());
        batch.push(parent);
    }
    let total = batch.len() + seed.parents * seed.children_per_parent;
    for chunk in batch.chunks(500) {
        storage.insert_many(chunk.to_vec()).await?;
    }
    for chunk in parents.chunks(20) {
        let requests = chunk
            .iter()
            .map(|parent| UpdateByIdAndInsertChildrenRequest {
                execution_id: parent.execution_id.clone(),
                filters: None,
                update: touch(now_ms()),
                children_task_executions_to_insert_if_any_updated: (0..seed.children_per_parent)
                    .map(|j| {
                        let mut child = child_execution(
                            parent,
                            format!("{}-child-{j}", parent.execution_id),
                            j as i64,
                        );
                        child.status = TaskExecutionStatus::Completed;
                        child.is_finished = true;
                        child.close_status = TaskExecutionCloseStatus::Ready;
                        child
                    })
                    .collect(),
            })
            .collect();
        storage
            .update_many_by_id_and_insert_children_if_updated(requests)
            .await?;
    }
    Ok(total)
}

/// Shared state of one operation run: counters that make ids unique across workers.
struct RunState {
    seed: Seed,
    next_id: AtomicU64,
    next_delete: AtomicU64,
    run_tag: String,
}

/// A uniformly random index below `n` (the generator is not held across an await).
fn pick(range: std::ops::Range<usize>) -> usize {
    rand::thread_rng().gen_range(range)
}

/// Runs one call of `op`.
async fn call_once(
    storage: &dyn TaskExecutionsStorage,
    op: Operation,
    state: &RunState,
) -> Result<()> {
    let now = now_ms();
    match op {
        Operation::InsertMany => {
            let n = state.next_id.fetch_add(1, Ordering::Relaxed);
            let mut row = ready_execution(format!("ins-{}-{n}", state.run_tag), 256);
            row.start_at = FAR_FUTURE_MS;
            storage.insert_many(vec![row]).await?;
        }
        Operation::GetManyById => {
            let i = pick(0..state.seed.ready);
            storage
                .get_many_by_id(vec![GetByIdRequest {
                    execution_id: format!("ready-{i}"),
                    filters: None,
                }])
                .await?;
        }
        Operation::GetManyBySleepingTaskUniqueId => {
            let i = pick(0..state.seed.per_selector);
            storage
                .get_many_by_sleeping_task_unique_id(vec![format!("sleep-uid-{i}")])
                .await?;
        }
        Operation::UpdateManyById => {
            let i = pick(0..state.seed.ready);
            let mut update = touch(now);
            update.run_output = Some("bench".to_string());
            storage
                .update_many_by_id(vec![UpdateByIdRequest {
                    execution_id: format!("ready-{i}"),
                    filters: None,
                    update,
                }])
                .await?;
        }
        Operation::UpdateManyByIdAndInsertChildrenIfUpdated => {
            let i = pick(0..state.seed.parents);
            let n = state.next_id.fetch_add(1, Ordering::Relaxed);
            let parent = ready_execution(format!("parent-{i}"), 0);
            let mut child = child_execution(&parent, format!("extra-{}-{n}", state.run_tag), 0);
            child.status = TaskExecutionStatus::Completed;
            child.start_at = FAR_FUTURE_MS;
            storage
                .update_many_by_id_and_insert_children_if_updated(vec![
                    UpdateByIdAndInsertChildrenRequest {
                        execution_id: parent.execution_id,
                        filters: None,
                        update: touch(now),
                        children_task_executions_to_insert_if_any_updated: vec![child],
                    },
                ])
                .await?;
        }
        Operation::UpdateByStatusAndStartAtLessThanAndReturn => {
            // Claim one and push its start back by the store's clamp, so it comes round again.
            let mut update = touch(now);
            update.executor_id = Some("bench-claimer".to_string());
            update.start_at = Some(PAST_MS);
            storage
                .update_by_status_and_start_at_less_than_and_return(
                    UpdateByStatusAndStartAtLessThanRequest {
                        status: TaskExecutionStatus::Ready,
                        start_at_less_than: now,
                        update,
                        update_expires_at_with_started_at: now,
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::UpdateByStatusAndOCFPStatusAndACCZeroAndReturn => {
            storage
                .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
                    UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
                        status: TaskExecutionStatus::WaitingForChildren,
                        on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
                        update: touch(now),
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::UpdateByCloseStatusAndReturn => {
            storage
                .update_by_close_status_and_return(UpdateByCloseStatusRequest {
                    close_status: TaskExecutionCloseStatus::Ready,
                    update: touch(now),
                    limit: 1,
                })
                .await?;
        }
        Operation::UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan => {
            let mut update = touch(now);
            update.expires_at = Some(PAST_MS);
            storage
                .update_by_status_and_is_sleeping_task_and_expires_at_less_than(
                    UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                        status: TaskExecutionStatus::Running,
                        is_sleeping_task: false,
                        expires_at_less_than: FAR_FUTURE_MS,
                        update,
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::UpdateByOCFPExpiresAt => {
            let mut update = touch(now);
            update.on_children_finished_processing_expires_at = Some(PAST_MS);
            storage
                .update_by_on_children_finished_processing_expires_at_less_than(
                    UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
                        on_children_finished_processing_expires_at_less_than: FAR_FUTURE_MS,
                        update,
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::UpdateByCloseExpiresAt => {
            let mut update = touch(now);
            update.close_expires_at = Some(PAST_MS);
            storage
                .update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
                    close_expires_at_less_than: FAR_FUTURE_MS,
                    update,
                    limit: 1,
                })
                .await?;
        }
        Operation::UpdateByExecutorIdAndNPCAndReturn => {
            storage
                .update_by_executor_id_and_needs_promise_cancellation_and_return(
                    UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
                        executor_id: "bench-executor".to_string(),
                        needs_promise_cancellation: true,
                        update: touch(now),
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::GetManyByParentExecutionId => {
            let i = pick(0..state.seed.parents);
            storage
                .get_many_by_parent_execution_id(vec![format!("parent-{i}")])
                .await?;
        }
        Operation::UpdateManyByParentExecutionIdAndIsFinished => {
            let i = pick(0..state.seed.parents);
            storage
                .update_many_by_parent_execution_id_and_is_finished(vec![
                    UpdateByParentExecutionIdAndIsFinishedRequest {
                        parent_execution_id: format!("parent-{i}"),
                        is_finished: true,
                        update: touch(now),
                    },
                ])
                .await?;
        }
        Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus => {
            storage
                .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
                    UpdateAndDecrementParentActiveChildrenCountRequest {
                        is_finished: true,
                        close_status: TaskExecutionCloseStatus::Ready,
                        update: touch(now),
                        limit: 1,
                    },
                )
                .await?;
        }
        Operation::DeleteById => {
            let n = state.next_delete.fetch_add(1, Ordering::Relaxed);
            storage.delete_by_id(&format!("del-{n}")).await?;
        }
        Operation::DeleteAll => storage.delete_all().await?,
    }
    Ok(())
}

/// How long and how hard one operation is driven.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Stop after this long.
    pub duration: Duration,
    /// Or after this many calls, whichever comes first.
    pub max_calls: usize,
    /// Untimed calls before the clock starts.
    pub warmup_calls: usize,
}

/// Drives `op` from `concurrency` workers and summarizes the latencies.
pub async fn run_operation(
    storage: Arc<dyn TaskExecutionsStorage>,
    op: Operation,
    concurrency: usize,
    limits: RunLimits,
    seed: Seed,
    delete_cursor: &AtomicU64,
) -> Result<LatencySummary> {
    let state = Arc::new(RunState {
        seed,
        next_id: AtomicU64::new(0),
        next_delete: AtomicU64::new(delete_cursor.load(Ordering::Relaxed)),
        run_tag: format!("{op}-{concurrency}-{}", now_ms()),
    });
    // delete_by_id may use up at most half the deletable rows per run, so both runs delete real rows.
    let max_calls = if op == Operation::DeleteById {
        limits.max_calls.min(seed.deletable / 2)
    } else {
        limits.max_calls
    };
    for _ in 0..limits.warmup_calls.min(max_calls / 10) {
        if op != Operation::DeleteById {
            call_once(storage.as_ref(), op, &state).await?;
        }
    }
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let storage = storage.clone();
        let state = state.clone();
        let issued = issued.clone();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while started.elapsed() < limits.duration
                && (issued.fetch_add(1, Ordering::Relaxed) as usize) < max_calls
            {
                let t = Instant::now();
                call_once(storage.as_ref(), op, &state).await?;
                samples.push(t.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await??);
    }
    let wall = started.elapsed();
    delete_cursor.store(state.next_delete.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(summarize(samples, wall))
}
