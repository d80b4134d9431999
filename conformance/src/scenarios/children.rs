//! `getManyByParentExecutionId` (unfinished first, then oldest first) and
//! `updateManyByParentExecutionIdAndIsFinished`.

use durable_execution_storage_convex::{
    TaskExecutionsStorage, UpdateByParentExecutionIdAndIsFinishedRequest,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Children;
        children_are_listed_unfinished_first_then_oldest: [GetManyByParentExecutionId],
        children_update_touches_only_the_matching_is_finished: [
            UpdateManyByParentExecutionIdAndIsFinished
        ],
    }
}

fn kid(
    id: &str,
    parent: &str,
    index: i64,
    finished: bool,
) -> durable_execution_storage_convex::TaskExecutionStorageValue {
    let mut c = child_execution(id, parent, index, false, false);
    c.is_finished = finished;
    c
}

/// Inserts the parents `p` and `q`, then children `c1`, `c2`, ... of `p` in that order (through
/// `p`'s document), each finished or not as `finished` says.
async fn parents_p_and_q(
    s: &dyn TaskExecutionsStorage,
    finished: &[bool],
) -> Result<(), ConformanceError> {
    insert(s, vec![minimal_execution("p"), minimal_execution("q")]).await?;
    let children = finished
        .iter()
        .enumerate()
        .map(|(i, done)| kid(&format!("c{}", i + 1), "p", i as i64, *done))
        .collect();
    insert_children(s, "p", children).await
}

async fn list(ctx: &Ctx<'_>, parents: &[&str]) -> Result<Vec<Vec<String>>, ConformanceError> {
    let s = ctx.storage()?;
    let lists = s
        .get_many_by_parent_execution_id(parents.iter().map(|p| p.to_string()).collect())
        .await
        .during("getManyByParentExecutionId")?;
    Ok(lists.iter().map(|l| ids(l)).collect())
}

async fn children_are_listed_unfinished_first_then_oldest(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    parents_p_and_q(&*s, &[true, false, true, false]).await?;
    // A child inserted on its own (no parent document id) is listed by its parentExecutionId too.
    insert(
        &*s,
        vec![kid("c5", "p", 4, false), kid("q1", "q", 0, false)],
    )
    .await?;
    ensure_eq(
        "children of p, nope, q, p",
        &vec![
            vec!["c2", "c4", "c5", "c1", "c3"],
            vec![],
            vec!["q1"],
            vec!["c2", "c4", "c5", "c1", "c3"],
        ],
        &list(ctx, &["p", "nope", "q", "p"]).await?,
    )?;
    let mut finished = touch(PAST_MS);
    finished.is_finished = Some(true);
    update_one(&*s, "c2", finished).await?;
    ensure_eq(
        "children of p after c2 finished",
        &vec![vec!["c4", "c5", "c1", "c2", "c3"]],
        &list(ctx, &["p"]).await?,
    )
}

async fn children_update_touches_only_the_matching_is_finished(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    parents_p_and_q(&*s, &[true, false]).await?;
    insert_children(&*s, "q", vec![kid("q1", "q", 0, false)]).await?;
    let mut u = touch(F0);
    u.output = Some("touched".into());
    s.update_many_by_parent_execution_id_and_is_finished(vec![
        UpdateByParentExecutionIdAndIsFinishedRequest {
            parent_execution_id: "p".into(),
            is_finished: false,
            update: u.clone(),
        },
        UpdateByParentExecutionIdAndIsFinishedRequest {
            parent_execution_id: "nope".into(),
            is_finished: false,
            update: u,
        },
    ])
    .await
    .during("updateManyByParentExecutionIdAndIsFinished")?;
    ensure_outputs(&*s, &["p", "c1", "c2", "q1"], &["c2"]).await?;
    ensure_eq(
        "c2's updatedAt (future value kept)",
        &F0,
        &read_one(&*s, "c2").await?.updated_at,
    )
}
