//! Every kernel call the sandbox makes goes through this module, so each failure carries
//! `<call>(<argument>): <errno text>` and the rest of the crate reads as a sequence of steps.

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A failed system call: which one, on what, and the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    pub call: &'static str,
    pub arg: String,
    pub errno: i32,
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{}({}): {}", self.call, self.arg, text)
    }
}

impl std::error::Error for SysError {}

pub type SysResult<T> = Result<T, SysError>;

pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(ret: libc::c_long, call: &'static str, arg: impl FnOnce() -> String) -> SysResult<i64> {
    if ret < 0 {
        Err(SysError {
            call,
            arg: arg(),
            errno: errno(),
        })
    } else {
        Ok(ret)
    }
}

pub fn cstr(path: &Path) -> SysResult<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SysError {
        call: "path",
        arg: path.display().to_string(),
        errno: libc::EINVAL,
    })
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

/// Flags for `mount_setattr(2)`, which libc does not export on every target yet.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: u32 = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Adds mount attributes to `path` and, with `recursive`, to every mount below it. Unlike a
/// `MS_REMOUNT|MS_BIND` remount, this reaches nested mounts, so a read-only view stays
/// read-only all the way down.
pub fn mount_setattr(path: &Path, set: u64, recursive: bool) -> SysResult<()> {
    let c = cstr(path)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid C string and a properly sized attribute struct.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret, "mount_setattr", || show(path)).map(|_| ())
}

pub fn mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> SysResult<()> {
    let src_c = src.map(cstr).transpose()?;
    let target_c = cstr(target)?;
    let fstype_c = fstype.and_then(|s| CString::new(s).ok());
    let data_c = data.and_then(|s| CString::new(s).ok());
    // SAFETY: every pointer is either null or a valid C string that outlives the call.
    let ret = unsafe {
        libc::mount(
            src_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            target_c.as_ptr(),
            fstype_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags,
            data_c
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast()),
        )
    };
    check(ret.into(), "mount", || match src {
        Some(s) => format!("{} -> {}", show(s), show(target)),
        None => format!("{} {}", fstype.unwrap_or("-"), show(target)),
    })
    .map(|_| ())
}

pub fn umount_detach(target: &Path) -> SysResult<()> {
    let c = cstr(target)?;
    // SAFETY: valid C string.
    let ret = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    check(ret.into(), "umount2", || show(target)).map(|_| ())
}

pub fn pivot_root(new_root: &Path, put_old: &Path) -> SysResult<()> {
    let a = cstr(new_root)?;
    let b = cstr(put_old)?;
    // SAFETY: valid C strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, a.as_ptr(), b.as_ptr()) };
    check(ret, "pivot_root", || show(new_root)).map(|_| ())
}

pub fn chdir(path: &Path) -> SysResult<()> {
    let c = cstr(path)?;
    // SAFETY: valid C string.
    let ret = unsafe { libc::chdir(c.as_ptr()) };
    check(ret.into(), "chdir", || show(path)).map(|_| ())
}

pub fn mkdir(path: &Path, mode: libc::mode_t) -> SysResult<()> {
    let c = cstr(path)?;
    // SAFETY: valid C string.
    let ret = unsafe { libc::mkdir(c.as_ptr(), mode) };
    if ret < 0 && errno() == libc::EEXIST {
        return Ok(());
    }
    check(ret.into(), "mkdir", || show(path)).map(|_| ())
}

/// Creates an empty regular file (a mount point or a mask), leaving an existing one alone.
pub fn touch(path: &Path, mode: libc::mode_t) -> SysResult<()> {
    let c = cstr(path)?;
    // SAFETY: valid C string; the fd is closed right away.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            mode,
        )
    };
    check(fd.into(), "open", || show(path))?;
    // SAFETY: fd was just returned by open.
    unsafe { libc::close(fd) };
    Ok(())
}

pub fn write_file(path: &Path, data: &[u8]) -> SysResult<()> {
    std::fs::write(path, data).map_err(|e| SysError {
        call: "write",
        arg: show(path),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong, what: &'static str) -> SysResult<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(ret.into(), "prctl", || what.to_string()).map(|_| ())
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    let ret = unsafe { libc::setsid() };
    check(ret.into(), "setsid", String::new).map(|_| ())
}

/// Closes every descriptor from `from` upwards except `keep`.
pub fn close_fds_from(from: RawFd, keep: Option<RawFd>) -> SysResult<()> {
    let ranges: Vec<(u32, u32)> = match keep {
        Some(k) if k >= from => {
            let mut r = Vec::with_capacity(2);
            if k > from {
                r.push((from as u32, (k - 1) as u32));
            }
            r.push(((k + 1) as u32, u32::MAX));
            r
        }
        _ => vec![(from as u32, u32::MAX)],
    };
    for (lo, hi) in ranges {
        // SAFETY: close_range takes plain integers.
        let ret = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
        check(ret, "close_range", || format!("{lo}..{hi}"))?;
    }
    Ok(())
}

pub fn socketpair_seqpacket() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for two descriptors.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    check(ret.into(), "socketpair", String::new)?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for two descriptors.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    check(ret.into(), "pipe2", String::new)?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends descriptors (possibly none) with a small payload over a Unix socket.
pub fn send_with_fds(sock: &impl AsRawFd, payload: &[u8], fds: &[RawFd]) -> SysResult<()> {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut _,
        iov_len: payload.len(),
    };
    let space = if fds.is_empty() {
        0
    } else {
        // SAFETY: CMSG_SPACE is a pure computation.
        unsafe { libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) as usize }
    };
    let mut cbuf = vec![0u8; space];
    // SAFETY: msghdr is plain data; zeroed is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is sized with CMSG_SPACE for exactly these fds.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast(), fds.len());
        }
    }
    // SAFETY: msg points at live buffers for the duration of the call.
    let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    check(ret as libc::c_long, "sendmsg", String::new).map(|_| ())
}

/// Receives one message and any descriptors sent with it. Returns an empty payload at EOF.
pub fn recv_with_fds(sock: &impl AsRawFd, buf: &mut [u8]) -> SysResult<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE((16 * std::mem::size_of::<RawFd>()) as u32) as usize };
    let mut cbuf = vec![0u8; space];
    // SAFETY: msghdr is plain data; zeroed is a valid initial state.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: msg points at live buffers for the duration of the call.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret < 0 && errno() == libc::EINTR {
            continue;
        }
        break check(ret as libc::c_long, "recvmsg", String::new)? as usize;
    };
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel filled in, within controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(*data.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, fds))
}

/// `strerror`-style text for an errno, for messages assembled from raw numbers.
pub fn errno_text(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a static or thread-local string.
    unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}
