//! How policy paths are read: `~` and relative paths, and symlinks resolved once, before
//! anything is mounted. A rule path inside the workspace that is a symlink leading out of it
//! is refused (exit 125): an earlier run may have planted it there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

#[test]
fn tilde_and_relative_rule_paths_expand() {
    let t = Scratch::new("paths-expand");
    write(&t.home.join("private/notes.txt"), "n\n");
    write(&t.ws.join("sub/hidden.txt"), "h\n");
    let r1 = format!("read:{}", s(&t.home.join("private/notes.txt")));
    let p = t.probe(
        &[
            "--deny-read",
            "~/private",
            "--deny-read",
            "./sub/../sub/hidden.txt",
        ],
        &[&r1, "read:sub/hidden.txt"],
    );
    p.out.assert_ok();
    p.expect(&r1, DENIED_READ);
    p.expect("read:sub/hidden.txt", DENIED_READ);
}

#[test]
fn symlinked_rule_path_leading_out_of_the_workspace_is_refused() {
    let t = Scratch::new("paths-symlink-escape");
    let outside = t.root.join("outside");
    mkdirs(&outside);
    std::os::unix::fs::symlink(&outside, t.ws.join("link")).expect("symlink");
    write(&t.ws.join("ran"), "");
    for flag in ["--allow-write", "--deny-read"] {
        let out = t.run(&[flag, "link"], &["rm", "ran"]);
        out.assert_code(125);
        assert!(out.stderr.contains("symlink"), "{out}");
        assert!(out.stderr.contains(&s(&t.ws.join("link"))), "{out}");
        assert!(t.ws.join("ran").exists(), "the command ran");
    }
}

#[test]
fn symlinked_rule_path_inside_the_workspace_is_resolved() {
    // A link that stays inside the workspace is fine: the rule applies to its target.
    let t = Scratch::new("paths-symlink-inside");
    write(&t.ws.join("real/secret.txt"), "s\n");
    std::os::unix::fs::symlink("real", t.ws.join("alias")).expect("symlink");
    let p = t.probe(&["--deny-read", "alias"], &["read:real/secret.txt"]);
    p.out.assert_ok();
    p.expect("read:real/secret.txt", DENIED_READ);
}

#[test]
fn symlink_outside_any_writable_root_is_followed() {
    // Outside the workspace nobody in the sandbox could have planted the link, so a rule
    // through it applies to its target.
    let t = Scratch::new("paths-symlink-outside");
    let real = t.root.join("real");
    write(&real.join("f.txt"), "f\n");
    std::os::unix::fs::symlink(&real, t.root.join("alias")).expect("symlink");
    let r = format!("read:{}", s(&real.join("f.txt")));
    let p = t.probe(&["--deny-read", &s(&t.root.join("alias"))], &[&r]);
    p.out.assert_ok();
    p.expect(&r, DENIED_READ);
}
