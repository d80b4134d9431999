//! `deleteById` and `deleteAll`, and their absence without test mode.

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::backend::ClientOptions;
use crate::error::{ConformanceError, StorageResultExt};

/// Rows `deleteAll` must remove: more than two of its 100-row batches.
pub const DELETE_ALL_ROWS: usize = 250;
/// Rows per insert call while filling the store.
const INSERT_BATCH_ROWS: usize = 50;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Deletes;
        delete_by_id_removes_only_that_execution: [DeleteById],
        delete_all_removes_more_than_one_batch: [DeleteAll],
        deletes_do_nothing_without_test_mode: [DeleteById, DeleteAll],
    }
}

async fn delete_by_id_removes_only_that_execution(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut a = minimal_execution("a");
    a.sleeping_task_unique_id = Some("s-a".into());
    insert(&*s, vec![a.clone(), minimal_execution("b")]).await?;
    s.delete_by_id("a").await.during("deleteById(a)")?;
    s.delete_by_id("missing")
        .await
        .during("deleteById(missing)")?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(
        got[0].is_none() && got[1].is_some(),
        format!("after deleting a: {got:?}"),
    )?;
    // The id and the sleeping task unique id are free again.
    s.insert_many(vec![a]).await.during("insertMany(a) again")
}

async fn delete_all_removes_more_than_one_batch(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let ids: Vec<String> = (0..DELETE_ALL_ROWS)
        .map(|i| format!("row-{i:04}"))
        .collect();
    for chunk in ids.chunks(INSERT_BATCH_ROWS) {
        s.insert_many(chunk.iter().map(|id| minimal_execution(id)).collect())
            .await
            .during("insertMany")?;
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let before = read(&*s, &refs).await?;
    ensure(
        before.iter().all(Option::is_some),
        "not every row was inserted",
    )?;
    s.delete_all().await.during("deleteAll")?;
    let after = read(&*s, &refs).await?;
    let left = after.iter().filter(|v| v.is_some()).count();
    ensure_eq("rows left after deleteAll", &0, &left)
}

async fn deletes_do_nothing_without_test_mode(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let production = ctx.client(&ClientOptions {
        test_mode: false,
        ..ClientOptions::default()
    })?;
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("a"), minimal_execution("b")]).await?;
    production
        .delete_by_id("a")
        .await
        .during("deleteById without test mode")?;
    production
        .delete_all()
        .await
        .during("deleteAll without test mode")?;
    let got = read(&*s, &["a", "b"]).await?;
    ensure(
        got.iter().all(Option::is_some),
        "a delete without test mode removed rows",
    )
}
