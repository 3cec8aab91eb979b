//! `--fs overlay` and `--fs tmpfs` with real programs, and `palisade changes` on what they
//! leave: the host workspace changes only when the user applies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn store(t: &Scratch) -> PathBuf {
    t.home.join(".local/state/palisade/changes")
}

/// `palisade changes ARGS`.
fn changes(t: &Scratch, args: &[&str]) -> Out {
    let mut c = t.palisade();
    c.arg("changes").args(args);
    output(c)
}

/// The ids of the change sets `list` shows, with their lines.
fn listed(t: &Scratch) -> Vec<(String, String)> {
    let out = changes(t, &["list"]);
    out.assert_ok();
    out.stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("no change sets"))
        .map(|l| (l.split('\t').next().unwrap().to_string(), l.to_string()))
        .collect()
}

#[track_caller]
fn only_id(t: &Scratch) -> String {
    let l = listed(t);
    assert_eq!(l.len(), 1, "want one change set: {l:?}");
    l[0].0.clone()
}

fn git(t: &Scratch, args: &[&str]) -> String {
    t.host_git(&t.ws, args)
}

const GIT: &str = "git -c user.name=t -c user.email=t@example.invalid";

#[test]
fn git_commit_inside_leaves_the_host_repo_alone_until_apply() {
    let t = Scratch::new("ov-git");
    git(&t, &["init", "-q"]);
    write(&t.ws.join("a.txt"), "hello\n");
    git(&t, &["add", "a.txt"]);
    git(&t, &["commit", "-qm", "first"]);
    let before = snapshot(&t.ws);
    let out = t.sh(
        &["--fs", "overlay"],
        &format!("echo world >> a.txt && {GIT} commit -qam second && {GIT} log --format=%s"),
    );
    out.assert_ok();
    assert_eq!(out.stdout, "second\nfirst\n", "{out}");
    assert_eq!(snapshot(&t.ws), before, "the host workspace changed");
    assert_eq!(git(&t, &["log", "--format=%s"]), "first\n");
    let id = only_id(&t);
    let diff = changes(&t, &["diff", &id]);
    diff.assert_ok();
    assert!(diff.stdout.contains("+world"), "{diff}");
    changes(&t, &["apply", &id]).assert_ok();
    assert_eq!(git(&t, &["log", "--format=%s"]), "second\nfirst\n");
    assert_eq!(git(&t, &["status", "--porcelain"]), "");
    assert_eq!(read(&t.ws.join("a.txt")), "hello\nworld\n");
    assert!(listed(&t).is_empty(), "a fully applied change set stays");
}

#[test]
fn apply_a_subset_then_discard_the_rest() {
    let t = Scratch::new("ov-subset");
    write(&t.ws.join("keep/x.txt"), "x\n");
    let out = t.sh(
        &["--fs", "overlay"],
        "echo a > a.txt && echo b > b.txt && echo y > keep/y.txt",
    );
    out.assert_ok();
    let id = only_id(&t);
    let line = &listed(&t)[0].1;
    assert!(line.contains("+3 ~0 -0"), "counts: {line}");
    let out = changes(&t, &["apply", &id, "a.txt", &s(&t.ws.join("keep"))]);
    out.assert_ok();
    assert_eq!(read(&t.ws.join("a.txt")), "a\n");
    assert_eq!(read(&t.ws.join("keep/y.txt")), "y\n");
    assert!(!t.ws.join("b.txt").exists());
    let diff = changes(&t, &["diff", &id]);
    assert!(diff.stdout.contains("+++ b/b.txt"), "{diff}");
    assert!(
        !diff.stdout.contains("a.txt"),
        "applied paths still pending\n{diff}"
    );
    changes(&t, &["discard", &id]).assert_ok();
    assert!(listed(&t).is_empty());
    assert!(!t.ws.join("b.txt").exists());
}

/// Waits until `f` holds, failing after 20 s.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(t: &Scratch, flags: &[&str], script: &str) -> std::process::Child {
    let mut c = t.palisade();
    c.arg("run")
        .args(flags)
        .args(["--", "/bin/sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().expect("cannot start palisade")
}

fn manifests(t: &Scratch) -> Vec<PathBuf> {
    std::fs::read_dir(store(t))
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("manifest"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|p: &PathBuf| p.exists())
        .collect()
}

#[test]
fn a_host_file_changed_during_the_run_is_refused_unless_forced() {
    let t = Scratch::new("ov-conflict");
    write(&t.ws.join("f.txt"), "original\n");
    let mut child = spawn(&t, &["--fs", "overlay"], "echo agent > f.txt; sleep 2");
    wait_for("the run's manifest", || !manifests(&t).is_empty());
    write(&t.ws.join("f.txt"), "the user's edit\n");
    assert!(child.wait().unwrap().success());
    let id = only_id(&t);
    let diff = changes(&t, &["diff", &id]);
    assert!(
        diff.stdout
            .starts_with("! f.txt: changed on the host since the run started"),
        "{diff}"
    );
    let out = changes(&t, &["apply", &id]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("f.txt") && out.stderr.contains("changed on the host"),
        "{out}"
    );
    assert_eq!(read(&t.ws.join("f.txt")), "the user's edit\n");
    assert_eq!(listed(&t).len(), 1, "a refused change set must stay");
    changes(&t, &["apply", "--force", &id, "f.txt"]).assert_ok();
    assert_eq!(read(&t.ws.join("f.txt")), "agent\n");
}

#[test]
fn deletion_and_rename_show_in_diff_and_apply() {
    let t = Scratch::new("ov-delete");
    write(&t.ws.join("old.txt"), "moving\n");
    write(&t.ws.join("dir/inner.txt"), "inner\n");
    write(&t.ws.join("gone.txt"), "bye\n");
    let out = t.sh(
        &["--fs", "overlay"],
        "mv old.txt new.txt && rm -r dir gone.txt && chmod 0755 new.txt",
    );
    out.assert_ok();
    assert!(t.ws.join("old.txt").exists() && t.ws.join("dir/inner.txt").exists());
    let id = only_id(&t);
    let diff = changes(&t, &["diff", &id]);
    diff.assert_ok();
    for want in [
        "--- a/old.txt\n+++ /dev/null",
        "--- /dev/null\n+++ b/new.txt",
        "+moving",
        "deleted directory dir",
        "--- a/gone.txt\n+++ /dev/null",
        "-bye",
    ] {
        assert!(diff.stdout.contains(want), "no {want:?} in\n{diff}");
    }
    changes(&t, &["apply", &id]).assert_ok();
    assert!(!t.ws.join("old.txt").exists());
    assert!(!t.ws.join("dir").exists());
    assert!(!t.ws.join("gone.txt").exists());
    assert_eq!(read(&t.ws.join("new.txt")), "moving\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.ws.join("new.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn a_binary_file_is_summarised_and_applied_byte_for_byte() {
    let t = Scratch::new("ov-binary");
    let out = t.sh(
        &["--fs", "overlay"],
        "printf 'GIF\\000\\001\\377binary' > pic.bin && printf 'text\\n' > t.txt",
    );
    out.assert_ok();
    let id = only_id(&t);
    let diff = changes(&t, &["diff", &id]);
    assert!(
        diff.stdout.contains("Binary file pic.bin added (12 bytes)"),
        "{diff}"
    );
    assert!(
        !diff.stdout.contains("GIF"),
        "binary content printed\n{diff}"
    );
    changes(&t, &["apply", &id]).assert_ok();
    assert_eq!(
        std::fs::read(t.ws.join("pic.bin")).unwrap(),
        b"GIF\x00\x01\xffbinary"
    );
}

#[test]
fn a_change_set_survives_kill_9_of_the_supervisor() {
    let t = Scratch::new("ov-kill");
    let mut child = spawn(&t, &["--fs", "overlay"], "echo data > k.txt; sleep 60");
    wait_for("k.txt in the upper layer", || {
        manifests(&t)
            .iter()
            .any(|m| m.with_file_name("upper").join("k.txt").exists())
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let id = only_id(&t);
    wait_for("the run to be seen as interrupted", || {
        listed(&t)[0].1.contains("\tinterrupted\t")
    });
    assert!(!t.ws.join("k.txt").exists());
    changes(&t, &["apply", &id]).assert_ok();
    assert_eq!(read(&t.ws.join("k.txt")), "data\n");
}

#[test]
fn protected_paths_and_the_change_store_stay_out_of_reach_in_overlay_mode() {
    let t = Scratch::new("ov-protect");
    git(&t, &["init", "-q"]);
    let hooks = t.ws.join(".git/hooks");
    let store_dir = s(&store(&t));
    let p = t.probe(
        &["--fs", "overlay"],
        &[
            "write:.git/hooks/pre-commit",
            "write:.git/config",
            "rename:.git/hooks:.git/hooks-moved",
            "rename:.git:git-moved",
            "write:.git/inside-anchor",
            &format!("list:{store_dir}"),
            &format!("write:{store_dir}/x"),
            "write:ok.txt",
        ],
    );
    p.out.assert_ok();
    p.expect("write:.git/hooks/pre-commit", DENIED_WRITE);
    p.expect("write:.git/config", DENIED_WRITE);
    p.expect(
        "rename:.git/hooks:.git/hooks-moved",
        &["EBUSY", "EROFS", "EXDEV", "EPERM"],
    );
    p.expect("rename:.git:git-moved", &["EBUSY", "EXDEV"]);
    // `.git` is an anchor (a mount point guarding the protected paths below it): it must be
    // bound from the overlay, not from the host directory under it.
    p.expect("write:.git/inside-anchor", &["OK"]);
    assert!(
        !t.ws.join(".git/inside-anchor").exists(),
        "a write went through the anchor"
    );
    p.expect(&format!("list:{store_dir}"), DENIED_READ);
    p.expect(&format!("write:{store_dir}/x"), DENIED_WRITE);
    p.expect("write:ok.txt", &["OK"]);
    assert!(hooks.is_dir() && !hooks.join("pre-commit").exists());
    assert!(
        !t.ws.join("ok.txt").exists(),
        "an overlay write reached the host"
    );
}

#[test]
fn tmpfs_mode_leaves_nothing_behind() {
    let t = Scratch::new("ov-tmpfs");
    write(&t.ws.join("a.txt"), "host\n");
    let ws_before = snapshot(&t.ws);
    let home_before = snapshot(&t.home);
    let out = t.sh(
        &["--fs", "tmpfs"],
        "echo agent > a.txt && mkdir d && echo n > d/n.txt && rm a.txt && ls",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "d\n", "{out}");
    assert_eq!(snapshot(&t.ws), ws_before);
    assert_eq!(snapshot(&t.home), home_before);
    assert_eq!(read(&t.ws.join("a.txt")), "host\n");
    assert!(listed(&t).is_empty());
}

#[test]
fn a_full_tmpfs_layer_gives_enospc_and_leaves_the_host_as_it_was() {
    let t = Scratch::new("ov-enospc");
    write(&t.ws.join("a.txt"), "host\n");
    let cfg = t.root.join("small.toml");
    write(&cfg, "version = 1\n\n[limits]\ntmpfs_size = \"1M\"\n");
    let before = snapshot(&t.ws);
    let py = python();
    let script = "import errno\ntry:\n    with open('big', 'wb') as f:\n        \
                  f.write(b'x' * (4 << 20))\n    print('WROTE')\nexcept OSError as e:\n    \
                  print(errno.errorcode[e.errno])\n";
    let out = t.run(
        &["--config", &s(&cfg), "--fs", "tmpfs"],
        &[&py, "-c", script],
    );
    out.assert_ok();
    assert_eq!(out.stdout, "ENOSPC\n", "{out}");
    assert_eq!(snapshot(&t.ws), before);
}

#[test]
fn changes_usage_errors_are_125_and_touch_nothing() {
    let t = Scratch::new("ov-usage");
    t.sh(&["--fs", "overlay"], "echo a > a.txt").assert_ok();
    let id = only_id(&t);
    for args in [
        vec!["diff", "no-such-set"],
        vec!["apply", "../../etc"],
        vec!["apply", &id, "../outside"],
        vec!["apply", &id, "/etc/passwd"],
        vec!["discard", &id, "sub/../../x"],
    ] {
        let out = changes(&t, &args);
        out.assert_code(125);
        assert!(out.stderr.starts_with("palisade: "), "{out}");
    }
    assert!(!t.ws.join("a.txt").exists());
    assert_eq!(listed(&t).len(), 1);
}

#[test]
fn the_change_set_store_is_hidden_in_every_mode() {
    // A pending change set is what a later `palisade changes apply` writes to the host: no run,
    // whatever its mode, may read or rewrite it.
    let t = Scratch::new("overlay-store-hidden");
    let store = t.home.join(".local/state/palisade/changes");
    mkdirs(&store.join("20260101-000000-abcd/upper"));
    for fs in ["direct", "tmpfs", "overlay"] {
        let p = t.probe(
            &["--fs", fs],
            &[
                &format!("list:{}", s(&store)),
                &format!("write:{}/20260101-000000-abcd/upper/.bashrc:x", s(&store)),
            ],
        );
        p.expect(&format!("list:{}", s(&store)), &["EACCES", "ENOENT"]);
        p.expect(
            &format!("write:{}/20260101-000000-abcd/upper/.bashrc:x", s(&store)),
            &["EACCES", "ENOENT", "EROFS"],
        );
    }
    assert!(!store.join("20260101-000000-abcd/upper/.bashrc").exists());
}

#[test]
fn diff_output_cannot_be_forged_by_the_command() {
    // The command chooses names and contents: control sequences and newlines must not reach
    // the reviewer's terminal, and an empty new file must still be listed.
    let t = Scratch::new("overlay-diff-forge");
    t.sh(
        &["--fs", "overlay"],
        "printf 'line1\\n\\033[2K\\033[1Ainnocent\\n' > esc.txt; : > empty.txt; \
         printf x > \"$(printf 'a\\nnew symlink fake')\"",
    )
    .assert_ok();
    let id = only_id(&t);
    let diff = changes(&t, &["diff", &id]);
    diff.assert_ok();
    assert!(
        !diff.stdout.contains('\u{1b}'),
        "escape sequence in diff: {:?}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("Binary file esc.txt added"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("new empty file empty.txt"),
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.lines().any(|l| l == "new symlink fake"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("a\\nnew symlink fake"),
        "{}",
        diff.stdout
    );
}
