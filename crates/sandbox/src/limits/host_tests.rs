//! Behaviour against this host's real cgroups. They need root (skipped with a note otherwise),
//! make their own groups under the test's own cgroups and remove them. Every process they
//! start dies with its parent (PDEATHSIG) or on an alarm, so a killed test leaves nothing.
#![expect(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::fs;
use std::io::Write;

use super::*;

/// Runs `f` in a forked child and returns its exit code (128 + signal if it was killed).
/// Every child gets a 60 s alarm and dies with the test.
pub(super) fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` and exits; the tests' children use async-signal-safe
    // calls, or (in the fake-tree tests) allocate, which glibc makes safe after fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain syscalls in the child.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::alarm(60);
            libc::_exit(f());
        }
    }
    wait(pid)
}

/// Waits for `pid`: its exit code, or 128 + the signal that killed it.
pub(super) fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: `status` is a valid out pointer.
    let got = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(got, pid, "waitpid");
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// Drops to uid/gid 65534 with no supplementary groups (in a forked child only).
pub(super) fn as_nobody() {
    // SAFETY: plain syscalls; the child is single-threaded.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
    }
}

pub(super) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Root and a hierarchy where root can make groups for `spec`; otherwise prints why not.
fn host_prepare(spec: &LimitSpec, run_id: &str) -> Option<Cgroup> {
    if !is_root() {
        eprintln!("skipped: needs root to create cgroups on this host");
        return None;
    }
    match prepare(spec, run_id) {
        Ok(p) => Some(p.cgroup.unwrap()),
        Err(e) => {
            eprintln!("skipped: this host cannot make a cgroup for the test: {e}");
            None
        }
    }
}

/// A forked child that blocks until the parent writes a byte, then runs `body` (which must
/// only make async-signal-safe calls). Returns (pid, write end of the go pipe).
fn child_waiting_for_go(body: fn() -> i32) -> (i32, fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child makes only async-signal-safe calls, then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: plain syscalls in the child.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::alarm(30);
            let mut b = 0u8;
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
            libc::_exit(body());
        }
    }
    // SAFETY: closing our copy of the read end; the write end becomes an owned File.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is open and owned by nobody else in this process.
    let go = unsafe { <fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    (pid, go)
}

/// Touches 256 MiB, one byte per page. Exit 0 means it got all of it.
fn balloon() -> i32 {
    const SIZE: usize = 256 << 20;
    // SAFETY: an anonymous private mapping, written only within its bounds.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return 2;
        }
        let bytes = p.cast::<u8>();
        let mut off = 0;
        while off < SIZE {
            std::ptr::write_volatile(bytes.add(off), 1);
            off += 4096;
        }
    }
    0
}

#[test]
fn memory_balloon_is_oom_killed_and_reported() {
    let spec = LimitSpec {
        memory: Some(64 << 20),
        ..Default::default()
    };
    let Some(cg) = host_prepare(&spec, "test-mem") else {
        return;
    };
    let (pid, mut go) = child_waiting_for_go(balloon);
    cg.add_pid(pid).unwrap();
    go.write_all(b"g").unwrap();
    let status = wait(pid);
    assert_eq!(
        status,
        128 + libc::SIGKILL,
        "the 256 MiB balloon must be killed at 64 MiB"
    );
    let hit = cg.limit_hit();
    assert!(
        matches!(hit, Some(LimitHit::Memory { limit, kills }) if limit == 64 << 20 && kills >= 1)
    );
    assert_eq!(
        hit.unwrap().to_string(),
        "memory limit 64 MiB reached: process killed"
    );
    let dirs: Vec<_> = cg.dirs().iter().map(|d| d.to_path_buf()).collect();
    cg.remove().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()));
}

/// Forks sleepers until fork fails; reports the count through the go pipe's partner (stdout
/// is not used): exit code = forks that succeeded if the failure was EAGAIN, else 250.
/// The sleepers end themselves after 20 s.
pub(super) fn fork_until_refused(die_with_parent: bool) -> i32 {
    let mut made = 0;
    while made < 200 {
        // SAFETY: the grandchild only pauses and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: plain syscalls.
            unsafe {
                if die_with_parent {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                }
                libc::alarm(20);
                libc::pause();
                libc::_exit(0);
            }
        }
        if pid < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error();
            return if errno == Some(libc::EAGAIN) {
                made
            } else {
                250
            };
        }
        made += 1;
    }
    250
}

/// The fork loop runs in a child of the child, so the test can watch the group while the
/// sleepers are still alive: the middle process reports the count as its exit code.
fn fork_loop_then_hold() -> i32 {
    // SAFETY: async-signal-safe calls only.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let made = fork_until_refused(false);
        // SAFETY: plain syscall.
        unsafe { libc::_exit(made) };
    }
    let mut status = 0;
    // SAFETY: valid out pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let made = libc::WEXITSTATUS(status);
    // Hold until killed, so the group still has a member.
    // SAFETY: plain syscall.
    unsafe { libc::pause() };
    made
}

#[test]
fn fork_loop_stops_at_the_pids_limit_and_kill_all_empties_the_group() {
    let spec = LimitSpec {
        pids: Some(20),
        ..Default::default()
    };
    let Some(cg) = host_prepare(&spec, "test-pids") else {
        return;
    };
    let (pid, mut go) = child_waiting_for_go(fork_loop_then_hold);
    cg.add_pid(pid).unwrap();
    go.write_all(b"g").unwrap();
    // The 20 slots: the holder, the forker (exited once refused) and 18 sleepers, or 19
    // sleepers while the forker lives. Wait until the forker has exited.
    let mut members = Vec::new();
    for _ in 0..300 {
        members = cg.pids();
        if cg.limit_hit().is_some() && members.len() == 19 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(members.len(), 19, "holder + 18 sleepers: {members:?}");
    assert!(matches!(cg.limit_hit(), Some(LimitHit::Pids { limit: 20, refused }) if refused >= 1));
    cg.kill_all();
    assert!(cg.pids().is_empty());
    assert_eq!(wait(pid), 128 + libc::SIGKILL);
    let dirs: Vec<_> = cg.dirs().iter().map(|d| d.to_path_buf()).collect();
    cg.remove().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn remove_succeeds_after_the_command_was_killed_with_leftovers_inside() {
    let spec = LimitSpec {
        pids: Some(50),
        memory: Some(256 << 20),
        ..Default::default()
    };
    let Some(cg) = host_prepare(&spec, "test-kill9") else {
        return;
    };
    let (pid, mut go) = child_waiting_for_go(fork_loop_then_hold);
    cg.add_pid(pid).unwrap();
    go.write_all(b"g").unwrap();
    for _ in 0..300 {
        if cg.pids().len() >= 10 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: `pid` is our own child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(wait(pid), 128 + libc::SIGKILL);
    assert!(
        !cg.pids().is_empty(),
        "the sleepers outlive the killed command"
    );
    let dirs: Vec<_> = cg.dirs().iter().map(|d| d.to_path_buf()).collect();
    assert_eq!(dirs.len(), 2);
    cg.remove().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn sweep_removes_a_group_left_by_a_dead_supervisor() {
    if !is_root() {
        eprintln!("skipped: needs root to create cgroups on this host");
        return;
    }
    // The "supervisor" is a child that makes the group and dies without removing it.
    let status = in_child(|| {
        let spec = LimitSpec {
            pids: Some(5),
            ..Default::default()
        };
        match prepare(&spec, "test-sweep") {
            Ok(p) => {
                // A crashed supervisor never runs Drop.
                std::mem::forget(p.cgroup);
                0
            }
            Err(_) => 1,
        }
    });
    assert_eq!(status, 0);
    let h = Hierarchy::detect().unwrap();
    let Some(pids_parent) = h.v1.get(&Controller::Pids).cloned() else {
        eprintln!("skipped: no v1 pids hierarchy here");
        return;
    };
    let left: Vec<_> = fs::read_dir(&pids_parent)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-test-sweep"))
        .collect();
    assert_eq!(
        left.len(),
        1,
        "the dead supervisor's group is still there: {left:?}"
    );
    // SAFETY: getpid and geteuid have no preconditions.
    let (me, euid) = unsafe { (libc::getpid(), libc::geteuid()) };
    let removed = sweep_stale_in(&h, me, euid, std::time::Duration::ZERO);
    assert!(removed.contains(&left[0]), "{removed:?}");
    assert!(!left[0].exists());
}

#[test]
fn non_root_on_this_v1_host_is_refused_with_a_fix() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to uid 65534");
        return;
    }
    let h = Hierarchy::detect().unwrap();
    if !h.v1.contains_key(&Controller::Memory) {
        eprintln!("skipped: not a cgroup v1 host");
        return;
    }
    let status = in_child(|| {
        as_nobody();
        let spec = LimitSpec {
            memory: Some(64 << 20),
            ..Default::default()
        };
        let refused = match prepare(&spec, "test-nobody") {
            Err(LimitsError::Unenforceable(p)) => {
                p.len() == 1
                    && p[0].limit == Limit::Memory
                    && p[0].reason.ends_with("is not writable by uid 65534")
                    && p[0].fix.contains("Delegate=yes")
            }
            _ => false,
        };
        let spec = LimitSpec {
            best_effort: true,
            ..spec
        };
        let warned = match prepare(&spec, "test-nobody") {
            Ok(p) => p.cgroup.is_none() && p.warnings.len() == 1,
            Err(_) => false,
        };
        i32::from(!refused) + 2 * i32::from(!warned)
    });
    assert_eq!(status, 0, "1: no refusal, 2: no best-effort warning");
}
