//! Change sets read and applied from the host side, with upper layers written by hand the
//! way overlayfs writes them (whiteouts, opaque directories).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    store: Store,
}

fn write(p: &Path, s: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, s).unwrap();
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    write(&ws.join("keep.txt"), "keep\n");
    write(&ws.join("edit.txt"), "one\ntwo\n");
    write(&ws.join("gone.txt"), "bye\n");
    write(&ws.join("run.sh"), "#!/bin/sh\n");
    write(&ws.join("old/a.txt"), "a\n");
    write(&ws.join("old/b.txt"), "b\n");
    write(&ws.join("swap"), "was a file\n");
    let store = Store::new(tmp.path().join("state/palisade/changes"));
    Fixture {
        _tmp: tmp,
        ws,
        store,
    }
}

fn whiteout(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path; mknod of a 0:0 character device is overlayfs's whiteout.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, 0) };
    assert_eq!(r, 0, "mknod whiteout: {}", std::io::Error::last_os_error());
}

fn set_opaque(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let n = c"user.overlay.opaque";
    // SAFETY: valid strings and a one-byte value.
    let r = unsafe { libc::setxattr(c.as_ptr(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    assert_eq!(r, 0, "setxattr: {}", std::io::Error::last_os_error());
}

/// A run that edited, added, deleted, chmodded, replaced `old/` wholesale and turned `swap`
/// into a directory; `keep.txt` was copied up unchanged (as a chmod back and forth does).
fn finished_run(f: &Fixture) -> ChangeSet {
    let mut cs = f.store.create(&f.ws, &["agent".into()]).unwrap();
    let up = cs.upper();
    write(&up.join("edit.txt"), "one\n2\n");
    write(&up.join("new/deep.txt"), "deep\n");
    write(&up.join("keep.txt"), "keep\n");
    whiteout(&up.join("gone.txt"));
    std::fs::copy(f.ws.join("run.sh"), up.join("run.sh")).unwrap();
    std::fs::set_permissions(up.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(f.ws.join("run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
    write(&up.join("old/b.txt"), "b2\n");
    set_opaque(&up.join("old"));
    write(&up.join("swap/inside"), "now a dir\n");
    whiteout(&up.join("never-existed"));
    // The manifest must see the workspace after the chmod above, as a run start would.
    Manifest::take(&f.ws)
        .unwrap()
        .write(&cs.manifest_path())
        .unwrap();
    cs.finish(0).unwrap();
    cs
}

fn kinds(cs: &ChangeSet) -> Vec<(String, ChangeKind, bool)> {
    compute(cs)
        .unwrap()
        .into_iter()
        .map(|c| (c.path.display().to_string(), c.kind, c.implied))
        .collect()
}

#[test]
fn upper_layer_reads_as_changes() {
    let f = fixture();
    let cs = finished_run(&f);
    let modified = |content, mode| ChangeKind::Modified { content, mode };
    assert_eq!(
        kinds(&cs),
        vec![
            ("edit.txt".into(), modified(true, None), false),
            ("gone.txt".into(), ChangeKind::Deleted(Entry::File), false),
            ("new".into(), ChangeKind::Added(Entry::Dir), false),
            ("new/deep.txt".into(), ChangeKind::Added(Entry::File), false),
            ("old/a.txt".into(), ChangeKind::Deleted(Entry::File), true),
            ("old/b.txt".into(), modified(true, None), false),
            (
                "run.sh".into(),
                modified(false, Some((0o644, 0o755))),
                false
            ),
            (
                "swap".into(),
                ChangeKind::Replaced {
                    was: Entry::File,
                    now: Entry::Dir
                },
                false
            ),
            ("swap/inside".into(), ChangeKind::Added(Entry::File), false),
        ]
    );
}

#[test]
fn a_live_run_is_neither_applied_nor_discarded() {
    let f = fixture();
    let cs = f.store.create(&f.ws, &["agent".into()]).unwrap();
    assert!(cs.is_live(), "this process is the run's supervisor");
    assert!(matches!(apply(&cs, &[], false), Err(OverlayError::Live(_))));
    assert!(matches!(discard(&cs, &[]), Err(OverlayError::Live(_))));
}

#[test]
fn apply_all_makes_the_host_match_and_removes_the_set() {
    let f = fixture();
    let cs = finished_run(&f);
    let o = apply(&cs, &[], false).unwrap();
    assert!(o.refused.is_empty(), "{:?}", o.refused);
    assert!(o.finished);
    assert!(!cs.dir.exists());
    let read = |p: &str| std::fs::read_to_string(f.ws.join(p)).unwrap();
    assert_eq!(read("edit.txt"), "one\n2\n");
    assert_eq!(read("new/deep.txt"), "deep\n");
    assert_eq!(read("old/b.txt"), "b2\n");
    assert_eq!(read("swap/inside"), "now a dir\n");
    assert!(!f.ws.join("gone.txt").exists());
    assert!(!f.ws.join("old/a.txt").exists());
    let mode = std::fs::metadata(f.ws.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert!(f.store.list().unwrap().is_empty());
}

#[test]
fn apply_a_subset_leaves_the_rest_pending() {
    let f = fixture();
    let cs = finished_run(&f);
    let o = apply(
        &cs,
        &[PathBuf::from("new"), PathBuf::from("gone.txt")],
        false,
    )
    .unwrap();
    assert_eq!(
        o.done,
        vec![
            PathBuf::from("gone.txt"),
            PathBuf::from("new"),
            PathBuf::from("new/deep.txt")
        ]
    );
    assert!(!o.finished);
    assert!(f.ws.join("new/deep.txt").exists());
    assert!(!f.ws.join("gone.txt").exists());
    assert_eq!(
        std::fs::read_to_string(f.ws.join("edit.txt")).unwrap(),
        "one\ntwo\n"
    );
    let left: Vec<String> = kinds(&cs).into_iter().map(|k| k.0).collect();
    assert_eq!(
        left,
        [
            "edit.txt",
            "old/a.txt",
            "old/b.txt",
            "run.sh",
            "swap",
            "swap/inside"
        ]
    );
}

#[test]
fn a_host_file_changed_during_the_run_is_refused_unless_forced() {
    let f = fixture();
    let cs = finished_run(&f);
    write(&f.ws.join("edit.txt"), "the user's own edit\n");
    std::fs::write(f.ws.join("old/a.txt"), "also edited\n").unwrap();
    let o = apply(&cs, &[], false).unwrap();
    let refused: Vec<&Path> = o.refused.iter().map(|(p, _)| p.as_path()).collect();
    assert_eq!(refused, [Path::new("edit.txt"), Path::new("old/a.txt")]);
    assert!(
        o.refused[0].1.contains("changed on the host"),
        "{:?}",
        o.refused
    );
    assert_eq!(
        std::fs::read_to_string(f.ws.join("edit.txt")).unwrap(),
        "the user's own edit\n"
    );
    assert!(!o.finished);
    let o = apply(&cs, &[PathBuf::from("edit.txt")], true).unwrap();
    assert!(o.refused.is_empty());
    assert_eq!(
        std::fs::read_to_string(f.ws.join("edit.txt")).unwrap(),
        "one\n2\n"
    );
}

#[test]
fn deleting_a_directory_the_host_added_to_is_refused() {
    let f = fixture();
    let mut cs = f.store.create(&f.ws, &["rm".into()]).unwrap();
    whiteout(&cs.upper().join("old"));
    cs.finish(0).unwrap();
    write(&f.ws.join("old/new-on-host.txt"), "precious\n");
    let o = apply(&cs, &[], false).unwrap();
    assert_eq!(o.refused.len(), 1, "{:?}", o.refused);
    assert!(f.ws.join("old/new-on-host.txt").exists());
}

#[test]
fn discard_a_path_keeps_the_others() {
    let f = fixture();
    let cs = finished_run(&f);
    let o = discard(
        &cs,
        &[PathBuf::from("edit.txt"), PathBuf::from("old/a.txt")],
    )
    .unwrap();
    assert_eq!(o.done, [PathBuf::from("edit.txt")]);
    assert_eq!(
        o.refused.len(),
        1,
        "an implied deletion goes with its directory"
    );
    let o = discard(&cs, &[PathBuf::from("old")]).unwrap();
    assert!(o.refused.is_empty(), "{:?}", o.refused);
    let left: Vec<String> = kinds(&cs).into_iter().map(|k| k.0).collect();
    assert_eq!(
        left,
        [
            "gone.txt",
            "new",
            "new/deep.txt",
            "run.sh",
            "swap",
            "swap/inside"
        ]
    );
    discard(&cs, &[]).unwrap();
    assert!(!cs.dir.exists());
}

#[test]
fn manifest_round_trips_odd_names() {
    let f = fixture();
    write(&f.ws.join("sp ace\nnew\\line\u{e9}"), "x");
    let m = Manifest::take(&f.ws).unwrap();
    let path = f.ws.parent().unwrap().join("m");
    m.write(&path).unwrap();
    let back = Manifest::read(&path).unwrap();
    assert_eq!(back.entries, m.entries);
    assert!(back.get(Path::new("sp ace\nnew\\line\u{e9}")).is_some());
    assert_eq!(back.below(Path::new("old")).count(), 2);
}

#[test]
fn times_are_utc_calendar_dates() {
    assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(format_time(1_796_405_538), "2026-12-04 17:32:18 UTC");
    assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
}

#[test]
fn the_store_defaults_to_xdg_state_home() {
    let home = Path::new("/home/u");
    assert_eq!(
        Store::default_root(home, None),
        Path::new("/home/u/.local/state/palisade/changes")
    );
    assert_eq!(
        Store::default_root(home, Some(Path::new("/s"))),
        Path::new("/s/palisade/changes")
    );
    assert_eq!(
        Store::default_root(home, Some(Path::new("rel"))),
        Path::new("/home/u/.local/state/palisade/changes")
    );
}

#[test]
fn the_plan_overlays_the_workspace_even_inside_a_writable_root() {
    use crate::plan::{build_fs_plan, Action, FsInputs, WriteLayer};
    let f = fixture();
    std::fs::create_dir_all(f.ws.join(".git/hooks")).unwrap();
    let layer = WriteLayer::Tmpfs {
        size: Some(1 << 20),
    };
    let parent = f.ws.parent().unwrap().to_path_buf();
    for allow_write in [vec![], vec![parent.clone()]] {
        let inputs = FsInputs {
            workspace: f.ws.clone(),
            allow_write,
            protect_names: vec![".git/hooks".into()],
            layer: Some(layer.clone()),
            ..FsInputs::default()
        };
        let plan = build_fs_plan(&inputs).unwrap();
        let at = |p: &Path| plan.ops.iter().position(|op| op.path == p);
        let ws = at(&f.ws).expect("no op for the workspace");
        assert_eq!(plan.ops[ws].action, Action::Overlay(layer.clone()));
        let hooks = at(&f.ws.join(".git/hooks")).expect("hooks not protected");
        assert_eq!(plan.ops[hooks].action, Action::BindReadOnly);
        assert!(ws < hooks, "the overlay must come before what sits on it");
        if let Some(p) = at(&parent) {
            assert!(p < ws);
        }
    }
}
