//! Serving one notified call: decode it, read its strings once, resolve, check, perform, reply.

use std::os::fd::OwnedFd;

use super::fs::{self, Res};
use super::notify::{self, Notif};
use super::{Create, Guard};

/// The calls the guard filter hands over, with their arguments in `*at` form.
enum Call {
    Open {
        dirfd: i32,
        path: u64,
        flags: i32,
        mode: u32,
    },
    Mkdir {
        dirfd: i32,
        path: u64,
        mode: u32,
    },
    Mknod {
        dirfd: i32,
        path: u64,
        mode: u32,
        dev: u64,
    },
    Symlink {
        target: u64,
        dirfd: i32,
        path: u64,
    },
    Link {
        odirfd: i32,
        old: u64,
        ndirfd: i32,
        new: u64,
        flags: i32,
    },
    Rename {
        odirfd: i32,
        old: u64,
        ndirfd: i32,
        new: u64,
        flags: u32,
    },
}

fn decode(n: &Notif) -> Option<Call> {
    let a = n.data.args;
    let fd = |i: usize| a[i] as i32; // descriptors and flags are C ints: the low 32 bits
    let cwd = libc::AT_FDCWD;
    let nr = i64::from(n.data.nr);
    let call = match nr {
        libc::SYS_openat => Call::Open {
            dirfd: fd(0),
            path: a[1],
            flags: fd(2),
            mode: a[3] as u32,
        },
        libc::SYS_mkdirat => Call::Mkdir {
            dirfd: fd(0),
            path: a[1],
            mode: a[2] as u32,
        },
        libc::SYS_mknodat => Call::Mknod {
            dirfd: fd(0),
            path: a[1],
            mode: a[2] as u32,
            dev: a[3],
        },
        libc::SYS_symlinkat => Call::Symlink {
            target: a[0],
            dirfd: fd(1),
            path: a[2],
        },
        libc::SYS_linkat => Call::Link {
            odirfd: fd(0),
            old: a[1],
            ndirfd: fd(2),
            new: a[3],
            flags: fd(4),
        },
        libc::SYS_renameat => Call::Rename {
            odirfd: fd(0),
            old: a[1],
            ndirfd: fd(2),
            new: a[3],
            flags: 0,
        },
        libc::SYS_renameat2 => Call::Rename {
            odirfd: fd(0),
            old: a[1],
            ndirfd: fd(2),
            new: a[3],
            flags: a[4] as u32,
        },
        _ => return decode_legacy(nr, a, cwd),
    };
    Some(call)
}

#[cfg(target_arch = "x86_64")]
fn decode_legacy(nr: i64, a: [u64; 6], cwd: i32) -> Option<Call> {
    Some(match nr {
        libc::SYS_open => Call::Open {
            dirfd: cwd,
            path: a[0],
            flags: a[1] as i32,
            mode: a[2] as u32,
        },
        libc::SYS_creat => Call::Open {
            dirfd: cwd,
            path: a[0],
            flags: libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            mode: a[1] as u32,
        },
        libc::SYS_mkdir => Call::Mkdir {
            dirfd: cwd,
            path: a[0],
            mode: a[1] as u32,
        },
        libc::SYS_mknod => Call::Mknod {
            dirfd: cwd,
            path: a[0],
            mode: a[1] as u32,
            dev: a[2],
        },
        libc::SYS_symlink => Call::Symlink {
            target: a[0],
            dirfd: cwd,
            path: a[1],
        },
        libc::SYS_link => Call::Link {
            odirfd: cwd,
            old: a[0],
            ndirfd: cwd,
            new: a[1],
            flags: 0,
        },
        libc::SYS_rename => Call::Rename {
            odirfd: cwd,
            old: a[0],
            ndirfd: cwd,
            new: a[1],
            flags: 0,
        },
        _ => return None,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn decode_legacy(_nr: i64, _a: [u64; 6], _cwd: i32) -> Option<Call> {
    None
}

/// How a served call ended: a reply still to send, or one already sent (with a descriptor,
/// or by a worker process).
enum Done {
    Reply(Res<i64>),
    Sent,
}

/// Reads and serves one pending call. Returns quietly when the caller is gone.
pub fn serve_one(listener: &OwnedFd, guard: &Guard) {
    let Ok(n) = notify::recv(listener) else {
        return;
    };
    let done = match decode(&n) {
        Some(call) => serve(listener, guard, &n, &call).unwrap_or_else(|e| Done::Reply(Err(e))),
        None => Done::Reply(Err(libc::ENOSYS)),
    };
    if let Done::Reply(r) = done {
        notify::reply(listener, n.id, r);
    }
}

/// A call's strings, read once from the caller's memory.
struct Strings {
    a: Vec<u8>,
    b: Vec<u8>,
}

fn read_strings(n: &Notif, call: &Call) -> Res<Strings> {
    let mem = std::fs::File::open(format!("/proc/{}/mem", n.pid))
        .map(OwnedFd::from)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::ESRCH))?;
    let (a, b) = match call {
        Call::Open { path, .. } | Call::Mkdir { path, .. } | Call::Mknod { path, .. } => {
            (*path, None)
        }
        Call::Symlink { target, path, .. } => (*path, Some(*target)),
        Call::Link { old, new, .. } | Call::Rename { old, new, .. } => (*new, Some(*old)),
    };
    Ok(Strings {
        a: fs::read_string(&mem, a)?,
        b: match b {
            Some(addr) => fs::read_string(&mem, addr)?,
            None => Vec::new(),
        },
    })
}

fn serve(listener: &OwnedFd, guard: &Guard, n: &Notif, call: &Call) -> Res<Done> {
    let s = read_strings(n, call)?;
    let umask = match call {
        Call::Open { .. } | Call::Mkdir { .. } | Call::Mknod { .. } => Some(fs::umask_of(n.pid)?),
        _ => None,
    };
    if !notify::valid(listener, n.id) {
        return Ok(Done::Sent); // the caller is gone; nothing to answer
    }
    if let Some(m) = umask {
        // SAFETY: umask cannot fail; init's own mask matters to nothing else.
        unsafe { libc::umask(m) };
    }
    let pid = n.pid;
    let reply = |r: Res<()>| Ok(Done::Reply(r.map(|()| 0)));
    match *call {
        Call::Open {
            dirfd, flags, mode, ..
        } => open(listener, guard, n, dirfd, &s.a, flags, mode),
        Call::Mkdir { dirfd, mode, .. } => {
            let at = locate(pid, dirfd, &s.a)?;
            at.check(guard, Create::Dir)?;
            reply(fs::mkdirat(&at.dir, &at.name, mode))
        }
        Call::Mknod {
            dirfd, mode, dev, ..
        } => {
            let kind = mode & libc::S_IFMT;
            if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
                return reply(Err(libc::EPERM)); // the command holds no CAP_MKNOD
            }
            let at = locate(pid, dirfd, &s.a)?;
            at.check(guard, Create::Other)?;
            reply(fs::mknodat(&at.dir, &at.name, mode, dev))
        }
        Call::Symlink { dirfd, .. } => {
            let at = locate(pid, dirfd, &s.a)?;
            at.check(guard, Create::Other)?;
            reply(fs::symlinkat(&s.b, &at.dir, &at.name))
        }
        Call::Link {
            odirfd,
            ndirfd,
            flags,
            ..
        } => {
            let to = locate(pid, ndirfd, &s.a)?;
            to.check(guard, Create::Other)?;
            let (from, flags) = if flags & libc::AT_EMPTY_PATH != 0 && s.b.is_empty() {
                // Linking an open file (an O_TMPFILE): through its /proc link, as the
                // caller could itself.
                if odirfd == libc::AT_FDCWD {
                    return reply(Err(libc::EPERM));
                }
                let link = format!("/proc/{pid}/fd/{odirfd}");
                let follow = (flags & !libc::AT_EMPTY_PATH) | libc::AT_SYMLINK_FOLLOW;
                (locate(pid, libc::AT_FDCWD, link.as_bytes())?, follow)
            } else {
                (locate(pid, odirfd, &s.b)?, flags)
            };
            reply(fs::linkat(&from.dir, &from.name, &to.dir, &to.name, flags))
        }
        Call::Rename {
            odirfd,
            ndirfd,
            flags,
            ..
        } => {
            let to = locate(pid, ndirfd, &s.a)?;
            let from = locate(pid, odirfd, &s.b)?;
            to.check(guard, Create::Other)?;
            if flags & libc::RENAME_EXCHANGE != 0 {
                from.check(guard, Create::Other)?;
            }
            reply(fs::renameat2(
                &from.dir, &from.name, &to.dir, &to.name, flags,
            ))
        }
    }
}

fn open(
    listener: &OwnedFd,
    guard: &Guard,
    n: &Notif,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> Res<Done> {
    let mut at = locate(n.pid, dirfd, path)?;
    // Follow a final symlink here, as the kernel would: a dangling one would otherwise
    // create its target, wherever that is, past the check. Links in /proc are the kernel's
    // own (a descriptor, a cwd) and always name something that exists.
    let mut hops = 0;
    let follow = flags & (libc::O_EXCL | libc::O_NOFOLLOW) == 0;
    let mut kind = fs::kind(&at.dir, &at.name).ok();
    let proc = fs::on_procfs(&at.dir);
    while follow && !proc && at.trailing_slash == 0 && kind == Some(libc::S_IFLNK) {
        hops += 1;
        if hops > 40 {
            return Err(libc::ELOOP);
        }
        let target = fs::readlinkat(&at.dir, &at.name)?;
        at = if target.starts_with(b"/") {
            locate(n.pid, libc::AT_FDCWD, &target)?
        } else {
            locate_in(n.pid, Some(&at.dir), &target)?
        };
        kind = fs::kind(&at.dir, &at.name).ok();
    }
    at.check(guard, Create::Other)?;
    let mut open_flags = flags | libc::O_CLOEXEC | libc::O_NOCTTY;
    if follow && !proc && at.trailing_slash == 0 {
        open_flags |= libc::O_NOFOLLOW; // resolved above; a link swapped in now gives ELOOP
    }
    let cloexec = flags & libc::O_CLOEXEC != 0;
    if kind == Some(libc::S_IFIFO) && flags & libc::O_NONBLOCK == 0 {
        // Opening a FIFO waits for the other end: a worker waits, so init keeps serving.
        return worker(listener, n.id, &at, open_flags, mode, cloexec);
    }
    // Nothing else may block init either; the flag is cleared again once open.
    let added = flags & libc::O_NONBLOCK == 0;
    let fd = fs::openat(&at.dir, &at.name, open_flags | libc::O_NONBLOCK, mode)?;
    if added {
        fs::clear_nonblock(&fd)?;
    }
    match notify::reply_fd(listener, n.id, &fd, cloexec) {
        Ok(()) => Ok(Done::Sent),
        Err(e) => Ok(Done::Reply(Err(e))),
    }
}

fn worker(listener: &OwnedFd, id: u64, at: &At, flags: i32, mode: u32, cloexec: bool) -> Res<Done> {
    // SAFETY: init is single-threaded; the child only opens, replies and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(crate::sys::errno());
    }
    if pid == 0 {
        match fs::openat(&at.dir, &at.name, flags, mode) {
            Ok(fd) => {
                if let Err(e) = notify::reply_fd(listener, id, &fd, cloexec) {
                    notify::reply(listener, id, Err(e));
                }
            }
            Err(e) => notify::reply(listener, id, Err(e)),
        }
        // SAFETY: leave the forked copy without running init's destructors.
        unsafe { libc::_exit(0) }
    }
    Ok(Done::Sent) // init reaps the worker with every other orphan
}

/// Where a path's last component lands: the directory it resolves in, and the component as
/// given (with any trailing slashes, so the kernel applies their meaning).
struct At {
    dir: OwnedFd,
    name: Vec<u8>,
    trailing_slash: usize,
}

impl At {
    fn bare(&self) -> &[u8] {
        &self.name[..self.name.len() - self.trailing_slash]
    }

    fn check(&self, guard: &Guard, what: Create) -> Res<()> {
        let dir = fs::path_of(&self.dir)?;
        if guard.allows(&dir, self.bare(), what) {
            Ok(())
        } else {
            Err(libc::EACCES)
        }
    }
}

/// Resolves `path` as the caller at `pid` would with `dirfd`.
fn locate(pid: u32, dirfd: i32, path: &[u8]) -> Res<At> {
    if path.starts_with(b"/") || dirfd == libc::AT_FDCWD {
        if path.starts_with(b"/") {
            return locate_in(pid, None, path);
        }
        let cwd = fs::open_dir(None, format!("/proc/{pid}/cwd").as_bytes())?;
        return locate_in(pid, Some(&cwd), path);
    }
    let base = fs::open_dir(None, format!("/proc/{pid}/fd/{dirfd}").as_bytes()).map_err(|e| {
        if e == libc::ENOENT {
            libc::EBADF
        } else {
            e
        }
    })?;
    locate_in(pid, Some(&base), path)
}

/// Resolves `path` from `base` (`None`: an absolute path). `/proc/self` and
/// `/proc/thread-self` name the caller, not init.
fn locate_in(pid: u32, base: Option<&OwnedFd>, path: &[u8]) -> Res<At> {
    let (dir, name) = split(path);
    let trailing_slash = name.iter().rev().take_while(|b| **b == b'/').count();
    let dir_fd = match (base, dir.is_empty()) {
        (Some(b), true) => fs::open_dir(Some(b), b".")?,
        (Some(b), false) => fs::open_dir(Some(b), dir)?,
        (None, _) => fs::open_dir(None, &for_caller(pid, dir))?,
    };
    Ok(At {
        dir: dir_fd,
        name: name.to_vec(),
        trailing_slash,
    })
}

/// Splits a path into the part to resolve and the last component (with trailing slashes).
/// A path of slashes only is `/` and `.`, which no call creates.
pub(super) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    let core_len = path.len() - path.iter().rev().take_while(|b| **b == b'/').count();
    if core_len == 0 {
        return if path.is_empty() {
            (b"", b"")
        } else {
            (b"/", b".")
        };
    }
    match path[..core_len].iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (b"", path),
    }
}

pub(super) fn for_caller(pid: u32, path: &[u8]) -> Vec<u8> {
    for (prefix, with) in [
        (&b"/proc/self"[..], format!("/proc/{pid}")),
        (&b"/proc/thread-self"[..], format!("/proc/{pid}/task/{pid}")),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with(b"/") {
                let mut out = with.into_bytes();
                out.extend_from_slice(rest);
                return out;
            }
        }
    }
    path.to_vec()
}
