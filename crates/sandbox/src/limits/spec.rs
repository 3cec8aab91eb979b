//! What the user asked for, what can go wrong, and how both are worded for a person.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Resource limits for one run, already parsed from the policy and the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitSpec {
    /// Bytes of memory (RAM plus swap) the sandbox may use.
    pub memory: Option<u64>,
    /// Processes and threads alive at once in the sandbox.
    pub pids: Option<u64>,
    /// CPU time per wall second, in CPUs (1.5 = one and a half cores).
    pub cpus: Option<f64>,
    /// Open file descriptors per process.
    pub open_files: Option<u64>,
    /// Largest file a process may write, in bytes.
    pub file_size: Option<u64>,
    /// Run with the limits the host can enforce and report the others as warnings.
    pub best_effort: bool,
}

impl LimitSpec {
    /// Whether any limit needs a cgroup (the others are rlimits set in the command process).
    pub fn needs_cgroup(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpus.is_some()
    }

    /// Rejects values no backend could apply meaningfully.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let invalid = |limit, reason: &str| {
            Err(LimitsError::Invalid {
                limit,
                reason: reason.to_string(),
            })
        };
        // Below a few MiB the runtime of the sandbox itself cannot start.
        if self.memory.is_some_and(|m| m < MIN_MEMORY) {
            return invalid(Limit::Memory, "must be at least 4 MiB");
        }
        if self.pids == Some(0) {
            return invalid(Limit::Pids, "must be at least 1");
        }
        if let Some(cpus) = self.cpus {
            if !cpus.is_finite() || !(MIN_CPUS..=MAX_CPUS).contains(&cpus) {
                return invalid(Limit::Cpus, "must be between 0.01 and 4096");
            }
        }
        if self.open_files.is_some_and(|n| n < 3) {
            return invalid(
                Limit::OpenFiles,
                "must be at least 3 (stdin, stdout, stderr)",
            );
        }
        if self.file_size == Some(0) {
            return invalid(Limit::FileSize, "must be at least 1 byte");
        }
        Ok(())
    }

    /// The cgroup controllers this spec needs, in a fixed order.
    pub(crate) fn controllers(&self) -> Vec<Controller> {
        let mut out = Vec::new();
        if self.memory.is_some() {
            out.push(Controller::Memory);
        }
        if self.pids.is_some() {
            out.push(Controller::Pids);
        }
        if self.cpus.is_some() {
            out.push(Controller::Cpu);
        }
        out
    }
}

const MIN_MEMORY: u64 = 4 << 20;
const MIN_CPUS: f64 = 0.01;
const MAX_CPUS: f64 = 4096.0;

/// A cgroup controller Palisade uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// The kernel's name for it, as in `cgroup.controllers` and v1 mount options.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }

    /// The limit this controller enforces.
    pub fn limit(self) -> Limit {
        match self {
            Controller::Memory => Limit::Memory,
            Controller::Pids => Limit::Pids,
            Controller::Cpu => Limit::Cpus,
        }
    }
}

/// One user-visible limit, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Limit {
    Memory,
    Pids,
    Cpus,
    OpenFiles,
    FileSize,
    TmpSize,
}

impl Limit {
    pub const ALL: [Limit; 6] = [
        Limit::Memory,
        Limit::Pids,
        Limit::Cpus,
        Limit::OpenFiles,
        Limit::FileSize,
        Limit::TmpSize,
    ];

    pub fn flag(self) -> &'static str {
        match self {
            Limit::Memory => "--memory",
            Limit::Pids => "--pids",
            Limit::Cpus => "--cpus",
            Limit::OpenFiles => "--open-files",
            Limit::FileSize => "--file-size",
            Limit::TmpSize => "--tmp-size",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.flag())
    }
}

/// Why one limit cannot be enforced on this host, and what would make it work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub limit: Limit,
    pub reason: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot be enforced: {} (fix: {})",
            self.limit, self.reason, self.fix
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// Refusal: the host cannot enforce what was asked and best effort was not requested.
    #[error("{}; or pass --best-effort-limits to run without them", join(.0))]
    Unenforceable(Vec<Problem>),
    #[error("invalid {limit} value: {reason}")]
    Invalid { limit: Limit, reason: String },
    #[error("invalid run id {0:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ -")]
    RunId(String),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn join(problems: &[Problem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// A limit that stopped (or held back) the command, found after it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    /// The kernel's OOM killer killed `kills` processes at the memory limit.
    Memory { limit: u64, kills: u64 },
    /// The pids limit refused `refused` forks.
    Pids { limit: u64, refused: u64 },
    /// A process died of SIGXFSZ: it wrote past the file size limit.
    FileSize { limit: u64 },
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Memory { limit, kills } => {
                let what = if *kills == 1 {
                    "process killed"
                } else {
                    "processes killed"
                };
                write!(f, "memory limit {} reached: {what}", format_bytes(*limit))?;
                if *kills > 1 {
                    write!(f, " ({kills})")?;
                }
                Ok(())
            }
            LimitHit::Pids { limit, refused } => {
                let s = if *refused == 1 { "" } else { "s" };
                write!(
                    f,
                    "process limit {limit} reached: {refused} fork{s} refused"
                )
            }
            LimitHit::FileSize { limit } => {
                write!(
                    f,
                    "file size limit {} reached: process killed",
                    format_bytes(*limit)
                )
            }
        }
    }
}

impl LimitHit {
    /// The command died of `signal`: was that the file size rlimit?
    pub fn from_signal(spec: &LimitSpec, signal: i32) -> Option<LimitHit> {
        match spec.file_size {
            Some(limit) if signal == libc::SIGXFSZ => Some(LimitHit::FileSize { limit }),
            _ => None,
        }
    }
}

/// `536870912` -> `512 MiB`; sizes that are not a whole unit keep the next smaller unit.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}
