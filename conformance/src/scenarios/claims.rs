//! The four sharded claims: start-at, children-finished (acc = 0), close status, executor and
//! needs-promise-cancellation. Index order, ties by creation, staleness, limits, and the
//! answer (rows as read before the update, with the update then applied by the client).

use durable_execution_storage_convex::{
    OnChildrenFinishedProcessingStatus as Ocfp, TaskExecutionCloseStatus as Close,
    TaskExecutionStatus as Status, TaskExecutionStorageUnset, TaskExecutionStorageUpdate,
    TaskExecutionStorageValue,
};

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::error::{ConformanceError, StorageResultExt};
use crate::model::transition::requests;

pub fn scenarios() -> Vec<Scenario> {
    scenarios! { Family::Claims;
        start_at_claim_selects_by_status_and_start_at_in_index_order: [
            UpdateByStatusAndStartAtLessThanAndReturn
        ],
        start_at_claim_sets_expires_at_from_the_timeout: [
            UpdateByStatusAndStartAtLessThanAndReturn
        ],
        children_finished_claim_selects_stale_parents_with_zero_acc: [
            UpdateByStatusAndOCFPStatusAndACCZeroAndReturn
        ],
        close_status_claim_selects_stale_rows_oldest_first: [UpdateByCloseStatusAndReturn],
        executor_claim_selects_stale_rows_of_one_executor: [UpdateByExecutorIdAndNPCAndReturn],
        claims_with_limit_zero_select_nothing: [
            UpdateByStatusAndStartAtLessThanAndReturn,
            UpdateByStatusAndOCFPStatusAndACCZeroAndReturn, UpdateByCloseStatusAndReturn,
            UpdateByExecutorIdAndNPCAndReturn, UpdateByStatusAndIsSleepingTaskAndExpiresAtLessThan,
            UpdateByOCFPExpiresAt, UpdateByCloseExpiresAt,
            UpdateAndDecrementParentACCByIsFinishedAndCloseStatus
        ],
        claims_answer_rows_with_the_update_applied_by_the_client: [UpdateByCloseStatusAndReturn],
    }
}

async fn start_at_claim_selects_by_status_and_start_at_in_index_order(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(
        &*s,
        vec![
            with("a", |v| v.start_at = F1),
            with("b", |v| v.start_at = F0),
            with("c", |v| v.start_at = F0),
            with("d", |v| {
                v.start_at = F0;
                v.status = Status::Running
            }),
            with("e", |v| v.start_at = PAST_MS),
            with("f", |v| v.start_at = F2),
            with("g", |v| v.start_at = F2),
        ],
    )
    .await?;
    // startAt 0 is only reachable through an update (an insert clamps it); 0 is never clamped there.
    let mut zero = touch(PAST_MS);
    zero.start_at = Some(0);
    update_one(&*s, "g", zero).await?;
    let mut claim = touch(F0);
    claim.status = Some(Status::Running);
    claim.executor_id = Some("x".into());
    let claim_three = || {
        s.update_by_status_and_start_at_less_than_and_return(requests::start_at(
            Status::Ready,
            F1,
            &claim,
            F0,
            3,
        ))
    };
    let first = claim_three().await.during("start-at claim, limit 3")?;
    ensure_eq(
        "first claim (startAt 0, then the clock-clamped one, then the older F0)",
        &vec!["g", "e", "b"],
        &ids(&first),
    )?;
    let second = claim_three().await.during("start-at claim again")?;
    ensure_eq(
        "second claim (startAt F1 and F2 are not below F1)",
        &vec!["c"],
        &ids(&second),
    )?;
    for v in first.iter().chain(&second) {
        ensure(
            v.status == Status::Running
                && v.executor_id.as_deref() == Some("x")
                && v.expires_at == Some(F0 + v.timeout_ms),
            format!("answered row {} lacks the update: {v:?}", v.execution_id),
        )?;
    }
    let stored = read(&*s, &["a", "b", "c", "d", "e", "f", "g"]).await?;
    let statuses: Vec<Status> = stored
        .iter()
        .map(|v| v.as_ref().map(|v| v.status).unwrap_or(Status::Cancelled))
        .collect();
    use Status::{Ready, Running};
    ensure_eq(
        "stored statuses",
        &vec![Ready, Running, Running, Running, Running, Ready, Running],
        &statuses,
    )
}

async fn start_at_claim_sets_expires_at_from_the_timeout(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(&*s, vec![with("a", |v| v.timeout_ms = 1_000)]).await?;
    let mut running = touch(PAST_MS);
    running.status = Some(Status::Running);
    let claimed = s
        .update_by_status_and_start_at_less_than_and_return(requests::start_at(
            Status::Ready,
            F0,
            &running,
            PAST_MS,
            1,
        ))
        .await
        .during("start-at claim from a past base")?;
    ensure_eq(
        "answered expiresAt = base + timeoutMs, unclamped",
        &vec![Some(PAST_MS + 1_000)],
        &claimed.iter().map(|v| v.expires_at).collect::<Vec<_>>(),
    )?;
    let a = read_one(&*s, "a").await?;
    let expires = a
        .expires_at
        .ok_or_else(|| ConformanceError::check("stored expiresAt is missing"))?;
    ensure(
        expires == a.updated_at + EXPIRY_CLAMP_OFFSET_MS,
        format!(
            "stored expiresAt {expires} should be the clamped now + 1000 (updatedAt {} + 1000)",
            a.updated_at
        ),
    )?;

    // An unset expiresAt in the same update wins in the store.
    insert(&*s, vec![with("b", |v| v.timeout_ms = 1_000)]).await?;
    let mut u = touch(F0);
    u.unset = Some(TaskExecutionStorageUnset {
        expires_at: true,
        ..Default::default()
    });
    let claimed = s
        .update_by_status_and_start_at_less_than_and_return(requests::start_at(
            Status::Ready,
            F0,
            &u,
            F0,
            1,
        ))
        .await
        .during("start-at claim with unset expiresAt")?;
    ensure_eq("claimed", &vec!["b"], &ids(&claimed))?;
    ensure_eq(
        "stored expiresAt of b after the unset",
        &None::<i64>,
        &read_one(&*s, "b").await?.expires_at,
    )
}

async fn children_finished_claim_selects_stale_parents_with_zero_acc(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let parent = |id: &str, edit: fn(&mut TaskExecutionStorageValue)| {
        with(id, |v| {
            v.status = Status::WaitingForChildren;
            v.on_children_finished_processing_status = Ocfp::Idle;
            edit(v);
        })
    };
    insert(
        &*s,
        vec![
            parent("p1", |_| {}),
            parent("p2", |v| v.active_children_count = 1),
            parent("p3", |v| {
                v.on_children_finished_processing_status = Ocfp::Processing
            }),
            parent("p4", |v| v.status = Status::Running),
            parent("p5", |_| {}),
            parent("p6", |_| {}),
        ],
    )
    .await?;
    update_one(&*s, "p5", touch(F0)).await?; // updatedAt in the future: never stale
    ctx.wait_until_stale().await?;
    update_one(&*s, "p1", touch(PAST_MS)).await?; // now the newest row
    ctx.wait_until_stale().await?;
    let mut u = touch(PAST_MS);
    u.on_children_finished_processing_status = Some(Ocfp::Processing);
    let claimed = s
        .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
            requests::ocfp_acc_zero(Status::WaitingForChildren, Ocfp::Idle, &u, 10),
        )
        .await
        .during("children-finished claim")?;
    ensure_eq(
        "claimed, oldest updatedAt first",
        &vec!["p6", "p1"],
        &ids(&claimed),
    )?;
    ctx.wait_until_stale().await?;
    let again = s
        .update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
            requests::ocfp_acc_zero(Status::WaitingForChildren, Ocfp::Idle, &u, 10),
        )
        .await
        .during("children-finished claim again")?;
    ensure_eq("claimed again", &Vec::<String>::new(), &ids(&again))
}

async fn close_status_claim_selects_stale_rows_oldest_first(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let ready = |id: &str| with(id, |v| v.close_status = Close::Ready);
    insert(
        &*s,
        vec![ready("c1"), ready("c2"), with("c3", |_| {}), ready("c4")],
    )
    .await?;
    update_one(&*s, "c4", touch(F0)).await?;
    ctx.wait_until_stale().await?;
    update_one(&*s, "c1", touch(PAST_MS)).await?;
    ctx.wait_until_stale().await?;
    let mut u = touch(PAST_MS);
    u.close_status = Some(Close::Closing);
    let first = s
        .update_by_close_status_and_return(requests::close_status(Close::Ready, &u, 1))
        .await
        .during("close-status claim, limit 1")?;
    ensure_eq("first claim", &vec!["c2"], &ids(&first))?;
    ctx.wait_until_stale().await?;
    let second = s
        .update_by_close_status_and_return(requests::close_status(Close::Ready, &u, 10))
        .await
        .during("close-status claim, limit 10")?;
    ensure_eq(
        "second claim (c4 is never stale)",
        &vec!["c1"],
        &ids(&second),
    )
}

async fn executor_claim_selects_stale_rows_of_one_executor(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let held = |id: &str, executor: Option<&str>, npc: bool| {
        with(id, |v| {
            v.executor_id = executor.map(str::to_string);
            v.needs_promise_cancellation = npc;
        })
    };
    insert(
        &*s,
        vec![
            held("e1", Some("x1"), true),
            held("e2", Some("x1"), true),
            held("e3", Some("x1"), false),
            held("e4", Some("x2"), true),
            held("e5", None, true),
        ],
    )
    .await?;
    ctx.wait_until_stale().await?;
    update_one(&*s, "e1", touch(PAST_MS)).await?;
    ctx.wait_until_stale().await?;
    let mut u = touch(PAST_MS);
    u.needs_promise_cancellation = Some(false);
    let claimed = s
        .update_by_executor_id_and_needs_promise_cancellation_and_return(requests::executor_npc(
            "x1", true, &u, 10,
        ))
        .await
        .during("executor claim")?;
    ensure_eq(
        "claimed, oldest updatedAt first",
        &vec!["e2", "e1"],
        &ids(&claimed),
    )?;
    let stored = read(&*s, &["e1", "e2", "e3", "e4", "e5"]).await?;
    let npc: Vec<bool> = stored
        .iter()
        .map(|v| v.as_ref().is_some_and(|v| v.needs_promise_cancellation))
        .collect();
    ensure_eq(
        "stored needsPromiseCancellation",
        &vec![false, false, false, true, true],
        &npc,
    )
}

async fn claims_with_limit_zero_select_nothing(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    let mut parent = minimal_execution("p");
    parent.active_children_count = 1;
    insert(
        &*s,
        vec![
            with("a", |v| {
                v.status = Status::Running;
                v.executor_id = Some("x".into());
                v.needs_promise_cancellation = true;
                v.expires_at = Some(0);
                v.on_children_finished_processing_expires_at = Some(0);
                v.close_expires_at = Some(0);
                v.close_status = Close::Ready;
                v.is_finished = true;
            }),
            parent,
        ],
    )
    .await?;
    insert_children(
        &*s,
        "p",
        vec![with("c", |v| {
            v.parent = child_execution("c", "p", 0, false, false).parent;
            v.close_status = Close::Ready;
            v.is_finished = true;
        })],
    )
    .await?;
    let before = read(&*s, &["a", "p", "c"]).await?;
    ctx.wait_until_stale().await?;
    let u = &touch(F0);
    let lists = vec![
        s.update_by_status_and_start_at_less_than_and_return(requests::start_at(Status::Running, 2 * F0, u, F0, 0)).await,
        s.update_by_status_and_on_children_finished_processing_status_and_active_children_count_zero_and_return(
            requests::ocfp_acc_zero(Status::Ready, Ocfp::Idle, u, 0),
        )
        .await,
        s.update_by_close_status_and_return(requests::close_status(Close::Ready, u, 0)).await,
        s.update_by_executor_id_and_needs_promise_cancellation_and_return(requests::executor_npc("x", true, u, 0)).await,
    ];
    for (i, list) in lists.into_iter().enumerate() {
        ensure_eq(
            &format!("sharded claim #{i} with limit 0"),
            &0,
            &list.during("claim")?.len(),
        )?;
    }
    let counts = vec![
        s.update_by_status_and_is_sleeping_task_and_expires_at_less_than(requests::expires(
            Status::Running,
            false,
            1,
            u,
            0,
        ))
        .await,
        s.update_by_on_children_finished_processing_expires_at_less_than(requests::ocfp_expires(
            1, u, 0,
        ))
        .await,
        s.update_by_close_expires_at_less_than(requests::close_expires(1, u, 0))
            .await,
        s.update_and_decrement_parent_active_children_count_by_is_finished_and_close_status(
            requests::decrement(true, Close::Ready, u, 0),
        )
        .await,
    ];
    for (i, count) in counts.into_iter().enumerate() {
        ensure_eq(
            &format!("counting sweep #{i} with limit 0"),
            &0,
            &count.during("sweep")?,
        )?;
    }
    ensure_eq(
        "rows after the limit-0 calls",
        &before,
        &read(&*s, &["a", "p", "c"]).await?,
    )
}

async fn claims_answer_rows_with_the_update_applied_by_the_client(
    ctx: &Ctx<'_>,
) -> Result<(), ConformanceError> {
    let s = ctx.storage()?;
    insert(
        &*s,
        vec![with("a", |v| {
            v.close_status = Close::Ready;
            v.executor_id = Some("old".into());
            v.output = Some("kept".into());
        })],
    )
    .await?;
    ctx.wait_until_stale().await?;
    let u = TaskExecutionStorageUpdate {
        close_status: Some(Close::Closing),
        run_output: Some("ro".into()),
        executor_id: Some("new".into()),
        closed_at: Some(PAST_MS),
        updated_at: PAST_MS,
        unset: Some(TaskExecutionStorageUnset {
            executor_id: true,
            ..Default::default()
        }),
        ..TaskExecutionStorageUpdate::default()
    };
    let claimed = s
        .update_by_close_status_and_return(requests::close_status(Close::Ready, &u, 1))
        .await
        .during("close claim")?;
    let got = claimed
        .first()
        .cloned()
        .ok_or_else(|| ConformanceError::check("nothing was claimed"))?;
    let stored = read_one(&*s, "a").await?;
    // The answer: the row as read, then the update as given (no clamping), then the unset flags.
    ensure_eq(
        "answered (closeStatus, runOutput, executorId, closedAt, updatedAt, output)",
        &(
            Close::Closing,
            Some("ro"),
            None::<String>,
            Some(PAST_MS),
            PAST_MS,
            Some("kept"),
        ),
        &(
            got.close_status,
            got.run_output.as_deref(),
            got.executor_id.clone(),
            got.closed_at,
            got.updated_at,
            got.output.as_deref(),
        ),
    )?;
    // The store: clamped to its now.
    ensure(
        stored.updated_at > PAST_MS && stored.closed_at == Some(stored.updated_at),
        format!("stored closedAt/updatedAt not clamped: {stored:?}"),
    )?;
    ensure_eq(
        "stored executorId (unset wins)",
        &None::<String>,
        &stored.executor_id,
    )
}
