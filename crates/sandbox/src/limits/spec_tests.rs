#![expect(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::path::PathBuf;

use super::cgroup::owner_pid;
use super::v2::cpu_quota_us;
use super::*;

#[test]
fn sizes_print_in_the_largest_whole_unit() {
    assert_eq!(format_bytes(512 << 20), "512 MiB");
    assert_eq!(format_bytes(2 << 30), "2 GiB");
    assert_eq!(format_bytes(1536 << 20), "1536 MiB");
    assert_eq!(format_bytes(4096), "4 KiB");
    assert_eq!(format_bytes(1000), "1000 bytes");
}

#[test]
fn hits_name_the_limit_and_the_outcome() {
    let mem = LimitHit::Memory {
        limit: 512 << 20,
        kills: 1,
    };
    assert_eq!(
        mem.to_string(),
        "memory limit 512 MiB reached: process killed"
    );
    let mem = LimitHit::Memory {
        limit: 64 << 20,
        kills: 3,
    };
    assert_eq!(
        mem.to_string(),
        "memory limit 64 MiB reached: processes killed (3)"
    );
    let pids = LimitHit::Pids {
        limit: 20,
        refused: 1,
    };
    assert_eq!(pids.to_string(), "process limit 20 reached: 1 fork refused");
    let file = LimitHit::FileSize { limit: 1 << 20 };
    assert_eq!(
        file.to_string(),
        "file size limit 1 MiB reached: process killed"
    );
}

#[test]
fn sigxfsz_is_the_file_size_limit_only_when_one_was_set() {
    let spec = LimitSpec {
        file_size: Some(1 << 20),
        ..LimitSpec::default()
    };
    assert_eq!(
        LimitHit::from_signal(&spec, libc::SIGXFSZ),
        Some(LimitHit::FileSize { limit: 1 << 20 })
    );
    assert_eq!(LimitHit::from_signal(&spec, libc::SIGKILL), None);
    assert_eq!(
        LimitHit::from_signal(&LimitSpec::default(), libc::SIGXFSZ),
        None
    );
}

#[test]
fn validation_rejects_values_nothing_could_run_under() {
    let cases = [
        (
            LimitSpec {
                memory: Some(1 << 20),
                ..Default::default()
            },
            Limit::Memory,
        ),
        (
            LimitSpec {
                pids: Some(0),
                ..Default::default()
            },
            Limit::Pids,
        ),
        (
            LimitSpec {
                cpus: Some(0.0),
                ..Default::default()
            },
            Limit::Cpus,
        ),
        (
            LimitSpec {
                cpus: Some(f64::NAN),
                ..Default::default()
            },
            Limit::Cpus,
        ),
        (
            LimitSpec {
                open_files: Some(2),
                ..Default::default()
            },
            Limit::OpenFiles,
        ),
        (
            LimitSpec {
                file_size: Some(0),
                ..Default::default()
            },
            Limit::FileSize,
        ),
    ];
    for (spec, want) in cases {
        match spec.validate() {
            Err(LimitsError::Invalid { limit, .. }) => assert_eq!(limit, want, "{spec:?}"),
            other => panic!("{spec:?}: expected Invalid for {want}, got {other:?}"),
        }
    }
    let fine = LimitSpec {
        memory: Some(64 << 20),
        pids: Some(1),
        cpus: Some(0.5),
        open_files: Some(64),
        file_size: Some(1),
        best_effort: false,
    };
    assert!(fine.validate().is_ok());
}

#[test]
fn only_memory_pids_and_cpus_need_a_cgroup() {
    let rl = LimitSpec {
        open_files: Some(64),
        file_size: Some(1 << 20),
        ..Default::default()
    };
    assert!(!rl.needs_cgroup());
    assert!(rl.controllers().is_empty());
    let cg = LimitSpec {
        cpus: Some(1.0),
        memory: Some(64 << 20),
        ..Default::default()
    };
    assert_eq!(cg.controllers(), vec![Controller::Memory, Controller::Cpu]);
}

#[test]
fn no_limits_means_no_cgroup_and_no_error_on_any_host() {
    let spec = LimitSpec {
        open_files: Some(64),
        ..Default::default()
    };
    let got = prepare(&spec, "run-1").unwrap();
    assert!(got.cgroup.is_none() && got.warnings.is_empty());
    // Nothing mounted at all: still fine.
    let got = prepare_in(&Hierarchy::default(), &spec, "run-1", 1, 1000).unwrap();
    assert!(got.cgroup.is_none() && got.warnings.is_empty());
}

#[test]
fn a_host_without_cgroups_refuses_naming_the_limit() {
    let spec = LimitSpec {
        memory: Some(64 << 20),
        ..Default::default()
    };
    let err = prepare_in(&Hierarchy::default(), &spec, "r", 1, 1000).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("--memory cannot be enforced: no cgroup hierarchy with the memory"));
    assert!(
        text.ends_with("or pass --best-effort-limits to run without them"),
        "{text}"
    );
    let spec = LimitSpec {
        best_effort: true,
        ..spec
    };
    let got = prepare_in(&Hierarchy::default(), &spec, "r", 1, 1000).unwrap();
    assert!(got.cgroup.is_none());
    assert_eq!(got.warnings.len(), 1);
    let warning = &got.warnings[0];
    assert!(
        warning.starts_with("--memory enforced only per process, as RLIMIT_AS"),
        "{warning}"
    );
    assert_eq!(got.rlimits.address_space, Some(64 << 20));
}

#[test]
fn run_ids_must_be_plain_names() {
    let spec = LimitSpec {
        pids: Some(5),
        ..Default::default()
    };
    for bad in ["", "../x", "a/b", ".hidden", "sp ace", &"x".repeat(65)] {
        let err = prepare_in(&Hierarchy::default(), &spec, bad, 1, 0).unwrap_err();
        assert!(matches!(err, LimitsError::RunId(_)), "{bad:?}: {err}");
    }
}

#[test]
fn cpu_quota_rounds_up_and_respects_the_kernel_minimum() {
    assert_eq!(cpu_quota_us(1.5, 100_000), 150_000);
    assert_eq!(cpu_quota_us(0.333, 100_000), 33_300);
    assert_eq!(cpu_quota_us(0.01, 100_000), 1_000);
    assert_eq!(cpu_quota_us(0.001, 100_000), 1_000);
}

#[test]
fn owner_pid_is_read_from_the_group_name() {
    assert_eq!(owner_pid("palisade-4242-run-1"), Some(4242));
    assert_eq!(owner_pid("palisade-4242-supervisor"), Some(4242));
    assert_eq!(owner_pid("palisade-4242-"), None);
    assert_eq!(owner_pid("palisade-x1-run"), None);
    assert_eq!(owner_pid("palisade-0-run"), None);
    assert_eq!(owner_pid("docker-4242-run"), None);
}

// This VM: v1 controllers each on their own mount, an empty v2 mount beside them.
const V1_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const V1_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
1:cpu:/
0::/
";

#[test]
fn v1_host_places_each_controller_in_its_own_hierarchy() {
    let h = Hierarchy::from_proc(V1_MOUNTINFO, V1_CGROUP);
    assert_eq!(
        h.v1.get(&Controller::Memory),
        Some(&PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
    );
    assert_eq!(
        h.v1.get(&Controller::Pids),
        Some(&PathBuf::from("/sys/fs/cgroup/pids"))
    );
    assert_eq!(
        h.v1.get(&Controller::Cpu),
        Some(&PathBuf::from("/sys/fs/cgroup/cpu"))
    );
    let v2 = h.v2.as_ref().unwrap();
    assert_eq!(v2.own, PathBuf::from("/sys/fs/cgroup/unified"));
    // v1 wins for a controller it holds: the kernel binds a controller to one hierarchy.
    assert_eq!(
        h.place(Controller::Memory),
        detect::Place::V1("/sys/fs/cgroup/memory/process_api/abc".into())
    );
}

#[test]
fn combined_cpu_cpuacct_mount_serves_cpu() {
    let mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
    let h = Hierarchy::from_proc(mountinfo, "3:cpu,cpuacct:/user.slice\n");
    assert_eq!(
        h.v1.get(&Controller::Cpu),
        Some(&PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user.slice"))
    );
    assert!(!h.v1.contains_key(&Controller::Memory));
}

#[test]
fn v2_host_resolves_the_own_group_under_the_mount() {
    let mountinfo = "\
25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";
    let cgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope\n";
    let h = Hierarchy::from_proc(mountinfo, cgroup);
    assert!(h.v1.is_empty());
    let v2 = h.v2.unwrap();
    assert_eq!(v2.mount, PathBuf::from("/sys/fs/cgroup"));
    assert_eq!(
        v2.own,
        PathBuf::from(
            "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
        )
    );
}

#[test]
fn a_mount_of_a_subtree_is_matched_by_its_root_and_paths_are_unescaped() {
    // A container sees only its own subtree, mounted at a path with a space in it.
    let mountinfo = "\
25 20 0:22 /docker/c1 /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw
26 20 0:22 /docker/c10 /elsewhere rw - cgroup2 cgroup2 rw
";
    let h = Hierarchy::from_proc(mountinfo, "0::/docker/c1/inner\n");
    let v2 = h.v2.unwrap();
    assert_eq!(v2.own, PathBuf::from("/sys/fs/my cgroup/inner"));
    // /docker/c1 must not match /docker/c10's prefix, nor the other way round.
    let h = Hierarchy::from_proc(mountinfo, "0::/docker/c10\n");
    assert_eq!(h.v2.unwrap().own, PathBuf::from("/elsewhere"));
    // Our group outside every mount: unknown.
    let h = Hierarchy::from_proc(mountinfo, "0::/system.slice\n");
    assert!(h.v2.is_none());
}

#[test]
fn kernel_release_comparison() {
    use super::detect::kernel_at_least;
    assert!(kernel_at_least("6.18.44-fc-v1252\n", (5, 14)));
    assert!(kernel_at_least("5.14.0-rc1", (5, 14)));
    assert!(!kernel_at_least("5.13.19", (5, 14)));
    assert!(!kernel_at_least("4.19.0-26-amd64", (5, 14)));
    assert!(!kernel_at_least("garbage", (5, 14)));
}

#[test]
fn pids_fall_back_to_nproc_for_non_root_where_it_counts_per_namespace() {
    let h = Hierarchy {
        nproc_per_userns: true,
        ..Hierarchy::default()
    };
    let spec = LimitSpec {
        pids: Some(20),
        open_files: Some(64),
        ..Default::default()
    };
    let got = prepare_in(&h, &spec, "r", 1, 1000).unwrap();
    assert!(got.cgroup.is_none() && got.warnings.is_empty());
    let want = Rlimits {
        open_files: Some(64),
        file_size: None,
        processes: Some(20),
        address_space: None,
    };
    assert_eq!(got.rlimits, want);
    // Root is exempt from RLIMIT_NPROC, so root gets the refusal.
    let err = prepare_in(&h, &spec, "r", 1, 0).unwrap_err();
    assert!(
        err.to_string().starts_with("--pids cannot be enforced"),
        "{err}"
    );
    // Older kernels count the uid host-wide: refusal too.
    let old = Hierarchy {
        nproc_per_userns: false,
        ..Hierarchy::default()
    };
    assert!(prepare_in(&old, &spec, "r", 1, 1000).is_err());
    // Memory has no such fallback.
    let spec = LimitSpec {
        memory: Some(64 << 20),
        ..spec
    };
    let err = prepare_in(&h, &spec, "r", 1, 1000).unwrap_err();
    let LimitsError::Unenforceable(problems) = err else {
        panic!("{err}")
    };
    assert_eq!(
        problems.iter().map(|p| p.limit).collect::<Vec<_>>(),
        vec![Limit::Memory]
    );
}

#[test]
fn doctor_offers_nproc_for_pids_only_when_it_is_per_sandbox() {
    let h = Hierarchy {
        nproc_per_userns: true,
        ..Hierarchy::default()
    };
    let pids = |h: &Hierarchy, euid| {
        let report = doctor_in(h, 1, euid);
        report.into_iter().find(|r| r.limit == Limit::Pids).unwrap()
    };
    let how = pids(&h, 1000).enforced_by.unwrap();
    assert!(
        how.starts_with("rlimit RLIMIT_NPROC inside the sandbox's user namespace"),
        "{how}"
    );
    assert!(pids(&h, 0).enforced_by.is_none());
    let old = Hierarchy {
        nproc_per_userns: false,
        ..Hierarchy::default()
    };
    assert!(pids(&old, 1000).enforced_by.is_none());
}
