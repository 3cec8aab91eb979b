//! The process and kernel surface: no capabilities, no_new_privs, seccomp, refused
//! namespace creation, io_uring, TIOCSTI and ptrace, its own pid and uts namespaces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

#[test]
fn no_capabilities_no_new_privs_and_seccomp() {
    let t = Scratch::new("caps");
    let fields = [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];
    let ops: Vec<String> = fields.iter().map(|f| format!("status:{f}")).collect();
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let p = t.probe(&[], &ops);
    p.out.assert_ok();
    for f in &fields[..5] {
        assert_eq!(
            p.ok_detail(&format!("status:{f}")),
            "0000000000000000",
            "{f}\n{}",
            p.out
        );
    }
    assert_eq!(p.ok_detail("status:NoNewPrivs"), "1");
    assert_eq!(p.ok_detail("status:Seccomp"), "2");
}

#[test]
fn new_namespaces_are_refused() {
    let t = Scratch::new("unshare");
    let p = t.probe(&[], &["unshare:user", "unshare:mount", "unshare:net"]);
    p.out.assert_ok();
    p.expect("unshare:user", &["EPERM"]);
    p.expect("unshare:mount", &["EPERM"]);
    p.expect("unshare:net", &["EPERM"]);
    for flag in ["-U", "-m", "-Ur"] {
        let out = t.run(&[], &["unshare", flag, "true"]);
        assert_ne!(out.code(), 0, "unshare {flag} succeeded\n{out}");
        assert!(
            out.stderr.contains("Operation not permitted"),
            "unshare {flag}: {out}"
        );
    }
}

#[test]
fn io_uring_tiocsti_and_ptrace_are_refused() {
    let t = Scratch::new("syscalls");
    let p = t.probe(
        &[],
        &["io_uring", "tiocsti", "tiocsti:1", "ptrace:1", "ptrace:2"],
    );
    p.out.assert_ok();
    p.expect("io_uring", &["EPERM", "ENOSYS"]);
    p.expect("tiocsti", &["EPERM"]);
    p.expect("tiocsti:1", &["EPERM"]);
    p.expect("ptrace:1", &["EPERM"]);
    p.expect("ptrace:2", &["EPERM"]);
}

#[test]
fn tiocsti_through_python_fcntl_is_refused() {
    let t = Scratch::new("tiocsti-fcntl");
    let script = "import fcntl, os, termios, errno\n\
                  m, s = os.openpty()\n\
                  try:\n    fcntl.ioctl(s, termios.TIOCSTI, b'x')\n    print('OK')\n\
                  except OSError as e:\n    print(errno.errorcode[e.errno])\n";
    let out = t.run(&[], &[&python(), "-c", script]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "EPERM", "{out}");
}

#[test]
fn own_pid_namespace_with_palisade_init() {
    let t = Scratch::new("pidns");
    let out = t.sh(
        &[],
        "cat /proc/1/comm; ls /proc | grep -c '^[0-9][0-9]*$'; echo $$",
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "palisade", "pid 1 is not palisade's init\n{out}");
    let count: usize = lines[1].parse().expect("count");
    assert!(count <= 6, "{count} processes visible inside\n{out}");
    let own: i32 = lines[2].parse().expect("pid");
    assert!(
        own < 10,
        "the shell has pid {own}: not a fresh pid namespace\n{out}"
    );
}

#[test]
fn hostname_is_the_sandboxes_own() {
    let t = Scratch::new("uts");
    let out = t.run(&[], &["cat", "/proc/sys/kernel/hostname"]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "palisade", "{out}");
}

#[test]
fn runs_with_the_callers_uid() {
    let t = Scratch::new("uid");
    let out = t.sh(&[], "id -u; id -g");
    out.assert_ok();
    // SAFETY: getgid has no preconditions.
    let gid = unsafe { libc::getgid() };
    assert_eq!(out.stdout, format!("{}\n{gid}\n", uid()), "{out}");
}

#[test]
fn a_pty_works_inside() {
    let t = Scratch::new("pty");
    let p = t.probe(&[], &["pty"]);
    p.out.assert_ok();
    assert!(p.ok_detail("pty").starts_with("/dev/pts/"), "{}", p.out);
    if which("script").is_none() {
        skip(
            "a_pty_works_inside (script)",
            "util-linux `script` is not installed",
        );
        return;
    }
    let out = t.run(&[], &["script", "-qec", "tty", "/dev/null"]);
    out.assert_ok();
    assert!(out.stdout.trim().starts_with("/dev/pts/"), "{out}");
}
