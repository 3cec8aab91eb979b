//! The Linux sandbox: a pure plan built from a policy on the host, and a thin executor that
//! follows it between `clone` and `execve`.
//!
//! Processes, from the host down:
//! - the supervisor (`supervisor.rs`), the caller's own process;
//! - init (`init.rs`), pid 1 of new user, mount, pid, net, ipc and uts namespaces;
//! - the command (`command.rs`), forked by init, stripped of every privilege before `execve`.
//!
//! Nothing in init or the command logs: they share the user's terminal, and their failures
//! travel back to the supervisor as data (`protocol.rs`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

mod caps;
mod command;
pub mod doctor;
mod error;
mod guard;
mod init;
pub mod landlock;
pub mod limits;
mod mounts;
mod net;
pub mod overlay;
pub mod plan;
mod protocol;
mod seccomp;
mod supervisor;
mod sys;

pub use error::SandboxError;
pub use supervisor::{spawn, Outcome, Sandbox};

/// Everything the sandbox needs, computed before `clone`.
pub struct SandboxSpec {
    pub fs: plan::FsPlan,
    pub env: Vec<(OsString, OsString)>,
    pub argv: Vec<OsString>,
    pub cwd: PathBuf,
    /// Addresses init listens on inside the namespace; their descriptors come back in
    /// [`Sandbox::listeners`].
    pub listeners: Vec<SocketAddr>,
    pub hostname: String,
    /// The caller's ids, kept inside the namespace.
    pub uid: u32,
    pub gid: u32,
    /// Require Landlock (the host has it): the command fails closed if it is not fully enforced.
    pub landlock: bool,
    /// Generated files bound read-only over existing paths inside (e.g. the CA bundle over
    /// the system bundle), and the paths their copies are reachable at.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Applied in the command process just before the privilege drop (resource limits).
    pub rlimits: Option<Box<dyn Fn() -> Result<(), i32>>>,
}
