//! Protected paths that do not exist when the run starts (`.envrc`, `.claude`, `.git/config`
//! of a workspace that is not a repository yet, `~/.zshrc` with the workspace at home) must
//! not be creatable from inside by any call or path spelling, while ordinary creation in the
//! workspace keeps working. Nothing may be created on the host to achieve this.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

/// Results that mean the creation was refused.
const REFUSED: &[&str] = &["EACCES", "EPERM", "EROFS", "EBUSY"];

#[test]
fn every_creating_call_is_refused_on_a_missing_protected_name() {
    let t = Scratch::new("missing-calls");
    write(&t.ws.join("plain.txt"), "p\n");
    let attempts = [
        "write:.envrc:export X=1",
        "mkdir:.claude",
        "symlink:plain.txt:.mcp.json",
        "link:plain.txt:.envrc",
        "mkfifo:.envrc",
        "rename:plain.txt:.envrc",
        "openat:.:.envrc",
        "raw:open:.envrc",
        "raw:creat:.envrc",
        "raw:openat2:.envrc",
        "raw:mkdir:.vscode",
        "raw:symlink:plain.txt:.envrc",
        "raw:link:plain.txt:.envrc",
        "raw:mknod:.envrc",
        "raw:rename:plain.txt:.envrc",
    ];
    let p = t.probe(&[], &attempts);
    p.out.assert_ok();
    for op in attempts {
        // openat2 may answer ENOSYS instead: libc then falls back to openat, which is served.
        p.expect(op, &[REFUSED, &["SKIPPED", "ENOSYS"]].concat());
    }
    for name in [".envrc", ".claude", ".mcp.json", ".vscode"] {
        assert!(
            t.ws.join(name).symlink_metadata().is_err(),
            "{name} was created on the host\n{}",
            p.out
        );
    }
    assert_eq!(read(&t.ws.join("plain.txt")), "p\n");
}

#[test]
fn other_spellings_of_the_path_are_refused_too() {
    let t = Scratch::new("missing-spellings");
    std::os::unix::fs::symlink(".", t.ws.join("alias")).expect("symlink");
    mkdirs(&t.ws.join("sub"));
    let via_proc = "write:/proc/self/cwd/.envrc:x".to_string();
    let absolute = format!("write:{}:x", s(&t.ws.join(".envrc")));
    let attempts = [
        "write:alias/.envrc:x",
        "write:sub/../.envrc:x",
        "write:./.envrc:x",
        "openat:sub:../.envrc",
        "openat:alias:.claude",
        via_proc.as_str(),
        absolute.as_str(),
    ];
    let p = t.probe(&[], &attempts);
    p.out.assert_ok();
    for op in attempts {
        p.expect(op, REFUSED);
    }
    assert!(t.ws.join(".envrc").symlink_metadata().is_err());
    assert!(t.ws.join(".claude").symlink_metadata().is_err());
}

#[test]
fn a_prepared_directory_cannot_be_renamed_into_place() {
    // The "rename the parent" attack for paths that do not exist: build `x/hooks/pre-commit`
    // and `x/config` elsewhere, then move `x` to `.git`.
    let t = Scratch::new("missing-rename-parent");
    let p = t.probe(
        &[],
        &[
            "mkdir:stage",
            "mkdir:stage/hooks",
            "write:stage/hooks/pre-commit:#!/bin/sh",
            "write:stage/config:[core]",
            "rename:stage:.git",
            "raw:rename:stage:.git",
            "symlink:stage:.git",
            // A `.git` file pointing at a prepared git dir works for the host's git as well.
            "write:.git:gitdir: stage",
        ],
    );
    p.out.assert_ok();
    p.expect("write:stage/config:[core]", &["OK"]);
    p.expect("rename:stage:.git", REFUSED);
    p.expect("raw:rename:stage:.git", &[REFUSED, &["SKIPPED"]].concat());
    p.expect("symlink:stage:.git", REFUSED);
    p.expect("write:.git:gitdir: stage", REFUSED);
    assert!(t.ws.join(".git").symlink_metadata().is_err());
}

#[test]
fn a_fresh_parent_directory_keeps_guarding_the_name() {
    // `.git` may be made (git init needs it), but `.git/config` and `.git/hooks` in it stay
    // protected, as does `~/.config/fish` under a fresh `~/.config`.
    let t = Scratch::new("missing-fresh-parent");
    let h = s(&t.home);
    let ops = [
        format!("mkdir:{h}/.config"),
        format!("mkdir:{h}/.config/fish"),
        format!("write:{h}/.config/fish/config.fish:x"),
        format!("mkdir:{h}/.git"),
        format!("write:{h}/.git/config:[core]"),
        format!("mkdir:{h}/.git/hooks"),
        format!("write:{h}/.git/HEAD:ref: refs/heads/main"),
    ];
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let p = t.probe(&["--workspace", &h], &ops);
    p.out.assert_ok();
    p.expect(ops[0], &["OK"]);
    p.expect(ops[1], REFUSED);
    p.expect(ops[2], &["ENOENT", "EACCES", "EPERM", "EROFS"]);
    p.expect(ops[3], &["OK"]);
    p.expect(ops[4], REFUSED);
    p.expect(ops[5], REFUSED);
    p.expect(ops[6], &["OK"]);
    assert!(!t.home.join(".config/fish").exists());
    assert!(!t.home.join(".git/config").exists());
    assert!(!t.home.join(".git/hooks").exists());
}

#[test]
fn ordinary_creation_still_works() {
    let t = Scratch::new("missing-ordinary");
    write(&t.ws.join("a.txt"), "a\n");
    let attempts = [
        "write:new.txt:n",
        "mkdir:dir",
        "symlink:a.txt:dir/l",
        "link:a.txt:dir/h",
        "mkfifo:dir/fifo",
        "rename:new.txt:dir/moved.txt",
        "openat:dir:via-fd.txt",
        "raw:open:dir/o2.txt",
        "raw:rename:dir/o2.txt:dir/o3.txt",
        "raw:openat2:dir/o4.txt",
        "write:.envrc.bak:fine",
        "mkdir:src/.claude-notes",
    ];
    let p = t.probe(&[], &attempts);
    p.out.assert_ok();
    for op in attempts {
        if op == "mkdir:src/.claude-notes" {
            p.expect(op, &["ENOENT"]); // src does not exist: the kernel's answer, unchanged
            continue;
        }
        let enosys_ok = op.starts_with("raw:openat2");
        p.expect(
            op,
            if enosys_ok {
                &["OK", "SKIPPED", "ENOSYS"]
            } else {
                &["OK", "SKIPPED"]
            },
        );
    }
    assert_eq!(read(&t.ws.join("dir/moved.txt")), "n\n");
    assert!(t.ws.join("dir/via-fd.txt").exists());
    assert_eq!(read(&t.ws.join(".envrc.bak")), "fine\n");
}
