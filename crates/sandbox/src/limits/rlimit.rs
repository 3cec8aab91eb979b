//! Limits the kernel keeps per process: set in the command process just before exec.
//!
//! `RLIMIT_NPROC` counts the processes of a uid *within a user namespace* (Linux 5.14 moved
//! the count to per-namespace ucounts). In the init namespace that is every process of the
//! user on the host, which is why it is never set there; inside the sandbox's own user
//! namespace it counts only the sandbox's processes, so it serves as the pids limit for a
//! non-root caller that has no cgroup. Root (host uid 0) is exempt from it, but root always
//! has cgroups.

use super::spec::LimitSpec;

/// The rlimits to set in the command process; [`super::prepare`] fills it from the spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rlimits {
    pub open_files: Option<u64>,
    pub file_size: Option<u64>,
    /// Only set when no cgroup holds the pids limit, and only valid inside the sandbox's own
    /// user namespace (see the module comment).
    pub processes: Option<u64>,
    /// Only under best effort, when no cgroup holds the memory limit: a per-process cap.
    pub address_space: Option<u64>,
}

impl Rlimits {
    /// The rlimits that always apply for `spec` (not the NPROC fallback).
    pub fn from_spec(spec: &LimitSpec) -> Rlimits {
        Rlimits {
            open_files: spec.open_files,
            file_size: spec.file_size,
            processes: None,
            address_space: None,
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type Resource = libc::c_int;

/// Sets `RLIMIT_CORE` to 0 (a core dump would carry the sandbox's memory out to wherever
/// the host's `core_pattern` points), and `RLIMIT_NOFILE`, `RLIMIT_FSIZE` and the fallbacks
/// (`RLIMIT_NPROC`, `RLIMIT_AS`) per `limits`. Call it in the sandbox's user namespace.
/// Soft and hard limits are set together so the command cannot raise them again. A value
/// above the current hard limit is lowered to it: without CAP_SYS_RESOURCE a hard limit
/// cannot be raised, and the result is still within what was asked.
///
/// Runs between fork and exec: no allocation, no locks. Returns the errno on failure.
pub fn apply_rlimits(limits: &Rlimits) -> Result<(), i32> {
    set(libc::RLIMIT_CORE, 0)?;
    if let Some(n) = limits.open_files {
        set(libc::RLIMIT_NOFILE, n)?;
    }
    if let Some(n) = limits.file_size {
        set(libc::RLIMIT_FSIZE, n)?;
    }
    if let Some(n) = limits.processes {
        set(libc::RLIMIT_NPROC, n)?;
    }
    if let Some(n) = limits.address_space {
        set(libc::RLIMIT_AS, n)?;
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
