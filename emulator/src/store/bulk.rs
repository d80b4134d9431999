//! Whole-store work: emptying it in one statement, reading every row in creation order, and
//! loading rows that keep the `_id` and `_creationTime` they were given (snapshot import).

use rusqlite::params;

use crate::error::Error;
use crate::store::tx::{decode_document, next_f64_up, raw_document, Document, ReadTx, WriteTx};
use crate::value::Object;

impl ReadTx<'_> {
    /// How many executions the store holds.
    pub fn count_executions(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM task_executions", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Calls `f` with every execution, oldest first, streaming (one row in memory at a time).
    pub fn for_each_execution<E: From<Error>>(
        &self,
        mut f: impl FnMut(Document) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare("SELECT row, id, creation_time, body FROM task_executions ORDER BY row")
            .map_err(Error::from)?;
        let mut rows = stmt.query([]).map_err(Error::from)?;
        while let Some(row) = rows.next().map_err(Error::from)? {
            let raw = raw_document(row).map_err(Error::from)?;
            f(decode_document(raw)?)?;
        }
        Ok(())
    }
}

impl WriteTx<'_> {
    /// Deletes every execution in one statement (SQLite drops the table's pages wholesale when
    /// a DELETE has no WHERE clause) and returns how many there were.
    pub fn clear_executions(&mut self) -> Result<u64, Error> {
        let count = self.count_executions()?;
        self.read.conn.execute("DELETE FROM task_executions", [])?;
        Ok(count)
    }

    /// Stores an execution exactly as given: its `_id`, its `_creationTime`, and its place `row`
    /// in creation order. The caller keeps `row` order equal to creation-time order. Later inserts
    /// get creation times above this one, so `_creationTime` stays strictly increasing for them.
    pub fn restore_execution(
        &mut self,
        row: i64,
        id: &str,
        creation_time: f64,
        fields: &Object,
    ) -> Result<(), Error> {
        self.insert_row(Some(row), id, creation_time, fields)?;
        if creation_time >= self.next_creation_time {
            self.next_creation_time = next_f64_up(creation_time);
            self.inserted = true;
        }
        Ok(())
    }

    /// Whether an execution with this `_id` is stored.
    pub fn has_execution_id(&self, id: &str) -> Result<bool, Error> {
        let mut stmt = self
            .read
            .conn
            .prepare_cached("SELECT 1 FROM task_executions WHERE id = ?1")?;
        Ok(stmt.exists(params![id])?)
    }
}

/// The secondary indexes of the executions table, dropped for a bulk load: their `CREATE INDEX`
/// statements, to run again once the rows are in.
#[must_use = "the indexes must be rebuilt before the transaction commits"]
pub struct DroppedIndexes(Vec<String>);

impl WriteTx<'_> {
    /// Drops the executions table's secondary indexes (not the unique ones), so that a bulk
    /// load writes rows only; [`WriteTx::rebuild_indexes`] then builds each index in one sorted
    /// pass, several times faster than inserting a million rows into eleven B-trees at random
    /// places. Inside the transaction, so a failure in between restores them untouched.
    pub fn drop_secondary_indexes(&mut self) -> Result<DroppedIndexes, Error> {
        let mut stmt = self.read.conn.prepare(
            "SELECT name, sql FROM sqlite_master
             WHERE type = 'index' AND tbl_name = 'task_executions' AND sql IS NOT NULL",
        )?;
        let indexes: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        for (name, _) in &indexes {
            self.read
                .conn
                .execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        Ok(DroppedIndexes(
            indexes.into_iter().map(|(_, sql)| sql).collect(),
        ))
    }

    /// Builds again the indexes [`WriteTx::drop_secondary_indexes`] dropped.
    pub fn rebuild_indexes(&mut self, dropped: DroppedIndexes) -> Result<(), Error> {
        for sql in dropped.0 {
            self.read.conn.execute_batch(&sql)?;
        }
        Ok(())
    }
}
