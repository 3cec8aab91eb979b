//! The seccomp user-notification interface (seccomp_unotify(2)), as init uses it.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::sys;

const IOC_RECV: libc::c_ulong = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const IOC_SEND: libc::c_ulong = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)
const IOC_ID_VALID: libc::c_ulong = 0x4008_2102; // _IOW('!', 2, __u64)
const IOC_ADDFD: libc::c_ulong = 0x4018_2103; // _IOW('!', 3, struct seccomp_notif_addfd)
const ADDFD_FLAG_SEND: u32 = 1 << 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Data {
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: Data,
}

#[repr(C)]
struct Resp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[repr(C)]
struct AddFd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

/// The next pending call, or the errno (ENOENT when its caller died before it was read).
pub fn recv(listener: &OwnedFd) -> Result<Notif, i32> {
    let mut n = Notif::default();
    // SAFETY: `n` has the layout of struct seccomp_notif and is zeroed as the kernel requires.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), IOC_RECV as _, &mut n as *mut Notif) };
    if ret < 0 {
        return Err(sys::errno());
    }
    Ok(n)
}

/// Whether the caller is still waiting: checked after reading its memory, so that what was
/// read belongs to the process that made the call and not to one that reused its pid.
pub fn valid(listener: &OwnedFd, id: u64) -> bool {
    // SAFETY: the argument points at a live u64.
    unsafe { libc::ioctl(listener.as_raw_fd(), IOC_ID_VALID as _, &id as *const u64) == 0 }
}

/// Completes the call with `val` (>= 0) or `-errno`. A caller that died meanwhile is ignored.
pub fn reply(listener: &OwnedFd, id: u64, result: Result<i64, i32>) {
    let (val, error) = match result {
        Ok(v) => (v, 0),
        Err(e) => (0, -e),
    };
    let mut r = Resp {
        id,
        val,
        error,
        flags: 0,
    };
    // SAFETY: `r` has the layout of struct seccomp_notif_resp.
    unsafe { libc::ioctl(listener.as_raw_fd(), IOC_SEND as _, &mut r as *mut Resp) };
}

/// Installs `fd` in the caller's table and completes the call with its number, atomically.
pub fn reply_fd(listener: &OwnedFd, id: u64, fd: &OwnedFd, cloexec: bool) -> Result<(), i32> {
    let a = AddFd {
        id,
        flags: ADDFD_FLAG_SEND,
        srcfd: fd.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    // SAFETY: `a` has the layout of struct seccomp_notif_addfd.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), IOC_ADDFD as _, &a as *const AddFd) };
    if ret < 0 {
        return Err(sys::errno());
    }
    Ok(())
}
