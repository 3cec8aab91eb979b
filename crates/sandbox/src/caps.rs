//! Dropping every capability the command could hold in its user namespace.
//!
//! The command keeps the caller's uid. When that uid is 0, `execve` would hand a full
//! permitted set back (bounded by the bounding set), so the bounding set is emptied, the
//! securebits stop root from regaining anything (`NOROOT`, locked), and the ambient set is
//! cleared before the final `capset` to zero.

use crate::sys::{self, SysError, SysResult};

const SECBIT_NOROOT: u64 = 1 << 0;
const SECBIT_NOROOT_LOCKED: u64 = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: u64 = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: u64 = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: u64 = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: u64 = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: u64 = 1 << 7;

pub fn drop_all() -> SysResult<()> {
    for cap in 0..64u64 {
        // SAFETY: prctl with integer arguments; EINVAL past the last capability is expected.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if ret < 0 && sys::errno() != libc::EINVAL {
            return Err(SysError {
                call: "prctl",
                arg: format!("PR_CAPBSET_DROP {cap}"),
                errno: sys::errno(),
            });
        }
    }
    sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        "PR_CAP_AMBIENT",
    )?;
    let bits = SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED
        | SECBIT_NO_SETUID_FIXUP
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_KEEP_CAPS_LOCKED
        | SECBIT_NO_CAP_AMBIENT_RAISE
        | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    sys::prctl(
        libc::PR_SET_SECUREBITS,
        bits as libc::c_ulong,
        "PR_SET_SECUREBITS",
    )?;
    set(0)
}

/// Sets the effective and permitted sets to `mask` (capabilities 0-31) and clears the rest.
pub fn set(mask: u32) -> SysResult<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let low = Data {
        effective: mask,
        permitted: mask,
        inheritable: 0,
    };
    let high = Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [low, high];
    // SAFETY: header and data have the layout capset(2) expects for version 3.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    if ret < 0 {
        return Err(SysError {
            call: "capset",
            arg: format!("{mask:#x}"),
            errno: sys::errno(),
        });
    }
    Ok(())
}
