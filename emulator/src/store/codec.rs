//! The bytes a document is stored as.
//!
//! A compact tag-length-value encoding of [`Value`] that round-trips every value exactly
//! (NaN payloads, `-0`, int64 and bytes included), so a document comes back with the same field
//! set and values it was written with. Lengths and counts are LEB128 varints.

use thiserror::Error;

use crate::value::{Object, Value};

const NULL: u8 = 0;
const INT64: u8 = 1;
const FLOAT64: u8 = 2;
const FALSE: u8 = 3;
const TRUE: u8 = 4;
const STRING: u8 = 5;
const BYTES: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;

/// Why stored bytes could not be read back; only a damaged database file produces this.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("corrupt stored value at byte {offset}: {reason}")]
pub struct CodecError {
    offset: usize,
    reason: &'static str,
}

/// Encodes the fields of a document.
pub fn encode_object(fields: &Object) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_object(&mut out, fields);
    out
}

/// Appends what [`encode_object`] returns to `out` (a bulk load packs many rows in one buffer).
pub fn encode_object_into(out: &mut Vec<u8>, fields: &Object) {
    write_object(out, fields);
}

/// Decodes what [`encode_object`] wrote.
pub fn decode_object(bytes: &[u8]) -> Result<Object, CodecError> {
    let mut reader = Reader { bytes, offset: 0 };
    let object = reader.object()?;
    if reader.offset != bytes.len() {
        return Err(reader.error("trailing bytes"));
    }
    Ok(object)
}

fn write_object(out: &mut Vec<u8>, fields: &Object) {
    write_len(out, fields.len());
    for (name, value) in fields {
        write_len(out, name.len());
        out.extend_from_slice(name.as_bytes());
        write_value(out, value);
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(NULL),
        Value::Int64(n) => {
            out.push(INT64);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Float64(n) => {
            out.push(FLOAT64);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        Value::Boolean(false) => out.push(FALSE),
        Value::Boolean(true) => out.push(TRUE),
        Value::String(s) => {
            out.push(STRING);
            write_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            write_len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            write_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            write_object(out, fields);
        }
    }
}

fn write_len(out: &mut Vec<u8>, n: usize) {
    crate::varint::write(out, n as u64);
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    fn error(&self, reason: &'static str) -> CodecError {
        CodecError {
            offset: self.offset,
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| self.error("truncated"))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        let rest = &self.bytes[self.offset..];
        let (n, used) = match crate::varint::read(rest, 10) {
            Some(read) => read,
            None if rest.iter().all(|b| b & 0x80 != 0) && rest.len() < 10 => {
                return Err(self.error("truncated"))
            }
            None => return Err(self.error("length too long")),
        };
        self.offset += used;
        usize::try_from(n).map_err(|_| self.error("length too long"))
    }

    fn eight(&mut self) -> Result<[u8; 8], CodecError> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(out)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let len = self.len()?;
        let bytes = self.take(len)?.to_vec();
        String::from_utf8(bytes).map_err(|_| self.error("invalid UTF-8"))
    }

    fn object(&mut self) -> Result<Object, CodecError> {
        let count = self.len()?;
        let mut fields = Object::new();
        for _ in 0..count {
            let name = self.string()?;
            let value = self.value()?;
            fields.insert(name, value);
        }
        Ok(fields)
    }

    fn value(&mut self) -> Result<Value, CodecError> {
        Ok(match self.byte()? {
            NULL => Value::Null,
            INT64 => Value::Int64(i64::from_le_bytes(self.eight()?)),
            FLOAT64 => Value::Float64(f64::from_bits(u64::from_le_bytes(self.eight()?))),
            FALSE => Value::Boolean(false),
            TRUE => Value::Boolean(true),
            STRING => Value::String(self.string()?),
            BYTES => {
                let len = self.len()?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            ARRAY => {
                let count = self.len()?;
                let mut items = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
            OBJECT => Value::Object(self.object()?),
            _ => return Err(self.error("unknown tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    #[test]
    fn round_trips_every_kind_of_value_exactly() {
        let nan_with_payload = f64::from_bits(0x7ff8_0000_0000_1234);
        let fields = object([
            ("null", Value::Null),
            ("int", Value::Int64(-42)),
            ("negZero", Value::Float64(-0.0)),
            ("nan", Value::Float64(nan_with_payload)),
            ("float", Value::Float64(1732646400123.4568)),
            ("bools", Value::Array(vec![true.into(), false.into()])),
            ("text", "héllo\0".into()),
            ("bytes", Value::Bytes(vec![0, 255, 16])),
            (
                "nested",
                Value::Object(object([("a", Value::Array(vec![]))])),
            ),
        ]);
        let decoded = decode_object(&encode_object(&fields)).unwrap();
        assert_eq!(decoded.len(), fields.len());
        for (name, value) in &fields {
            match (value, &decoded[name]) {
                (Value::Float64(a), Value::Float64(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                (a, b) => assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn rejects_damaged_bytes() {
        let bytes = encode_object(&object([("a", "text".into())]));
        assert!(decode_object(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_object(&longer).is_err());
    }
}
