//! The effective policy as TOML, for `palisade check`.

use toml_edit::{Array, DocumentMut, Item, Value};

use crate::builtin::{
    starts_with, BUILTIN_DENY_NAMES, BUILTIN_DENY_READ, BUILTIN_HOME_PROTECT, BUILTIN_PROTECT_NAMES,
};
use crate::schema::Policy;

impl Policy {
    /// The policy as it will be enforced, as TOML: the built-in lists that apply are written
    /// out in `deny_read`, `deny_read_names` and `protect` under comments saying so, so the
    /// text shows every rule and loads back to the same policy.
    pub fn to_toml_pretty(&self) -> Result<String, String> {
        let mut shown = self.clone();
        if shown.version == 0 {
            shown.version = 1;
        }
        shown.apply_builtin_rules();
        // `toml`'s pretty printer lays out sections and arrays of tables; the comments are then
        // added on the parsed result.
        let text = toml::to_string_pretty(&shown).map_err(|e| e.to_string())?;
        let mut doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| e.to_string())?;
        let builtin_on = shown.builtin_rules_enabled();
        let fs = &shown.filesystem;
        let mark = |list: &[String], builtin: &[&[&str]], labels: &[&'static str]| {
            let mut marks = Vec::new();
            let mut rest = list;
            for (b, label) in builtin.iter().zip(labels) {
                if !builtin_on || !starts_with(rest, b) {
                    break;
                }
                marks.push((b.len(), *label));
                rest = &rest[b.len()..];
            }
            if !marks.is_empty() && !rest.is_empty() {
                marks.push((rest.len(), "from the policy"));
            }
            marks
        };
        let groups = [
            (
                "deny_read",
                mark(&fs.deny_read, &[BUILTIN_DENY_READ], &["built-in"]),
            ),
            (
                "deny_read_names",
                mark(&fs.deny_read_names, &[BUILTIN_DENY_NAMES], &["built-in"]),
            ),
            (
                "protect",
                mark(
                    &fs.protect,
                    &[BUILTIN_PROTECT_NAMES, BUILTIN_HOME_PROTECT],
                    &[
                        "built-in, relative to each writable root",
                        "built-in, in the home directory",
                    ],
                ),
            ),
        ];
        if let Some(Item::Table(t)) = doc.get_mut("filesystem") {
            for (key, marks) in groups {
                if let Some(Item::Value(Value::Array(a))) = t.get_mut(key) {
                    lay_out(a, &marks);
                }
            }
        }
        for (_, item) in doc.iter_mut() {
            if let Item::Table(t) = item {
                for (_, v) in t.iter_mut() {
                    if let Item::Value(Value::Array(a)) = v {
                        if a.len() > 1 && !a.iter().any(|v| v.decor().prefix().is_some()) {
                            lay_out(a, &[]);
                        }
                    }
                }
            }
        }
        Ok(format!(
            "# Effective Palisade policy. Built-in lists are {}.\n{doc}",
            if builtin_on {
                "included"
            } else {
                "off (filesystem.builtin_rules = false)"
            }
        ))
    }
}

/// One entry per line, each group of entries (a count and a comment) under its comment.
fn lay_out(a: &mut Array, groups: &[(usize, &str)]) {
    let mut heads = Vec::new();
    let mut at = 0;
    for (count, comment) in groups {
        if *count > 0 {
            heads.push((at, *comment));
        }
        at += count;
    }
    let len = a.len();
    for (i, v) in a.iter_mut().enumerate() {
        let prefix = match heads.iter().find(|(at, _)| *at == i) {
            Some((_, comment)) => format!("\n    # {comment}\n    "),
            None => "\n    ".to_string(),
        };
        v.decor_mut().set_prefix(prefix);
        v.decor_mut().set_suffix("");
    }
    if len > 0 {
        a.set_trailing_comma(true);
        a.set_trailing("\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "render_tests.rs"]
mod tests;
