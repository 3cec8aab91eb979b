//! Regression tests for failures reported against other sandboxes, one test per report,
//! named after it. Each one asserts what a process inside sees and what the host keeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// Reported: a denied directory was masked by a writable tmpfs, so writes into it
/// "succeeded" and the data vanished at exit instead of failing loudly.
#[test]
fn regression_denied_dir_silently_accepts_writes() {
    let t = Scratch::new("reg-denied-dir");
    let denied = t.ws.join("private");
    write(&denied.join("old.txt"), "old\n");
    write(&t.home.join(".aws/credentials"), "[default]\n");
    let aws_new = format!("write:{}:x", s(&t.home.join(".aws/new")));
    let p = t.probe(
        &["--deny-read", "private"],
        &[
            "write:private/new.txt:lost",
            "mkdir:private/d",
            "symlink:/etc/passwd:private/l",
            "list:private",
            &aws_new,
        ],
    );
    p.out.assert_ok();
    p.expect("write:private/new.txt:lost", DENIED_WRITE);
    p.expect("mkdir:private/d", DENIED_WRITE);
    p.expect("symlink:/etc/passwd:private/l", DENIED_WRITE);
    p.expect(&aws_new, DENIED_WRITE);
    let listing = p.get("list:private");
    assert!(
        listing == "OK " || DENIED_READ.contains(&listing),
        "denied dir listing shows {listing:?}\n{}",
        p.out
    );
    assert_eq!(
        snapshot(&denied).into_iter().collect::<Vec<_>>(),
        vec!["f old.txt 4".to_string()]
    );
}

/// Reported: a deny on a file inside an allowed directory was undone when the directory's
/// writable bind was mounted after the file's mask.
#[test]
fn regression_deny_file_in_allowed_dir_reexposed_by_later_bind() {
    let t = Scratch::new("reg-reexposed");
    let dir = t.root.join("project-data");
    write(&dir.join("creds.json"), "{\"k\":1}\n");
    write(&dir.join("sub/creds.json"), "{\"k\":2}\n");
    let f1 = s(&dir.join("creds.json"));
    let f2 = s(&dir.join("sub/creds.json"));
    let (r1, r2) = (format!("read:{f1}"), format!("read:{f2}"));
    let w = format!("write:{}:ok", s(&dir.join("sub/other")));
    let sub = s(&dir.join("sub"));
    for flags in [
        vec![
            "--deny-read",
            &f1,
            "--deny-read",
            &f2,
            "--allow-write",
            &s(&dir),
        ],
        vec![
            "--allow-write",
            &s(&dir),
            "--deny-read",
            &f1,
            "--deny-read",
            &f2,
        ],
        vec![
            "--deny-read",
            &f2,
            "--allow-write",
            &sub,
            "--allow-write",
            &s(&dir),
        ],
    ] {
        let deny_f1 = flags.contains(&f1.as_str());
        let p = t.probe(&flags, &[&r1, &r2, &w]);
        p.out.assert_ok();
        if deny_f1 {
            p.expect(&r1, DENIED_READ);
        }
        p.expect(&r2, DENIED_READ);
        p.expect(&w, &["OK"]);
    }
}

/// Reported: with a denied tree, a read carve-out below it and a writable path below that,
/// writes to the writable path went to a throwaway layer and were lost.
#[test]
fn regression_write_lost_under_read_carveout_under_deny() {
    let t = Scratch::new("reg-carveout");
    let data = t.root.join("data");
    write(&data.join("secret.txt"), "secret\n");
    write(&data.join("pub/readme.txt"), "readme\n");
    mkdirs(&data.join("pub/out"));
    let config = t.root.join("policy.toml");
    write(
        &config,
        &format!(
            "version = 1\n[filesystem]\ndeny_read = [\"{d}\"]\nallow_read = [\"{d}/pub\"]\n\
             allow_write = [\"{d}/pub/out\"]\n",
            d = s(&data)
        ),
    );
    let ops = [
        format!("read:{}", s(&data.join("secret.txt"))),
        format!("read:{}", s(&data.join("pub/readme.txt"))),
        format!("write:{}:nope", s(&data.join("pub/readme.txt"))),
        format!("write:{}:nope", s(&data.join("new.txt"))),
        format!("write:{}:kept", s(&data.join("pub/out/result.txt"))),
        format!("mkdir:{}", s(&data.join("pub/out/dir"))),
    ];
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let p = t.probe(&["--config", &s(&config)], &ops);
    p.out.assert_ok();
    p.expect(ops[0], DENIED_READ);
    assert_eq!(p.ok_detail(ops[1]), "readme");
    p.expect(ops[2], DENIED_WRITE);
    p.expect(ops[3], DENIED_WRITE);
    p.expect(ops[4], &["OK"]);
    p.expect(ops[5], &["OK"]);
    assert_eq!(read(&data.join("pub/out/result.txt")), "kept\n");
    assert!(data.join("pub/out/dir").is_dir());
    assert_eq!(read(&data.join("pub/readme.txt")), "readme\n");
    assert!(!data.join("new.txt").exists());
}

/// Reported: shell rc files in `$HOME` were writable when the workspace was a subdirectory
/// of `$HOME` (or `$HOME` itself), so a confined command could plant code for the next
/// login shell.
#[test]
fn regression_rc_files_writable_when_workspace_in_home() {
    let t = Scratch::new("reg-rc");
    write(&t.home.join(".bashrc"), "# rc\n");
    write(&t.home.join(".bash_profile"), "# p\n");
    let proj = t.home.join("src/proj");
    mkdirs(&proj);
    let w1 = format!("append:{}:evil", s(&t.home.join(".bashrc")));
    let w2 = format!("append:{}:evil", s(&t.home.join(".bash_profile")));
    for ws in [s(&proj), s(&t.home)] {
        let p = t.probe(&["--workspace", &ws], &[&w1, &w2]);
        p.out.assert_ok();
        p.expect(&w1, DENIED_WRITE).expect(&w2, DENIED_WRITE);
    }
    assert_eq!(read(&t.home.join(".bashrc")), "# rc\n");
    assert_eq!(read(&t.home.join(".bash_profile")), "# p\n");
}

/// Reported: a deny rule naming a path whose parent is missing, inside a root-owned 0711
/// directory the user cannot list, made the sandbox try to create a placeholder there and
/// abort every run.
#[test]
fn regression_deny_path_under_root_0711_missing_parent_aborts_run() {
    let name = "regression_deny_path_under_root_0711_missing_parent_aborts_run";
    let t = Scratch::new("reg-0711");
    // As root: make the directories here and start palisade as an unprivileged user. As
    // another user: scripts/test provides a root-owned 0711 directory.
    let (locked, as_nobody) = if is_root() {
        let locked = t.root.join("locked");
        mkdirs(&locked);
        chmod(&locked, 0o711);
        let closed = t.root.join("closed");
        mkdirs(&closed);
        chmod(&closed, 0o700);
        (locked, true)
    } else {
        match std::env::var_os("PALISADE_TEST_ROOT_0711") {
            Some(p) => (std::path::PathBuf::from(p), false),
            None => {
                skip(name, "not root and PALISADE_TEST_ROOT_0711 is not set");
                return;
            }
        }
    };
    let deny1 = s(&locked.join("missing/secret"));
    let deny2 = s(&locked.join("missing"));
    let deny3 = s(&t.root.join("closed/missing/secret"));
    let w = "write:out.txt:ran";
    let r = format!("read:{deny1}");
    let mut cmd = t.palisade();
    cmd.args(["run", "--deny-read", &deny1, "--deny-read", &deny2]);
    if as_nobody {
        cmd.args(["--deny-read", &deny3]);
    }
    cmd.args(["--", &python(), &s(&t.probe), w, &r]);
    if as_nobody {
        if !nobody_can_run_palisade(name) {
            return;
        }
        chown_tree(&t.ws, 65534);
        become_nobody(&mut cmd);
    }
    let p = probe_of(output(cmd));
    p.out.assert_ok();
    p.expect(w, &["OK"]);
    p.expect(&r, DENIED_READ);
    assert_eq!(read(&t.ws.join("out.txt")), "ran\n");
    assert!(
        !locked.join("missing").exists(),
        "a placeholder was created"
    );
}

/// Reported: after `kill -9` of the sandbox's parent, placeholder files created to mount
/// over missing paths stayed in the workspace and home (and processes kept running).
#[test]
fn regression_placeholders_left_after_kill9() {
    let t = Scratch::new("reg-kill9");
    t.host_git(&t.ws, &["init", "-q"]);
    write(&t.ws.join(".env"), "A=1\n");
    write(&t.ws.join("src/main.rs"), "fn main() {}\n");
    write(&t.home.join(".ssh/id_ed25519"), "k\n");
    write(&t.home.join(".bashrc"), "# rc\n");
    let before_ws = snapshot(&t.ws);
    let before_home = snapshot(&t.home);
    let tag = format!(
        "{}.{}",
        3000 + std::process::id() % 1000,
        std::process::id()
    );
    let mut cmd = t.palisade();
    cmd.args([
        "run",
        "--deny-read",
        "~/.missing-secret",
        "--deny-read",
        "missing/dir",
    ])
    .args(["--", "sleep", &tag])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("cannot start palisade");
    let sup = child.id() as i32;
    let sleeper = wait_for(Duration::from_secs(10), || find_process(&["sleep", &tag]));
    let Some(sleeper) = sleeper else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the sandboxed sleep never showed up");
    };
    let init = children_of(sup);
    // While it runs: nothing was created on the host, not even temporarily.
    assert_eq!(
        snapshot(&t.ws),
        before_ws,
        "workspace changed while running"
    );
    assert_eq!(snapshot(&t.home), before_home, "home changed while running");

    // SAFETY: kill has no memory-safety preconditions; `sup` is our own child.
    unsafe { libc::kill(sup, libc::SIGKILL) };
    let _ = child.wait();
    let start = Instant::now();
    let mut pids = init.clone();
    pids.push(sleeper);
    let gone = wait_for(Duration::from_secs(1), || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    let elapsed = start.elapsed();
    assert!(
        gone.is_some(),
        "sandbox processes {pids:?} still alive {elapsed:?} after kill -9 of the supervisor"
    );
    assert_eq!(
        snapshot(&t.ws),
        before_ws,
        "workspace changed after kill -9"
    );
    assert_eq!(snapshot(&t.home), before_home, "home changed after kill -9");
}

fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Host pid of the process whose argv is exactly `argv`.
fn find_process(argv: &[&str]) -> Option<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        (cmdline == want).then_some(pid)
    })
}

/// (pid, state, ppid) from /proc/PID/stat.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

/// A process counts as gone once it no longer exists or is a zombie (it has exited).
fn alive(pid: i32) -> bool {
    matches!(stat(pid), Some((st, _)) if st != 'Z' && st != 'X')
}

fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| matches!(stat(*p), Some((_, pp)) if pp == parent))
        .collect()
}

fn chown_tree(p: &Path, uid: u32) {
    let _ = std::os::unix::fs::lchown(p, Some(uid), Some(uid));
    if p.is_dir() && !p.is_symlink() {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                chown_tree(&e.path(), uid);
            }
        }
    }
}

fn become_nobody(cmd: &mut std::process::Command) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether uid 65534 can execute the palisade binary (a checkout under a root-only
/// directory keeps it out); prints the skip reason if not.
fn nobody_can_run_palisade(test: &str) -> bool {
    let mut c = std::process::Command::new(palisade_bin());
    c.arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    become_nobody(&mut c);
    let ok = c.status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        skip(
            test,
            &format!("uid 65534 cannot run {}", palisade_bin().display()),
        );
    }
    ok
}
