//! Convex values on the wire: decoding `args` and encoding results (PROTOCOL.md §2).
//!
//! Arguments are always decoded with the `convex_encoded_json` rules, whatever `format` says:
//! every JSON number is a float64; `{"$integer": b64}`, `{"$float": b64}` and
//! `{"$bytes": b64}` (exactly one key) are the special types; any other key starting with `$`
//! is refused. Results are encoded in the requested [`OutputFormat`], object keys sorted.
//! Floats are written by serde_json (ryu, shortest round-trip), so an integral float prints as
//! `5.0`, as the real backend's serde_json output does; JavaScript reads both the same.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use crate::limits::{ARRAY_ELEMENTS_MAX, OBJECT_FIELDS_MAX};
use crate::value::{Object, Value};

/// Longest object key Convex accepts inside a value.
const FIELD_NAME_CHARS_MAX: usize = 1024;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `convex_encoded_json` / `convex_json`: lossless, what the official clients ask for.
    Encoded,
    /// `json` / `convex_clean_json` / `export_json`: plain JSON (int64 as a decimal string,
    /// bytes as base64, NaN and infinities as strings).
    Clean,
}

impl OutputFormat {
    /// The format named by a request's `format` field, if it is one Convex knows.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "convex_encoded_json" | "convex_json" => Some(OutputFormat::Encoded),
            "json" | "convex_clean_json" | "export_json" => Some(OutputFormat::Clean),
            _ => None,
        }
    }
}

/// Decodes one JSON value into a Convex value.
pub fn decode(json: Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => Value::Float64(
            n.as_f64()
                .ok_or_else(|| "Arbitrary precision JSON integers unsupported".to_string())?,
        ),
        Json::String(s) => Value::String(s),
        Json::Array(items) => {
            if items.len() > ARRAY_ELEMENTS_MAX {
                return Err(format!(
                    "Array length is too long ({} > maximum length {ARRAY_ELEMENTS_MAX})",
                    items.len()
                ));
            }
            Value::Array(items.into_iter().map(decode).collect::<Result<_, _>>()?)
        }
        Json::Object(map) => {
            let mut entries = map.into_iter();
            // A one-field object may be a typed value: `{"$integer": ...}` and friends.
            if entries.len() == 1 {
                if let Some((key, payload)) = entries.next() {
                    return decode_single_field(key, payload);
                }
            }
            if entries.len() > OBJECT_FIELDS_MAX {
                return Err(format!(
                    "Object has too many fields ({} > maximum number {OBJECT_FIELDS_MAX})",
                    entries.len()
                ));
            }
            let mut fields = Object::new();
            for (key, value) in entries {
                check_field_name(&key)?;
                fields.insert(key, decode(value)?);
            }
            Value::Object(fields)
        }
    })
}

/// An object of one field: a typed value (`$integer`, `$float`, `$bytes`) or a plain object.
fn decode_single_field(key: String, payload: Json) -> Result<Value, String> {
    match key.as_str() {
        "$integer" => decode_integer(payload),
        "$float" => decode_float(payload),
        "$bytes" => Ok(Value::Bytes(decode_base64(payload)?)),
        _ => {
            check_field_name(&key)?;
            Ok(Value::Object(Object::from([(key, decode(payload)?)])))
        }
    }
}

fn decode_base64(payload: Json) -> Result<Vec<u8>, String> {
    let Json::String(text) = payload else {
        return Err(format!(
            "invalid type: {}, expected a string",
            json_kind(&payload)
        ));
    };
    BASE64
        .decode(text.as_bytes())
        .map_err(|e| format!("Invalid base64: {e}"))
}

fn decode_integer(payload: Json) -> Result<Value, String> {
    let bytes: [u8; 8] = decode_base64(payload)?
        .try_into()
        .map_err(|b: Vec<u8>| format!("Received {} bytes, expected 8 for $integer", b.len()))?;
    Ok(Value::Int64(i64::from_le_bytes(bytes)))
}

fn decode_float(payload: Json) -> Result<Value, String> {
    let bytes: [u8; 8] = decode_base64(payload)?
        .try_into()
        .map_err(|b: Vec<u8>| format!("Received {} bytes, expected 8 for $float", b.len()))?;
    let n = f64::from_le_bytes(bytes);
    let negative_zero = n == 0.0 && n.is_sign_negative();
    if !negative_zero && (n.is_normal() || n.is_subnormal()) {
        return Err(format!("Float64 {n:?} should be encoded as a number"));
    }
    Ok(Value::Float64(n))
}

/// Convex's rule for keys inside values: printable ASCII, not starting with `$`.
fn check_field_name(name: &str) -> Result<(), String> {
    if name.starts_with('$') {
        return Err(format!(
            "Field name {name} starts with '$', which is reserved."
        ));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Err(format!(
            "Field name {name} has invalid character '{c}': Field names can only contain \
             non-control ASCII characters"
        ));
    }
    if name.len() > FIELD_NAME_CHARS_MAX {
        return Err(format!(
            "Field name is too long ({} > maximum {FIELD_NAME_CHARS_MAX})",
            name.len()
        ));
    }
    Ok(())
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "sequence",
        Json::Object(_) => "map",
    }
}

/// A value ready to be serialized in a format.
pub struct Encode<'a>(pub &'a Value, pub OutputFormat);

impl Serialize for Encode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Encode(value, format) = *self;
        match value {
            Value::Null => s.serialize_unit(),
            Value::Boolean(b) => s.serialize_bool(*b),
            Value::String(text) => s.serialize_str(text),
            Value::Float64(n) => {
                let negative_zero = *n == 0.0 && n.is_sign_negative();
                match format {
                    OutputFormat::Encoded if !n.is_finite() || negative_zero => {
                        special(s, "$float", &BASE64.encode(n.to_le_bytes()))
                    }
                    OutputFormat::Clean if n.is_nan() => s.serialize_str("NaN"),
                    OutputFormat::Clean if *n == f64::INFINITY => s.serialize_str("Infinity"),
                    OutputFormat::Clean if *n == f64::NEG_INFINITY => s.serialize_str("-Infinity"),
                    _ => s.serialize_f64(*n),
                }
            }
            Value::Int64(n) => match format {
                OutputFormat::Encoded => special(s, "$integer", &BASE64.encode(n.to_le_bytes())),
                OutputFormat::Clean => s.serialize_str(&n.to_string()),
            },
            Value::Bytes(bytes) => match format {
                OutputFormat::Encoded => special(s, "$bytes", &BASE64.encode(bytes)),
                OutputFormat::Clean => s.serialize_str(&BASE64.encode(bytes)),
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Encode(item, format))?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    map.serialize_entry(name, &Encode(value, format))?;
                }
                map.end()
            }
        }
    }
}

fn special<S: Serializer>(s: S, key: &str, payload: &str) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(key, payload)?;
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encoded(value: &Value) -> String {
        serde_json::to_string(&Encode(value, OutputFormat::Encoded)).unwrap()
    }

    fn clean(value: &Value) -> String {
        serde_json::to_string(&Encode(value, OutputFormat::Clean)).unwrap()
    }

    #[test]
    fn encodes_the_protocol_examples() {
        assert_eq!(encoded(&Value::Int64(1)), r#"{"$integer":"AQAAAAAAAAA="}"#);
        assert_eq!(encoded(&Value::Int64(-1)), r#"{"$integer":"//////////8="}"#);
        assert_eq!(
            encoded(&Value::Int64(i64::MAX)),
            r#"{"$integer":"/////////38="}"#
        );
        assert_eq!(
            encoded(&Value::Float64(f64::NAN)),
            r#"{"$float":"AAAAAAAA+H8="}"#
        );
        assert_eq!(
            encoded(&Value::Float64(f64::INFINITY)),
            r#"{"$float":"AAAAAAAA8H8="}"#
        );
        assert_eq!(
            encoded(&Value::Float64(f64::NEG_INFINITY)),
            r#"{"$float":"AAAAAAAA8P8="}"#
        );
        assert_eq!(
            encoded(&Value::Float64(-0.0)),
            r#"{"$float":"AAAAAAAAAIA="}"#
        );
        assert_eq!(
            encoded(&Value::Bytes(vec![0, 0xff, 0x10])),
            r#"{"$bytes":"AP8Q"}"#
        );
        assert_eq!(encoded(&Value::Float64(5.0)), "5.0");
        assert_eq!(
            encoded(&Value::Float64(1732646400123.4568)),
            "1732646400123.4568"
        );
    }

    #[test]
    fn clean_format_is_plain_json() {
        assert_eq!(clean(&Value::Int64(123)), r#""123""#);
        assert_eq!(clean(&Value::Float64(f64::NAN)), r#""NaN""#);
        assert_eq!(clean(&Value::Float64(f64::NEG_INFINITY)), r#""-Infinity""#);
        assert_eq!(clean(&Value::Bytes(vec![0, 0xff, 0x10])), r#""AP8Q""#);
    }

    #[test]
    fn object_keys_come_out_sorted() {
        let value = decode(json!({"b": 1, "a": {"y": [null, true]}, "_x": "ok", "B": 2})).unwrap();
        assert_eq!(
            encoded(&value),
            r#"{"B":2.0,"_x":"ok","a":{"y":[null,true]},"b":1.0}"#
        );
    }

    #[test]
    fn decodes_special_types_and_round_trips_them() {
        for value in [
            Value::Int64(-7),
            Value::Float64(f64::NAN),
            Value::Float64(-0.0),
            Value::Float64(f64::INFINITY),
            Value::Bytes(vec![1, 2, 3]),
        ] {
            let json: Json = serde_json::from_str(&encoded(&value)).unwrap();
            let back = decode(json).unwrap();
            assert_eq!(encoded(&back), encoded(&value));
        }
        assert_eq!(decode(json!(3)).unwrap(), Value::Float64(3.0));
    }

    #[test]
    fn refuses_invalid_dollar_keys_and_payloads() {
        assert!(decode(json!({"$foo": 1}))
            .unwrap_err()
            .contains("starts with '$'"));
        assert!(decode(json!({"$integer": "AQAAAAAAAAA=", "x": 1})).is_err());
        assert!(decode(json!({"$integer": "AQ=="})).is_err());
        assert!(decode(json!({"$integer": 5})).is_err());
        assert!(decode(json!({"$float": "AAAAAAAA8D8="}))
            .unwrap_err()
            .contains("as a number"));
        assert!(decode(json!({"a": {"$bytes": "!!"}})).is_err());
        assert!(decode(json!({"é": 1})).is_err());
        assert!(
            decode(json!({"": 1})).is_ok(),
            "the empty name is allowed, as in Convex"
        );
    }
}
