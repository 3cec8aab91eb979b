//! Where change sets live, and their metadata.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, manifest::Manifest, OverlayError, Result};

/// The directory holding every change set of this user.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum Status {
    Running,
    Exited { code: i32 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub workspace: PathBuf,
    pub command: Vec<String>,
    /// Seconds since the epoch.
    pub started: u64,
    pub status: Status,
    /// The supervisor that owns the run, with its start time (clock ticks since boot), so a
    /// reused pid is not mistaken for it.
    pub supervisor_pid: u32,
    pub supervisor_start: u64,
}

#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub dir: PathBuf,
    pub meta: Meta,
}

impl Store {
    pub fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// `$XDG_STATE_HOME/palisade/changes`, or `~/.local/state/palisade/changes`.
    pub fn default_root(home: &Path, xdg_state_home: Option<&Path>) -> PathBuf {
        let state = match xdg_state_home {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            _ => home.join(".local/state"),
        };
        state.join("palisade/changes")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new change set for a run of `command` on `workspace`, with its manifest taken now.
    pub fn create(&self, workspace: &Path, command: &[String]) -> Result<ChangeSet> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(&self.root).map_err(io_err(&self.root))?;
        let started = now_secs();
        let mut id = String::new();
        let mut dir = PathBuf::new();
        for n in 0..1000u32 {
            id = format!("{}-{:x}", compact_time(started), std::process::id() + n);
            dir = self.root.join(&id);
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&dir)(e)),
            }
        }
        let ws_meta = std::fs::metadata(workspace).map_err(io_err(workspace))?;
        let upper = dir.join("upper");
        let work = dir.join("work");
        for d in [&upper, &work] {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(d)
                .map_err(io_err(d))?;
        }
        // The merged root takes the upper root's mode: keep the workspace's.
        let mode = ws_meta.permissions().mode() & 0o7777;
        std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(&upper))?;
        // And its owner, where we may set it (root on another user's workspace): the sandbox
        // then sees the same root directory as in direct mode.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::fs::MetadataExt;
            std::os::unix::fs::lchown(&upper, Some(ws_meta.uid()), Some(ws_meta.gid()))
                .map_err(io_err(&upper))?;
        }
        let (pid, start) = self_identity();
        let cs = ChangeSet {
            dir,
            meta: Meta {
                id,
                workspace: workspace.to_path_buf(),
                command: command.to_vec(),
                started,
                status: Status::Running,
                supervisor_pid: pid,
                supervisor_start: start,
            },
        };
        cs.save_meta()?;
        let manifest = Manifest::take(workspace)?;
        manifest.write(&cs.manifest_path())?;
        Ok(cs)
    }

    /// Every change set, oldest first. Unreadable ones are skipped.
    pub fn list(&self) -> Result<Vec<ChangeSet>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut out: Vec<ChangeSet> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|id| self.open(id).ok()))
            .collect();
        out.sort_by(|a, b| (a.meta.started, &a.meta.id).cmp(&(b.meta.started, &b.meta.id)));
        Ok(out)
    }

    pub fn open(&self, id: &str) -> Result<ChangeSet> {
        let valid = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(OverlayError::NotFound(id.to_string()));
        }
        let dir = self.root.join(id);
        let path = dir.join("meta.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OverlayError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let meta: Meta = serde_json::from_str(&text).map_err(|e| OverlayError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        Ok(ChangeSet { dir, meta })
    }
}

impl ChangeSet {
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest")
    }

    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::read(&self.manifest_path())
    }

    /// Writes `meta.json` beside and renames it over, so a kill never leaves half a file.
    pub fn save_meta(&self) -> Result<()> {
        let path = self.dir.join("meta.json");
        let tmp = self.dir.join("meta.json.tmp");
        let text = serde_json::to_string_pretty(&self.meta).map_err(|e| OverlayError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    pub fn finish(&mut self, code: i32) -> Result<()> {
        self.meta.status = Status::Exited { code };
        self.save_meta()
    }

    /// Whether the supervisor that owns this run is still alive.
    pub fn is_live(&self) -> bool {
        self.meta.status == Status::Running
            && process_start(self.meta.supervisor_pid) == Some(self.meta.supervisor_start)
    }

    /// A short word for `list`.
    pub fn state(&self) -> String {
        match (&self.meta.status, self.is_live()) {
            (Status::Running, true) => "running".into(),
            (Status::Running, false) => "interrupted".into(),
            (Status::Exited { code }, _) => format!("exit {code}"),
        }
    }

    /// Deletes the whole change set. overlayfs leaves `work/work` without any permission.
    pub fn remove(&self) -> Result<()> {
        make_removable(&self.dir);
        std::fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }
}

fn make_removable(p: &Path) {
    let Ok(meta) = p.symlink_metadata() else {
        return;
    };
    if meta.is_dir() {
        if meta.permissions().mode() & 0o700 != 0o700 {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
        }
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                make_removable(&e.path());
            }
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn self_identity() -> (u32, u64) {
    let pid = std::process::id();
    (pid, process_start(pid).unwrap_or(0))
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
fn process_start(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Days since the epoch to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn split_time(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, m, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    (y, m, d, s / 3600, s % 3600 / 60, s % 60)
}

fn compact_time(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = split_time(secs);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// `2026-12-04 17:32:18 UTC`.
pub fn format_time(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = split_time(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}
