//! The host side of a sandbox: clone into the new namespaces, then talk to init.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::SandboxError;
use crate::protocol::{self, Msg};
use crate::{init, sys, SandboxSpec};

/// A running sandbox, as the supervisor holds it.
pub struct Sandbox {
    /// Init's pid in the supervisor's pid namespace.
    pub init_pid: libc::pid_t,
    /// Readable when init has exited.
    pub pidfd: OwnedFd,
    ctl: OwnedFd,
    /// One entry per requested listener address, `None` where the family is missing inside.
    pub listeners: Vec<Option<TcpListener>>,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
}

impl Outcome {
    /// The conventional shell status: the code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            Outcome::Exited(c) => c,
            Outcome::Signaled(s) => 128 + s,
        }
    }
}

const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// Clones init into fresh namespaces and waits until it has built the sandbox.
///
/// Must be called while the process is single-threaded: the child keeps running this
/// program's code (allocating, formatting) after `clone`, which is only sound when no other
/// thread could have held a lock at that instant.
pub fn spawn(spec: &SandboxSpec) -> Result<Sandbox, SandboxError> {
    let threads = thread_count();
    if threads != 1 {
        return Err(SandboxError::NotSingleThreaded(threads));
    }
    let (ctl_parent, ctl_child) = sys::socketpair_seqpacket().map_err(SandboxError::Sys)?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let mut pidfd: RawFd = -1;
    let flags = NAMESPACES | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: a fork-like clone (no new stack); the child continues below, single-threaded.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0usize,
            &mut pidfd as *mut RawFd,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(SandboxError::Clone(sys::errno()));
    }
    if pid == 0 {
        drop(ctl_parent);
        init::run(spec, ctl_child, parent);
    }
    drop(ctl_child);
    // SAFETY: the kernel returned a fresh pidfd for the child.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut sandbox = Sandbox {
        init_pid: pid as libc::pid_t,
        pidfd,
        ctl: ctl_parent,
        listeners: Vec::new(),
    };
    match protocol::recv(&sandbox.ctl) {
        Ok((Msg::Ready(present), fds)) => {
            let mut fds = fds.into_iter();
            for p in present {
                let l = if p == 1 {
                    fds.next().map(TcpListener::from)
                } else {
                    None
                };
                sandbox.listeners.push(l);
            }
            Ok(sandbox)
        }
        Ok((Msg::SetupFailed(stage, message), _)) => {
            sandbox.reap();
            Err(SandboxError::Setup { stage, message })
        }
        Ok((other, _)) => Err(SandboxError::Protocol(format!("unexpected {other:?}"))),
        Err(e) => {
            sandbox.reap();
            Err(SandboxError::Setup {
                stage: "init".into(),
                message: format!("init exited early ({e})"),
            })
        }
    }
}

impl Sandbox {
    /// Lets init start the command; returns once `execve` has succeeded or failed.
    pub fn start(&self) -> Result<libc::pid_t, SandboxError> {
        protocol::send(&self.ctl, &Msg::Go, &[]).map_err(SandboxError::Sys)?;
        match protocol::recv(&self.ctl) {
            Ok((Msg::Started(pid), _)) => Ok(pid),
            Ok((Msg::ExecFailed(errno), _)) => Err(SandboxError::Exec(errno)),
            Ok((Msg::SetupFailed(stage, message), _)) => {
                Err(SandboxError::Setup { stage, message })
            }
            Ok((other, _)) => Err(SandboxError::Protocol(format!("unexpected {other:?}"))),
            Err(e) => Err(SandboxError::Protocol(format!("init hung up: {e}"))),
        }
    }

    /// The control socket: readable when init reports the command's exit.
    pub fn ctl_fd(&self) -> RawFd {
        self.ctl.as_raw_fd()
    }

    /// Reads the command's outcome (after `ctl_fd` became readable, or blocking), with the
    /// notes init sent about the run (for the caller to show).
    pub fn outcome(&self) -> Result<(Outcome, Vec<String>), SandboxError> {
        let mut notes = Vec::new();
        let status = loop {
            match protocol::recv(&self.ctl) {
                Ok((Msg::Exited(status), _)) => break status,
                Ok((Msg::Note(text), _)) => notes.push(text),
                Ok((other, _)) => {
                    return Err(SandboxError::Protocol(format!("unexpected {other:?}")))
                }
                Err(e) => return Err(SandboxError::Protocol(format!("init hung up: {e}"))),
            }
        };
        let outcome = if libc::WIFSIGNALED(status) {
            Outcome::Signaled(libc::WTERMSIG(status))
        } else {
            Outcome::Exited(libc::WEXITSTATUS(status))
        };
        Ok((outcome, notes))
    }

    /// Sends a signal to init, which forwards it to the command's process group.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: pidfd_send_signal on our own child's pidfd cannot hit a recycled pid.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<u8>(),
                0u32,
            )
        };
    }

    /// Kills the whole sandbox: SIGKILL to init takes its pid namespace down with it.
    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Waits for init to exit and collects it.
    pub fn reap(&self) {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(self.init_pid, &mut status, libc::__WALL) };
    }
}

fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}
