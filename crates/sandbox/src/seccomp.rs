//! The seccomp filter, installed last before `execve` so it need not allow any setup call.
//!
//! A deny-list, written as raw BPF so that every check this runtime depends on is visible here:
//! - the architecture is checked first; any other ABI (i386 through `int 0x80`) kills the
//!   process, so foreign syscall numbers can never alias allowed ones;
//! - on x86_64, numbers with the x32 bit set are refused, because `AUDIT_ARCH_X86_64` is shared
//!   with x32 and a deny-list keyed on plain numbers would miss them (seccompiler #74, kafel #19);
//! - `ioctl` commands are compared on their low 32 bits only, the width the kernel uses, so
//!   TIOCSTI with high bits set is caught too (CVE-2019-10063);
//! - `clone3` answers ENOSYS, so libc falls back to `clone`, whose flags a filter can read.
//!
//! A second, optional filter ([`install_guard`]) hands the calls that create a name to init,
//! which refuses protected names that do not exist yet (see `guard/`).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::sys::{SysError, SysResult};

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;

const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
const FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
/// Once init has read a notification, only a fatal signal interrupts the waiting call (5.19+),
/// so an operation init already performed is never restarted and performed twice.
const FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const CLONE_NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32
    | 0x80; // CLONE_NEWTIME

const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;

/// Syscalls refused with EPERM: kernel attack surface an agent's tools never need, and every
/// way to change the mount table, namespaces or another process's memory.
fn denied() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_userfaultfd,
        libc::SYS_perf_event_open,
        libc::SYS_bpf,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_setns,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_syslog,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_fanotify_init,
        libc::SYS_quotactl,
        libc::SYS_vhangup,
        libc::SYS_pidfd_getfd,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_iopl, libc::SYS_ioperm]);
    v.push(467); // open_tree_attr (6.15)
    v
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// Builds the program. Kept separate from installing it so tests can inspect and run it.
fn program() -> Vec<Insn> {
    let eperm = RET_ERRNO | libc::EPERM as u32;
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    p.extend([
        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, eperm),
    ]);
    for nr in denied() {
        p.extend([jump(BPF_JEQ_K, nr as u32, 0, 1), stmt(BPF_RET_K, eperm)]);
    }
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, enosys),
    ]);
    // clone and unshare: refuse any namespace flag in the (32-bit) flags argument.
    for nr in [libc::SYS_clone, libc::SYS_unshare] {
        p.extend([
            jump(BPF_JEQ_K, nr as u32, 0, 4),
            stmt(BPF_LD_W_ABS, off_arg_lo(0)),
            jump(BPF_JSET_K, CLONE_NS_FLAGS, 0, 1),
            stmt(BPF_RET_K, eperm),
            stmt(BPF_RET_K, RET_ALLOW),
        ]);
    }
    // personality: only the query (0xffffffff) and the default persona.
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_personality as u32, 0, 5),
        stmt(BPF_LD_W_ABS, off_arg_lo(0)),
        jump(BPF_JEQ_K, 0xffff_ffff, 2, 0),
        jump(BPF_JEQ_K, 0, 1, 0),
        stmt(BPF_RET_K, eperm),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    // ioctl: TIOCSTI and TIOCLINUX, compared on the low 32 bits of the command.
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_ioctl as u32, 0, 5),
        stmt(BPF_LD_W_ABS, off_arg_lo(1)),
        jump(BPF_JEQ_K, TIOCSTI, 1, 0),
        jump(BPF_JEQ_K, TIOCLINUX, 0, 1),
        stmt(BPF_RET_K, eperm),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

/// The calls that create a name, and where their flags are when only some flags create one.
/// `openat2` keeps its flags in a struct a filter cannot read: it answers ENOSYS, and libc and
/// programs fall back to `openat`.
fn guard_program() -> Vec<Insn> {
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        // Any other ABI is killed by the main filter; nothing to hand to init here.
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_ALLOW),
        stmt(BPF_LD_W_ABS, OFF_NR),
        jump(BPF_JEQ_K, libc::SYS_openat2 as u32, 0, 1),
        stmt(BPF_RET_K, enosys),
    ];
    // O_CREAT lives in the low 32 bits, the width the kernel reads the flags with.
    for (nr, flags_arg) in creating_opens() {
        p.extend([
            jump(BPF_JEQ_K, nr as u32, 0, 4),
            stmt(BPF_LD_W_ABS, off_arg_lo(flags_arg)),
            jump(BPF_JSET_K, libc::O_CREAT as u32, 0, 1),
            stmt(BPF_RET_K, RET_USER_NOTIF),
            stmt(BPF_RET_K, RET_ALLOW),
        ]);
    }
    for nr in creating_calls() {
        p.extend([
            jump(BPF_JEQ_K, nr as u32, 0, 1),
            stmt(BPF_RET_K, RET_USER_NOTIF),
        ]);
    }
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

fn creating_opens() -> Vec<(i64, u32)> {
    let mut v = vec![(libc::SYS_openat, 2)];
    #[cfg(target_arch = "x86_64")]
    v.push((libc::SYS_open, 1));
    v
}

/// Calls that always create a name (or fail).
fn creating_calls() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_mkdirat,
        libc::SYS_mknodat,
        libc::SYS_symlinkat,
        libc::SYS_linkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_creat,
        libc::SYS_mkdir,
        libc::SYS_mknod,
        libc::SYS_symlink,
        libc::SYS_link,
        libc::SYS_rename,
    ]);
    v
}

#[repr(C)]
struct Fprog {
    len: u16,
    filter: *const Insn,
}

fn set_filter(prog: &[Insn], flags: u32) -> libc::c_long {
    let fprog = Fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: fprog points at a live, well-formed program for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const Fprog,
        )
    }
}

/// Installs the filter on the calling (single-threaded) process. `no_new_privs` must be set.
pub fn install() -> SysResult<()> {
    if set_filter(&program(), 0) < 0 {
        return Err(SysError {
            call: "seccomp",
            arg: "SET_MODE_FILTER".into(),
            errno: crate::sys::errno(),
        });
    }
    Ok(())
}

/// Installs the guard filter and returns its notification listener, which init serves.
/// Must come before [`install`]: nothing may create a name between the two and `execve`.
pub fn install_guard() -> SysResult<OwnedFd> {
    let prog = guard_program();
    let mut ret = set_filter(
        &prog,
        FILTER_FLAG_NEW_LISTENER | FILTER_FLAG_WAIT_KILLABLE_RECV,
    );
    if ret < 0 && crate::sys::errno() == libc::EINVAL {
        // Before 5.19: a signal can interrupt a call init is serving (see guard/serve.rs).
        ret = set_filter(&prog, FILTER_FLAG_NEW_LISTENER);
    }
    if ret < 0 {
        return Err(SysError {
            call: "seccomp",
            arg: "SET_MODE_FILTER NEW_LISTENER".into(),
            errno: crate::sys::errno(),
        });
    }
    // SAFETY: the kernel returned a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

#[cfg(test)]
#[path = "seccomp_tests.rs"]
mod tests;
