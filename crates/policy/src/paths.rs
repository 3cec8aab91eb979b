//! Turning a policy path into an absolute one, without touching the filesystem: the sandbox
//! crate resolves symlinks later, on the host, before anything is mounted.

use std::path::{Component, Path, PathBuf};

use crate::error::PolicyError;
use crate::validate::check_path;

/// Expands one policy path: `~` and `~/x` against `home`, a relative path against
/// `workspace`, an absolute path as it is; then removes `.` and resolves `..` lexically
/// (`..` at the root stays at the root). `~user` forms are refused: whose home that is depends
/// on the host's user database, which a policy should not.
///
/// `home` and `workspace` are expected to be absolute; they are normalised the same way.
pub fn expand_path(raw: &str, home: &Path, workspace: &Path) -> Result<PathBuf, PolicyError> {
    check_path(raw).map_err(|message| PolicyError::Path {
        raw: raw.to_string(),
        message,
    })?;
    let joined = if raw == "~" {
        home.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home.join(rest)
    } else {
        // `join` keeps an absolute `raw` as it is.
        workspace.join(raw)
    };
    Ok(normalize(&joined))
}

/// Lexical normalisation: drops `.` and empty components, applies `..` to what came before.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::RootDir => out.push(Component::RootDir.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                let at_root = out.parent().is_none() && out.has_root();
                let ends_in_dotdot =
                    matches!(out.components().next_back(), Some(Component::ParentDir));
                if out.as_os_str().is_empty() || ends_in_dotdot {
                    out.push("..");
                } else if !at_root {
                    out.pop();
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

#[cfg(test)]
#[path = "paths_tests.rs"]
mod tests;
