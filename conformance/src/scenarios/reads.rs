//! `getManyById` (order, missing ids, every filter) and `getManyBySleepingTaskUniqueId`.

use durable_execution_storage_convex::{
    GetByIdRequest, TaskExecutionStatus, TaskExecutionStorageGetByIdFilters,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Reads;
        reads_by_id_answer_in_request_order: [GetManyById],
        reads_by_id_apply_every_filter: [GetManyById],
        reads_by_sleeping_task_unique_id_answer_in_request_order: [GetManyBySleepingTaskUniqueId],
        empty_request_lists_answer_empty_lists: [
            GetManyById, GetManyBySleepingTaskUniqueId, GetManyByParentExecutionId
        ],
    }
}

async fn reads_by_id_answer_in_request_order(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("a"), minimal_execution("b")]).await?;
    let got = read_field(&*s, &["b", "missing", "a", "b"], |v| v.execution_id.clone()).await?;
    ensure_eq(
        "ids answered",
        &vec![Some("b"), None, Some("a"), Some("b")],
        &got,
    )?;
    let empty = s.get_many_by_id(vec![]).await.during("getManyById([])")?;
    ensure(
        empty.is_empty(),
        "an empty request list answers an empty list",
    )
}

async fn reads_by_id_apply_every_filter(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = minimal_execution("a");
    a.is_sleeping_task = true;
    a.status = TaskExecutionStatus::Running;
    a.is_finished = false;
    insert(&*s, vec![a]).await?;
    let f = |is_sleeping_task, status, is_finished| TaskExecutionStorageGetByIdFilters {
        is_sleeping_task,
        status,
        is_finished,
    };
    let cases = [
        (f(None, None, None), true),
        (f(Some(true), None, None), true),
        (f(Some(false), None, None), false),
        (f(None, Some(TaskExecutionStatus::Running), None), true),
        (f(None, Some(TaskExecutionStatus::Ready), None), false),
        (f(None, None, Some(false)), true),
        (f(None, None, Some(true)), false),
        (
            f(Some(true), Some(TaskExecutionStatus::Running), Some(false)),
            true,
        ),
        (
            f(Some(true), Some(TaskExecutionStatus::Running), Some(true)),
            false,
        ),
    ];
    let requests = cases
        .iter()
        .map(|(filters, _)| GetByIdRequest {
            execution_id: "a".into(),
            filters: Some(filters.clone()),
        })
        .collect();
    let got = s
        .get_many_by_id(requests)
        .await
        .during("getManyById with filters")?;
    let expected: Vec<bool> = cases.iter().map(|(_, hit)| *hit).collect();
    let got: Vec<bool> = got.iter().map(Option::is_some).collect();
    ensure_eq("which filtered lookups found a", &expected, &got)
}

async fn reads_by_sleeping_task_unique_id_answer_in_request_order(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = minimal_execution("a");
    a.is_sleeping_task = true;
    a.sleeping_task_unique_id = Some("s0".into());
    let mut b = minimal_execution("b");
    b.is_sleeping_task = true;
    b.sleeping_task_unique_id = Some("s1".into());
    insert(&*s, vec![a, b]).await?;
    let got = s
        .get_many_by_sleeping_task_unique_id(vec!["s1".into(), "nope".into(), "s0".into()])
        .await
        .during("getManyBySleepingTaskUniqueId")?;
    let got: Vec<Option<String>> = got
        .iter()
        .map(|v| v.as_ref().map(|v| v.execution_id.clone()))
        .collect();
    ensure_eq("ids answered", &vec![Some("b"), None, Some("a")], &got)
}

async fn empty_request_lists_answer_empty_lists(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = child_execution("a", "p", 0, true, false);
    a.sleeping_task_unique_id = Some("s0".into());
    insert(&*s, vec![minimal_execution("p"), a]).await?;
    let lengths = (
        s.get_many_by_id(vec![])
            .await
            .during("getManyById([])")?
            .len(),
        s.get_many_by_sleeping_task_unique_id(vec![])
            .await
            .during("getManyBySleepingTaskUniqueId([])")?
            .len(),
        s.get_many_by_parent_execution_id(vec![])
            .await
            .during("getManyByParentExecutionId([])")?
            .len(),
    );
    ensure_eq(
        "answers to empty lists of ids, unique ids and parent ids (one row matches each kind)",
        &(0, 0, 0),
        &lengths,
    )
}
