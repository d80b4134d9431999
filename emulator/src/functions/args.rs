//! Reading the inner `args` of a call.
//!
//! The inner args reach the component function the way `ctx.runMutation(fn, args)` passes
//! them: absent becomes `{}`, anything but an object is refused. After validation the getters
//! here cannot fail; they `expect` the shape the validator guaranteed.

use crate::functions::FunctionError;
use crate::value::{Object, Value};

/// The inner args as an object, or the argument error Convex gives for a non-object.
pub fn inner_args_object(inner: Option<Value>) -> Result<Object, FunctionError> {
    match inner {
        None => Ok(Object::new()),
        Some(Value::Object(fields)) => Ok(fields),
        Some(other) => Err(FunctionError::InvalidArguments(format!(
            "Expected to receive an object as the function's argument. Instead received: {other}"
        ))),
    }
}

/// A validated `v.number()` argument.
pub fn number(args: &Object, name: &str) -> f64 {
    args.get(name)
        .and_then(Value::as_f64)
        .expect("validated number argument")
}

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

/// The `limit` of a selector, checked as Convex's `take(n)` checks it.
pub fn limit(args: &Object) -> Result<usize, FunctionError> {
    let n = number(args, "limit");
    if n.is_finite() && n.trunc() == n && n >= 0.0 {
        // `as` saturates: a limit beyond usize::MAX means "all".
        Ok(n as usize)
    } else {
        Err(FunctionError::TypeError(
            "Arg 1 `n` to `take` must be a non-negative integer".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    #[test]
    fn absent_args_are_an_empty_object_and_others_are_refused() {
        assert_eq!(inner_args_object(None).unwrap(), Object::new());
        let err = inner_args_object(Some(Value::Float64(5.0))).unwrap_err();
        assert_eq!(
            err.message(),
            "ArgumentValidationError: Expected to receive an object as the function's argument. \
             Instead received: 5.0"
        );
    }

    #[test]
    fn limit_must_be_a_non_negative_integer() {
        let with = |n: f64| object([("limit", Value::Float64(n))]);
        assert_eq!(limit(&with(3.0)).unwrap(), 3);
        assert_eq!(limit(&with(0.0)).unwrap(), 0);
        assert_eq!(limit(&with(-0.0)).unwrap(), 0);
        for bad in [1.5, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(limit(&with(bad)), Err(FunctionError::TypeError(_))),
                "{bad}"
            );
        }
    }
}
