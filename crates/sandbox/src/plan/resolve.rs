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
///
/// A missing component is found with one `lstat` per level instead of a failing `realpath`
/// (which walks every component again), and existing prefixes are canonicalised through a
/// per-plan cache: the built-in lists name some 150 paths under a handful of directories.
fn canonicalize_existing_prefix(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    let finish = |mut c: PathBuf, tail: &[std::ffi::OsString]| {
        for part in tail.iter().rev() {
            c.push(part);
        }
        c
    };
    loop {
        match existing.symlink_metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = existing.file_name()?.to_os_string();
                tail.push(name);
                if !existing.pop() {
                    return None;
                }
                continue;
            }
            Err(_) => return None,
            Ok(_) => {}
        }
        match canonical(&existing) {
            Ok(c) => return Some(finish(c, &tail)),
            Err(std::io::ErrorKind::NotFound) => {
                // A dangling symlink at this level: following it lexically is unsafe; treat its
                // target as the path so a planted dangling link cannot hide the escape.
                let target = std::fs::read_link(&existing).ok()?;
                let base = existing.parent().unwrap_or(Path::new("/"));
                let joined = normalize(&base.join(target));
                return canonicalize_existing_prefix(&joined).map(|c| finish(c, &tail));
            }
            Err(_) => return None,
        }
    }
}

thread_local! {
    static CACHE: std::cell::RefCell<Option<std::collections::HashMap<PathBuf, Result<PathBuf, std::io::ErrorKind>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with canonicalisation results cached, then forgets them: the cache lives for one
/// plan, so a later plan sees the filesystem as it is then.
pub(crate) fn with_cache<R>(f: impl FnOnce() -> R) -> R {
    CACHE.with(|c| *c.borrow_mut() = Some(Default::default()));
    let r = f();
    CACHE.with(|c| *c.borrow_mut() = None);
    r
}

fn canonical(p: &Path) -> Result<PathBuf, std::io::ErrorKind> {
    let cached = CACHE.with(|c| c.borrow().as_ref().and_then(|m| m.get(p).cloned()));
    if let Some(r) = cached {
        return r;
    }
    let r = std::fs::canonicalize(p).map_err(|e| e.kind());
    CACHE.with(|c| {
        if let Some(m) = c.borrow_mut().as_mut() {
            m.insert(p.to_path_buf(), r.clone());
        }
    });
    r
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
