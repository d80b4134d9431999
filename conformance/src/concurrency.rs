//! Concurrency properties: what the executor relies on when many workers share a store
//! (SPEC.md section 7). They run against the emulator by default (and the reference server,
//! which serializes every call), and through the command-line runner against anything.
//!
//! 4. **Claims are exclusive.** Many claimers over a pool of ready executions: every execution
//!    is claimed exactly once, none twice, none lost. Claimers loop until all are claimed,
//!    because a busy lock answers `[]` at once; how often that happened is reported (it is how
//!    the lock rule shows itself without an API to hold a lock).
//! 5. **Decrements are never lost.** Concurrent decrement sweeps over the children of several
//!    parents: the counts add up to the number of children, every parent's `acc` ends at
//!    exactly 0 and is never seen below 0.
//! 6. **One insert wins.** Concurrent inserts of the same execution id: exactly one succeeds,
//!    every other one fails with `Execution id already exists`.
//!
//! Every loop is bounded in calls; none of the checks depends on timing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use durable_execution_storage_convex::{
    TaskExecutionCloseStatus as Close, TaskExecutionStatus as Status, TaskExecutionsStorage,
};
use tokio::task::JoinSet;

use crate::backend::{Backend, ClientOptions};
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;
use crate::operation::Operation;
use crate::scenarios::support::*;

/// Sizes of the concurrency properties.
#[derive(Debug, Clone)]
pub struct ConcurrencyConfig {
    /// Concurrent claimers, sweepers and inserters.
    pub workers: usize,
    /// Ready executions the claimers share.
    pub rows: usize,
    /// Parents of the decrement property.
    pub parents: usize,
    /// Children per parent.
    pub children_per_parent: usize,
    /// Rounds of concurrent duplicate inserts.
    pub insert_rounds: usize,
    /// Total shards of every client (claims and sweeps fan out over them).
    pub total_shards: u32,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        Self {
            workers: 8,
            rows: 60,
            parents: 3,
            children_per_parent: 8,
            insert_rounds: 5,
            total_shards: 2,
        }
    }
}

/// Calls a worker may make before the property gives up as "lost rows", per row.
const CALLS_PER_ROW_MAX: usize = 200;

/// What one concurrency property observed.
#[derive(Debug, Clone)]
pub struct ConcurrencyReport {
    pub name: &'static str,
    pub operation: Operation,
    pub calls: usize,
    /// Calls that answered nothing although work remained (a busy lock, or another worker won).
    pub empty_answers: usize,
    pub took: Duration,
}

/// Property 4: every ready execution is claimed exactly once.
pub async fn claims_are_exclusive(
    backend: &Backend,
    config: &ConcurrencyConfig,
) -> Result<ConcurrencyReport, ConformanceError> {
    let started = Instant::now();
    let options = ClientOptions::shards(config.total_shards);
    let placing = backend.client(&options)?;
    placing.delete_all().await.during("deleteAll")?;
    let ids: Vec<String> = (0..config.rows).map(|i| format!("claim-{i:04}")).collect();
    placing
        .insert_many(ids.iter().map(|id| minimal_execution(id)).collect())
        .await
        .during("insertMany")?;

    let remaining = Arc::new(AtomicUsize::new(config.rows));
    let mut workers = JoinSet::new();
    for worker in 0..config.workers {
        let client = backend.client(&options)?;
        let remaining = remaining.clone();
        let limit = 1 + (worker % 3) as u32;
        let calls_max = config.rows * CALLS_PER_ROW_MAX / config.workers.max(1);
        workers.spawn(async move {
            let mut mine = Vec::new();
            let (mut calls, mut empty) = (0, 0);
            let mut u = touch(PAST_MS);
            u.status = Some(Status::Running);
            u.executor_id = Some(format!("worker-{worker}"));
            while remaining.load(Ordering::SeqCst) > 0 && calls < calls_max {
                calls += 1;
                let claimed = client
                    .update_by_status_and_start_at_less_than_and_return(requests::start_at(
                        Status::Ready,
                        2 * F0,
                        &u,
                        F0,
                        limit,
                    ))
                    .await?;
                if claimed.is_empty() {
                    empty += 1;
                    tokio::task::yield_now().await;
                }
                // Saturating: a row claimed twice (the bug this looks for) must not wrap around.
                let n = claimed.len();
                let _ = remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                    Some(r.saturating_sub(n))
                });
                mine.extend(claimed.into_iter().map(|v| v.execution_id));
            }
            Ok::<_, durable_execution_storage_convex::StorageError>((mine, calls, empty))
        });
    }
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    let (mut calls, mut empty) = (0, 0);
    while let Some(joined) = workers.join_next().await {
        let (mine, c, e) = joined
            .map_err(|e| ConformanceError::check(format!("a claimer panicked: {e}")))?
            .during("start-at claim")?;
        calls += c;
        empty += e;
        for id in mine {
            *owners.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<&String> = owners
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    ensure(
        twice.is_empty(),
        format!("claimed more than once: {twice:?}"),
    )?;
    let lost: Vec<&String> = ids.iter().filter(|id| !owners.contains_key(*id)).collect();
    ensure(
        lost.is_empty(),
        format!("never claimed after {calls} calls: {lost:?}"),
    )?;
    ensure_eq("claimed rows", &config.rows, &owners.len())?;
    Ok(ConcurrencyReport {
        name: "claims_are_exclusive",
        operation: Operation::UpdateByStatusAndStartAtLessThanAndReturn,
        calls,
        empty_answers: empty,
        took: started.elapsed(),
    })
}

/// Property 5: concurrent decrement sweeps never lose a decrement nor go below zero.
pub async fn decrements_are_never_lost(
    backend: &Backend,
    config: &ConcurrencyConfig,
) -> Result<ConcurrencyReport, ConformanceError> {
    let started = Instant::now();
    let options = ClientOptions::shards(config.total_shards);
    let placing = backend.client(&options)?;
    placing.delete_all().await.during("deleteAll")?;
    let parents: Vec<String> = (0..config.parents).map(|i| format!("parent-{i}")).collect();
    let mut rows = Vec::new();
    for p in &parents {
        let mut v = minimal_execution(p);
        v.active_children_count = config.children_per_parent as i64;
        rows.push(v);
    }
    placing.insert_many(rows).await.during("insertMany")?;
    for p in &parents {
        let kids = (0..config.children_per_parent)
            .map(|i| {
                let mut c = child_execution(&format!("{p}-child-{i}"), p, i as i64, false, false);
                c.is_finished = true;
                c.close_status = Close::Ready;
                c
            })
            .collect();
        insert_children(&*placing, p, kids).await?;
    }
    backend.wait_until_stale().await?;

    let total = config.parents * config.children_per_parent;
    let closed = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for worker in 0..config.workers {
        let client = backend.client(&options)?;
        let closed = closed.clone();
        let limit = 1 + (worker % 2) as u32;
        let calls_max = total * CALLS_PER_ROW_MAX / config.workers.max(1);
        workers.spawn(async move {
            let (mut calls, mut empty) = (0, 0);
            let mut u = touch(PAST_MS);
            u.close_status = Some(Close::Closed);
            while closed.load(Ordering::SeqCst) < total && calls < calls_max {
                calls += 1;
                let n = client
                    .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(requests::decrement(
                        true,
                        Close::Ready,
                        &u,
                        limit,
                    ))
                    .await?;
                if n == 0 {
                    empty += 1;
                    tokio::task::yield_now().await;
                }
                closed.fetch_add(n as usize, Ordering::SeqCst);
            }
            Ok::<_, durable_execution_storage_convex::StorageError>((calls, empty))
        });
    }
    // A watcher reads the parents while the sweeps run: acc must never be seen below 0.
    let watcher_client = backend.client(&options)?;
    let watched_parents = parents.clone();
    let watcher_closed = closed.clone();
    let watcher = tokio::spawn(async move {
        let refs: Vec<&str> = watched_parents.iter().map(String::as_str).collect();
        let mut lowest = i64::MAX;
        for _ in 0..total * CALLS_PER_ROW_MAX {
            if watcher_closed.load(Ordering::SeqCst) >= total {
                break;
            }
            if let Ok(rows) = read(&*watcher_client, &refs).await {
                for row in rows.into_iter().flatten() {
                    lowest = lowest.min(row.active_children_count);
                }
            }
            tokio::task::yield_now().await;
        }
        lowest
    });
    let (mut calls, mut empty) = (0, 0);
    while let Some(joined) = workers.join_next().await {
        let (c, e) = joined
            .map_err(|e| ConformanceError::check(format!("a sweeper panicked: {e}")))?
            .during("decrement sweep")?;
        calls += c;
        empty += e;
    }
    let lowest = watcher
        .await
        .map_err(|e| ConformanceError::check(format!("the watcher panicked: {e}")))?;
    ensure(lowest >= 0, format!("a parent's acc was seen at {lowest}"))?;
    ensure_eq(
        "children closed, summed over the sweeps' counts",
        &total,
        &closed.load(Ordering::SeqCst),
    )?;
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    let accs: Vec<Option<i64>> = read(&*placing, &refs)
        .await?
        .iter()
        .map(|v| v.as_ref().map(|v| v.active_children_count))
        .collect();
    ensure_eq("every parent's acc", &vec![Some(0); parents.len()], &accs)?;
    Ok(ConcurrencyReport {
        name: "decrements_are_never_lost",
        operation: Operation::UpdateAndDecrementParentACCByIsFinishedAndCloseStatus,
        calls,
        empty_answers: empty,
        took: started.elapsed(),
    })
}

/// Property 6: of concurrent inserts of one execution id, exactly one wins.
pub async fn one_insert_wins(
    backend: &Backend,
    config: &ConcurrencyConfig,
) -> Result<ConcurrencyReport, ConformanceError> {
    let started = Instant::now();
    let options = ClientOptions::shards(config.total_shards);
    backend
        .client(&options)?
        .delete_all()
        .await
        .during("deleteAll")?;
    let mut calls = 0;
    for round in 0..config.insert_rounds {
        let id = format!("contested-{round}");
        let mut inserters = JoinSet::new();
        for worker in 0..config.workers {
            let client: Arc<dyn TaskExecutionsStorage> = backend.client(&options)?;
            let mut v = minimal_execution(&id);
            v.input = format!("worker-{worker}");
            inserters.spawn(async move { (worker, client.insert_many(vec![v]).await) });
        }
        let mut winners = Vec::new();
        while let Some(joined) = inserters.join_next().await {
            calls += 1;
            let (worker, result) = joined
                .map_err(|e| ConformanceError::check(format!("an inserter panicked: {e}")))?;
            match result {
                Ok(()) => winners.push(worker),
                Err(e) if e.thrown_message().as_deref() == Some("Execution id already exists") => {}
                Err(e) => {
                    return Err(ConformanceError::Storage {
                        operation: "insertMany".into(),
                        source: e,
                    })
                }
            }
        }
        ensure(
            winners.len() == 1,
            format!(
                "round {round}: {} inserts of {id} succeeded: {winners:?}",
                winners.len()
            ),
        )?;
        let stored = read_one(&*backend.storage()?, &id).await?;
        ensure_eq(
            &format!("round {round}: the stored row is the winner's"),
            &format!("worker-{}", winners[0]),
            &stored.input,
        )?;
    }
    Ok(ConcurrencyReport {
        name: "one_insert_wins",
        operation: Operation::InsertMany,
        calls,
        empty_answers: 0,
        took: started.elapsed(),
    })
}
