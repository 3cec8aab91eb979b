//! Limits the kernel keeps per process: set in the command process just before exec.
//!
//! `RLIMIT_NPROC` is deliberately absent: it counts every process of the uid on the whole
//! host, so it would either fail the sandbox because of the user's other work, or let the
//! sandbox use up what the user's other work needs. The pids cgroup bounds the sandbox.

use super::spec::LimitSpec;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type Resource = libc::c_int;

/// Sets `RLIMIT_CORE` to 0 (a core dump would carry the sandbox's memory out to wherever
/// the host's `core_pattern` points), and `RLIMIT_NOFILE` and `RLIMIT_FSIZE` per `spec`.
/// Soft and hard limits are set together so the command cannot raise them again. A value
/// above the current hard limit is lowered to it: without CAP_SYS_RESOURCE a hard limit
/// cannot be raised, and the result is still within what was asked.
///
/// Runs between fork and exec: no allocation, no locks. Returns the errno on failure.
pub fn apply_rlimits(spec: &LimitSpec) -> Result<(), i32> {
    set(libc::RLIMIT_CORE, 0)?;
    if let Some(n) = spec.open_files {
        set(libc::RLIMIT_NOFILE, n)?;
    }
    if let Some(n) = spec.file_size {
        set(libc::RLIMIT_FSIZE, n)?;
    }
    Ok(())
}

fn set(resource: Resource, want: u64) -> Result<(), i32> {
    let hard = hard_limit(resource)?;
    // RLIM_INFINITY is the largest value, so `min` keeps a finite request.
    let value = want.min(hard);
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `lim` is a valid rlimit that lives across the call.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(last_errno());
    }
    Ok(())
}

fn hard_limit(resource: Resource) -> Result<u64, i32> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `cur` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(resource, &mut cur) } != 0 {
        return Err(last_errno());
    }
    Ok(cur.rlim_max)
}

/// The current hard limits on open files and file size (`u64::MAX` = unlimited).
pub(crate) fn hard_limits() -> (Option<u64>, Option<u64>) {
    (
        hard_limit(libc::RLIMIT_NOFILE).ok(),
        hard_limit(libc::RLIMIT_FSIZE).ok(),
    )
}

/// Reading errno this way does not allocate.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}
