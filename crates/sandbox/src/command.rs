//! The last process before the user's command: the child of the sandbox's init.
//!
//! The order, and why:
//! 1. `setsid`: no controlling terminal, so TIOCSTI has no terminal to push into (the seccomp
//!    filter refuses it as well).
//! 2. Default signal dispositions and an empty mask: the supervisor ignores SIGPIPE and init
//!    blocks the signals it forwards; the command must start clean.
//! 3. `chdir` to the working directory, inside the new root.
//! 4. Close every inherited descriptor but 0-2 (and the close-on-exec error pipe).
//! 5. Resource limits that rlimits bound correctly.
//! 6. Drop every capability, the bounding set and the ambient set; lock the securebits.
//! 7. `no_new_privs`, which Landlock and seccomp need without capabilities.
//! 8. Landlock, after the mounts (it forbids later mount changes).
//! 9. seccomp, last, so the filter need not allow any of the calls above. With missing
//!    protected paths, the guard filter comes first and its listener goes to init (`guard/`).
//! 10. `execve`, searching `PATH` from the sandbox's environment.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::{caps, landlock, seccomp, sys, SandboxSpec};

/// The directories Landlock leaves writable; init restricts itself with the same set.
pub fn landlock_roots(spec: &SandboxSpec) -> Vec<PathBuf> {
    let mut roots = spec.fs.write_roots.clone();
    roots.extend(["/tmp", "/dev"].map(PathBuf::from));
    roots
}

/// Never returns: either `execve` succeeds or the failure goes down `err` and the process exits.
/// `guard` is the socket the guard's listener goes to init on, when there is a guard.
pub fn run(spec: &SandboxSpec, err: OwnedFd, guard: Option<OwnedFd>) -> ! {
    let failure = match prepare(spec, &err, guard) {
        Ok(()) => exec(spec),
        Err(e) => e,
    };
    let _ = write_all(&err, failure.as_bytes());
    // SAFETY: _exit skips destructors and atexit handlers, as a failed exec child must.
    unsafe { libc::_exit(127) }
}

fn prepare(spec: &SandboxSpec, err: &OwnedFd, guard: Option<OwnedFd>) -> Result<(), String> {
    let step = |stage: &str, r: sys::SysResult<()>| r.map_err(|e| format!("E{stage}: {e}"));
    // 1.
    step("setsid", sys::setsid())?;
    // 2.
    // SAFETY: resetting dispositions and the mask of this single-threaded process.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
    // 3.
    step(
        "chdir",
        sys::chdir(&spec.cwd).or_else(|_| sys::chdir(std::path::Path::new("/"))),
    )?;
    // 4.
    let closed = match &guard {
        None => sys::close_fds_from(3, Some(err.as_raw_fd())),
        Some(g) => close_all_but(&[err.as_raw_fd(), g.as_raw_fd()]),
    };
    step("close fds", closed)?;
    // 5.
    if let Some(apply) = &spec.rlimits {
        apply().map_err(|e| format!("Erlimits: {}", sys::errno_text(e)))?;
    }
    // 6.
    step("capabilities", caps::drop_all())?;
    // 7.
    step(
        "no_new_privs",
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS"),
    )?;
    // 8.
    if spec.landlock {
        landlock::restrict(&landlock_roots(spec)).map_err(|e| format!("Elandlock: {e}"))?;
    }
    // 9.
    if let Some(chan) = guard {
        let listener = step_val("seccomp guard", seccomp::install_guard())?;
        step(
            "seccomp guard",
            sys::send_with_fds(&chan, b"L", &[listener.as_raw_fd()]),
        )?;
        // The listener must not reach the command: it could answer its own calls.
        drop(listener);
        drop(chan);
    }
    step("seccomp", seccomp::install())
}

fn step_val<T>(stage: &str, r: sys::SysResult<T>) -> Result<T, String> {
    r.map_err(|e| format!("E{stage}: {e}"))
}

/// Closes every descriptor from 3 up except those in `keep`.
fn close_all_but(keep: &[RawFd]) -> sys::SysResult<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|k| **k >= 3)
        .map(|k| *k as u32)
        .collect();
    keep.sort_unstable();
    let mut lo = 3u32;
    for k in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if k > lo {
            // SAFETY: close_range takes plain integers.
            let ret = unsafe { libc::syscall(libc::SYS_close_range, lo, k - 1, 0u32) };
            if ret < 0 {
                return Err(sys::SysError {
                    call: "close_range",
                    arg: format!("{lo}..{}", k - 1),
                    errno: sys::errno(),
                });
            }
        }
        lo = k.saturating_add(1);
    }
    Ok(())
}

/// Tries each `PATH` entry like `execvp`, and reports ENOENT only if every candidate was
/// missing, so a found-but-not-executable file yields 126 rather than 127.
fn exec(spec: &SandboxSpec) -> String {
    let Some(prog) = spec.argv.first().filter(|p| !p.is_empty()) else {
        return format!("X{}", libc::ENOENT); // an empty name names no program: 127
    };
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let envp: Vec<CString> = spec
        .env
        .iter()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    envp_p.push(std::ptr::null());

    let candidates: Vec<OsString> = if prog.as_bytes().contains(&b'/') {
        vec![prog.clone()]
    } else {
        let path = spec
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        path.as_bytes()
            .split(|b| *b == b':')
            .map(|dir| {
                let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
                let mut p = dir.to_vec();
                p.push(b'/');
                p.extend_from_slice(prog.as_bytes());
                OsString::from(std::ffi::OsStr::from_bytes(&p))
            })
            .collect()
    };
    let mut worst = libc::ENOENT;
    for cand in candidates {
        let Ok(c) = CString::new(cand.as_bytes()) else {
            continue;
        };
        // SAFETY: argv and envp are null-terminated arrays of valid C strings.
        unsafe { libc::execve(c.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
        let e = sys::errno();
        if e != libc::ENOENT && e != libc::ENOTDIR {
            worst = e;
        }
    }
    format!("X{worst}")
}

fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: writing from a live buffer.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}
