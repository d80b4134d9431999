//! The three expiry sweeps: `0 ≤ x < bound` ranges (a missing field is never selected, a
//! stored 0 is), ascending order under a limit, and the count they answer.

use durable_execution_storage_convex::{
    OnChildrenFinishedProcessingStatus as Ocfp, TaskExecutionStatus as Status,
    TaskExecutionStorageUnset,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Expiries;
        expiry_sweep_selects_by_status_sleeping_flag_and_range: [
            UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan
        ],
        children_finished_expiry_sweep_selects_by_range_in_order: [UpdateByOCFPExpiresAt],
        close_expiry_sweep_selects_by_range_in_order: [UpdateByCloseExpiresAt],
    }
}

async fn expiry_sweep_selects_by_status_sleeping_flag_and_range(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let running = |id: &str, sleeping: bool, expires: Option<i64>| {
        with(id, |v| {
            v.status = Status::Running;
            v.is_sleeping_task = sleeping;
            v.expires_at = expires;
        })
    };
    insert(
        &*s,
        vec![
            running("r0", false, None),
            running("r1", false, Some(0)),
            running("r2", false, Some(PAST_MS)),
            running("r3", false, Some(F0)),
            running("r4", false, Some(F1)),
            running("r5", true, Some(0)),
            with("r6", |v| v.expires_at = Some(0)),
        ],
    )
    .await?;
    let mut u = touch(PAST_MS);
    u.status = Some(Status::TimedOut);
    let sweep = |sleeping: bool, bound: i64, limit: u32| {
        s.update_by_status_and_is_sleeping_task_and_expires_at_less_than(requests::expires(
            Status::Running,
            sleeping,
            bound,
            &u,
            limit,
        ))
    };
    ensure_eq(
        "count below 1 (only the stored 0)",
        &1,
        &sweep(false, 1, 10).await.during("sweep")?,
    )?;
    ensure_eq(
        "count below F0 + 500 with limit 1 (the clamped one first)",
        &1,
        &sweep(false, F0 + 500, 1).await.during("sweep")?,
    )?;
    let r = read(&*s, &["r2", "r3"]).await?;
    ensure(
        r[0].as_ref().is_some_and(|v| v.status == Status::TimedOut)
            && r[1].as_ref().is_some_and(|v| v.status == Status::Running),
        "the limit-1 sweep must take the clamped expiry (r2) before F0 (r3)",
    )?;
    ensure_eq(
        "count of the rest",
        &2,
        &sweep(false, 2 * F0, 10).await.during("sweep")?,
    )?;
    ensure_eq(
        "sleeping tasks",
        &1,
        &sweep(true, 1, 10).await.during("sweep")?,
    )?;
    let ids = ["r0", "r1", "r2", "r3", "r4", "r5", "r6"];
    let statuses = read_field(&*s, &ids, |v| v.status).await?;
    use Status::{Ready, Running, TimedOut};
    ensure_eq(
        "statuses (r0 has no expiresAt, r6 is not running)",
        &vec![
            Some(Running),
            Some(TimedOut),
            Some(TimedOut),
            Some(TimedOut),
            Some(TimedOut),
            Some(TimedOut),
            Some(Ready),
        ],
        &statuses,
    )
}

async fn children_finished_expiry_sweep_selects_by_range_in_order(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let row = |id: &str, at: Option<i64>| {
        with(id, |v| {
            v.on_children_finished_processing_status = Ocfp::Processing;
            v.on_children_finished_processing_expires_at = at;
        })
    };
    insert(
        &*s,
        vec![
            row("o0", None),
            row("o1", Some(0)),
            row("o2", Some(F1)),
            row("o3", Some(F0)),
        ],
    )
    .await?;
    let mut u = touch(PAST_MS);
    u.on_children_finished_processing_status = Some(Ocfp::Idle);
    u.unset = Some(TaskExecutionStorageUnset {
        on_children_finished_processing_expires_at: true,
        ..Default::default()
    });
    let sweep = |bound: i64, limit: u32| {
        s.update_by_on_children_finished_processing_expires_at_less_than(requests::ocfp_expires(
            bound, &u, limit,
        ))
    };
    ensure_eq("count below 1", &1, &sweep(1, 10).await.during("sweep")?)?;
    ensure_eq(
        "count below 2·F0 with limit 1",
        &1,
        &sweep(2 * F0, 1).await.during("sweep")?,
    )?;
    let statuses = read_field(&*s, &["o0", "o1", "o2", "o3"], |v| {
        v.on_children_finished_processing_status
    })
    .await?;
    ensure_eq(
        "statuses (o3 = F0 goes before o2 = F1)",
        &vec![
            Some(Ocfp::Processing),
            Some(Ocfp::Idle),
            Some(Ocfp::Processing),
            Some(Ocfp::Idle),
        ],
        &statuses,
    )?;
    ensure_eq(
        "count of the rest",
        &1,
        &sweep(2 * F0, 10).await.during("sweep")?,
    )?;
    ensure_eq(
        "count when nothing is left",
        &0,
        &sweep(2 * F0, 10).await.during("sweep")?,
    )
}

async fn close_expiry_sweep_selects_by_range_in_order(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let row = |id: &str, at: Option<i64>| with(id, |v| v.close_expires_at = at);
    insert(
        &*s,
        vec![
            row("c0", None),
            row("c1", Some(F1)),
            row("c2", Some(0)),
            row("c3", Some(PAST_MS)),
        ],
    )
    .await?;
    let mut u = touch(PAST_MS);
    u.output = Some("swept".into());
    u.unset = Some(TaskExecutionStorageUnset {
        close_expires_at: true,
        ..Default::default()
    });
    let sweep = |bound: i64, limit: u32| {
        s.update_by_close_expires_at_less_than(requests::close_expires(bound, &u, limit))
    };
    ensure_eq(
        "count below F0 + 500 with limit 2 (0, then the clamped one)",
        &2,
        &sweep(F0 + 500, 2).await.during("sweep")?,
    )?;
    // The sweep leaves its mark as an output.
    ensure_outputs(&*s, &["c0", "c1", "c2", "c3"], &["c2", "c3"]).await?;
    ensure_eq(
        "count of the rest",
        &1,
        &sweep(2 * F0, 10).await.during("sweep")?,
    )
}
