//! Reading and writing inside one SQLite transaction.
//!
//! [`ReadTx`] answers the lookups and index ranges the storage functions need; [`WriteTx`] adds
//! inserts, replacements and deletes, and carries the transaction's frozen clock reading and
//! its supply of creation times. Both only exist inside [`crate::store::Store::read`] /
//! [`crate::store::Store::write`], which open and finish the SQL transaction around them.

use std::cell::Cell;
use std::ops::Deref;

use rand::rngs::StdRng;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::error::Error;
use crate::id::{DocumentId, TASK_EXECUTIONS_TABLE_NUMBER};
use crate::limits::{CREATION_TIME_FIELD_BYTES, DOCUMENT_ID_FIELD_BYTES};
use crate::store::codec::{decode_object, encode_object};
use crate::store::indexes::{Index, IndexRange};
use crate::store::usage::Meter;
use crate::value::{object_convex_size, Object, Value};

/// A stored `taskExecutions` document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// SQLite's row number; order of rows is order of creation.
    pub(crate) row: i64,
    /// The `_id` string.
    pub id: String,
    /// The `_creationTime` in milliseconds.
    pub creation_time: f64,
    /// The user fields (everything but `_id` and `_creationTime`).
    pub fields: Object,
}

impl Document {
    /// The document as Convex returns it: the user fields plus `_id` and `_creationTime`.
    pub fn into_value(self) -> Value {
        let mut fields = self.fields;
        fields.insert("_id".to_string(), Value::String(self.id));
        fields.insert(
            "_creationTime".to_string(),
            Value::Float64(self.creation_time),
        );
        Value::Object(fields)
    }

    /// Convex's size of the whole document, `_id` and `_creationTime` included: what a read of
    /// it costs against the transaction's byte limit.
    pub fn convex_size(&self) -> usize {
        fields_convex_size(&self.fields)
    }

    /// A string field, if present and a string.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// A number field, if present and a number.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.fields.get(name).and_then(Value::as_f64)
    }

    /// A boolean field, if present and a boolean.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.fields.get(name).and_then(Value::as_bool)
    }
}

pub(crate) const DOCUMENT_COLUMNS: &str = "row, id, creation_time, body";

/// Stores one row: its number (`NULL` appends), `_id`, `_creationTime`, the two looked-up
/// strings, the encoded fields, then the key of each of [`Index::ALL`] in order.
pub(crate) const INSERT_ROW_SQL: &str = "INSERT INTO task_executions (row, id, creation_time,
        execution_id, sleeping_task_unique_id, body, k_shard_status_start_at,
        k_shard_status_ocfp_status_acc_updated_at, k_shard_close_status_updated_at,
        k_status_is_sleeping_task_expires_at, k_ocfp_expires_at, k_close_expires_at,
        k_shard_executor_id_npc_updated_at, k_parent_execution_id_is_finished,
        k_shard_is_finished_close_status_updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// Convex's size of a document with these user fields plus its two system fields.
fn fields_convex_size(fields: &Object) -> usize {
    object_convex_size(fields) + DOCUMENT_ID_FIELD_BYTES + CREATION_TIME_FIELD_BYTES
}

/// Read access inside a transaction. Every lookup and every document it returns is metered
/// against Convex's transaction limits (`store::usage`) before it is handed out.
pub struct ReadTx<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) meter: Meter,
    /// Set for a read on an async worker (`Store::read_inline`): bytes of documents it may
    /// still decode.
    pub(crate) budget: Option<&'c InlineBudget>,
}

/// What an inline read may still decode, and whether it ran out.
pub(crate) struct InlineBudget {
    left_bytes: Cell<usize>,
    exceeded: Cell<bool>,
}

impl InlineBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            left_bytes: Cell::new(bytes),
            exceeded: Cell::new(false),
        }
    }

    /// Whether the read was stopped for going over the budget.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
}

impl<'c> ReadTx<'c> {
    /// A transaction's reads on `conn` (already inside `BEGIN`), with a fresh meter.
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            meter: Meter::default(),
            budget: None,
        }
    }

    /// Counts a stored body against the inline budget, failing the read once it is spent.
    fn charge(&self, raw: &RawDocument) -> Result<(), Error> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        let bytes = raw.3.len();
        match budget.left_bytes.get().checked_sub(bytes) {
            Some(left) => {
                budget.left_bytes.set(left);
                Ok(())
            }
            None => {
                budget.exceeded.set(true);
                Err(Error::InlineReadTooLarge)
            }
        }
    }

    /// The execution with this `executionId` (`by_executionId`, first match).
    pub fn execution_by_execution_id(&self, execution_id: &str) -> Result<Option<Document>, Error> {
        self.meter.range(
            "by_executionId",
            execution_id.as_bytes(),
            execution_id.as_bytes(),
        )?;
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM task_executions WHERE execution_id = ?1");
        self.optional_document(&sql, params![execution_id])
    }

    /// The oldest execution with this `sleepingTaskUniqueId` (`by_sleepingTaskUniqueId`).
    pub fn execution_by_sleeping_task_unique_id(
        &self,
        unique_id: &str,
    ) -> Result<Option<Document>, Error> {
        self.meter.range(
            "by_sleepingTaskUniqueId",
            unique_id.as_bytes(),
            unique_id.as_bytes(),
        )?;
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM task_executions
             WHERE sleeping_task_unique_id = ?1 ORDER BY creation_time LIMIT 1"
        );
        self.optional_document(&sql, params![unique_id])
    }

    /// The execution with this `_id`.
    pub fn execution_by_id(&self, id: &str) -> Result<Option<Document>, Error> {
        self.meter.range("by_id", id.as_bytes(), id.as_bytes())?;
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM task_executions WHERE id = ?1");
        self.optional_document(&sql, params![id])
    }

    /// The executions in `range`, ascending, at most `limit` of them (`None` = all).
    pub fn executions_in_range(
        &self,
        range: &IndexRange,
        limit: Option<usize>,
    ) -> Result<Vec<Document>, Error> {
        let (lower, upper) = range.bounds();
        self.meter.range(range.index.column(), &lower, &upper)?;
        let column = range.index.column();
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM task_executions INDEXED BY task_executions_by_{name}
             WHERE {column} >= ?1 AND {column} < ?2 ORDER BY {column} LIMIT ?3",
            name = &column[2..],
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![lower, upper, limit], raw_document)?;
        rows.map(|raw| self.metered(raw?)).collect()
    }

    /// The oldest `limit` executions (`by_creation_time`).
    pub fn oldest_executions(&self, limit: usize) -> Result<Vec<Document>, Error> {
        self.meter.range("by_creation_time", &[], &[])?;
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM task_executions ORDER BY row LIMIT ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![limit as i64], raw_document)?;
        rows.map(|raw| self.metered(raw?)).collect()
    }

    fn optional_document(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Document>, Error> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let raw = stmt.query_row(params, raw_document).optional()?;
        raw.map(|raw| self.metered(raw)).transpose()
    }

    /// Decodes a row and counts it as read; fails once the transaction has read too much.
    fn metered(&self, raw: RawDocument) -> Result<Document, Error> {
        self.charge(&raw)?;
        let document = decode_document(raw)?;
        self.meter.read(document.convex_size())?;
        Ok(document)
    }
}

/// A row as SQLite returns it, before the body is decoded.
pub(crate) type RawDocument = (i64, String, f64, Vec<u8>);

pub(crate) fn raw_document(row: &Row<'_>) -> rusqlite::Result<RawDocument> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

pub(crate) fn decode_document(
    (row, id, creation_time, body): RawDocument,
) -> Result<Document, Error> {
    match decode_object(&body) {
        Ok(fields) => Ok(Document {
            row,
            id,
            creation_time,
            fields,
        }),
        Err(source) => Err(Error::CorruptDocument { id, source }),
    }
}

/// Write access inside the single writer's transaction.
pub struct WriteTx<'c> {
    pub(crate) read: ReadTx<'c>,
    /// The clock reading frozen for this transaction, in ns (JavaScript's `Date.now()` is frozen
    /// for a whole mutation in Convex too).
    pub(crate) now_ns: u64,
    /// The `_creationTime` the next insert gets; strictly increasing.
    pub(crate) next_creation_time: f64,
    /// Whether this transaction handed out a creation time.
    pub(crate) inserted: bool,
    pub(crate) rng: &'c mut StdRng,
}

impl<'c> Deref for WriteTx<'c> {
    type Target = ReadTx<'c>;

    fn deref(&self) -> &ReadTx<'c> {
        &self.read
    }
}

impl WriteTx<'_> {
    /// `Date.now()` for this transaction: whole milliseconds, the same for every call.
    pub fn now_ms(&self) -> u64 {
        self.now_ns / 1_000_000
    }

    /// Inserts a new execution and returns it with its `_id` and `_creationTime`.
    pub fn insert_execution(&mut self, fields: Object) -> Result<Document, Error> {
        self.read
            .meter
            .write(execution_id_of(&fields), fields_convex_size(&fields))?;
        let id = self.new_id(TASK_EXECUTIONS_TABLE_NUMBER);
        let creation_time = self.take_creation_time();
        let row = self.insert_row(None, &id, creation_time, &fields)?;
        Ok(Document {
            row,
            id,
            creation_time,
            fields,
        })
    }

    /// Inserts one row with every index key; `row` `None` appends. Returns the row number.
    pub(crate) fn insert_row(
        &self,
        row: Option<i64>,
        id: &str,
        creation_time: f64,
        fields: &Object,
    ) -> Result<i64, Error> {
        let keys: Vec<Vec<u8>> = Index::ALL
            .iter()
            .map(|i| i.key(fields, creation_time))
            .collect();
        let mut stmt = self.read.conn.prepare_cached(INSERT_ROW_SQL)?;
        stmt.execute(params![
            row,
            id,
            creation_time,
            execution_id_of(fields),
            fields.get("sleepingTaskUniqueId").and_then(Value::as_str),
            encode_object(fields),
            keys[0],
            keys[1],
            keys[2],
            keys[3],
            keys[4],
            keys[5],
            keys[6],
            keys[7],
            keys[8],
        ])?;
        Ok(self.read.conn.last_insert_rowid())
    }

    /// Writes `new_fields` over the stored fields of `old`. Only index columns whose key
    /// changed are rewritten, so an update touches only the indexes it moves in.
    ///
    /// Convex's `db.patch` reads the document by id before it writes it, and that read is
    /// metered like any other (one more `by_id` range, one more document, its bytes).
    pub fn replace_execution(&self, old: &Document, new_fields: &Object) -> Result<(), Error> {
        self.meter_read_by_id(old)?;
        self.read
            .meter
            .write(execution_id_of(new_fields), fields_convex_size(new_fields))?;
        let mut columns: Vec<&str> = vec!["body"];
        let mut values: Vec<SqlValue> = vec![SqlValue::Blob(encode_object(new_fields))];
        for index in Index::ALL {
            let moved = index
                .fields()
                .iter()
                .any(|name| !same_sort_position(old.fields.get(*name), new_fields.get(*name)));
            if moved {
                columns.push(index.column());
                values.push(SqlValue::Blob(index.key(new_fields, old.creation_time)));
            }
        }
        let sleeping_id = new_fields
            .get("sleepingTaskUniqueId")
            .and_then(Value::as_str);
        if old
            .fields
            .get("sleepingTaskUniqueId")
            .and_then(Value::as_str)
            != sleeping_id
        {
            columns.push("sleeping_task_unique_id");
            values.push(sleeping_id.map_or(SqlValue::Null, |s| SqlValue::Text(s.to_string())));
        }
        if execution_id_of(&old.fields) != execution_id_of(new_fields) {
            columns.push("execution_id");
            values.push(SqlValue::Text(execution_id_of(new_fields).to_string()));
        }
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        values.push(SqlValue::Integer(old.row));
        let sql = format!(
            "UPDATE task_executions SET {} WHERE row = ?{}",
            sets.join(", "),
            values.len()
        );
        let mut stmt = self.read.conn.prepare_cached(&sql)?;
        stmt.execute(params_from_iter(values))?;
        Ok(())
    }

    /// Deletes an execution.
    /// Like a patch, Convex's `db.delete` reads the document by id first; the delete costs the
    /// size of the `_id` it removes against the write limit.
    pub fn delete_execution(&self, doc: &Document) -> Result<(), Error> {
        self.meter_read_by_id(doc)?;
        self.read
            .meter
            .write(execution_id_of(&doc.fields), DOCUMENT_ID_FIELD_BYTES)?;
        let mut stmt = self
            .read
            .conn
            .prepare_cached("DELETE FROM task_executions WHERE row = ?1")?;
        stmt.execute(params![doc.row])?;
        Ok(())
    }

    fn meter_read_by_id(&self, doc: &Document) -> Result<(), Error> {
        let id = doc.id.as_bytes();
        self.read.meter.range("by_id", id, id)?;
        self.read.meter.read(doc.convex_size())
    }

    fn new_id(&mut self, table_number: u32) -> String {
        DocumentId::generate(table_number, self.now_ms(), self.rng).encode()
    }

    fn take_creation_time(&mut self) -> f64 {
        let t = self.next_creation_time;
        self.next_creation_time = next_f64_up(t);
        self.inserted = true;
        t
    }
}

/// Whether two field values encode to the same index key: equal values, with floats compared
/// bit for bit (`0.0 == -0.0` in Rust, yet they sort apart in Convex).
fn same_sort_position(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Float64(x)), Some(Value::Float64(y))) => x.to_bits() == y.to_bits(),
        (Some(Value::Array(_) | Value::Object(_)), _)
        | (_, Some(Value::Array(_) | Value::Object(_))) => {
            // Not an indexed type in this schema; fall back to comparing encodings.
            let encode = |v: Option<&Value>| {
                let mut key = Vec::new();
                crate::store::sort_key::encode_into(&mut key, v);
                key
            };
            encode(a) == encode(b)
        }
        (a, b) => a == b,
    }
}

pub(crate) fn execution_id_of(fields: &Object) -> &str {
    fields
        .get("executionId")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The next representable f64 above a positive finite `x`.
pub(crate) fn next_f64_up(x: f64) -> f64 {
    debug_assert!(x.is_finite() && x >= 0.0);
    f64::from_bits(x.to_bits() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_negative_zero_sit_apart_in_an_index() {
        let (zero, negative_zero) = (Value::Float64(0.0), Value::Float64(-0.0));
        assert!(!same_sort_position(Some(&zero), Some(&negative_zero)));
        let nan = Value::Float64(f64::NAN);
        assert!(same_sort_position(Some(&nan), Some(&nan.clone())));
        assert!(!same_sort_position(None, Some(&zero)));
        assert!(same_sort_position(Some(&"a".into()), Some(&"a".into())));
    }
}
