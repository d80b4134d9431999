//! `insertMany`, and the insert helper the children-inserting update shares.

use std::sync::LazyLock;

use crate::functions::args::{Fields, PlainFunction, ShapeError};
use crate::functions::document_size::check_document_size;
use crate::functions::schema::insert_value;
use crate::functions::update::{clamp_insert, mutation_now};
use crate::functions::validator::{array, object, required, Validator};
use crate::functions::FunctionError;
use crate::store::{Document, Store, WriteTx};
use crate::value::{Object, Value};

/// `{executions: v.array(insertValue)}`.
pub static INSERT_MANY_ARGS: LazyLock<Validator> =
    LazyLock::new(|| object([required("executions", array(insert_value()))]));

pub const EXECUTION_ID_EXISTS: &str = "Execution id already exists";
pub const SLEEPING_TASK_UNIQUE_ID_EXISTS: &str = "Sleeping task unique id already exists";

/// `insertMany`: inserts every execution in one transaction; a duplicate anywhere inserts
/// nothing.
pub(crate) struct InsertMany {
    executions: Vec<Object>,
}

impl PlainFunction for InsertMany {
    const ARGS: &'static LazyLock<Validator> = &INSERT_MANY_ARGS;

    fn read(mut args: Fields) -> Result<Self, ShapeError> {
        let executions = args.each("executions", |execution| Ok(execution.into_object()))?;
        Ok(Self { executions })
    }

    async fn run(self, store: &Store) -> Result<Value, FunctionError> {
        store
            .write(move |tx| {
                for execution in self.executions {
                    insert_one(tx, execution)?;
                }
                Ok(Value::Null)
            })
            .await
    }
}

/// Upstream's `insertOneHelper`: uniqueness checks (earlier inserts of the same transaction
/// count), the insert clamps, then the insert.
pub fn insert_one(tx: &mut WriteTx<'_>, mut fields: Object) -> Result<Document, FunctionError> {
    let execution_id = fields
        .get("executionId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if tx.execution_by_execution_id(execution_id)?.is_some() {
        return Err(FunctionError::Thrown(EXECUTION_ID_EXISTS.to_string()));
    }
    if let Some(Value::String(unique_id)) = fields.get("sleepingTaskUniqueId") {
        if !unique_id.is_empty()
            && tx
                .execution_by_sleeping_task_unique_id(unique_id)?
                .is_some()
        {
            return Err(FunctionError::Thrown(
                SLEEPING_TASK_UNIQUE_ID_EXISTS.to_string(),
            ));
        }
    }
    clamp_insert(&mut fields, mutation_now(tx));
    check_document_size(&fields)?;
    Ok(tx.insert_execution(fields)?)
}
