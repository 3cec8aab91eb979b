//! Applying a change set to the host workspace, or discarding it, in whole or in part.
//!
//! Apply never loses data: a path whose host entry changed since the run started (its stamp
//! differs from the manifest) is refused unless forced, each file is written beside its
//! destination, synced and renamed over it, and whatever was applied or discarded leaves the
//! upper layer, so the change set always holds exactly what is still pending. The change set
//! is removed once nothing is pending.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::changes::{compute, is_whiteout, Change, ChangeKind, Entry};
use super::manifest::{Manifest, Stamp};
use super::{ChangeSet, OverlayError, Result};

#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<PathBuf>,
    /// Paths left pending, with the reason.
    pub refused: Vec<(PathBuf, String)>,
    /// Nothing was left pending, so the change set is gone.
    pub finished: bool,
}

fn selected(path: &Path, select: &[PathBuf]) -> bool {
    select.is_empty() || select.iter().any(|s| path.starts_with(s))
}

/// Applies the changes at or below `select` (every change when empty).
pub fn apply(cs: &ChangeSet, select: &[PathBuf], force: bool) -> Result<Outcome> {
    if cs.is_live() {
        return Err(OverlayError::Live(cs.meta.id.clone()));
    }
    let manifest = cs.manifest()?;
    let ws = cs.meta.workspace.as_path();
    let upper = cs.upper();
    let mut out = Outcome::default();
    for c in compute(cs)?
        .into_iter()
        .filter(|c| selected(&c.path, select))
    {
        if let Some((p, _)) = out.refused.iter().find(|(p, _)| c.path.starts_with(p)) {
            let why = format!("{} was not applied", p.display());
            out.refused.push((c.path, why));
            continue;
        }
        let checked = if force {
            Ok(())
        } else {
            unchanged(ws, &manifest, &c)
        };
        match checked.and_then(|()| apply_one(ws, &upper, &c)) {
            Ok(()) => out.done.push(c.path),
            Err(why) => out.refused.push((c.path, why)),
        }
    }
    out.finished = finish_if_empty(cs)?;
    Ok(out)
}

/// Drops the changes at or below `select` from the change set (all of it when empty).
pub fn discard(cs: &ChangeSet, select: &[PathBuf]) -> Result<Outcome> {
    if cs.is_live() {
        return Err(OverlayError::Live(cs.meta.id.clone()));
    }
    let mut out = Outcome::default();
    if select.is_empty() {
        cs.remove()?;
        out.finished = true;
        return Ok(out);
    }
    let upper = cs.upper();
    for c in compute(cs)?
        .into_iter()
        .filter(|c| selected(&c.path, select))
    {
        if c.implied {
            if let Some(dir) = c.path.parent().filter(|d| selected(d, select)) {
                // The whole replaced directory goes: the host's shows through again.
                match std::fs::remove_dir_all(upper.join(dir)) {
                    Ok(()) => out.done.push(c.path),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.done.push(c.path),
                    Err(e) => out.refused.push((c.path, e.to_string())),
                }
                continue;
            }
            let why = "deleted because the run replaced its directory as a whole; \
                       discard that directory instead"
                .to_string();
            out.refused.push((c.path, why));
            continue;
        }
        let up = upper.join(&c.path);
        let r = match (&c.kind, up.symlink_metadata()) {
            (_, Err(_)) => Ok(()), // went with a discarded parent
            (
                ChangeKind::Modified {
                    mode: Some((old, _)),
                    ..
                },
                Ok(m),
            ) if m.is_dir() => std::fs::set_permissions(&up, std::fs::Permissions::from_mode(*old)),
            (_, Ok(m)) if m.is_dir() => std::fs::remove_dir_all(&up),
            // In a replaced directory nothing of the host's shows through: put its copy back.
            (ChangeKind::Modified { .. }, Ok(_)) if in_opaque(&upper, &c.path) => {
                restore_copy(&cs.meta.workspace.join(&c.path), &up)
            }
            (_, Ok(_)) => std::fs::remove_file(&up),
        };
        match r {
            Ok(()) => out.done.push(c.path),
            Err(e) => out.refused.push((c.path, e.to_string())),
        }
    }
    out.finished = finish_if_empty(cs)?;
    Ok(out)
}

fn finish_if_empty(cs: &ChangeSet) -> Result<bool> {
    if compute(cs)?.is_empty() {
        cs.remove()?;
        return Ok(true);
    }
    Ok(false)
}

/// Why applying `c` would be refused without `--force`, if it would: its host entry changed
/// since the run started.
pub fn conflict(cs: &ChangeSet, manifest: &Manifest, c: &Change) -> Option<String> {
    unchanged(&cs.meta.workspace, manifest, c).err()
}

/// `Err(why)` when the host entry at the change's path (or anything below it, for a
/// directory the change removes) is not what it was when the run started.
fn unchanged(ws: &Path, manifest: &Manifest, c: &Change) -> std::result::Result<(), String> {
    let check = |rel: &Path| -> std::result::Result<(), String> {
        let start = manifest.get(rel);
        let now = Stamp::of(&ws.join(rel));
        let why = match (start, now) {
            (None, None) => return Ok(()),
            (Some(a), Some(b)) if a.same(&b) => return Ok(()),
            (None, Some(_)) => "created on the host during the run",
            (Some(_), None) => "removed on the host during the run",
            (Some(_), Some(_)) => "changed on the host since the run started",
        };
        if rel == c.path {
            Err(format!("{why}; use --force to overwrite it"))
        } else {
            Err(format!("{} was {why}; use --force", rel.display()))
        }
    };
    check(&c.path)?;
    let removes_dir = matches!(
        c.kind,
        ChangeKind::Deleted(Entry::Dir)
            | ChangeKind::Replaced {
                was: Entry::Dir,
                ..
            }
    );
    if removes_dir {
        for (p, _) in manifest.below(&c.path) {
            check(p)?;
        }
        let mut now = Vec::new();
        host_tree(&ws.join(&c.path), &c.path, &mut now);
        for p in now {
            check(&p)?;
        }
    }
    Ok(())
}

fn host_tree(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for e in list.flatten() {
        let child = rel.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            host_tree(&e.path(), &child, out);
        }
        out.push(child);
    }
}

fn apply_one(ws: &Path, upper: &Path, c: &Change) -> std::result::Result<(), String> {
    let dst = ws.join(&c.path);
    let src = upper.join(&c.path);
    ensure_parents(ws, upper, &c.path)?;
    let s = |e: std::io::Error| e.to_string();
    match &c.kind {
        ChangeKind::Deleted(_) => {
            remove_host(&dst).map_err(s)?;
            if src.symlink_metadata().is_ok_and(|m| is_whiteout(&m)) {
                std::fs::remove_file(&src).map_err(s)?;
            }
        }
        ChangeKind::Added(now) | ChangeKind::Replaced { now, .. } => {
            if *now == Entry::Other {
                return Err("a fifo or socket; not applied".into());
            }
            if matches!(c.kind, ChangeKind::Replaced { .. }) {
                remove_host(&dst).map_err(s)?;
            }
            put(&src, &dst, *now).map_err(s)?;
            drop_from_upper(upper, &c.path).map_err(s)?;
        }
        ChangeKind::Modified { content: true, .. } => {
            let now = super::changes::entry_of(src.symlink_metadata().map_err(s)?.file_type());
            put(&src, &dst, now).map_err(s)?;
            drop_from_upper(upper, &c.path).map_err(s)?;
        }
        ChangeKind::Modified {
            content: false,
            mode,
        } => {
            let new = mode.map(|(_, n)| n).unwrap_or(0o644);
            let is_dir = src.is_dir();
            std::fs::set_permissions(
                &dst,
                std::fs::Permissions::from_mode(safe_mode(new, is_dir)),
            )
            .map_err(s)?;
            if !is_dir {
                drop_from_upper(upper, &c.path).map_err(s)?;
            }
        }
    }
    Ok(())
}

/// No set-user-ID or set-group-ID file comes out of a sandbox: whoever applies would own it.
fn safe_mode(mode: u32, dir: bool) -> u32 {
    if dir {
        mode & 0o7777
    } else {
        mode & 0o1777
    }
}

/// Creates the missing host directories above `rel` (as the upper layer has them) and
/// refuses to write through anything on the host that is not a directory.
fn ensure_parents(ws: &Path, upper: &Path, rel: &Path) -> std::result::Result<(), String> {
    let mut parents: Vec<&Path> = rel.ancestors().skip(1).collect();
    parents.reverse();
    for a in parents.into_iter().filter(|a| !a.as_os_str().is_empty()) {
        let host = ws.join(a);
        match host.symlink_metadata() {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(format!(
                    "{} is not a directory on the host; apply it first",
                    a.display()
                ))
            }
            Err(_) => {
                let m = upper
                    .join(a)
                    .symlink_metadata()
                    .map_err(|e| e.to_string())?;
                if !m.is_dir() {
                    return Err(format!(
                        "{} is not a directory in the change set",
                        a.display()
                    ));
                }
                put(&upper.join(a), &host, Entry::Dir).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

fn remove_host(dst: &Path) -> std::io::Result<()> {
    match dst.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(dst),
        Ok(_) => std::fs::remove_file(dst),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Puts the upper entry `src` at `dst`: files and symlinks beside and renamed over, synced.
fn put(src: &Path, dst: &Path, what: Entry) -> std::io::Result<()> {
    let meta = src.symlink_metadata()?;
    let parent = dst.parent().unwrap_or(Path::new("/"));
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.palisade-{}", std::process::id()));
    match what {
        Entry::Dir => {
            if !dst.is_dir() {
                std::fs::create_dir(dst)?;
            }
            let mode = safe_mode(meta.permissions().mode(), true);
            return std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode));
        }
        Entry::File => {
            let _ = std::fs::remove_file(&tmp);
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let copied = std::io::copy(&mut std::fs::File::open(src)?, &mut out)
                .and_then(|_| out.flush())
                .and_then(|()| {
                    let mode = safe_mode(meta.permissions().mode(), false);
                    out.set_permissions(std::fs::Permissions::from_mode(mode))
                })
                .and_then(|()| out.sync_all())
                .and_then(|()| std::fs::rename(&tmp, dst));
            if copied.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            copied?;
        }
        Entry::Symlink => {
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(std::fs::read_link(src)?, &tmp)?;
            std::fs::rename(&tmp, dst)?;
        }
        Entry::Other => {
            return Err(std::io::Error::other("a fifo or socket; not applied"));
        }
    }
    std::fs::File::open(parent)?.sync_all()
}

/// Removes an applied file or symlink from the upper layer, unless a replaced (opaque)
/// directory holds it: there its removal would read as a deletion. The copy left matches the
/// host, so it shows no change. Directories stay (children may still be pending) and show no
/// change once the host has them.
fn drop_from_upper(upper: &Path, rel: &Path) -> std::io::Result<()> {
    let src = upper.join(rel);
    if in_opaque(upper, rel) || src.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    std::fs::remove_file(src)
}

fn in_opaque(upper: &Path, rel: &Path) -> bool {
    rel.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| {
            super::changes::xattr(&upper.join(a), "user.overlay.opaque")
                .is_some_and(|v| v.first() == Some(&b'y'))
        })
}

/// Replaces the upper entry `up` with a copy of the host's `host`.
fn restore_copy(host: &Path, up: &Path) -> std::io::Result<()> {
    let m = host.symlink_metadata()?;
    std::fs::remove_file(up)?;
    if m.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(host)?, up)
    } else {
        std::fs::copy(host, up)?;
        std::fs::set_permissions(up, m.permissions())
    }
}
