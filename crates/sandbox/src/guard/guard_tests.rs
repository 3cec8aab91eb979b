use std::path::PathBuf;

use super::serve::{for_caller, split};
use super::*;

fn guard() -> Guard {
    let p = |s: &str| PathBuf::from(s);
    let missing = [
        p("/ws/.envrc"),
        p("/ws/.git/config.worktree"),
        p("/home/u/.config/git/config"),
    ];
    let roots = [p("/ws"), p("/home/u")];
    match Guard::new(&missing, &roots) {
        Some(g) => g,
        None => panic!("a guard for three paths"),
    }
}

#[test]
fn nothing_missing_needs_no_guard() {
    assert!(Guard::new(&[], &[PathBuf::from("/ws")]).is_none());
}

#[test]
fn protected_names_are_refused_whatever_is_created() {
    let g = guard();
    assert!(!g.allows(b"/ws", b".envrc", Create::Other));
    assert!(!g.allows(b"/ws", b".envrc", Create::Dir));
    assert!(!g.allows(b"/ws/", b".envrc", Create::Other));
    assert!(!g.allows(b"/ws//.git", b"config.worktree", Create::Other));
    assert!(!g.allows(b"/home/u/.config/git", b"config", Create::Other));
}

#[test]
fn other_names_in_the_same_directories_are_allowed() {
    let g = guard();
    assert!(g.allows(b"/ws", b".envrc2", Create::Other));
    assert!(g.allows(b"/ws/.git", b"config.lock", Create::Other));
    assert!(g.allows(b"/ws/sub", b".envrc", Create::Other));
    assert!(g.allows(b"/home/u/.config", b"nvim", Create::Dir));
    assert!(g.allows(b"/ws", b".", Create::Other));
    assert!(g.allows(b"/ws", b"..", Create::Dir));
}

#[test]
fn missing_ancestors_take_only_a_fresh_directory() {
    let g = guard();
    // A directory made there is still guarded by name; anything else (a renamed directory
    // holding `config` already, a symlink elsewhere) is refused.
    assert!(g.allows(b"/home/u/.config", b"git", Create::Dir));
    assert!(!g.allows(b"/home/u/.config", b"git", Create::Other));
    assert!(!g.allows(b"/home/u", b".config", Create::Other));
    assert!(!g.allows(b"/ws", b".git", Create::Other));
    // The writable root itself and what lies above it are mounts, not guarded here.
    assert!(g.allows(b"/home", b"u", Create::Other));
    assert!(g.allows(b"/", b"ws", Create::Other));
}

#[test]
fn paths_split_into_directory_and_last_component() {
    assert_eq!(split(b"a/b/c"), (&b"a/b/"[..], &b"c"[..]));
    assert_eq!(split(b"/c"), (&b"/"[..], &b"c"[..]));
    assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
    assert_eq!(split(b"a/dir//"), (&b"a/"[..], &b"dir//"[..]));
    assert_eq!(split(b"///"), (&b"/"[..], &b"."[..]));
    assert_eq!(split(b""), (&b""[..], &b""[..]));
}

#[test]
fn proc_self_names_the_caller() {
    assert_eq!(
        for_caller(42, b"/proc/self/fd/3"),
        b"/proc/42/fd/3".to_vec()
    );
    assert_eq!(for_caller(42, b"/proc/self"), b"/proc/42".to_vec());
    assert_eq!(
        for_caller(42, b"/proc/thread-self/cwd/"),
        b"/proc/42/task/42/cwd/".to_vec()
    );
    assert_eq!(for_caller(42, b"/proc/selfish"), b"/proc/selfish".to_vec());
    assert_eq!(for_caller(42, b"/ws/x"), b"/ws/x".to_vec());
}
