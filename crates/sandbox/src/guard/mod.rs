//! Keeps the command from creating protected paths that do not exist yet.
//!
//! An existing protected path is a read-only mount; a missing one cannot be mounted over
//! without creating something on the host. Instead, a second seccomp filter (see
//! `seccomp::install_guard`) hands every call that creates a name to init, which:
//! 1. reads the path strings from the caller's memory, once;
//! 2. opens the directory the last component would land in, resolving the rest exactly as the
//!    kernel would for the caller (its cwd or dirfd, the same mounts and root);
//! 3. refuses the call when that directory's path plus the last component is protected, or
//!    when it would put anything but a fresh directory at a missing ancestor of one;
//! 4. otherwise performs the call itself on that directory and name, and hands the result
//!    (and, for `open`, the new descriptor) back.
//!
//! Performing instead of letting the kernel continue the call matters: another thread of the
//! caller could rewrite the path between the check and the kernel's second read of it.
//! Every rename is served here, one at a time, so a checked directory cannot be moved onto a
//! protected path while a call is being served.

use std::cell::RefCell;
use std::collections::HashSet;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

mod fs;
mod notify;
mod serve;

pub use serve::serve_one;

/// What a served call would do at the name being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// `mkdir`: allowed at a missing ancestor of a protected path, which then guards it.
    Dir,
    /// Anything else that puts a name in place: a file, node, link, or a renamed entry.
    Other,
}

/// The protected paths that were missing when the sandbox started, as absolute paths in the
/// sandbox (the same as on the host: every mount sits at its host path).
#[derive(Debug, Default)]
pub struct Guard {
    protected: HashSet<Vec<u8>>,
    /// Strict ancestors of protected paths, below a writable root: a directory made there is
    /// still guarded by name, but a renamed directory or a symlink could bring the protected
    /// name along already in place.
    ancestors: HashSet<Vec<u8>>,
    /// `.git` entries the command made: the host's git obeys a repository's config and hooks,
    /// so the user is told about each one when the run ends.
    new_repos: RefCell<Vec<Vec<u8>>>,
}

impl Guard {
    /// `None` when nothing needs guarding, so no filter is installed.
    pub fn new(missing: &[PathBuf], write_roots: &[PathBuf]) -> Option<Guard> {
        if missing.is_empty() {
            return None;
        }
        let mut g = Guard::default();
        for p in missing {
            g.protected.insert(p.as_os_str().as_bytes().to_vec());
            for a in p.ancestors().skip(1) {
                if write_roots
                    .iter()
                    .any(|r| a.starts_with(r) && a != r.as_path())
                {
                    g.ancestors.insert(a.as_os_str().as_bytes().to_vec());
                }
            }
        }
        Some(g)
    }

    /// Whether creating `name` in the directory whose path is `dir` is allowed.
    pub fn allows(&self, dir: &[u8], name: &[u8], what: Create) -> bool {
        if name.is_empty() || name == b"." || name == b".." {
            return true; // names no call can create
        }
        let mut full = Vec::with_capacity(dir.len() + 1 + name.len());
        full.extend_from_slice(dir);
        if !dir.ends_with(b"/") {
            full.push(b'/');
        }
        full.extend_from_slice(name);
        let full = normal(&full);
        if self.protected.contains(full.as_slice()) {
            return false;
        }
        let allowed = !(self.ancestors.contains(full.as_slice()) && what != Create::Dir);
        if allowed && name == b".git" {
            let mut seen = self.new_repos.borrow_mut();
            if !seen.contains(&full) {
                seen.push(full);
            }
        }
        allowed
    }

    /// The `.git` entries created during the run (directories, worktree files, renames).
    pub fn created_repos(&self) -> Vec<PathBuf> {
        self.new_repos
            .borrow()
            .iter()
            .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p)))
            .collect()
    }
}

/// Drops repeated slashes, so the comparison is on the same spelling the plan used.
fn normal(p: &[u8]) -> Vec<u8> {
    Path::new(std::ffi::OsStr::from_bytes(p))
        .components()
        .collect::<PathBuf>()
        .into_os_string()
        .into_vec()
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
