//! Behaviour checks over any `&dyn TaskExecutionsStorage`: the same source runs against the
//! in-memory model, the emulator and the reference server (see `tests/backends.rs`).
//!
//! Each check starts from an empty store and uses real clocks, so timestamps are chosen to be
//! unambiguous: "past" values are tiny (always clamped to the store's now), "future" values are
//! [`FUTURE_MS`] and up (never clamped, never stale), and before a stale-row selector the check
//! waits [`STALE_WAIT_MS`] so every earlier write is stale.

#![allow(dead_code)] // Each test crate that includes this uses a different part of it.

use anyhow::{bail, ensure, Context, Result};
use durable_execution_storage_convex::*;

use super::values::*;

/// One named check.
pub struct Check {
    /// The check's function name.
    pub name: &'static str,
    /// Runs it against a store that starts empty.
    pub run: for<'a> fn(&'a dyn TaskExecutionsStorage) -> BoxFuture<'a, Result<()>>,
}

/// A boxed future borrowing the storage.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

macro_rules! check_list {
    ($($name:ident),* $(,)?) => {
        vec![$(Check { name: stringify!($name), run: |s| Box::pin($name(s)) }),*]
    };
}

/// Every check, in a fixed order.
pub fn all() -> Vec<Check> {
    check_list![
        empty_inputs,
        insert_and_read_back_every_field,
        special_float_multipliers_round_trip,
        get_by_id_filters,
        duplicate_execution_ids_fail_the_whole_batch,
        sleeping_task_unique_ids,
        update_by_id_clamps_sets_and_unsets,
        children_inserted_with_their_parent,
        update_children_by_parent_and_is_finished,
        start_at_claim,
        acc_zero_claim,
        close_status_claim,
        expiry_sweeps,
        executor_claim,
        decrement_sweep,
        deletes,
    ]
}

macro_rules! ensure_eq {
    ($left:expr, $right:expr $(, $($context:tt)+)?) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            bail!(
                "{} != {}{}\n  left: {:?}\n right: {:?}",
                stringify!($left),
                stringify!($right),
                "" $(.to_string() + ": " + &format!($($context)+))?,
                left,
                right
            );
        }
    }};
}

async fn get(s: &dyn TaskExecutionsStorage, id: &str) -> Result<TaskExecutionStorageValue> {
    s.get_many_by_id(vec![by_id(id)])
        .await?
        .remove(0)
        .with_context(|| format!("{id} is missing"))
}

async fn exists(s: &dyn TaskExecutionsStorage, id: &str) -> Result<bool> {
    Ok(s.get_many_by_id(vec![by_id(id)]).await?.remove(0).is_some())
}

fn thrown(result: Result<(), StorageError>) -> Result<String> {
    match result {
        Ok(()) => bail!("expected a rejection, got success"),
        Err(error) => error
            .thrown_message()
            .with_context(|| format!("not a function error: {error:?}")),
    }
}

async fn empty_inputs(s: &dyn TaskExecutionsStorage) -> Result<()> {
    s.insert_many(vec![]).await?;
    ensure_eq!(s.get_many_by_id(vec![]).await?.len(), 0);
    ensure_eq!(
        s.get_many_by_sleeping_task_unique_id(vec![]).await?.len(),
        0
    );
    ensure_eq!(s.get_many_by_parent_execution_id(vec![]).await?.len(), 0);
    s.update_many_by_id(vec![]).await?;
    s.update_many_by_id_and_insert_children_if_updated(vec![])
        .await?;
    s.update_many_by_parent_execution_id_and_is_finished(vec![])
        .await?;
    Ok(())
}

async fn insert_and_read_back_every_field(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let before = clock_ms();
    let inserted = vec![full("full"), ready("plain")];
    s.insert_many(inserted.clone()).await?;
    for value in inserted {
        let stored = get(s, &value.execution_id).await?;
        ensure!(
            stored.created_at == stored.updated_at,
            "createdAt = updatedAt at insert: {stored:?}"
        );
        ensure!(
            stored.created_at >= before,
            "createdAt {} is set by the store",
            stored.created_at
        );
        let mut expected = TaskExecutionStorageValue {
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            ..value
        };
        if expected.start_at == 0 {
            expected.start_at = stored.created_at; // A past startAt is raised to now.
        }
        ensure_eq!(stored, expected);
    }
    Ok(())
}

async fn special_float_multipliers_round_trip(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let multipliers = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 2.0, 0.1];
    let values: Vec<TaskExecutionStorageValue> = multipliers
        .iter()
        .enumerate()
        .map(|(i, &multiplier)| {
            let mut value = ready(&format!("m{i}"));
            value.retry_options.delay_multiplier = Some(multiplier);
            value
        })
        .collect();
    s.insert_many(values).await?;
    for (i, multiplier) in multipliers.iter().enumerate() {
        let back = get(s, &format!("m{i}"))
            .await?
            .retry_options
            .delay_multiplier;
        ensure_eq!(
            back.map(f64::to_bits),
            Some(multiplier.to_bits()),
            "multiplier {multiplier}"
        );
    }
    Ok(())
}

async fn get_by_id_filters(s: &dyn TaskExecutionsStorage) -> Result<()> {
    s.insert_many(vec![ready("e1")]).await?;
    let filters = |is_sleeping_task, status, is_finished| {
        Some(TaskExecutionStorageGetByIdFilters {
            is_sleeping_task,
            status,
            is_finished,
        })
    };
    let cases = [
        (
            filters(Some(false), Some(TaskExecutionStatus::Ready), Some(false)),
            true,
        ),
        (filters(None, None, None), true),
        (filters(Some(true), None, None), false),
        (
            filters(None, Some(TaskExecutionStatus::Running), None),
            false,
        ),
        (filters(None, None, Some(true)), false),
    ];
    for (filters, found) in cases {
        let got = s
            .get_many_by_id(vec![
                by_id("missing"),
                GetByIdRequest {
                    execution_id: "e1".into(),
                    filters: filters.clone(),
                },
            ])
            .await?;
        ensure_eq!(got.len(), 2);
        ensure!(got[0].is_none(), "a missing id reads as None");
        ensure_eq!(got[1].is_some(), found, "filters {filters:?}");
    }
    Ok(())
}

async fn duplicate_execution_ids_fail_the_whole_batch(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let message = thrown(
        s.insert_many(vec![ready("a"), ready("b"), ready("a")])
            .await,
    )?;
    ensure_eq!(message, "Execution id already exists");
    ensure!(
        !exists(s, "a").await? && !exists(s, "b").await?,
        "nothing of the failed batch was inserted"
    );

    s.insert_many(vec![ready("a")]).await?;
    let message = thrown(s.insert_many(vec![ready("c"), ready("a")]).await)?;
    ensure_eq!(message, "Execution id already exists");
    ensure!(
        !exists(s, "c").await?,
        "nothing of the failed batch was inserted"
    );
    Ok(())
}

async fn sleeping_task_unique_ids(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let sleeping = |id: &str, unique: &str| TaskExecutionStorageValue {
        is_sleeping_task: true,
        status: TaskExecutionStatus::Running,
        sleeping_task_unique_id: Some(unique.into()),
        ..ready(id)
    };
    s.insert_many(vec![
        sleeping("a", "u1"),
        sleeping("b", ""),
        sleeping("c", ""),
    ])
    .await?;
    let message = thrown(
        s.insert_many(vec![sleeping("d", "u2"), sleeping("e", "u1")])
            .await,
    )?;
    ensure_eq!(message, "Sleeping task unique id already exists");
    let message = thrown(
        s.insert_many(vec![sleeping("d", "u3"), sleeping("e", "u3")])
            .await,
    )?;
    ensure_eq!(message, "Sleeping task unique id already exists");
    ensure!(
        !exists(s, "d").await?,
        "nothing of the failed batches was inserted"
    );

    let found = s
        .get_many_by_sleeping_task_unique_id(vec!["u1".into(), "nope".into()])
        .await?;
    let found: Vec<Option<String>> = found
        .into_iter()
        .map(|v| v.map(|v| v.execution_id))
        .collect();
    ensure_eq!(found, vec![Some("a".to_string()), None]);
    Ok(())
}

async fn update_by_id_clamps_sets_and_unsets(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let mut value = ready("e1");
    value.executor_id = Some("old".into());
    value.close_expires_at = Some(FUTURE_MS);
    s.insert_many(vec![value, ready("e2")]).await?;
    let before = clock_ms();
    let update = TaskExecutionStorageUpdate {
        executor_id: Some("new".into()),
        status: Some(TaskExecutionStatus::Running),
        start_at: Some(1),
        started_at: Some(0),
        finished_at: Some(FUTURE_MS),
        expires_at: Some(5),
        waiting_for_children_started_at: Some(6),
        output: Some("out".into()),
        updated_at: 7,
        unset: Some(TaskExecutionStorageUnset {
            executor_id: true,
            close_expires_at: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    s.update_many_by_id(vec![
        UpdateByIdRequest {
            execution_id: "e1".into(),
            filters: None,
            update: update.clone(),
        },
        UpdateByIdRequest {
            execution_id: "e2".into(),
            filters: Some(TaskExecutionStorageGetByIdFilters {
                is_finished: Some(true),
                ..Default::default()
            }),
            update: update.clone(),
        },
        UpdateByIdRequest {
            execution_id: "missing".into(),
            filters: None,
            update,
        },
    ])
    .await?;

    let stored = get(s, "e1").await?;
    let now = stored.updated_at;
    ensure!(
        now >= before + 50,
        "updatedAt {now} is raised to the store's now (clock + 50)"
    );
    ensure_eq!(stored.status, TaskExecutionStatus::Running);
    ensure_eq!(stored.output.as_deref(), Some("out"));
    ensure_eq!(stored.start_at, now, "a past startAt becomes now");
    ensure_eq!(stored.started_at, Some(0), "0 is never clamped");
    ensure_eq!(stored.finished_at, Some(FUTURE_MS));
    ensure_eq!(
        stored.expires_at,
        Some(now + 1_000),
        "a past expiry becomes now + 1000"
    );
    ensure_eq!(
        stored.waiting_for_children_started_at,
        Some(6),
        "not a clamped field"
    );
    ensure_eq!(
        stored.executor_id,
        None,
        "unset wins over a value in the same update"
    );
    ensure_eq!(stored.close_expires_at, None);
    ensure_eq!(
        get(s, "e2").await?.status,
        TaskExecutionStatus::Ready,
        "filtered out"
    );
    ensure!(!exists(s, "missing").await?, "an update never inserts");
    Ok(())
}

/// Inserts `parent` and, through its update, `children` (finished and ready to close): the
/// executor's way, which links each child to its parent's document.
async fn spawn(
    s: &dyn TaskExecutionsStorage,
    parent: &str,
    acc: i64,
    children: Vec<TaskExecutionStorageValue>,
) -> Result<()> {
    s.insert_many(vec![TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        ..ready(parent)
    }])
    .await?;
    s.update_many_by_id_and_insert_children_if_updated(vec![UpdateByIdAndInsertChildrenRequest {
        execution_id: parent.into(),
        filters: Some(TaskExecutionStorageGetByIdFilters {
            status: Some(TaskExecutionStatus::Running),
            ..Default::default()
        }),
        update: TaskExecutionStorageUpdate {
            status: Some(TaskExecutionStatus::WaitingForChildren),
            active_children_count: Some(acc),
            ..touch()
        },
        children_task_executions_to_insert_if_any_updated: children,
    }])
    .await?;
    Ok(())
}

fn finished_child(
    parent: &str,
    id: &str,
    index: i64,
    only: bool,
    finalize: bool,
) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue {
        status: TaskExecutionStatus::Completed,
        is_finished: true,
        close_status: TaskExecutionCloseStatus::Ready,
        ..child(parent, id, index, only, finalize)
    }
}

async fn children_inserted_with_their_parent(s: &dyn TaskExecutionsStorage) -> Result<()> {
    spawn(
        s,
        "p",
        3,
        vec![
            finished_child("p", "c0", 0, false, false),
            child("p", "c1", 1, false, false),
        ],
    )
    .await?;
    spawn(s, "q", 1, vec![]).await?;
    // Filtered out (p is no longer running): neither update nor children.
    s.update_many_by_id_and_insert_children_if_updated(vec![UpdateByIdAndInsertChildrenRequest {
        execution_id: "p".into(),
        filters: Some(TaskExecutionStorageGetByIdFilters {
            status: Some(TaskExecutionStatus::Running),
            ..Default::default()
        }),
        update: TaskExecutionStorageUpdate {
            retry_attempts: Some(9),
            ..touch()
        },
        children_task_executions_to_insert_if_any_updated: vec![child(
            "p", "never", 2, false, false,
        )],
    }])
    .await?;
    ensure!(!exists(s, "never").await?);
    // A duplicate child fails the whole call: q's update is undone too.
    let message = thrown(
        s.update_many_by_id_and_insert_children_if_updated(vec![
            UpdateByIdAndInsertChildrenRequest {
                execution_id: "q".into(),
                filters: None,
                update: TaskExecutionStorageUpdate {
                    retry_attempts: Some(4),
                    ..touch()
                },
                children_task_executions_to_insert_if_any_updated: vec![child(
                    "q", "fresh", 0, false, false,
                )],
            },
            UpdateByIdAndInsertChildrenRequest {
                execution_id: "p".into(),
                filters: None,
                update: touch(),
                children_task_executions_to_insert_if_any_updated: vec![child(
                    "p", "c1", 2, false, false,
                )],
            },
        ])
        .await,
    )?;
    ensure_eq!(message, "Execution id already exists");
    ensure_eq!(get(s, "q").await?.retry_attempts, 0);
    ensure!(!exists(s, "fresh").await?);

    s.insert_many(vec![child("p", "c2", 2, false, false)])
        .await?;
    let parent = get(s, "p").await?;
    ensure_eq!(
        (parent.status, parent.active_children_count),
        (TaskExecutionStatus::WaitingForChildren, 3)
    );
    let lists = s
        .get_many_by_parent_execution_id(vec!["p".into(), "q".into(), "none".into()])
        .await?;
    ensure_eq!(lists.len(), 3);
    ensure_eq!(
        ids(&lists[0]),
        vec!["c1", "c2", "c0"],
        "unfinished first, then oldest first"
    );
    ensure_eq!(
        lists[0][0]
            .parent
            .as_ref()
            .map(|p| p.index_in_parent_children),
        Some(1)
    );
    ensure!(lists[1].is_empty() && lists[2].is_empty());
    Ok(())
}

async fn update_children_by_parent_and_is_finished(s: &dyn TaskExecutionsStorage) -> Result<()> {
    spawn(
        s,
        "p",
        2,
        vec![
            child("p", "c0", 0, false, false),
            finished_child("p", "c1", 1, false, false),
            child("p", "c2", 2, false, false),
        ],
    )
    .await?;
    s.insert_many(vec![child("other", "o0", 0, true, false)])
        .await?;
    s.update_many_by_parent_execution_id_and_is_finished(vec![
        UpdateByParentExecutionIdAndIsFinishedRequest {
            parent_execution_id: "p".into(),
            is_finished: false,
            update: TaskExecutionStorageUpdate {
                status: Some(TaskExecutionStatus::Cancelled),
                needs_promise_cancellation: Some(true),
                ..touch()
            },
        },
    ])
    .await?;
    for (id, cancelled) in [("c0", true), ("c1", false), ("c2", true), ("o0", false)] {
        let value = get(s, id).await?;
        ensure_eq!(
            value.status == TaskExecutionStatus::Cancelled,
            cancelled,
            "{id}"
        );
        ensure_eq!(value.needs_promise_cancellation, cancelled, "{id}");
    }
    Ok(())
}

async fn start_at_claim(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let with_timeout = |id: &str, timeout_ms| TaskExecutionStorageValue {
        timeout_ms,
        ..ready(id)
    };
    s.insert_many(vec![
        with_timeout("a", 100),
        with_timeout("b", 200),
        with_timeout("c", 300),
    ])
    .await?;
    s.insert_many(vec![TaskExecutionStorageValue {
        start_at: FUTURE_MS,
        ..ready("later")
    }])
    .await?;
    s.insert_many(vec![TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        ..ready("busy")
    }])
    .await?;
    let update = TaskExecutionStorageUpdate {
        status: Some(TaskExecutionStatus::Running),
        executor_id: Some("executor-1".into()),
        started_at: Some(FUTURE_MS),
        updated_at: 11,
        ..Default::default()
    };
    let claim = |limit| UpdateByStatusAndStartAtLessThanRequest {
        status: TaskExecutionStatus::Ready,
        start_at_less_than: FUTURE_MS,
        update: update.clone(),
        update_expires_at_with_started_at: FUTURE_MS,
        limit,
    };
    let claimed = s
        .update_by_status_and_start_at_less_than_and_return(claim(2))
        .await?;
    ensure_eq!(
        ids(&claimed),
        vec!["a", "b"],
        "equal startAt: oldest first; limit 2"
    );
    for value in &claimed {
        ensure_eq!(value.status, TaskExecutionStatus::Running);
        ensure_eq!(value.executor_id.as_deref(), Some("executor-1"));
        ensure_eq!(value.started_at, Some(FUTURE_MS));
        ensure_eq!(
            value.updated_at,
            11,
            "the client applies the update as given"
        );
        ensure_eq!(value.expires_at, Some(FUTURE_MS + value.timeout_ms));
    }
    let stored = get(s, "b").await?;
    ensure_eq!(stored.status, TaskExecutionStatus::Running);
    ensure_eq!(stored.expires_at, Some(FUTURE_MS + 200));
    ensure!(stored.updated_at > 11, "the store clamps updatedAt");

    let rest = s
        .update_by_status_and_start_at_less_than_and_return(claim(10))
        .await?;
    ensure_eq!(
        ids(&rest),
        vec!["c"],
        "claimed rows are gone; `later` starts too late; `busy` is running"
    );
    ensure!(s
        .update_by_status_and_start_at_less_than_and_return(claim(10))
        .await?
        .is_empty());
    Ok(())
}

async fn acc_zero_claim(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let waiting = |id: &str, acc| TaskExecutionStorageValue {
        status: TaskExecutionStatus::WaitingForChildren,
        active_children_count: acc,
        ..ready(id)
    };
    s.insert_many(vec![waiting("busy", 1), waiting("done", 0)])
        .await?;
    let claim =
        || UpdateByStatusAndOnChildrenFinishedProcessingStatusAndActiveChildrenCountZeroRequest {
            status: TaskExecutionStatus::WaitingForChildren,
            on_children_finished_processing_status: OnChildrenFinishedProcessingStatus::Idle,
            update: TaskExecutionStorageUpdate {
                on_children_finished_processing_status: Some(
                    OnChildrenFinishedProcessingStatus::Processing,
                ),
                on_children_finished_processing_expires_at: Some(FUTURE_MS),
                ..touch()
            },
            limit: 10,
        };
    wait_until_stale().await;
    let claimed = s
        .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(claim())
        .await?;
    ensure_eq!(ids(&claimed), vec!["done"]);
    ensure_eq!(
        claimed[0].on_children_finished_processing_status,
        OnChildrenFinishedProcessingStatus::Processing
    );
    ensure_eq!(
        claimed[0].on_children_finished_processing_expires_at,
        Some(FUTURE_MS)
    );
    let stored = get(s, "done").await?;
    ensure_eq!(
        stored.on_children_finished_processing_status,
        OnChildrenFinishedProcessingStatus::Processing
    );
    wait_until_stale().await;
    let again = s
        .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(claim())
        .await?;
    ensure!(
        again.is_empty(),
        "processing rows are not idle any more: {again:?}"
    );
    Ok(())
}

async fn close_status_claim(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let closing = |id: &str| TaskExecutionStorageValue {
        close_status: TaskExecutionCloseStatus::Ready,
        ..ready(id)
    };
    s.insert_many(vec![
        closing("first"),
        closing("second"),
        closing("pinned"),
        ready("idle"),
    ])
    .await?;
    // Touch `first` a few ms later, so its updatedAt is strictly the latest of the stale rows.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let set_updated_at = |id: &str, updated_at| UpdateByIdRequest {
        execution_id: id.into(),
        filters: None,
        update: TaskExecutionStorageUpdate {
            updated_at,
            ..Default::default()
        },
    };
    s.update_many_by_id(vec![
        set_updated_at("first", 0),
        set_updated_at("pinned", FUTURE_MS),
    ])
    .await?;
    let claim = || UpdateByCloseStatusRequest {
        close_status: TaskExecutionCloseStatus::Ready,
        update: TaskExecutionStorageUpdate {
            close_status: Some(TaskExecutionCloseStatus::Closing),
            ..touch()
        },
        limit: 10,
    };
    wait_until_stale().await;
    let claimed = s.update_by_close_status_and_return(claim()).await?;
    ensure_eq!(
        ids(&claimed),
        vec!["second", "first"],
        "by updatedAt; `pinned` is not stale (updatedAt in the future)"
    );
    ensure!(claimed
        .iter()
        .all(|v| v.close_status == TaskExecutionCloseStatus::Closing));
    ensure_eq!(
        get(s, "second").await?.close_status,
        TaskExecutionCloseStatus::Closing
    );
    ensure_eq!(
        get(s, "pinned").await?.close_status,
        TaskExecutionCloseStatus::Ready
    );
    wait_until_stale().await;
    ensure!(
        s.update_by_close_status_and_return(claim())
            .await?
            .is_empty(),
        "nothing left to claim"
    );
    Ok(())
}

async fn expiry_sweeps(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let expiring = |id: &str, at: Option<i64>| TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        expires_at: at,
        on_children_finished_processing_expires_at: at,
        close_expires_at: at,
        ..ready(id)
    };
    s.insert_many(vec![
        expiring("late", Some(FUTURE_MS + 20)),
        expiring("none", None),
        expiring("zero", Some(0)),
        expiring("early", Some(FUTURE_MS + 10)),
        expiring("beyond", Some(FUTURE_MS + 30)),
        TaskExecutionStorageValue {
            is_sleeping_task: true,
            ..expiring("sleeping", Some(FUTURE_MS))
        },
    ])
    .await?;
    let bound = FUTURE_MS + 30;
    let marked = |retry_attempts| TaskExecutionStorageUpdate {
        retry_attempts: Some(retry_attempts),
        ..touch()
    };
    let marks = |values: Vec<Option<TaskExecutionStorageValue>>| -> Vec<i64> {
        values
            .into_iter()
            .map(|v| v.map_or(-1, |v| v.retry_attempts))
            .collect()
    };
    let all = ["late", "none", "zero", "early", "beyond", "sleeping"]
        .map(by_id)
        .to_vec();

    let count = s
        .update_by_status_and_is_sleeping_task_and_expires_at_less_than(
            UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThanRequest {
                status: TaskExecutionStatus::Running,
                is_sleeping_task: false,
                expires_at_less_than: bound,
                update: marked(1),
                limit: 2,
            },
        )
        .await?;
    ensure_eq!(count, 2);
    ensure_eq!(
        marks(s.get_many_by_id(all.clone()).await?),
        vec![0, 0, 1, 1, 0, 0],
        "0 first, then by expiry"
    );

    let count = s
        .update_by_on_children_finished_processing_expires_at_less_than(
            UpdateByOnChildrenFinishedProcessingExpiresAtLessThanRequest {
                on_children_finished_processing_expires_at_less_than: bound,
                update: marked(2),
                limit: 10,
            },
        )
        .await?;
    ensure_eq!(count, 4, "missing and out-of-range expiries are skipped");
    ensure_eq!(
        marks(s.get_many_by_id(all.clone()).await?),
        vec![2, 0, 2, 2, 0, 2]
    );

    let count = s
        .update_by_close_expires_at_less_than(UpdateByCloseExpiresAtLessThanRequest {
            close_expires_at_less_than: FUTURE_MS + 15,
            update: marked(3),
            limit: 10,
        })
        .await?;
    ensure_eq!(count, 3);
    ensure_eq!(marks(s.get_many_by_id(all).await?), vec![2, 0, 3, 3, 0, 3]);
    Ok(())
}

async fn executor_claim(s: &dyn TaskExecutionsStorage) -> Result<()> {
    let held = |id: &str, executor: Option<&str>, npc| TaskExecutionStorageValue {
        status: TaskExecutionStatus::Running,
        executor_id: executor.map(Into::into),
        needs_promise_cancellation: npc,
        ..ready(id)
    };
    s.insert_many(vec![
        held("a", Some("x"), true),
        held("b", Some("y"), true),
        held("c", Some("x"), false),
        held("d", None, true),
        held("e", Some("x"), true),
    ])
    .await?;
    wait_until_stale().await;
    let claimed = s
        .update_by_executor_id_and_needs_promise_cancellation_and_return(
            UpdateByExecutorIdAndNeedsPromiseCancellationRequest {
                executor_id: "x".into(),
                needs_promise_cancellation: true,
                update: TaskExecutionStorageUpdate {
                    needs_promise_cancellation: Some(false),
                    unset: Some(TaskExecutionStorageUnset {
                        executor_id: true,
                        ..Default::default()
                    }),
                    ..touch()
                },
                limit: 10,
            },
        )
        .await?;
    ensure_eq!(ids(&claimed), vec!["a", "e"]);
    ensure!(claimed
        .iter()
        .all(|v| !v.needs_promise_cancellation && v.executor_id.is_none()));
    let stored = get(s, "a").await?;
    ensure_eq!(
        (stored.needs_promise_cancellation, stored.executor_id),
        (false, None)
    );
    ensure_eq!(get(s, "b").await?.needs_promise_cancellation, true);
    Ok(())
}

async fn decrement_sweep(s: &dyn TaskExecutionsStorage) -> Result<()> {
    spawn(
        s,
        "p1",
        3,
        vec![
            finished_child("p1", "a1", 0, false, false),
            finished_child("p1", "a2", 1, false, false),
        ],
    )
    .await?;
    spawn(
        s,
        "p2",
        1,
        vec![finished_child("p2", "only", 0, true, false)],
    )
    .await?;
    spawn(
        s,
        "p3",
        1,
        vec![finished_child("p3", "fin", 0, false, true)],
    )
    .await?;
    // Inserted directly, so not linked to its parent's document: never decrements.
    s.insert_many(vec![finished_child("p3", "loose", 1, false, false)])
        .await?;
    wait_until_stale().await;
    let before = clock_ms();
    let count = s
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            UpdateAndDecrementParentActiveChildrenCountRequest {
                is_finished: true,
                close_status: TaskExecutionCloseStatus::Ready,
                update: TaskExecutionStorageUpdate {
                    close_status: Some(TaskExecutionCloseStatus::Closed),
                    ..touch()
                },
                limit: 100,
            },
        )
        .await?;
    ensure_eq!(count, 5);
    let p1 = get(s, "p1").await?;
    ensure_eq!(
        p1.active_children_count,
        1,
        "two non-only children decrement by two"
    );
    ensure!(
        p1.updated_at >= before + 50,
        "the parent's updatedAt is the clamped one"
    );
    ensure_eq!(
        get(s, "p2").await?.active_children_count,
        0,
        "an only child zeroes its parent"
    );
    ensure_eq!(
        get(s, "p3").await?.active_children_count,
        1,
        "finalize and unlinked children do not count"
    );
    for id in ["a1", "a2", "only", "fin", "loose"] {
        ensure_eq!(
            get(s, id).await?.close_status,
            TaskExecutionCloseStatus::Closed,
            "{id}"
        );
    }
    wait_until_stale().await;
    let count = s
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            UpdateAndDecrementParentActiveChildrenCountRequest {
                is_finished: true,
                close_status: TaskExecutionCloseStatus::Ready,
                update: touch(),
                limit: 100,
            },
        )
        .await?;
    ensure_eq!(count, 0, "nothing is ready to close any more");
    ensure_eq!(get(s, "p1").await?.active_children_count, 1);
    Ok(())
}

async fn deletes(s: &dyn TaskExecutionsStorage) -> Result<()> {
    /// More than one `deleteAll` batch (100 rows per transaction).
    const ROWS: usize = 150;
    let rows: Vec<TaskExecutionStorageValue> =
        (0..ROWS).map(|i| ready(&format!("row{i}"))).collect();
    s.insert_many(rows).await?;
    s.delete_by_id("row7").await?;
    s.delete_by_id("missing").await?;
    ensure!(!exists(s, "row7").await? && exists(s, "row8").await?);
    s.delete_all().await?;
    let all: Vec<GetByIdRequest> = (0..ROWS).map(|i| by_id(&format!("row{i}"))).collect();
    ensure!(
        s.get_many_by_id(all).await?.iter().all(Option::is_none),
        "every row is gone"
    );
    s.insert_many(vec![ready("row7")]).await?;
    ensure!(exists(s, "row7").await?, "ids are free again");
    Ok(())
}
