//! The per-run group: moving processes in, reading which limit fired, killing, removing.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::detect::{Hierarchy, Place};
use super::fsio::{procs, remove_group, write_file};
use super::spec::{Controller, LimitHit, LimitSpec, LimitsError};
use super::{v1, v2};

/// The cgroup(s) of one run. Dropping it removes them, killing what is left inside.
#[derive(Debug)]
pub struct Cgroup {
    /// The v2 group and the controllers limited in it.
    pub(crate) v2: Option<(PathBuf, Vec<Controller>)>,
    /// One group per v1 controller.
    pub(crate) v1: Vec<(Controller, PathBuf)>,
    pub(crate) spec: LimitSpec,
    /// Built on a fake tree (tests): directories hold real files.
    pub(crate) fake: bool,
    pub(crate) removed: bool,
}

impl Cgroup {
    pub(crate) fn empty(spec: &LimitSpec) -> Cgroup {
        Cgroup {
            v2: None,
            v1: Vec::new(),
            spec: spec.clone(),
            fake: false,
            removed: false,
        }
    }

    /// Every group directory of this run.
    pub fn dirs(&self) -> Vec<&Path> {
        let v2 = self.v2.iter().map(|(dir, _)| dir.as_path());
        v2.chain(self.v1.iter().map(|(_, dir)| dir.as_path()))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v2.is_none() && self.v1.is_empty()
    }

    /// Moves process `pid` (all its threads) into the run's groups. Call it before the
    /// process may fork the command, so nothing escapes the limits.
    pub fn add_pid(&self, pid: i32) -> Result<(), LimitsError> {
        for dir in self.dirs() {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes still in the run's groups.
    pub fn pids(&self) -> Vec<i32> {
        let mut all: Vec<i32> = self
            .dirs()
            .iter()
            .flat_map(|d| procs(d).unwrap_or_default())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Every limit that fired during the run, memory first.
    pub fn limit_hits(&self) -> Vec<LimitHit> {
        let mut out = Vec::new();
        if let Some((dir, controllers)) = &self.v2 {
            out.extend(v2::hits(dir, &self.spec, controllers));
        }
        for (c, dir) in &self.v1 {
            out.extend(v1::hit(dir, &self.spec, *c));
        }
        out.sort_by_key(|hit| !matches!(hit, LimitHit::Memory { .. }));
        out
    }

    /// The limit that most likely stopped the command: an OOM kill wins over refused forks.
    pub fn limit_hit(&self) -> Option<LimitHit> {
        self.limit_hits().into_iter().next()
    }

    /// SIGKILLs everything left in the run's groups and waits (up to 5 s) until they are gone.
    pub fn kill_all(&self) {
        if let Some((dir, _)) = &self.v2 {
            if !self.fake && v2::kill(dir).unwrap_or(false) {
                wait_empty(self);
                return;
            }
        }
        // Without cgroup.kill: signal what is listed until the list stays empty. The pids
        // limit bounds how many forks can race with this loop.
        for _ in 0..500 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Removes the run's groups, first killing anything still inside them.
    pub fn remove(mut self) -> Result<(), LimitsError> {
        self.remove_dirs()
    }

    pub(crate) fn remove_dirs(&mut self) -> Result<(), LimitsError> {
        if self.removed {
            return Ok(());
        }
        if !self.fake && !self.pids().is_empty() {
            self.kill_all();
        }
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(e) = remove_group(dir, self.fake) {
                first_err.get_or_insert(e);
            }
        }
        self.removed = true;
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = self.remove_dirs();
    }
}

fn wait_empty(cg: &Cgroup) {
    for _ in 0..500 {
        if cg.pids().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A group younger than this is left alone by the sweep: its owner may live in another pid
/// namespace (so look dead from here) and not have moved its command in yet.
pub const SWEEP_MIN_AGE: Duration = Duration::from_secs(30);

/// Removes empty `palisade-<pid>-*` groups left by supervisors that died (crash, kill -9),
/// under this process's own cgroups. Returns the groups removed.
pub fn sweep_stale() -> Vec<PathBuf> {
    match Hierarchy::detect() {
        // SAFETY: getpid and geteuid have no preconditions.
        Ok(h) => sweep_stale_in(
            &h,
            unsafe { libc::getpid() },
            unsafe { libc::geteuid() },
            SWEEP_MIN_AGE,
        ),
        Err(_) => Vec::new(),
    }
}

/// [`sweep_stale`] on a given hierarchy, for the process `self_pid`.
pub fn sweep_stale_in(h: &Hierarchy, self_pid: i32, euid: u32, min_age: Duration) -> Vec<PathBuf> {
    let mut parents: Vec<PathBuf> = Vec::new();
    for c in Controller::ALL {
        match h.place(c) {
            Place::V1(dir) => parents.push(dir),
            Place::V2 => {
                if let Some(place) = &h.v2 {
                    parents.extend(v2::candidates(place, self_pid, euid));
                }
            }
            Place::Nowhere => {}
        }
    }
    parents.sort();
    parents.dedup();
    let mut removed = Vec::new();
    for parent in parents {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let owner = entry.file_name().to_str().and_then(owner_pid);
            let Some(owner) = owner else { continue };
            if owner == self_pid || alive(owner) || !old_enough(&dir, min_age) {
                continue;
            }
            if !procs(&dir).map(|p| p.is_empty()).unwrap_or(false) {
                continue;
            }
            let gone = if h.populate.is_some() {
                fs::remove_dir_all(&dir)
            } else {
                fs::remove_dir(&dir)
            };
            if gone.is_ok() {
                removed.push(dir);
            }
        }
    }
    removed
}

/// `palisade-<pid>-<run id>` -> pid.
pub(crate) fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("palisade-")?;
    let (pid, tail) = rest.split_once('-')?;
    if tail.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 0)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn old_enough(dir: &Path, min_age: Duration) -> bool {
    if min_age.is_zero() {
        return true;
    }
    let modified = fs::metadata(dir).and_then(|m| m.modified());
    let age = modified
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|age| age >= min_age)
}
