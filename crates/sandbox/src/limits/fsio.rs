//! Reading and writing cgroup interface files, with the path in every error.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::detect::Hierarchy;
use super::spec::LimitsError;

fn io_err(op: &'static str, path: &Path, source: io::Error) -> LimitsError {
    LimitsError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, LimitsError> {
    fs::read_to_string(path).map_err(|e| io_err("read", path, e))
}

/// One `write(2)` of the whole value: cgroup files act on each write call, and never create
/// the file, since a missing interface file means a missing feature.
pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), LimitsError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io_err("open", path, e))?;
    let n = file
        .write(value.as_bytes())
        .map_err(|e| io_err("write", path, e))?;
    if n != value.len() {
        return Err(io_err(
            "write",
            path,
            io::Error::from(io::ErrorKind::WriteZero),
        ));
    }
    Ok(())
}

/// Flat keyed files such as `memory.events`: `key value` per line.
pub(crate) fn read_keyed(path: &Path) -> Result<BTreeMap<String, u64>, LimitsError> {
    let text = read_text(path)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect())
}

/// The pids listed in a group's `cgroup.procs`.
pub(crate) fn procs(dir: &Path) -> Result<Vec<i32>, LimitsError> {
    let text = read_text(&dir.join("cgroup.procs"))?;
    Ok(text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// Creates group `name` under `parent`; an existing one (same owner pid and run id) is reused.
pub(crate) fn make_group(h: &Hierarchy, parent: &Path, name: &str) -> Result<PathBuf, LimitsError> {
    let dir = parent.join(name);
    match fs::create_dir(&dir) {
        Ok(()) => {
            if let Some(populate) = h.populate {
                populate(&dir);
            }
            Ok(dir)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(io_err("mkdir", &dir, e)),
    }
}

/// `rmdir` of a group. The kernel answers EBUSY for a moment after the last process exited,
/// while it is still being torn down, so this retries for up to two seconds. A fake tree
/// (`fake`) holds real files, which cgroupfs would not.
pub(crate) fn remove_group(dir: &Path, fake: bool) -> Result<(), LimitsError> {
    let mut tries = 0;
    loop {
        let done = if fake {
            fs::remove_dir_all(dir)
        } else {
            fs::remove_dir(dir)
        };
        match done {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(io_err("rmdir", dir, e)),
        }
    }
}
