//! The effective policy as TOML, for `palisade check`.

use toml_edit::{Array, DocumentMut, Item, Value};

use crate::builtin::{
    BUILTIN_DENY_NAMES, BUILTIN_DENY_READ, BUILTIN_HOME_PROTECT, BUILTIN_PROTECT_NAMES,
};
use crate::schema::Policy;

impl Policy {
    /// The policy as it will be enforced, as TOML: the built-in lists that apply are written
    /// out in `deny_read`, `deny_read_names` and `protect` (marked by comments), so the text
    /// shows every rule and loads back to a policy that enforces the same ones.
    pub fn to_toml_pretty(&self) -> Result<String, String> {
        let mut shown = self.clone();
        if shown.version == 0 {
            shown.version = 1;
        }
        shown.filesystem.deny_read = self.effective_deny_read();
        shown.filesystem.deny_read_names = self.effective_deny_read_names();
        let mut protect = self.effective_protect_names();
        for p in self
            .effective_home_protect()
            .into_iter()
            .chain(self.filesystem.protect.clone())
        {
            if !protect.contains(&p) {
                protect.push(p);
            }
        }
        shown.filesystem.protect = protect;
        // `toml`'s pretty printer lays out sections and arrays of tables; the comments are then
        // added on the parsed result.
        let text = toml::to_string_pretty(&shown).map_err(|e| e.to_string())?;
        let mut doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| e.to_string())?;
        let builtin_on = self.builtin_rules_enabled();
        let n = |list: &[&str]| if builtin_on { list.len() } else { 0 };
        let groups: [(&str, Vec<(usize, &str)>); 3] = [
            ("deny_read", vec![(n(BUILTIN_DENY_READ), "built-in")]),
            ("deny_read_names", vec![(n(BUILTIN_DENY_NAMES), "built-in")]),
            (
                "protect",
                vec![
                    (
                        n(BUILTIN_PROTECT_NAMES),
                        "built-in, relative to each writable root",
                    ),
                    (n(BUILTIN_HOME_PROTECT), "built-in, in the home directory"),
                ],
            ),
        ];
        if let Some(Item::Table(fs)) = doc.get_mut("filesystem") {
            for (key, mut marks) in groups {
                if let Some(Item::Value(Value::Array(a))) = fs.get_mut(key) {
                    let builtin: usize = marks.iter().map(|(n, _)| n).sum();
                    if builtin > 0 && a.len() > builtin {
                        marks.push((a.len() - builtin, "from the policy"));
                    }
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
#[path = "render_tests.rs"]
mod tests;
