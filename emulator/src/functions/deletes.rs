//! `deleteById` and `deleteAll`.

use std::sync::LazyLock;

use crate::functions::args::{Fields, PlainFunction, ShapeError};
use crate::functions::schema::string;
use crate::functions::validator::{object, required, Validator};
use crate::functions::FunctionError;
use crate::limits::DELETE_ALL_BATCH_SIZE;
use crate::store::Store;
use crate::value::Value;

/// `{executionId}`.
pub static DELETE_BY_ID_ARGS: LazyLock<Validator> =
    LazyLock::new(|| object([required("executionId", string())]));

/// `{}`: `deleteAll` takes no arguments.
pub static DELETE_ALL_ARGS: LazyLock<Validator> = LazyLock::new(|| object([]));

/// `deleteById`: deletes the execution if it exists.
pub(crate) struct DeleteById {
    execution_id: String,
}

impl PlainFunction for DeleteById {
    const ARGS: &'static LazyLock<Validator> = &DELETE_BY_ID_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        Ok(Self {
            execution_id: args.string("executionId")?,
        })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .write(move |tx| {
                if let Some(doc) = tx.execution_by_execution_id(&self.execution_id)? {
                    tx.delete_execution(&doc)?;
                }
                Ok(Value::Null)
            })
            .await
    }
}

/// `deleteAll`: deletes every execution, oldest first, [`DELETE_ALL_BATCH_SIZE`] per
/// transaction, until a batch deletes fewer than that.
pub(crate) struct DeleteAll;

impl PlainFunction for DeleteAll {
    const ARGS: &'static LazyLock<Validator> = &DELETE_ALL_ARGS;

    fn read(_: Fields) -> Result<Self, ShapeError> {
        Ok(Self)
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
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
}
