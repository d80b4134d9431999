//! An executor-like workload: K executors each looping claim → complete, with close sweeps.
//!
//! The store is seeded with root tasks and with parents whose children are tasks too. Executor
//! `i` owns shard `i` of `K` (durable-execution scales executors the same way), claims with the
//! start-at selector, completes each claimed task with an update by id, and every
//! `sweep_every` cycles runs the close sweeps of its shard: the decrement sweep over finished
//! children and the claim of parents whose children all closed. After the timed part, the
//! sweeps are drained untimed and every parent is checked to have reached `acc = 0`, so the
//! figure is only printed for a run whose bookkeeping came out right.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use durable_execution_storage_convex::*;
use serde::Serialize;

use crate::fixtures::{child_execution, now_ms, ready_execution, touch};

/// How many executions the untimed drain claims per shard and call.
const DRAIN_CLAIM_LIMIT: u32 = 10;

/// The shape of one executor run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExecutorWorkload {
    /// Simulated executors, one shard each.
    pub executors: u32,
    /// Root tasks seeded.
    pub roots: usize,
    /// Parents seeded, each waiting for `children_per_parent` children.
    pub parents: usize,
    /// Children per parent.
    pub children_per_parent: usize,
    /// How many executions one claim may return.
    pub claim_limit: u32,
    /// Run the close sweeps after this many cycles.
    pub sweep_every: u64,
    /// Stop claiming after this long (the run also stops when the work runs out).
    #[serde(skip)]
    pub duration: Duration,
}

/// What one executor run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutorResult {
    /// Claim + complete cycles finished in the timed part.
    pub cycles: u64,
    /// Length of the timed part in seconds.
    pub seconds: f64,
    /// Completed tasks per second.
    pub cycles_per_s: f64,
    /// Finished executions (roots and children) closed by the decrement sweep, timed and drain.
    pub closed_by_sweep: u64,
    /// Parents claimed by the acc-zero selector once all children closed.
    pub parents_finished: u64,
}

/// Seeds the store, runs the executors, drains the sweeps and checks the bookkeeping.
pub async fn run(
    connect: &dyn Fn(Vec<u32>) -> Result<Arc<dyn TaskExecutionsStorage>>,
    workload: ExecutorWorkload,
) -> Result<ExecutorResult> {
    let all_shards: Vec<u32> = (0..workload.executors).collect();
    let seeder = connect(all_shards.clone())?;
    seed(seeder.as_ref(), workload).await?;

    let cycles = Arc::new(AtomicU64::new(0));
    let closed_by_sweep = Arc::new(AtomicU64::new(0));
    let parents_finished = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut executors = Vec::new();
    for shard in 0..workload.executors {
        let storage = connect(vec![shard])?;
        let (cycles, closed_by_sweep, parents_finished) = (
            cycles.clone(),
            closed_by_sweep.clone(),
            parents_finished.clone(),
        );
        executors.push(tokio::spawn(async move {
            let mut mine = 0u64;
            let mut idle_rounds = 0u32;
            while started.elapsed() < workload.duration {
                let claimed = claim(storage.as_ref(), workload.claim_limit).await?;
                if claimed.is_empty() {
                    idle_rounds += 1;
                    // Finished children become sweepable 50 ms after their last write; an
                    // executor with nothing to claim sweeps, then rests briefly.
                    sweep(storage.as_ref(), &closed_by_sweep, &parents_finished).await?;
                    if idle_rounds > 200 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                idle_rounds = 0;
                complete(storage.as_ref(), &claimed).await?;
                mine += claimed.len() as u64;
                cycles.fetch_add(claimed.len() as u64, Ordering::Relaxed);
                if mine % workload.sweep_every < claimed.len() as u64 {
                    sweep(storage.as_ref(), &closed_by_sweep, &parents_finished).await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for executor in executors {
        executor.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let timed_cycles = cycles.load(Ordering::Relaxed);

    // Untimed drain: finish everything, then check that every parent's count reached zero.
    let drain = connect(all_shards)?;
    let drain_started = Instant::now();
    loop {
        let claimed = claim(drain.as_ref(), DRAIN_CLAIM_LIMIT).await?;
        complete(drain.as_ref(), &claimed).await?;
        tokio::time::sleep(Duration::from_millis(60)).await;
        let closed_before = closed_by_sweep.load(Ordering::Relaxed);
        let finished_before = parents_finished.load(Ordering::Relaxed);
        sweep(drain.as_ref(), &closed_by_sweep, &parents_finished).await?;
        let progressed = closed_by_sweep.load(Ordering::Relaxed) > closed_before
            || parents_finished.load(Ordering::Relaxed) > finished_before;
        if claimed.is_empty() && !progressed {
            break;
        }
        ensure!(
            drain_started.elapsed() < Duration::from_secs(600),
            "drain did not finish"
        );
    }
    let parents = drain
        .get_many_by_id(
            (0..workload.parents)
                .map(|i| GetByIdRequest {
                    execution_id: format!("exec-parent-{i}"),
                    filters: None,
                })
                .collect(),
        )
        .await?;
    for (i, parent) in parents.iter().enumerate() {
        let parent = parent
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("parent {i} is missing"))?;
        ensure!(
            parent.active_children_count == 0,
            "parent {i} ended with acc {} (expected 0)",
            parent.active_children_count
        );
    }
    Ok(ExecutorResult {
        cycles: timed_cycles,
        seconds,
        cycles_per_s: timed_cycles as f64 / seconds.max(1e-9),
        closed_by_sweep: closed_by_sweep.load(Ordering::Relaxed),
        parents_finished: parents_finished.load(Ordering::Relaxed),
    })
}

async fn seed(storage: &dyn TaskExecutionsStorage, workload: ExecutorWorkload) -> Result<()> {
    let roots: Vec<_> = (0..workload.roots)
        .map(|i| ready_execution(format!("exec-root-{i}"), 128))
        .collect();
    for chunk in roots.chunks(500) {
        storage.insert_many(chunk.to_vec()).await?;
    }
    let parents: Vec<_> = (0..workload.parents)
        .map(|i| {
            let mut parent = ready_execution(format!("exec-parent-{i}"), 16);
            parent.status = TaskExecutionStatus::Running;
            parent.start_at = crate::fixtures::FAR_FUTURE_MS;
            parent
        })
        .collect();
    storage.insert_many(parents.clone()).await?;
    for chunk in parents.chunks(20) {
        let requests = chunk
            .iter()
            .map(|parent| {
                let mut update = touch(now_ms());
                update.status = Some(TaskExecutionStatus::WaitingForChildren);
                update.active_children_count = Some(workload.children_per_parent as i64);
                UpdateByIdAndInsertChildrenRequest {
                    execution_id: parent.execution_id.clone(),
                    filters: None,
                    update,
                    children_task_executions_to_insert_if_any_updated: (0..workload
                        .children_per_parent)
                        .map(|j| {
                            child_execution(
                                parent,
                                format!("{}-child-{j}", parent.execution_id),
                                j as i64,
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        storage
            .update_many_by_id_and_insert_children_if_updated(requests)
            .await?;
    }
    Ok(())
}

async fn claim(
    storage: &dyn TaskExecutionsStorage,
    limit: u32,
) -> Result<Vec<TaskExecutionStorageValue>> {
    let now = now_ms();
    let mut update = touch(now);
    update.status = Some(TaskExecutionStatus::Running);
    update.executor_id = Some("bench-executor".to_string());
    update.started_at = Some(now);
    Ok(storage
        .update_by_status_and_start_at_less_than_and_return(
            UpdateByStatusAndStartAtLessThanRequest {
                status: TaskExecutionStatus::Ready,
                start_at_less_than: now,
                update,
                update_expires_at_with_started_at: now,
                limit,
            },
        )
        .await?)
}

async fn complete(
    storage: &dyn TaskExecutionsStorage,
    claimed: &[TaskExecutionStorageValue],
) -> Result<()> {
    if claimed.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let requests = claimed
        .iter()
        .map(|execution| {
            let mut update = touch(now);
            update.status = Some(TaskExecutionStatus::Completed);
            update.is_finished = Some(true);
            update.output = Some("done".to_string());
            update.finished_at = Some(now);
            update.close_status = Some(TaskExecutionCloseStatus::Ready);
            update.unset = Some(TaskExecutionStorageUnset {
                executor_id: true,
                expires_at: true,
                ..Default::default()
            });
            UpdateByIdRequest {
                execution_id: execution.execution_id.clone(),
                filters: Some(TaskExecutionStorageGetByIdFilters {
                    status: Some(TaskExecutionStatus::Running),
                    ..Default::default()
                }),
                update,
            }
        })
        .collect();
    storage.update_many_by_id(requests).await?;
    Ok(())
}

/// The close sweeps: decrement parents for closed children, then finish parents at acc 0.
async fn sweep(
    storage: &dyn TaskExecutionsStorage,
    closed_by_sweep: &AtomicU64,
    parents_finished: &AtomicU64,
) -> Result<()> {
    let now = now_ms();
    let mut close = touch(now);
    close.close_status = Some(TaskExecutionCloseStatus::Closed);
    close.closed_at = Some(now);
    let closed = storage
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            UpdateAndDecrementParentActiveChildrenCountRequest {
                is_finished: true,
                close_status: TaskExecutionCloseStatus::Ready,
                update: close,
                limit: 100,
            },
        )
        .await?;
    closed_by_sweep.fetch_add(closed, Ordering::Relaxed);

    let mut finish = touch(now);
    finish.status = Some(TaskExecutionStatus::Completed);
    finish.is_finished = Some(true);
    finish.on_children_finished_processing_status =
        Some(OnChildrenFinishedProcessingStatus::Processed);
    finish.close_status = Some(TaskExecutionCloseStatus::Closed);
    let parents = storage
        .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
            UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
                status: TaskExecutionStatus::WaitingForChildren,
                on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
                update: finish,
                limit: 100,
            },
        )
        .await?;
    parents_finished.fetch_add(parents.len() as u64, Ordering::Relaxed);
    Ok(())
}
