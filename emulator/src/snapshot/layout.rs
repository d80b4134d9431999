//! Where things are in a snapshot ZIP, as `npx convex export` lays them out.

use crate::id::{LOCKS_TABLE_NUMBER, TASK_EXECUTIONS_TABLE_NUMBER};

/// The component name an export uses when none is asked for: the name durable-execution's
/// README installs the storage component under.
pub const DEFAULT_COMPONENT: &str = "taskExecutionsStorage";

/// The folder of each component's tables (`_components/<name>/`), nested for child components.
pub const COMPONENTS_DIR: &str = "_components";
/// Every namespace's table list: one `{"id": number, "name": table}` line per table.
pub const TABLES_FILE: &str = "_tables/documents.jsonl";
/// A table's documents, one JSON object per line.
pub const DOCUMENTS_FILE: &str = "documents.jsonl";
/// A table's shape (first line) and per-document decoding hints (further lines).
pub const GENERATED_SCHEMA_FILE: &str = "generated_schema.jsonl";
/// The note at the root of the ZIP.
pub const README_FILE: &str = "README.md";

/// The component's table of executions.
pub const EXECUTIONS_TABLE: &str = "taskExecutions";
/// The component's table of selector locks; the emulator keeps locks in memory, so an export
/// writes it empty and an import skips it.
pub const LOCKS_TABLE: &str = "locks";

/// The component's tables with their table numbers, in table-number order.
pub const COMPONENT_TABLES: [(&str, u32); 2] = [
    (EXECUTIONS_TABLE, TASK_EXECUTIONS_TABLE_NUMBER),
    (LOCKS_TABLE, LOCKS_TABLE_NUMBER),
];

/// Our note at the root of an export (Convex puts a README of its own there too).
pub const README_TEXT: &str = "# Snapshot of a convex-storage-emulator store\n\
\n\
This ZIP has the layout of a Convex snapshot export (`npx convex export`);\n\
`convex-storage-emulator import` reads it back.\n\
\n\
The storage component's executions are in\n\
`_components/<component>/taskExecutions/documents.jsonl`, one JSON document per\n\
line, with their `_id` and `_creationTime`. `generated_schema.jsonl` beside it\n\
describes the table's shape. Selector locks are not kept.\n";

/// `_components/a/` for `a`, `_components/a/_components/b/` for `a/b`.
pub fn component_prefix(component: &str) -> String {
    component
        .split('/')
        .map(|part| format!("{COMPONENTS_DIR}/{part}/"))
        .collect()
}

/// The components (as `a` or `a/b`) that have an executions table among these entry names.
pub fn components_with_executions<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let suffix = format!("/{EXECUTIONS_TABLE}/{DOCUMENTS_FILE}");
    let mut found: Vec<String> = names
        .filter_map(|name| name.strip_suffix(&suffix))
        .filter_map(component_of_prefix)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `_components/a/_components/b` → `a/b`; `None` when it is not a component folder.
fn component_of_prefix(prefix: &str) -> Option<String> {
    let mut parts = Vec::new();
    let mut rest = prefix;
    while !rest.is_empty() {
        let after = rest.strip_prefix(COMPONENTS_DIR)?.strip_prefix('/')?;
        let (name, tail) = after.split_once('/').unwrap_or((after, ""));
        if name.is_empty() {
            return None;
        }
        parts.push(name);
        rest = tail;
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_components_at_any_depth() {
        let names = [
            "README.md",
            "_components/a/taskExecutions/documents.jsonl",
            "_components/a/_components/b/taskExecutions/documents.jsonl",
            "taskExecutions/documents.jsonl",
            "_components/c/locks/documents.jsonl",
        ];
        assert_eq!(
            components_with_executions(names.into_iter()),
            vec!["a".to_string(), "a/b".to_string()]
        );
        assert_eq!(component_prefix("a/b"), "_components/a/_components/b/");
    }
}
