//! `palisade check` and `palisade doctor`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

#[test]
fn check_prints_the_policy_and_the_mount_plan() {
    let t = Scratch::new("check");
    write(&t.home.join(".ssh/id_rsa"), "k\n");
    write(&t.ws.join(".env"), "A=1\n");
    t.host_git(&t.ws, &["init", "-q"]);
    let extra = t.root.join("cache");
    mkdirs(&extra);
    let mut c = t.palisade();
    c.args(["check", "--allow-write", &s(&extra), "--deny-read", "notes"]);
    write(&t.ws.join("notes/n.txt"), "n\n");
    let out = output(c);
    out.assert_ok();
    let plan_line = |what: &str, path: &std::path::Path| {
        let p = s(path);
        out.stdout
            .lines()
            .any(|l| l.starts_with('#') && l.contains(what) && l.trim_end().ends_with(&p))
    };
    assert!(out.stdout.contains("[filesystem]"), "{out}");
    assert!(out.stdout.contains("~/.ssh"), "{out}");
    assert!(
        plan_line("writable", &t.ws),
        "workspace not writable in plan\n{out}"
    );
    assert!(
        plan_line("writable", &extra),
        "--allow-write missing\n{out}"
    );
    assert!(
        plan_line("hidden", &t.home.join(".ssh")),
        "~/.ssh not hidden\n{out}"
    );
    assert!(
        plan_line("hidden", &t.ws.join(".env")),
        ".env not hidden\n{out}"
    );
    assert!(
        plan_line("hidden", &t.ws.join("notes")),
        "--deny-read missing\n{out}"
    );
    assert!(
        plan_line("read-only", &t.ws.join(".git/hooks")),
        ".git/hooks not read-only\n{out}"
    );
    assert!(plan_line("tmpfs", std::path::Path::new("/tmp")), "{out}");
}

#[test]
fn check_rejects_a_bad_config_with_125() {
    let t = Scratch::new("check-bad");
    let cfg = t.root.join("p.toml");
    write(&cfg, "version = 1\n[network]\nallow = \"not-a-list\"\n");
    let mut c = t.palisade();
    c.args(["check", "--config", &s(&cfg)]);
    let out = output(c);
    out.assert_code(125);
    assert!(out.stderr.contains(&format!("{}:3:", s(&cfg))), "{out}");
}

#[test]
fn doctor_lists_every_layer() {
    let t = Scratch::new("doctor");
    let mut c = t.palisade();
    c.arg("doctor");
    let out = output(c);
    // On this CI host every required layer is available.
    out.assert_ok();
    let text = out.stdout.to_lowercase();
    for layer in [
        "user namespace",
        "landlock",
        "seccomp",
        "cgroup",
        "overlayfs",
    ] {
        assert!(
            text.lines().any(|l| l.contains(layer)),
            "doctor says nothing about {layer}\n{out}"
        );
    }
}
