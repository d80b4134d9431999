//! Convex values: the data model every layer shares.
//!
//! A [`Value`] is what a Convex function receives and returns: null, 64-bit integers, 64-bit
//! floats, booleans, strings, bytes, arrays and objects whose keys are kept sorted (Convex objects
//! are ordered maps, so documents and results always come out with sorted keys).
//!
//! Invariant: this module knows no wire format. The HTTP layer turns JSON into values and back
//! (`http::codec`), the store turns values into its own bytes (`store::codec`).

use std::collections::BTreeMap;
use std::fmt;

/// An object: field name to value, iterated in byte order of the names as Convex does.
pub type Object = BTreeMap<String, Value>;

/// Convex's size of an object's fields (see [`Value::convex_size`]).
pub fn object_convex_size(fields: &Object) -> usize {
    2 + fields
        .iter()
        .map(|(key, value)| key.len() + 1 + value.convex_size())
        .sum::<usize>()
}

/// One Convex value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int64(i64),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Object(Object),
}

impl Value {
    /// The number inside a `Float64`, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float64(n) => Some(*n),
            _ => None,
        }
    }

    /// The text inside a `String`, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The flag inside a `Boolean`, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Convex's size of this value (`getConvexSize` in the JavaScript client, `Size` in the
    /// backend): null and booleans 1, numbers 9, strings and bytes 2 plus their length,
    /// arrays 2 plus their elements, objects 2 plus each key, a separator and its value. Every
    /// size limit (documents, transactions, return values) is counted in these bytes.
    pub fn convex_size(&self) -> usize {
        match self {
            Value::Null | Value::Boolean(_) => 1,
            Value::Int64(_) | Value::Float64(_) => 9,
            Value::String(s) => 2 + s.len(),
            Value::Bytes(b) => 2 + b.len(),
            Value::Array(items) => 2 + items.iter().map(Value::convex_size).sum::<usize>(),
            Value::Object(fields) => object_convex_size(fields),
        }
    }

    /// The fields of an `Object`, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether JavaScript would treat this value as true in `if (x)`.
    ///
    /// Upstream guards its clamps with `x && x < now`, so a field holding `0`, `-0` or `NaN` is
    /// left alone; this is the one place that encodes that rule.
    pub fn is_js_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Int64(n) => *n != 0,
            Value::Float64(n) => *n != 0.0 && !n.is_nan(),
            Value::Boolean(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(_) | Value::Array(_) | Value::Object(_) => true,
        }
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Float64(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

/// Displays a value the way Convex's backend does inside error messages
/// (`{a: 1.0, b: "x"}`, `[true, null]`), so validation errors read like a deployment's.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Int64(n) => write!(f, "{n}"),
            Value::Float64(n) => write!(f, "{n:?}"),
            Value::Boolean(b) => write!(f, "{b:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "b\"{}\"", hex(b)),
            Value::Array(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Object(fields) => {
                write!(f, "{{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{name}: {value}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds an [`Object`] from `(name, value)` pairs; handy in tests and when assembling results.
pub fn object<I, K>(fields: I) -> Object
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    fields.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_convex_backend() {
        let v = Value::Object(object([
            ("b", Value::Float64(5.0)),
            (
                "a",
                Value::Array(vec![Value::Null, Value::Boolean(true), "x".into()]),
            ),
        ]));
        assert_eq!(v.to_string(), r#"{a: [null, true, "x"], b: 5.0}"#);
    }

    #[test]
    fn truthiness_follows_javascript() {
        assert!(!Value::Float64(0.0).is_js_truthy());
        assert!(!Value::Float64(-0.0).is_js_truthy());
        assert!(!Value::Float64(f64::NAN).is_js_truthy());
        assert!(Value::Float64(-1.0).is_js_truthy());
        assert!(!Value::String(String::new()).is_js_truthy());
        assert!(Value::String("a".into()).is_js_truthy());
    }
}
