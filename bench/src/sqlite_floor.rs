//! How fast SQLite alone stores the rows an import stores: the floor under the import's rows
//! per second on this machine.
//!
//! The rows are copied with one `INSERT INTO ... SELECT` from the emulator's own database file
//! into a fresh file with the same table and indexes, with everything an import does not need
//! switched off (no journal, no fsync, one connection), and the table's unique indexes built
//! after the rows as the import builds them. No JSON is parsed, no row is encoded or bound
//! from Rust and no WAL is written, so this is less work than any import of the same rows,
//! whatever its code: an import cannot be faster than this figure.

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use rusqlite::{params, Connection, OpenFlags};

/// The emulator's executions table.
const TABLE: &str = "task_executions";

/// The word that makes a column constraint an index of its own (see the emulator's
/// `store/empty_load.rs`, which loads without it too).
const UNIQUE: &str = " UNIQUE";

/// What the copy took.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// The rows copied.
    pub rows: u64,
    /// Inserting them with the range indexes in place, then building the unique indexes,
    /// seconds.
    pub seconds: f64,
}

/// Copies every execution of the emulator database `source` (it may be open by the emulator:
/// this reads a snapshot of it) into a new file `scratch` and times the copy. `scratch` is
/// removed afterwards.
pub fn measure(source: &Path, scratch: &Path) -> Result<Floor> {
    let floor = copy(source, scratch);
    let _ = std::fs::remove_file(scratch);
    floor
}

fn copy(source: &Path, scratch: &Path) -> Result<Floor> {
    let _ = std::fs::remove_file(scratch);
    let schema = read_schema(source)?;
    let conn =
        Connection::open(scratch).with_context(|| format!("opening {}", scratch.display()))?;
    conn.execute_batch(
        "PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous = OFF; PRAGMA main.locking_mode = EXCLUSIVE;",
    )?;
    conn.execute_batch(&schema.table_sql.replace(UNIQUE, ""))?;
    for sql in &schema.range_indexes {
        conn.execute_batch(sql)?;
    }
    conn.execute("ATTACH DATABASE ?1 AS source", params![source_uri(source)])?;

    let started = Instant::now();
    conn.execute_batch("BEGIN")?;
    let rows = conn.execute(
        &format!("INSERT INTO main.{TABLE} SELECT * FROM source.{TABLE} ORDER BY row"),
        [],
    )?;
    for (i, columns) in schema.unique.iter().enumerate() {
        conn.execute_batch(&format!(
            "CREATE UNIQUE INDEX {TABLE}_floor_unique_{i} ON {TABLE} ({})",
            columns.join(", ")
        ))?;
    }
    conn.execute_batch("COMMIT")?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        rows > 0,
        "the emulator's database holds no execution to copy"
    );
    Ok(Floor {
        rows: rows as u64,
        seconds,
    })
}

/// The executions table as the emulator made it.
struct Schema {
    /// Its `CREATE TABLE` text.
    table_sql: String,
    /// The `CREATE INDEX` text of each of its range indexes.
    range_indexes: Vec<String>,
    /// The columns of each of its unique indexes.
    unique: Vec<Vec<String>>,
}

fn read_schema(source: &Path) -> Result<Schema> {
    let conn = Connection::open_with_flags(
        source_uri(source),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("opening {} to read its schema", source.display()))?;
    let table_sql: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![TABLE],
        |r| r.get(0),
    )?;
    let range_indexes = conn
        .prepare(
            "SELECT sql FROM sqlite_master
             WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY rowid",
        )?
        .query_map(params![TABLE], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let unique_names = conn
        .prepare(&format!(
            "SELECT name FROM pragma_index_list('{TABLE}') WHERE \"unique\" AND origin = 'u'"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let mut unique = Vec::new();
    for name in unique_names {
        let columns = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map(params![name], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        unique.push(columns);
    }
    ensure!(
        table_sql.matches(UNIQUE).count() == unique.len(),
        "the executions table of {} is not as this bench expects",
        source.display()
    );
    Ok(Schema {
        table_sql,
        range_indexes,
        unique,
    })
}

/// A read-only URI for `path`.
fn source_uri(path: &Path) -> String {
    format!("file:{}?mode=ro", path.display())
}
