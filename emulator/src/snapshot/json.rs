//! Convex's "clean" JSON export format for values, both ways.
//!
//! Writing: null, booleans and strings as themselves; float64 as a JSON number (`5.0`), or the
//! strings `"NaN"`, `"Infinity"`, `"-Infinity"`; int64 as a decimal string (`"42"`); bytes as
//! standard base64; arrays; objects with their keys sorted.
//!
//! Reading (`parse_value`): every JSON number is a float64 (as Convex imports it); strings stay strings, except
//! where the table's schema wants a number, where `"NaN"`, `"Infinity"` and `"-Infinity"` are
//! the special floats (`revive_floats`). The schema has no int64 or bytes fields, so a string
//! is never read as one of those.

use std::io::Write;

use base64::Engine;
use serde_json::Value as Json;

use crate::functions::validator::Validator;
use crate::value::{Object, Value};

/// Appends `value` in the export format.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Int64(n) => {
            let _ = write!(out, "\"{n}\"");
        }
        Value::Float64(x) if x.is_nan() => out.extend_from_slice(b"\"NaN\""),
        Value::Float64(x) if x.is_infinite() => out.extend_from_slice(if *x > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        }),
        // serde_json prints finite floats as Convex's exporter (also serde_json) does: `5.0`.
        Value::Float64(x) => write_json(out, x),
        Value::String(s) => write_json(out, s.as_str()),
        Value::Bytes(b) => write_json(
            out,
            base64::engine::general_purpose::STANDARD.encode(b).as_str(),
        ),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => write_object(out, fields),
    }
}

/// Appends an object, keys in byte order (an [`Object`] iterates that way).
fn write_object(out: &mut Vec<u8>, fields: &Object) {
    out.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(out, name.as_str());
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string or a finite float into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// How to read a document's special floats back exactly, when the shape alone does not say
/// (Convex's per-document "export context"): `None` when nothing needs saying.
pub fn float_hints(value: &Value) -> Option<Json> {
    match value {
        Value::Float64(x) if x.is_nan() => {
            let bytes = base64::engine::general_purpose::STANDARD.encode(x.to_le_bytes());
            Some(serde_json::json!({ "$float64NaN": bytes }))
        }
        Value::Float64(x) if x.is_infinite() => Some(Json::from("float64inf")),
        Value::Array(items) => {
            let hints: Vec<Option<Json>> = items.iter().map(float_hints).collect();
            hints.iter().any(Option::is_some).then(|| {
                Json::Array(
                    hints
                        .into_iter()
                        .map(|h| h.unwrap_or_else(|| Json::from("infer")))
                        .collect(),
                )
            })
        }
        Value::Object(fields) => {
            let hints: serde_json::Map<String, Json> = fields
                .iter()
                .filter_map(|(name, v)| float_hints(v).map(|h| (name.clone(), h)))
                .collect();
            (!hints.is_empty()).then_some(Json::Object(hints))
        }
        _ => None,
    }
}

/// Parses one JSON text straight into a [`Value`] in the export format's reading (every number
/// a float64), without building a `serde_json::Value` first.
pub fn parse_value(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Parsed>(bytes).map(|p| p.0)
}

/// A [`Value`] as serde reads it from export JSON.
struct Parsed(Value);

impl<'de> serde::Deserialize<'de> for Parsed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor).map(Parsed)
    }
}

struct ParsedVisitor;

impl<'de> serde::de::Visitor<'de> for ParsedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Boolean(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Float64(n as f64))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Float64(n as f64))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Float64(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Parsed(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Object::new();
        while let Some((key, Parsed(value))) = map.next_entry::<String, Parsed>()? {
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// Whether `value` holds a string that may stand for a special float, so that
/// [`revive_floats`] has anything to do (most documents hold none, and the walk is cheap).
pub fn may_hold_special_floats(value: &Value) -> bool {
    match value {
        Value::String(s) => matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity"),
        Value::Array(items) => items.iter().any(may_hold_special_floats),
        Value::Object(fields) => fields.values().any(may_hold_special_floats),
        _ => false,
    }
}

/// Where `validator` wants a number and `value` holds `"NaN"`, `"Infinity"` or `"-Infinity"`,
/// puts the float there. Anything else is left for the validator to judge.
pub fn revive_floats(validator: &Validator, value: &mut Value) {
    match (validator, value) {
        (Validator::Float64, value @ Value::String(_)) => {
            let special = match value.as_str() {
                Some("NaN") => f64::NAN,
                Some("Infinity") => f64::INFINITY,
                Some("-Infinity") => f64::NEG_INFINITY,
                _ => return,
            };
            *value = Value::Float64(special);
        }
        (Validator::Array(item), Value::Array(items)) => {
            for v in items {
                revive_floats(item, v);
            }
        }
        (Validator::Object(object), Value::Object(fields)) => {
            for (name, field, _) in object.fields() {
                if let Some(v) = fields.get_mut(name) {
                    revive_floats(field, v);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    fn text(value: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_the_clean_export_format() {
        let value = Value::Object(object([
            ("b", Value::Bytes(vec![0, 16, 131])),
            ("f", Value::Float64(5.0)),
            ("i", Value::Int64(-42)),
            ("inf", Value::Float64(f64::NEG_INFINITY)),
            ("n", Value::Float64(f64::NAN)),
            ("s", "é\"\n".into()),
            ("a", Value::Array(vec![Value::Null, true.into()])),
        ]));
        assert_eq!(
            text(&value),
            r#"{"a":[null,true],"b":"ABCD","f":5.0,"i":"-42","inf":"-Infinity","n":"NaN","s":"é\"\n"}"#
        );
    }

    #[test]
    fn hints_name_only_the_special_floats() {
        let value = Value::Object(object([
            ("x", Value::Float64(1.0)),
            ("y", Value::Float64(f64::INFINITY)),
            (
                "z",
                Value::Array(vec![Value::Float64(f64::NAN), 1.0.into()]),
            ),
        ]));
        let hints = float_hints(&value).unwrap();
        assert_eq!(hints["y"], "float64inf");
        assert!(hints["z"][0]["$float64NaN"].is_string());
        assert_eq!(hints["z"][1], "infer");
        assert!(hints.get("x").is_none());
        assert_eq!(float_hints(&Value::Float64(2.0)), None);
    }

    /// `_creationTime`s carry fractions of a millisecond; an import must read back the exact
    /// float that was exported (serde_json rounds correctly only with `float_roundtrip`).
    #[test]
    fn numbers_parse_to_the_exact_float_written() {
        for x in [
            1796079093270.4797_f64,
            1796079093270.4795,
            0.1,
            1e-300,
            123456789.12345678,
        ] {
            let written = format!(r#"{{"t":{x}}}"#);
            let Value::Object(fields) = parse_value(written.as_bytes()).unwrap() else {
                panic!("an object")
            };
            assert_eq!(fields["t"].as_f64().unwrap().to_bits(), x.to_bits(), "{x}");
        }
    }

    #[test]
    fn parses_straight_into_values_every_number_a_float() {
        let json =
            br#"{"a":[1,2.5,-0.0,null,true,"NaN"],"b":{"c":"x\u00e9"},"n":18446744073709551615}"#;
        let direct = parse_value(json).unwrap();
        assert_eq!(
            text(&direct),
            r#"{"a":[1.0,2.5,-0.0,null,true,"NaN"],"b":{"c":"xé"},"n":1.8446744073709552e+19}"#
        );
        assert!(may_hold_special_floats(&direct));
        assert!(!may_hold_special_floats(&Value::from("Infinite")));
        assert!(parse_value(b"{\"a\":").is_err());
    }

    #[test]
    fn revives_special_floats_only_where_a_number_is_wanted() {
        let validator = crate::functions::validator::object([
            crate::functions::validator::required("n", Validator::Float64),
            crate::functions::validator::required("s", Validator::String),
        ]);
        let mut value = parse_value(br#"{"n": "Infinity", "s": "NaN"}"#).unwrap();
        revive_floats(&validator, &mut value);
        let fields = value.as_object().unwrap();
        assert_eq!(fields["n"], Value::Float64(f64::INFINITY));
        assert_eq!(fields["s"], Value::from("NaN"));
    }
}
