//! The time clamps and the update-request semantics shared by every writing function.
//!
//! Exactly upstream's `insertOneHelper` / `updateOneHelper` (SPEC.md §3-4, with the choices of
//! the brief): inside a mutation "now" is the transaction's clock plus
//! [`MUTATION_NOW_OFFSET_MS`]. A clamp is written `if (x && x < now)` upstream, so a field
//! holding exactly `0` (or `-0`, `NaN`) is left alone; only `startAt` at insert and `updatedAt`
//! in an update are clamped without that guard.

use crate::functions::document_size::check_document_size;
use crate::functions::schema::UNSETTABLE_FIELDS;
use crate::functions::FunctionError;
use crate::limits::{EXPIRY_CLAMP_OFFSET_MS, MUTATION_NOW_OFFSET_MS};
use crate::store::{Document, WriteTx};
use crate::value::{Object, Value};

/// Deadlines: a stale one moves to `now + EXPIRY_CLAMP_OFFSET_MS`.
const DEADLINE_FIELDS: &[&str] = &["expiresAt", "ocfpExpiresAt", "closeExpiresAt"];
/// Moments of an update: a stale one moves to `now`.
const MOMENT_FIELDS: &[&str] = &[
    "startAt",
    "startedAt",
    "finishedAt",
    "ocfpFinishedAt",
    "closedAt",
];

/// "now" inside a mutation: the transaction's `Date.now()` plus 50 ms.
pub fn mutation_now(tx: &WriteTx<'_>) -> f64 {
    (tx.now_ms() + MUTATION_NOW_OFFSET_MS) as f64
}

/// Applies the insert clamps to a new execution's fields.
pub fn clamp_insert(fields: &mut Object, now: f64) {
    fields.insert("createdAt".to_string(), Value::Float64(now));
    fields.insert("updatedAt".to_string(), Value::Float64(now));
    if let Some(Value::Float64(start_at)) = fields.get_mut("startAt") {
        if *start_at < now {
            *start_at = now;
        }
    }
    for name in DEADLINE_FIELDS {
        clamp_guarded(fields, name, now, now + EXPIRY_CLAMP_OFFSET_MS);
    }
}

/// `if (x && x < now) x = to`.
fn clamp_guarded(fields: &mut Object, name: &str, now: f64, to: f64) {
    if let Some(value @ Value::Float64(_)) = fields.get_mut(name) {
        if value.is_js_truthy() && value.as_f64().is_some_and(|x| x < now) {
            *value = Value::Float64(to);
        }
    }
}

/// A validated update request: the fields to set (including `updatedAt`) and the fields to
/// remove.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    set: Object,
    unset: Vec<&'static str>,
}

impl UpdateRequest {
    /// Reads a request that passed `schema::UPDATE_REQUEST`.
    pub fn from_validated(value: &Value) -> Self {
        let mut set = value.as_object().cloned().unwrap_or_default();
        let flags = set.remove("unset");
        let flags = flags.as_ref().and_then(Value::as_object);
        let unset = UNSETTABLE_FIELDS
            .iter()
            .copied()
            .filter(|f| {
                flags
                    .and_then(|o| o.get(*f))
                    .is_some_and(Value::is_js_truthy)
            })
            .collect();
        Self { set, unset }
    }

    /// A request setting only these fields (used for the parents in the decrement sweep).
    pub fn setting(fields: Object) -> Self {
        Self {
            set: fields,
            unset: Vec::new(),
        }
    }

    /// The same request with one more field set.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set.insert(name.to_string(), value);
        self
    }

    /// The `updatedAt` this request sets (after [`UpdateRequest::clamp`], the clamped one).
    pub fn updated_at(&self) -> Value {
        self.set.get("updatedAt").cloned().unwrap_or(Value::Null)
    }

    /// Clamps the request's times to `now`, in place, as upstream mutates its request object.
    pub fn clamp(&mut self, now: f64) {
        if let Some(Value::Float64(updated_at)) = self.set.get_mut("updatedAt") {
            if *updated_at < now {
                *updated_at = now;
            }
        }
        for name in MOMENT_FIELDS {
            clamp_guarded(&mut self.set, name, now, now);
        }
        for name in DEADLINE_FIELDS {
            clamp_guarded(&mut self.set, name, now, now + EXPIRY_CLAMP_OFFSET_MS);
        }
    }

    /// Sets every field of the request, then removes every unset one (unset wins).
    pub fn apply_to(&self, fields: &mut Object) {
        for (name, value) in &self.set {
            fields.insert(name.clone(), value.clone());
        }
        for name in &self.unset {
            fields.remove(*name);
        }
    }
}

/// Upstream's `updateOneHelper`: clamp the request, then patch the document.
pub fn update_one(
    tx: &WriteTx<'_>,
    doc: &Document,
    update: &mut UpdateRequest,
) -> Result<(), FunctionError> {
    update.clamp(mutation_now(tx));
    let mut fields = doc.fields.clone();
    update.apply_to(&mut fields);
    check_document_size(&fields)?;
    Ok(tx.replace_execution(doc, &fields)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    const NOW: f64 = 1_000_050.0;

    #[test]
    fn insert_clamps_follow_upstream() {
        let mut fields = object([
            ("startAt", 5.0.into()),
            ("expiresAt", 10.0.into()),
            ("ocfpExpiresAt", 0.0.into()),
            ("closeExpiresAt", 2_000_000.0.into()),
            ("createdAt", 1.0.into()),
            ("updatedAt", 9e15.into()),
        ]);
        clamp_insert(&mut fields, NOW);
        assert_eq!(fields["startAt"], Value::Float64(NOW));
        assert_eq!(fields["expiresAt"], Value::Float64(NOW + 1000.0));
        assert_eq!(
            fields["ocfpExpiresAt"],
            Value::Float64(0.0),
            "0 is not clamped"
        );
        assert_eq!(
            fields["closeExpiresAt"],
            Value::Float64(2_000_000.0),
            "future stays"
        );
        assert_eq!(fields["createdAt"], Value::Float64(NOW));
        assert_eq!(
            fields["updatedAt"],
            Value::Float64(NOW),
            "client's value is overwritten"
        );
    }

    #[test]
    fn insert_clamps_start_at_even_when_zero() {
        let mut fields = object([("startAt", 0.0.into())]);
        clamp_insert(&mut fields, NOW);
        assert_eq!(fields["startAt"], Value::Float64(NOW));
        assert!(
            !fields.contains_key("expiresAt"),
            "absent deadlines stay absent"
        );
    }

    #[test]
    fn update_clamps_follow_upstream() {
        let request = Value::Object(object([
            ("updatedAt", 1.0.into()),
            ("startedAt", 0.0.into()),
            ("finishedAt", (-5.0).into()),
            ("closedAt", 2e6.into()),
            ("expiresAt", 1.0.into()),
            ("ocfpExpiresAt", 0.0.into()),
        ]));
        let mut update = UpdateRequest::from_validated(&request);
        update.clamp(NOW);
        let mut fields = Object::new();
        update.apply_to(&mut fields);
        assert_eq!(fields["updatedAt"], Value::Float64(NOW));
        assert_eq!(fields["startedAt"], Value::Float64(0.0));
        assert_eq!(
            fields["finishedAt"],
            Value::Float64(NOW),
            "negative is truthy"
        );
        assert_eq!(fields["closedAt"], Value::Float64(2e6));
        assert_eq!(fields["expiresAt"], Value::Float64(NOW + 1000.0));
        assert_eq!(fields["ocfpExpiresAt"], Value::Float64(0.0));
    }

    #[test]
    fn unset_wins_over_a_value_in_the_same_request() {
        let request = Value::Object(object([
            ("updatedAt", 9e15.into()),
            ("executorId", "e".into()),
            ("status", "running".into()),
            (
                "unset",
                Value::Object(object([
                    ("executorId", true.into()),
                    ("error", true.into()),
                    ("runOutput", false.into()),
                ])),
            ),
        ]));
        let update = UpdateRequest::from_validated(&request);
        let mut fields = object([
            ("executorId", "old".into()),
            ("error", Value::Object(Object::new())),
            ("runOutput", "kept".into()),
        ]);
        update.apply_to(&mut fields);
        assert!(!fields.contains_key("executorId"));
        assert!(!fields.contains_key("error"));
        assert!(!fields.contains_key("unset"));
        assert_eq!(fields["runOutput"], Value::from("kept"));
        assert_eq!(fields["status"], Value::from("running"));
    }
}
