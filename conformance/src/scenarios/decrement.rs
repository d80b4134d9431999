//! `updateAndDecrementParentACCByIsFinishedAndCloseStatus`: several children, an only child, a
//! finalize child, children without a parent document id, a missing parent in each branch
//! (an only child's fails the whole sweep, a grouped one is skipped), several parents in one
//! sweep, and the parent's clamped `updatedAt`.

use durable_execution_storage_convex::{
    TaskExecutionCloseStatus as Close, TaskExecutionStorageValue, TaskExecutionsStorage,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Decrement;
        sweep_decrements_the_parent_once_per_closed_child: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        an_only_child_sets_its_parent_acc_to_zero: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        a_finalize_child_leaves_its_parent_alone: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        a_child_without_parent_document_leaves_the_parent_alone: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        a_missing_parent_of_several_children_is_skipped: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        a_missing_parent_of_an_only_child_fails_the_whole_sweep: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        one_sweep_decrements_several_parents: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        the_decrement_is_not_floored_at_zero: [
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
    }
}

/// A finished child ready to be closed.
fn closable(
    id: &str,
    parent: &str,
    index: i64,
    only: bool,
    finalize: bool,
) -> TaskExecutionStorageValue {
    let mut c = child_execution(id, parent, index, only, finalize);
    c.is_finished = true;
    c.close_status = Close::Ready;
    c
}

/// Inserts finished children `ids` of `parent` (neither only nor finalize children), ready to
/// be closed, through the parent's document.
async fn closable_children(
    s: &dyn TaskExecutionsStorage,
    parent: &str,
    ids: &[&str],
) -> Result<(), ConformanceError> {
    let children = ids
        .iter()
        .enumerate()
        .map(|(i, id)| closable(id, parent, i as i64, false, false))
        .collect();
    insert_children(s, parent, children).await
}

fn parent(id: &str, acc: i64) -> TaskExecutionStorageValue {
    let mut p = minimal_execution(id);
    p.active_children_count = acc;
    p
}

async fn sweep(ctx: &Ctx<'_>, updated_at: i64, limit: u32) -> Result<u64, ConformanceError> {
    sweep_raw(ctx, updated_at, limit)
        .await?
        .during("decrement sweep")
}

/// The sweep's own answer, for the cases where it must fail.
async fn sweep_raw(
    ctx: &Ctx<'_>,
    updated_at: i64,
    limit: u32,
) -> Result<Result<u64, durable_execution_storage_convex::StorageError>, ConformanceError> {
    let mut u = touch(updated_at);
    u.close_status = Some(Close::Closed);
    ctx.wait_until_stale().await?;
    Ok(ctx
        .storage()?
        .update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            requests::decrement(true, Close::Ready, &u, limit),
        )
        .await)
}

/// Sweeps once, checks the count it answers, and that the parent `p` came out unchanged.
async fn sweep_leaves_p_alone(
    ctx: &Ctx<'_>,
    count: u64,
    after: &str,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let before = read_one(&*s, "p").await?;
    ensure_eq("count", &count, &sweep(ctx, PAST_MS, 10).await?)?;
    ensure_eq(
        &format!("p after {after}"),
        &before,
        &read_one(&*s, "p").await?,
    )
}

async fn acc(ctx: &Ctx<'_>, id: &str) -> Result<i64, ConformanceError> {
    Ok(read_one(&*ctx.storage()?, id).await?.active_children_count)
}

async fn sweep_decrements_the_parent_once_per_closed_child(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 3)]).await?;
    closable_children(&*s, "p", &["c1", "c2", "c3"]).await?;
    ensure_eq(
        "first sweep (limit 2) count",
        &2,
        &sweep(ctx, PAST_MS, 2).await?,
    )?;
    ensure_eq(
        "p's acc after two children closed",
        &1,
        &acc(ctx, "p").await?,
    )?;
    // The decrement is an update with the sweep's updatedAt, as clamped by the children's.
    let got = read(&*s, &["p", "c1", "c2", "c3"]).await?;
    let stamps: Vec<Option<i64>> = got
        .iter()
        .map(|v| v.as_ref().map(|v| v.updated_at))
        .collect();
    let closed_stamp = got[1..]
        .iter()
        .flatten()
        .find(|c| c.close_status == Close::Closed)
        .map(|c| c.updated_at);
    ensure(
        closed_stamp.is_some() && stamps[0] == closed_stamp,
        format!("p's updatedAt is not its closed children's (p, c1, c2, c3): {stamps:?}"),
    )?;
    ensure_eq("second sweep count", &1, &sweep(ctx, PAST_MS, 2).await?)?;
    ensure_eq("p's acc after all closed", &0, &acc(ctx, "p").await?)?;
    ensure_eq("third sweep count", &0, &sweep(ctx, PAST_MS, 2).await?)?;
    let closed = read(&*s, &["c1", "c2", "c3"]).await?;
    ensure(
        closed
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.close_status == Close::Closed)),
        "every child is closed",
    )
}

async fn an_only_child_sets_its_parent_acc_to_zero(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 5)]).await?;
    insert_children(&*s, "p", vec![closable("c", "p", 0, true, false)]).await?;
    ensure_eq("count", &1, &sweep(ctx, F0, 10).await?)?;
    let p = read_one(&*s, "p").await?;
    ensure_eq(
        "p's (acc, updatedAt) with a future update.updatedAt",
        &(0, F0),
        &(p.active_children_count, p.updated_at),
    )?;

    insert(&*s, vec![parent("q", 5)]).await?;
    insert_children(&*s, "q", vec![closable("d", "q", 0, true, false)]).await?;
    ensure_eq("count", &1, &sweep(ctx, PAST_MS, 10).await?)?;
    let got = read(&*s, &["q", "d"]).await?;
    let (q, d) = (
        got[0].clone().expect("q exists"),
        got[1].clone().expect("d exists"),
    );
    ensure_eq("q's acc", &0, &q.active_children_count)?;
    ensure_eq(
        "q's updatedAt is the sweep's clamped updatedAt (= the child's)",
        &d.updated_at,
        &q.updated_at,
    )
}

async fn a_finalize_child_leaves_its_parent_alone(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 2)]).await?;
    insert_children(&*s, "p", vec![closable("f", "p", 0, false, true)]).await?;
    sweep_leaves_p_alone(ctx, 1, "its finalize child closed").await?;
    ensure_eq(
        "the finalize child is closed",
        &Close::Closed,
        &read_one(&*s, "f").await?.close_status,
    )
}

async fn a_child_without_parent_document_leaves_the_parent_alone(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(
        &*s,
        vec![
            parent("p", 2),
            closable("c", "p", 0, false, false),
            closable("d", "p", 1, true, false),
        ],
    )
    .await?;
    sweep_leaves_p_alone(ctx, 2, "children inserted without its document id closed").await
}

async fn a_missing_parent_of_several_children_is_skipped(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("q", 2)]).await?;
    closable_children(&*s, "q", &["c2"]).await?;
    s.delete_by_id("q").await.during("deleteById(q)")?;
    ensure_eq(
        "count with the parent gone",
        &1,
        &sweep(ctx, PAST_MS, 10).await?,
    )?;
    let got = read(&*s, &["q", "c2"]).await?;
    ensure(got[0].is_none(), "the deleted parent came back")?;
    ensure(
        got[1]
            .as_ref()
            .is_some_and(|c| c.close_status == Close::Closed),
        "the child is closed",
    )
}

/// Upstream patches an only child's parent without reading it: Convex's patch of a missing
/// document throws, and the whole sweep rolls back, the children's updates too.
async fn a_missing_parent_of_an_only_child_fails_the_whole_sweep(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 1), parent("q", 2)]).await?;
    insert_children(&*s, "p", vec![closable("c1", "p", 0, true, false)]).await?;
    closable_children(&*s, "q", &["c2"]).await?;
    s.delete_by_id("p").await.during("deleteById(p)")?;
    let before = read(&*s, &["q", "c1", "c2"]).await?;
    match sweep_raw(ctx, PAST_MS, 10).await? {
        Err(error)
            if error
                .thrown_message()
                .is_some_and(|m| m.starts_with("Update on nonexistent document ID ")) => {}
        other => {
            return Err(ConformanceError::check(format!(
                "expected `Update on nonexistent document ID <id>`, got {other:?}"
            )))
        }
    }
    ensure_eq(
        "q, c1 and c2 after the failed sweep (nothing kept)",
        &before,
        &read(&*s, &["q", "c1", "c2"]).await?,
    )
}

async fn one_sweep_decrements_several_parents(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 2), parent("q", 2), parent("r", 3)]).await?;
    closable_children(&*s, "p", &["p1", "p2"]).await?;
    closable_children(&*s, "q", &["q1"]).await?;
    insert_children(&*s, "r", vec![closable("r1", "r", 0, true, false)]).await?;
    ensure_eq("count", &4, &sweep(ctx, PAST_MS, 10).await?)?;
    let accs = read_field(&*s, &["p", "q", "r"], |v| v.active_children_count).await?;
    ensure_eq(
        "acc of p (2 - 2), q (2 - 1), r (only child: 0)",
        &vec![Some(0), Some(1), Some(0)],
        &accs,
    )
}

async fn the_decrement_is_not_floored_at_zero(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![parent("p", 1)]).await?;
    closable_children(&*s, "p", &["c1", "c2"]).await?;
    ensure_eq("count", &2, &sweep(ctx, PAST_MS, 10).await?)?;
    ensure_eq(
        "p's acc (1 - 2: upstream subtracts without a floor)",
        &-1,
        &acc(ctx, "p").await?,
    )
}
