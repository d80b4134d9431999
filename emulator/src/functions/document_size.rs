//! Convex's limit on the size of one stored document, checked before every write.
//!
//! A deployment refuses a write that makes a document larger than 1 MiB, system fields
//! included, with `Value is too large (1.05 MiB > maximum size 1 MiB)`; the mutation fails
//! whole. The size is Convex's own accounting of values (`getConvexSize` in the JavaScript
//! client, `Size` in the backend), not the length of any encoding.

use super::FunctionError;
use crate::limits::{CREATION_TIME_FIELD_BYTES, DOCUMENT_BYTES_MAX, DOCUMENT_ID_FIELD_BYTES};
use crate::value::object_convex_size as object_size;
use crate::value::Object;

/// Fails like a deployment when a document with these user fields would be too large.
pub fn check_document_size(fields: &Object) -> Result<(), FunctionError> {
    let size = object_size(fields) + DOCUMENT_ID_FIELD_BYTES + CREATION_TIME_FIELD_BYTES;
    if size > DOCUMENT_BYTES_MAX {
        return Err(FunctionError::Thrown(format!(
            "Value is too large ({:.2} MiB > maximum size 1 MiB)",
            size as f64 / (1024.0 * 1024.0)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{object, Value};

    fn value_size(value: &Value) -> usize {
        value.convex_size()
    }

    #[test]
    fn sizes_follow_convex_accounting() {
        assert_eq!(value_size(&Value::Null), 1);
        assert_eq!(value_size(&Value::Float64(1.5)), 9);
        assert_eq!(value_size(&Value::String("héllo".into())), 2 + 6);
        let nested = Value::Array(vec![Value::Boolean(true), Value::String("ab".into())]);
        assert_eq!(value_size(&nested), 2 + 1 + 4);
        // {a: 1}: 2 + ("a" 1 + separator 1 + number 9)
        assert_eq!(object_size(&object([("a", Value::Float64(1.0))])), 13);
    }

    #[test]
    fn a_document_just_over_the_limit_is_refused_with_convex_text() {
        let system = DOCUMENT_ID_FIELD_BYTES + CREATION_TIME_FIELD_BYTES;
        // One string field "s": 2 (object) + 1 + 1 (key, separator) + 2 + len (string).
        let fits = DOCUMENT_BYTES_MAX - system - 6;
        assert!(check_document_size(&object([("s", Value::String("x".repeat(fits)))])).is_ok());
        let err =
            check_document_size(&object([("s", Value::String("x".repeat(fits + 1)))])).unwrap_err();
        assert_eq!(
            err.message(),
            "Uncaught Error: Value is too large (1.00 MiB > maximum size 1 MiB)"
        );
    }
}
