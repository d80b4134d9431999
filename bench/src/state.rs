//! State control of the emulator, over its `/_emulator/` routes: `reset` against the adapter's
//! `deleteAll` on the same number of rows, and snapshot export and import in rows per second.
//!
//! The rows are the scale run's background executions (`scale::fill`), so the figures are for
//! a store as a long-lived deployment holds it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use durable_execution_storage_convex::TaskExecutionsStorage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{scale, sqlite_floor};

/// The figures of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFigures {
    /// Rows in the store for the reset and `deleteAll` timings.
    pub reset_rows: usize,
    /// `POST /_emulator/reset`, milliseconds.
    pub reset_ms: f64,
    /// The adapter's `delete_all` (100 rows a transaction), milliseconds.
    pub delete_all_ms: f64,
    /// How many times faster reset is.
    pub reset_speedup: f64,
    /// Rows in the store for the snapshot timings.
    pub snapshot_rows: usize,
    /// `GET /_emulator/export`, seconds (until the whole ZIP is received).
    pub export_s: f64,
    pub export_rows_per_s: f64,
    /// Size of the ZIP, bytes.
    pub zip_bytes: usize,
    /// `POST /_emulator/import?replace=true` of that ZIP over the store that holds its rows,
    /// seconds: emptying the store (in the same transaction) and importing.
    pub import_s: f64,
    pub import_rows_per_s: f64,
    /// `POST /_emulator/import` of the same ZIP into the store just emptied by reset, seconds:
    /// the import alone, as into a fresh store (`--snapshot`, the `import` subcommand).
    #[serde(default)]
    pub import_empty_s: f64,
    #[serde(default)]
    pub import_empty_rows_per_s: f64,
    /// The same rows copied by SQLite alone into a fresh file with the same table and indexes
    /// (`sqlite_floor`), seconds: the most any import could reach on this machine.
    #[serde(default)]
    pub sqlite_floor_s: f64,
    #[serde(default)]
    pub sqlite_floor_rows_per_s: f64,
}

/// Runs the state figures against the emulator at `url`, whose database file is `db`, starting
/// from an empty store.
pub async fn run(
    url: &str,
    db: &Path,
    secret: &str,
    storage: Arc<dyn TaskExecutionsStorage>,
    reset_rows: usize,
    snapshot_rows: usize,
    zip_out: Option<&Path>,
) -> Result<StateFigures> {
    let http = reqwest::Client::new();
    let control = |method: reqwest::Method, route: &str| {
        http.request(method, format!("{url}/_emulator/{route}"))
            .bearer_auth(secret)
    };

    eprintln!("-- state: reset vs deleteAll on {reset_rows} executions");
    storage.delete_all().await?;
    scale::fill(storage.clone(), 0, reset_rows).await?;
    let started = Instant::now();
    let answer: Value = control(reqwest::Method::POST, "reset")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let reset_ms = started.elapsed().as_secs_f64() * 1000.0;
    ensure!(answer["deleted"] == reset_rows, "reset answered {answer}");

    scale::fill(storage.clone(), 0, reset_rows).await?;
    let started = Instant::now();
    storage.delete_all().await?;
    let delete_all_ms = started.elapsed().as_secs_f64() * 1000.0;

    eprintln!("-- state: export and import of {snapshot_rows} executions");
    scale::fill(storage.clone(), 0, snapshot_rows).await?;
    let started = Instant::now();
    let zip = control(reqwest::Method::GET, "export")
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let export_s = started.elapsed().as_secs_f64();
    if let Some(path) = zip_out {
        std::fs::write(path, &zip).with_context(|| format!("writing {}", path.display()))?;
    }

    // Imports the ZIP through `route` and answers how long it took, in seconds.
    let import = |route: &'static str| {
        let request = control(reqwest::Method::POST, route).body(zip.clone());
        async move {
            let started = Instant::now();
            let answer: Value = request
                .send()
                .await?
                .error_for_status()
                .with_context(|| format!("POST /_emulator/{route}"))?
                .json()
                .await?;
            let seconds = started.elapsed().as_secs_f64();
            ensure!(
                answer["imported"] == snapshot_rows,
                "POST /_emulator/{route} answered {answer}"
            );
            anyhow::Ok(seconds)
        }
    };
    // Emptied with reset: `deleteAll` of a million rows outlasts the client's request timeout.
    let reset = || async {
        control(reqwest::Method::POST, "reset")
            .send()
            .await?
            .error_for_status()?;
        anyhow::Ok(())
    };
    let import_s = import("import?replace=true").await?;
    reset().await?;
    let import_empty_s = import("import").await?;
    eprintln!("-- state: the same rows copied by SQLite alone");
    let (source, scratch) = (db.to_path_buf(), db.with_extension("floor.sqlite3"));
    let floor =
        tokio::task::spawn_blocking(move || sqlite_floor::measure(&source, &scratch)).await??;
    ensure!(
        floor.rows == snapshot_rows as u64,
        "SQLite copied {} rows, not {snapshot_rows}",
        floor.rows
    );
    reset().await?;

    Ok(StateFigures {
        reset_rows,
        reset_ms,
        delete_all_ms,
        reset_speedup: delete_all_ms / reset_ms,
        snapshot_rows,
        export_s,
        export_rows_per_s: snapshot_rows as f64 / export_s,
        zip_bytes: zip.len(),
        import_s,
        import_rows_per_s: snapshot_rows as f64 / import_s,
        import_empty_s,
        import_empty_rows_per_s: snapshot_rows as f64 / import_empty_s,
        sqlite_floor_s: floor.seconds,
        sqlite_floor_rows_per_s: snapshot_rows as f64 / floor.seconds,
    })
}

/// The state figures as a Markdown table.
pub fn print(figures: &StateFigures) {
    println!("\n## State control (emulator)\n");
    println!("| what | rows | time | rate |");
    println!("|---|---|---|---|");
    println!(
        "| `POST /_emulator/reset` | {} | {:.1} ms | {:.0}× faster than deleteAll |",
        figures.reset_rows, figures.reset_ms, figures.reset_speedup
    );
    println!(
        "| `deleteAll` (adapter) | {} | {:.1} ms | |",
        figures.reset_rows, figures.delete_all_ms
    );
    println!(
        "| `GET /_emulator/export` | {} | {:.2} s | {:.0} rows/s ({:.1} MB ZIP) |",
        figures.snapshot_rows,
        figures.export_s,
        figures.export_rows_per_s,
        figures.zip_bytes as f64 / 1e6
    );
    println!(
        "| `POST /_emulator/import?replace=true` over as many rows | {} | {:.2} s | {:.0} rows/s |",
        figures.snapshot_rows, figures.import_s, figures.import_rows_per_s
    );
    println!(
        "| `POST /_emulator/import` into the empty store | {} | {:.2} s | {:.0} rows/s |",
        figures.snapshot_rows, figures.import_empty_s, figures.import_empty_rows_per_s
    );
    println!(
        "| the same rows copied by SQLite alone (`sqlite_floor.rs`) | {} | {:.2} s | {:.0} rows/s |",
        figures.snapshot_rows, figures.sqlite_floor_s, figures.sqlite_floor_rows_per_s
    );
}
