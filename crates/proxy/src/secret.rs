//! Secret bytes held outside the ordinary heap: one anonymous mapping per secret, marked
//! `MADV_WIPEONFORK` (the sandbox's init is cloned from the supervisor and must not inherit a
//! copy) and `MADV_DONTDUMP` (no core or dump carries it), zeroed before it is unmapped.
//! Neither `Debug` nor `Display` shows the value.

use std::fmt;
use std::io;

use zeroize::Zeroize;

pub struct Secret {
    ptr: *mut u8,
    len: usize,
    map_len: usize,
}

// SAFETY: the mapping is owned by this value alone and only read through `&self`.
unsafe impl Send for Secret {}
// SAFETY: as above; no interior mutability.
unsafe impl Sync for Secret {}

impl Secret {
    /// Copies `bytes` into a fresh protected mapping. The caller zeroes its own copy.
    pub fn new(bytes: &[u8]) -> io::Result<Secret> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let map_len = bytes.len().max(1).div_ceil(page) * page;
        // SAFETY: a new private anonymous mapping; checked for MAP_FAILED below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let secret = Secret {
            ptr: ptr.cast(),
            len: bytes.len(),
            map_len,
        };
        for advice in [libc::MADV_WIPEONFORK, libc::MADV_DONTDUMP] {
            // SAFETY: advice on the mapping created above.
            if unsafe { libc::madvise(ptr, map_len, advice) } != 0 {
                // Without WIPEONFORK the sandbox's init would hold a copy: refuse.
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: the mapping is at least `bytes.len()` long and writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), secret.ptr, bytes.len()) };
        Ok(secret)
    }

    pub fn expose(&self) -> &[u8] {
        // SAFETY: `len` bytes were written in `new` and the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

extern "C" {
    static mut environ: *mut *mut libc::c_char;
}

/// Overwrites `name`'s value where the process environment holds it (the block at the top of
/// the stack is what `/proc/PID/environ` shows, and what a cloned child inherits), then removes
/// the variable. Call only while the process is single-threaded (at start-up).
pub fn wipe_env(name: &str) {
    let key = name.as_bytes();
    // SAFETY: single-threaded at this point (documented precondition); `environ` is a
    // NULL-terminated array of NUL-terminated strings owned by the process, and we write only
    // within each string's bytes.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            if entry.len() > key.len() && entry.starts_with(key) && entry[key.len()] == b'=' {
                let value = (*p).add(key.len() + 1);
                std::ptr::write_bytes(value, 0, entry.len() - key.len() - 1);
            }
            p = p.add(1);
        }
    }
    std::env::remove_var(name);
}

/// No core file for this process (it holds credentials): `RLIMIT_CORE` 0, soft and hard.
pub fn no_core_dumps() -> io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setting our own limit from a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Not dumpable: no core, and processes of the same user cannot read this one's memory or
/// environment through `/proc` or ptrace.
pub fn non_dumpable() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Secret {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and writable; nothing borrows it once we are dropped.
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr, self.map_len).zeroize();
            libc::munmap(self.ptr.cast(), self.map_len);
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(redacted, {} bytes)", self.len)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn holds_the_value_and_never_prints_it() {
        let s = Secret::new(b"ghp_value123").unwrap();
        assert_eq!(s.expose(), b"ghp_value123");
        assert_eq!(format!("{s:?}"), "Secret(redacted, 12 bytes)");
    }

    #[test]
    fn a_forked_child_sees_zeros() {
        let s = Secret::new(b"wipe-on-fork-check").unwrap();
        let mut fds = [0; 2];
        // SAFETY: pipe into a local array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (r, w) = (fds[0], fds[1]);
        // SAFETY: the child only reads memory and writes one byte before _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let zero = u8::from(s.expose().iter().all(|b| *b == 0));
            // SAFETY: write one byte to the pipe, then leave without running destructors.
            unsafe {
                libc::write(w, (&zero as *const u8).cast(), 1);
                libc::_exit(0);
            }
        }
        let mut got = 0u8;
        // SAFETY: read one byte into a local.
        let n = unsafe { libc::read(r, (&mut got as *mut u8).cast(), 1) };
        // SAFETY: reap the child; close our pipe ends.
        unsafe {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(r);
            libc::close(w);
        }
        assert_eq!(n, 1);
        assert_eq!(got, 1, "the child saw the secret");
        assert_eq!(s.expose(), b"wipe-on-fork-check");
    }
}
