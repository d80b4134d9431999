//! Convex's per-call transaction limits, as a deployment enforces them and upstream's functions
//! meet them: a call that reads too many bytes, too many index ranges or too many documents
//! fails with the backend's message, and nothing of it is kept.
//!
//! The reference server runs under `convex-test`, which enforces none of these limits; there
//! every scenario here is skipped, with that reason.

use durable_execution_storage_convex::{
    GetByIdRequest, StorageError, TaskExecutionStorageValue,
    UpdateByParentExecutionIdAndIsFinishedRequest,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Limits;
        one_big_document_read_512_times_passes_the_bytes_read_limit: [GetManyById],
        more_than_4096_lookups_pass_the_read_range_limit: [GetManyById],
        an_insert_of_more_than_4096_executions_fails_whole: [InsertMany],
        updating_more_than_4096_children_at_once_fails_whole: [
            UpdateManyByParentExecutionIdAndIsFinished
        ],
        more_than_32000_children_cannot_be_listed: [GetManyByParentExecutionId],
    }
}

/// The backend's advice after a read-limit message.
const OVER_LIMIT_HELP: &str = "Consider using smaller limits in your queries, paginating your \
    queries, or using indexed queries with a selective index range expressions.";

fn enforced(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    if ctx.is_reference() {
        return Err(ConformanceError::NotApplicable(
            "the reference server runs under convex-test, which enforces no transaction limits"
                .to_string(),
        ));
    }
    Ok(())
}

fn lookups(ids: impl Iterator<Item = String>) -> Vec<GetByIdRequest> {
    ids.map(|execution_id| GetByIdRequest {
        execution_id,
        filters: None,
    })
    .collect()
}

/// Inserts `count` executions in calls of 4,000 (each insert looks its id up first, and one
/// call may read at most 4,096 index ranges).
async fn insert_in_chunks(
    ctx: &Ctx<'_>,
    make: impl Fn(usize) -> TaskExecutionStorageValue,
    count: usize,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let all: Vec<usize> = (0..count).collect();
    for chunk in all.chunks(4000) {
        insert(&*s, chunk.iter().map(|&i| make(i)).collect()).await?;
    }
    Ok(())
}

fn ensure_limit<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, StorageError>,
    message: &str,
) -> Result<(), ConformanceError> {
    ensure_thrown(what, result, message)
}

async fn one_big_document_read_512_times_passes_the_bytes_read_limit(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    enforced(ctx)?;
    let s = ctx.storage()?;
    let mut big = minimal_execution("big");
    big.input = "x".repeat(900 * 1024);
    insert(&*s, vec![big]).await?;
    let result = s
        .get_many_by_id(lookups((0..512).map(|_| "big".to_string())))
        .await;
    ensure_limit(
        "512 reads of a 900 KiB document",
        result,
        &format!(
            "Too many bytes read in a single function execution (limit: 16777216 bytes). \
             {OVER_LIMIT_HELP}"
        ),
    )?;
    let fits = s
        .get_many_by_id(lookups((0..18).map(|_| "big".to_string())))
        .await
        .during("getManyById x18")?;
    ensure_eq("18 reads (16.2 MiB) are answered", &18, &fits.len())
}

async fn more_than_4096_lookups_pass_the_read_range_limit(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    enforced(ctx)?;
    let s = ctx.storage()?;
    let result = s
        .get_many_by_id(lookups((0..4097).map(|i| format!("missing-{i}"))))
        .await;
    ensure_limit(
        "4097 distinct lookups",
        result,
        &format!("Too many reads in a single function execution (limit: 4096). {OVER_LIMIT_HELP}"),
    )?;
    let answered = s
        .get_many_by_id(lookups((0..4096).map(|i| format!("missing-{i}"))))
        .await
        .during("getManyById x4096")?;
    ensure_eq("4096 lookups are answered", &4096, &answered.len())
}

async fn an_insert_of_more_than_4096_executions_fails_whole(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    enforced(ctx)?;
    let s = ctx.storage()?;
    let result = s
        .insert_many(
            (0..4097)
                .map(|i| minimal_execution(&format!("n{i}")))
                .collect(),
        )
        .await;
    ensure_limit(
        "insertMany of 4097",
        result,
        &format!("Too many reads in a single function execution (limit: 4096). {OVER_LIMIT_HELP}"),
    )?;
    let got = read(&*s, &["n0", "n4095"]).await?;
    ensure(
        got.iter().all(Option::is_none),
        "nothing of the failed insert was kept",
    )
}

async fn updating_more_than_4096_children_at_once_fails_whole(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    enforced(ctx)?;
    insert_in_chunks(
        ctx,
        |i| child_execution(&format!("c{i}"), "p", i as i64, false, false),
        4096,
    )
    .await?;
    let s = ctx.storage()?;
    let mut u = touch(PAST_MS);
    u.status = Some(durable_execution_storage_convex::TaskExecutionStatus::Cancelled);
    let result = s
        .update_many_by_parent_execution_id_and_is_finished(vec![
            UpdateByParentExecutionIdAndIsFinishedRequest {
                parent_execution_id: "p".to_string(),
                is_finished: false,
                update: u,
            },
        ])
        .await;
    ensure_limit(
        "updating 4096 children (each patch reads its document by id)",
        result,
        &format!("Too many reads in a single function execution (limit: 4096). {OVER_LIMIT_HELP}"),
    )?;
    let got = read_one(&*s, "c0").await?;
    ensure_eq(
        "c0's status after the failed update",
        &durable_execution_storage_convex::TaskExecutionStatus::Ready,
        &got.status,
    )
}

async fn more_than_32000_children_cannot_be_listed(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    enforced(ctx)?;
    insert_in_chunks(
        ctx,
        |i| child_execution(&format!("c{i}"), "p", i as i64, false, false),
        32_001,
    )
    .await?;
    let result = ctx
        .storage()?
        .get_many_by_parent_execution_id(vec!["p".to_string()])
        .await;
    ensure_limit(
        "listing 32001 children",
        result,
        &format!(
            "Too many documents read in a single function execution (limit: 32000). \
             {OVER_LIMIT_HELP}"
        ),
    )
}
