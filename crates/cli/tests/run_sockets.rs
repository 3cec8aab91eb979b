//! Host daemon sockets under /run: masked unless allowed by path, and a socket that comes and
//! goes while the sandbox starts does not break the run. Root only (creates sockets in /run).
//! Kept apart from the other tests, and serialised, because a socket that vanishes under
//! /run affects every palisade run started at that moment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;

/// Connection results that mean "could not reach it".
const UNREACHABLE: &[&str] = &["ECONNREFUSED", "EACCES", "ENOENT", "EPERM", "ENETUNREACH"];

static SERIAL: Mutex<()> = Mutex::new(());

/// Removes the directory under /run when the test ends, whatever happens.
struct RunDir(PathBuf);
impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn host_daemon_socket_in_run_is_masked_unless_allowed() {
    if !require_root("host_daemon_socket_in_run_is_masked_unless_allowed") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Scratch::new("net-run-socket");
    let dir = RunDir(PathBuf::from(format!("/run/palisade-test-{}", token())));
    mkdirs(&dir.0);
    let sock = dir.0.join("s");
    let _l = UnixListener::bind(&sock).expect("bind /run socket");
    let op = format!("unix:{}", s(&sock));
    let p = t.probe(&[], &[&op]);
    p.out.assert_ok();
    p.expect(&op, UNREACHABLE);

    let cfg = t.root.join("sockets.toml");
    write(
        &cfg,
        &format!(
            "version = 1\n[filesystem]\nallow_unix_sockets = [\"{}\"]\n",
            s(&sock)
        ),
    );
    let p = t.probe(&["--config", &s(&cfg)], &[&op]);
    p.out.assert_ok();
    p.expect(&op, &["OK"]);
}

#[test]
fn sockets_in_run_that_come_and_go_do_not_abort_runs() {
    // The mount plan lists the sockets under /run; one that disappears before the sandbox
    // mounts over it (a daemon restarting, a per-session socket) must not fail the run.
    if !require_root("sockets_in_run_that_come_and_go_do_not_abort_runs") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Scratch::new("net-run-churn");
    let dir = RunDir(PathBuf::from(format!("/run/palisade-churn-{}", token())));
    mkdirs(&dir.0);
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (stop, dir) = (stop.clone(), dir.0.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let p = dir.join(format!("s{}", i % 8));
                let l = UnixListener::bind(&p);
                std::thread::sleep(std::time::Duration::from_micros(300));
                drop(l);
                let _ = std::fs::remove_file(&p);
                i += 1;
            }
        })
    };
    let mut failures = Vec::new();
    for _ in 0..40 {
        let out = t.run(&[], &["true"]);
        if out.code() != 0 {
            failures.push(out.stderr.trim().to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = churn.join();
    assert!(
        failures.is_empty(),
        "{} of 40 runs failed while sockets came and went in {}:\n{}",
        failures.len(),
        dir.0.display(),
        failures.join("\n")
    );
}
