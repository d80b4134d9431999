//! The adapter's layering, kept true by reading its own sources: only `mapping.rs` knows the
//! stored field names, and only `transport.rs` knows HTTP (the `reqwest` client).

use std::path::Path;

/// Stored (wire) names that differ from durable-execution's own, which only `mapping.rs` may
/// spell out.
const STORED_NAMES: &[&str] = &["\"acc\"", "\"ocfpStatus\"", "\"ocfpExpiresAt\"", "\"npc\""];

fn library_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The code of a file without its `#[cfg(test)]` tail and without comment lines.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn only_mapping_knows_the_stored_field_names() {
    for (name, text) in library_sources() {
        if name == "mapping.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let code = code_of(&text);
        for stored in STORED_NAMES {
            assert!(
                !code.contains(stored),
                "{name} spells the stored name {stored}"
            );
        }
    }
}

#[test]
fn only_transport_knows_http() {
    for (name, text) in library_sources() {
        if name == "transport.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        assert!(!code_of(&text).contains("reqwest"), "{name} uses reqwest");
    }
}
