//! Reading a policy file: TOML syntax, then the schema, then the value rules, each problem
//! reported with its file, line, column and key.

use std::fs;
use std::path::Path;

use toml_edit::ImDocument;

use crate::error::{FileError, PolicyError};
use crate::keypath::{line_col, path_at, span_of};
use crate::schema::Policy;
use crate::validate::{validate, Problem};

/// Reads and checks a policy file, and adds the built-in lists to its own (unless it sets
/// `filesystem.builtin_rules = false`; see [`Policy::apply_builtin_rules`]).
pub fn load_file(path: &Path) -> Result<Policy, PolicyError> {
    let bytes = fs::read(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let (line, column) = line_col(&String::from_utf8_lossy(valid), valid.len());
            return Err(PolicyError::File(FileError {
                file: name,
                line,
                column,
                key: None,
                message: "not valid UTF-8".to_string(),
            }));
        }
    };
    load_str(&text, &name)
}

/// [`load_file`] for text already in memory; `file` names it in errors.
pub fn load_str(text: &str, file: &str) -> Result<Policy, PolicyError> {
    let mut policy = parse_str(text, file)?;
    policy.apply_builtin_rules();
    Ok(policy)
}

/// Parses and checks a policy without adding the built-in lists: the text's own rules only,
/// with a missing `version` read as 1.
pub fn parse_str(text: &str, file: &str) -> Result<Policy, PolicyError> {
    let located = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
        let (line, column) = line_col(text, span.map_or(0, |s| s.start));
        PolicyError::File(FileError {
            file: file.to_string(),
            line,
            column,
            key,
            message,
        })
    };
    let doc = ImDocument::parse(text.to_string()).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        located(e.span(), None, message)
    })?;
    let mut policy: Policy = toml_edit::de::from_document(doc.clone()).map_err(|e| {
        let span = e.span();
        let key = span
            .as_ref()
            .map(|s| path_at(doc.as_table(), s.start))
            .filter(|p| !p.0.is_empty())
            .map(|p| p.to_string());
        located(span, key, serde_message(e.message()))
    })?;
    if let Err(Problem { path, message }) = validate(&policy) {
        let span = span_of(doc.as_table(), &path);
        return Err(located(span, Some(path.to_string()), message));
    }
    if policy.version == 0 {
        policy.version = 1;
    }
    Ok(policy)
}

/// Rewords serde's messages in the file's own terms (tables, arrays, keys).
fn serde_message(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let expected = rest
            .split_once("`, expected ")
            .map(|(_, e)| e.replace('`', "").replace("one of ", ""));
        return match expected {
            Some(e) => format!("unknown key; expected one of: {e}"),
            None => "unknown key".to_string(),
        };
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once("`, expected ") {
            let expected = expected.replace('`', "").replace("one of ", "");
            return format!("{variant:?} is not one of: {expected}");
        }
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                let what = if prefix.starts_with("invalid type") {
                    "wrong type"
                } else {
                    "out of range"
                };
                let found = match found {
                    "map" => "a table",
                    "sequence" => "an array",
                    other => other,
                };
                let found = found.replace("floating point", "float");
                return format!("{what}: expected {}, found {found}", toml_type(expected));
            }
        }
    }
    raw.to_string()
}

fn toml_type(serde_expected: &str) -> String {
    let s = serde_expected;
    if s == "a sequence" {
        "an array".into()
    } else if s == "a map" || s.starts_with("struct ") || s.starts_with("a map") {
        "a table".into()
    } else if s == "u16" {
        "an integer from 0 to 65535".into()
    } else if s == "u32" || s == "u64" || s == "usize" {
        "a non-negative integer".into()
    } else if s == "f64" || s == "f32" {
        "a number".into()
    } else if s.starts_with("a boolean") {
        "a boolean".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "load_tests.rs"]
mod tests;
