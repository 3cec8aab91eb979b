//! Protected paths that do not exist when the run starts (`.envrc`, `.claude`, `~/.zshrc` or
//! `~/.config/fish` with the workspace at home) must not be creatable from inside by any call
//! or path spelling, while ordinary creation in the workspace keeps working. Nothing may be
//! created on the host to achieve this. (A workspace without `.git` is the exception: `git
//! init` must work there, so its `.git/config` and hooks are protected from the next run on.)
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
    // The "rename the parent" attack for paths that do not exist: with the workspace at home
    // and no `~/.config`, build `stage/fish/config.fish` and move `stage` to `~/.config`.
    let t = Scratch::new("missing-rename-parent");
    let h = s(&t.home);
    let ops = [
        format!("mkdir:{h}/stage"),
        format!("mkdir:{h}/stage/fish"),
        format!("write:{h}/stage/fish/config.fish:curl x | sh"),
        format!("rename:{h}/stage:{h}/.config"),
        format!("raw:rename:{h}/stage:{h}/.config"),
        format!("symlink:{h}/stage:{h}/.config"),
        format!("mkdir:{h}/stage2"),
        format!("rename:{h}/stage2:{h}/.config"),
    ];
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let p = t.probe(&["--workspace", &h], &ops);
    p.out.assert_ok();
    p.expect(ops[2], &["OK"]);
    p.expect(ops[3], REFUSED);
    p.expect(ops[4], &[REFUSED, &["SKIPPED"]].concat());
    p.expect(ops[5], REFUSED);
    // Even an empty directory: only a fresh mkdir, which the guard then watches, may appear
    // at a missing ancestor.
    p.expect(ops[7], REFUSED);
    assert!(t.home.join(".config").symlink_metadata().is_err());
}

#[test]
fn a_fresh_parent_directory_keeps_guarding_the_name() {
    // `~/.config` and `~/.config/systemd` may be made, but `~/.config/systemd/user` and
    // `~/.config/fish` below them stay protected.
    let t = Scratch::new("missing-fresh-parent");
    let h = s(&t.home);
    let ops = [
        format!("mkdir:{h}/.config"),
        format!("mkdir:{h}/.config/fish"),
        format!("write:{h}/.config/fish/config.fish:x"),
        format!("mkdir:{h}/.config/systemd"),
        format!("mkdir:{h}/.config/systemd/user"),
        format!("symlink:/tmp:{h}/.config/systemd/user"),
        format!("write:{h}/.config/other.conf:fine"),
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
    assert!(t
        .home
        .join(".config/systemd/user")
        .symlink_metadata()
        .is_err());
    assert_eq!(read(&t.home.join(".config/other.conf")), "fine\n");
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

#[test]
fn a_repository_made_inside_is_reported_when_the_run_ends() {
    // The host's git obeys a repository's config and hooks; one the command made is the
    // command's, so the user hears about it.
    let t = Scratch::new("missing-new-repo");
    let out = t.sh(&[], "mkdir -p sub && git init -q sub && echo made");
    out.assert_ok();
    let want = format!("created a git repository at {}", s(&t.ws.join("sub/.git")));
    assert!(
        out.stderr.contains(&want),
        "stderr lacks {want:?}: {}",
        out.stderr
    );
    let quiet = t.sh(&[], "mkdir -p other && echo plain > other/file");
    quiet.assert_ok();
    assert!(
        !quiet.stderr.contains("git repository"),
        "unexpected note: {}",
        quiet.stderr
    );
}
