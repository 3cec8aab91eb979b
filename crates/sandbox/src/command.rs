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
//! 9. seccomp, last, so the filter need not allow any of the calls above.
//! 10. `execve`, searching `PATH` from the sandbox's environment.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::{caps, landlock, seccomp, sys, SandboxSpec};

/// Never returns: either `execve` succeeds or the failure goes down `err` and the process exits.
pub fn run(spec: &SandboxSpec, err: OwnedFd) -> ! {
    let failure = match prepare(spec, &err) {
        Ok(()) => exec(spec),
        Err(e) => e,
    };
    let _ = write_all(&err, failure.as_bytes());
    // SAFETY: _exit skips destructors and atexit handlers, as a failed exec child must.
    unsafe { libc::_exit(127) }
}

fn prepare(spec: &SandboxSpec, err: &OwnedFd) -> Result<(), String> {
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
    step("close fds", sys::close_fds_from(3, Some(err.as_raw_fd())))?;
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
        let mut roots = spec.fs.write_roots.clone();
        roots.extend(["/tmp", "/dev"].map(std::path::PathBuf::from));
        landlock::restrict(&roots).map_err(|e| format!("Elandlock: {e}"))?;
    }
    // 9.
    step("seccomp", seccomp::install())
}

/// Tries each `PATH` entry like `execvp`, and reports ENOENT only if every candidate was
/// missing, so a found-but-not-executable file yields 126 rather than 127.
fn exec(spec: &SandboxSpec) -> String {
    let Some(prog) = spec.argv.first() else {
        return "X2".to_string();
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
