//! Byte strings that sort like Convex index keys.
//!
//! Convex orders index entries by the declared fields, then `_creationTime`, using one total
//! order over values: missing < null < int64 < float64 < false < true < string < bytes < array <
//! object, floats in IEEE-754 total order (so `-0 < +0` and NaN sorts at the ends). We encode
//! each value into bytes whose plain `memcmp` order is that order, and concatenate the fields.
//! SQLite compares BLOBs with `memcmp`, so an ordinary index on the concatenation serves every
//! `eq…eq, gte, lt` range of the storage functions exactly, missing fields included.
//!
//! Every encoding starts with a type tag in `1..=0x15` and is self-delimiting, so a key that
//! extends a prefix always sorts after the prefix and before `prefix ‖ 0xFF`.

use crate::value::Value;

const TAG_MISSING: u8 = 0x01;
const TAG_NULL: u8 = 0x03;
const TAG_INT64: u8 = 0x04;
const TAG_FLOAT64: u8 = 0x0d;
const TAG_FALSE: u8 = 0x0e;
const TAG_TRUE: u8 = 0x0f;
const TAG_STRING: u8 = 0x10;
const TAG_BYTES: u8 = 0x11;
const TAG_ARRAY: u8 = 0x12;
const TAG_OBJECT: u8 = 0x15;
/// Ends a string, bytes, array or object. Lower than every tag, so shorter sorts first.
const END: u8 = 0x00;
/// Follows a 0x00 byte inside a string so it is not mistaken for [`END`].
const ESCAPED_ZERO: u8 = 0xff;
/// Starts each field of an encoded object (a key may be empty, so it needs a marker).
const FIELD: u8 = 0x01;
/// Greater than every tag: `prefix ‖ AFTER_ALL` bounds all keys starting with `prefix`.
pub const AFTER_ALL: u8 = 0xff;

/// Appends the encoding of `value` (`None` = the field is missing) to `out`.
pub fn encode_into(out: &mut Vec<u8>, value: Option<&Value>) {
    let Some(value) = value else {
        out.push(TAG_MISSING);
        return;
    };
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Int64(n) => {
            out.push(TAG_INT64);
            out.extend_from_slice(&((*n as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Float64(n) => {
            out.push(TAG_FLOAT64);
            out.extend_from_slice(&total_order_bits(*n).to_be_bytes());
        }
        Value::Boolean(false) => out.push(TAG_FALSE),
        Value::Boolean(true) => out.push(TAG_TRUE),
        Value::String(s) => {
            out.push(TAG_STRING);
            escaped_bytes(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            escaped_bytes(out, b);
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            for item in items {
                encode_into(out, Some(item));
            }
            out.push(END);
        }
        Value::Object(fields) => {
            out.push(TAG_OBJECT);
            for (name, value) in fields {
                out.push(FIELD);
                escaped_bytes(out, name.as_bytes());
                encode_into(out, Some(value));
            }
            out.push(END);
        }
    }
}

/// The bits of `n` rearranged so unsigned comparison is IEEE-754 total order.
fn total_order_bits(n: f64) -> u64 {
    let bits = n.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn escaped_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(ESCAPED_ZERO);
        }
    }
    out.push(END);
}

/// Reads back the scalar value encoded at the start of `key`: `Some((value, length))`, where
/// `value` is `None` for a missing field. Arrays, objects and damaged bytes give `None`: the
/// inspector only walks the scalar fields of the indexes (shard, status, ...).
pub fn decode_scalar_prefix(key: &[u8]) -> Option<(Option<Value>, usize)> {
    let (&tag, rest) = key.split_first()?;
    let eight =
        |rest: &[u8]| -> Option<u64> { Some(u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)) };
    Some(match tag {
        TAG_MISSING => (None, 1),
        TAG_NULL => (Some(Value::Null), 1),
        TAG_INT64 => (Some(Value::Int64((eight(rest)? ^ (1 << 63)) as i64)), 9),
        TAG_FLOAT64 => {
            let bits = eight(rest)?;
            let bits = if bits >> 63 == 1 {
                bits & !(1 << 63)
            } else {
                !bits
            };
            (Some(Value::Float64(f64::from_bits(bits))), 9)
        }
        TAG_FALSE => (Some(Value::Boolean(false)), 1),
        TAG_TRUE => (Some(Value::Boolean(true)), 1),
        TAG_STRING | TAG_BYTES => {
            let (bytes, used) = unescaped_bytes(rest)?;
            let value = if tag == TAG_STRING {
                Value::String(String::from_utf8(bytes).ok()?)
            } else {
                Value::Bytes(bytes)
            };
            (Some(value), 1 + used)
        }
        _ => return None,
    })
}

/// The inverse of `escaped_bytes`: the bytes and how many encoded bytes they took.
fn unescaped_bytes(encoded: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match *encoded.get(i)? {
            END if encoded.get(i + 1) == Some(&ESCAPED_ZERO) => {
                out.push(0);
                i += 2;
            }
            END => return Some((out, i + 1)),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    fn key(v: Option<Value>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, v.as_ref());
        out
    }

    #[test]
    fn types_sort_in_convex_order() {
        let ascending = [
            None,
            Some(Value::Null),
            Some(Value::Int64(i64::MIN)),
            Some(Value::Int64(-1)),
            Some(Value::Int64(5)),
            Some(Value::Float64(f64::NEG_INFINITY)),
            Some(Value::Float64(-1.5)),
            Some(Value::Float64(-0.0)),
            Some(Value::Float64(0.0)),
            Some(Value::Float64(1.0)),
            Some(Value::Float64(f64::INFINITY)),
            Some(Value::Float64(f64::NAN)),
            Some(Value::Boolean(false)),
            Some(Value::Boolean(true)),
            Some(Value::String(String::new())),
            Some(Value::String("a".into())),
            Some(Value::String("a\0".into())),
            Some(Value::String("a\u{1}".into())),
            Some(Value::String("ab".into())),
            Some(Value::String("b".into())),
            Some(Value::Bytes(vec![])),
            Some(Value::Array(vec![])),
            Some(Value::Array(vec![Value::Null])),
            Some(Value::Object(object::<_, &str>([]))),
            Some(Value::Object(object([("", Value::Null)]))),
            Some(Value::Object(object([("a", Value::Null)]))),
        ];
        let keys: Vec<_> = ascending.iter().cloned().map(key).collect();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{:?} !< {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn concatenated_fields_compare_field_by_field() {
        // ("a", 2.0) < ("ab", 1.0): the first field decides even though "a" is a prefix of "ab".
        let mut k1 = key(Some("a".into()));
        encode_into(&mut k1, Some(&Value::Float64(2.0)));
        let mut k2 = key(Some("ab".into()));
        encode_into(&mut k2, Some(&Value::Float64(1.0)));
        assert!(k1 < k2);
        // Every extension of a prefix sorts below prefix ‖ AFTER_ALL.
        let mut bound = key(Some("a".into()));
        bound.push(AFTER_ALL);
        assert!(k1 < bound && bound < k2);
    }
    #[test]
    fn scalar_prefixes_decode_back() {
        let values = [
            None,
            Some(Value::Null),
            Some(Value::Int64(-7)),
            Some(Value::Float64(-2.5)),
            Some(Value::Float64(3.0)),
            Some(Value::Boolean(true)),
            Some(Value::String("a\0b".into())),
            Some(Value::Bytes(vec![0, 1])),
        ];
        for value in values {
            let mut encoded = key(value.clone());
            let length = encoded.len();
            encoded.extend_from_slice(&key(Some(Value::Float64(1.0))));
            assert_eq!(decode_scalar_prefix(&encoded), Some((value, length)));
        }
        assert_eq!(decode_scalar_prefix(&key(Some(Value::Array(vec![])))), None);
    }
}
