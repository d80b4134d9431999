//! Reads for the inspector (`http::control::inspector`): how many executions an index range
//! holds, which values a field of an index takes, and pages of a range that resume from a
//! cursor.
//!
//! Each is a walk of one SQLite index bounded by its range (and a limit): nothing here reads the
//! table in full. A count walks the index entries of its range without touching the rows;
//! [`ReadTx::distinct_values`] seeks once per distinct value ("skip scan"), so listing the shards
//! of a million executions costs a few seeks.

use rusqlite::{params, OptionalExtension};

use crate::error::Error;
use crate::store::indexes::{Index, IndexRange};
use crate::store::sort_key::{decode_scalar_prefix, AFTER_ALL};
use crate::store::tx::{decode_document, raw_document, Document, ReadTx, DOCUMENT_COLUMNS};
use crate::value::Value;

impl ReadTx<'_> {
    /// How many executions lie in `range`.
    pub fn count_in_range(&self, range: &IndexRange) -> Result<u64, Error> {
        let (lower, upper) = range.bounds();
        let column = range.index.column();
        let sql = format!(
            "SELECT count(*) FROM task_executions INDEXED BY task_executions_by_{name}
             WHERE {column} >= ?1 AND {column} < ?2",
            name = &column[2..],
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let count: i64 = stmt.query_row(params![lower, upper], |row| row.get(0))?;
        Ok(count.max(0) as u64)
    }

    /// The distinct values, ascending, of the field that follows the equalities `eq` in
    /// `index`, at most `limit` of them. Executions missing the field are left out (a range
    /// cannot name "missing"), and so are array or object values (no index here holds one).
    pub fn distinct_values(
        &self,
        index: Index,
        eq: &[Value],
        limit: usize,
    ) -> Result<Vec<Value>, Error> {
        if eq.len() >= index.fields().len() {
            // The next "field" would be `_creationTime`: one value per execution.
            return Ok(Vec::new());
        }
        let (mut lower, upper) = IndexRange::eq(index, eq.to_vec()).bounds();
        let prefix_len = lower.len();
        let column = index.column();
        let sql = format!(
            "SELECT {column} FROM task_executions INDEXED BY task_executions_by_{name}
             WHERE {column} >= ?1 AND {column} < ?2 ORDER BY {column} LIMIT 1",
            name = &column[2..],
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut values = Vec::new();
        while values.len() < limit {
            let key: Option<Vec<u8>> = stmt
                .query_row(params![lower, upper], |row| row.get(0))
                .optional()?;
            let Some(key) = key else { break };
            let Some((value, used)) = decode_scalar_prefix(&key[prefix_len..]) else {
                break;
            };
            values.extend(value);
            // Jump past every key that starts with this value.
            lower = key[..prefix_len + used].to_vec();
            lower.push(AFTER_ALL);
        }
        Ok(values)
    }

    /// Up to `limit` executions of `range` whose key comes after `after` (all of the range
    /// when `None`), ascending, each with its index key: the last key is the cursor of the
    /// next page.
    pub fn executions_in_range_after(
        &self,
        range: &IndexRange,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Document)>, Error> {
        let (lower, upper) = range.bounds();
        let column = range.index.column();
        let sql = format!(
            "SELECT {column}, {DOCUMENT_COLUMNS} FROM task_executions
             INDEXED BY task_executions_by_{name}
             WHERE {column} >= ?1 AND {column} > ?2 AND {column} < ?3
             ORDER BY {column} LIMIT ?4",
            name = &column[2..],
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        // Every key is non-empty, so the empty blob is below all of them.
        let after = after.unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![lower, after, upper, limit], |row| {
            let key: Vec<u8> = row.get(0)?;
            let raw = (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?);
            Ok((key, raw))
        })?;
        rows.map(|row| {
            let (key, raw) = row?;
            Ok((key, decode_document(raw)?))
        })
        .collect()
    }

    /// Up to `limit` executions created before the one at row `before` (all when `None`),
    /// newest first (`by_creation_time`, descending).
    pub fn newest_executions_before(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Document>, Error> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM task_executions WHERE row < ?1
             ORDER BY row DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], raw_document)?;
        rows.map(|raw| decode_document(raw?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::{DbLocation, Store};
    use crate::value::object;

    async fn store_with(rows: Vec<(f64, &'static str, f64)>) -> Store {
        let store = Store::open(&DbLocation::Memory, Arc::new(ManualClock::new(1))).unwrap();
        store
            .write(move |tx| {
                for (i, (shard, status, start_at)) in rows.into_iter().enumerate() {
                    tx.insert_execution(object([
                        ("executionId", Value::from(format!("e{i}").as_str())),
                        ("shard", Value::Float64(shard)),
                        ("status", Value::from(status)),
                        ("startAt", Value::Float64(start_at)),
                    ]))?;
                }
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        store
    }

    fn ids(docs: &[Document]) -> Vec<&str> {
        docs.iter().map(|d| d.str("executionId").unwrap()).collect()
    }

    #[tokio::test]
    async fn counts_and_distinct_values_follow_the_index() {
        let store = store_with(vec![
            (0.0, "ready", 5.0),
            (2.0, "running", 1.0),
            (0.0, "ready", 1.0),
            (0.0, "completed", 1.0),
            (2.0, "ready", 9.0),
        ])
        .await;
        store
            .read(|tx| {
                let index = Index::ShardStatusStartAt;
                assert_eq!(
                    tx.distinct_values(index, &[], 10)?,
                    vec![Value::Float64(0.0), Value::Float64(2.0)]
                );
                assert_eq!(
                    tx.distinct_values(index, &[Value::Float64(0.0)], 10)?,
                    vec![Value::from("completed"), Value::from("ready")]
                );
                assert_eq!(tx.distinct_values(index, &[], 1)?.len(), 1);
                let ready = IndexRange::eq(index, vec![0.0.into(), "ready".into()]);
                assert_eq!(tx.count_in_range(&ready)?, 2);
                let due = IndexRange {
                    lt: Some(Value::Float64(2.0)),
                    ..ready
                };
                assert_eq!(tx.count_in_range(&due)?, 1);
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn pages_resume_after_the_cursor_without_gaps_or_repeats() {
        let rows = (0..7).map(|i| (1.0, "ready", f64::from(7 - i))).collect();
        let store = store_with(rows).await;
        store
            .read(|tx| {
                let range = IndexRange::eq(Index::ShardStatusStartAt, vec![1.0.into()]);
                let mut seen = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let page = tx.executions_in_range_after(&range, after.as_deref(), 3)?;
                    let Some((last, _)) = page.last() else { break };
                    after = Some(last.clone());
                    seen.extend(page.into_iter().map(|(_, d)| d));
                }
                // Ascending startAt: e6 has startAt 1, e0 has 7.
                assert_eq!(ids(&seen), ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);
                let newest = tx.newest_executions_before(None, 2)?;
                assert_eq!(ids(&newest), ["e6", "e5"]);
                let older = tx.newest_executions_before(Some(newest[1].row), 10)?;
                assert_eq!(ids(&older), ["e4", "e3", "e2", "e1", "e0"]);
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }
}
