//! The auth secret: every one of the 17 operations rejects a wrong secret with
//! `Invalid auth secret` and changes nothing.

use serde_json::json;

use super::support::*;
use super::{scenarios, Ctx, Family, Scenario};
use crate::backend::ClientOptions;
use crate::error::ConformanceError;
use crate::model::transition::{IdUpdate, IdUpdateWithChildren, Lookup, ParentUpdate, Transition};
use crate::operation::Operation;
use durable_execution_storage_convex::{
    OnChildrenFinishedProcessingStatus as Ocfp, TaskExecutionCloseStatus as Close,
    TaskExecutionStatus as Status,
};

pub fn scenarios() -> Vec<Scenario> {
    let mut all = vec![Scenario {
        name: "every_operation_rejects_a_wrong_secret",
        family: Family::Auth,
        operations: &Operation::ALL,
        run: |ctx| Box::pin(every_operation_rejects_a_wrong_secret(ctx)),
    }];
    all.extend(scenarios! { Family::Auth;
        near_miss_secrets_are_rejected: [GetManyById],
    });
    all
}

/// One call of each of the 17 operations, each of which would change or read row `a`.
pub fn one_call_per_operation() -> Vec<Transition> {
    let u = || {
        let mut u = touch(PAST_MS);
        u.output = Some("changed".into());
        u
    };
    vec![
        Transition::InsertMany {
            executions: vec![minimal_execution("b")],
        },
        Transition::GetManyById {
            requests: vec![Lookup {
                execution_id: "a".into(),
                filters: None,
            }],
        },
        Transition::GetManyBySleepingTaskUniqueId {
            sleeping_task_unique_ids: vec!["s-a".into()],
        },
        Transition::UpdateManyById {
            requests: vec![IdUpdate {
                execution_id: "a".into(),
                filters: None,
                update: u(),
            }],
        },
        Transition::UpdateManyByIdAndInsertChildrenIfUpdated {
            requests: vec![IdUpdateWithChildren {
                execution_id: "a".into(),
                filters: None,
                update: u(),
                children: vec![child_execution("c", "a", 0, true, false)],
            }],
        },
        Transition::ClaimByStartAt {
            status: Status::Ready,
            start_at_less_than: 2 * F0,
            update: u(),
            update_expires_at_with_started_at: F0,
            limit: 10,
        },
        Transition::ClaimByOcfpStatusAndAccZero {
            status: Status::Ready,
            ocfp_status: Ocfp::Idle,
            update: u(),
            limit: 10,
        },
        Transition::ClaimByCloseStatus {
            close_status: Close::Idle,
            update: u(),
            limit: 10,
        },
        Transition::ExpireByStatusAndIsSleepingTask {
            status: Status::Ready,
            is_sleeping_task: true,
            expires_at_less_than: 2 * F0,
            update: u(),
            limit: 10,
        },
        Transition::ExpireOcfp {
            less_than: 2 * F0,
            update: u(),
            limit: 10,
        },
        Transition::ExpireClose {
            less_than: 2 * F0,
            update: u(),
            limit: 10,
        },
        Transition::ClaimByExecutorIdAndNpc {
            executor_id: "x".into(),
            npc: false,
            update: u(),
            limit: 10,
        },
        Transition::GetManyByParentExecutionId {
            parent_execution_ids: vec!["a".into()],
        },
        Transition::UpdateManyByParentExecutionIdAndIsFinished {
            requests: vec![ParentUpdate {
                parent_execution_id: "root".into(),
                is_finished: false,
                update: u(),
            }],
        },
        Transition::CloseAndDecrementParents {
            is_finished: false,
            close_status: Close::Idle,
            update: u(),
            limit: 10,
        },
        Transition::DeleteById {
            execution_id: "a".into(),
        },
        Transition::DeleteAll,
    ]
}

/// Row `a`, matched by every call of [`one_call_per_operation`].
fn row_a() -> durable_execution_storage_convex::TaskExecutionStorageValue {
    let mut a = child_execution("a", "root", 0, false, false);
    a.is_sleeping_task = true;
    a.sleeping_task_unique_id = Some("s-a".into());
    a.executor_id = Some("x".into());
    a.expires_at = Some(F0);
    a.on_children_finished_processing_expires_at = Some(F0);
    a.close_expires_at = Some(F0);
    a
}

async fn every_operation_rejects_a_wrong_secret(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    if ctx.is_memory() {
        return Err(ConformanceError::NotApplicable(
            "the in-memory store has no auth secret".into(),
        ));
    }
    let s = ctx.storage()?;
    insert(&*s, vec![row_a()]).await?;
    ctx.wait_until_stale().await?;
    let before = read(&*s, &["a", "b", "c"]).await?;
    let wrong = ctx.client(&ClientOptions {
        auth_secret: Some("not-the-secret".into()),
        ..ClientOptions::default()
    })?;
    for transition in one_call_per_operation() {
        let answer = transition.perform(&wrong).await;
        ensure_eq(
            &format!("{} with a wrong secret", transition.operation()),
            &json!({"error": "Invalid auth secret"}),
            &answer,
        )?;
    }
    ensure_eq(
        "rows after the rejected calls",
        &before,
        &read(&*s, &["a", "b", "c"]).await?,
    )
}

async fn near_miss_secrets_are_rejected(ctx: &Ctx<'_>) -> Result<(), ConformanceError> {
    let Some(secret) = ctx.auth_secret() else {
        return Err(ConformanceError::NotApplicable(
            "the in-memory store has no auth secret".into(),
        ));
    };
    let mut near = vec![
        String::new(),
        format!("{secret} "),
        secret.to_uppercase(),
        format!("x{secret}"),
    ];
    if secret.len() > 1 {
        near.push(secret[..secret.len() - 1].to_string());
    }
    for candidate in near.into_iter().filter(|c| *c != secret) {
        let client = ctx.client(&ClientOptions {
            auth_secret: Some(candidate.clone()),
            ..ClientOptions::default()
        })?;
        let result = client.get_many_by_id(vec![]).await;
        ensure_thrown(
            &format!("secret {candidate:?}"),
            result,
            "Invalid auth secret",
        )?;
    }
    Ok(())
}
