//! Argument validators with Convex's semantics and error messages.
//!
//! A [`Validator`] mirrors the `v.*` builders the upstream component declares (`v.number()`,
//! `v.object({...})`, `v.union(v.literal(...))`, ...). [`Validator::check`] walks a value the way
//! the Convex backend does (object fields in sorted order, stopping at the first problem, extra
//! fields reported after missing or mistyped ones) and returns the same error text, e.g.
//!
//! ```text
//! Object is missing the required field `executionId`. Consider wrapping the field validator in `v.optional(...)` if this is expected.
//!
//! Object: {}
//! Validator: v.object({executionId: v.string()})
//! ```

use std::fmt;

use crate::id::{DocumentId, LOCKS_TABLE_NUMBER, TASK_EXECUTIONS_TABLE_NUMBER};
use crate::value::{Object, Value};

/// A value validator.
#[derive(Debug, Clone)]
pub enum Validator {
    /// `v.number()`: a float64 (int64 values do not match).
    Float64,
    Boolean,
    String,
    /// `v.id("table")`: a string that decodes as an id of that table.
    Id(&'static str),
    /// `v.literal("text")`.
    Literal(&'static str),
    Array(Box<Validator>),
    Object(ObjectValidator),
    Union(Vec<Validator>),
}

/// `v.object({...})`: the fields sorted by name, as Convex keeps them.
#[derive(Debug, Clone)]
pub struct ObjectValidator(Vec<(&'static str, FieldValidator)>);

/// One field of an object validator.
#[derive(Debug, Clone)]
pub struct FieldValidator {
    validator: Validator,
    optional: bool,
}

/// `name: validator`, a required field.
pub fn required(name: &'static str, validator: Validator) -> (&'static str, FieldValidator) {
    (
        name,
        FieldValidator {
            validator,
            optional: false,
        },
    )
}

/// `name: v.optional(validator)`.
pub fn optional(name: &'static str, validator: Validator) -> (&'static str, FieldValidator) {
    (
        name,
        FieldValidator {
            validator,
            optional: true,
        },
    )
}

/// `v.object({...})` from fields in any order.
pub fn object(fields: impl IntoIterator<Item = (&'static str, FieldValidator)>) -> Validator {
    let mut fields: Vec<_> = fields.into_iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    Validator::Object(ObjectValidator(fields))
}

/// `v.array(item)`.
pub fn array(item: Validator) -> Validator {
    Validator::Array(Box::new(item))
}

/// `v.union(v.literal(a), v.literal(b), ...)`.
pub fn literals(options: &[&'static str]) -> Validator {
    Validator::Union(options.iter().map(|o| Validator::Literal(o)).collect())
}

/// Why a value does not match, worded as Convex words it.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidationError {
    MissingRequiredField {
        object: Object,
        field: String,
        validator: String,
        path: String,
    },
    ExtraField {
        object: Object,
        field: String,
        validator: String,
        path: String,
    },
    NoMatch {
        value: Value,
        validator: String,
        path: String,
    },
    LiteralMismatch {
        value: Value,
        literal: String,
        path: String,
    },
    TableMismatch {
        id: String,
        found: &'static str,
        expected: &'static str,
        path: String,
    },
}

impl Validator {
    /// Checks `value` against this validator.
    pub fn check(&self, value: &Value) -> Result<(), ValidationError> {
        // The common case allocates nothing; the error walk runs only for a bad value.
        if self.matches(value) {
            Ok(())
        } else {
            self.check_at(value, &mut String::new())
        }
    }

    /// Whether `value` matches, without building an error. Agrees with [`Validator::check`]
    /// (see the schema tests).
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Validator::Float64, Value::Float64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::String, Value::String(_)) => true,
            (Validator::Id(table), Value::String(s)) => DocumentId::decode(s)
                .ok()
                .and_then(|id| table_name(id.table_number))
                .is_some_and(|found| found == *table),
            (Validator::Literal(expected), Value::String(s)) => s == expected,
            (Validator::Array(item), Value::Array(items)) => items.iter().all(|i| item.matches(i)),
            (Validator::Object(validator), Value::Object(fields)) => {
                validator
                    .0
                    .iter()
                    .all(|(name, field)| match fields.get(*name) {
                        Some(value) => field.validator.matches(value),
                        None => field.optional,
                    })
                    && fields
                        .keys()
                        .all(|k| validator.0.iter().any(|(name, _)| name == k))
            }
            (Validator::Union(options), value) => options.iter().any(|o| o.matches(value)),
            _ => false,
        }
    }

    pub(crate) fn check_at(&self, value: &Value, path: &mut String) -> Result<(), ValidationError> {
        let no_match = |path: &str| ValidationError::NoMatch {
            value: value.clone(),
            validator: self.to_string(),
            path: path.to_string(),
        };
        match (self, value) {
            (Validator::Float64, Value::Float64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::String, Value::String(_)) => Ok(()),
            (Validator::Id(table), Value::String(s)) => match DocumentId::decode(s)
                .ok()
                .and_then(|id| table_name(id.table_number))
            {
                Some(found) if found == *table => Ok(()),
                Some(found) => Err(ValidationError::TableMismatch {
                    id: s.clone(),
                    found,
                    expected: table,
                    path: path.clone(),
                }),
                None => Err(no_match(path)),
            },
            (Validator::Literal(expected), value) => match value {
                Value::String(s) if s == expected => Ok(()),
                _ => Err(ValidationError::LiteralMismatch {
                    value: value.clone(),
                    literal: json_string(expected),
                    path: path.clone(),
                }),
            },
            (Validator::Array(item), Value::Array(items)) => {
                for (i, element) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    item.check_at(element, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (Validator::Object(validator), Value::Object(fields)) => {
                validator.check_fields(fields, path)
            }
            (Validator::Union(options), value) => {
                if let [only] = options.as_slice() {
                    return only.check_at(value, path);
                }
                if options.iter().any(|o| o.matches(value)) {
                    Ok(())
                } else {
                    Err(no_match(path))
                }
            }
            _ => Err(no_match(path)),
        }
    }
}

impl ObjectValidator {
    /// The fields, sorted by name: `(name, validator, optional)`.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Validator, bool)> + '_ {
        self.0
            .iter()
            .map(|(name, field)| (*name, &field.validator, field.optional))
    }

    fn check_fields(&self, fields: &Object, path: &mut String) -> Result<(), ValidationError> {
        for (name, field) in &self.0 {
            match fields.get(*name) {
                Some(value) => {
                    let len = path.len();
                    path.push('.');
                    path.push_str(name);
                    field.validator.check_at(value, path)?;
                    path.truncate(len);
                }
                None if !field.optional => {
                    return Err(ValidationError::MissingRequiredField {
                        object: fields.clone(),
                        field: name.to_string(),
                        validator: self.to_string(),
                        path: path.clone(),
                    })
                }
                None => {}
            }
        }
        if let Some(extra) = fields
            .keys()
            .find(|k| !self.0.iter().any(|(name, _)| name == k))
        {
            return Err(ValidationError::ExtraField {
                object: fields.clone(),
                field: extra.clone(),
                validator: self.to_string(),
                path: path.clone(),
            });
        }
        Ok(())
    }
}

/// The table a table number belongs to in this deployment.
/// The component table an id's table number names.
pub fn table_name(table_number: u32) -> Option<&'static str> {
    match table_number {
        TASK_EXECUTIONS_TABLE_NUMBER => Some("taskExecutions"),
        LOCKS_TABLE_NUMBER => Some("locks"),
        _ => None,
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Float64 => write!(f, "v.float64()"),
            Validator::Boolean => write!(f, "v.boolean()"),
            Validator::String => write!(f, "v.string()"),
            Validator::Id(table) => write!(f, "v.id(\"{table}\")"),
            Validator::Literal(s) => write!(f, "v.literal({})", json_string(s)),
            Validator::Array(item) => write!(f, "v.array({item})"),
            Validator::Object(object) => write!(f, "{object}"),
            Validator::Union(options) => {
                write!(f, "v.union(")?;
                for (i, option) in options.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{option}")?;
                }
                write!(f, ")")
            }
        }
    }
}

impl fmt::Display for ObjectValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v.object({{")?;
        for (i, (name, field)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            if field.optional {
                write!(f, "{name}: v.optional({})", field.validator)?;
            } else {
                write!(f, "{name}: {}", field.validator)?;
            }
        }
        write!(f, "}})")
    }
}

/// `Path: .a[0].b`, or nothing at the top level.
struct PathLine<'a>(&'a str);

impl fmt::Display for PathLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "Path: {}", self.0)
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::MissingRequiredField {
                object,
                field,
                validator,
                path,
            } => write!(
                f,
                "Object is missing the required field `{field}`. Consider wrapping the field \
                 validator in `v.optional(...)` if this is expected.\n{}\nObject: {}\nValidator: \
                 {validator}",
                PathLine(path),
                Value::Object(object.clone()),
            ),
            ValidationError::ExtraField {
                object,
                field,
                validator,
                path,
            } => write!(
                f,
                "Object contains extra field `{field}` that is not in the validator.\n{}\nObject: \
                 {}\nValidator: {validator}",
                PathLine(path),
                Value::Object(object.clone()),
            ),
            ValidationError::NoMatch {
                value,
                validator,
                path,
            } => write!(
                f,
                "Value does not match validator.\n{}\nValue: {value}\nValidator: {validator}",
                PathLine(path)
            ),
            ValidationError::LiteralMismatch {
                value,
                literal,
                path,
            } => write!(
                f,
                "`{value}` does not match literal validator `v.literal({literal})`.{}",
                PathLine(path)
            ),
            ValidationError::TableMismatch {
                id,
                found,
                expected,
                path,
            } => write!(
                f,
                "Found ID \"{id}\" from table `{found}`, which does not match the table name in \
                 validator `v.id(\"{expected}\")`.{}",
                PathLine(path)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object as obj;

    fn requests() -> Validator {
        object([required(
            "requests",
            array(object([
                required("executionId", Validator::String),
                optional(
                    "filters",
                    object([optional("status", literals(&["ready", "running"]))]),
                ),
            ])),
        )])
    }

    #[test]
    fn accepts_matching_values() {
        let value = Value::Object(obj([(
            "requests",
            Value::Array(vec![Value::Object(obj([
                ("executionId", "e1".into()),
                ("filters", Value::Object(obj([("status", "ready".into())]))),
            ]))]),
        )]));
        requests().check(&value).unwrap();
    }

    #[test]
    fn reports_a_missing_field_like_convex() {
        let err = requests().check(&Value::Object(Object::new())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Object is missing the required field `requests`. Consider wrapping the field \
             validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: \
             v.object({requests: v.array(v.object({executionId: v.string(), filters: \
             v.optional(v.object({status: v.optional(v.union(v.literal(\"ready\"), \
             v.literal(\"running\")))}))}))})"
        );
    }

    #[test]
    fn reports_nested_problems_with_their_path() {
        let value = Value::Object(obj([(
            "requests",
            Value::Array(vec![Value::Object(obj([("executionId", 5.0.into())]))]),
        )]));
        assert_eq!(
            requests().check(&value).unwrap_err().to_string(),
            "Value does not match validator.\nPath: .requests[0].executionId\nValue: 5.0\n\
             Validator: v.string()"
        );
        let value = Value::Object(obj([(
            "requests",
            Value::Array(vec![Value::Object(obj([
                ("executionId", "e".into()),
                ("x", 1.0.into()),
            ]))]),
        )]));
        let err = requests().check(&value).unwrap_err().to_string();
        assert!(err.starts_with(
            "Object contains extra field `x` that is not in the validator.\nPath: .requests[0]\n"
        ));
    }

    #[test]
    fn missing_fields_are_reported_before_extra_ones() {
        let value = Value::Object(obj([("zzz", Value::Null)]));
        let err = requests().check(&value).unwrap_err();
        assert!(matches!(err, ValidationError::MissingRequiredField { .. }));
    }

    #[test]
    fn int64_is_not_a_number_and_null_is_not_optional() {
        assert!(Validator::Float64.check(&Value::Int64(1)).is_err());
        let v = object([optional("a", Validator::String)]);
        assert!(v.check(&Value::Object(obj([("a", Value::Null)]))).is_err());
        assert!(v.check(&Value::Object(Object::new())).is_ok());
    }

    #[test]
    fn ids_must_belong_to_the_table() {
        let v = Validator::Id("taskExecutions");
        v.check(&"j57004926d25askqh2ctneycvn77kce2".into()).unwrap();
        let lock_id = DocumentId {
            table_number: LOCKS_TABLE_NUMBER,
            internal_id: [7; 16],
        }
        .encode();
        let err = v
            .check(&Value::String(lock_id.clone()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "Found ID \"{lock_id}\" from table `locks`, which does not match the table name \
                 in validator `v.id(\"taskExecutions\")`."
            )
        );
        assert!(matches!(
            v.check(&"nope".into()),
            Err(ValidationError::NoMatch { .. })
        ));
    }
}
