//! Reviewed workspaces: the change sets an overlay run leaves behind, and what the user does
//! with them afterwards (`palisade changes`).
//!
//! In overlay mode the sandbox sees the workspace as an overlayfs whose lower layer is the
//! live host workspace and whose upper layer is a directory in the user's state directory.
//! Everything the command writes lands in the upper layer; the host workspace is untouched
//! until the user applies. This module works on the upper layer from the host side, after
//! the run: it never mounts anything.
//!
//! A change set is a directory `<store>/<id>/` holding `upper/` and `work/` (overlayfs's),
//! `meta.json` (workspace, command, start time, status, the supervisor that owns it) and
//! `manifest` (a stamp of every workspace entry taken before the command started, so apply
//! can tell a host file that changed during the run from one that did not).

use std::path::PathBuf;

mod apply;
mod changes;
mod manifest;
pub(crate) mod mount;
mod store;

pub use apply::{apply, conflict, discard, Outcome};
pub use changes::{compute, Change, ChangeKind, Entry};
pub use manifest::{Manifest, Stamp};
pub use mount::unsafe_for_overlay;
pub use store::{format_time, ChangeSet, Meta, Status, Store};

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no change set {0:?}")]
    NotFound(String),
    #[error("change set {0} belongs to a run that is still going")]
    Live(String),
    #[error("{}: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
}

pub type Result<T> = std::result::Result<T, OverlayError>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> OverlayError + '_ {
    move |source| OverlayError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
#[path = "overlay_tests.rs"]
mod tests;
