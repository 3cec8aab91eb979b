//! The filesystem shape every run gets: the host read-only, the workspace writable (and the
//! writes land on the host), a private `/tmp`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

#[test]
fn workspace_writes_land_on_the_host() {
    let t = Scratch::new("ws-write");
    write(&t.ws.join("existing.txt"), "old\n");
    let p = t.probe(
        &[],
        &[
            "write:new.txt:from-inside",
            "append:existing.txt:more",
            "mkdir:sub",
            "write:sub/deep.txt:deep",
            "rename:new.txt:renamed.txt",
        ],
    );
    p.out.assert_ok();
    for op in [
        "write:new.txt:from-inside",
        "append:existing.txt:more",
        "mkdir:sub",
        "write:sub/deep.txt:deep",
        "rename:new.txt:renamed.txt",
    ] {
        p.expect(op, &["OK"]);
    }
    assert_eq!(read(&t.ws.join("renamed.txt")), "from-inside\n");
    assert_eq!(read(&t.ws.join("existing.txt")), "old\nmore\n");
    assert_eq!(read(&t.ws.join("sub/deep.txt")), "deep\n");
    assert!(!t.ws.join("new.txt").exists());
}

#[test]
fn host_outside_the_workspace_is_read_only() {
    let t = Scratch::new("host-ro");
    let outside = t.root.join("outside");
    mkdirs(&outside);
    write(&outside.join("f.txt"), "host\n");
    let f = s(&outside.join("f.txt"));
    let home_file = s(&t.home.join("notes.txt"));
    let ops = [
        format!("read:{f}"),
        format!("write:{f}"),
        format!("write:{}", s(&outside.join("new.txt"))),
        format!("mkdir:{}", s(&outside.join("d"))),
        format!("unlink:{f}"),
        format!("write:{home_file}"),
        "write:/etc/palisade-probe".to_string(),
        "write:/usr/palisade-probe".to_string(),
        "write:/var/tmp/palisade-probe-outside".to_string(),
    ];
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let p = t.probe(&[], &ops);
    p.out.assert_ok();
    assert_eq!(p.ok_detail(ops[0]), "host");
    for op in &ops[1..] {
        p.expect(op, DENIED_WRITE);
    }
    assert_eq!(read(&outside.join("f.txt")), "host\n");
    assert!(!outside.join("new.txt").exists());
    assert!(!t.home.join("notes.txt").exists());
    assert!(!std::path::Path::new("/var/tmp/palisade-probe-outside").exists());
}

#[test]
fn read_only_holds_for_mounts_nested_under_the_host_root() {
    // /proc and /dev are the sandbox's own; /dev/shm and /run are mounts below the read-only
    // root on most hosts and must not come back writable.
    let t = Scratch::new("nested-ro");
    let p = t.probe(
        &[],
        &["write:/run/palisade-probe", "write:/var/palisade-probe"],
    );
    p.out.assert_ok();
    p.expect("write:/run/palisade-probe", DENIED_WRITE);
    p.expect("write:/var/palisade-probe", DENIED_WRITE);
}

#[test]
fn tmp_is_private() {
    let t = Scratch::new("tmp");
    let marker = format!("palisade-host-{}", token());
    let host_file = std::path::Path::new("/tmp").join(&marker);
    write(&host_file, "host\n");
    let inside_name = format!("palisade-inside-{}", token());
    let inside = format!("/tmp/{inside_name}");
    let host_op = format!("stat:{}", s(&host_file));
    let write_op = format!("write:{inside}:x");
    let read_op = format!("read:{inside}");
    let p = t.probe(&[], &[&host_op, &write_op, &read_op, "list:/tmp"]);
    let _ = std::fs::remove_file(&host_file);
    p.out.assert_ok();
    p.expect(&host_op, &["ENOENT"]);
    p.expect(&write_op, &["OK"]);
    assert_eq!(p.ok_detail(&read_op), "x");
    assert_eq!(p.ok_detail("list:/tmp"), inside_name);
    assert!(
        !std::path::Path::new(&inside).exists(),
        "a file written to the sandbox's /tmp appeared on the host"
    );
}

#[test]
fn list_stat_and_find_work() {
    let t = Scratch::new("coreutils");
    write(&t.ws.join("a/b/c.txt"), "c\n");
    let out = t.sh(
        &[],
        "ls -la a/b && stat -c '%n %s' a/b/c.txt && find . -name '*.txt' | sort",
    );
    out.assert_ok();
    assert!(out.stdout.contains("c.txt"), "{out}");
    assert!(out.stdout.contains("a/b/c.txt 2"), "{out}");
    assert!(out.stdout.lines().any(|l| l == "./a/b/c.txt"), "{out}");
}

#[test]
fn workspace_flag_selects_the_writable_root() {
    let t = Scratch::new("ws-flag");
    let other = t.root.join("other");
    mkdirs(&other);
    let target = s(&other.join("f.txt"));
    let in_cwd = s(&t.ws.join("g.txt"));
    let w1 = format!("write:{target}");
    let w2 = format!("write:{in_cwd}");
    let p = t.probe(&["--workspace", &s(&other)], &[&w1, &w2]);
    p.out.assert_ok();
    p.expect(&w1, &["OK"]);
    p.expect(&w2, DENIED_WRITE);
    assert_eq!(read(&other.join("f.txt")), "probe\n");
}

#[test]
fn allow_write_adds_a_writable_path() {
    let t = Scratch::new("allow-write");
    let extra = t.root.join("cache");
    mkdirs(&extra);
    let w = format!("write:{}:cached", s(&extra.join("c")));
    let p = t.probe(&["--allow-write", &s(&extra)], &[&w]);
    p.out.assert_ok();
    p.expect(&w, &["OK"]);
    assert_eq!(read(&extra.join("c")), "cached\n");
}
