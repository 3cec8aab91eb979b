//! The sandbox's pid 1: sets up the namespaces it was cloned into, starts the command, forwards
//! signals to it, reaps every orphan, and reports the command's status to the supervisor.
//!
//! The order, and why:
//! 1. Die with the supervisor (`PR_SET_PDEATHSIG`), then re-check the parent, which may have
//!    died before the call. When init dies, the kernel kills the whole pid namespace.
//! 2. uid/gid maps: the caller keeps their own ids inside (`setgroups` denied first).
//! 3. Not dumpable: the command runs with the same uid and must not read init's memory.
//! 4. Hostname, mounts (see `mounts.rs`), then `lo` and the proxy listeners, whose descriptors
//!    go to the supervisor.
//! 5. Wait for the supervisor's go (it may first move this process into a cgroup), block the
//!    signals to forward, fork the command, and learn from a close-on-exec pipe whether its
//!    `execve` worked.
//! 6. Forward signals and reap until the command exits; send its wait status; exit.
//!
//! With missing protected paths (see `guard/`), init also serves the command's calls that
//! create a name. So that it can do no more on the command's behalf than the command itself,
//! it takes the command's Landlock domain before the fork (the command's own domain then nests
//! in it, so init can still signal it and read its memory), and once the command runs, it
//! keeps no capability but `CAP_SYS_PTRACE` (to read the memory of a caller that made itself
//! non-dumpable).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::guard::{self, Guard};
use crate::protocol::{self, Msg};
use crate::{caps, command, landlock, mounts, net, sys, SandboxSpec};

const FORWARDED: &[libc::c_int] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGWINCH,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGCONT,
];

pub fn run(spec: &SandboxSpec, ctl: OwnedFd, parent: libc::pid_t) -> ! {
    let code = match supervise(spec, &ctl, parent) {
        Ok(()) => 0,
        Err(msg) => {
            let _ = protocol::send(&ctl, &msg, &[]);
            125
        }
    };
    // SAFETY: leave without running destructors: this is a forked copy of the supervisor.
    unsafe { libc::_exit(code) }
}

fn supervise(spec: &SandboxSpec, ctl: &OwnedFd, parent: libc::pid_t) -> Result<(), Msg> {
    let fail =
        |stage: &'static str| move |e: sys::SysError| Msg::SetupFailed(stage.into(), e.to_string());
    // 1.
    sys::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        "PR_SET_PDEATHSIG",
    )
    .map_err(fail("init"))?;
    // In a new pid namespace getppid() is 0, so the supervisor's liveness is read from the
    // control socket instead: a hang-up means it died before the death signal was armed.
    let _ = parent;
    let mut pfd = libc::pollfd {
        fd: ctl.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: polling one descriptor without blocking.
    if unsafe { libc::poll(&mut pfd, 1, 0) } > 0
        && pfd.revents & (libc::POLLHUP | libc::POLLRDHUP) != 0
    {
        // SAFETY: the supervisor is gone; nothing to report to.
        unsafe { libc::_exit(125) };
    }
    // 2.
    sys::write_file(Path::new("/proc/self/setgroups"), b"deny").map_err(fail("user namespace"))?;
    let uid_map = format!("{0} {0} 1\n", spec.uid);
    let gid_map = format!("{0} {0} 1\n", spec.gid);
    sys::write_file(Path::new("/proc/self/uid_map"), uid_map.as_bytes())
        .map_err(fail("user namespace"))?;
    sys::write_file(Path::new("/proc/self/gid_map"), gid_map.as_bytes())
        .map_err(fail("user namespace"))?;
    // 4.
    // SAFETY: a valid buffer and length.
    unsafe { libc::sethostname(spec.hostname.as_ptr().cast(), spec.hostname.len()) };
    mounts::build_root(&spec.fs, &spec.files).map_err(fail("filesystem"))?;
    net::loopback_up().map_err(fail("network"))?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut present = Vec::new();
    for addr in &spec.listeners {
        match net::listen(*addr).map_err(fail("network"))? {
            Some(fd) => {
                fds.push(fd);
                present.push(1u8);
            }
            None => present.push(0u8),
        }
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    protocol::send(ctl, &Msg::Ready(present), &raw).map_err(fail("control"))?;
    drop(fds);
    // 5.
    match protocol::recv(ctl) {
        Ok((Msg::Go, _)) => {}
        // SAFETY: the supervisor hung up or sent something else: nothing to start.
        _ => unsafe { libc::_exit(125) },
    }
    let sigfd = block_forwarded().map_err(fail("signals"))?;
    let (err_r, err_w) = sys::pipe().map_err(fail("exec"))?;
    let guard = Guard::new(&spec.fs.protect_missing, &spec.fs.write_roots);
    let chan = match guard {
        Some(_) => Some(sys::socketpair_seqpacket().map_err(fail("seccomp guard"))?),
        None => None,
    };
    if guard.is_some() && spec.landlock {
        landlock::restrict(&command::landlock_roots(spec))
            .map_err(|e| Msg::SetupFailed("landlock".into(), e))?;
    }
    // SAFETY: init is single-threaded; the child only runs `command::run`, which never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Msg::SetupFailed(
            "exec".into(),
            format!("fork: {}", sys::errno_text(sys::errno())),
        ));
    }
    let (init_end, cmd_end) = chan.unzip();
    if pid == 0 {
        drop(err_r);
        drop(init_end);
        command::run(spec, err_w, cmd_end);
    }
    drop(err_w);
    drop(cmd_end);
    // Before the exec report: the command sends the listener, then execs. EOF here means it
    // failed first, and the report says why.
    let listener = init_end.and_then(|s| {
        let mut buf = [0u8; 8];
        sys::recv_with_fds(&s, &mut buf)
            .ok()
            .and_then(|(_, fds)| fds.into_iter().next())
    });
    let report = read_to_end(&err_r);
    if !report.is_empty() {
        let text = String::from_utf8_lossy(&report).into_owned();
        reap(pid);
        return Err(match text.strip_prefix('X') {
            Some(n) => Msg::ExecFailed(n.parse().unwrap_or(libc::ENOENT)),
            None => {
                let body = text.strip_prefix('E').unwrap_or(&text);
                let (stage, m) = body.split_once(": ").unwrap_or(("command", body));
                Msg::SetupFailed(stage.to_string(), m.to_string())
            }
        });
    }
    let served = match (guard, listener) {
        (Some(g), Some(l)) => {
            keep_only_ptrace().map_err(fail("capabilities"))?;
            Some((l, g))
        }
        (Some(_), None) => {
            return Err(Msg::SetupFailed(
                "seccomp guard".into(),
                "the command sent no listener".into(),
            ))
        }
        _ => None,
    };
    protocol::send(ctl, &Msg::Started(pid), &[]).map_err(fail("control"))?;
    // 6.
    let status = forward_until_exit(&sigfd, pid, served.as_ref());
    if let Some((_, guard)) = &served {
        for repo in guard.created_repos() {
            let note = format!(
                "the command created a git repository at {}: its config and hooks are the \
                 command's; inspect them before running git there",
                repo.display()
            );
            protocol::send(ctl, &Msg::Note(note), &[]).map_err(fail("control"))?;
        }
    }
    protocol::send(ctl, &Msg::Exited(status), &[]).map_err(fail("control"))?;
    Ok(())
}

fn block_forwarded() -> sys::SysResult<OwnedFd> {
    // SAFETY: building and installing a signal mask; creating a signalfd for it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        for s in FORWARDED {
            libc::sigaddset(&mut set, *s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(sys::SysError {
                call: "signalfd",
                arg: String::new(),
                errno: sys::errno(),
            });
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Returns the command's raw wait status once it has exited. Serves the guard's calls
/// meanwhile, until every process holding its filter is gone (the listener hangs up).
fn forward_until_exit(sigfd: &OwnedFd, cmd: libc::pid_t, served: Option<&(OwnedFd, Guard)>) -> i32 {
    let mut served = served;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: served.map_or(-1, |(l, _)| l.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: polling two live pollfd entries; a negative fd is ignored.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            continue; // EINTR; every handled signal is blocked and read from the signalfd
        }
        if let Some((listener, guard)) = served {
            if fds[1].revents & libc::POLLIN != 0 {
                guard::serve_one(listener, guard);
            } else if fds[1].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                served = None;
            }
        }
        if fds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        // SAFETY: signalfd_siginfo is plain data; read fills it whole or fails.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reading into a buffer of exactly `size` bytes.
        let n = unsafe {
            libc::read(
                sigfd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n != size as isize {
            continue;
        }
        let sig = info.ssi_signo as libc::c_int;
        if sig != libc::SIGCHLD {
            // The command is a session leader: its process group has its pid.
            // SAFETY: plain kill calls.
            unsafe {
                if libc::kill(-cmd, sig) < 0 {
                    libc::kill(cmd, sig);
                }
            }
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: reaping any child without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == cmd {
                return status;
            }
        }
    }
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

fn read_to_end(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: reading into a live buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Leaves init with `CAP_SYS_PTRACE` alone (effective and permitted), so the calls it makes
/// for the command meet the same permission checks as the command's own.
fn keep_only_ptrace() -> sys::SysResult<()> {
    caps::set(1 << 19) // CAP_SYS_PTRACE
}
