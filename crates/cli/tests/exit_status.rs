//! Exit status of `palisade run`: the command's code, 128+N on signal N, 125 for Palisade's own
//! failures (with a located message for a bad config), 126 not executable, 127 not found.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn command_exit_codes_pass_through() {
    let t = Scratch::new("exit-codes");
    t.run(&[], &["true"]).assert_code(0);
    t.sh(&[], "exit 3").assert_code(3);
    t.sh(&[], "exit 255").assert_code(255);
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let t = Scratch::new("exit-signal");
    t.sh(&[], "kill -9 $$").assert_code(128 + 9);
    t.sh(&[], "kill -15 $$").assert_code(128 + 15);
}

#[test]
fn not_found_is_127() {
    let t = Scratch::new("exit-127");
    let out = t.run(&[], &["palisade-no-such-command-xyz"]);
    out.assert_code(127);
    assert!(out.stderr.contains("not found"), "{out}");
    t.run(&[], &["./missing-script"]).assert_code(127);
}

#[test]
fn not_executable_is_126() {
    let t = Scratch::new("exit-126");
    write(&t.ws.join("script.sh"), "#!/bin/sh\necho hi\n");
    chmod(&t.ws.join("script.sh"), 0o644);
    let out = t.run(&[], &["./script.sh"]);
    out.assert_code(126);
    assert!(!out.stdout.contains("hi"), "{out}");
    // A directory is not executable either.
    mkdirs(&t.ws.join("dir"));
    t.run(&[], &["./dir"]).assert_code(126);
}

#[test]
fn bad_config_is_125_with_file_line_column_and_key() {
    let t = Scratch::new("exit-125");
    let cfg = t.root.join("bad.toml");
    write(&cfg, "version = 1\n\n[filesystem]\nallow_wirte = [\"x\"]\n");
    write(&t.ws.join("ran"), "");
    let out = t.run(&["--config", &s(&cfg)], &["rm", "ran"]);
    out.assert_code(125);
    let want = format!("{}:4:1", s(&cfg));
    assert!(
        out.stderr.contains(&want),
        "no {want} in the message\n{out}"
    );
    assert!(out.stderr.contains("allow_wirte"), "{out}");
    assert!(
        t.ws.join("ran").exists(),
        "the command ran despite a bad config"
    );

    let typed = t.root.join("typed.toml");
    write(&typed, "version = 1\n[limits]\npids = \"many\"\n");
    let out = t.run(&["--config", &s(&typed)], &["true"]);
    out.assert_code(125);
    assert!(out.stderr.contains(&format!("{}:3:", s(&typed))), "{out}");
    assert!(out.stderr.contains("pids"), "{out}");

    let missing = t.root.join("missing.toml");
    t.run(&["--config", &s(&missing)], &["true"])
        .assert_code(125);
}

#[test]
fn sigterm_to_palisade_reaches_the_command() {
    let t = Scratch::new("sigterm");
    let mut cmd = t.palisade();
    cmd.args(["run", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start palisade");
    // Give the command time to start; a signal before that would hit the supervisor only.
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("palisade did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(128 + 15), "status {status}");
}

#[test]
fn stdin_and_stdout_pass_through() {
    use std::io::Write;
    let t = Scratch::new("stdio");
    let mut cmd = t.palisade();
    cmd.args(["run", "--", "sh", "-c", "tr a-z A-Z; echo err >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start palisade");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello sandbox\n").expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO SANDBOX\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("err"),
        "{out:?}"
    );
}
