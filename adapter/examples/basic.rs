//! The upstream README's usage, in Rust: connect, enqueue one execution, claim it the way an
//! executor does, complete it, read it back.
//!
//! ```text
//! CONVEX_URL=http://127.0.0.1:3210 CONVEX_STORAGE_AUTH_SECRET=SUPER_SECRET \
//!     cargo run -p durable-execution-storage-convex --example basic
//! ```
//!
//! Works against a deployment with the storage component and its public `taskExecutionsStorage`
//! module, or against the emulator (`convex-storage-emulator --auth-secret SUPER_SECRET`).
//! The claim step claims whatever ready executions are due, as an executor would; on a shared
//! deployment it may pick up others' executions too, which this example then leaves running.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use durable_execution_storage_convex::*;

/// How long the example task may run before the store considers it timed out, in ms.
const TIMEOUT_MS: i64 = 60_000;

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("CONVEX_URL").context("set CONVEX_URL to the deployment URL")?;
    let secret = std::env::var("CONVEX_STORAGE_AUTH_SECRET")
        .context("set CONVEX_STORAGE_AUTH_SECRET to the public API's auth secret")?;
    let storage = ConvexTaskExecutionsStorage::new(&url, &secret, ConvexStorageOptions::default())?;

    // Enqueue: a ready root execution, due now.
    let now = now_ms();
    let execution_id = format!("te_example_{now}");
    storage
        .insert_many(vec![new_execution(&execution_id, now)])
        .await?;
    println!("inserted {execution_id}");

    // Claim: what an executor's background loop does for ready executions that are due.
    let now = now_ms();
    let claimed = storage
        .update_by_status_and_start_at_less_than_and_return(
            UpdateByStatusAndStartAtLessThanRequest {
                status: TaskExecutionStatus::Ready,
                // The store raises a past `startAt` to its own now + 50 ms, so look a little ahead.
                start_at_less_than: now + 1_000,
                update: TaskExecutionStorageUpdate {
                    executor_id: Some("example-executor".into()),
                    status: Some(TaskExecutionStatus::Running),
                    started_at: Some(now),
                    updated_at: now,
                    ..Default::default()
                },
                update_expires_at_with_started_at: now,
                limit: 10,
            },
        )
        .await?;
    let Some(running) = claimed.iter().find(|v| v.execution_id == execution_id) else {
        bail!(
            "{execution_id} was not claimed (claimed {} others; is another executor running?)",
            claimed.len()
        );
    };
    println!(
        "claimed {execution_id}: running until {:?}",
        running.expires_at
    );

    // Complete: run the "task", then record its output, guarded by the status we expect.
    let input: serde_json::Value = serde_json::from_str(&running.input)?;
    let output = serde_json::json!({ "greeting": format!("Hello, {}!", input["name"].as_str().unwrap_or("?")) });
    let now = now_ms();
    storage
        .update_many_by_id(vec![UpdateByIdRequest {
            execution_id: execution_id.clone(),
            filters: Some(TaskExecutionStorageGetByIdFilters {
                status: Some(TaskExecutionStatus::Running),
                ..Default::default()
            }),
            update: TaskExecutionStorageUpdate {
                status: Some(TaskExecutionStatus::Completed),
                is_finished: Some(true),
                run_output: Some(output.to_string()),
                output: Some(output.to_string()),
                finished_at: Some(now),
                close_status: Some(TaskExecutionCloseStatus::Ready),
                updated_at: now,
                unset: Some(TaskExecutionStorageUnset {
                    executor_id: true,
                    expires_at: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
        }])
        .await?;

    // Read back.
    let stored = storage
        .get_many_by_id(vec![GetByIdRequest {
            execution_id: execution_id.clone(),
            filters: None,
        }])
        .await?
        .remove(0)
        .with_context(|| format!("{execution_id} disappeared"))?;
    println!("{}", serde_json::to_string_pretty(&stored)?);
    Ok(())
}

/// A ready root execution, as durable-execution's `createTaskExecutionStorageValue` makes one.
fn new_execution(execution_id: &str, now: i64) -> TaskExecutionStorageValue {
    TaskExecutionStorageValue::create(NewTaskExecution {
        now,
        timeout_ms: TIMEOUT_MS,
        ..NewTaskExecution::new(
            "greet",
            execution_id,
            serde_json::json!({ "name": "world" }).to_string(),
        )
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
