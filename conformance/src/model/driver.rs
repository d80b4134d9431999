//! How the answer of one call becomes JSON (the call itself is [`Transition::perform`]).
//!
//! [`Transition::perform`]: super::transition::Transition::perform
//!
//! The answer of a call becomes JSON so that every side (the model, the emulator, the reference
//! server, a deployment) is compared the same way: `{"ok": <value>}` for a result, `{"error":
//! "<thrown message>"}` for a rejection the function threw on purpose, and `{"failure":
//! "<text>"}` for anything else (transport, HTTP status, undecodable answer), which never
//! matches anything and so always fails the comparison.

use durable_execution_storage_convex::StorageError;
use serde::Serialize;
use serde_json::{json, Value};

/// The text a side rejected a call with: the thrown message for function errors. A document
/// id in Convex's `... on nonexistent document ID <id>` is masked, since every backend makes
/// its own ids.
pub fn error_answer(error: &StorageError) -> Value {
    match error.thrown_message() {
        Some(message) => json!({ "error": mask_document_id(&message) }),
        None => json!({ "failure": error.to_string() }),
    }
}

fn mask_document_id(message: &str) -> String {
    const MISSING: &str = "on nonexistent document ID ";
    match message.find(MISSING) {
        Some(at) => format!("{}<id>", &message[..at + MISSING.len()]),
        None => message.to_string(),
    }
}

/// The JSON answer of a call's result.
pub fn answer_of<T: Serialize>(result: Result<T, StorageError>) -> Value {
    match result {
        Ok(value) => {
            json!({ "ok": serde_json::to_value(value).expect("storage values serialize") })
        }
        Err(error) => error_answer(&error),
    }
}
