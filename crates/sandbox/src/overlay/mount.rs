//! Mounting the overlaid workspace, inside the sandbox's mount namespace (runs in init: no
//! logging here).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::plan::WriteLayer;
use crate::sys::{self, SysResult};

/// Where a tmpfs layer is mounted in the staging root, which the sandbox never sees.
const LAYER: &str = "/layer";

/// Mounts an overlayfs at `dst` with the host directory `lower` below and `layer` above.
/// `userxattr` keeps overlayfs's own bookkeeping (opaque directories) in `user.*` xattrs,
/// which is what lets an unprivileged user namespace mount it at all (Linux 5.11).
pub fn mount_overlay(
    lower: &Path,
    dst: &Path,
    layer: &WriteLayer,
    flags: libc::c_ulong,
) -> SysResult<()> {
    let (upper, work) = match layer {
        WriteLayer::Store { upper, work } => (under_old(upper), under_old(work)),
        WriteLayer::Tmpfs { size } => {
            let base = Path::new(LAYER);
            sys::mkdir(base, 0o700)?;
            let data = match size {
                Some(s) => format!("mode=0700,size={s}"),
                None => "mode=0700".to_string(),
            };
            sys::mount(None, base, Some("tmpfs"), flags, Some(&data))?;
            let (upper, work) = (base.join("upper"), base.join("work"));
            sys::mkdir(&upper, 0o755)?;
            sys::mkdir(&work, 0o700)?;
            // The merged root shows the upper root's mode: keep the workspace's.
            if let Ok(m) = lower.metadata() {
                let mode = m.permissions().mode() & 0o7777;
                let _ = std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(mode));
            }
            (upper, work)
        }
    };
    let data = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        lower.display(),
        upper.display(),
        work.display()
    );
    sys::mount(None, dst, Some("overlay"), flags, Some(&data))
}

fn under_old(p: &Path) -> PathBuf {
    Path::new("/oldroot").join(p.strip_prefix("/").unwrap_or(p))
}

/// Characters overlayfs's option parser would split or unescape in a layer path.
pub fn unsafe_for_overlay(p: &Path) -> bool {
    p.to_string_lossy()
        .chars()
        .any(|c| matches!(c, ',' | ':' | '\\' | '\n') || c == char::REPLACEMENT_CHARACTER)
}
