//! A table's shape in Convex's shape syntax, the first line of `generated_schema.jsonl`:
//! `{"_creationTime": normalfloat64, "_id": id<10001>, "acc": float64, "children"?: array<...>}`.
//!
//! Convex infers the shape from the documents; the emulator writes the one its schema allows,
//! which every stored document fits. Numbers are `float64` (which takes in NaN and the
//! infinities, so a document holding one gets a hint line, see `json::float_hints`); an empty
//! table is `never`, as Convex writes it.

use crate::functions::validator::{table_name, Validator};
use crate::id::{LOCKS_TABLE_NUMBER, TASK_EXECUTIONS_TABLE_NUMBER};

/// The shape of a table whose documents are `fields` plus `_id` and `_creationTime`.
pub fn document_shape(fields: &Validator, table_number: u32) -> String {
    let Validator::Object(object) = fields else {
        return "unknown".to_string();
    };
    let mut entries: Vec<(&str, String, bool)> = object
        .fields()
        .map(|(name, v, optional)| (name, shape(v), optional))
        .collect();
    entries.push(("_creationTime", "normalfloat64".to_string(), false));
    entries.push(("_id", format!("id<{table_number}>"), false));
    entries.sort_by(|a, b| a.0.cmp(b.0));
    object_shape(entries)
}

/// The shape of an empty table.
pub const EMPTY_TABLE_SHAPE: &str = "never";

fn shape(validator: &Validator) -> String {
    match validator {
        Validator::Float64 => "float64".to_string(),
        Validator::Boolean => "boolean".to_string(),
        Validator::String => "string".to_string(),
        Validator::Id(table) => format!("id<{}>", table_number(table)),
        Validator::Literal(text) => format!("{text:?}"),
        Validator::Array(item) => format!("array<{}>", shape(item)),
        Validator::Object(object) => object_shape(
            object
                .fields()
                .map(|(name, v, optional)| (name, shape(v), optional))
                .collect(),
        ),
        Validator::Union(options) => options.iter().map(shape).collect::<Vec<_>>().join(" | "),
    }
}

fn object_shape(fields: Vec<(&str, String, bool)>) -> String {
    let inner: Vec<String> = fields
        .into_iter()
        .map(|(name, shape, optional)| {
            format!("{name:?}{}: {shape}", if optional { "?" } else { "" })
        })
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn table_number(table: &str) -> u32 {
    [TASK_EXECUTIONS_TABLE_NUMBER, LOCKS_TABLE_NUMBER]
        .into_iter()
        .find(|n| table_name(*n) == Some(table))
        .unwrap_or(TASK_EXECUTIONS_TABLE_NUMBER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::schema::INSERT_VALUE;

    #[test]
    fn the_executions_shape_lists_every_field_sorted_with_the_system_fields() {
        let text = document_shape(&INSERT_VALUE, TASK_EXECUTIONS_TABLE_NUMBER);
        assert!(
            text.starts_with(r#"{"_creationTime": normalfloat64, "_id": id<10001>, "acc": float64, "areChildrenSequential": boolean, "children"?: array<{"executionId": string, "taskId": string}>"#),
            "{text}"
        );
        assert!(
            text.contains(r#""parentExecutionDocId"?: id<10001>"#),
            "{text}"
        );
        assert!(
            text.contains(r#""closeStatus": "idle" | "ready" | "closing" | "closed""#),
            "{text}"
        );
        assert!(
            text.ends_with(r#""waitingForFinalizeStartedAt"?: float64}"#),
            "{text}"
        );
    }
}
