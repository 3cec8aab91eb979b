//! Symlinks in policy paths are resolved once, on the host, before anything is mounted.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// A path inside a writable root that leads out of it through a symlink. A process in an
    /// earlier run could have planted that link, so following it would let the sandbox choose
    /// what the policy grants or hides.
    #[error(
        "policy path {path} is inside the writable root {root} but resolves to {target} through \
         a symlink; refusing (a symlink planted by an earlier run must not redirect a rule). \
         Remove the symlink or name its target in the policy."
    )]
    SymlinkEscape {
        path: PathBuf,
        root: PathBuf,
        target: PathBuf,
    },
    /// A rule this sandbox cannot enforce as written.
    #[error("policy path {path}: {why}")]
    Unenforceable { path: PathBuf, why: String },
}

/// Resolves `path` (absolute, lexically normalised) through every existing symlink. A missing
/// tail is appended as is. Returns `None` when the path cannot be looked at at all (a parent we
/// may not search, e.g. a root-owned 0711 home): such a path cannot be reached from the sandbox
/// either, so it needs no rule, and it must not abort the run.
pub fn resolve_rule_path(
    path: &Path,
    writable_roots: &[PathBuf],
) -> Result<Option<PathBuf>, ResolveError> {
    let Some(resolved) = canonicalize_existing_prefix(path) else {
        return Ok(None);
    };
    for root in writable_roots {
        if path.starts_with(root) && path != root && !resolved.starts_with(root) {
            return Err(ResolveError::SymlinkEscape {
                path: path.to_path_buf(),
                root: root.clone(),
                target: resolved,
            });
        }
    }
    Ok(Some(resolved))
}

/// Canonicalises the longest existing prefix of `path` and appends the rest.
fn canonicalize_existing_prefix(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(mut c) => {
                for part in tail.iter().rev() {
                    c.push(part);
                }
                return Some(c);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink at this level: follow it lexically is unsafe; treat its
                // target as the path so a planted dangling link cannot hide the escape.
                if let Ok(target) = std::fs::read_link(&existing) {
                    let base = existing.parent().unwrap_or(Path::new("/"));
                    let joined = normalize(&base.join(target));
                    let mut c = canonicalize_existing_prefix(&joined)?;
                    for part in tail.iter().rev() {
                        c.push(part);
                    }
                    return Some(c);
                }
                let name = existing.file_name()?.to_os_string();
                tail.push(name);
                if !existing.pop() {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

/// Lexical normalisation of `.` and `..` for an absolute path.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}
