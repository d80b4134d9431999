//! `deleteById` and `deleteAll`.

use std::sync::LazyLock;

use crate::functions::args;
use crate::functions::schema::string;
use crate::functions::validator::{object, required, Validator};
use crate::functions::{Args, FunctionError};
use crate::limits::DELETE_ALL_BATCH_SIZE;
use crate::store::Store;
use crate::value::Value;

/// `{executionId}`.
pub static DELETE_BY_ID_ARGS: LazyLock<Validator> =
    LazyLock::new(|| object([required("executionId", string())]));

/// `{}`: `deleteAll` takes no arguments.
pub static DELETE_ALL_ARGS: LazyLock<Validator> = LazyLock::new(|| object([]));

/// Deletes the execution if it exists.
pub async fn delete_by_id(store: &Store, args: Args) -> Result<Value, FunctionError> {
    let execution_id = args::string(&args, "executionId").to_string();
    store
        .write(move |tx| {
            if let Some(doc) = tx.execution_by_execution_id(&execution_id)? {
                tx.delete_execution(&doc)?;
            }
            Ok(Value::Null)
        })
        .await
}

/// Deletes every execution, oldest first, [`DELETE_ALL_BATCH_SIZE`] per transaction, until a
/// batch deletes fewer than that.
pub async fn delete_all(store: &Store) -> Result<Value, FunctionError> {
    loop {
        let deleted = store
            .write(|tx| {
                let batch = tx.oldest_executions(DELETE_ALL_BATCH_SIZE)?;
                for doc in &batch {
                    tx.delete_execution(doc)?;
                }
                Ok::<_, FunctionError>(batch.len())
            })
            .await?;
        if deleted < DELETE_ALL_BATCH_SIZE {
            return Ok(Value::Null);
        }
    }
}
