//! The filter is run through a tiny BPF interpreter, so each decision is checked as data.

use super::*;

fn run(prog: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let ins = prog[pc];
        match ins.code {
            BPF_LD_W_ABS => {
                let o = ins.k as usize;
                acc = u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
            }
            BPF_RET_K => return ins.k,
            BPF_JEQ_K | BPF_JGE_K | BPF_JSET_K => {
                let hit = match ins.code {
                    BPF_JEQ_K => acc == ins.k,
                    BPF_JGE_K => acc >= ins.k,
                    _ => acc & ins.k != 0,
                };
                pc += if hit {
                    ins.jt as usize
                } else {
                    ins.jf as usize
                };
            }
            other => panic!("unexpected opcode {other:#x}"),
        }
        pc += 1;
    }
}

fn decide(nr: i64, args: [u64; 6]) -> u32 {
    run(&program(), AUDIT_ARCH, nr as u32, args)
}

const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

#[test]
fn refuses_kernel_surface_and_allows_ordinary_calls() {
    assert_eq!(decide(libc::SYS_io_uring_setup, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_keyctl, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_ptrace, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_mount, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_fsopen, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_setns, [0; 6]), EPERM);
    assert_eq!(decide(libc::SYS_read, [0; 6]), RET_ALLOW);
    assert_eq!(decide(libc::SYS_openat, [0; 6]), RET_ALLOW);
    assert_eq!(decide(libc::SYS_socket, [0; 6]), RET_ALLOW);
}

#[test]
fn clone_with_namespace_flags_is_refused_and_plain_fork_allowed() {
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(decide(libc::SYS_clone, [sigchld, 0, 0, 0, 0, 0]), RET_ALLOW);
    let ns = (libc::CLONE_NEWUSER as u64) | sigchld;
    assert_eq!(decide(libc::SYS_clone, [ns, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        decide(libc::SYS_unshare, [libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(
        decide(libc::SYS_unshare, [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        decide(libc::SYS_clone3, [0; 6]),
        RET_ERRNO | libc::ENOSYS as u32
    );
}

#[test]
fn tiocsti_is_refused_on_the_low_32_bits() {
    let high = 0xdead_beef_0000_0000u64 | TIOCSTI as u64;
    assert_eq!(
        decide(libc::SYS_ioctl, [0, TIOCSTI as u64, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(decide(libc::SYS_ioctl, [0, high, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        decide(libc::SYS_ioctl, [0, TIOCLINUX as u64, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(
        decide(libc::SYS_ioctl, [0, libc::TCGETS, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

#[test]
fn personality_changes_are_refused_but_queries_allowed() {
    assert_eq!(
        decide(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(decide(libc::SYS_personality, [0, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        decide(libc::SYS_personality, [0x0040000, 0, 0, 0, 0, 0]),
        EPERM
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_and_foreign_arch_are_refused() {
    let x32_read = X32_SYSCALL_BIT | libc::SYS_read as u32;
    assert_eq!(run(&program(), AUDIT_ARCH, x32_read, [0; 6]), EPERM);
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    assert_eq!(
        run(&program(), AUDIT_ARCH_I386, 3, [0; 6]),
        RET_KILL_PROCESS
    );
}

fn guard_decide(nr: i64, args: [u64; 6]) -> u32 {
    run(&guard_program(), AUDIT_ARCH, nr as u32, args)
}

#[test]
fn guard_hands_over_opens_only_with_o_creat() {
    let creat = libc::O_CREAT as u64;
    let plain = (libc::O_WRONLY | libc::O_TRUNC) as u64;
    let at = libc::AT_FDCWD as u64;
    assert_eq!(
        guard_decide(libc::SYS_openat, [at, 0, creat | plain, 0o644, 0, 0]),
        RET_USER_NOTIF
    );
    assert_eq!(
        guard_decide(libc::SYS_openat, [at, 0, plain, 0, 0, 0]),
        RET_ALLOW
    );
    // O_TMPFILE creates no name until linkat, which is handed over itself.
    let tmpfile = (libc::O_TMPFILE | libc::O_RDWR) as u64;
    assert_eq!(
        guard_decide(libc::SYS_openat, [at, 0, tmpfile, 0o600, 0, 0]),
        RET_ALLOW
    );
    // The flags are a C int: bits above 32 neither hide nor fake O_CREAT.
    let high = 0xffff_ffff_0000_0000u64;
    assert_eq!(
        guard_decide(libc::SYS_openat, [at, 0, high | creat, 0, 0, 0]),
        RET_USER_NOTIF
    );
    assert_eq!(
        guard_decide(libc::SYS_openat, [at, 0, high, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        guard_decide(libc::SYS_openat2, [at, 0, 0, 24, 0, 0]),
        RET_ERRNO | libc::ENOSYS as u32
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn guard_reads_the_flags_of_legacy_open_from_its_second_argument() {
    let creat = libc::O_CREAT as u64;
    assert_eq!(
        guard_decide(libc::SYS_open, [0, creat, 0o644, 0, 0, 0]),
        RET_USER_NOTIF
    );
    assert_eq!(
        guard_decide(libc::SYS_open, [0, 0, creat, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(guard_decide(libc::SYS_creat, [0; 6]), RET_USER_NOTIF);
}

#[test]
fn guard_hands_over_every_call_that_creates_a_name_and_nothing_else() {
    for nr in creating_calls() {
        assert_eq!(guard_decide(nr, [0; 6]), RET_USER_NOTIF, "syscall {nr}");
    }
    for nr in [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_unlinkat,
        libc::SYS_fstat,
        libc::SYS_close,
        libc::SYS_execve,
    ] {
        assert_eq!(guard_decide(nr, [0; 6]), RET_ALLOW, "syscall {nr}");
    }
    #[cfg(target_arch = "x86_64")]
    for nr in [
        libc::SYS_mkdir,
        libc::SYS_rename,
        libc::SYS_symlink,
        libc::SYS_link,
    ] {
        assert!(creating_calls().contains(&nr), "syscall {nr}");
    }
    assert!(creating_calls().contains(&libc::SYS_renameat2));
    assert!(creating_calls().contains(&libc::SYS_mknodat));
}

#[test]
fn guard_leaves_foreign_abis_to_the_main_filter() {
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    assert_eq!(
        run(&guard_program(), AUDIT_ARCH_I386, 39, [0; 6]),
        RET_ALLOW
    );
    // Combined with the main filter, the stricter verdict (kill) wins.
    assert_eq!(
        run(&program(), AUDIT_ARCH_I386, 39, [0; 6]),
        RET_KILL_PROCESS
    );
}
