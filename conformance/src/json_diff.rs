//! A small structural differ over `serde_json` values, for failure reports a person can act on.
//!
//! Each [`Difference`] names the JSON path where two answers part ways and what each side had
//! there; [`render`] lays them out side by side.

use serde_json::Value;

/// One place where two JSON values differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where, as `$.field[3].other`.
    pub path: String,
    /// The left side's value there; `None` when the left side lacks it.
    pub left: Option<Value>,
    /// The right side's value there; `None` when the right side lacks it.
    pub right: Option<Value>,
}

/// How many differences a report shows before it says "and N more".
pub const RENDERED_DIFFERENCES_MAX: usize = 40;
/// How many characters of one value a report shows before cutting it.
pub const RENDERED_VALUE_CHARS_MAX: usize = 160;

/// Every difference between `left` and `right`, in document order.
///
/// Arrays are compared index by index (order matters for every storage answer), objects key by
/// key; numbers compare by value, so `5` and `5.0` are equal.
pub fn diff(left: &Value, right: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_at("$", left, right, &mut out);
    out
}

fn diff_at(path: &str, left: &Value, right: &Value, out: &mut Vec<Difference>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let mut keys: Vec<&String> = l.keys().chain(r.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = format!("{path}.{key}");
                match (l.get(key), r.get(key)) {
                    (Some(a), Some(b)) => diff_at(&child, a, b, out),
                    (a, b) => out.push(Difference {
                        path: child,
                        left: a.cloned(),
                        right: b.cloned(),
                    }),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) => {
            for i in 0..l.len().max(r.len()) {
                let child = format!("{path}[{i}]");
                match (l.get(i), r.get(i)) {
                    (Some(a), Some(b)) => diff_at(&child, a, b, out),
                    (a, b) => out.push(Difference {
                        path: child,
                        left: a.cloned(),
                        right: b.cloned(),
                    }),
                }
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path: path.to_string(),
            left: Some(a.clone()),
            right: Some(b.clone()),
        }),
    }
}

/// The differences as a three-column table headed by the two sides' names.
pub fn render(differences: &[Difference], left_name: &str, right_name: &str) -> String {
    let show = |v: &Option<Value>| match v {
        None => "(absent)".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > RENDERED_VALUE_CHARS_MAX {
                let cut: String = s.chars().take(RENDERED_VALUE_CHARS_MAX).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    };
    let rows: Vec<(String, String, String)> = differences
        .iter()
        .take(RENDERED_DIFFERENCES_MAX)
        .map(|d| (d.path.clone(), show(&d.left), show(&d.right)))
        .collect();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(4);
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(left_name.len());
    let mut out = format!("{:w0$}  {:w1$}  {}\n", "path", left_name, right_name);
    for (path, l, r) in &rows {
        out.push_str(&format!("{path:w0$}  {l:w1$}  {r}\n"));
    }
    if differences.len() > RENDERED_DIFFERENCES_MAX {
        out.push_str(&format!(
            "… and {} more\n",
            differences.len() - RENDERED_DIFFERENCES_MAX
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_changed_missing_and_extra_fields_with_paths() {
        let left = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
        let right = json!({"a": 1.0, "b": [1, 3, 4], "c": {}, "e": true});
        let d = diff(&left, &right);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["$.b[1]", "$.b[2]", "$.c.d", "$.e"]);
        assert_eq!(d[1].left, None);
        assert_eq!(d[2].right, None);
        let table = render(&d, "model", "emulator");
        assert!(
            table.contains("$.c.d") && table.contains("(absent)"),
            "{table}"
        );
    }

    #[test]
    fn equal_values_have_no_differences() {
        let v = json!([{"x": null}, 5, "s"]);
        assert!(diff(&v, &v).is_empty());
    }
}
