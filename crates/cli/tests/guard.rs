//! Protected paths that do not exist yet cannot be created, by any call that makes a name,
//! while every other creation in the same directories works and lands on the host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

/// A workspace that is a git repository, made on the host, with no `.envrc`, `.vscode`,
/// `.mcp.json` or `.git/config.worktree`.
fn repo(t: &Scratch) {
    t.host_git(&t.ws, &["init", "-q"]);
    write(&t.ws.join("ok.txt"), "ok\n");
}

const DENIED: &[&str] = &["EACCES", "EPERM"];

#[test]
fn protected_names_cannot_be_created_but_their_neighbours_can() {
    let t = Scratch::new("guard-create");
    repo(&t);
    let p = t.probe(
        &[],
        &[
            "write:.git/config.worktree:[core]",
            "write:.envrc:echo owned",
            "mkdir:.vscode",
            "mkdir:.claude",
            "write:.git/notes.txt:fine",
            "write:.envrc.example:fine",
            "mkdir:.vscode-old",
        ],
    );
    p.out.assert_ok();
    p.expect("write:.git/config.worktree:[core]", DENIED);
    p.expect("write:.envrc:echo owned", DENIED);
    p.expect("mkdir:.vscode", DENIED);
    p.expect("mkdir:.claude", DENIED);
    p.expect("write:.git/notes.txt:fine", &["OK"]);
    p.expect("write:.envrc.example:fine", &["OK"]);
    p.expect("mkdir:.vscode-old", &["OK"]);
    for gone in [".git/config.worktree", ".envrc", ".vscode", ".claude"] {
        assert!(t.ws.join(gone).symlink_metadata().is_err(), "{gone} exists");
    }
    assert_eq!(read(&t.ws.join(".git/notes.txt")), "fine\n");
    assert_eq!(read(&t.ws.join(".envrc.example")), "fine\n");
    assert!(t.ws.join(".vscode-old").is_dir());
}

#[test]
fn links_renames_and_dangling_symlinks_cannot_reach_a_protected_name() {
    let t = Scratch::new("guard-links");
    repo(&t);
    let abs_target = format!("symlink:{}/.git/./config.worktree:abs-link", s(&t.ws));
    let p = t.probe(
        &[],
        &[
            "symlink:ok.txt:.mcp.json",
            "rename:ok.txt:.envrc",
            "mkdir:staging",
            "rename:staging:.vscode",
            // A dangling symlink is followed by open(O_CREAT): its target must be checked.
            "symlink:.envrc:innocent",
            "write:innocent:echo owned",
            &abs_target,
            "write:abs-link:[core]",
            "symlink:ok.txt:fine-link",
            "rename:fine-link:renamed-link",
        ],
    );
    p.out.assert_ok();
    p.expect("symlink:ok.txt:.mcp.json", DENIED);
    p.expect("rename:ok.txt:.envrc", DENIED);
    p.expect("rename:staging:.vscode", DENIED);
    p.expect("symlink:.envrc:innocent", &["OK"]);
    p.expect("write:innocent:echo owned", DENIED);
    p.expect("write:abs-link:[core]", DENIED);
    p.expect("rename:fine-link:renamed-link", &["OK"]);
    assert_eq!(read(&t.ws.join("ok.txt")), "ok\n");
    assert!(t.ws.join("staging").is_dir());
    for gone in [".mcp.json", ".envrc", ".vscode", ".git/config.worktree"] {
        assert!(t.ws.join(gone).symlink_metadata().is_err(), "{gone} exists");
    }
    assert_eq!(read(&t.ws.join("renamed-link")), "ok\n");
}

/// Calls the probe has no operation for, with the errno name printed per line.
const CALLS: &str = r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = -100, 0x400, 0x1000
def show(name, rc):
    e = ctypes.get_errno()
    print(name, "=", "OK" if rc == 0 else errno.errorcode.get(e, str(e)))
ctypes.set_errno(0)
show("link-protected", libc.link(b"ok.txt", b".envrc"))
show("link-plain", libc.link(b"ok.txt", b"hard.txt"))
show("mkfifo-protected", libc.mkfifo(b".mcp.json", 0o600))
show("mknod-plain", libc.mknod(b"node", 0o100600, 0))
show("mkdir-at", libc.mkdirat(os.open(".git", os.O_PATH), b"config.worktree", 0o755))
show("proc-self-cwd", libc.mkdir(b"/proc/self/cwd/.vscode", 0o755))
show("creat-protected", 0 if libc.creat(b".envrc", 0o644) >= 0 else -1)
fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600)
os.write(fd, b"tmp")
show("tmpfile-protected", libc.linkat(fd, b"", AT_FDCWD, b".envrc", AT_EMPTY_PATH))
show("tmpfile-plain", libc.linkat(AT_FDCWD, b"/proc/self/fd/%d" % fd, AT_FDCWD, b"tmp.txt",
                                  AT_SYMLINK_FOLLOW))
os.umask(0o077)
with open("excl.txt", "x") as f:
    f.write("once")
try:
    open("excl.txt", "x")
    print("excl-again = OK")
except OSError as e:
    print("excl-again =", errno.errorcode[e.errno])
print("umask-mode = OK %o" % (os.stat("excl.txt").st_mode & 0o777))
"#;

#[test]
fn every_creating_call_is_checked_and_ordinary_ones_behave_as_usual() {
    let t = Scratch::new("guard-calls");
    repo(&t);
    let p = probe_of(t.run(&[], &[&python(), "-c", CALLS]));
    p.out.assert_ok();
    p.expect("link-protected", DENIED);
    p.expect("link-plain", &["OK"]);
    p.expect("mkfifo-protected", DENIED);
    p.expect("mknod-plain", &["OK"]);
    p.expect("mkdir-at", DENIED);
    p.expect("proc-self-cwd", DENIED);
    p.expect("creat-protected", DENIED);
    p.expect("tmpfile-protected", DENIED);
    p.expect("tmpfile-plain", &["OK"]);
    p.expect("excl-again", &["EEXIST"]);
    assert_eq!(p.ok_detail("umask-mode"), "600");
    for gone in [".envrc", ".mcp.json", ".git/config.worktree", ".vscode"] {
        assert!(t.ws.join(gone).symlink_metadata().is_err(), "{gone} exists");
    }
    assert_eq!(read(&t.ws.join("hard.txt")), "ok\n");
    assert_eq!(read(&t.ws.join("tmp.txt")), "tmp");
    assert_eq!(read(&t.ws.join("excl.txt")), "once");
    assert!(t.ws.join("node").is_file());
}

#[test]
fn shell_redirections_fifos_and_devices_still_work() {
    let t = Scratch::new("guard-shell");
    repo(&t);
    let out = t.sh(
        &[],
        "echo one > f && echo two >> f && echo null > /dev/null && mkfifo p && \
         (cat p > from-fifo &) && echo through > p && sleep 0.2 && cat f from-fifo && \
         mkdir -p a/b/c && ln -s a/b l && mv f l/g && cat a/b/g",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "one\ntwo\nthrough\none\ntwo\n", "{out}");
    assert_eq!(read(&t.ws.join("a/b/g")), "one\ntwo\n");
}
