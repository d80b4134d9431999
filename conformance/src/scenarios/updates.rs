//! `updateManyById` and `updateManyByIdAndInsertChildrenIfUpdated`: set, unset (unset wins),
//! filters, missing ids, order within a batch, children inserted only with their parent, and
//! atomicity when a child is a duplicate.

use durable_execution_storage_convex::{
    TaskExecutionStatus, TaskExecutionStorageGetByIdFilters, UpdateByIdAndInsertChildrenRequest,
    UpdateByIdRequest,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Updates;
        update_sets_every_field_and_unset_wins: [UpdateManyById],
        updates_skip_missing_and_filtered_out_executions: [UpdateManyById],
        requests_of_one_batch_apply_in_order: [UpdateManyById],
        empty_update_batches_change_nothing: [
            UpdateManyById, UpdateManyByIdAndInsertChildrenIfUpdated,
            UpdateManyByParentExecutionIdAndIsFinished
        ],
        children_are_inserted_only_when_their_parent_is_updated: [
            UpdateManyByIdAndInsertChildrenIfUpdated, GetManyByParentExecutionId
        ],
        a_duplicate_child_rolls_back_the_whole_call: [UpdateManyByIdAndInsertChildrenIfUpdated],
    }
}

async fn update_sets_every_field_and_unset_wins(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("a")]).await?;
    let before = read_one(&*s, "a").await?;
    let u = full_update();
    update_one(&*s, "a", u.clone()).await?;
    let mut expected = before;
    expected.executor_id = u.executor_id.clone();
    expected.status = u.status.expect("full_update sets it");
    expected.is_finished = u.is_finished.expect("full_update sets it");
    expected.run_output = u.run_output.clone();
    expected.output = u.output.clone();
    expected.error = u.error.clone();
    expected.retry_attempts = u.retry_attempts.expect("full_update sets it");
    expected.start_at = u.start_at.expect("full_update sets it");
    expected.started_at = u.started_at;
    expected.expires_at = u.expires_at;
    expected.waiting_for_children_started_at = u.waiting_for_children_started_at;
    expected.waiting_for_finalize_started_at = u.waiting_for_finalize_started_at;
    expected.finished_at = u.finished_at;
    expected.children = u.children.clone();
    expected.active_children_count = u.active_children_count.expect("full_update sets it");
    expected.on_children_finished_processing_status = u
        .on_children_finished_processing_status
        .expect("full_update sets it");
    expected.on_children_finished_processing_expires_at =
        u.on_children_finished_processing_expires_at;
    expected.on_children_finished_processing_finished_at =
        u.on_children_finished_processing_finished_at;
    expected.finalize = u.finalize.clone();
    expected.close_status = u.close_status.expect("full_update sets it");
    expected.close_expires_at = u.close_expires_at;
    expected.closed_at = u.closed_at;
    expected.needs_promise_cancellation =
        u.needs_promise_cancellation.expect("full_update sets it");
    expected.updated_at = u.updated_at;
    ensure_eq(
        "a after setting every field",
        &expected,
        &read_one(&*s, "a").await?,
    )?;

    // Every unset flag, with a value for the same field in the same update: unset wins.
    let mut u = full_update();
    u.updated_at = F2;
    u.unset = Some(unset_all());
    update_one(&*s, "a", u).await?;
    expected.executor_id = None;
    expected.run_output = None;
    expected.error = None;
    expected.started_at = None;
    expected.expires_at = None;
    expected.on_children_finished_processing_expires_at = None;
    expected.close_expires_at = None;
    expected.updated_at = F2;
    ensure_eq(
        "a after unsetting (with values for the same fields)",
        &expected,
        &read_one(&*s, "a").await?,
    )
}

async fn updates_skip_missing_and_filtered_out_executions(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("a"), minimal_execution("b")]).await?;
    let mut u = touch(F0);
    u.output = Some("changed".into());
    let filter = |status| {
        Some(TaskExecutionStorageGetByIdFilters {
            status: Some(status),
            ..Default::default()
        })
    };
    s.update_many_by_id(vec![
        UpdateByIdRequest {
            execution_id: "missing".into(),
            filters: None,
            update: u.clone(),
        },
        UpdateByIdRequest {
            execution_id: "a".into(),
            filters: filter(TaskExecutionStatus::Running),
            update: u.clone(),
        },
        UpdateByIdRequest {
            execution_id: "b".into(),
            filters: filter(TaskExecutionStatus::Ready),
            update: u,
        },
    ])
    .await
    .during("updateManyById")?;
    let outputs = read_field(&*s, &["a", "b", "missing"], |v| v.output.clone()).await?;
    ensure_eq(
        "outputs of a (filtered out), b (matched), missing",
        &vec![Some(None), Some(Some("changed".to_string())), None],
        &outputs,
    )
}

async fn requests_of_one_batch_apply_in_order(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("a")]).await?;
    let mut first = touch(F0);
    first.output = Some("first".into());
    first.status = Some(TaskExecutionStatus::Running);
    let mut second = touch(F0);
    second.output = Some("second".into());
    // Matches only after the first request changed the status.
    let running = Some(TaskExecutionStorageGetByIdFilters {
        status: Some(TaskExecutionStatus::Running),
        ..Default::default()
    });
    s.update_many_by_id(vec![
        UpdateByIdRequest {
            execution_id: "a".into(),
            filters: None,
            update: first,
        },
        UpdateByIdRequest {
            execution_id: "a".into(),
            filters: running,
            update: second,
        },
    ])
    .await
    .during("updateManyById")?;
    ensure_eq(
        "a's output",
        &Some("second"),
        &read_one(&*s, "a").await?.output,
    )
}

async fn empty_update_batches_change_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(
        &*s,
        vec![
            minimal_execution("p"),
            child_execution("c", "p", 0, true, false),
        ],
    )
    .await?;
    let before = read(&*s, &["p", "c"]).await?;
    s.update_many_by_id(vec![])
        .await
        .during("updateManyById([])")?;
    s.update_many_by_id_and_insert_children_if_updated(vec![])
        .await
        .during("updateManyByIdAndInsertChildrenIfUpdated([])")?;
    s.update_many_by_parent_execution_id_and_is_finished(vec![])
        .await
        .during("updateManyByParentExecutionIdAndIsFinished([])")?;
    ensure_eq(
        "rows after three empty update batches",
        &before,
        &read(&*s, &["p", "c"]).await?,
    )
}

async fn children_are_inserted_only_when_their_parent_is_updated(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("p"), minimal_execution("q")]).await?;
    let mut u = touch(F0);
    u.status = Some(TaskExecutionStatus::WaitingForChildren);
    u.active_children_count = Some(2);
    let running = Some(TaskExecutionStorageGetByIdFilters {
        status: Some(TaskExecutionStatus::Running),
        ..Default::default()
    });
    s.update_many_by_id_and_insert_children_if_updated(vec![
        UpdateByIdAndInsertChildrenRequest {
            execution_id: "p".into(),
            filters: None,
            update: u.clone(),
            children_task_executions_to_insert_if_any_updated: vec![
                child_execution("p1", "p", 0, false, false),
                child_execution("p2", "p", 1, false, false),
            ],
        },
        UpdateByIdAndInsertChildrenRequest {
            execution_id: "q".into(),
            filters: running,
            update: u.clone(),
            children_task_executions_to_insert_if_any_updated: vec![child_execution(
                "q1", "q", 0, true, false,
            )],
        },
        UpdateByIdAndInsertChildrenRequest {
            execution_id: "missing".into(),
            filters: None,
            update: u,
            children_task_executions_to_insert_if_any_updated: vec![child_execution(
                "m1", "missing", 0, true, false,
            )],
        },
    ])
    .await
    .during("updateManyByIdAndInsertChildrenIfUpdated")?;
    let got = read(&*s, &["p", "q", "p1", "p2", "q1", "m1"]).await?;
    let present: Vec<bool> = got.iter().map(Option::is_some).collect();
    ensure_eq(
        "which of p, q, p1, p2, q1, m1 exist",
        &vec![true, true, true, true, false, false],
        &present,
    )?;
    let p = got[0].clone().expect("checked above");
    ensure_eq(
        "p's status and acc",
        &(TaskExecutionStatus::WaitingForChildren, 2),
        &(p.status, p.active_children_count),
    )?;
    let q = got[1].clone().expect("checked above");
    ensure_eq(
        "q is unchanged",
        &(TaskExecutionStatus::Ready, 0),
        &(q.status, q.active_children_count),
    )?;
    let listed = s
        .get_many_by_parent_execution_id(vec!["p".into()])
        .await
        .during("getManyByParentExecutionId")?;
    ensure_eq(
        "p's children",
        &vec![vec!["p1", "p2"]],
        &listed.iter().map(|c| ids(c)).collect::<Vec<_>>(),
    )
}

async fn a_duplicate_child_rolls_back_the_whole_call(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(
        &*s,
        vec![
            minimal_execution("p"),
            minimal_execution("q"),
            minimal_execution("taken"),
        ],
    )
    .await?;
    let mut u = touch(F0);
    u.output = Some("updated".into());
    let result = s
        .update_many_by_id_and_insert_children_if_updated(vec![
            UpdateByIdAndInsertChildrenRequest {
                execution_id: "p".into(),
                filters: None,
                update: u.clone(),
                children_task_executions_to_insert_if_any_updated: vec![child_execution(
                    "p1", "p", 0, true, false,
                )],
            },
            UpdateByIdAndInsertChildrenRequest {
                execution_id: "q".into(),
                filters: None,
                update: u,
                children_task_executions_to_insert_if_any_updated: vec![
                    child_execution("q1", "q", 0, false, false),
                    child_execution("taken", "q", 1, false, false),
                ],
            },
        ])
        .await;
    ensure_thrown(
        "a child id that already exists",
        result,
        "Execution id already exists",
    )?;
    let got = read(&*s, &["p", "q", "p1", "q1"]).await?;
    ensure(
        got[0].as_ref().is_some_and(|p| p.output.is_none()),
        "p's update was not rolled back",
    )?;
    ensure(
        got[1].as_ref().is_some_and(|q| q.output.is_none()),
        "q's update was not rolled back",
    )?;
    ensure(
        got[2].is_none() && got[3].is_none(),
        "children of the failed call were inserted",
    )
}
