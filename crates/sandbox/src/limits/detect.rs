//! Where this process's cgroups live, and whether this user may create groups under them.
//!
//! Groups are created under the caller's *own* cgroup in each hierarchy, never beside it, so a
//! sandbox stays inside whatever limits its caller already has, and so a non-root caller can
//! use the subtree systemd delegated to it.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::spec::{Controller, LimitsError};

/// The cgroup directories this process sits in.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    /// The unified (v2) hierarchy, when one is mounted and holds this process.
    pub v2: Option<V2Place>,
    /// The caller's own cgroup directory for each v1 controller that is mounted.
    pub v1: BTreeMap<Controller, PathBuf>,
    /// The kernel counts `RLIMIT_NPROC` per user namespace (Linux 5.14+).
    pub nproc_per_userns: bool,
    /// Only fakes set this: mimics the kernel filling a new group directory with its files.
    pub(crate) populate: Option<fn(&Path)>,
}

/// The caller's position in the unified hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Place {
    /// Where the hierarchy is mounted (its root group, as far as this mount shows).
    pub mount: PathBuf,
    /// The caller's own group directory, under `mount`.
    pub own: PathBuf,
}

/// Where the groups for one controller are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    V1(PathBuf),
    V2,
    Nowhere,
}

impl Hierarchy {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn detect() -> Result<Hierarchy, LimitsError> {
        let read = |path: &str| {
            fs::read_to_string(path).map_err(|source| LimitsError::Io {
                op: "read",
                path: PathBuf::from(path),
                source,
            })
        };
        let mut h =
            Hierarchy::from_proc(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?);
        h.nproc_per_userns = read("/proc/sys/kernel/osrelease")
            .is_ok_and(|release| kernel_at_least(&release, (5, 14)));
        Ok(h)
    }

    /// Pure part of [`Hierarchy::detect`], on the text of the two proc files.
    pub fn from_proc(mountinfo: &str, proc_cgroup: &str) -> Hierarchy {
        let mounts = parse_mountinfo(mountinfo);
        let mut out = Hierarchy::default();
        for (controllers, path) in parse_proc_cgroup(proc_cgroup) {
            if controllers.is_empty() {
                let found = mounts.iter().filter(|m| m.v2).find_map(|m| m.locate(&path));
                if let Some((mount, own)) = found {
                    out.v2 = Some(V2Place { mount, own });
                }
                continue;
            }
            for c in Controller::ALL {
                if !controllers.iter().any(|name| name == c.name()) {
                    continue;
                }
                let mount = mounts.iter().filter(|m| !m.v2 && m.has(c.name()));
                if let Some((_, own)) = mount.into_iter().find_map(|m| m.locate(&path)) {
                    out.v1.insert(c, own);
                }
            }
        }
        out
    }

    /// A controller bound to a v1 hierarchy is unavailable in v2, so v1 wins when mounted.
    pub(crate) fn place(&self, c: Controller) -> Place {
        match (self.v1.get(&c), &self.v2) {
            (Some(dir), _) => Place::V1(dir.clone()),
            (None, Some(_)) => Place::V2,
            (None, None) => Place::Nowhere,
        }
    }
}

struct CgroupMount {
    v2: bool,
    /// The path inside the hierarchy that this mount shows at its mount point.
    root: String,
    point: PathBuf,
    options: Vec<String>,
}

impl CgroupMount {
    fn has(&self, controller: &str) -> bool {
        self.options.iter().any(|o| o == controller)
    }

    /// The directory of cgroup `path` under this mount, when the mount shows it.
    fn locate(&self, path: &str) -> Option<(PathBuf, PathBuf)> {
        let rest = if self.root == "/" {
            path
        } else {
            let rest = path.strip_prefix(self.root.as_str())?;
            if !rest.is_empty() && !rest.starts_with('/') {
                return None;
            }
            rest
        };
        let rest = rest.trim_start_matches('/');
        let own = if rest.is_empty() {
            self.point.clone()
        } else {
            self.point.join(rest)
        };
        Some((self.point.clone(), own))
    }
}

fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(root), Some(point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        let (Some(fstype), Some(super_opts)) = (fields.get(dash + 1), fields.get(dash + 3)) else {
            continue;
        };
        let v2 = match *fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        out.push(CgroupMount {
            v2,
            root: unescape(root),
            point: PathBuf::from(unescape(point)),
            options: super_opts.split(',').map(str::to_string).collect(),
        });
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `hierarchy-id:controllers:path` lines; the v2 line has no controllers.
fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let names = controllers
            .split(',')
            .filter(|c| !c.is_empty() && !c.starts_with("name="))
            .map(str::to_string)
            .collect::<Vec<_>>();
        // A named v1 hierarchy without controllers (name=systemd) is not the v2 line.
        if names.is_empty() && !controllers.is_empty() {
            continue;
        }
        out.push((names, path.to_string()));
    }
    out
}

/// Whether this process's effective ids may write `path` (creating entries, for a directory).
pub(crate) fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let ret = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    ret == 0
}

/// Can this user create a group under `dir` and move processes into it?
pub(crate) fn can_create_under(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{} does not exist", dir.display()));
    }
    // Moving a process needs write access to cgroup.procs of the common ancestor of its old
    // and new group; the caller's own group is that ancestor.
    for path in [dir.to_path_buf(), dir.join("cgroup.procs")] {
        if !writable(&path) {
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            return Err(format!("{} is not writable by uid {uid}", path.display()));
        }
    }
    Ok(())
}

/// Whether a kernel release string such as `6.18.44-foo` is at least `want` (major, minor).
pub(crate) fn kernel_at_least(release: &str, want: (u32, u32)) -> bool {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= want,
        _ => false,
    }
}
