//! One walk over each writable root finds the files the built-in secret names hide and the
//! nested git repositories whose metadata must stay read-only.

use std::path::{Path, PathBuf};

/// Directories never descended into: dependency and build trees are large, rebuilt by tools,
/// and hold vendored test fixtures (`*.pem` in a package's tests) rather than the user's
/// secrets. `.git` is recorded, not walked.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
];

/// The walk stops after this many entries per root, so a huge tree cannot stall start-up.
pub const WALK_LIMIT: usize = 200_000;

#[derive(Debug, Default)]
pub struct WalkResult {
    pub secret_files: Vec<PathBuf>,
    /// Directories that contain a `.git` entry (directory or worktree file).
    pub repos: Vec<PathBuf>,
    pub truncated: bool,
}

pub fn walk_root(root: &Path, deny_names: &[String]) -> WalkResult {
    let mut out = WalkResult::default();
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > WALK_LIMIT {
                out.truncated = true;
                return out;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if name == ".git" {
                out.repos.push(dir.clone());
                continue;
            }
            if ft.is_symlink() {
                // A link is not the secret: its target has its own rules (hidden if it is a
                // secret path, read-only if outside every writable root), and a mount on
                // the link itself would land on whatever it points to.
                continue;
            }
            if ft.is_dir() {
                if !SKIP_DIRS.contains(&name) {
                    stack.push(path);
                }
            } else if palisade_policy::is_name_hidden(deny_names, name) {
                out.secret_files.push(path);
            }
        }
    }
    out
}
