//! Loading many rows into an empty executions table (a snapshot import): the table's unique
//! indexes are built once, sorted, after the rows are in, instead of taking a million keys at
//! random places one by one.
//!
//! The unique indexes are the table's own (`id TEXT NOT NULL UNIQUE`, ...), which SQLite builds
//! with the table and no statement drops. So the empty table is dropped and made again without
//! its `UNIQUE` words for the load, with its range indexes (rows come in creation order, and
//! their keys land at the end of their prefix: cheaper to keep as they come than to build from
//! a scan of the whole table). Once the rows are in, each unique index is built with
//! `CREATE UNIQUE INDEX` (one sorted pass; a duplicate fails it), then the schema table is
//! given back the table's original text and the indexes their original names, the way
//! SQLite's documentation describes for schema changes that leave the stored rows as they are
//! (`PRAGMA writable_schema`, lang_altertable.html): the index a `UNIQUE` column constraint
//! makes is an ordinary unique index on that column, named `sqlite_autoindex_<table>_<n>`, with
//! no SQL text. Every step is inside the import's transaction, so a refused or interrupted
//! import leaves the old table, indexes and schema text as they were.
//!
//! Measured at 1,000,000 rows (BENCHMARKS.md, "State control"): kept as the rows came, the two
//! unique indexes cost about 5.6 s; built after, 2.6 s. The range indexes are the other way
//! round: 7.3 s kept, 11.7 s built after (each build scans the whole table).

use rusqlite::{params, ErrorCode};

use crate::error::Error;
use crate::store::tx::WriteTx;

/// The executions table.
const TABLE: &str = "task_executions";

/// The word that makes a column constraint an index of its own.
const UNIQUE: &str = " UNIQUE";

/// What [`WriteTx::load_without_unique_indexes`] took off the executions table, to put back
/// with [`WriteTx::restore_unique_indexes`] before the transaction commits.
#[must_use = "the unique indexes must be restored before the transaction commits"]
pub struct LoadingTable {
    /// The table's `CREATE TABLE` text, as the schema table held it.
    table_sql: String,
    /// Each unique index of the table: its name (`sqlite_autoindex_...`) and its columns.
    unique: Vec<(String, Vec<String>)>,
}

impl WriteTx<'_> {
    /// Makes the executions table, which must be empty, again without its unique indexes (its
    /// range indexes stay). `None`, and nothing changed, when the table is not as this build
    /// creates it (then the caller loads the rows as they are).
    pub fn load_without_unique_indexes(&mut self) -> Result<Option<LoadingTable>, Error> {
        if self.count_executions()? != 0 {
            return Ok(None);
        }
        let conn = self.read.conn;
        let table_sql: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![TABLE],
            |r| r.get(0),
        )?;
        let mut unique = Vec::new();
        let mut stmt = conn.prepare(&format!("PRAGMA index_list({TABLE})"))?;
        let listed: Vec<(String, bool, String)> = stmt
            .query_map([], |r| {
                Ok((r.get("name")?, r.get("unique")?, r.get("origin")?))
            })?
            .collect::<Result<_, _>>()?;
        for (name, is_unique, origin) in listed {
            match origin.as_str() {
                // A `CREATE INDEX`: dropped with the table, made again from its text.
                "c" => continue,
                "u" if is_unique => unique.push((name.clone(), index_columns(self, &name)?)),
                // A primary key other than the rowid, or anything else: not this build's table.
                _ => return Ok(None),
            }
        }
        let loading_sql = table_sql.replace(UNIQUE, "");
        if table_sql.matches(UNIQUE).count() != unique.len() || unique.is_empty() {
            return Ok(None);
        }
        let range_indexes = self.secondary_indexes()?;
        conn.execute_batch(&format!("DROP TABLE {TABLE}"))?;
        conn.execute_batch(&loading_sql)?;
        for (_, sql) in range_indexes {
            conn.execute_batch(&sql)?;
        }
        Ok(Some(LoadingTable { table_sql, unique }))
    }

    /// Builds the unique indexes [`WriteTx::load_without_unique_indexes`] took off, each in one
    /// sorted pass, and gives the table and them back their original schema entries. Two rows
    /// with the same value in a unique column fail it with [`Error::DuplicateKey`].
    pub fn restore_unique_indexes(&mut self, loading: LoadingTable) -> Result<(), Error> {
        let conn = self.read.conn;
        let mut built = Vec::with_capacity(loading.unique.len());
        for (i, (name, columns)) in loading.unique.iter().enumerate() {
            let temporary = format!("{TABLE}_loading_unique_{i}");
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let sql = format!(
                "CREATE UNIQUE INDEX \"{temporary}\" ON {TABLE} ({})",
                quoted.join(", ")
            );
            if let Err(e) = conn.execute_batch(&sql) {
                return Err(match e.sqlite_error_code() {
                    Some(ErrorCode::ConstraintViolation) => duplicate(self, columns),
                    _ => e.into(),
                });
            }
            built.push((temporary, name));
        }
        // Only the text and names change: the rows and index pages are those just built.
        conn.execute_batch("PRAGMA writable_schema = ON")?;
        let renamed = (|| -> Result<(), Error> {
            conn.execute(
                "UPDATE sqlite_master SET sql = ?1 WHERE type = 'table' AND name = ?2",
                params![loading.table_sql, TABLE],
            )?;
            for (temporary, name) in &built {
                conn.execute(
                    "UPDATE sqlite_master SET name = ?1, sql = NULL
                     WHERE type = 'index' AND name = ?2",
                    params![name, temporary],
                )?;
            }
            Ok(())
        })();
        // Reloads this connection's schema from the table just edited (and turns the writes
        // off again, whatever happened). Other connections reload it after the commit: the
        // DDL statements of this transaction changed the schema cookie.
        let reset = conn.execute_batch("PRAGMA writable_schema = RESET");
        renamed?;
        reset?;
        Ok(())
    }
}

/// The columns of the index `name`, in order.
fn index_columns(tx: &WriteTx<'_>, name: &str) -> Result<Vec<String>, Error> {
    let mut stmt = tx
        .read
        .conn
        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
    let columns = stmt
        .query_map(params![name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(columns)
}

/// The error for a unique index that could not be built: the first value found twice.
fn duplicate(tx: &WriteTx<'_>, columns: &[String]) -> Error {
    let column = columns.join(", ");
    let value: Option<String> = tx
        .read
        .conn
        .query_row(
            &format!(
                "SELECT {column} FROM {TABLE} GROUP BY {column} HAVING count(*) > 1
                 ORDER BY min(row) LIMIT 1"
            ),
            [],
            |r| r.get(0),
        )
        .ok();
    Error::DuplicateKey {
        column,
        value: value.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{DbLocation, RestoredRows, Store};
    use crate::value::{object, Value};

    fn rows(execution_ids: &[&str]) -> RestoredRows {
        let mut rows = RestoredRows::with_capacity(execution_ids.len());
        for (i, execution_id) in execution_ids.iter().enumerate() {
            let fields = object([
                ("executionId", Value::from(*execution_id)),
                ("shard", Value::Float64(0.0)),
            ]);
            rows.push(i as i64 + 1, &format!("id{i}"), 10.0 + i as f64, &fields);
        }
        rows
    }

    async fn schema(store: &Store) -> Vec<(String, Option<String>)> {
        store
            .read(|tx| {
                let mut stmt = tx
                    .conn
                    .prepare("SELECT name, sql FROM sqlite_master ORDER BY name")?;
                let entries = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, Error>(entries)
            })
            .await
            .unwrap()
    }

    /// Empties the table and loads `rows` as an import does.
    async fn load(store: &Store, rows: RestoredRows) -> Result<(), Error> {
        store
            .write_bulk(move |tx| {
                tx.clear_executions()?;
                let Some(loading) = tx.load_without_unique_indexes()? else {
                    panic!("this build's own table is loaded without its unique indexes");
                };
                tx.restore(&rows)?;
                tx.restore_unique_indexes(loading)
            })
            .await
    }

    /// The writer's own connection, which rebuilt the table, still refuses a duplicate after
    /// the load: its schema was reloaded with the unique indexes.
    #[tokio::test]
    async fn the_writer_refuses_a_duplicate_after_a_load() {
        let store = Store::open(&DbLocation::Memory, Arc::new(ManualClock::new(1_000))).unwrap();
        let fresh = schema(&store).await;
        assert!(fresh
            .iter()
            .any(|(name, sql)| name == "sqlite_autoindex_task_executions_2" && sql.is_none()));
        load(&store, rows(&["a", "b"])).await.unwrap();
        assert_eq!(schema(&store).await, fresh);
        let again = store
            .write(|tx| {
                tx.insert_execution(object([
                    ("executionId", Value::from("b")),
                    ("shard", Value::Float64(0.0)),
                ]))
                .map(|_| ())
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            again.contains("UNIQUE constraint failed: task_executions.execution_id"),
            "{again}"
        );
    }

    /// Rows with a unique value twice fail the index build with that value, and the
    /// transaction's rollback leaves the table and its schema as they were.
    #[tokio::test]
    async fn a_duplicate_fails_the_build_and_changes_nothing() {
        let store = Store::open(&DbLocation::Memory, Arc::new(ManualClock::new(1_000))).unwrap();
        load(&store, rows(&["kept"])).await.unwrap();
        let before = schema(&store).await;
        let error = load(&store, rows(&["a", "b", "a"])).await.unwrap_err();
        assert!(
            matches!(&error, Error::DuplicateKey { column, value }
                if column == "execution_id" && value == "a"),
            "{error}"
        );
        assert_eq!(schema(&store).await, before);
        let held = store.read(|tx| tx.count_executions()).await.unwrap();
        assert_eq!(held, 1, "the row stored before is still the only one");
    }
}
