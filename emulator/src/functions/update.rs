//! The time clamps and the update-request semantics shared by every writing function.
//!
//! Exactly upstream's `insertOneHelper` / `updateOneHelper` (docs/SPEC.md sections 3 and 4):
//! inside a mutation "now" is the transaction's clock plus
//! [`MUTATION_NOW_OFFSET_MS`]. A clamp is written `if (x && x < now)` upstream, so a field
//! holding exactly `0` (or `-0`, `NaN`) is left alone; only `startAt` at insert and `updatedAt`
//! in an update are clamped without that guard.

use crate::functions::document_size::check_document_size;
use crate::functions::schema::{UNSETTABLE_FIELDS, UPDATE_REQUEST};
use crate::functions::untyped::{cannot_read, check_against_schema, js_less_than};
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

/// The `update` argument of a locked selector, which upstream never validates: a well-formed
/// request takes the typed path above; anything else is applied with JavaScript's semantics
/// and the table's schema check (`untyped.rs`).
#[derive(Debug, Clone)]
pub enum SelectorUpdate {
    /// A request that passes `schema::UPDATE_REQUEST`, with the value it was read from.
    Typed(UpdateRequest, Value),
    /// Anything else; `None` is `undefined`.
    Raw(Option<Value>),
}

impl SelectorUpdate {
    /// Sorts the argument into the typed or the raw path.
    pub fn from_argument(value: Option<&Value>) -> Self {
        match value {
            Some(v) if UPDATE_REQUEST.check(v).is_ok() => {
                SelectorUpdate::Typed(UpdateRequest::from_validated(v), v.clone())
            }
            other => SelectorUpdate::Raw(other.cloned()),
        }
    }

    /// `updateOneHelper(ctx, doc, update)`: clamps `update` in place, then patches.
    pub fn apply(&mut self, tx: &WriteTx<'_>, doc: &Document) -> Result<(), FunctionError> {
        match self {
            SelectorUpdate::Typed(update, _) => update_one(tx, doc, update),
            SelectorUpdate::Raw(update) => raw_update_one(tx, doc, update),
        }
    }

    /// `updateOneHelper(ctx, doc, {...update, [name]: value})`: a fresh object each time, so
    /// `update` itself is not clamped.
    pub fn apply_spread_with(
        &self,
        tx: &WriteTx<'_>,
        doc: &Document,
        name: &str,
        value: Value,
    ) -> Result<(), FunctionError> {
        match self {
            SelectorUpdate::Typed(update, _) if matches!(value, Value::Float64(_)) => {
                update_one(tx, doc, &mut update.clone().with(name, value))
            }
            SelectorUpdate::Typed(_, original) => {
                let mut spread = spread_entries(Some(original));
                spread.insert(name.to_string(), value);
                raw_update_one(tx, doc, &mut Some(Value::Object(spread)))
            }
            SelectorUpdate::Raw(update) => {
                let mut spread = spread_entries(update.as_ref());
                spread.insert(name.to_string(), value);
                raw_update_one(tx, doc, &mut Some(Value::Object(spread)))
            }
        }
    }

    /// `update.updatedAt` as it stands (clamped by the updates so far); `None` is `undefined`.
    pub fn updated_at(&self) -> Option<Value> {
        match self {
            SelectorUpdate::Typed(update, _) => Some(update.updated_at()),
            SelectorUpdate::Raw(Some(Value::Object(fields))) => fields.get("updatedAt").cloned(),
            SelectorUpdate::Raw(_) => None,
        }
    }
}

/// `{...value}`: an object's own fields, a string's characters or an array's elements under
/// their indexes, nothing for anything else.
fn spread_entries(value: Option<&Value>) -> Object {
    match value {
        Some(Value::Object(fields)) => fields.clone(),
        Some(Value::String(s)) => s
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::String(c.to_string())))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        _ => Object::new(),
    }
}

/// `updateOneHelper` on an unvalidated request: JavaScript's clamps (`x < now` converting
/// `x`, `x && ...` with its truthiness) mutate the request in place; the patch sets every field
/// but `unset`, removes those whose unset flag is truthy, and must still fit the table.
pub fn raw_update_one(
    tx: &WriteTx<'_>,
    doc: &Document,
    update: &mut Option<Value>,
) -> Result<(), FunctionError> {
    let now = mutation_now(tx);
    let (set, unset) = match update {
        None => return Err(cannot_read("undefined", "updatedAt")),
        Some(Value::Null) => return Err(cannot_read("null", "updatedAt")),
        Some(Value::Object(request)) => {
            if request
                .get("updatedAt")
                .is_some_and(|x| js_less_than(x, now))
            {
                request.insert("updatedAt".to_string(), Value::Float64(now));
            }
            let clamps = MOMENT_FIELDS.iter().map(|name| (*name, now)).chain(
                DEADLINE_FIELDS
                    .iter()
                    .map(|name| (*name, now + EXPIRY_CLAMP_OFFSET_MS)),
            );
            for (name, to) in clamps {
                if let Some(x) = request.get_mut(name) {
                    if x.is_js_truthy() && js_less_than(x, now) {
                        *x = Value::Float64(to);
                    }
                }
            }
            let mut set = request.clone();
            let unset = match set.remove("unset") {
                Some(Value::Object(flags)) => flags
                    .into_iter()
                    .filter(|(_, flag)| flag.is_js_truthy())
                    .map(|(name, _)| name)
                    .collect(),
                other => spread_entries(other.as_ref())
                    .into_iter()
                    .filter(|(_, flag)| flag.is_js_truthy())
                    .map(|(name, _)| name)
                    .collect(),
            };
            (set, unset)
        }
        Some(other) => (spread_entries(Some(other)), Vec::<String>::new()),
    };
    let mut fields = doc.fields.clone();
    fields.extend(set);
    for name in unset {
        fields.remove(&name);
    }
    check_against_schema(&fields)?;
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
