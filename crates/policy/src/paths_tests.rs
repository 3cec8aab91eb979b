use std::path::{Path, PathBuf};

use super::*;

const HOME: &str = "/home/dev";
const WS: &str = "/home/dev/project";

fn expand(raw: &str) -> Result<PathBuf, String> {
    expand_path(raw, Path::new(HOME), Path::new(WS)).map_err(|e| e.to_string())
}

#[test]
fn tilde_relative_and_absolute() {
    assert_eq!(expand("~"), Ok(PathBuf::from("/home/dev")));
    assert_eq!(expand("~/"), Ok(PathBuf::from("/home/dev")));
    assert_eq!(expand("~/.ssh"), Ok(PathBuf::from("/home/dev/.ssh")));
    assert_eq!(
        expand(".git/hooks"),
        Ok(PathBuf::from("/home/dev/project/.git/hooks"))
    );
    assert_eq!(expand("."), Ok(PathBuf::from("/home/dev/project")));
    assert_eq!(expand("/etc/hosts"), Ok(PathBuf::from("/etc/hosts")));
}

#[test]
fn dots_are_resolved_lexically() {
    assert_eq!(expand("../other"), Ok(PathBuf::from("/home/dev/other")));
    assert_eq!(
        expand("a/./b/../c/"),
        Ok(PathBuf::from("/home/dev/project/a/c"))
    );
    assert_eq!(expand("~/x/../../.."), Ok(PathBuf::from("/")));
    assert_eq!(
        expand("/../../etc//passwd"),
        Ok(PathBuf::from("/etc/passwd"))
    );
    assert_eq!(expand("~/a/../.aws"), Ok(PathBuf::from("/home/dev/.aws")));
    assert_eq!(
        expand("dir~/x"),
        Ok(PathBuf::from("/home/dev/project/dir~/x"))
    );
}

#[test]
fn refused_forms() {
    assert_eq!(
        expand("~bob/.ssh"),
        Err("\"~bob/.ssh\": ~user paths are not supported; write ~/ or a full path".into())
    );
    assert_eq!(expand(""), Err("\"\": empty path".into()));
    assert_eq!(
        expand("a\0b"),
        Err("\"a\\0b\": path holds a NUL byte".into())
    );
}

#[test]
fn normalize_keeps_leading_dotdot_of_relative_paths() {
    assert_eq!(
        normalize(Path::new("../a/../../b")),
        PathBuf::from("../../b")
    );
    assert_eq!(normalize(Path::new("a/..")), PathBuf::from(""));
}
