//! Reading the inner `args` of a call.
//!
//! After validation the getters here cannot fail; they `expect` the shape the validator
//! guaranteed.

use crate::value::{Object, Value};

/// A validated `v.string()` argument.
pub fn string<'a>(args: &'a Object, name: &str) -> &'a str {
    args.get(name)
        .and_then(Value::as_str)
        .expect("validated string argument")
}

/// A validated `v.boolean()` argument.
pub fn boolean(args: &Object, name: &str) -> bool {
    args.get(name)
        .and_then(Value::as_bool)
        .expect("validated boolean argument")
}

/// A validated `v.array(...)` argument, taken out of `args`.
pub fn take_array(args: &mut Object, name: &str) -> Vec<Value> {
    match args.remove(name) {
        Some(Value::Array(items)) => items,
        _ => panic!("validated array argument `{name}`"),
    }
}

/// A validated object (an array element), taken apart.
pub fn into_object(value: Value) -> Object {
    match value {
        Value::Object(fields) => fields,
        _ => panic!("validated object"),
    }
}
