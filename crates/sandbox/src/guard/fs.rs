//! The file-system calls init makes for a served call, all relative to a directory descriptor
//! and returning the raw errno, which goes back to the caller unchanged.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub type Res<T> = Result<T, i32>;

fn errno() -> i32 {
    crate::sys::errno()
}

pub fn cstring(b: &[u8]) -> Res<CString> {
    CString::new(b.to_vec()).map_err(|_| libc::EINVAL)
}

fn fd_ret(ret: libc::c_int) -> Res<OwnedFd> {
    if ret < 0 {
        return Err(errno());
    }
    // SAFETY: the kernel returned a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

fn unit(ret: libc::c_long) -> Res<()> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `dir` is `None` for `AT_FDCWD` (init's cwd is `/`, so only absolute paths use it).
fn raw(dir: Option<&OwnedFd>) -> RawFd {
    dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd())
}

pub fn open_dir(dir: Option<&OwnedFd>, path: &[u8]) -> Res<OwnedFd> {
    let c = cstring(path)?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: a valid C string; the result is checked.
    fd_ret(unsafe { libc::openat(raw(dir), c.as_ptr(), flags) })
}

pub fn openat(dir: &OwnedFd, name: &[u8], flags: i32, mode: u32) -> Res<OwnedFd> {
    let c = cstring(name)?;
    // SAFETY: a valid C string; the result is checked.
    fd_ret(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, mode) })
}

/// The file type bits of `name` in `dir`, without following a final symlink.
pub fn kind(dir: &OwnedFd, name: &[u8]) -> Res<u32> {
    let c = cstring(name)?;
    // SAFETY: stat is plain data, filled by the kernel on success.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the duration of the call.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    unit(ret.into())?;
    Ok(st.st_mode & libc::S_IFMT)
}

pub fn on_procfs(dir: &OwnedFd) -> bool {
    const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
    // SAFETY: statfs is plain data, filled by the kernel on success.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer for the duration of the call.
    let ret = unsafe { libc::fstatfs(dir.as_raw_fd(), &mut st) };
    ret == 0 && st.f_type as libc::c_long == PROC_SUPER_MAGIC
}

fn readlink_c(dir: RawFd, c: &CString) -> Res<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the buffer is live and its length passed.
    let n = unsafe { libc::readlinkat(dir, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(errno());
    }
    if n as usize >= buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    buf.truncate(n as usize);
    Ok(buf)
}

pub fn readlinkat(dir: &OwnedFd, name: &[u8]) -> Res<Vec<u8>> {
    readlink_c(dir.as_raw_fd(), &cstring(name)?)
}

/// The path of an open directory, as the sandbox's mount table spells it.
pub fn path_of(dir: &OwnedFd) -> Res<Vec<u8>> {
    let link = format!("/proc/self/fd/{}", dir.as_raw_fd());
    readlink_c(libc::AT_FDCWD, &cstring(link.as_bytes())?)
}

pub fn mkdirat(dir: &OwnedFd, name: &[u8], mode: u32) -> Res<()> {
    let c = cstring(name)?;
    // SAFETY: a valid C string.
    unit(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }.into())
}

pub fn mknodat(dir: &OwnedFd, name: &[u8], mode: u32, dev: u64) -> Res<()> {
    let c = cstring(name)?;
    // SAFETY: a valid C string.
    unit(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) }.into())
}

pub fn symlinkat(target: &[u8], dir: &OwnedFd, name: &[u8]) -> Res<()> {
    let t = cstring(target)?;
    let c = cstring(name)?;
    // SAFETY: valid C strings.
    unit(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) }.into())
}

pub fn linkat(od: &OwnedFd, on: &[u8], nd: &OwnedFd, nn: &[u8], flags: i32) -> Res<()> {
    let o = cstring(on)?;
    let n = cstring(nn)?;
    // SAFETY: valid C strings.
    let ret = unsafe {
        libc::linkat(
            od.as_raw_fd(),
            o.as_ptr(),
            nd.as_raw_fd(),
            n.as_ptr(),
            flags,
        )
    };
    unit(ret.into())
}

pub fn renameat2(od: &OwnedFd, on: &[u8], nd: &OwnedFd, nn: &[u8], flags: u32) -> Res<()> {
    let o = cstring(on)?;
    let n = cstring(nn)?;
    // SAFETY: valid C strings; renameat2 takes plain integers otherwise.
    unit(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            od.as_raw_fd(),
            o.as_ptr(),
            nd.as_raw_fd(),
            n.as_ptr(),
            flags,
        )
    })
}

/// Clears `O_NONBLOCK` again after an open that only added it so init could not block.
pub fn clear_nonblock(fd: &OwnedFd) -> Res<()> {
    // SAFETY: fcntl on a descriptor we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if fl < 0 {
        return Err(errno());
    }
    // SAFETY: as above.
    unit(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) }.into())
}

/// Reads a NUL-terminated string of at most `PATH_MAX` bytes (with the NUL) at `addr` in the
/// caller's memory, a page at a time so a string ending just before an unmapped page reads.
pub fn read_string(mem: &OwnedFd, addr: u64) -> Res<Vec<u8>> {
    const PAGE: u64 = 4096;
    let max = libc::PATH_MAX as usize;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let chunk = ((PAGE - at % PAGE) as usize).min(max - out.len());
        let mut buf = vec![0u8; chunk];
        // SAFETY: reading into a live buffer of `chunk` bytes.
        let n = unsafe {
            libc::pread(
                mem.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                chunk,
                at as libc::off_t,
            )
        };
        if n <= 0 {
            return Err(libc::EFAULT);
        }
        let got = &buf[..n as usize];
        if let Some(end) = got.iter().position(|b| *b == 0) {
            out.extend_from_slice(&got[..end]);
            return Ok(out);
        }
        out.extend_from_slice(got);
        at += n as u64;
    }
    Err(libc::ENAMETOOLONG)
}

/// The caller's umask, from `/proc/<pid>/status`.
pub fn umask_of(pid: u32) -> Res<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| e.raw_os_error().unwrap_or(libc::ESRCH))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .ok_or(libc::ESRCH)
}
