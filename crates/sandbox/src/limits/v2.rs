//! The unified hierarchy: one group holds every controller.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::detect::{can_create_under, Hierarchy, V2Place};
use super::fsio::{make_group, read_keyed, read_text, write_file};
use super::spec::{Controller, LimitHit, LimitSpec};

/// Period for `cpu.max`; the kernel's default, 100 ms.
pub(crate) const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas under 1 ms.
const CPU_MIN_QUOTA_US: u64 = 1_000;

const FIX_DELEGATE: &str = "run as root, or under a delegated cgroup: \
     systemd-run --user -p Delegate=yes --scope palisade run ...";

/// Why a controller cannot be used here: (reason, fix).
pub(crate) type Refusal = (String, String);

/// Parents to try for new groups, best first: the caller's own group, then for root (which
/// may limit anything) the top of the hierarchy, for when its own group cannot be used.
pub(crate) fn candidates(place: &V2Place, pid: i32, euid: u32) -> Vec<PathBuf> {
    let mut out = vec![own_base(place, pid)];
    if euid == 0 && !out.contains(&place.mount) {
        out.push(place.mount.clone());
    }
    out
}

/// After a previous run moved this process into its own leaf, the group to use is its parent.
fn own_base(place: &V2Place, pid: i32) -> PathBuf {
    let leaf = supervisor_leaf_name(pid);
    match (place.own.file_name(), place.own.parent()) {
        (Some(name), Some(parent)) if name.to_str() == Some(leaf.as_str()) => parent.to_path_buf(),
        _ => place.own.clone(),
    }
}

pub(crate) fn supervisor_leaf_name(pid: i32) -> String {
    format!("palisade-{pid}-supervisor")
}

pub(crate) fn check_base(base: &Path, wanted: &[Controller]) -> Result<(), Refusal> {
    let available = read_text(&base.join("cgroup.controllers")).map_err(|e| {
        (
            format!(
                "cannot read the cgroup v2 controllers of {}: {e}",
                base.display()
            ),
            fix_all(),
        )
    })?;
    let available: Vec<&str> = available.split_whitespace().collect();
    for c in wanted {
        if !available.contains(&c.name()) {
            return Err((
                format!(
                    "the {} controller is not delegated to {} (missing from cgroup.controllers)",
                    c.name(),
                    base.display()
                ),
                fix_controller(),
            ));
        }
    }
    can_create_under(base).map_err(|reason| (reason, FIX_DELEGATE.to_string()))?;
    if !super::detect::writable(&base.join("cgroup.subtree_control")) {
        let reason = format!("{}/cgroup.subtree_control is not writable", base.display());
        return Err((reason, FIX_DELEGATE.to_string()));
    }
    Ok(())
}

fn fix_all() -> String {
    format!("mount cgroup2 on /sys/fs/cgroup, or {FIX_DELEGATE}")
}

fn fix_controller() -> String {
    "delegate it: `systemctl edit user@.service` and add [Service] Delegate=cpu memory pids \
     (then log in again), or run as root"
        .to_string()
}

/// Turns `wanted` on for the children of `base`. A group with processes of its own cannot
/// pass controllers down ("no internal processes"); when this process is alone there it
/// moves into a leaf child and tries again.
pub(crate) fn enable_controllers(
    h: &Hierarchy,
    base: &Path,
    wanted: &[Controller],
    pid: i32,
) -> Result<(), Refusal> {
    let control = base.join("cgroup.subtree_control");
    let enabled = read_text(&control).map_err(|e| (e.to_string(), FIX_DELEGATE.to_string()))?;
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|c| !enabled.contains(&c.name()))
        .map(|c| format!("+{}", c.name()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let line = missing.join(" ");
    let first = match write_file(&control, &line) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let busy = matches!(&first, super::spec::LimitsError::Io { source, .. }
        if source.raw_os_error() == Some(libc::EBUSY));
    let procs = read_text(&base.join("cgroup.procs")).unwrap_or_default();
    let alone = procs.split_whitespace().all(|p| p == pid.to_string());
    if !busy || !alone {
        let reason = if busy {
            format!(
                "{} holds other processes, so it cannot pass controllers to a child group",
                base.display()
            )
        } else {
            format!("cannot enable {line} in {}: {first}", control.display())
        };
        return Err((reason, FIX_DELEGATE.to_string()));
    }
    let leaf = make_group(h, base, &supervisor_leaf_name(pid))
        .map_err(|e| (e.to_string(), FIX_DELEGATE.to_string()))?;
    write_file(&leaf.join("cgroup.procs"), &pid.to_string())
        .and_then(|()| write_file(&control, &line))
        .map_err(|e| (e.to_string(), FIX_DELEGATE.to_string()))
}

/// Writes the limits for `controllers` into a fresh group.
pub(crate) fn write_limits(
    dir: &Path,
    spec: &LimitSpec,
    c: Controller,
) -> Result<(), super::spec::LimitsError> {
    match c {
        Controller::Memory => {
            let Some(bytes) = spec.memory else {
                return Ok(());
            };
            write_file(&dir.join("memory.max"), &bytes.to_string())?;
            // Without this the balloon is paged out to swap and the limit only slows it down.
            let swap = dir.join("memory.swap.max");
            if swap.exists() {
                write_file(&swap, "0")?;
            }
            Ok(())
        }
        Controller::Pids => match spec.pids {
            Some(n) => write_file(&dir.join("pids.max"), &n.to_string()),
            None => Ok(()),
        },
        Controller::Cpu => match spec.cpus {
            Some(cpus) => {
                let quota = cpu_quota_us(cpus, CPU_PERIOD_US);
                write_file(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))
            }
            None => Ok(()),
        },
    }
}

pub(crate) fn cpu_quota_us(cpus: f64, period_us: u64) -> u64 {
    let quota = (cpus * period_us as f64).ceil() as u64;
    quota.max(CPU_MIN_QUOTA_US)
}

/// The limits that fired in group `dir`, from its event counters.
pub(crate) fn hits(dir: &Path, spec: &LimitSpec, controllers: &[Controller]) -> Vec<LimitHit> {
    let mut out = Vec::new();
    let count = |file: &str, key: &str| -> u64 {
        let table: BTreeMap<String, u64> = read_keyed(&dir.join(file)).unwrap_or_default();
        table.get(key).copied().unwrap_or(0)
    };
    if let (Some(limit), true) = (spec.memory, controllers.contains(&Controller::Memory)) {
        let kills = count("memory.events", "oom_kill");
        if kills > 0 {
            out.push(LimitHit::Memory { limit, kills });
        }
    }
    if let (Some(limit), true) = (spec.pids, controllers.contains(&Controller::Pids)) {
        let refused = count("pids.events", "max");
        if refused > 0 {
            out.push(LimitHit::Pids { limit, refused });
        }
    }
    out
}

/// `cgroup.kill` (Linux 5.14) kills the whole group at once, forks in flight included.
pub(crate) fn kill(dir: &Path) -> io::Result<bool> {
    let file = dir.join("cgroup.kill");
    if !file.exists() {
        return Ok(false);
    }
    write_file(&file, "1").map_err(|e| io::Error::other(e.to_string()))?;
    Ok(true)
}
