//! Writing a store out as a snapshot ZIP.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::functions::schema::INSERT_VALUE;
use crate::id::TASK_EXECUTIONS_TABLE_NUMBER;
use crate::limits::SNAPSHOT_DEFLATE_LEVEL;
use crate::snapshot::json::{float_hints, write_value};
use crate::snapshot::layout::{
    component_prefix, COMPONENT_TABLES, DOCUMENTS_FILE, EXECUTIONS_TABLE, GENERATED_SCHEMA_FILE,
    LOCKS_TABLE, README_FILE, README_TEXT, TABLES_FILE,
};
use crate::snapshot::shape::{document_shape, EMPTY_TABLE_SHAPE};
use crate::snapshot::SnapshotError;
use crate::store::{ReadTx, Store};

/// Unix permissions of every entry: read-write for the owner, read for everyone else.
const ENTRY_PERMISSIONS: u32 = 0o644;

/// A finished export.
#[derive(Debug)]
pub struct Exported {
    /// The ZIP file.
    pub zip: Vec<u8>,
    /// How many executions it holds.
    pub documents: u64,
}

/// Writes every execution of `store`, in creation order, as the tables of `component`, from one
/// consistent read.
pub async fn export(store: &Store, component: &str) -> Result<Exported, SnapshotError> {
    let component = component.to_string();
    store.read(move |tx| write_zip(tx, &component)).await
}

fn write_zip(tx: &ReadTx<'_>, component: &str) -> Result<Exported, SnapshotError> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let prefix = component_prefix(component);
    put(&mut zip, README_FILE, README_TEXT.as_bytes())?;
    // The app itself has no tables of its own: only the component's.
    put(&mut zip, TABLES_FILE, b"")?;
    let mut tables = Vec::new();
    for (name, number) in COMPONENT_TABLES {
        tables.extend_from_slice(
            serde_json::json!({ "id": number, "name": name })
                .to_string()
                .as_bytes(),
        );
        tables.push(b'\n');
    }
    put(&mut zip, &format!("{prefix}{TABLES_FILE}"), &tables)?;
    put(
        &mut zip,
        &format!("{prefix}{LOCKS_TABLE}/{GENERATED_SCHEMA_FILE}"),
        schema_line(EMPTY_TABLE_SHAPE).as_bytes(),
    )?;
    put(
        &mut zip,
        &format!("{prefix}{LOCKS_TABLE}/{DOCUMENTS_FILE}"),
        b"",
    )?;

    let documents_path = format!("{prefix}{EXECUTIONS_TABLE}/{DOCUMENTS_FILE}");
    zip.start_file(documents_path.as_str(), options().large_file(true))?;
    let mut documents = 0u64;
    let mut hints = Vec::new();
    let mut line = Vec::with_capacity(4096);
    tx.for_each_execution(|doc| {
        let value = doc.into_value();
        line.clear();
        write_value(&mut line, &value);
        line.push(b'\n');
        zip.write_all(&line).map_err(|source| SnapshotError::Io {
            file: documents_path.clone(),
            source,
        })?;
        if let Some(hint) = float_hints(&value) {
            if let Some(id) = value.as_object().and_then(|o| o.get("_id")) {
                let mut entry = Vec::new();
                entry.push(b'{');
                write_value(&mut entry, id);
                entry.push(b':');
                entry.extend_from_slice(hint.to_string().as_bytes());
                entry.extend_from_slice(b"}\n");
                hints.push(entry);
            }
        }
        documents += 1;
        Ok::<_, SnapshotError>(())
    })?;

    let shape = if documents == 0 {
        EMPTY_TABLE_SHAPE.to_string()
    } else {
        document_shape(&INSERT_VALUE, TASK_EXECUTIONS_TABLE_NUMBER)
    };
    let mut schema = schema_line(&shape).into_bytes();
    hints.iter().for_each(|h| schema.extend_from_slice(h));
    put(
        &mut zip,
        &format!("{prefix}{EXECUTIONS_TABLE}/{GENERATED_SCHEMA_FILE}"),
        &schema,
    )?;
    let zip = zip.finish()?.into_inner();
    Ok(Exported { zip, documents })
}

/// The first line of `generated_schema.jsonl`: the shape as a JSON string.
fn schema_line(shape: &str) -> String {
    format!("{}\n", serde_json::Value::from(shape))
}
fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(SNAPSHOT_DEFLATE_LEVEL))
        .unix_permissions(ENTRY_PERMISSIONS)
}

fn put(
    zip: &mut ZipWriter<Cursor<Vec<u8>>>,
    path: &str,
    contents: &[u8],
) -> Result<(), SnapshotError> {
    zip.start_file(path, options())?;
    zip.write_all(contents).map_err(|source| SnapshotError::Io {
        file: path.to_string(),
        source,
    })
}
