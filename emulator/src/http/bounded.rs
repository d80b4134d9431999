//! A request's `args` parsed with Convex's size limits applied while parsing.
//!
//! Parsing a hostile body (16 MiB of `[0,0,0,...]`) into a `serde_json::Value` first would
//! hold 8 million values, about 17 times the body, before any limit is checked. [`BoundedJson`]
//! instead keeps at most [`ARRAY_ELEMENTS_MAX`] elements of an array and
//! [`OBJECT_FIELDS_MAX`] fields of an object and only counts the rest (skipped without being
//! stored), so the answer can still be Convex's own argument error with the real length; and
//! it stops the whole parse once [`JSON_VALUES_MAX`] values have been kept.
//!
//! `serde_json` deserializes synchronously on one thread, so the running count lives in a
//! thread-local that [`BoundedJson::deserialize`] resets and reads back.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

use crate::limits::{ARRAY_ELEMENTS_MAX, JSON_VALUES_MAX, OBJECT_FIELDS_MAX};

/// Parsed `args`: the kept JSON and, if an array or object went over Convex's limits, the
/// argument error Convex reports for it (the JSON is then incomplete and must not be used).
#[derive(Debug)]
pub struct BoundedJson {
    /// The value, complete unless `over_limit` is set.
    pub json: Json,
    /// The first limit violation met, in Convex's words.
    pub over_limit: Option<String>,
}

/// The parse in progress on this thread.
#[derive(Default)]
struct Tally {
    values: usize,
    over_limit: Option<String>,
}

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

impl<'de> Deserialize<'de> for BoundedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TALLY.with(|t| *t.borrow_mut() = Tally::default());
        let json = Node::deserialize(deserializer).map(|node| node.0);
        let tally = TALLY.with(|t| std::mem::take(&mut *t.borrow_mut()));
        Ok(Self {
            json: json?,
            over_limit: tally.over_limit,
        })
    }
}

/// Counts one kept value; fails the parse past the budget.
fn keep_one<E: de::Error>() -> Result<(), E> {
    TALLY.with(|t| {
        let mut tally = t.borrow_mut();
        tally.values += 1;
        if tally.values > JSON_VALUES_MAX {
            return Err(E::custom(format!(
                "the arguments hold more than {JSON_VALUES_MAX} JSON values"
            )));
        }
        Ok(())
    })
}

fn note_over_limit(message: String) {
    TALLY.with(|t| {
        let mut tally = t.borrow_mut();
        if tally.over_limit.is_none() {
            tally.over_limit = Some(message);
        }
    });
}

/// One JSON value, parsed under the limits.
struct Node(Json);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::Number(n.into())))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::Number(n.into())))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        keep_one()?;
        Number::from_f64(n)
            .map(|n| Node(Json::Number(n)))
            .ok_or_else(|| E::custom("a JSON number must be finite"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::String(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        keep_one()?;
        Ok(Node(Json::String(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        keep_one()?;
        let mut items = Vec::new();
        while items.len() < ARRAY_ELEMENTS_MAX {
            match seq.next_element::<Node>()? {
                Some(item) => items.push(item.0),
                None => return Ok(Node(Json::Array(items))),
            }
        }
        let mut length = items.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            length += 1;
        }
        if length > ARRAY_ELEMENTS_MAX {
            note_over_limit(format!(
                "Array length is too long ({length} > maximum length {ARRAY_ELEMENTS_MAX})"
            ));
        }
        Ok(Node(Json::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        keep_one()?;
        let mut fields = Map::new();
        while fields.len() < OBJECT_FIELDS_MAX {
            match map.next_key::<String>()? {
                Some(key) => {
                    let value = map.next_value::<Node>()?;
                    fields.insert(key, value.0);
                }
                None => return Ok(Node(Json::Object(fields))),
            }
        }
        let mut count = fields.len();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<IgnoredAny>()?;
            count += 1;
        }
        if count > OBJECT_FIELDS_MAX {
            note_over_limit(format!(
                "Object has too many fields ({count} > maximum number {OBJECT_FIELDS_MAX})"
            ));
        }
        Ok(Node(Json::Object(fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BoundedJson, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn small_values_come_out_as_serde_json_would_parse_them() {
        let text = r#"[{"a": [1, -2, 3.5, "x", null, true], "$integer": "AQ=="}, {}]"#;
        let got = parse(text).unwrap();
        assert_eq!(got.json, serde_json::from_str::<Json>(text).unwrap());
        assert_eq!(got.over_limit, None);
    }

    #[test]
    fn a_long_array_is_cut_and_reported_with_its_real_length() {
        let text = format!("[{}0]", "0,".repeat(ARRAY_ELEMENTS_MAX + 10));
        let got = parse(&text).unwrap();
        assert_eq!(got.json.as_array().unwrap().len(), ARRAY_ELEMENTS_MAX);
        assert_eq!(
            got.over_limit.unwrap(),
            format!(
                "Array length is too long ({} > maximum length {ARRAY_ELEMENTS_MAX})",
                ARRAY_ELEMENTS_MAX + 11
            )
        );
        let exact = format!("[{}0]", "0,".repeat(ARRAY_ELEMENTS_MAX - 1));
        assert_eq!(parse(&exact).unwrap().over_limit, None);
    }

    #[test]
    fn a_wide_object_is_cut_and_reported() {
        let fields: Vec<String> = (0..OBJECT_FIELDS_MAX + 1)
            .map(|i| format!("\"f{i}\": 0"))
            .collect();
        let got = parse(&format!("{{{}}}", fields.join(","))).unwrap();
        assert!(got.over_limit.unwrap().starts_with(&format!(
            "Object has too many fields ({} > maximum number",
            OBJECT_FIELDS_MAX + 1
        )));
    }

    #[test]
    fn too_many_values_in_all_fail_the_parse() {
        let inner = format!("[{}0]", "0,".repeat(ARRAY_ELEMENTS_MAX - 1));
        let arrays = JSON_VALUES_MAX / ARRAY_ELEMENTS_MAX + 1;
        let text = format!("[{}]", vec![inner; arrays].join(","));
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
        // The next parse on this thread starts from zero.
        assert!(parse("[1, 2]").is_ok());
    }

    #[test]
    fn deep_nesting_fails_the_parse() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&text).is_err());
    }
}
