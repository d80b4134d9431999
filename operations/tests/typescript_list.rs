//! The TypeScript side keeps its own list of the operations (`convex/definitions/operations.ts`,
//! which the component, the public module and the Node tests derive from). This test reads that
//! file and fails when it disagrees with the Rust registry on a name, the order, a kind, or
//! which operations are locked, so neither list can gain or lose an operation alone.

use convex_storage_operations::{FunctionKind, Operation};

const TYPESCRIPT_LIST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../convex/definitions/operations.ts"
);

/// One entry of the `OPERATIONS` object as written in TypeScript.
#[derive(Debug, PartialEq)]
struct Entry {
    name: String,
    kind: String,
    locked: bool,
}

/// The entries of `export const OPERATIONS = { ... }`, in order. Entries are the object's keys
/// at two spaces of indentation (prettier's layout of that file); each entry's text runs to
/// the next key, and holds its `kind: '...'` and either `lock: null` or a lock object.
fn typescript_entries(source: &str) -> Vec<Entry> {
    let start = source
        .find("export const OPERATIONS = {")
        .expect("operations.ts declares `export const OPERATIONS = {`");
    let body = &source[start..];
    let end = body.find("\n}").expect("OPERATIONS ends with a `}` line");
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in body[..end].lines().skip(1) {
        let is_key = line.starts_with("  ") && !line.starts_with("   ") && line.contains(": {");
        if is_key && !line.trim_start().starts_with("//") {
            let name = line
                .trim_start()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            entries.push((name, String::new()));
        }
        if let Some((_, text)) = entries.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    entries
        .into_iter()
        .map(|(name, text)| {
            let kind = text
                .split("kind: '")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .unwrap_or_else(|| panic!("{name} has no `kind: '...'`"))
                .to_string();
            let locked = !text.contains("lock: null");
            Entry { name, kind, locked }
        })
        .collect()
}

fn endpoint(kind: FunctionKind) -> String {
    kind.endpoint().to_string()
}

#[test]
fn the_typescript_list_is_the_rust_registry() {
    let source = std::fs::read_to_string(TYPESCRIPT_LIST).expect("read operations.ts");
    let typescript = typescript_entries(&source);
    let rust: Vec<Entry> = Operation::ALL
        .iter()
        .map(|op| Entry {
            name: op.name().to_string(),
            kind: endpoint(op.kind()),
            locked: op.is_locked(),
        })
        .collect();
    assert_eq!(typescript, rust);
}

#[test]
fn the_reader_sees_a_change_in_the_typescript_list() {
    // The parse above must notice a dropped entry, a changed kind and a lock turned off;
    // otherwise the test that uses it could not fail.
    let source = std::fs::read_to_string(TYPESCRIPT_LIST).expect("read operations.ts");
    let full = typescript_entries(&source);
    assert_eq!(full.len(), 17);

    let dropped = source.replacen(
        "  deleteById: {\n    kind: 'mutation',\n    component: 'mutation',\n    args: {\n      executionId: v.string(),\n    },\n    lock: null,\n  },\n",
        "",
        1,
    );
    assert_eq!(typescript_entries(&dropped).len(), 16);

    let rekinded = source.replacen(
        "  getManyById: {\n    kind: 'query'",
        "  getManyById: {\n    kind: 'mutation'",
        1,
    );
    assert_ne!(typescript_entries(&rekinded), full);

    let unlocked = source.replacen(
        "lock: { key: () => 'updateByOCFPExpiresAt', whenBusy: 0 }",
        "lock: null",
        1,
    );
    assert_ne!(typescript_entries(&unlocked), full);
}
