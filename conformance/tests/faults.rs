//! The fault property and its mutant, and a crashed holder's lock taken over: an executor-like
//! workload over the adapter against an emulator that injects faults, on its manual clock (no
//! sleeps). See `convex_storage_conformance::faults` for the workload and the invariants.
//!
//! `CONFORMANCE_FAULT_RUNS` scales the property; a failure prints the one command line that
//! replays it (`CONFORMANCE_FAULT_SEED`, `CONFORMANCE_FAULT_PLAN`).

use convex_storage_conformance::faults::{
    replay_from_env, runs_from_env, FaultBed, Injected, InsertRetry, Plan, Rule, RunFailure,
    Trigger,
};
use durable_execution_storage_convex::{
    NewTaskExecution, TaskExecutionStatus, TaskExecutionStorageUpdate, TaskExecutionStorageValue,
    UpdateByStatusAndStartAtLessThanRequest,
};

/// Runs of the property by default; each is a few dozen calls.
const RUNS: u64 = 1_000;
/// From this many runs on, the property also checks that every kind of fault was injected.
const RUNS_CHECKING_FAULTS: u64 = 100;
/// Emulators the property's runs are spread over, each running its share one after another
/// (a run is sequential; two emulators keep both cores busy while a client waits).
const BEDS: u64 = 2;
/// Runs the blind-retry mutant may survive before the test fails.
const MUTANT_RUNS: u64 = 400;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds")
}

/// Runs `seeds` (or the replayed run) with `insert_retry`; the first failure, shrunk.
async fn first_failure(
    bed: &FaultBed,
    seeds: std::ops::Range<u64>,
    insert_retry: InsertRetry,
) -> Option<RunFailure> {
    first_failure_of(bed, seeds, insert_retry, &mut Injected::new()).await
}

/// [`first_failure`] over any seeds, adding the faults injected by passing runs to `injected`.
async fn first_failure_of(
    bed: &FaultBed,
    seeds: impl Iterator<Item = u64>,
    insert_retry: InsertRetry,
    injected: &mut Injected,
) -> Option<RunFailure> {
    if let Some((seed, plan)) = replay_from_env() {
        let failure = bed.run(seed, plan, insert_retry).await.err()?;
        return Some(bed.shrink(failure, insert_retry).await);
    }
    for seed in seeds {
        match bed.run(seed, None, insert_retry).await {
            Ok(run) => {
                for (kind, n) in run {
                    *injected.entry(kind).or_default() += n;
                }
            }
            Err(failure) => return Some(bed.shrink(failure, insert_retry).await),
        }
    }
    None
}

#[test]
fn fault_property() {
    let runs = runs_from_env(RUNS);
    let beds = if replay_from_env().is_some() { 1 } else { BEDS };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(beds as usize)
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let failures = runtime.block_on(async {
        let mut shares = tokio::task::JoinSet::new();
        for bed in 0..beds {
            // Bed `b` runs the seeds b, b + beds, b + 2 beds, ...
            let seeds = (0..runs).filter(move |seed| seed % beds == bed);
            shares.spawn(async move {
                let bed = FaultBed::start().unwrap_or_else(|e| panic!("{e}"));
                let mut injected = Injected::new();
                let failure =
                    first_failure_of(&bed, seeds, InsertRetry::SameIds, &mut injected).await;
                (failure, injected)
            });
        }
        let (mut failures, mut injected) = (Vec::new(), Injected::new());
        while let Some(share) = shares.join_next().await {
            let (failure, share_injected) = share.expect("a share of the runs finishes");
            failures.extend(failure);
            for (kind, n) in share_injected {
                *injected.entry(kind).or_default() += n;
            }
        }
        (failures, injected)
    });
    let (failures, injected) = failures;
    if let Some(failure) = failures.into_iter().min_by_key(|f| f.seed) {
        panic!(
            "{failure}\nreplay: {}",
            failure.replay_command("fault_property")
        );
    }
    eprintln!("fault property: {runs} runs passed; faults injected: {injected:?}");
    // A property that passes because nothing was injected proves nothing.
    if runs >= RUNS_CHECKING_FAULTS && replay_from_env().is_none() {
        for kind in ["fail", "occ", "drop", "hold"] {
            assert!(
                injected.get(kind).copied().unwrap_or(0) > 0,
                "no `{kind}` fault was injected in {runs} runs: {injected:?}"
            );
        }
    }
}

#[test]
fn a_blind_retry_of_a_lost_insert_is_caught() {
    runtime().block_on(async {
        let bed = FaultBed::start().unwrap_or_else(|e| panic!("{e}"));
        let Some(failure) = first_failure(&bed, 0..MUTANT_RUNS, InsertRetry::FreshIds).await else {
            panic!("the blind insert retry survived {MUTANT_RUNS} runs");
        };
        eprintln!(
            "caught: {failure}\nreplay: {}",
            failure.replay_command("a_blind_retry_of_a_lost_insert_is_caught")
        );
        assert!(
            failure.message.contains("stored twice"),
            "caught for the wrong reason: {failure}"
        );
        assert_eq!(
            failure.plan.rules.len(),
            1,
            "shrunk to the one rule that matters"
        );
        assert_eq!(failure.plan.rules[0].function, "insertMany");
        assert_eq!(failure.plan.rules[0].fault, "drop");
    });
}

#[test]
fn a_crashed_holders_lock_is_taken_over_once_60_seconds_pass() {
    runtime().block_on(async {
        let bed = FaultBed::start().unwrap_or_else(|e| panic!("{e}"));
        let storage = bed.storage();
        let clock = bed.clock();
        storage.delete_all().await.unwrap();
        let value = TaskExecutionStorageValue::create(NewTaskExecution {
            timeout_ms: 1_000,
            ..NewTaskExecution::new("task", "held", "input")
        });
        storage.insert_many(vec![value]).await.unwrap();
        clock.pass(100).await.unwrap();
        let claim = || async {
            let now = clock.now_ms().await.unwrap();
            storage
                .update_by_status_and_start_at_less_than_and_return(
                    UpdateByStatusAndStartAtLessThanRequest {
                        status: TaskExecutionStatus::Ready,
                        start_at_less_than: now,
                        update: TaskExecutionStorageUpdate {
                            status: Some(TaskExecutionStatus::Running),
                            updated_at: now,
                            ..TaskExecutionStorageUpdate::default()
                        },
                        update_expires_at_with_started_at: now,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
        };
        // A holder takes the claim lock and crashes: it never releases it.
        let crash = Plan {
            seed: 1,
            rules: vec![Rule {
                function: "updateByStatusAndStartAtLessThanAndReturn".to_string(),
                fault: "hold".to_string(),
                trigger: Trigger::Every(1),
            }],
        };
        bed.set_plan(&crash).await.unwrap();
        assert!(claim().await.is_empty(), "the crashed holder has the lock");
        bed.set_plan(&Plan {
            seed: 1,
            rules: vec![],
        })
        .await
        .unwrap();
        assert!(claim().await.is_empty(), "still held");
        clock.pass(59_999).await.unwrap();
        assert!(claim().await.is_empty(), "held until its expiry");
        clock.pass(1).await.unwrap();
        let taken_over = claim().await;
        assert_eq!(
            taken_over
                .iter()
                .map(|v| v.execution_id.as_str())
                .collect::<Vec<_>>(),
            ["held"],
            "the next caller takes the lock over"
        );
        let report = bed.report().await.unwrap();
        assert_eq!(report["calls"], 3, "{report}");
    });
}
