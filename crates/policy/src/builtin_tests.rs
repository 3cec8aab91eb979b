use std::collections::HashSet;

use crate::*;

fn owned(lists: &[&[&str]]) -> Vec<String> {
    lists
        .iter()
        .flat_map(|l| l.iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn default_is_version_1_with_the_builtin_lists_only() {
    let expected = Policy {
        version: 1,
        filesystem: Filesystem {
            deny_read: owned(&[BUILTIN_DENY_READ]),
            deny_read_names: owned(&[BUILTIN_DENY_NAMES]),
            protect: owned(&[BUILTIN_PROTECT_NAMES, BUILTIN_HOME_PROTECT]),
            ..Filesystem::default()
        },
        ..Policy::default()
    };
    assert_eq!(builtin_default(), expected);
}

#[test]
fn lists_hold_what_the_design_names() {
    for p in [
        "~/.ssh",
        "~/.aws",
        "~/.azure",
        "~/.config/gcloud",
        "~/.kube",
        "~/.docker/config.json",
        "~/.git-credentials",
        "~/.netrc",
        "~/.npmrc",
        "~/.pypirc",
        "~/.gnupg",
        "~/.password-store",
        "~/.mozilla",
        "~/.config/google-chrome",
        "~/.config/chromium",
        "~/.config/BraveSoftware",
        "~/.config/microsoft-edge",
        "~/.config/gh",
        "~/.cargo/credentials.toml",
        "~/.cargo/credentials",
        "~/.config/hub",
        "~/.terraform.d/credentials.tfrc.json",
        "~/.vault-token",
        "~/.local/share/keyrings",
        "~/.config/op",
    ] {
        assert!(
            BUILTIN_DENY_READ.contains(&p),
            "{p} missing from BUILTIN_DENY_READ"
        );
    }
    for p in [
        ".git/hooks",
        ".git/config",
        ".vscode",
        ".idea",
        ".claude",
        "palisade.toml",
    ] {
        assert!(
            BUILTIN_PROTECT_NAMES.contains(&p),
            "{p} missing from BUILTIN_PROTECT_NAMES"
        );
    }
    for p in [
        "~/.bashrc",
        "~/.profile",
        "~/.zshrc",
        "~/.config/fish",
        "~/.local/bin",
    ] {
        assert!(
            BUILTIN_HOME_PROTECT.contains(&p),
            "{p} missing from BUILTIN_HOME_PROTECT"
        );
    }
}

#[test]
fn lists_are_well_formed() {
    let home_lists = [BUILTIN_DENY_READ, BUILTIN_HOME_PROTECT];
    for list in home_lists {
        let mut seen = HashSet::new();
        for p in list {
            assert!(p.starts_with("~/"), "{p} is not home-relative");
            assert!(
                !p.ends_with('/') && !p.contains("//") && !p.contains(".."),
                "{p}"
            );
            assert!(seen.insert(p), "{p} listed twice");
        }
    }
    let mut seen = HashSet::new();
    for p in BUILTIN_PROTECT_NAMES {
        assert!(
            !p.starts_with('~') && !p.starts_with('/') && !p.contains(".."),
            "{p}"
        );
        assert!(seen.insert(p), "{p} listed twice");
    }
}

#[test]
fn apply_is_idempotent_and_dedupes() {
    let mut p = Policy::default();
    p.filesystem.deny_read = vec!["~/.ssh".into(), "~/mine".into()];
    p.filesystem.deny_read_names = vec!["!*.pem".into()];
    p.filesystem.protect = vec![".git/hooks".into(), "Makefile".into()];
    p.apply_builtin_rules();
    let once = p.clone();
    p.apply_builtin_rules();
    assert_eq!(p, once);

    let mut deny = owned(&[BUILTIN_DENY_READ]);
    deny.push("~/mine".into());
    assert_eq!(p.filesystem.deny_read, deny);
    let mut names = owned(&[BUILTIN_DENY_NAMES]);
    names.push("!*.pem".into());
    assert_eq!(p.filesystem.deny_read_names, names);
    assert!(!is_name_hidden(&p.filesystem.deny_read_names, "server.pem"));
    let mut protect = owned(&[BUILTIN_PROTECT_NAMES, BUILTIN_HOME_PROTECT]);
    protect.push("Makefile".into());
    assert_eq!(p.filesystem.protect, protect);
}

#[test]
fn builtin_rules_false_adds_nothing() {
    let mut p = Policy::default();
    p.filesystem.builtin_rules = Some(false);
    p.filesystem.deny_read = vec!["~/mine".into()];
    let before = p.clone();
    p.apply_builtin_rules();
    assert_eq!(p, before);
    assert!(!p.builtin_rules_enabled());
}
