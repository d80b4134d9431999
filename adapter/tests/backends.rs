//! The behaviour checks of `support/checks.rs` against every backend: the in-memory model, the
//! emulator and the Node reference server, each through the same trait object. The remote
//! backends also get the checks that need a URL: authentication, test mode, sharding.
//!
//! One server per backend serves all of its checks one after another (a `delete_all` before
//! each), and every failing check is reported, not only the first.

mod support {
    pub mod checks;
    pub mod values;
}

use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use convex_storage_testkit::{Emulator, ServerProcess};
use durable_execution_storage_convex::*;
use support::checks::{self, BoxFuture};
use support::values::*;

const SECRET: &str = "adapter-backends-secret";

/// Runs every check, each on a store that starts empty; fails listing every failed check.
async fn run_checks<F>(backend: &str, fresh_store: F) -> Result<()>
where
    F: Fn() -> BoxFuture<'static, Result<Arc<dyn TaskExecutionsStorage>>>,
{
    let mut failures = Vec::new();
    let checks = checks::all();
    for check in &checks {
        let outcome = async {
            let storage = fresh_store().await.context("preparing an empty store")?;
            (check.run)(storage.as_ref()).await
        }
        .await;
        match outcome {
            Ok(()) => eprintln!("{backend}: {} ok", check.name),
            Err(error) => failures.push(format!("{}: {error:#}", check.name)),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} checks failed on {backend}:\n{}",
        failures.len(),
        checks.len(),
        failures.join("\n\n")
    );
    Ok(())
}

fn connect(url: &str, secret: &str, options: ConvexStorageOptions) -> ConvexTaskExecutionsStorage {
    ConvexTaskExecutionsStorage::new(url, secret, options).expect("valid options")
}

fn test_mode() -> ConvexStorageOptions {
    ConvexStorageOptions {
        enable_test_mode: true,
        ..Default::default()
    }
}

/// Every check against a running server, then the URL-level checks.
async fn run_remote(backend: &str, url: &str) -> Result<()> {
    let url = url.to_string();
    let storage: Arc<dyn TaskExecutionsStorage> = Arc::new(connect(&url, SECRET, test_mode()));
    let checks = run_checks(backend, || {
        let storage = storage.clone();
        Box::pin(async move {
            storage.delete_all().await?;
            Ok(storage)
        })
    })
    .await;
    storage.delete_all().await?;
    let remote = remote_checks(&url).await;
    match (checks, remote) {
        (Ok(()), Ok(())) => Ok(()),
        (checks, remote) => {
            let describe = |r: Result<()>| {
                r.err()
                    .map(|e| format!("{e:#}"))
                    .unwrap_or_else(|| "ok".into())
            };
            anyhow::bail!(
                "{backend}:\n== checks ==\n{}\n== remote checks ==\n{}",
                describe(checks),
                describe(remote)
            )
        }
    }
}

async fn remote_checks(url: &str) -> Result<()> {
    wrong_secret_is_rejected(url)
        .await
        .context("wrong_secret_is_rejected")?;
    deletes_are_no_ops_without_test_mode(url)
        .await
        .context("deletes_are_no_ops_without_test_mode")?;
    shards_split_the_claims(url)
        .await
        .context("shards_split_the_claims")?;
    Ok(())
}

async fn wrong_secret_is_rejected(url: &str) -> Result<()> {
    let good = connect(url, SECRET, test_mode());
    good.insert_many(vec![ready("guarded")]).await?;
    for secret in ["wrong", ""] {
        let bad = connect(url, secret, test_mode());
        let errors = [
            bad.get_many_by_id(vec![by_id("guarded")]).await.err(),
            bad.insert_many(vec![ready("intruder")]).await.err(),
            bad.update_many_by_id(vec![]).await.err(),
            bad.update_by_close_status_and_return(UpdateByCloseStatusRequest {
                close_status: TaskExecutionCloseStatus::Idle,
                update: touch(),
                limit: 1,
            })
            .await
            .err(),
            bad.delete_all().await.err(),
        ];
        for error in errors {
            let error = error.context("a call with a wrong secret succeeded")?;
            ensure!(matches!(error, StorageError::Function { .. }), "{error:?}");
            ensure!(
                error.thrown_message().as_deref() == Some("Invalid auth secret"),
                "{error:?}"
            );
        }
    }
    let left = good
        .get_many_by_id(vec![by_id("guarded"), by_id("intruder")])
        .await?;
    ensure!(
        left[0].is_some() && left[1].is_none(),
        "nothing changed: {left:?}"
    );
    good.delete_all().await?;
    Ok(())
}

async fn deletes_are_no_ops_without_test_mode(url: &str) -> Result<()> {
    let production = connect(url, SECRET, ConvexStorageOptions::default());
    production.insert_many(vec![ready("kept")]).await?;
    production.delete_by_id("kept").await?;
    production.delete_all().await?;
    ensure!(
        production.get_many_by_id(vec![by_id("kept")]).await?[0].is_some(),
        "deletes did nothing"
    );
    connect(url, SECRET, test_mode()).delete_all().await?;
    Ok(())
}

async fn shards_split_the_claims(url: &str) -> Result<()> {
    /// Enough rows that every one of 3 shards gets some (all in one shard: 3 * (1/3)^60).
    const ROWS: usize = 60;
    let options = |shards: Option<Vec<u32>>| ConvexStorageOptions {
        total_shards: 3,
        shards,
        ..test_mode()
    };
    let all = connect(url, SECRET, options(None));
    all.insert_many((0..ROWS).map(|i| ready(&format!("s{i}"))).collect())
        .await?;
    let claim = || UpdateByStatusAndStartAtLessThanRequest {
        status: TaskExecutionStatus::Ready,
        start_at_less_than: FUTURE_MS,
        update: TaskExecutionStorageUpdate {
            status: Some(TaskExecutionStatus::Running),
            ..touch()
        },
        update_expires_at_with_started_at: FUTURE_MS,
        limit: 1_000,
    };
    let shard_one = connect(url, SECRET, options(Some(vec![1])));
    let from_one = shard_one
        .update_by_status_and_start_at_less_than_and_return(claim())
        .await?;
    let from_rest = all
        .update_by_status_and_start_at_less_than_and_return(claim())
        .await?;
    ensure!(
        !from_one.is_empty() && !from_rest.is_empty(),
        "{} + {}",
        from_one.len(),
        from_rest.len()
    );
    ensure!(
        from_one.len() + from_rest.len() == ROWS,
        "each row claimed once: {} + {}",
        from_one.len(),
        from_rest.len()
    );
    let mut claimed: Vec<&str> = ids(&from_one).into_iter().chain(ids(&from_rest)).collect();
    claimed.sort_unstable();
    claimed.dedup();
    ensure!(claimed.len() == ROWS, "no row claimed twice");
    all.delete_all().await?;
    Ok(())
}

#[tokio::test]
async fn memory_backend() -> Result<()> {
    run_checks("memory", || {
        Box::pin(async {
            Ok(Arc::new(InMemoryTaskExecutionsStorage::new()) as Arc<dyn TaskExecutionsStorage>)
        })
    })
    .await
}

#[tokio::test]
async fn emulator_backend() -> Result<()> {
    let emulator = Emulator::builder().auth_secret(SECRET).start().await?;
    run_remote("emulator", emulator.url()).await
}

#[tokio::test]
async fn reference_backend() -> Result<()> {
    let server = tokio::task::spawn_blocking(|| ServerProcess::start_reference(SECRET)).await??;
    run_remote("reference", server.url()).await
}
