//! Clock rules (docs/SPEC.md section 3): `now` = clock + 50 ms in writes; which
//! fields are clamped at insert and at update, to `now` or to `now + 1000`; exactly 0 is not
//! clamped where upstream guards with `x && x < now`; future values are kept; a row written
//! moments ago is not stale yet.

use std::time::Instant;

use durable_execution_storage_convex::{
    TaskExecutionCloseStatus as Close, TaskExecutionStorageUpdate,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;

// On the wall clock (the reference server, a deployment), a fresh-row check counts only when
// the insert and the claim together took less than this shared margin. On a manual clock the
// check is exact.
use durable_execution_storage_convex::fixtures::FRESH_ROW_CHECK_MAX_MS;
/// How many times the fresh-row check is tried before a slow machine makes it inconclusive.
const FRESH_CHECK_ATTEMPTS: usize = 5;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Clock;
        insert_clamps_start_at_and_the_three_expiries: [InsertMany],
        update_clamps_times_to_now_and_expiries_to_now_plus_1000: [UpdateManyById],
        update_keeps_zero_and_future_timestamps: [UpdateManyById],
        a_row_written_moments_ago_is_not_stale: [UpdateByCloseStatusAndReturn],
    }
}

async fn insert_clamps_start_at_and_the_three_expiries(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut x = minimal_execution("x");
    x.start_at = PAST_MS;
    x.expires_at = Some(PAST_MS);
    x.on_children_finished_processing_expires_at = Some(PAST_MS);
    x.close_expires_at = Some(PAST_MS);
    x.started_at = Some(PAST_MS);
    x.finished_at = Some(PAST_MS);
    x.closed_at = Some(PAST_MS);
    x.created_at = F0;
    x.updated_at = F0;
    let mut y = minimal_execution("y");
    y.start_at = 0;
    y.expires_at = Some(0);
    y.on_children_finished_processing_expires_at = Some(0);
    y.close_expires_at = Some(0);
    let mut z = minimal_execution("z");
    z.start_at = F0;
    z.expires_at = Some(F1);
    z.on_children_finished_processing_expires_at = Some(F1);
    z.close_expires_at = Some(F2);
    let before = ctx.now_ms().await?;
    insert(&*s, vec![x, y, z]).await?;
    let after = ctx.now_ms().await?;
    let got = read(&*s, &["x", "y", "z"]).await?;
    let (x, y, z) = (
        got[0].clone().expect("x"),
        got[1].clone().expect("y"),
        got[2].clone().expect("z"),
    );
    let now = x.created_at;
    ensure_written_at(ctx, "createdAt", now, (before, after))?;
    let exp = Some(now + EXPIRY_CLAMP_OFFSET_MS);
    ensure_eq(
        "x (createdAt, updatedAt, startAt, expiresAt, ocfpExpiresAt, closeExpiresAt, startedAt, finishedAt, closedAt)",
        &(now, now, now, exp, exp, exp, Some(PAST_MS), Some(PAST_MS), Some(PAST_MS)),
        &(x.created_at, x.updated_at, x.start_at, x.expires_at, x.on_children_finished_processing_expires_at, x.close_expires_at, x.started_at, x.finished_at, x.closed_at),
    )?;
    ensure_eq(
        "y (startAt 0 is clamped at insert; expiries of 0 are not)",
        &(now, Some(0), Some(0), Some(0)),
        &(
            y.start_at,
            y.expires_at,
            y.on_children_finished_processing_expires_at,
            y.close_expires_at,
        ),
    )?;
    ensure_eq(
        "z (future values are kept)",
        &(F0, Some(F1), Some(F1), Some(F2), now),
        &(
            z.start_at,
            z.expires_at,
            z.on_children_finished_processing_expires_at,
            z.close_expires_at,
            z.created_at,
        ),
    )
}

fn every_time(at: i64) -> TaskExecutionStorageUpdate {
    TaskExecutionStorageUpdate {
        start_at: Some(at),
        started_at: Some(at),
        expires_at: Some(at),
        waiting_for_children_started_at: Some(at),
        waiting_for_finalize_started_at: Some(at),
        finished_at: Some(at),
        on_children_finished_processing_expires_at: Some(at),
        on_children_finished_processing_finished_at: Some(at),
        close_expires_at: Some(at),
        closed_at: Some(at),
        updated_at: at,
        ..TaskExecutionStorageUpdate::default()
    }
}

/// The ten settable timestamps of `v` and its updatedAt, in a fixed order.
fn times(v: &durable_execution_storage_convex::TaskExecutionStorageValue) -> Vec<Option<i64>> {
    vec![
        Some(v.start_at),
        v.started_at,
        v.expires_at,
        v.waiting_for_children_started_at,
        v.waiting_for_finalize_started_at,
        v.finished_at,
        v.on_children_finished_processing_expires_at,
        v.on_children_finished_processing_finished_at,
        v.close_expires_at,
        v.closed_at,
        Some(v.updated_at),
    ]
}

async fn update_clamps_times_to_now_and_expiries_to_now_plus_1000(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("x")]).await?;
    let before = ctx.now_ms().await?;
    update_one(&*s, "x", every_time(PAST_MS)).await?;
    let after = ctx.now_ms().await?;
    let x = read_one(&*s, "x").await?;
    let now = x.updated_at;
    ensure_written_at(ctx, "updatedAt", now, (before, after))?;
    let (n, e, p) = (Some(now), Some(now + EXPIRY_CLAMP_OFFSET_MS), Some(PAST_MS));
    ensure_eq(
        "startAt, startedAt, expiresAt, waitingForChildrenStartedAt, waitingForFinalizeStartedAt, finishedAt, ocfpExpiresAt, ocfpFinishedAt, closeExpiresAt, closedAt, updatedAt",
        &vec![n, n, e, p, p, n, e, n, e, n, n],
        &times(&x),
    )
}

async fn update_keeps_zero_and_future_timestamps(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![minimal_execution("x")]).await?;
    update_one(&*s, "x", every_time(0)).await?;
    let x = read_one(&*s, "x").await?;
    let z = Some(0);
    // updatedAt has no `x &&` guard: 0 is raised to now like any older value.
    ensure_eq(
        "every time set to 0 (updatedAt raised to now)",
        &vec![z, z, z, z, z, z, z, z, z, z, Some(x.updated_at)],
        &times(&x),
    )?;
    ensure(x.updated_at > 0, "updatedAt 0 must be raised to now")?;
    update_one(&*s, "x", every_time(F1)).await?;
    let f = Some(F1);
    ensure_eq(
        "every time set to the future",
        &vec![f; 11],
        &times(&read_one(&*s, "x").await?),
    )
}

async fn a_row_written_moments_ago_is_not_stale(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut u = touch(PAST_MS);
    u.close_status = Some(Close::Closing);
    // The ids a close claim answers.
    let claim = || async {
        let claimed = s
            .update_by_close_status_and_return(requests::close_status(Close::Ready, &u, 10))
            .await
            .during("close claim")?;
        Ok::<_, ConformanceError>(ids(&claimed))
    };
    let none = Vec::<String>::new();
    let not_yet = "claimed right after the insert (updatedAt = clock + 50 ms is not yet < clock)";
    let mut row = minimal_execution("fresh");
    row.close_status = Close::Ready;
    if ctx.has_manual_clock() {
        // Time stands still between the insert and the claim: the answer is definite.
        insert(&*s, vec![row]).await?;
        ensure_eq(not_yet, &none, &claim().await?)?;
        ctx.pass_ms(WRITE_CLOCK_OFFSET_MS as u64).await?;
        let at_updated_at = claim().await?;
        ensure_eq(
            "claimed at exactly clock = updatedAt (not yet <)",
            &none,
            &at_updated_at,
        )?;
        ctx.pass_ms(1).await?;
        return ensure_eq(
            "claimed once stale",
            &vec!["fresh".to_string()],
            &claim().await?,
        );
    }
    let mut slowest_ms = 0;
    for attempt in 0..FRESH_CHECK_ATTEMPTS {
        let id = format!("fresh-{attempt}");
        let mut row = row.clone();
        row.execution_id = id.clone();
        let started = Instant::now();
        insert(&*s, vec![row]).await?;
        let claimed = claim().await?;
        let elapsed_ms = started.elapsed().as_millis();
        slowest_ms = slowest_ms.max(elapsed_ms);
        if elapsed_ms >= u128::from(FRESH_ROW_CHECK_MAX_MS) {
            // Too slow to tell: the row may legitimately be stale already. Let it age, claim it, retry.
            ctx.wait_until_stale().await?;
            claim().await?;
            continue;
        }
        ensure_eq(not_yet, &none, &claimed)?;
        ctx.wait_until_stale().await?;
        return ensure_eq("claimed once stale", &vec![id], &claim().await?);
    }
    Err(ConformanceError::NotApplicable(format!(
        "inconclusive on the wall clock: insert + claim took {slowest_ms} ms or more on every attempt (need < {FRESH_ROW_CHECK_MAX_MS} ms)"
    )))
}
