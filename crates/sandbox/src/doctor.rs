//! What this host can enforce, layer by layer, and the fix for each layer it can't.

use std::path::Path;

#[derive(Debug, Clone)]
pub struct Report {
    pub layer: &'static str,
    pub ok: bool,
    /// Without this layer `palisade run` refuses to start.
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

pub fn check() -> Vec<Report> {
    vec![user_namespaces(), landlock(), seccomp(), overlayfs()]
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Tries to create the namespaces `palisade run` needs, in a throwaway child.
pub fn probe_namespaces() -> Result<(), i32> {
    // SAFETY: fork in a process that only probes; the child calls unshare and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(crate::sys::errno());
    }
    if pid == 0 {
        let flags =
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWNET;
        // SAFETY: unshare in the throwaway child.
        let code = if unsafe { libc::unshare(flags) } == 0 {
            0
        } else {
            crate::sys::errno()
        };
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(code.min(255)) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        e => Err(e),
    }
}

fn user_namespaces() -> Report {
    let apparmor = read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let debian = read("/proc/sys/kernel/unprivileged_userns_clone");
    let max = read("/proc/sys/user/max_user_namespaces");
    match probe_namespaces() {
        Ok(()) => Report {
            layer: "user namespaces",
            ok: true,
            required: true,
            detail: "user, mount, pid and net namespaces can be created".into(),
            fix: None,
        },
        Err(e) => {
            let fix = if apparmor.as_deref() == Some("1") {
                "AppArmor restricts unprivileged user namespaces: allow them for palisade with a \
                 profile (/etc/apparmor.d/palisade: `abi <abi/4.0>, include <tunables/global> \
                 profile palisade /path/to/palisade flags=(unconfined) { userns, }`, then \
                 `apparmor_parser -r /etc/apparmor.d/palisade`), or system-wide with \
                 `sysctl kernel.apparmor_restrict_unprivileged_userns=0`"
            } else if debian.as_deref() == Some("0") {
                "`sysctl kernel.unprivileged_userns_clone=1`"
            } else if max.as_deref() == Some("0") {
                "`sysctl user.max_user_namespaces=15000`"
            } else {
                "the kernel refuses user namespaces to this user (in a container? run palisade on \
                 the host, or give the container user-namespace support)"
            };
            Report {
                layer: "user namespaces",
                ok: false,
                required: true,
                detail: format!("cannot create namespaces: {}", crate::sys::errno_text(e)),
                fix: Some(fix.into()),
            }
        }
    }
}

fn landlock() -> Report {
    let abi = crate::landlock::kernel_abi();
    Report {
        layer: "landlock",
        ok: abi >= 1,
        required: false,
        detail: if abi >= 1 {
            format!("ABI {abi} (second filesystem layer enforced)")
        } else {
            "not available: mounts alone confine the filesystem".into()
        },
        fix: (abi < 1).then(|| {
            "boot a kernel >= 5.13 with `lsm=...,landlock` on its command line".to_string()
        }),
    }
}

fn seccomp() -> Report {
    let actions = read("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    let ok = actions.contains("errno") && actions.contains("kill_process");
    Report {
        layer: "seccomp",
        ok,
        required: true,
        detail: if ok {
            format!("filter actions: {actions}")
        } else {
            "seccomp filters unavailable".into()
        },
        fix: (!ok).then(|| "use a kernel built with CONFIG_SECCOMP_FILTER=y".to_string()),
    }
}

fn overlayfs() -> Report {
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let ok = fs.lines().any(|l| l.trim_end().ends_with("overlay"))
        || Path::new("/sys/module/overlay").exists();
    Report {
        layer: "overlayfs",
        ok,
        required: false,
        detail: if ok {
            "available (for the overlay workspace mode, not in this version yet)".into()
        } else {
            "not loaded".into()
        },
        fix: (!ok).then(|| "`modprobe overlay` (needed only for --fs overlay)".to_string()),
    }
}
