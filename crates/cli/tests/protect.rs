//! Paths that the host acts on later stay read-only inside writable roots: git hooks and
//! config (top-level and nested repositories), editor and agent settings, shell rc files.
//! Moving their parent aside to recreate them must fail too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

/// A workspace that is a git repository with one commit, made on the host.
fn repo(t: &Scratch) {
    t.host_git(&t.ws, &["init", "-q"]);
    write(&t.ws.join("README"), "hello\n");
    t.host_git(&t.ws, &["add", "README"]);
    t.host_git(&t.ws, &["commit", "-qm", "first"]);
}

#[test]
fn git_hooks_and_config_are_read_only_but_commit_works() {
    let t = Scratch::new("git-protect");
    repo(&t);
    let config_before = read(&t.ws.join(".git/config"));
    let p = t.probe(
        &[],
        &[
            "write:.git/hooks/pre-commit:#!/bin/sh",
            "append:.git/config:[core]",
            "write:.git/info/exclude:x",
            "unlink:.git/config",
            "rename:.git/hooks:.git/hooks-old",
            "rename:.git:.git-moved",
        ],
    );
    p.out.assert_ok();
    p.expect("write:.git/hooks/pre-commit:#!/bin/sh", DENIED_WRITE);
    p.expect("append:.git/config:[core]", DENIED_WRITE);
    p.expect("write:.git/info/exclude:x", DENIED_WRITE);
    p.expect("unlink:.git/config", &["EROFS", "EACCES", "EPERM", "EBUSY"]);
    p.expect(
        "rename:.git/hooks:.git/hooks-old",
        &["EBUSY", "EROFS", "EACCES"],
    );
    // `.git` itself is a mount point: moving it away (and recreating a `.git/hooks` of the
    // sandbox's choosing) is refused.
    p.expect("rename:.git:.git-moved", &["EBUSY"]);
    assert!(!t.ws.join(".git/hooks/pre-commit").exists());
    assert_eq!(read(&t.ws.join(".git/config")), config_before);
    assert!(t.ws.join(".git").is_dir());

    let git = "git -c user.name=t -c user.email=t@example.invalid";
    let out = t.sh(
        &[],
        &format!(
            "echo change >> README && {git} add README && {git} commit -qm second && \
             {git} log --format=%s"
        ),
    );
    out.assert_ok();
    assert_eq!(out.stdout, "second\nfirst\n", "{out}");
    let log = t.host_git(&t.ws, &["log", "--format=%s"]);
    assert_eq!(log, "second\nfirst\n");
}

#[test]
fn nested_repository_metadata_is_protected() {
    let t = Scratch::new("nested-repo");
    repo(&t);
    let nested = t.ws.join("vendor/lib");
    mkdirs(&nested);
    t.host_git(&nested, &["init", "-q"]);
    let p = t.probe(
        &[],
        &[
            "write:vendor/lib/.git/hooks/post-checkout:#!/bin/sh",
            "append:vendor/lib/.git/config:[core]",
            "rename:vendor/lib/.git:vendor/lib/.git-old",
            "rename:vendor/lib:vendor/lib-old",
            "write:vendor/lib/file.txt:ok",
        ],
    );
    p.out.assert_ok();
    p.expect(
        "write:vendor/lib/.git/hooks/post-checkout:#!/bin/sh",
        DENIED_WRITE,
    );
    p.expect("append:vendor/lib/.git/config:[core]", DENIED_WRITE);
    p.expect("rename:vendor/lib/.git:vendor/lib/.git-old", &["EBUSY"]);
    p.expect("rename:vendor/lib:vendor/lib-old", &["EBUSY"]);
    p.expect("write:vendor/lib/file.txt:ok", &["OK"]);
    assert!(!nested.join(".git/hooks/post-checkout").exists());
}

#[test]
fn editor_and_agent_settings_are_read_only() {
    let t = Scratch::new("agent-dirs");
    write(&t.ws.join(".vscode/settings.json"), "{}\n");
    write(&t.ws.join(".claude/settings.json"), "{}\n");
    write(&t.ws.join(".mcp.json"), "{}\n");
    write(&t.ws.join(".envrc"), "export A=1\n");
    let p = t.probe(
        &[],
        &[
            "write:.vscode/settings.json:{\"x\":1}",
            "write:.vscode/tasks.json:{}",
            "write:.claude/settings.json:{\"hooks\":1}",
            "mkdir:.claude/commands",
            "write:.mcp.json:{\"servers\":1}",
            "append:.envrc:curl",
            "rename:.claude:.claude-old",
        ],
    );
    p.out.assert_ok();
    for op in [
        "write:.vscode/settings.json:{\"x\":1}",
        "write:.vscode/tasks.json:{}",
        "write:.claude/settings.json:{\"hooks\":1}",
        "mkdir:.claude/commands",
        "write:.mcp.json:{\"servers\":1}",
        "append:.envrc:curl",
    ] {
        p.expect(op, DENIED_WRITE);
    }
    p.expect("rename:.claude:.claude-old", &["EBUSY", "EROFS", "EACCES"]);
    assert_eq!(read(&t.ws.join(".vscode/settings.json")), "{}\n");
    assert_eq!(read(&t.ws.join(".mcp.json")), "{}\n");
}

fn rc_files(t: &Scratch) {
    write(&t.home.join(".bashrc"), "# rc\n");
    write(&t.home.join(".profile"), "# profile\n");
}

#[test]
fn bashrc_is_read_only_with_the_workspace_under_home() {
    let t = Scratch::new("rc-ws-under-home");
    rc_files(&t);
    let proj = t.home.join("proj");
    mkdirs(&proj);
    let w = format!("append:{}:evil", s(&t.home.join(".bashrc")));
    let w2 = format!("write:{}:evil", s(&t.home.join(".profile")));
    let ok = format!("write:{}:fine", s(&proj.join("f")));
    let p = t.probe(&["--workspace", &s(&proj)], &[&w, &w2, &ok]);
    p.out.assert_ok();
    p.expect(&w, DENIED_WRITE).expect(&w2, DENIED_WRITE);
    p.expect(&ok, &["OK"]);
    assert_eq!(read(&t.home.join(".bashrc")), "# rc\n");
}

#[test]
fn bashrc_is_read_only_with_the_workspace_at_home() {
    let t = Scratch::new("rc-ws-home");
    rc_files(&t);
    let bashrc = s(&t.home.join(".bashrc"));
    let w = format!("append:{bashrc}:evil");
    let w2 = format!("write:{}:evil", s(&t.home.join(".profile")));
    let mv = format!("rename:{bashrc}:{bashrc}.old");
    let rm = format!("unlink:{bashrc}");
    let ok = format!("write:{}:fine", s(&t.home.join("notes.txt")));
    let p = t.probe(&["--workspace", &s(&t.home)], &[&w, &w2, &mv, &rm, &ok]);
    p.out.assert_ok();
    p.expect(&w, DENIED_WRITE).expect(&w2, DENIED_WRITE);
    p.expect(&mv, &["EBUSY", "EROFS", "EACCES"]);
    p.expect(&rm, &["EBUSY", "EROFS", "EACCES"]);
    p.expect(&ok, &["OK"]);
    assert_eq!(read(&t.home.join(".bashrc")), "# rc\n");
    assert_eq!(read(&t.home.join(".profile")), "# profile\n");
}

#[test]
fn missing_rc_file_cannot_be_created_with_the_workspace_at_home() {
    // `.zshrc` does not exist: nothing can be bound over it, and Palisade creates nothing on
    // the host, so the protection has to come from elsewhere (Landlock or a mount of $HOME).
    let t = Scratch::new("rc-missing");
    let zshrc = t.home.join(".zshrc");
    let w = format!("write:{}:evil", s(&zshrc));
    let p = t.probe(&["--workspace", &s(&t.home)], &[&w]);
    p.out.assert_ok();
    p.expect(&w, DENIED_WRITE);
    assert!(
        !zshrc.exists(),
        "{} was created on the host",
        zshrc.display()
    );
}

#[test]
fn missing_git_config_worktree_cannot_be_created() {
    // Like a missing rc file: `.git/config.worktree` is read by the host's git (with
    // extensions.worktreeConfig) and may set core.fsmonitor or core.hooksPath.
    let t = Scratch::new("git-worktree-config");
    repo(&t);
    let p = t.probe(&[], &["write:.git/config.worktree:[core]"]);
    p.out.assert_ok();
    p.expect("write:.git/config.worktree:[core]", DENIED_WRITE);
    assert!(!t.ws.join(".git/config.worktree").exists());
}

#[test]
fn a_repository_made_inside_is_protected_from_the_next_run_on() {
    let t = Scratch::new("git-init-next-run");
    let git = "git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main";
    t.sh(
        &[],
        &format!("{git} init -q && echo a > a && {git} add a && {git} commit -qm one"),
    )
    .assert_ok();
    let p = t.probe(
        &[],
        &[
            "write:.git/hooks/pre-commit:#!/bin/sh",
            "append:.git/config:[core]",
            "rename:.git:.git-old",
        ],
    );
    p.out.assert_ok();
    p.expect("write:.git/hooks/pre-commit:#!/bin/sh", DENIED_WRITE);
    p.expect("append:.git/config:[core]", DENIED_WRITE);
    p.expect("rename:.git:.git-old", &["EBUSY"]);
    assert!(!t.ws.join(".git/hooks/pre-commit").exists());
}
