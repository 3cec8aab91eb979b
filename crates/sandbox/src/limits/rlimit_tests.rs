//! rlimits, set in forked children so the test process keeps its own.
#![expect(clippy::unwrap_used, reason = "a test fails by panicking")]

use super::host_tests::{as_nobody, fork_until_refused, in_child, is_root, wait};
use super::*;

fn rlimit_of(resource: super::rlimit::Resource) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { libc::getrlimit(resource, &mut r) }, 0);
    (r.rlim_cur, r.rlim_max)
}

#[test]
fn rlimits_bound_open_files_file_size_and_core_dumps() {
    let tmp = tempfile::tempdir().unwrap();
    let path = std::ffi::CString::new(tmp.path().join("big").to_str().unwrap()).unwrap();
    let spec = LimitSpec {
        open_files: Some(16),
        file_size: Some(1 << 20),
        ..Default::default()
    };
    let status = in_child(|| {
        if apply_rlimits(&Rlimits::from_spec(&spec)).is_err() {
            return 1;
        }
        if rlimit_of(libc::RLIMIT_NOFILE) != (16, 16) {
            return 2;
        }
        if rlimit_of(libc::RLIMIT_CORE) != (0, 0)
            || rlimit_of(libc::RLIMIT_FSIZE) != (1 << 20, 1 << 20)
        {
            return 3;
        }
        // SAFETY: plain syscalls on a buffer that outlives them.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o600);
            let buf = [0xa5u8; 4096];
            let mut written = 0usize;
            loop {
                let n = libc::write(fd, buf.as_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                written += n as usize;
            }
            let errno = std::io::Error::last_os_error().raw_os_error();
            // Past 1 MiB the write fails with EFBIG instead of growing the file.
            if written != 1 << 20 || errno != Some(libc::EFBIG) {
                return 4;
            }
            // A 17th descriptor is refused.
            let mut last = 0;
            for _ in 0..20 {
                last = libc::dup(0);
                if last < 0 {
                    break;
                }
            }
            if last >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EMFILE) {
                return 5;
            }
        }
        0
    });
    assert_eq!(
        status, 0,
        "1 apply, 2 nofile, 3 core/fsize, 4 EFBIG, 5 EMFILE"
    );
}

#[test]
fn rlimits_above_the_hard_limit_are_lowered_to_it_not_refused() {
    let (_, hard) = rlimit_of(libc::RLIMIT_NOFILE);
    let spec = LimitSpec {
        open_files: Some(u64::MAX - 1),
        ..Default::default()
    };
    let status = in_child(|| {
        // Without CAP_SYS_RESOURCE (as in the sandbox's caller) raising fails; drop it here
        // so the test means the same as root.
        as_nobody();
        match apply_rlimits(&Rlimits::from_spec(&spec)) {
            Ok(()) => i32::from(rlimit_of(libc::RLIMIT_NOFILE) != (hard, hard)),
            Err(_) => 2,
        }
    });
    assert_eq!(status, 0, "1: wrong value, 2: refused");
}

#[test]
fn writing_past_the_file_size_limit_kills_with_sigxfsz_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let path = std::ffi::CString::new(tmp.path().join("big").to_str().unwrap()).unwrap();
    let spec = LimitSpec {
        file_size: Some(64 << 10),
        ..Default::default()
    };
    let status = in_child(|| {
        if apply_rlimits(&Rlimits::from_spec(&spec)).is_err() {
            return 1;
        }
        // SAFETY: plain syscalls on a buffer that outlives them.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o600);
            let buf = [0u8; 4096];
            for _ in 0..64 {
                libc::write(fd, buf.as_ptr().cast(), buf.len());
            }
            libc::write(fd, buf.as_ptr().cast(), buf.len());
        }
        0
    });
    assert_eq!(status, 128 + libc::SIGXFSZ);
    let hit = LimitHit::from_signal(&spec, status - 128).unwrap();
    assert_eq!(
        hit.to_string(),
        "file size limit 64 KiB reached: process killed"
    );
}

#[test]
fn non_root_without_a_pids_cgroup_is_bounded_by_nproc_in_its_user_namespace() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to uid 65534");
        return;
    }
    let h = Hierarchy::detect().unwrap();
    if !h.nproc_per_userns || h.v2.is_some_and(|_| !h.v1.contains_key(&Controller::Pids)) {
        eprintln!("skipped: needs Linux 5.14+ and a host where uid 65534 has no pids cgroup");
        return;
    }
    // Other processes of the same uid outside the namespace must not count: start some.
    let sleepers: Vec<i32> = (0..30)
        .map(|_| {
            // SAFETY: the child only drops privileges (plain syscalls) and pauses.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: plain syscalls.
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    libc::alarm(20);
                    libc::setresgid(65534, 65534, 65534);
                    libc::setresuid(65534, 65534, 65534);
                    libc::pause();
                    libc::_exit(0);
                }
            }
            pid
        })
        .collect();
    let status = in_child(|| {
        as_nobody();
        let spec = LimitSpec {
            pids: Some(20),
            ..Default::default()
        };
        let Ok(prepared) = prepare(&spec, "test-nproc") else {
            return 101;
        };
        if prepared.cgroup.is_some() || prepared.rlimits.processes != Some(20) {
            return 102;
        }
        // SAFETY: the forked child is single-threaded, as unshare(CLONE_NEWUSER) requires.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            return 103;
        }
        if apply_rlimits(&prepared.rlimits).is_err() {
            return 104;
        }
        fork_until_refused(true)
    });
    for pid in sleepers {
        // SAFETY: our own children.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait(pid);
    }
    // 20 = this process and 19 children, however many processes uid 65534 has elsewhere.
    assert_eq!(status, 19, "101-104: setup failed; 250: no limit");
}

#[test]
fn best_effort_memory_fallback_caps_each_process_address_space() {
    let limits = Rlimits {
        address_space: Some(256 << 20),
        ..Rlimits::default()
    };
    let status = in_child(|| {
        if apply_rlimits(&limits).is_err() {
            return 1;
        }
        // SAFETY: mapping (and unmapping) fresh anonymous memory only.
        unsafe {
            let map = |size: usize| {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            let small = map(16 << 20);
            if small == libc::MAP_FAILED {
                return 2;
            }
            libc::munmap(small, 16 << 20);
            if map(512 << 20) != libc::MAP_FAILED {
                return 3;
            }
        }
        0
    });
    assert_eq!(
        status, 0,
        "1 apply, 2 small map refused, 3 large map allowed"
    );
}
