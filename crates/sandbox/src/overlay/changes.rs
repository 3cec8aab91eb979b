//! What a change set would do to the host workspace: its upper layer read against the host
//! workspace as it is now.
//!
//! overlayfs (mounted with `userxattr`) records in the upper layer:
//! - a new or modified file, symlink or directory as itself (a modified file is a full copy);
//! - a deletion as a whiteout, a character device 0:0 at the deleted name;
//! - a directory that replaced a lower one (deleted and made again) as an opaque directory,
//!   marked with the `user.overlay.opaque` xattr: nothing of the lower one shows through.
//!
//! Renamed files are a new name plus a whiteout. A renamed directory that had lower content
//! would need `redirect_dir`, which unprivileged overlayfs does not create: `rename(2)` fails
//! with EXDEV and `mv` copies, so it too arrives as a new tree plus a whiteout.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{io_err, ChangeSet, OverlayError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    File,
    Dir,
    Symlink,
    /// A fifo or socket: shown, never applied.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Added(Entry),
    Deleted(Entry),
    /// Same type on both sides; the content, the mode (old, new), or both differ.
    Modified {
        content: bool,
        mode: Option<(u32, u32)>,
    },
    /// A different type now (a file where a directory was, ...).
    Replaced {
        was: Entry,
        now: Entry,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Relative to the workspace.
    pub path: PathBuf,
    pub kind: ChangeKind,
    /// A deletion implied by a directory the run replaced as a whole: it has no whiteout of
    /// its own, so it can only be discarded with that directory.
    pub implied: bool,
}

pub fn compute(cs: &ChangeSet) -> Result<Vec<Change>> {
    compute_dirs(&cs.upper(), &cs.meta.workspace)
}

/// The changes `upper` makes to `host`, parents before children.
pub fn compute_dirs(upper: &Path, host: &Path) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, host, Path::new(""), false, true, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub(crate) fn entry_of(ft: std::fs::FileType) -> Entry {
    if ft.is_dir() {
        Entry::Dir
    } else if ft.is_file() {
        Entry::File
    } else if ft.is_symlink() {
        Entry::Symlink
    } else {
        Entry::Other
    }
}

pub(crate) fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn walk(
    upper: &Path,
    host: &Path,
    rel: &Path,
    opaque: bool,
    host_dir: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let udir = upper.join(rel);
    let mut names: Vec<OsString> = std::fs::read_dir(&udir)
        .map_err(io_err(&udir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(io_err(&udir))?;
    names.sort();
    if opaque && host_dir {
        let seen: BTreeSet<&OsString> = names.iter().collect();
        let hdir = host.join(rel);
        if let Ok(list) = std::fs::read_dir(&hdir) {
            for e in list.flatten() {
                let (name, Ok(ft)) = (e.file_name(), e.file_type()) else {
                    continue;
                };
                if !seen.contains(&name) {
                    out.push(Change {
                        path: rel.join(name),
                        kind: ChangeKind::Deleted(entry_of(ft)),
                        implied: true,
                    });
                }
            }
        }
    }
    for name in names {
        let path = rel.join(&name);
        let up = upper.join(&path);
        let um = up.symlink_metadata().map_err(io_err(&up))?;
        let hm = if host_dir {
            host.join(&path).symlink_metadata().ok()
        } else {
            None
        };
        let was = hm.as_ref().map(|m| entry_of(m.file_type()));
        let push = |out: &mut Vec<Change>, kind| {
            out.push(Change {
                path: path.clone(),
                kind,
                implied: false,
            })
        };
        if is_whiteout(&um) {
            if let Some(was) = was {
                push(out, ChangeKind::Deleted(was));
            }
            continue;
        }
        let now = entry_of(um.file_type());
        if now == Entry::Dir && xattr(&up, "user.overlay.redirect").is_some() {
            return Err(OverlayError::Corrupt {
                path: up,
                why: "a redirected (renamed) directory; this version cannot read those".into(),
            });
        }
        match (was, &hm) {
            (None, _) => push(out, ChangeKind::Added(now)),
            (Some(w), Some(hm)) if w == now => {
                if let Some(kind) = compare(&up, &um, &host.join(&path), hm)? {
                    push(out, kind);
                }
            }
            (Some(w), _) => push(out, ChangeKind::Replaced { was: w, now }),
        }
        if now == Entry::Dir {
            let child_opaque = opaque_dir(&up);
            let child_host_dir = was == Some(Entry::Dir);
            walk(upper, host, &path, child_opaque, child_host_dir, out)?;
        }
    }
    Ok(())
}

fn opaque_dir(up: &Path) -> bool {
    xattr(up, "user.overlay.opaque").is_some_and(|v| v.first() == Some(&b'y'))
}

/// Same-type entries: what differs, if anything.
fn compare(
    up: &Path,
    um: &std::fs::Metadata,
    hp: &Path,
    hm: &std::fs::Metadata,
) -> Result<Option<ChangeKind>> {
    let (umode, hmode) = (um.mode() & 0o7777, hm.mode() & 0o7777);
    let mode = (umode != hmode && !um.file_type().is_symlink()).then_some((hmode, umode));
    let content = match entry_of(um.file_type()) {
        Entry::File => um.len() != hm.len() || !same_bytes(up, hp)?,
        Entry::Symlink => {
            std::fs::read_link(up).map_err(io_err(up))?
                != std::fs::read_link(hp).map_err(io_err(hp))?
        }
        Entry::Dir | Entry::Other => false,
    };
    Ok((content || mode.is_some()).then_some(ChangeKind::Modified { content, mode }))
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let mut fa = std::fs::File::open(a).map_err(io_err(a))?;
    let mut fb = std::fs::File::open(b).map_err(io_err(b))?;
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(io_err(a))?;
        let m = read_full(&mut fb, &mut bb).map_err(io_err(b))?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An extended attribute of `path` itself (not of a symlink's target).
pub(crate) fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated and `buf` is writable for its length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let len = usize::try_from(r).ok()?;
    buf.truncate(len);
    Some(buf)
}
