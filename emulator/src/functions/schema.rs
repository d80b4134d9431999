//! The shapes of the storage functions' arguments (upstream `schema.ts` and `common.ts`).
//!
//! Built once and shared. Field names are the stored (DB) names of SPEC.md §2.

use std::sync::LazyLock;

use crate::functions::validator::{
    array, literals, object, optional, required, FieldValidator, Validator,
};

/// `v.number()`.
const NUMBER: Validator = Validator::Float64;
/// `v.string()`.
const STRING: Validator = Validator::String;
/// `v.boolean()`.
const BOOLEAN: Validator = Validator::Boolean;

/// The nine execution statuses.
pub const STATUSES: &[&str] = &[
    "ready",
    "running",
    "failed",
    "timed_out",
    "waiting_for_children",
    "waiting_for_finalize",
    "finalize_failed",
    "completed",
    "cancelled",
];

/// On-children-finished processing statuses.
pub const OCFP_STATUSES: &[&str] = &["idle", "processing", "processed"];

/// Close statuses.
pub const CLOSE_STATUSES: &[&str] = &["idle", "ready", "closing", "closed"];

/// Error types of a durable-execution error.
const ERROR_TYPES: &[&str] = &["generic", "not_found", "timed_out", "cancelled"];

/// The flags an update request may unset.
pub const UNSETTABLE_FIELDS: &[&str] = &[
    "executorId",
    "runOutput",
    "error",
    "startedAt",
    "expiresAt",
    "ocfpExpiresAt",
    "closeExpiresAt",
];

pub fn status() -> Validator {
    literals(STATUSES)
}

pub fn ocfp_status() -> Validator {
    literals(OCFP_STATUSES)
}

pub fn close_status() -> Validator {
    literals(CLOSE_STATUSES)
}

fn error() -> Validator {
    object([
        required("errorType", literals(ERROR_TYPES)),
        required("message", STRING),
        required("isRetryable", BOOLEAN),
        required("isInternal", BOOLEAN),
    ])
}

fn summary() -> Validator {
    object([required("taskId", STRING), required("executionId", STRING)])
}

/// `vTaskExecutionDBInsertValue`: a new execution.
pub static INSERT_VALUE: LazyLock<Validator> = LazyLock::new(|| {
    object([
        required("shard", NUMBER),
        optional("rootTaskId", STRING),
        optional("rootExecutionId", STRING),
        optional("parentTaskId", STRING),
        optional("parentExecutionId", STRING),
        optional("parentExecutionDocId", Validator::Id("taskExecutions")),
        optional("indexInParentChildren", NUMBER),
        optional("isOnlyChildOfParent", BOOLEAN),
        optional("isFinalizeOfParent", BOOLEAN),
        required("taskId", STRING),
        required("executionId", STRING),
        required("isSleepingTask", BOOLEAN),
        optional("sleepingTaskUniqueId", STRING),
        required(
            "retryOptions",
            object([
                required("maxAttempts", NUMBER),
                optional("baseDelayMs", NUMBER),
                optional("maxDelayMs", NUMBER),
                optional("delayMultiplier", NUMBER),
            ]),
        ),
        required("sleepMsBeforeRun", NUMBER),
        required("timeoutMs", NUMBER),
        required("areChildrenSequential", BOOLEAN),
        required("input", STRING),
        optional("executorId", STRING),
        required("status", status()),
        required("isFinished", BOOLEAN),
        optional("runOutput", STRING),
        optional("output", STRING),
        optional("error", error()),
        required("retryAttempts", NUMBER),
        required("startAt", NUMBER),
        optional("startedAt", NUMBER),
        optional("expiresAt", NUMBER),
        optional("waitingForChildrenStartedAt", NUMBER),
        optional("waitingForFinalizeStartedAt", NUMBER),
        optional("finishedAt", NUMBER),
        optional("children", array(summary())),
        required("acc", NUMBER),
        required("ocfpStatus", ocfp_status()),
        optional("ocfpExpiresAt", NUMBER),
        optional("ocfpFinishedAt", NUMBER),
        optional("finalize", summary()),
        required("closeStatus", close_status()),
        optional("closeExpiresAt", NUMBER),
        optional("closedAt", NUMBER),
        required("npc", BOOLEAN),
        required("createdAt", NUMBER),
        required("updatedAt", NUMBER),
    ])
});

/// `vTaskExecutionDBUpdateRequest`: the fields to set, `updatedAt`, and the unset flags.
pub static UPDATE_REQUEST: LazyLock<Validator> = LazyLock::new(|| {
    object([
        optional("executorId", STRING),
        optional("status", status()),
        optional("isFinished", BOOLEAN),
        optional("runOutput", STRING),
        optional("output", STRING),
        optional("error", error()),
        optional("retryAttempts", NUMBER),
        optional("startAt", NUMBER),
        optional("startedAt", NUMBER),
        optional("expiresAt", NUMBER),
        optional("waitingForChildrenStartedAt", NUMBER),
        optional("waitingForFinalizeStartedAt", NUMBER),
        optional("finishedAt", NUMBER),
        optional("children", array(summary())),
        optional("acc", NUMBER),
        optional("ocfpStatus", ocfp_status()),
        optional("ocfpExpiresAt", NUMBER),
        optional("ocfpFinishedAt", NUMBER),
        optional("finalize", summary()),
        optional("closeStatus", close_status()),
        optional("closeExpiresAt", NUMBER),
        optional("closedAt", NUMBER),
        optional("npc", BOOLEAN),
        required("updatedAt", NUMBER),
        optional(
            "unset",
            object(UNSETTABLE_FIELDS.iter().map(|f| optional(f, BOOLEAN))),
        ),
    ])
});

/// `vTaskExecutionStorageGetByIdFilters`.
pub fn get_by_id_filters() -> Validator {
    object([
        optional("isSleepingTask", BOOLEAN),
        optional("status", status()),
        optional("isFinished", BOOLEAN),
    ])
}

/// `v.number()`, `v.string()`, `v.boolean()` for the argument lists of the functions.
pub fn number() -> Validator {
    NUMBER
}

pub fn string() -> Validator {
    STRING
}

pub fn boolean() -> Validator {
    BOOLEAN
}

/// `{requests: v.array(v.object(fields))}`: the arguments of every batched function.
pub fn requests(fields: impl IntoIterator<Item = (&'static str, FieldValidator)>) -> Validator {
    object([required("requests", array(object(fields)))])
}

/// The update request validator, cloned into an argument list.
pub fn update_request() -> Validator {
    UPDATE_REQUEST.clone()
}

/// The insert value validator, cloned into an argument list.
pub fn insert_value() -> Validator {
    INSERT_VALUE.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{object, Object, Value};

    fn valid_insert() -> Object {
        object([
            ("shard", 0.0.into()),
            ("taskId", "t".into()),
            ("executionId", "e".into()),
            ("isSleepingTask", false.into()),
            (
                "retryOptions",
                Value::Object(object([("maxAttempts", 1.0.into())])),
            ),
            ("sleepMsBeforeRun", 0.0.into()),
            ("timeoutMs", 1.0.into()),
            ("areChildrenSequential", false.into()),
            ("input", "i".into()),
            ("status", "ready".into()),
            ("isFinished", false.into()),
            ("retryAttempts", 0.0.into()),
            ("startAt", 0.0.into()),
            ("acc", 0.0.into()),
            ("ocfpStatus", "idle".into()),
            ("closeStatus", "idle".into()),
            ("npc", false.into()),
            ("createdAt", 0.0.into()),
            ("updatedAt", 0.0.into()),
            (
                "children",
                Value::Array(vec![Value::Object(object([
                    ("taskId", "c".into()),
                    ("executionId", "ce".into()),
                ]))]),
            ),
            (
                "parentExecutionDocId",
                "j57004926d25askqh2ctneycvn77kce2".into(),
            ),
        ])
    }

    /// Every one-field change of a valid value: removed, replaced by each kind of value, and
    /// one extra field.
    fn variants(valid: &Object) -> Vec<Value> {
        let replacements = [
            Value::Null,
            Value::Int64(1),
            Value::Float64(1.0),
            Value::Boolean(true),
            "ready".into(),
            "j57004926d25askqh2ctneycvn77kce2".into(),
            Value::Array(vec![]),
            Value::Array(vec![Value::Float64(1.0)]),
            Value::Object(Object::new()),
        ];
        let mut out = vec![Value::Object(valid.clone())];
        for name in valid.keys() {
            let mut removed = valid.clone();
            removed.remove(name);
            out.push(Value::Object(removed));
            for replacement in &replacements {
                let mut changed = valid.clone();
                changed.insert(name.clone(), replacement.clone());
                out.push(Value::Object(changed));
            }
        }
        let mut extra = valid.clone();
        extra.insert("extra".to_string(), Value::Null);
        out.push(Value::Object(extra));
        out
    }

    #[test]
    fn the_fast_path_agrees_with_the_error_walk() {
        let update = object([
            ("status", "running".into()),
            ("updatedAt", 1.0.into()),
            (
                "unset",
                Value::Object(object([("executorId", true.into())])),
            ),
        ]);
        let cases = [(&*INSERT_VALUE, valid_insert()), (&*UPDATE_REQUEST, update)];
        let mut mismatches = 0;
        for (validator, valid) in cases {
            for value in variants(&valid) {
                let fast = validator.matches(&value);
                let slow = validator.check_at(&value, &mut String::new()).is_ok();
                if fast != slow {
                    mismatches += 1;
                    eprintln!("disagree on {value}");
                }
            }
        }
        assert_eq!(mismatches, 0);
    }
}
