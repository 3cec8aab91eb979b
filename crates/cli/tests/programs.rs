//! Real programs run inside: git, a python venv, node, a cargo build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::PathBuf;

use common::*;

#[test]
fn git_init_add_commit_status_log() {
    let t = Scratch::new("git");
    if which("git").is_none() {
        skip("git_init_add_commit_status_log", "git is not installed");
        return;
    }
    let git = "git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main";
    let out = t.sh(
        &[],
        &format!(
            "set -e; {git} init -q; echo hello > a.txt; {git} add a.txt; \
             {git} commit -qm 'first commit'; echo more >> a.txt; {git} status --short; \
             {git} log --format=%s"
        ),
    );
    out.assert_ok();
    assert_eq!(out.stdout, " M a.txt\nfirst commit\n", "{out}");
    // The repository is on the host and the host's git agrees.
    assert_eq!(t.host_git(&t.ws, &["log", "--format=%s"]), "first commit\n");
}

#[test]
fn python_venv_and_a_script() {
    let t = Scratch::new("venv");
    let py = python();
    let out = t.sh(
        &[],
        &format!(
            "set -e; {py} -m venv .venv; .venv/bin/python -c \
             'import sys, json; print(json.dumps([sys.prefix != sys.base_prefix, 6 * 7]))'"
        ),
    );
    if out.code() != 0 && out.stderr.contains("ensurepip") {
        skip(
            "python_venv_and_a_script",
            "python3-venv (ensurepip) is not installed",
        );
        return;
    }
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "[true, 42]", "{out}");
    assert!(t.ws.join(".venv/bin/python").exists());
}

#[test]
fn node_runs_a_script() {
    let t = Scratch::new("node");
    if which("node").is_none() {
        skip("node_runs_a_script", "node is not installed");
        return;
    }
    let out = t.run(
        &[],
        &[
            "node",
            "-e",
            "require('fs').writeFileSync('out.json', JSON.stringify({sum: 2 + 3})); \
             console.log(require('os').hostname())",
        ],
    );
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "palisade", "{out}");
    assert_eq!(read(&t.ws.join("out.json")), "{\"sum\":5}");
}

/// The toolchain's own `cargo` and `rustc` (not rustup's proxies, which need `~/.rustup` of
/// the real home): `$CARGO` is set by cargo for the tests it runs.
fn toolchain() -> Option<(PathBuf, PathBuf)> {
    let cargo = std::env::var_os("PALISADE_TEST_CARGO")
        .or_else(|| std::env::var_os("CARGO"))
        .map(PathBuf::from)?;
    let rustc = cargo.with_file_name("rustc");
    let usable = |p: &PathBuf| std::process::Command::new(p).arg("--version").output();
    match (usable(&cargo), usable(&rustc)) {
        (Ok(a), Ok(b)) if a.status.success() && b.status.success() => Some((cargo, rustc)),
        _ => None,
    }
}

#[test]
fn cargo_builds_a_tiny_crate_offline() {
    let name = "cargo_builds_a_tiny_crate_offline";
    let t = Scratch::new("cargo");
    let Some((cargo, rustc)) = toolchain() else {
        skip(
            name,
            "no toolchain cargo/rustc this user can run ($CARGO unset or unreachable)",
        );
        return;
    };
    write(
        &t.ws.join("hello/Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        &t.ws.join("hello/src/main.rs"),
        "fn main() { println!(\"built inside: {}\", 6 * 7); }\n",
    );
    // CARGO_HOME in the workspace: the real ~/.cargo is read-only inside, and a build with no
    // dependencies needs nothing from it. RUSTC names the toolchain's compiler directly.
    let rustc_env = format!("RUSTC={}", s(&rustc));
    let cargo_home = format!("CARGO_HOME={}", s(&t.ws.join(".cargo-home")));
    // The caller's CARGO_TARGET_DIR (if any) is outside the workspace: read-only inside.
    let target = format!("CARGO_TARGET_DIR={}", s(&t.ws.join("hello/target")));
    let out = t.sh(
        &["--env", &rustc_env, "--env", &cargo_home, "--env", &target],
        &format!(
            "cd hello && {} build --offline -q && ./target/debug/hello",
            s(&cargo)
        ),
    );
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "built inside: 42", "{out}");
    assert!(t.ws.join("hello/target/debug/hello").exists());
}
