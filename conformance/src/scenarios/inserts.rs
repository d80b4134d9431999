//! `insertMany`: round trip, empty batches, duplicate ids within a batch and across calls.

use durable_execution_storage_convex::{
    DurableExecutionErrorStorageValue, DurableExecutionErrorType,
    OnChildrenFinishedProcessingStatus, ParentTaskExecutionSummary, TaskExecutionCloseStatus,
    TaskExecutionStatus, TaskExecutionSummary, TaskRetryOptions,
};

use super::support::*;
use super::{scenario, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    let f = Family::Inserts;
    vec![
        scenario!(f, insert_round_trips_every_field, [InsertMany, GetManyById]),
        scenario!(f, insert_of_an_empty_batch_changes_nothing, [InsertMany]),
        scenario!(f, duplicate_id_within_a_batch_inserts_nothing, [InsertMany]),
        scenario!(f, duplicate_id_across_calls_inserts_nothing, [InsertMany]),
        scenario!(
            f,
            duplicate_sleeping_task_unique_id_inserts_nothing,
            [InsertMany]
        ),
        scenario!(
            f,
            empty_sleeping_task_unique_id_is_not_unique,
            [InsertMany, GetManyBySleepingTaskUniqueId]
        ),
        scenario!(
            f,
            execution_id_is_checked_before_sleeping_task_unique_id,
            [InsertMany]
        ),
    ]
}

/// A value with every optional field present and only future-band timestamps.
fn full_value(id: &str) -> durable_execution_storage_convex::TaskExecutionStorageValue {
    let mut v = execution(id);
    v.root = Some(TaskExecutionSummary {
        task_id: "root-task".into(),
        execution_id: "root-exec".into(),
    });
    v.parent = Some(ParentTaskExecutionSummary {
        task_id: "parent-task".into(),
        execution_id: "parent-exec".into(),
        index_in_parent_children: 2,
        is_only_child_of_parent: false,
        is_finalize_of_parent: true,
    });
    v.is_sleeping_task = true;
    v.sleeping_task_unique_id = Some(format!("sleep-{id}"));
    v.retry_options = TaskRetryOptions {
        max_attempts: 5,
        base_delay_ms: Some(100),
        max_delay_ms: Some(10_000),
        delay_multiplier: Some(1.5),
    };
    v.sleep_ms_before_run = 250;
    v.timeout_ms = 30_000;
    v.are_children_sequential = true;
    v.input = "{\"a\":[1,2,3],\"s\":\"ü\"}".into();
    v.executor_id = Some("executor-1".into());
    v.status = TaskExecutionStatus::WaitingForChildren;
    v.is_finished = false;
    v.run_output = Some("run-output".into());
    v.output = Some("output".into());
    v.error = Some(DurableExecutionErrorStorageValue {
        error_type: DurableExecutionErrorType::TimedOut,
        message: "took too long".into(),
        is_retryable: true,
        is_internal: false,
    });
    v.retry_attempts = 2;
    v.start_at = F0;
    v.started_at = Some(F0 + 1);
    v.expires_at = Some(F0 + 2);
    v.waiting_for_children_started_at = Some(F0 + 3);
    v.waiting_for_finalize_started_at = Some(F0 + 4);
    v.finished_at = Some(F0 + 5);
    v.children = Some(vec![
        TaskExecutionSummary {
            task_id: "c".into(),
            execution_id: "c1".into(),
        },
        TaskExecutionSummary {
            task_id: "c".into(),
            execution_id: "c2".into(),
        },
    ]);
    v.active_children_count = 2;
    v.on_children_finished_processing_status = OnChildrenFinishedProcessingStatus::Processing;
    v.on_children_finished_processing_expires_at = Some(F0 + 6);
    v.on_children_finished_processing_finished_at = Some(F0 + 7);
    v.finalize = Some(TaskExecutionSummary {
        task_id: "fin".into(),
        execution_id: "fin-1".into(),
    });
    v.close_status = TaskExecutionCloseStatus::Closing;
    v.close_expires_at = Some(F0 + 8);
    v.closed_at = Some(F0 + 9);
    v.needs_promise_cancellation = true;
    v.created_at = PAST;
    v.updated_at = PAST;
    v
}

async fn insert_round_trips_every_field(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let value = full_value("a");
    let plain = execution("b");
    let before = ctx.now_ms().await?;
    s.insert_many(vec![value.clone(), plain.clone()])
        .await
        .during("insertMany")?;
    let after = ctx.now_ms().await?;
    let got = read(&*s, &["a", "b"]).await?;
    let a = got[0]
        .clone()
        .ok_or_else(|| ConformanceError::check("a is missing"))?;
    let b = got[1]
        .clone()
        .ok_or_else(|| ConformanceError::check("b is missing"))?;
    ensure(
        a.created_at == a.updated_at,
        format!("createdAt {} != updatedAt {}", a.created_at, a.updated_at),
    )?;
    if ctx.shares_clock() {
        ensure(
            within(a.created_at, before, after, WRITE_NOW_OFFSET_MS),
            format!(
                "createdAt {} is not the insert's clock + 50 ms (clock was {before}..={after})",
                a.created_at
            ),
        )?;
    }
    let mut expected = value;
    expected.created_at = a.created_at;
    expected.updated_at = a.updated_at;
    ensure_eq("the full value read back", &expected, &a)?;
    let mut expected = plain;
    expected.created_at = b.created_at;
    expected.updated_at = b.updated_at;
    expected.start_at = b.created_at;
    ensure_eq(
        "the plain value read back (startAt 0 is clamped at insert)",
        &expected,
        &b,
    )
}

async fn insert_of_an_empty_batch_changes_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    s.insert_many(vec![]).await.during("insertMany([])")?;
    s.insert_many(vec![execution("a")])
        .await
        .during("insertMany")?;
    s.insert_many(vec![]).await.during("insertMany([])")?;
    let got = read(&*s, &["a"]).await?;
    ensure(got[0].is_some(), "a is missing after an empty insert")
}

async fn duplicate_id_within_a_batch_inserts_nothing(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let result = s
        .insert_many(vec![execution("a"), execution("b"), execution("a")])
        .await;
    ensure_thrown(
        "insertMany([a, b, a])",
        result,
        "Execution id already exists",
    )?;
    ensure_eq(
        "rows after the failed batch",
        &vec![None::<()>, None],
        &read(&*s, &["a", "b"]).await?,
    )
}

async fn duplicate_id_across_calls_inserts_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut first = execution("a");
    first.input = "first".into();
    s.insert_many(vec![first]).await.during("insertMany([a])")?;
    let mut second = execution("a");
    second.input = "second".into();
    let result = s.insert_many(vec![execution("b"), second]).await;
    ensure_thrown(
        "insertMany([b, a]) after a",
        result,
        "Execution id already exists",
    )?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(got[1].is_none(), "b was inserted although its batch failed")?;
    ensure_eq(
        "a's input",
        &"first",
        &got[0].as_ref().map(|v| v.input.clone()),
    )
}

async fn duplicate_sleeping_task_unique_id_inserts_nothing(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let sleeping = |id: &str, unique: &str| {
        let mut v = execution(id);
        v.is_sleeping_task = true;
        v.sleeping_task_unique_id = Some(unique.to_string());
        v
    };
    let result = s
        .insert_many(vec![sleeping("a", "s0"), sleeping("b", "s0")])
        .await;
    ensure_thrown(
        "two sleeping tasks with one unique id in a batch",
        result,
        "Sleeping task unique id already exists",
    )?;
    ensure_eq(
        "rows after the failed batch",
        &vec![None::<()>, None],
        &read(&*s, &["a", "b"]).await?,
    )?;
    s.insert_many(vec![sleeping("a", "s0")])
        .await
        .during("insertMany([a(s0)])")?;
    let result = s
        .insert_many(vec![sleeping("c", "s1"), sleeping("d", "s0")])
        .await;
    ensure_thrown(
        "a unique id stored by an earlier call",
        result,
        "Sleeping task unique id already exists",
    )?;
    let got = read(&*s, &["a", "c", "d"]).await?;
    ensure(
        got[0].is_some() && got[1].is_none() && got[2].is_none(),
        format!("rows a, c, d: {got:?}"),
    )
}

async fn empty_sleeping_task_unique_id_is_not_unique(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = execution("a");
    a.sleeping_task_unique_id = Some(String::new());
    let mut b = execution("b");
    b.sleeping_task_unique_id = Some(String::new());
    s.insert_many(vec![a]).await.during("insertMany([a('')])")?;
    s.insert_many(vec![b]).await.during("insertMany([b('')])")?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(
        got.iter().all(Option::is_some),
        "both executions with an empty unique id must be stored",
    )?;
    let by_unique = s
        .get_many_by_sleeping_task_unique_id(vec![String::new()])
        .await
        .during("getManyBySleepingTaskUniqueId([''])")?;
    ensure_eq(
        "the lookup of '' answers the oldest row with it",
        &vec![Some("a".to_string())],
        &by_unique
            .iter()
            .map(|v| v.as_ref().map(|v| v.execution_id.clone()))
            .collect::<Vec<_>>(),
    )
}

async fn execution_id_is_checked_before_sleeping_task_unique_id(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = execution("a");
    a.sleeping_task_unique_id = Some("s0".into());
    s.insert_many(vec![a.clone()])
        .await
        .during("insertMany([a(s0)])")?;
    ensure_thrown(
        "the same execution again",
        s.insert_many(vec![a]).await,
        "Execution id already exists",
    )
}
