//! The eight locked selectors read their arguments the way upstream's JavaScript does, because
//! upstream declares no validators for them (neither the public actions nor the component
//! mutations). This file is that JavaScript's semantics, for the cases a caller can send:
//!
//! * the lock key is a template string: `${x}` of any value (`undefined`, `null`, `[1,2]` →
//!   `1,2`, an object → `[object Object]`), and reading a field of a missing or `null` inner
//!   `args` is a `TypeError`;
//! * `ctx.runMutation(fn, args)` refuses inner args that are not an object;
//! * index equalities and bounds take the values as they are (`undefined` is "field missing",
//!   which sorts before every value; other types sort in Convex's order across types);
//! * `take(limit)` checks its argument as the `convex` package does;
//! * `base + timeoutMs` is JavaScript's `+`, and the clamps `if (x && x < now)` are
//!   JavaScript's truthiness and `<`;
//! * an update whose fields do not fit the table is refused by the schema check on write.
//!
//! When a request is well formed the selectors take the typed path of `update.rs`; this file
//! only decides what happens when it is not.

use crate::functions::js::number_to_string;
use crate::functions::schema::INSERT_VALUE;
use crate::functions::FunctionError;
use crate::value::{Object, Value};

/// A field of upstream's `args.args` while building a lock key: `args.args.shard`.
pub fn key_field<'a>(
    inner: Option<&'a Value>,
    name: &str,
) -> Result<Option<&'a Value>, FunctionError> {
    match inner {
        None => Err(cannot_read("undefined", name)),
        Some(Value::Null) => Err(cannot_read("null", name)),
        Some(Value::Object(fields)) => Ok(fields.get(name)),
        // A property of a primitive or an array that it does not have is `undefined`.
        Some(_) => Ok(None),
    }
}

/// JavaScript's TypeError for reading a property of `undefined` or `null`.
pub fn cannot_read(what: &str, name: &str) -> FunctionError {
    FunctionError::TypeError(format!(
        "Cannot read properties of {what} (reading '{name}')"
    ))
}

/// `String(x)` as a template string formats it; `None` is `undefined`.
pub fn to_js_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(Value::Null) => "null".to_string(),
        Some(Value::Boolean(b)) => b.to_string(),
        Some(Value::Float64(x)) => number_to_string(*x),
        Some(Value::Int64(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bytes(_)) => "[object ArrayBuffer]".to_string(),
        Some(Value::Object(_)) => "[object Object]".to_string(),
        // Array.prototype.join: null and undefined elements become empty strings.
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => to_js_string(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// `ctx.runMutation(fn, args)` (and `runQuery`): `undefined` becomes `{}`, anything but a plain
/// object throws.
pub fn mutation_args(inner: Option<Value>) -> Result<Object, FunctionError> {
    match inner {
        None => Ok(Object::new()),
        Some(Value::Object(fields)) => Ok(fields),
        // `isSimpleObject(null)` asks `Object.getPrototypeOf(null)`, which throws.
        Some(Value::Null) => Err(FunctionError::TypeError(
            "Cannot convert undefined or null to object".to_string(),
        )),
        Some(other) => Err(FunctionError::Thrown(format!(
            "The arguments to a Convex function must be an object. Received: {}",
            to_js_string(Some(&other))
        ))),
    }
}

/// `query.take(n)`: the `convex` package's two argument checks, then `n` documents at most.
pub fn take_limit(n: Option<&Value>) -> Result<usize, FunctionError> {
    match n {
        None => Err(FunctionError::TypeError(
            "Must provide arg 1 `n` to `take`".to_string(),
        )),
        Some(Value::Float64(x)) if x.is_finite() && x.trunc() == *x && *x >= 0.0 => {
            // `as` saturates: a limit beyond usize::MAX means "all".
            Ok(*x as usize)
        }
        Some(_) => Err(FunctionError::TypeError(
            "Arg 1 `n` to `take` must be a non-negative integer".to_string(),
        )),
    }
}

/// JavaScript's `a + b` where `b` is a number (`updateExpiresAtWithStartedAt + timeoutMs`).
pub fn js_add_number(a: Option<&Value>, b: f64) -> Result<Value, FunctionError> {
    Ok(match a {
        None => Value::Float64(f64::NAN),
        Some(Value::Null) => Value::Float64(b),
        Some(Value::Float64(x)) => Value::Float64(x + b),
        Some(Value::Boolean(flag)) => Value::Float64(f64::from(u8::from(*flag)) + b),
        Some(Value::Int64(_)) => {
            return Err(FunctionError::TypeError(
                "Cannot mix BigInt and other types, use explicit conversions".to_string(),
            ))
        }
        // Everything else becomes a string first, and `+` concatenates.
        Some(other) => Value::String(format!(
            "{}{}",
            to_js_string(Some(other)),
            number_to_string(b)
        )),
    })
}

/// JavaScript's `x < now` for a number `now`: the other side is converted to a number first
/// (a string through `Number(s)`, an array through its string), BigInts compare exactly.
pub fn js_less_than(x: &Value, now: f64) -> bool {
    let number = match x {
        Value::Float64(n) => *n,
        Value::Null => 0.0,
        Value::Boolean(b) => f64::from(u8::from(*b)),
        Value::Int64(n) => *n as f64,
        Value::String(s) => string_to_number(s),
        Value::Array(_) => string_to_number(&to_js_string(Some(x))),
        Value::Bytes(_) | Value::Object(_) => f64::NAN,
    };
    number < now
}

/// `Number(s)`: trimmed, empty is 0, decimal or `0x`/`0o`/`0b` literals, else NaN.
fn string_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    let radix =
        |digits: &str, r: u32| u64::from_str_radix(digits, r).map_or(f64::NAN, |n| n as f64);
    match t.get(..2) {
        Some("0x" | "0X") => return radix(&t[2..], 16),
        Some("0o" | "0O") => return radix(&t[2..], 8),
        Some("0b" | "0B") => return radix(&t[2..], 2),
        _ => {}
    }
    match t {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ if t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            t.parse().unwrap_or(f64::NAN)
        }
        _ => f64::NAN,
    }
}

/// The schema check Convex runs on every write: a document that does not fit the table is
/// refused, and the mutation fails whole.
pub fn check_against_schema(fields: &Object) -> Result<(), FunctionError> {
    INSERT_VALUE
        .check(&Value::Object(fields.clone()))
        .map_err(|e| {
            FunctionError::Thrown(format!(
                "Failed to insert or update a document in table \"taskExecutions\" because it \
                 does not match the schema: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    #[test]
    fn template_strings_format_like_javascript() {
        assert_eq!(to_js_string(None), "undefined");
        assert_eq!(to_js_string(Some(&Value::Float64(3.0))), "3");
        assert_eq!(
            to_js_string(Some(&Value::Array(vec![
                1.0.into(),
                Value::Null,
                "a".into()
            ]))),
            "1,,a"
        );
        assert_eq!(
            to_js_string(Some(&Value::Object(Object::new()))),
            "[object Object]"
        );
    }

    #[test]
    fn reading_a_field_of_missing_args_is_a_type_error() {
        let err = key_field(None, "shard").unwrap_err();
        assert_eq!(
            err.message(),
            "Uncaught TypeError: Cannot read properties of undefined (reading 'shard')"
        );
        assert!(key_field(Some(&Value::Float64(1.0)), "shard")
            .unwrap()
            .is_none());
        let args = Value::Object(object([("shard", 2.0.into())]));
        assert_eq!(
            key_field(Some(&args), "shard").unwrap(),
            Some(&Value::Float64(2.0))
        );
    }

    #[test]
    fn take_checks_its_argument_as_the_convex_package_does() {
        assert_eq!(take_limit(Some(&3.0.into())).unwrap(), 3);
        assert_eq!(
            take_limit(None).unwrap_err().message(),
            "Uncaught TypeError: Must provide arg 1 `n` to `take`"
        );
        for bad in [
            Value::from(1.5),
            "3".into(),
            Value::Int64(3),
            Value::from(-1.0),
        ] {
            assert!(take_limit(Some(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn javascript_arithmetic_and_comparison() {
        assert_eq!(
            js_add_number(Some(&"a".into()), 5.0).unwrap(),
            Value::String("a5".into())
        );
        assert!(js_add_number(None, 5.0).unwrap().as_f64().unwrap().is_nan());
        assert!(js_add_number(Some(&Value::Int64(1)), 5.0).is_err());
        assert!(js_less_than(&"5".into(), 10.0));
        assert!(!js_less_than(&"abc".into(), 10.0));
        assert!(js_less_than(&" 0x5 ".into(), 10.0));
        assert!(!js_less_than(&Value::Object(Object::new()), 10.0));
    }

    #[test]
    fn args_that_are_not_an_object_are_refused_by_run_mutation() {
        assert_eq!(mutation_args(None).unwrap(), Object::new());
        assert_eq!(
            mutation_args(Some(Value::Null)).unwrap_err().message(),
            "Uncaught TypeError: Cannot convert undefined or null to object"
        );
        assert_eq!(
            mutation_args(Some(Value::Float64(5.0)))
                .unwrap_err()
                .message(),
            "Uncaught Error: The arguments to a Convex function must be an object. Received: 5"
        );
    }
}
