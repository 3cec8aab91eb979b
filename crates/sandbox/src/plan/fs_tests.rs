//! Whole-plan tests over real directory trees in a tempdir.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn op(path: &Path, action: Action) -> MountOp {
    MountOp {
        path: path.to_path_buf(),
        action,
    }
}

fn tmp_op() -> MountOp {
    op(Path::new("/tmp"), Action::Tmpfs { size: None })
}

/// The plan minus the host's own `/run` sockets, which vary from machine to machine.
fn ops_under(plan: &FsPlan, root: &Path) -> Vec<MountOp> {
    plan.ops
        .iter()
        .filter(|o| o.path.starts_with(root) || o.path == Path::new("/tmp"))
        .cloned()
        .collect()
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let root = fs::canonicalize(t.path()).unwrap_or_else(|e| panic!("canonicalize: {e}"));
    (t, root)
}

fn mk(p: &Path) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
}

fn touch(p: &Path) {
    fs::write(p, b"x").unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

#[test]
fn deny_inside_writable_root_is_applied_after_the_root_whatever_the_rule_order() {
    let (_t, root) = setup();
    let ws = root.join("ws");
    mk(&ws);
    touch(&ws.join("secret.txt"));
    // The deny is also listed as an extra writable path: the more specific rule still wins
    // on the same path (deny), and the root's bind comes first.
    let inputs = FsInputs {
        workspace: ws.clone(),
        allow_write: vec![ws.join("secret.txt")],
        deny_read: vec![ws.join("secret.txt")],
        ..Default::default()
    };
    let plan = build_fs_plan(&inputs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ops_under(&plan, &root),
        vec![
            tmp_op(),
            op(&ws, Action::BindWritable),
            op(&ws.join("secret.txt"), Action::MaskFile)
        ]
    );
}

#[test]
fn nested_carve_outs_at_any_depth() {
    let (_t, root) = setup();
    let ws = root.join("ws");
    let deny = root.join("secrets");
    let read = deny.join("public");
    let write = read.join("scratch");
    mk(&ws);
    mk(&write);
    let inputs = FsInputs {
        workspace: ws.clone(),
        deny_read: vec![deny.clone()],
        allow_read: vec![read.clone()],
        allow_write: vec![write.clone()],
        ..Default::default()
    };
    let plan = build_fs_plan(&inputs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ops_under(&plan, &root),
        vec![
            tmp_op(),
            op(&deny, Action::MaskDir { traversable: true }),
            op(&ws, Action::BindWritable),
            op(&read, Action::BindReadOnly),
            op(&write, Action::BindWritable),
        ]
    );
}

#[test]
fn git_metadata_is_protected_with_anchored_parents_and_missing_paths_reported() {
    let (_t, root) = setup();
    let ws = root.join("ws");
    mk(&ws.join(".git/hooks"));
    touch(&ws.join(".git/config"));
    mk(&ws.join("vendor/lib/.git"));
    touch(&ws.join("vendor/lib/.git/config"));
    touch(&ws.join(".env"));
    let inputs = FsInputs {
        workspace: ws.clone(),
        deny_names: vec![".env*".to_string()],
        protect_names: vec![".vscode".to_string()],
        ..Default::default()
    };
    let plan = build_fs_plan(&inputs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ops_under(&plan, &root),
        vec![
            tmp_op(),
            op(&ws, Action::BindWritable),
            op(&ws.join(".env"), Action::MaskFile),
            op(&ws.join(".git"), Action::Anchor),
            op(&ws.join("vendor"), Action::Anchor),
            op(&ws.join(".git/config"), Action::BindReadOnly),
            op(&ws.join(".git/hooks"), Action::BindReadOnly),
            op(&ws.join("vendor/lib"), Action::Anchor),
            op(&ws.join("vendor/lib/.git"), Action::Anchor),
            op(&ws.join("vendor/lib/.git/config"), Action::BindReadOnly),
        ]
    );
    let mut missing = plan.protect_missing.clone();
    missing.sort();
    assert!(missing.contains(&ws.join(".git/config.worktree")));
    assert!(missing.contains(&ws.join(".vscode")));
    assert!(missing.contains(&ws.join("vendor/lib/.git/hooks")));
}

#[test]
fn symlink_in_workspace_leading_out_is_refused() {
    let (_t, root) = setup();
    let ws = root.join("ws");
    let outside = root.join("outside");
    mk(&ws);
    mk(&outside);
    std::os::unix::fs::symlink(&outside, ws.join("link")).unwrap_or_else(|e| panic!("{e}"));
    let inputs = FsInputs {
        workspace: ws.clone(),
        allow_write: vec![ws.join("link")],
        ..Default::default()
    };
    assert_eq!(
        build_fs_plan(&inputs),
        Err(ResolveError::SymlinkEscape {
            path: ws.join("link"),
            root: ws.clone(),
            target: outside.clone()
        })
    );
    let deny_under = FsInputs {
        workspace: ws.clone(),
        deny_read: vec![ws.join("link/placeholder")],
        ..Default::default()
    };
    assert!(matches!(
        build_fs_plan(&deny_under),
        Err(ResolveError::SymlinkEscape { .. })
    ));
}

#[test]
fn deny_path_under_an_unsearchable_parent_does_not_abort() {
    let (_t, root) = setup();
    let ws = root.join("ws");
    mk(&ws);
    let inputs = FsInputs {
        workspace: ws.clone(),
        deny_read: vec![root.join("missing/.ssh")],
        ..Default::default()
    };
    let plan = build_fs_plan(&inputs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ops_under(&plan, &root),
        vec![tmp_op(), op(&ws, Action::BindWritable)]
    );
}
