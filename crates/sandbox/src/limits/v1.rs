//! cgroup v1: one hierarchy per controller, so one group directory per controller.

use std::path::Path;

use super::fsio::{read_keyed, write_file};
use super::spec::{Controller, LimitHit, LimitSpec, LimitsError};
use super::v2::{cpu_quota_us, CPU_PERIOD_US};

pub(crate) const FIX: &str = "run palisade as root (cgroup v1 hierarchies are writable by root \
     only), or on a cgroup v2 host under a delegated cgroup: \
     systemd-run --user -p Delegate=yes --scope palisade run ...";

/// Writes the limit of controller `c` into its group `dir`.
pub(crate) fn write_limits(dir: &Path, spec: &LimitSpec, c: Controller) -> Result<(), LimitsError> {
    match c {
        Controller::Memory => {
            let Some(bytes) = spec.memory else {
                return Ok(());
            };
            write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
            // memsw (RAM + swap) exists only with swap accounting on. Without it, a zero
            // swappiness keeps the group's pages out of swap so the limit still stops it.
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write_file(&memsw, &bytes.to_string())
            } else {
                write_file(&dir.join("memory.swappiness"), "0")
            }
        }
        Controller::Pids => match spec.pids {
            Some(n) => write_file(&dir.join("pids.max"), &n.to_string()),
            None => Ok(()),
        },
        Controller::Cpu => match spec.cpus {
            Some(cpus) => {
                let quota = cpu_quota_us(cpus, CPU_PERIOD_US);
                write_file(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
            }
            None => Ok(()),
        },
    }
}

/// The limit of controller `c` that fired in its group `dir`, if any.
pub(crate) fn hit(dir: &Path, spec: &LimitSpec, c: Controller) -> Option<LimitHit> {
    match (c, spec.memory, spec.pids) {
        (Controller::Memory, Some(limit), _) => {
            // `oom_kill` in memory.oom_control counts the group's OOM kills (Linux 4.13+).
            let table = read_keyed(&dir.join("memory.oom_control")).ok()?;
            let kills = table.get("oom_kill").copied().unwrap_or(0);
            (kills > 0).then_some(LimitHit::Memory { limit, kills })
        }
        (Controller::Pids, _, Some(limit)) => {
            let table = read_keyed(&dir.join("pids.events")).ok()?;
            let refused = table.get("max").copied().unwrap_or(0);
            (refused > 0).then_some(LimitHit::Pids { limit, refused })
        }
        _ => None,
    }
}
