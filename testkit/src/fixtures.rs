//! Execution documents as the wire carries them (`insertMany`'s `executions`), for the tests
//! that speak the emulator's HTTP protocol directly instead of going through the adapter.
//!
//! The typed values (and the shared time margins) live in the adapter's `fixtures` module;
//! these are their JSON counterparts for crates that do not use the adapter. The emulator's
//! wire tests run on a manual clock, so they need no time margin.

use serde_json::{json, Value};

/// A minimal valid execution on shard 0, ready, with no optional field and every timestamp 0
/// (an insert clamps `startAt` 0 to now).
pub fn execution_json(execution_id: &str) -> Value {
    json!({
        "shard": 0,
        "taskId": "task",
        "executionId": execution_id,
        "isSleepingTask": false,
        "retryOptions": { "maxAttempts": 1 },
        "sleepMsBeforeRun": 0,
        "timeoutMs": 1000,
        "areChildrenSequential": false,
        "input": "in",
        "status": "ready",
        "isFinished": false,
        "retryAttempts": 0,
        "startAt": 0,
        "acc": 0,
        "ocfpStatus": "idle",
        "closeStatus": "idle",
        "npc": false,
        "createdAt": 0,
        "updatedAt": 0,
    })
}

/// [`execution_json`] with the fields of `overrides` (an object) replaced or added.
///
/// # Panics
/// If `overrides` is not a JSON object: a test wrote it wrong.
pub fn execution_json_with(execution_id: &str, overrides: Value) -> Value {
    let mut value = execution_json(execution_id);
    let Value::Object(fields) = overrides else {
        panic!("overrides must be a JSON object, got {overrides}");
    };
    for (key, field) in fields {
        value[key] = field;
    }
    value
}
