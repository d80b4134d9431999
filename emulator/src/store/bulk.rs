//! Whole-store work: emptying it in one statement, reading every row in creation order, and
//! loading rows that keep the `_id` and `_creationTime` they were given (snapshot import).

use std::ops::Range;

use rusqlite::params;
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::error::Error;
use crate::store::codec::encode_object_into;
use crate::store::indexes::Index;
use crate::store::tx::{
    decode_document, execution_id_of, next_f64_up, raw_document, Document, ReadTx, WriteTx,
    INSERT_ROW_SQL,
};
use crate::value::{Object, Value};

/// Executions to store as they were exported, already encoded: a bulk load encodes rows on
/// another thread than the writer's, which then only inserts them. Every row's bytes share one
/// buffer, so a batch costs a few allocations whatever its size.
#[derive(Debug, Default)]
pub struct RestoredRows {
    bytes: Vec<u8>,
    rows: Vec<RowSpans>,
}

/// Where one row's columns are in [`RestoredRows::bytes`].
#[derive(Debug)]
struct RowSpans {
    row: i64,
    creation_time: f64,
    id: Range<usize>,
    execution_id: Range<usize>,
    sleeping_task_unique_id: Option<Range<usize>>,
    body: Range<usize>,
    keys: [Range<usize>; Index::ALL.len()],
}

impl RestoredRows {
    /// An empty batch with room for about `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(rows * 1024),
            rows: Vec::with_capacity(rows),
        }
    }

    /// How many rows the batch holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds an execution with its `_id`, its `_creationTime`, and its place `row` in creation
    /// order (1 for the oldest).
    pub fn push(&mut self, row: i64, id: &str, creation_time: f64, fields: &Object) {
        let bytes = &mut self.bytes;
        let mut append = |write: &mut dyn FnMut(&mut Vec<u8>)| {
            let start = bytes.len();
            write(bytes);
            start..bytes.len()
        };
        let id = append(&mut |out| out.extend_from_slice(id.as_bytes()));
        let execution_id =
            append(&mut |out| out.extend_from_slice(execution_id_of(fields).as_bytes()));
        let sleeping_task_unique_id = fields
            .get("sleepingTaskUniqueId")
            .and_then(Value::as_str)
            .map(|s| append(&mut |out| out.extend_from_slice(s.as_bytes())));
        let body = append(&mut |out| encode_object_into(out, fields));
        let keys =
            Index::ALL.map(|index| append(&mut |out| index.key_into(out, fields, creation_time)));
        self.rows.push(RowSpans {
            row,
            creation_time,
            id,
            execution_id,
            sleeping_task_unique_id,
            body,
            keys,
        });
    }
}

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

    /// Stores each execution of `rows` exactly as given: its `_id`, its `_creationTime`, and
    /// its place `row` in creation order. The caller keeps `row` order equal to creation-time
    /// order. Later inserts get creation times above every one stored here, so `_creationTime`
    /// stays strictly increasing for them.
    pub fn restore(&mut self, rows: &RestoredRows) -> Result<(), Error> {
        let mut stmt = self.read.conn.prepare_cached(INSERT_ROW_SQL)?;
        for spans in &rows.rows {
            let text = |range: &Range<usize>| {
                ToSqlOutput::Borrowed(ValueRef::Text(&rows.bytes[range.clone()]))
            };
            let blob = |range: &Range<usize>| &rows.bytes[range.clone()];
            let [k0, k1, k2, k3, k4, k5, k6, k7, k8] = &spans.keys;
            stmt.execute(params![
                spans.row,
                text(&spans.id),
                spans.creation_time,
                text(&spans.execution_id),
                spans.sleeping_task_unique_id.as_ref().map(text),
                blob(&spans.body),
                blob(k0),
                blob(k1),
                blob(k2),
                blob(k3),
                blob(k4),
                blob(k5),
                blob(k6),
                blob(k7),
                blob(k8),
            ])?;
            if spans.creation_time >= self.next_creation_time {
                self.next_creation_time = next_f64_up(spans.creation_time);
                self.inserted = true;
            }
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
    /// load of rows that do not come in creation order writes rows only;
    /// [`WriteTx::rebuild_indexes`] then builds each index in one sorted pass, faster than
    /// inserting a million keys into ten B-trees at random places. (Rows that come in creation
    /// order are cheaper to index as they come: each key lands at the end of its prefix.)
    /// Inside the transaction, so a failure in between restores them untouched.
    pub fn drop_secondary_indexes(&mut self) -> Result<DroppedIndexes, Error> {
        let indexes = self.secondary_indexes()?;
        for (name, _) in &indexes {
            self.read
                .conn
                .execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        Ok(DroppedIndexes(
            indexes.into_iter().map(|(_, sql)| sql).collect(),
        ))
    }

    /// The name and `CREATE INDEX` text of each secondary index of the executions table (those
    /// a statement created, not the ones its `UNIQUE` columns bring), in creation order.
    pub(super) fn secondary_indexes(&self) -> Result<Vec<(String, String)>, Error> {
        let mut stmt = self.read.conn.prepare(
            "SELECT name, sql FROM sqlite_master
             WHERE type = 'index' AND tbl_name = 'task_executions' AND sql IS NOT NULL
             ORDER BY rowid",
        )?;
        let indexes = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(indexes)
    }

    /// Builds again the indexes [`WriteTx::drop_secondary_indexes`] dropped.
    pub fn rebuild_indexes(&mut self, dropped: DroppedIndexes) -> Result<(), Error> {
        for sql in dropped.0 {
            self.read.conn.execute_batch(&sql)?;
        }
        Ok(())
    }
}
