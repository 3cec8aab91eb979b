//! Shared helpers for the sandbox integration tests: a fresh workspace and home per test, a
//! way to run `palisade` with them, and the probe that reports errno names from inside.
//!
//! Everything lives under `/var/tmp`, not `/tmp`: the sandbox has a private `/tmp`, so a host
//! path there would not be the same file inside. The helpers work whoever runs the test binary
//! (root, or an unprivileged uid in CI); tests that need root call [`require_root`].

// Each test file is its own crate and uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The probe script, embedded so the tests need no readable checkout at run time.
const PROBE: &str = include_str!("../../../../tests/probes/probe.py");

/// The `palisade` binary: `$PALISADE_BIN` (set by scripts/test when the binaries are copied
/// somewhere an unprivileged user can reach), else the one Cargo built for this test.
pub fn palisade_bin() -> PathBuf {
    std::env::var_os("PALISADE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_palisade")))
}

/// A system python3, so that no per-user shim (pyenv) is needed inside the sandbox.
pub fn python() -> String {
    if let Some(p) = std::env::var_os("PALISADE_TEST_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    if Path::new("/usr/bin/python3").exists() {
        return "/usr/bin/python3".to_string();
    }
    "python3".to_string()
}

pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

pub fn is_root() -> bool {
    uid() == 0
}

/// Prints why a test is skipped; the caller returns right after. Written to the real stderr,
/// past libtest's output capture, so the reason shows in a passing run too.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// True when running as root; otherwise prints the skip reason.
pub fn require_root(test: &str) -> bool {
    if !is_root() {
        skip(test, "needs root (runs as an unprivileged user here)");
    }
    is_root()
}

/// Finds `prog` on `$PATH` as an absolute path this user can execute.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes().to_vec());
            // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
            c.map(|c| unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0)
                .unwrap_or(false)
        })
}

/// What one `palisade` invocation produced.
pub struct Out {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub argv: Vec<String>,
}

impl Out {
    /// The exit code; a test failure if palisade itself died of a signal.
    #[track_caller]
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(c) => c,
            None => panic!("palisade itself was killed by a signal\n{self}"),
        }
    }

    #[track_caller]
    pub fn assert_code(&self, want: i32) -> &Self {
        assert_eq!(self.code(), want, "unexpected exit status\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- command: {:?}", self.argv)?;
        writeln!(f, "--- status: {}", self.status)?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        write!(f, "--- stderr:\n{}", self.stderr)
    }
}

/// The probe's answers, one per operation, in the order asked.
pub struct Probe {
    pub out: Out,
    results: Vec<(String, String)>,
}

impl Probe {
    /// The result of `op` (`OK`, `OK detail` or an errno name).
    #[track_caller]
    pub fn get(&self, op: &str) -> &str {
        match self.results.iter().find(|(k, _)| k == op) {
            Some((_, v)) => v,
            None => panic!("probe printed no result for {op:?}\n{}", self.out),
        }
    }

    /// Asserts that `op` got one of `want` (errno names, or `OK`, which also matches
    /// `OK detail`).
    #[track_caller]
    pub fn expect(&self, op: &str, want: &[&str]) -> &Self {
        let got = self.get(op);
        let first = got.split(' ').next().unwrap_or_default();
        assert!(
            want.contains(&first),
            "{op}: got {got:?}, wanted one of {want:?}\n{}",
            self.out
        );
        self
    }

    /// The detail after `OK ` for `op`, failing the test if `op` did not succeed.
    #[track_caller]
    pub fn ok_detail(&self, op: &str) -> &str {
        let got = self.get(op);
        match got.strip_prefix("OK") {
            Some(rest) => rest.trim_start(),
            None => panic!("{op}: got {got:?}, wanted OK\n{}", self.out),
        }
    }
}

/// Errno names a read of a hidden path may give.
pub const DENIED_READ: &[&str] = &["EACCES", "ENOENT", "EPERM"];
/// Errno names a write to a read-only or hidden path may give.
pub const DENIED_WRITE: &[&str] = &["EROFS", "EACCES", "EPERM", "ENOENT"];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch area for one test: `root/ws` (the workspace and starting directory),
/// `root/home` (`$HOME`), `root/probe.py`, all owned by whoever runs the test.
pub struct Scratch {
    pub root: PathBuf,
    pub ws: PathBuf,
    pub home: PathBuf,
    pub probe: PathBuf,
}

impl Scratch {
    #[track_caller]
    pub fn new(name: &str) -> Scratch {
        let base = std::env::var_os("PALISADE_TEST_BASE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = base.join(format!(
            "palisade-it-{}-{}-{name}-{n}",
            uid(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let s = Scratch {
            ws: root.join("ws"),
            home: root.join("home"),
            probe: root.join("probe.py"),
            root,
        };
        mkdirs(&s.ws);
        mkdirs(&s.home);
        write(&s.probe, PROBE);
        // Readable by anyone: a test running as root may start palisade as another user.
        for p in [&s.root, &s.ws, &s.home] {
            chmod(p, 0o755);
        }
        chmod(&s.probe, 0o644);
        s
    }

    /// `palisade` with `$HOME` set to the scratch home and the workspace as the current
    /// directory. `TMPDIR` is dropped: the host's would be a read-only path inside.
    pub fn palisade(&self) -> Command {
        let mut c = Command::new(palisade_bin());
        c.current_dir(&self.ws)
            .env("HOME", &self.home)
            .env_remove("TMPDIR")
            .env_remove("PALISADE_LOG")
            .stdin(Stdio::null());
        c
    }

    /// `palisade run FLAGS -- CMD...`.
    pub fn run(&self, flags: &[&str], cmd: &[&str]) -> Out {
        let mut c = self.palisade();
        c.arg("run").args(flags).arg("--").args(cmd);
        output(c)
    }

    /// `palisade run FLAGS -- /bin/sh -c SCRIPT`.
    pub fn sh(&self, flags: &[&str], script: &str) -> Out {
        self.run(flags, &["/bin/sh", "-c", script])
    }

    /// Runs the probe inside the sandbox with `ops` (see tests/probes/probe.py).
    pub fn probe(&self, flags: &[&str], ops: &[&str]) -> Probe {
        let probe = self.probe.to_string_lossy().into_owned();
        let py = python();
        let mut cmd = vec![py.as_str(), probe.as_str()];
        cmd.extend_from_slice(ops);
        probe_of(self.run(flags, &cmd))
    }

    /// Runs the host's `git` in `dir` with this scratch home and a fixed identity.
    #[track_caller]
    pub fn host_git(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .output()
            .expect("cannot run host git");
        assert!(out.status.success(), "host git {args:?} failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("PALISADE_TEST_KEEP").is_some() {
            eprintln!("kept {}", self.root.display());
            return;
        }
        make_removable(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Gives the owner rwx on every directory below `p`, so a test that made one unreadable can
/// still be cleaned up.
fn make_removable(p: &Path) {
    let Ok(meta) = p.symlink_metadata() else {
        return;
    };
    if meta.is_dir() {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                make_removable(&e.path());
            }
        }
    }
}

/// Runs `c` to completion, capturing everything.
#[track_caller]
pub fn output(mut c: Command) -> Out {
    let argv = std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let o = c.output().expect("cannot start palisade");
    Out {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        argv,
    }
}

/// Parses probe output (`OP = RESULT` lines) from a finished run.
pub fn probe_of(out: Out) -> Probe {
    let results = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Probe { out, results }
}

#[track_caller]
pub fn mkdirs(p: &Path) {
    std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
}

#[track_caller]
pub fn write(p: &Path, content: &str) {
    if let Some(parent) = p.parent() {
        mkdirs(parent);
    }
    std::fs::write(p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

#[track_caller]
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[track_caller]
pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Every path below `dir` (relative, with its type and size), to compare before and after a
/// run: Palisade must create nothing on the host.
pub fn snapshot(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let Ok(m) = p.symlink_metadata() else {
                continue;
            };
            let kind = if m.is_dir() {
                "d"
            } else if m.file_type().is_symlink() {
                "l"
            } else {
                "f"
            };
            out.insert(format!(
                "{kind} {rel} {}",
                if m.is_dir() { 0 } else { m.len() }
            ));
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// A random-enough token for unique names (no rand crate in dev-dependencies).
pub fn token() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}",
        std::process::id(),
        (t as u64) ^ COUNTER.fetch_add(1, Ordering::SeqCst) as u64
    )
}
