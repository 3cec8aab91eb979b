//! What the command inherits: a scrubbed environment and no descriptors but stdio.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use common::*;

const SECRETS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp_test_not_real"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-not-real"),
    ("AWS_ACCESS_KEY_ID", "AKIANOTREAL"),
    ("OPENAI_API_KEY", "sk-not-real"),
    ("MY_SERVICE_API_KEY", "svc-not-real"),
    ("DB_PASSWORD", "hunter2"),
];

fn run_env(t: &Scratch, flags: &[&str], names: &[&str]) -> Probe {
    let ops: Vec<String> = names.iter().map(|n| format!("env:{n}")).collect();
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let mut cmd = t.palisade();
    cmd.arg("run").args(flags).arg("--");
    cmd.args([python(), s(&t.probe)]).args(&ops);
    for (k, v) in SECRETS {
        cmd.env(k, v);
    }
    cmd.env("PALISADE_TEST_HARMLESS", "kept");
    probe_of(output(cmd))
}

#[test]
fn secret_variables_are_removed() {
    let t = Scratch::new("env-scrub");
    let mut names: Vec<&str> = SECRETS.iter().map(|(k, _)| *k).collect();
    names.push("PALISADE_TEST_HARMLESS");
    names.push("PATH");
    names.push("HOME");
    let p = run_env(&t, &[], &names);
    p.out.assert_ok();
    for (k, _) in SECRETS {
        p.expect(&format!("env:{k}"), &["ENOENT"]);
    }
    assert_eq!(p.ok_detail("env:PALISADE_TEST_HARMLESS"), "kept");
    assert_eq!(p.ok_detail("env:HOME"), s(&t.home));
    assert!(!p.ok_detail("env:PATH").is_empty());
}

#[test]
fn env_flag_passes_one_variable() {
    let t = Scratch::new("env-pass");
    let p = run_env(
        &t,
        &[
            "--env",
            "GITHUB_TOKEN",
            "--env",
            "PALISADE_SET=value=with=equals",
        ],
        &["GITHUB_TOKEN", "OPENAI_API_KEY", "PALISADE_SET"],
    );
    p.out.assert_ok();
    assert_eq!(p.ok_detail("env:GITHUB_TOKEN"), "ghp_test_not_real");
    p.expect("env:OPENAI_API_KEY", &["ENOENT"]);
    assert_eq!(p.ok_detail("env:PALISADE_SET"), "value=with=equals");
}

#[test]
fn config_env_pass_and_set_apply() {
    let t = Scratch::new("env-config");
    let cfg = t.root.join("env.toml");
    write(
        &cfg,
        "version = 1\n[env]\npass = [\"MY_SERVICE_API_KEY\"]\n[env.set]\nFROM_CONFIG = \"yes\"\n",
    );
    let p = run_env(
        &t,
        &["--config", &s(&cfg)],
        &["MY_SERVICE_API_KEY", "FROM_CONFIG", "GITHUB_TOKEN"],
    );
    p.out.assert_ok();
    assert_eq!(p.ok_detail("env:MY_SERVICE_API_KEY"), "svc-not-real");
    assert_eq!(p.ok_detail("env:FROM_CONFIG"), "yes");
    p.expect("env:GITHUB_TOKEN", &["ENOENT"]);
}

#[test]
fn only_stdio_descriptors_are_inherited() {
    let t = Scratch::new("fds");
    let leaked = std::fs::File::open(&t.probe).expect("open probe");
    let raw = leaked.as_raw_fd();
    let mut cmd = t.palisade();
    cmd.args(["run", "--", &python(), &s(&t.probe), "fds"]);
    // SAFETY: dup2 is async-signal-safe; it leaves fd 9 open across exec (no CLOEXEC).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let p = probe_of(output(cmd));
    drop(leaked);
    p.out.assert_ok();
    let fds: Vec<&str> = p
        .ok_detail("fds")
        .split(',')
        .map(|e| e.split("->").next().unwrap_or_default())
        .collect();
    assert_eq!(fds, ["0", "1", "2"], "{}", p.out);
}
