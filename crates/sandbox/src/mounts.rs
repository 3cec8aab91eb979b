//! Builds the sandbox's root from a [`FsPlan`], inside the new mount namespace.
//!
//! The order, and why:
//! 1. Make every mount private, so nothing here propagates back to the host.
//! 2. Mount a staging tmpfs on `/tmp` (only in this namespace) and pivot into it, keeping the
//!    host tree at `/oldroot`. Every bind source is then read from `/oldroot`, which no rule
//!    ever covers, while the new tree is assembled at `/newroot`.
//! 3. Bind the whole host tree at `/newroot` and make it read-only, nosuid and nodev
//!    recursively with `mount_setattr(AT_RECURSIVE)`: a remount with `MS_REC` would leave
//!    nested mounts writable (the hakoniwa pitfall in research/rust-sandboxes.md §2.2).
//! 4. Apply the plan's operations shallowest first (the plan is already sorted).
//! 5. Fresh `/dev` (minimal nodes, a new devpts instance) and `/proc` (only possible in the
//!    new pid namespace, and only while the host's proc is still visible at `/oldroot/proc`).
//!    Files the supervisor generated (the per-sandbox CA bundle) are bound read-only over
//!    existing paths here too, from copies in the staging tmpfs the sandbox never sees.
//! 6. Turn the mask tmpfs instances read-only, now that carve-out mount points exist in them.
//! 7. `pivot_root(".", ".")` into `/newroot`, detach the old stack, and `chdir("/")`: a missing
//!    chdir after pivot_root is a known escape.

use std::path::{Path, PathBuf};

use crate::overlay;
use crate::plan::{Action, FsPlan};
use crate::sys::{self, SysResult};

const STAGE: &str = "/tmp";
const MS_BIND_REC: libc::c_ulong = libc::MS_BIND | libc::MS_REC;

pub fn build_root(plan: &FsPlan, files: &[(PathBuf, Vec<u8>)]) -> SysResult<()> {
    // 1.
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    // 2.
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        None,
        Path::new(STAGE),
        Some("tmpfs"),
        flags,
        Some("mode=0700"),
    )?;
    sys::chdir(Path::new(STAGE))?;
    for d in ["oldroot", "newroot", "empty"] {
        sys::mkdir(Path::new(d), 0o700)?;
    }
    sys::touch(Path::new("empty/file"), 0o000)?;
    sys::pivot_root(Path::new("."), Path::new("oldroot"))?;
    sys::chdir(Path::new("/"))?;
    // 3.
    let new = Path::new("/newroot");
    sys::mount(Some(Path::new("/oldroot")), new, None, MS_BIND_REC, None)?;
    let ro = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    sys::mount_setattr(new, ro, true)?;
    // 4.
    let mut scratch: Vec<PathBuf> = Vec::new(); // tmpfs instances we may create mount points in
    let mut masks: Vec<PathBuf> = Vec::new();
    let mut overlays: Vec<PathBuf> = Vec::new();
    for op in &plan.ops {
        let dst = under("/newroot", &op.path);
        // Inside an overlaid workspace a writable bind must come from the overlay itself:
        // the host directory below it would let writes through to the host.
        let from_overlay = matches!(op.action, Action::BindWritable | Action::Anchor)
            && overlays.iter().any(|o| dst.starts_with(o));
        let src = if from_overlay {
            dst.clone()
        } else {
            under("/oldroot", &op.path)
        };
        let hides = matches!(op.action, Action::MaskDir { .. } | Action::MaskFile);
        if hides && src.symlink_metadata().is_err() {
            // Gone since the plan was made (a socket in /run that came and went): there is
            // nothing left to hide, and failing here would let any host process stop runs.
            continue;
        }
        match &op.action {
            Action::BindWritable | Action::Anchor => {
                mount_point(&dst, src.is_dir(), &scratch)?;
                sys::mount(Some(&src), &dst, None, MS_BIND_REC, None)?;
                let set = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
                sys::mount_setattr(&dst, set, true)?;
            }
            Action::BindReadOnly => {
                mount_point(&dst, src.is_dir(), &scratch)?;
                sys::mount(Some(&src), &dst, None, MS_BIND_REC, None)?;
                sys::mount_setattr(&dst, ro, true)?;
            }
            Action::MaskDir { traversable } => {
                match mount_point(&dst, true, &scratch) {
                    Err(e) if e.errno == libc::ENOENT => continue,
                    r => r?,
                }
                let mode = if *traversable {
                    "mode=0111"
                } else {
                    "mode=0000"
                };
                let data = format!("{mode},size=64k,nr_inodes=1024");
                sys::mount(None, &dst, Some("tmpfs"), flags, Some(&data))?;
                scratch.push(dst.clone());
                masks.push(dst);
            }
            Action::MaskFile => {
                match mount_point(&dst, false, &scratch) {
                    Err(e) if e.errno == libc::ENOENT => continue,
                    r => r?,
                }
                let empty = Path::new("/empty/file");
                match sys::mount(Some(empty), &dst, None, libc::MS_BIND, None) {
                    // Vanished between the check above and the mount: nothing to hide.
                    Err(e) if e.errno == libc::ENOENT => continue,
                    r => r?,
                }
                sys::mount_setattr(&dst, ro, false)?;
            }
            Action::Overlay(layer) => {
                mount_point(&dst, true, &scratch)?;
                overlay::mount::mount_overlay(&src, &dst, layer, flags)?;
                overlays.push(dst);
            }
            Action::Tmpfs { size } => {
                mount_point(&dst, true, &scratch)?;
                let data = match size {
                    Some(s) => format!("mode=1777,size={s}"),
                    None => "mode=1777".to_string(),
                };
                sys::mount(None, &dst, Some("tmpfs"), flags, Some(&data))?;
                scratch.push(dst);
            }
        }
    }
    // 5.
    place_files(files)?;
    build_dev(&new.join("dev"))?;
    build_proc(&new.join("proc"))?;
    // 6.
    for m in &masks {
        sys::mount_setattr(m, ro, false)?;
    }
    // 7.
    sys::chdir(new)?;
    sys::pivot_root(Path::new("."), Path::new("."))?;
    sys::umount_detach(Path::new("."))?;
    sys::chdir(Path::new("/"))
}

/// Binds generated content read-only over existing paths of the new root.
fn place_files(files: &[(PathBuf, Vec<u8>)]) -> SysResult<()> {
    for (i, (path, content)) in files.iter().enumerate() {
        let dst = under("/newroot", path);
        if dst.symlink_metadata().is_err() {
            continue; // no such file on this host: the variables pointing at the copy suffice
        }
        let src = PathBuf::from(format!("/empty/data-{i}"));
        sys::write_file(&src, content)?;
        sys::mount(Some(&src), &dst, None, libc::MS_BIND, None)?;
        let ro = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
        sys::mount_setattr(&dst, ro, false)?;
    }
    Ok(())
}

fn under(prefix: &str, path: &Path) -> PathBuf {
    Path::new(prefix).join(path.strip_prefix("/").unwrap_or(path))
}

/// Makes sure `dst` exists as a mount point. It may only be created inside a tmpfs this
/// sandbox mounted (a mask with a carve-out below it, or the private `/tmp`): anywhere else a
/// missing target would mean creating a file on the host.
fn mount_point(dst: &Path, dir: bool, scratch: &[PathBuf]) -> SysResult<()> {
    if dst.symlink_metadata().is_ok() {
        return Ok(());
    }
    let Some(base) = scratch.iter().find(|s| dst.starts_with(s)) else {
        return Err(sys::SysError {
            call: "mountpoint",
            arg: dst.display().to_string(),
            errno: libc::ENOENT,
        });
    };
    let rel = dst.strip_prefix(base).unwrap_or(dst);
    let mut cur = base.clone();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        if i + 1 == parts.len() {
            break;
        }
        // Intermediate directories inside a mask are traversable but not listable.
        sys::mkdir(&cur, 0o111)?;
    }
    if dir {
        sys::mkdir(dst, 0o755)
    } else {
        sys::touch(dst, 0o644)
    }
}

fn build_dev(dev: &Path) -> SysResult<()> {
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    sys::mount(None, dev, Some("tmpfs"), flags, Some("mode=0755,size=64k"))?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let dst = dev.join(node);
        sys::touch(&dst, 0o666)?;
        let src = Path::new("/oldroot/dev").join(node);
        sys::mount(Some(&src), &dst, None, libc::MS_BIND, None)?;
        sys::mount_setattr(&dst, sys::MOUNT_ATTR_NOSUID, false)?;
    }
    let pts = dev.join("pts");
    sys::mkdir(&pts, 0o755)?;
    sys::mount(
        None,
        &pts,
        Some("devpts"),
        flags,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    symlink("pts/ptmx", &dev.join("ptmx"))?;
    let shm = dev.join("shm");
    sys::mkdir(&shm, 0o1777)?;
    sys::mount(
        None,
        &shm,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=1777"),
    )?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, &dev.join(name))?;
    }
    sys::mount_setattr(dev, sys::MOUNT_ATTR_RDONLY, false)
}

fn build_proc(proc_dir: &Path) -> SysResult<()> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(None, proc_dir, Some("proc"), flags, None)?;
    // Kernel knobs stay read-only even where the user namespace would allow a write.
    for sub in ["sys", "sysrq-trigger", "irq", "bus"] {
        let p = proc_dir.join(sub);
        if p.exists() {
            sys::mount(Some(&p), &p, None, MS_BIND_REC, None)?;
            let ro = sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
            sys::mount_setattr(&p, ro, true)?;
        }
    }
    Ok(())
}

fn symlink(target: &str, link: &Path) -> SysResult<()> {
    std::os::unix::fs::symlink(target, link).map_err(|e| sys::SysError {
        call: "symlink",
        arg: link.display().to_string(),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })
}
