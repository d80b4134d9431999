//! What one transaction reads and writes, counted as it happens and held to Convex's limits.
//!
//! Every read method of [`crate::store::ReadTx`] and every write of
//! [`crate::store::WriteTx`] reports here first. A deployment meters a function execution the
//! same way and fails it with a `pagination_limit` error the moment a count passes its limit;
//! counting before a document joins an answer is what keeps a hostile call (the same large
//! document asked for thousands of times) from costing more than the limit in memory.
//!
//! The totals also leave the store: [`crate::store::Store::read`] and
//! [`crate::store::Store::write`] add each transaction's [`Usage`] to the call that ran it (see
//! [`UsageScope`]), which the request log shows.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use crate::error::Error;
use crate::limits::{
    TRANSACTION_DOCUMENTS_READ_MAX, TRANSACTION_DOCUMENTS_WRITTEN_MAX, TRANSACTION_READ_BYTES_MAX,
    TRANSACTION_READ_RANGES_MAX, TRANSACTION_WRITE_BYTES_MAX,
};

/// The backend's advice appended to its read-limit messages.
const OVER_LIMIT_HELP: &str = "Consider using smaller limits in your queries, paginating your \
    queries, or using indexed queries with a selective index range expressions.";

/// Totals of one call (one or more transactions).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Documents read, each read counted (the same document twice is two).
    pub documents_read: u64,
    /// Bytes read, in Convex's size accounting.
    pub bytes_read: u64,
    /// Documents inserted, patched or deleted.
    pub documents_written: u64,
    /// Bytes written: the size of each document as written.
    pub bytes_written: u64,
    /// What committed writes changed; empty when the transaction rolled back.
    changed: ChangedIds,
}

impl Usage {
    /// Adds another transaction's totals to these.
    pub fn add(&mut self, other: Usage) {
        self.documents_read += other.documents_read;
        self.bytes_read += other.bytes_read;
        self.documents_written += other.documents_written;
        self.bytes_written += other.bytes_written;
        for id in other.changed.order {
            self.changed.add(id);
        }
    }

    /// The `executionId` of every execution a committed write touched, in first-touch order,
    /// without repeats.
    pub fn changed_execution_ids(&self) -> &[String] {
        &self.changed.order
    }

    /// [`Usage::changed_execution_ids`], taken out.
    pub fn into_changed_execution_ids(self) -> Vec<String> {
        self.changed.order
    }
}

/// `executionId`s in first-touch order, each once. The set beside the list keeps adding cheap
/// on long lists: one transaction may write 16,000 documents, and one call (`deleteAll` of
/// 100,000 rows) runs 1,000 transactions, so comparing each new id with every earlier one would
/// cost seconds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ChangedIds {
    order: Vec<String>,
    seen: HashSet<String>,
}

impl ChangedIds {
    fn add(&mut self, id: impl AsRef<str> + Into<String>) {
        if !self.seen.contains(id.as_ref()) {
            let id: String = id.into();
            self.seen.insert(id.clone());
            self.order.push(id);
        }
    }
}

/// An index range as the read set keeps it: (index, lower key, upper key).
type ReadRange = (&'static str, Vec<u8>, Vec<u8>);

/// The meter inside one transaction. Interior mutability because reads go through `&ReadTx`.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    documents_read: Cell<u64>,
    bytes_read: Cell<u64>,
    documents_written: Cell<u64>,
    bytes_written: Cell<u64>,
    /// Index ranges read so far, as (index, lower key, upper key): a range read twice is one.
    ranges: RefCell<HashSet<ReadRange>>,
    changed: RefCell<ChangedIds>,
}

impl Meter {
    /// One index range (a `db.get`, or one `db.query` with its bounds).
    pub(crate) fn range(
        &self,
        index: &'static str,
        lower: &[u8],
        upper: &[u8],
    ) -> Result<(), Error> {
        let mut ranges = self.ranges.borrow_mut();
        ranges.insert((index, lower.to_vec(), upper.to_vec()));
        if ranges.len() > TRANSACTION_READ_RANGES_MAX {
            return Err(Error::TransactionLimit(format!(
                "Too many reads in a single function execution (limit: \
                 {TRANSACTION_READ_RANGES_MAX}). {OVER_LIMIT_HELP}"
            )));
        }
        Ok(())
    }

    /// One document read, of `bytes` (Convex size, system fields included).
    pub(crate) fn read(&self, bytes: usize) -> Result<(), Error> {
        let documents = self.documents_read.get() + 1;
        let total = self.bytes_read.get() + bytes as u64;
        self.documents_read.set(documents);
        self.bytes_read.set(total);
        if documents > TRANSACTION_DOCUMENTS_READ_MAX {
            return Err(Error::TransactionLimit(format!(
                "Too many documents read in a single function execution (limit: \
                 {TRANSACTION_DOCUMENTS_READ_MAX}). {OVER_LIMIT_HELP}"
            )));
        }
        if total > TRANSACTION_READ_BYTES_MAX {
            return Err(Error::TransactionLimit(format!(
                "Too many bytes read in a single function execution (limit: \
                 {TRANSACTION_READ_BYTES_MAX} bytes). {OVER_LIMIT_HELP}"
            )));
        }
        Ok(())
    }

    /// One document written (inserted, patched or deleted), of `bytes` as written.
    pub(crate) fn write(&self, execution_id: &str, bytes: usize) -> Result<(), Error> {
        let documents = self.documents_written.get() + 1;
        let total = self.bytes_written.get() + bytes as u64;
        self.documents_written.set(documents);
        self.bytes_written.set(total);
        self.changed.borrow_mut().add(execution_id);
        if documents > TRANSACTION_DOCUMENTS_WRITTEN_MAX {
            return Err(Error::TransactionLimit(format!(
                "Too many writes in a single function execution (limit: \
                 {TRANSACTION_DOCUMENTS_WRITTEN_MAX})"
            )));
        }
        if total > TRANSACTION_WRITE_BYTES_MAX {
            return Err(Error::TransactionLimit(format!(
                "Too many bytes written in a single function execution (limit: \
                 {TRANSACTION_WRITE_BYTES_MAX} bytes)"
            )));
        }
        Ok(())
    }

    /// The totals; `committed` false drops the changed ids (nothing changed after a rollback).
    pub(crate) fn take(&self, committed: bool) -> Usage {
        let changed = std::mem::take(&mut *self.changed.borrow_mut());
        Usage {
            documents_read: self.documents_read.take(),
            bytes_read: self.bytes_read.take(),
            documents_written: self.documents_written.take(),
            bytes_written: self.bytes_written.take(),
            changed: if committed {
                changed
            } else {
                ChangedIds::default()
            },
        }
    }
}

tokio::task_local! {
    /// The totals of the call running on this task, when the caller asked for them.
    static CALL_USAGE: RefCell<Usage>;
}

/// Collects the [`Usage`] of every transaction a future runs.
pub struct UsageScope;

impl UsageScope {
    /// Runs `call` and returns its output with the totals of the transactions it ran.
    pub async fn run<T>(call: impl std::future::Future<Output = T>) -> (T, Usage) {
        CALL_USAGE
            .scope(RefCell::new(Usage::default()), async {
                let output = call.await;
                let usage = CALL_USAGE.with(|u| std::mem::take(&mut *u.borrow_mut()));
                (output, usage)
            })
            .await
    }

    /// Adds one transaction's totals to the running call's, if anyone is collecting.
    pub(crate) fn report(usage: Usage) {
        let _ = CALL_USAGE.try_with(|u| u.borrow_mut().add(usage));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(ids: &[&str]) -> ChangedIds {
        let mut changed = ChangedIds::default();
        for id in ids {
            changed.add(*id);
        }
        changed
    }

    #[test]
    fn reads_fail_on_the_first_document_past_a_limit() {
        let meter = Meter::default();
        for _ in 0..TRANSACTION_DOCUMENTS_READ_MAX {
            meter.read(10).unwrap();
        }
        let err = meter.read(10).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "Too many documents read in a single function execution (limit: 32000). Consider"
            ),
            "{err}"
        );

        let meter = Meter::default();
        meter.read(TRANSACTION_READ_BYTES_MAX as usize).unwrap();
        let err = meter.read(1).unwrap_err().to_string();
        assert!(
            err.contains(
                "Too many bytes read in a single function execution (limit: 16777216 bytes)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_range_read_twice_counts_once() {
        let meter = Meter::default();
        for _ in 0..(TRANSACTION_READ_RANGES_MAX * 2) {
            meter.range("by_executionId", b"a", b"b").unwrap();
        }
        for i in 1..TRANSACTION_READ_RANGES_MAX {
            meter
                .range("by_executionId", &i.to_be_bytes(), b"b")
                .unwrap();
        }
        let err = meter.range("by_id", b"x", b"y").unwrap_err().to_string();
        assert!(
            err.starts_with("Too many reads in a single function execution (limit: 4096)."),
            "{err}"
        );
    }

    #[test]
    fn writes_are_limited_and_changed_ids_kept_only_on_commit() {
        let meter = Meter::default();
        for _ in 0..TRANSACTION_DOCUMENTS_WRITTEN_MAX {
            meter.write("e1", 1).unwrap();
        }
        let err = meter.write("e2", 1).unwrap_err().to_string();
        assert_eq!(
            err,
            "Too many writes in a single function execution (limit: 16000)"
        );
        let usage = meter.take(true);
        assert_eq!(usage.changed_execution_ids(), ["e1", "e2"]);
        meter.write("e2", 1).unwrap();
        assert_eq!(meter.take(true).changed_execution_ids(), ["e2"]);
        meter
            .write("e3", TRANSACTION_WRITE_BYTES_MAX as usize + 1)
            .unwrap_err();
        assert!(meter.take(false).changed_execution_ids().is_empty());
    }

    #[tokio::test]
    async fn a_scope_collects_what_its_transactions_report() {
        let ((), usage) = UsageScope::run(async {
            UsageScope::report(Usage {
                documents_read: 2,
                ..Usage::default()
            });
            UsageScope::report(Usage {
                documents_read: 1,
                changed: changed(&["a"]),
                ..Usage::default()
            });
            UsageScope::report(Usage {
                changed: changed(&["b", "a"]),
                ..Usage::default()
            });
        })
        .await;
        assert_eq!(usage.documents_read, 3);
        // First-touch order, each id once, across transactions.
        assert_eq!(usage.changed_execution_ids(), ["a", "b"]);
        UsageScope::report(Usage::default()); // nobody collecting: ignored
    }
}
