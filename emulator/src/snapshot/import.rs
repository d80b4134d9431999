//! Reading a snapshot ZIP into a store, in one transaction: a reading thread parses, checks
//! and encodes each document while the writer inserts the ones before it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Cursor};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use serde_json::Value as Json;
use zip::ZipArchive;

use crate::functions::schema::INSERT_VALUE;
use crate::id::{DocumentId, TASK_EXECUTIONS_TABLE_NUMBER};
use crate::limits::{IMPORT_BATCH_DOCUMENTS, IMPORT_QUEUE_BATCHES};
use crate::snapshot::json::{may_hold_special_floats, parse_value, revive_floats};
use crate::snapshot::layout::{
    component_prefix, components_with_executions, COMPONENTS_DIR, DOCUMENTS_FILE, EXECUTIONS_TABLE,
    GENERATED_SCHEMA_FILE, LOCKS_TABLE, TABLES_FILE,
};
use crate::snapshot::SnapshotError;
use crate::store::{RestoredRows, Store, WriteTx};
use crate::value::{Object, Value};

/// Bytes read from an entry at a time.
const READ_BUFFER_BYTES: usize = 1 << 16;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Empty the store first; without it, a store that holds executions is refused.
    pub replace: bool,
    /// Which component's tables to read; needed only when the ZIP has several.
    pub component: Option<String>,
}

/// Reads the executions of a snapshot ZIP into `store`, keeping their `_id` and
/// `_creationTime`, and returns how many. All or nothing: a ZIP that does not fit changes
/// nothing.
pub async fn import(
    store: &Store,
    zip: Vec<u8>,
    options: ImportOptions,
) -> Result<u64, SnapshotError> {
    let zip = Arc::new(zip);
    let checked = zip.clone();
    let component = options.component.clone();
    let documents_path =
        tokio::task::spawn_blocking(move || check_layout(&checked, component.as_deref()))
            .await
            .map_err(|_| crate::Error::WriterStopped)??;
    store
        .write_bulk(move |tx| load(tx, &zip, &documents_path, options.replace))
        .await
}

/// Finds the component's documents and checks everything around them (tables, the `_tables`
/// list, `generated_schema.jsonl`); returns the path of the documents.
fn check_layout(zip: &[u8], component: Option<&str>) -> Result<String, SnapshotError> {
    let mut archive = ZipArchive::new(Cursor::new(zip))?;
    let component = choose_component(&archive, component)?;
    let prefix = component_prefix(&component);
    check_tables(&archive, &prefix)?;
    check_tables_list(&mut archive, &prefix)?;
    check_generated_schema(&mut archive, &prefix)?;
    Ok(format!("{prefix}{EXECUTIONS_TABLE}/{DOCUMENTS_FILE}"))
}

/// Where a document goes in creation order: `_creationTime`, then `_id` (Convex's tie-break).
type OrderKey = (f64, [u8; 16]);

fn before(a: &OrderKey, b: &OrderKey) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt()
}

/// What the reading thread hands the writer, in file order.
enum Batch {
    /// Rows to store.
    Rows(RestoredRows),
    /// The file is not in creation order: drop the rows stored so far; every row comes again,
    /// at its rank, once the whole file is checked.
    Restart,
}

/// Loads the documents, inside one write transaction, into a store that is (made) empty.
///
/// Two threads: a reader parses each line, checks it and encodes it (`read_documents`), and
/// hands batches to this one, the writer's, which only inserts them; the two run side by side.
/// The reader is stopped when the writer fails and vice versa, and the first failure in file
/// order is the one reported: the writer has stored every row before a bad line when the
/// reader's error reaches it.
fn load(tx: &mut WriteTx<'_>, zip: &[u8], path: &str, replace: bool) -> Result<u64, SnapshotError> {
    if replace {
        tx.clear_executions()?;
    } else {
        let held = tx.count_executions()?;
        if held > 0 {
            return Err(SnapshotError::NotEmpty(held));
        }
    }
    // The table is empty now: its unique indexes are built once the rows are in.
    let loading = tx.load_without_unique_indexes()?;
    let imported = read_and_store(tx, zip, path)?;
    if let Some(loading) = loading {
        tx.restore_unique_indexes(loading)
            .map_err(|e| duplicate_in(path, e))?;
    }
    Ok(imported)
}

/// A unique index that cannot be built names the value found twice. The reading thread refuses
/// a repeated `_id` or executionId first, at its line; this is the store's own guard.
fn duplicate_in(path: &str, error: crate::Error) -> SnapshotError {
    match error {
        crate::Error::DuplicateKey { column, value } => SnapshotError::Layout(format!(
            "{path}: {} {value:?} appears twice",
            match column.as_str() {
                "id" => "`_id`",
                "execution_id" => "executionId",
                other => other,
            }
        )),
        other => other.into(),
    }
}

/// Reads the documents on a thread of their own and stores them on this one.
fn read_and_store(tx: &mut WriteTx<'_>, zip: &[u8], path: &str) -> Result<u64, SnapshotError> {
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::sync_channel(IMPORT_QUEUE_BATCHES);
        let reader = std::thread::Builder::new()
            .name("snapshot-reader".to_string())
            .spawn_scoped(scope, move || read_documents(zip, path, &send))
            .map_err(crate::Error::SpawnWriter)?;
        // `receive` is dropped when `store_batches` returns, which stops a reader still sending.
        let stored = store_batches(tx, receive);
        let read = reader.join().unwrap_or_else(|_| {
            Err(SnapshotError::Store(crate::Error::BatchAbandoned(
                "the snapshot reader panicked".to_string(),
            )))
        });
        stored?;
        read
    })
}

/// The writer's side: stores every batch it is handed, in order.
fn store_batches(tx: &mut WriteTx<'_>, batches: Receiver<Batch>) -> Result<(), SnapshotError> {
    let mut dropped = None;
    for batch in batches {
        match batch {
            Batch::Rows(rows) => tx.restore(&rows)?,
            Batch::Restart => {
                tx.clear_executions()?;
                // The rows now come in `_id` order, each at its rank: inserting them into
                // the range indexes would land at random places, so those are built once at
                // the end instead, each in one sorted pass.
                if dropped.is_none() {
                    dropped = Some(tx.drop_secondary_indexes()?);
                }
            }
        }
    }
    if let Some(dropped) = dropped {
        tx.rebuild_indexes(dropped)?;
    }
    Ok(())
}

/// The reader's side: checks every line and hands the rows over in batches; returns how many.
///
/// Rows must be stored in creation order. They are handed over as read as long as the file is
/// in that order (an export of the emulator is); at the first line out of order (an export of
/// a deployment is in `_id` order) the writer is told to drop them, the rest of the file is
/// only checked, and a second pass hands every row over again at its rank.
fn read_documents(zip: &[u8], path: &str, send: &SyncSender<Batch>) -> Result<u64, SnapshotError> {
    let mut archive = ZipArchive::new(Cursor::new(zip))?;
    let mut batch = RestoredRows::with_capacity(IMPORT_BATCH_DOCUMENTS);
    let mut order: Vec<(OrderKey, u32)> = Vec::new();
    let mut ids = HashSet::new();
    let mut execution_ids = HashSet::new();
    let mut in_order = true;
    for_each_line(&mut archive, path, |line, bytes| {
        let bad = |message: String| SnapshotError::BadLine {
            file: path.to_string(),
            line,
            message,
        };
        let document = parse_document(bytes, true).map_err(bad)?;
        if !ids.insert(document.internal_id) {
            return Err(bad(format!("`_id` {} appears twice", document.id)));
        }
        let execution_id = document
            .fields
            .get("executionId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !execution_ids.insert(execution_id.to_string()) {
            return Err(bad(format!("executionId {execution_id:?} appears twice")));
        }
        let index = u32::try_from(order.len()).map_err(|_| bad("too many documents".into()))?;
        let key = (document.creation_time, document.internal_id);
        if in_order {
            if order.last().is_none_or(|(last, _)| before(last, &key)) {
                let row = i64::from(index) + 1;
                batch.push(row, &document.id, document.creation_time, &document.fields);
                if batch.len() >= IMPORT_BATCH_DOCUMENTS {
                    hand_over(send, &mut batch)?;
                }
            } else {
                in_order = false;
                batch = RestoredRows::default();
                handed(send.send(Batch::Restart))?;
            }
        }
        order.push((key, index));
        Ok(())
    })?;
    if !in_order {
        order.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0).then(a.0 .1.cmp(&b.0 .1)));
        let mut rows = vec![0i64; order.len()];
        for (rank, (_, index)) in order.iter().enumerate() {
            rows[*index as usize] = rank as i64 + 1;
        }
        drop(order);
        batch = RestoredRows::with_capacity(IMPORT_BATCH_DOCUMENTS);
        let mut written = 0usize;
        for_each_line(&mut archive, path, |line, bytes| {
            let document =
                parse_document(bytes, false).map_err(|message| SnapshotError::BadLine {
                    file: path.to_string(),
                    line,
                    message,
                })?;
            let row = rows.get(written).copied().unwrap_or_default();
            batch.push(row, &document.id, document.creation_time, &document.fields);
            if batch.len() >= IMPORT_BATCH_DOCUMENTS {
                hand_over(send, &mut batch)?;
            }
            written += 1;
            Ok(())
        })?;
        hand_over(send, &mut batch)?;
        return Ok(written as u64);
    }
    hand_over(send, &mut batch)?;
    Ok(order.len() as u64)
}

/// Sends the batch to the writer (when it holds anything) and starts a new one.
fn hand_over(send: &SyncSender<Batch>, batch: &mut RestoredRows) -> Result<(), SnapshotError> {
    if batch.is_empty() {
        return Ok(());
    }
    let full = std::mem::replace(batch, RestoredRows::with_capacity(IMPORT_BATCH_DOCUMENTS));
    handed(send.send(Batch::Rows(full)))
}

/// A send fails only when the writer has stopped, on an error of its own, which is the one
/// reported; this one only ends the reader.
fn handed<T>(sent: Result<(), mpsc::SendError<T>>) -> Result<(), SnapshotError> {
    sent.map_err(|_| SnapshotError::Store(crate::Error::WriterStopped))
}

/// The component named, or the only one with an executions table.
fn choose_component(
    archive: &ZipArchive<Cursor<&[u8]>>,
    asked: Option<&str>,
) -> Result<String, SnapshotError> {
    let found = components_with_executions(archive.file_names());
    match asked {
        Some(name) if found.iter().any(|f| f == name) => Ok(name.to_string()),
        Some(name) => Err(SnapshotError::Layout(format!(
            "the ZIP has no component {name:?} with a {EXECUTIONS_TABLE} table (found: {})",
            list(&found)
        ))),
        None => match found.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(SnapshotError::Layout(format!(
                "the ZIP has no {COMPONENTS_DIR}/<component>/{EXECUTIONS_TABLE}/{DOCUMENTS_FILE}: \
                 is it an export of a deployment with the storage component installed?"
            ))),
            several => Err(SnapshotError::Layout(format!(
                "the ZIP has several components with a {EXECUTIONS_TABLE} table ({}): name one \
                 with --component or component=",
                list(several)
            ))),
        },
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Refuses tables the storage component does not define. `locks` is accepted and skipped: the
/// emulator keeps its locks in memory, and a lock of an export is a holder that is gone.
fn check_tables(archive: &ZipArchive<Cursor<&[u8]>>, prefix: &str) -> Result<(), SnapshotError> {
    for name in archive.file_names() {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        if rest.starts_with(COMPONENTS_DIR) || rest.starts_with('_') || !rest.contains('/') {
            continue;
        }
        let table = rest.split('/').next().unwrap_or_default();
        if table != EXECUTIONS_TABLE && table != LOCKS_TABLE {
            return Err(SnapshotError::Layout(format!(
                "{name}: the storage component has no table {table:?} (only \
                 {EXECUTIONS_TABLE} and {LOCKS_TABLE})"
            )));
        }
    }
    Ok(())
}

/// The component's `_tables` list, when present, must number `taskExecutions` as the emulator
/// does, or the `_id`s would point into another table.
fn check_tables_list(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    prefix: &str,
) -> Result<(), SnapshotError> {
    let path = format!("{prefix}{TABLES_FILE}");
    if archive.index_for_name(&path).is_none() {
        return Ok(());
    }
    for_each_line(archive, &path, |line, bytes| {
        let bad = |message: String| SnapshotError::BadLine {
            file: path.clone(),
            line,
            message,
        };
        let entry: Json =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let (Some(name), Some(number)) = (entry["name"].as_str(), entry["id"].as_u64()) else {
            return Err(bad(
                "expected {\"id\": <table number>, \"name\": <table>}".into()
            ));
        };
        if name == EXECUTIONS_TABLE && number != u64::from(TASK_EXECUTIONS_TABLE_NUMBER) {
            return Err(bad(format!(
                "{EXECUTIONS_TABLE} is table {number} in this snapshot; the emulator's ids use \
                 table {TASK_EXECUTIONS_TABLE_NUMBER}"
            )));
        }
        Ok(())
    })
}

/// `generated_schema.jsonl`, when present: a shape string, then one JSON object per line.
/// Only its form is checked: every field of the schema is read by its validator (see
/// `json::revive_floats`), so the hints add nothing but NaN payloads, which are not kept.
fn check_generated_schema(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    prefix: &str,
) -> Result<(), SnapshotError> {
    let path = format!("{prefix}{EXECUTIONS_TABLE}/{GENERATED_SCHEMA_FILE}");
    if archive.index_for_name(&path).is_none() {
        return Ok(());
    }
    for_each_line(archive, &path, |line, bytes| {
        let entry: Result<Json, _> = serde_json::from_slice(bytes);
        let fits = matches!(
            (&entry, line),
            (Ok(Json::String(_)), 1) | (Ok(Json::Object(_)), 2..)
        );
        if fits {
            Ok(())
        } else {
            Err(SnapshotError::BadLine {
                file: path.clone(),
                line,
                message: "expected the table's shape as a JSON string on the first line, then \
                          one JSON object per line"
                    .into(),
            })
        }
    })
}

/// One document line, read.
struct ParsedDocument {
    id: String,
    internal_id: [u8; 16],
    creation_time: f64,
    fields: Object,
}

/// Reads one line of `documents.jsonl`; with `check`, also against the component's schema.
fn parse_document(bytes: &[u8], check: bool) -> Result<ParsedDocument, String> {
    let parsed = parse_value(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut fields) = parsed else {
        return Err("a document must be a JSON object".to_string());
    };
    let id = match fields.remove("_id") {
        Some(Value::String(id)) => id,
        _ => return Err("the document has no `_id` string".to_string()),
    };
    let internal_id = if check {
        let decoded = DocumentId::decode(&id).map_err(|e| format!("`_id` {id}: {e}"))?;
        if decoded.table_number != TASK_EXECUTIONS_TABLE_NUMBER {
            return Err(format!(
                "`_id` {id} is an id of table {}, not of {EXECUTIONS_TABLE} \
                 ({TASK_EXECUTIONS_TABLE_NUMBER})",
                decoded.table_number
            ));
        }
        decoded.internal_id
    } else {
        [0; 16]
    };
    let creation_time = match fields.remove("_creationTime") {
        Some(Value::Float64(t)) if t.is_finite() && t > 0.0 => t,
        _ => return Err("the document has no `_creationTime` (a positive number)".to_string()),
    };
    let mut value = Value::Object(fields);
    if may_hold_special_floats(&value) {
        revive_floats(&INSERT_VALUE, &mut value);
    }
    if check {
        INSERT_VALUE
            .check(&value)
            .map_err(|e| format!("does not fit the {EXECUTIONS_TABLE} schema: {e}"))?;
    }
    let Value::Object(fields) = value else {
        return Err("a document must be a JSON object".to_string());
    };
    Ok(ParsedDocument {
        id,
        internal_id,
        creation_time,
        fields,
    })
}

/// Calls `f(line number, bytes)` for every non-blank line of the entry at `path` (1-based
/// numbers, counting blank lines too, so they match an editor's).
fn for_each_line(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    path: &str,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), SnapshotError>,
) -> Result<(), SnapshotError> {
    let entry = archive.by_name(path)?;
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, entry);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| SnapshotError::Io {
                file: path.to_string(),
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        f(number, &line)?;
    }
}
