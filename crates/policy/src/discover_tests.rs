use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::*;

struct Dirs {
    _tmp: tempfile::TempDir,
    cwd: PathBuf,
    config: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("project");
    let config = tmp.path().join("config");
    fs::create_dir_all(&cwd).unwrap();
    fs::create_dir_all(config.join("palisade")).unwrap();
    Dirs {
        _tmp: tmp,
        cwd,
        config,
    }
}

fn write_policy(path: &Path, domain: &str) {
    fs::write(path, format!("[network]\nallow = [\"{domain}\"]\n")).unwrap();
}

fn allowed(p: &Policy) -> Vec<String> {
    p.network.allow.clone()
}

#[test]
fn order_is_explicit_then_cwd_then_user_then_builtin() {
    let d = dirs();
    let explicit = d.cwd.join("other.toml");
    let local = d.cwd.join("palisade.toml");
    let user = d.config.join("palisade").join("config.toml");
    write_policy(&explicit, "explicit.test");
    write_policy(&local, "local.test");
    write_policy(&user, "user.test");

    let (p, src) = discover_in(Some(&explicit), &d.cwd, Some(&d.config)).unwrap();
    assert_eq!(
        (allowed(&p), src),
        (
            vec!["explicit.test".into()],
            PolicySource::Explicit(explicit)
        )
    );

    let (p, src) = discover_in(None, &d.cwd, Some(&d.config)).unwrap();
    assert_eq!(
        (allowed(&p), src),
        (
            vec!["local.test".into()],
            PolicySource::CurrentDir(local.clone())
        )
    );

    fs::remove_file(&local).unwrap();
    let (p, src) = discover_in(None, &d.cwd, Some(&d.config)).unwrap();
    assert_eq!(
        (allowed(&p), src),
        (
            vec!["user.test".into()],
            PolicySource::UserConfig(user.clone())
        )
    );
    assert_eq!(
        p.filesystem.deny_read[0], "~/.ssh",
        "built-in lists apply to file policies"
    );

    fs::remove_file(&user).unwrap();
    let (p, src) = discover_in(None, &d.cwd, Some(&d.config)).unwrap();
    assert_eq!((p, src), (builtin_default(), PolicySource::Builtin));
    let (p, src) = discover_in(None, &d.cwd, None).unwrap();
    assert_eq!((p, src), (builtin_default(), PolicySource::Builtin));
}

#[test]
fn a_broken_candidate_is_an_error_not_skipped() {
    let d = dirs();
    let local = d.cwd.join("palisade.toml");
    fs::write(&local, "[netwrk]\n").unwrap();
    write_policy(&d.config.join("palisade").join("config.toml"), "user.test");
    let e = discover_in(None, &d.cwd, Some(&d.config))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}:1:2: netwrk: unknown key", local.display())),
        "{e}"
    );

    fs::remove_file(&local).unwrap();
    std::os::unix::fs::symlink(d.cwd.join("missing"), &local).unwrap();
    let e = discover_in(None, &d.cwd, Some(&d.config)).unwrap_err();
    assert!(matches!(e, PolicyError::Read { .. }), "{e}");

    let e = discover_in(Some(&d.cwd.join("nope.toml")), &d.cwd, None).unwrap_err();
    assert!(matches!(e, PolicyError::Read { .. }), "{e}");
}

#[test]
fn user_config_dir_follows_xdg_rules() {
    let home = Path::new("/home/dev");
    assert_eq!(
        user_config_dir(Some(OsString::from("/xdg")), Some(home)),
        Some(PathBuf::from("/xdg"))
    );
    assert_eq!(
        user_config_dir(Some(OsString::from("relative")), Some(home)),
        Some(PathBuf::from("/home/dev/.config"))
    );
    assert_eq!(
        user_config_dir(Some(OsString::new()), Some(home)),
        Some(PathBuf::from("/home/dev/.config"))
    );
    assert_eq!(
        user_config_dir(None, Some(home)),
        Some(PathBuf::from("/home/dev/.config"))
    );
    assert_eq!(user_config_dir(None, None), None);
}

#[test]
fn source_display() {
    assert_eq!(PolicySource::Builtin.to_string(), "built-in default");
    let p = PathBuf::from("/w/palisade.toml");
    assert_eq!(
        PolicySource::CurrentDir(p.clone()).to_string(),
        "/w/palisade.toml (current directory)"
    );
    assert_eq!(PolicySource::Explicit(p.clone()).path(), Some(p.as_path()));
    assert_eq!(PolicySource::Builtin.path(), None);
}
