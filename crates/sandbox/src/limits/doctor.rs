//! `palisade doctor`: which limits this host and this user can enforce, and how to fix the rest.

use std::fmt;

use super::detect::{can_create_under, Hierarchy, Place};
use super::rlimit::hard_limits;
use super::spec::{format_bytes, Controller, Limit, Problem};
use super::{v1, v2};

/// One line of the doctor's limits section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReport {
    pub limit: Limit,
    /// The mechanism that enforces it here; `None` when nothing can.
    pub enforced_by: Option<String>,
    /// Why it cannot be enforced, and the fix.
    pub problem: Option<Problem>,
}

impl fmt::Display for LimitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.enforced_by, &self.problem) {
            (Some(how), _) => write!(f, "{:<13} ok: {how}", self.limit),
            (None, Some(p)) => {
                write!(
                    f,
                    "{:<13} NOT ENFORCEABLE: {}\n{:<13} fix: {}",
                    p.limit, p.reason, "", p.fix
                )
            }
            (None, None) => write!(f, "{:<13} unknown", self.limit),
        }
    }
}

/// Checks this process's cgroups and rlimits without creating anything.
pub fn doctor() -> Vec<LimitReport> {
    // SAFETY: getpid and geteuid have no preconditions.
    let (pid, euid) = unsafe { (libc::getpid(), libc::geteuid()) };
    match Hierarchy::detect() {
        Ok(h) => doctor_in(&h, pid, euid),
        Err(e) => {
            let mut out = rlimit_reports();
            for c in Controller::ALL {
                let reason = format!("cannot tell which cgroups this process is in: {e}");
                out.insert(0, refused(c.limit(), reason, "mount /proc".to_string()));
            }
            out
        }
    }
}

/// [`doctor`] on a given hierarchy, as process `pid` with effective uid `euid`.
pub fn doctor_in(h: &Hierarchy, pid: i32, euid: u32) -> Vec<LimitReport> {
    let mut out: Vec<LimitReport> = Controller::ALL
        .iter()
        .map(|&c| cgroup_report(h, c, pid, euid))
        .collect();
    // Without a pids cgroup, a non-root caller still gets a per-sandbox process count.
    if let Some(pids) = out.iter_mut().find(|r| r.limit == Limit::Pids) {
        if let (Some(problem), true) = (&pids.problem, euid != 0 && h.nproc_per_userns) {
            let how = format!(
                "rlimit RLIMIT_NPROC inside the sandbox's user namespace, where it counts only \
                 the sandbox's processes (no pids cgroup: {}); no exit message when it refuses \
                 a fork",
                problem.reason
            );
            *pids = ok(Limit::Pids, how);
        }
    }
    out.extend(rlimit_reports());
    out
}

fn cgroup_report(h: &Hierarchy, c: Controller, pid: i32, euid: u32) -> LimitReport {
    let limit = c.limit();
    match (h.place(c), &h.v2) {
        (Place::V1(base), _) => match can_create_under(&base) {
            Ok(()) => ok(
                limit,
                format!("cgroup v1 {} under {}", c.name(), base.display()),
            ),
            Err(reason) => refused(limit, reason, v1::FIX.to_string()),
        },
        (Place::V2, Some(place)) => {
            let mut first = None;
            for base in v2::candidates(place, pid, euid) {
                match v2::check_base(&base, &[c]) {
                    Ok(()) => {
                        return ok(
                            limit,
                            format!("cgroup v2 {} under {}", c.name(), base.display()),
                        )
                    }
                    Err(refusal) => {
                        first.get_or_insert(refusal);
                    }
                }
            }
            let (reason, fix) = first.unwrap_or_default();
            refused(limit, reason, fix)
        }
        _ => refused(
            limit,
            format!(
                "no cgroup hierarchy with the {} controller is mounted",
                c.name()
            ),
            "mount cgroup2 on /sys/fs/cgroup".to_string(),
        ),
    }
}

fn rlimit_reports() -> Vec<LimitReport> {
    let (nofile, fsize) = hard_limits();
    let hard = |v: Option<u64>, bytes: bool| match v {
        Some(u64::MAX) => "unlimited".to_string(),
        Some(n) if bytes => format_bytes(n),
        Some(n) => n.to_string(),
        None => "unknown".to_string(),
    };
    vec![
        ok(
            Limit::OpenFiles,
            format!(
                "rlimit RLIMIT_NOFILE (hard limit now {}; a larger value is lowered to it)",
                hard(nofile, false)
            ),
        ),
        ok(
            Limit::FileSize,
            format!(
                "rlimit RLIMIT_FSIZE (hard limit now {}; a larger value is lowered to it)",
                hard(fsize, true)
            ),
        ),
        ok(
            Limit::TmpSize,
            "tmpfs size= on the private /tmp and the tmpfs layer".to_string(),
        ),
    ]
}

fn ok(limit: Limit, how: String) -> LimitReport {
    LimitReport {
        limit,
        enforced_by: Some(how),
        problem: None,
    }
}

fn refused(limit: Limit, reason: String, fix: String) -> LimitReport {
    LimitReport {
        limit,
        enforced_by: None,
        problem: Some(Problem { limit, reason, fix }),
    }
}
