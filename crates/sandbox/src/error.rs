//! Errors of the sandbox crate, each mapped to Palisade's exit status.

use crate::plan::ResolveError;
use crate::sys::{self, SysError};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(
        "the supervisor has {0} threads; the sandbox must be cloned from a single-threaded process"
    )]
    NotSingleThreaded(usize),
    #[error("cannot create the sandbox's namespaces: clone: {}{}", sys::errno_text(*.0), clone_hint(*.0))]
    Clone(i32),
    #[error("sandbox setup failed at {stage}: {message}")]
    Setup { stage: String, message: String },
    #[error("{}", exec_text(*.0))]
    Exec(i32),
    #[error("control channel: {0}")]
    Protocol(String),
    #[error(transparent)]
    Sys(#[from] SysError),
}

impl SandboxError {
    /// 127 for a command that was not found, 126 for one that could not be executed, 125 for
    /// every failure of Palisade itself.
    pub fn exit_code(&self) -> i32 {
        match self {
            SandboxError::Exec(e) if *e == libc::ENOENT || *e == libc::ENOTDIR => 127,
            SandboxError::Exec(_) => 126,
            _ => 125,
        }
    }
}

fn exec_text(errno: i32) -> String {
    match errno {
        libc::ENOENT | libc::ENOTDIR => "command not found".to_string(),
        e => format!("command could not be executed: {}", sys::errno_text(e)),
    }
}

fn clone_hint(errno: i32) -> &'static str {
    match errno {
        libc::EPERM | libc::EACCES | libc::ENOSPC => {
            " (user namespaces are unavailable to this user; run `palisade doctor` for the cause and the fix)"
        }
        _ => "",
    }
}
