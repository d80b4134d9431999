//! Convex function paths: `module:function`, `module.js:function`, `dir/module`, ...
//!
//! Parsed as the backend parses them (PROTOCOL.md §1.3): split at the last `:`; no function
//! means `default`; the module must be a relative path of valid components and may end in
//! `.js` but no other extension. Messages that echo a path use the *stripped* form
//! (`mod:fn`, `.js` removed, `:default` dropped) or the *canonical* form (`mod.js:fn`).

use std::fmt;

/// Longest identifier (function name or path component).
const IDENTIFIER_CHARS_MAX: usize = 64;

/// A parsed function path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdfPath {
    /// The module without a `.js` extension.
    module: String,
    function: String,
}

impl UdfPath {
    /// Parses a path as a deployment would; the error is the reason shown after
    /// "`<path>` is not a valid path to a Convex function."
    pub fn parse(path: &str) -> Result<Self, String> {
        let (module, function) = match path.rsplit_once(':') {
            Some((module, function)) => {
                check_identifier(function)?;
                (module, function.to_string())
            }
            None => (path, "default".to_string()),
        };
        Ok(Self {
            module: parse_module(module)?,
            function,
        })
    }

    /// The module without `.js`.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// The exported function name.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// `module:function` without `.js` and without `:default`, as "not found" errors show it.
    pub fn stripped(&self) -> String {
        if self.function == "default" {
            self.module.clone()
        } else {
            format!("{}:{}", self.module, self.function)
        }
    }

    /// `module.js:function`, as wrong-kind errors show it.
    pub fn canonical(&self) -> String {
        format!("{}.js:{}", self.module, self.function)
    }
}

impl fmt::Display for UdfPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stripped())
    }
}

/// Checks a module path and returns it without `.js`.
fn parse_module(module: &str) -> Result<String, String> {
    if module.is_empty() {
        return Err("Module paths must be nonempty.".to_string());
    }
    if module.starts_with('/') {
        return Err(format!(
            "Module paths must be relative ({module} is absolute)."
        ));
    }
    let without_js = module.strip_suffix(".js").unwrap_or(module);
    let components: Vec<&str> = without_js.split('/').collect();
    let file = components.last().copied().unwrap_or_default();
    if file.contains('.') {
        return Err(format!(
            "Module path ({module}) has an extension that isn't 'js'."
        ));
    }
    for component in &components {
        match *component {
            "" | "." | ".." => return Err(format!("Invalid path component in {module}.")),
            c => check_path_component(c, module)?,
        }
    }
    Ok(without_js.to_string())
}

/// Path components: letters, digits, `_`, `-` and `.`, at most 64 characters.
fn check_path_component(component: &str, module: &str) -> Result<(), String> {
    if component.len() > IDENTIFIER_CHARS_MAX {
        return Err(format!("Path component in {module} is too long."));
    }
    if let Some(c) = component
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c)))
    {
        return Err(format!(
            "Path component {component} in {module} has invalid character '{c}': path \
             components can only contain alphanumeric characters, underscores, dashes and periods"
        ));
    }
    Ok(())
}

/// Function names: `[A-Za-z_][A-Za-z0-9_]*`, not all underscores, at most 64 characters.
fn check_identifier(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("Identifier cannot be empty".to_string()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) => {
            return Err(format!(
                "Invalid first character '{c}' in {s}: Identifiers must start with an alphabetic \
                 character or underscore"
            ))
        }
    }
    if let Some(c) = chars.find(|c| !c.is_ascii_alphanumeric() && *c != '_') {
        return Err(format!(
            "Identifier {s} has invalid character '{c}': Identifiers can only contain \
             alphanumeric characters or underscores"
        ));
    }
    if s.len() > IDENTIFIER_CHARS_MAX {
        return Err(format!(
            "Identifier is too long ({} > maximum {IDENTIFIER_CHARS_MAX})",
            s.len()
        ));
    }
    if s.chars().all(|c| c == '_') {
        return Err(format!(
            "Identifier {s} cannot have exclusively underscores"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_clients_send() {
        let p = UdfPath::parse("taskExecutionsStorage:insertMany").unwrap();
        assert_eq!(
            (p.module(), p.function()),
            ("taskExecutionsStorage", "insertMany")
        );
        let js = UdfPath::parse("taskExecutionsStorage.js:insertMany").unwrap();
        assert_eq!(js, p);
        assert_eq!(p.stripped(), "taskExecutionsStorage:insertMany");
        assert_eq!(p.canonical(), "taskExecutionsStorage.js:insertMany");
        let default = UdfPath::parse("dir/messages").unwrap();
        assert_eq!(default.function(), "default");
        assert_eq!(default.stripped(), "dir/messages");
        assert_eq!(default.canonical(), "dir/messages.js:default");
    }

    #[test]
    fn rejects_what_the_backend_rejects() {
        for bad in [
            "",
            ":fn",
            "/abs:fn",
            "a/../b:fn",
            "m.ts:fn",
            "m:1fn",
            "m:",
            "m:fn-x",
            "m:__",
            "a//b:f",
        ] {
            assert!(UdfPath::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
