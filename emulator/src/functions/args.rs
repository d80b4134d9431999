//! The typed arguments of the nine validated functions.
//!
//! Each of them is a struct that implements [`PlainFunction`]: the Convex validator upstream
//! declares for its arguments, how to read checked arguments into the struct, and what the
//! function does with them. A call's inner `args` are checked against the validator once, for
//! Convex's exact error text, and then taken apart into the struct; handlers read fields, not
//! strings.
//!
//! The readers here return a [`ShapeError`] instead of panicking: if a validator and its struct
//! ever disagreed (a bug in this crate, not the caller's), the call fails with an internal
//! error rather than a panic inside a request.

use std::future::Future;
use std::sync::LazyLock;

use crate::functions::validator::Validator;
use crate::functions::FunctionError;
use crate::store::Store;
use crate::value::{Object, Value};

/// One of the nine functions whose arguments upstream validates.
pub(crate) trait PlainFunction: Sized + Send + 'static {
    /// The validator of the inner `args` (upstream's component `args`).
    const ARGS: &'static LazyLock<Validator>;

    /// Reads arguments that [`PlainFunction::ARGS`] accepted.
    fn read(args: Fields) -> Result<Self, ShapeError>;

    /// Runs the function on the store.
    fn run(self, store: &Store) -> impl Future<Output = Result<Value, FunctionError>> + Send;

    /// Checks `args` against the validator, then reads them.
    fn check(args: Object) -> Result<Self, FunctionError> {
        let args = Value::Object(args);
        Self::ARGS.check(&args)?;
        Ok(Self::read(Fields::of(args)?)?)
    }
}

/// Checked arguments that did not have the shape their reader expects.
#[derive(Debug)]
pub(crate) struct ShapeError(String);

impl From<ShapeError> for FunctionError {
    fn from(ShapeError(what): ShapeError) -> Self {
        FunctionError::Internal(crate::Error::ArgumentShape(what))
    }
}

/// The fields of one checked argument object, taken out one at a time.
pub(crate) struct Fields(Object);

impl Fields {
    /// The fields of `value`, which must be an object.
    pub fn of(value: Value) -> Result<Self, ShapeError> {
        match value {
            Value::Object(fields) => Ok(Self(fields)),
            other => Err(ShapeError(format!("expected an object, got {other}"))),
        }
    }

    /// A required field of any type.
    pub fn value(&mut self, name: &str) -> Result<Value, ShapeError> {
        self.0
            .remove(name)
            .ok_or_else(|| ShapeError(format!("missing field `{name}`")))
    }

    /// A required `v.string()` field.
    pub fn string(&mut self, name: &str) -> Result<String, ShapeError> {
        match self.value(name)? {
            Value::String(s) => Ok(s),
            other => Err(ShapeError(format!("`{name}` is {other}, not a string"))),
        }
    }

    /// A required `v.boolean()` field.
    pub fn boolean(&mut self, name: &str) -> Result<bool, ShapeError> {
        match self.value(name)? {
            Value::Boolean(b) => Ok(b),
            other => Err(ShapeError(format!("`{name}` is {other}, not a boolean"))),
        }
    }

    /// An optional object field.
    pub fn optional_object(&mut self, name: &str) -> Result<Option<Object>, ShapeError> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(value) => Fields::of(value).map(|fields| Some(fields.0)),
        }
    }

    /// A required `v.array(v.object(...))` field, each element's fields read by `read`.
    pub fn each<T>(
        &mut self,
        name: &str,
        mut read: impl FnMut(Fields) -> Result<T, ShapeError>,
    ) -> Result<Vec<T>, ShapeError> {
        match self.value(name)? {
            Value::Array(items) => items
                .into_iter()
                .map(|item| read(Fields::of(item)?))
                .collect(),
            other => Err(ShapeError(format!("`{name}` is {other}, not an array"))),
        }
    }

    /// The fields not taken yet, as an object.
    pub fn into_object(self) -> Object {
        self.0
    }
}
