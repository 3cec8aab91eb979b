//! Resource limits: memory, processes and CPU through a per-run cgroup (v2, or v1 where that
//! is what the host has), open files and file size through rlimits set in the command.
//!
//! Order of use by the supervisor: [`prepare`] before the sandbox's first process may fork
//! the command, [`Cgroup::add_pid`] on that process, [`apply_rlimits`] in the command just
//! before exec, then after exit [`Cgroup::limit_hit`] for the message, and [`Cgroup::remove`].
//! A limit the host cannot enforce is a refusal naming it, unless `best_effort` is set.

mod cgroup;
mod detect;
mod doctor;
mod fsio;
mod rlimit;
mod spec;
mod v1;
mod v2;

use std::path::{Path, PathBuf};

pub use cgroup::{sweep_stale, sweep_stale_in, Cgroup, SWEEP_MIN_AGE};
pub use detect::{Hierarchy, V2Place};
pub use doctor::{doctor, doctor_in, LimitReport};
pub use rlimit::{apply_rlimits, Rlimits};
pub use spec::{format_bytes, Controller, Limit, LimitHit, LimitSpec, LimitsError, Problem};

use detect::{can_create_under, Place};
use fsio::{make_group, remove_group};
use v2::Refusal;

/// What [`prepare`] set up.
#[derive(Debug)]
pub struct Prepared {
    /// The run's cgroup; `None` when no cgroup limit was asked for (or, under best effort,
    /// none could be enforced).
    pub cgroup: Option<Cgroup>,
    /// For [`apply_rlimits`] in the command process, inside the sandbox's user namespace.
    pub rlimits: Rlimits,
    /// One line per requested limit that is not enforced (best effort only).
    pub warnings: Vec<String>,
}

/// Creates the run's cgroup under this process's own cgroups and writes the limits.
/// No cgroup limit requested: no cgroup, no error, whatever the host.
pub fn prepare(spec: &LimitSpec, run_id: &str) -> Result<Prepared, LimitsError> {
    spec.validate()?;
    check_run_id(run_id)?;
    if !spec.needs_cgroup() {
        let rlimits = Rlimits::from_spec(spec);
        return Ok(Prepared {
            cgroup: None,
            rlimits,
            warnings: Vec::new(),
        });
    }
    // SAFETY: getpid and geteuid have no preconditions.
    let (pid, euid) = unsafe { (libc::getpid(), libc::geteuid()) };
    match Hierarchy::detect() {
        Ok(h) => prepare_in(&h, spec, run_id, pid, euid),
        Err(e) => {
            let problems = spec
                .controllers()
                .into_iter()
                .map(|c| Problem {
                    limit: c.limit(),
                    reason: format!("cannot tell which cgroups this process is in: {e}"),
                    fix: "mount /proc".to_string(),
                })
                .collect();
            finish(Cgroup::empty(spec), problems, spec, false)
        }
    }
}

/// [`prepare`] on a given hierarchy, as process `pid` with effective uid `euid`.
pub fn prepare_in(
    h: &Hierarchy,
    spec: &LimitSpec,
    run_id: &str,
    pid: i32,
    euid: u32,
) -> Result<Prepared, LimitsError> {
    spec.validate()?;
    check_run_id(run_id)?;
    let name = format!("palisade-{pid}-{run_id}");
    let mut cg = Cgroup::empty(spec);
    cg.fake = h.populate.is_some();
    let mut problems = Vec::new();
    let mut v2_wanted = Vec::new();
    for c in spec.controllers() {
        match h.place(c) {
            Place::V2 => v2_wanted.push(c),
            Place::V1(base) => match setup_v1(h, spec, c, &base, &name) {
                Ok(dir) => cg.v1.push((c, dir)),
                Err((reason, fix)) => problems.push(Problem {
                    limit: c.limit(),
                    reason,
                    fix,
                }),
            },
            Place::Nowhere => problems.push(Problem {
                limit: c.limit(),
                reason: format!(
                    "no cgroup hierarchy with the {} controller is mounted",
                    c.name()
                ),
                fix: "mount cgroup2 on /sys/fs/cgroup".to_string(),
            }),
        }
    }
    if let (false, Some(place)) = (v2_wanted.is_empty(), &h.v2) {
        match setup_v2(h, place, spec, &v2_wanted, &name, pid, euid) {
            Ok((dir, applied, failed)) => {
                problems.extend(failed);
                cg.v2 = Some((dir, applied));
            }
            Err(refused) => problems.extend(refused),
        }
    }
    finish(cg, problems, spec, euid != 0 && h.nproc_per_userns)
}

/// Falls back to `RLIMIT_NPROC` for pids where that counts only the sandbox (`nproc_ok`:
/// not root, per-namespace counting), then refuses when anything is still unenforced
/// (removing what was made), unless best effort.
fn finish(
    mut cg: Cgroup,
    mut problems: Vec<Problem>,
    spec: &LimitSpec,
    nproc_ok: bool,
) -> Result<Prepared, LimitsError> {
    let mut rlimits = Rlimits::from_spec(spec);
    if nproc_ok && problems.iter().any(|p| p.limit == Limit::Pids) {
        problems.retain(|p| p.limit != Limit::Pids);
        rlimits.processes = spec.pids;
    }
    if !problems.is_empty() && !spec.best_effort {
        let _ = cg.remove_dirs();
        return Err(LimitsError::Unenforceable(problems));
    }
    // Best effort only: an address-space cap per process is a weak stand-in for a memory
    // limit (n processes may use n times as much, and runtimes that reserve large address
    // ranges fail to start), so it is never used to avoid a refusal, and it says so.
    let warnings = problems
        .iter()
        .map(|p| match (p.limit, spec.memory) {
            (Limit::Memory, Some(bytes)) => {
                rlimits.address_space = Some(bytes);
                format!(
                    "{} enforced only per process, as RLIMIT_AS (address space), not for the \
                     sandbox as a whole: {} (fix: {})",
                    p.limit, p.reason, p.fix
                )
            }
            _ => format!("{} not enforced: {} (fix: {})", p.limit, p.reason, p.fix),
        })
        .collect();
    let cgroup = if cg.is_empty() {
        cg.removed = true;
        None
    } else {
        Some(cg)
    };
    Ok(Prepared {
        cgroup,
        rlimits,
        warnings,
    })
}

fn setup_v1(
    h: &Hierarchy,
    spec: &LimitSpec,
    c: Controller,
    base: &Path,
    name: &str,
) -> Result<PathBuf, Refusal> {
    let refuse = |reason: String| (reason, v1::FIX.to_string());
    can_create_under(base).map_err(refuse)?;
    let dir = make_group(h, base, name).map_err(|e| refuse(e.to_string()))?;
    if let Err(e) = v1::write_limits(&dir, spec, c) {
        let _ = remove_group(&dir, h.populate.is_some());
        return Err(refuse(format!("cgroup v1 {}: {e}", c.name())));
    }
    Ok(dir)
}

/// Returns the group, the controllers limited in it, and the limits it cannot hold.
fn setup_v2(
    h: &Hierarchy,
    place: &V2Place,
    spec: &LimitSpec,
    wanted: &[Controller],
    name: &str,
    pid: i32,
    euid: u32,
) -> Result<(PathBuf, Vec<Controller>, Vec<Problem>), Vec<Problem>> {
    let for_all = |(reason, fix): Refusal| {
        let one = |c: &Controller| Problem {
            limit: c.limit(),
            reason: reason.clone(),
            fix: fix.clone(),
        };
        wanted.iter().map(one).collect::<Vec<_>>()
    };
    let candidates = v2::candidates(place, pid, euid);
    let mut first_refusal = None;
    for base in &candidates {
        let ready = v2::check_base(base, wanted)
            .and_then(|()| v2::enable_controllers(h, base, wanted, pid));
        match ready {
            Ok(()) => {
                return make_v2_group(h, base, spec, wanted, name, Vec::new()).map_err(for_all)
            }
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    // No group takes everything: the caller's own group takes what it can, and each missing
    // controller is reported with its own reason.
    let refusal = first_refusal.unwrap_or_default();
    let Some(base) = candidates.first() else {
        return Err(for_all(refusal));
    };
    let mut have = Vec::new();
    let mut missing = Vec::new();
    for &c in wanted {
        match v2::check_base(base, &[c]) {
            Ok(()) => have.push(c),
            Err((reason, fix)) => missing.push(Problem {
                limit: c.limit(),
                reason,
                fix,
            }),
        }
    }
    if have.is_empty() || missing.is_empty() {
        return Err(for_all(refusal));
    }
    // A refusal is coming anyway: change nothing on the host.
    if !spec.best_effort {
        return Err(missing);
    }
    v2::enable_controllers(h, base, &have, pid).map_err(for_all)?;
    make_v2_group(h, base, spec, &have, name, missing).map_err(for_all)
}

fn make_v2_group(
    h: &Hierarchy,
    base: &Path,
    spec: &LimitSpec,
    controllers: &[Controller],
    name: &str,
    mut problems: Vec<Problem>,
) -> Result<(PathBuf, Vec<Controller>, Vec<Problem>), Refusal> {
    let fix = || "report this as a bug with the output of `palisade doctor`".to_string();
    let dir = make_group(h, base, name).map_err(|e| (e.to_string(), fix()))?;
    let mut applied = Vec::new();
    for &c in controllers {
        match v2::write_limits(&dir, spec, c) {
            Ok(()) => applied.push(c),
            Err(e) => problems.push(Problem {
                limit: c.limit(),
                reason: e.to_string(),
                fix: fix(),
            }),
        }
    }
    Ok((dir, applied, problems))
}

/// Run ids become directory names: keep them short and free of separators.
fn check_run_id(run_id: &str) -> Result<(), LimitsError> {
    let ok = (1..=64).contains(&run_id.len())
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !run_id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(LimitsError::RunId(run_id.to_string()))
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod spec_tests;

#[cfg(test)]
#[path = "fake_tests.rs"]
mod fake_tests;

#[cfg(test)]
#[path = "host_tests.rs"]
mod host_tests;

#[cfg(test)]
#[path = "rlimit_tests.rs"]
mod rlimit_tests;
