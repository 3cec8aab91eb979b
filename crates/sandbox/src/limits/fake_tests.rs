//! The v2 (and v1) code paths against a directory tree laid out like /sys/fs/cgroup.
#![expect(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::host_tests::{as_nobody, in_child};
use super::*;

/// What the kernel puts in a new group directory (both hierarchies' files, for brevity).
fn populate(dir: &Path) {
    let files = [
        ("cgroup.procs", ""),
        ("cgroup.controllers", "memory pids cpu"),
        ("cgroup.subtree_control", ""),
        ("cgroup.kill", ""),
        ("memory.max", "max"),
        ("memory.swap.max", "max"),
        ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
        ("pids.max", "max"),
        ("pids.events", "max 0\n"),
        ("cpu.max", "max 100000"),
        ("memory.limit_in_bytes", "9223372036854771712"),
        ("memory.memsw.limit_in_bytes", "9223372036854771712"),
        (
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        ),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "-1"),
    ];
    for (name, text) in files {
        fs::write(dir.join(name), text).unwrap();
    }
}

struct FakeV2 {
    _tmp: tempfile::TempDir,
    mount: PathBuf,
    own: PathBuf,
}

/// A v2 tree whose root offers all three controllers and whose `own` group (the caller's)
/// offers `own_controllers`.
fn fake_v2(own_controllers: &str) -> FakeV2 {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("cgroup");
    let own = mount.join("user.slice/app.scope");
    fs::create_dir_all(&own).unwrap();
    populate(&mount);
    populate(&own);
    fs::write(own.join("cgroup.controllers"), own_controllers).unwrap();
    FakeV2 {
        _tmp: tmp,
        mount,
        own,
    }
}

impl FakeV2 {
    fn hierarchy(&self) -> Hierarchy {
        let place = V2Place {
            mount: self.mount.clone(),
            own: self.own.clone(),
        };
        Hierarchy {
            v2: Some(place),
            v1: Default::default(),
            nproc_per_userns: false,
            populate: Some(populate),
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn all_three() -> LimitSpec {
    LimitSpec {
        memory: Some(512 << 20),
        pids: Some(20),
        cpus: Some(1.5),
        ..Default::default()
    }
}

#[test]
fn v2_group_gets_every_limit_and_reports_the_oom_kill() {
    let t = fake_v2("memory pids cpu");
    let got = prepare_in(&t.hierarchy(), &all_three(), "run1", 4242, 1000).unwrap();
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let cg = got.cgroup.unwrap();
    let dir = t.own.join("palisade-4242-run1");
    assert_eq!(cg.dirs(), vec![dir.as_path()]);
    assert_eq!(
        read(&t.own.join("cgroup.subtree_control")),
        "+memory +pids +cpu"
    );
    assert_eq!(read(&dir.join("memory.max")), "536870912");
    assert_eq!(read(&dir.join("memory.swap.max")), "0");
    assert_eq!(read(&dir.join("pids.max")), "20");
    assert_eq!(read(&dir.join("cpu.max")), "150000 100000");

    cg.add_pid(777).unwrap();
    assert_eq!(read(&dir.join("cgroup.procs")), "777");
    assert_eq!(cg.limit_hit(), None);

    fs::write(dir.join("pids.events"), "max 3\n").unwrap();
    fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
    )
    .unwrap();
    let hits = cg.limit_hits();
    assert_eq!(
        hits,
        vec![
            LimitHit::Memory {
                limit: 512 << 20,
                kills: 1
            },
            LimitHit::Pids {
                limit: 20,
                refused: 3
            }
        ]
    );
    assert_eq!(
        cg.limit_hit().unwrap().to_string(),
        "memory limit 512 MiB reached: process killed"
    );

    fs::write(dir.join("cgroup.procs"), "").unwrap();
    cg.remove().unwrap();
    assert!(!dir.exists());
}

#[test]
fn controllers_already_passed_down_are_not_written_again() {
    let t = fake_v2("memory pids cpu");
    fs::write(t.own.join("cgroup.subtree_control"), "memory pids").unwrap();
    let got = prepare_in(&t.hierarchy(), &all_three(), "r", 1, 1000).unwrap();
    assert_eq!(read(&t.own.join("cgroup.subtree_control")), "+cpu");
    drop(got);
    // Dropping the handle removes the group.
    assert!(!t.own.join("palisade-1-r").exists());
}

#[test]
fn a_controller_not_delegated_is_a_refusal_that_leaves_nothing_behind() {
    let t = fake_v2("memory pids");
    let err = prepare_in(&t.hierarchy(), &all_three(), "r", 1, 1000).unwrap_err();
    let LimitsError::Unenforceable(problems) = &err else {
        panic!("{err}")
    };
    // Only the limit that cannot be held is named.
    let limits: Vec<Limit> = problems.iter().map(|p| p.limit).collect();
    assert_eq!(limits, vec![Limit::Cpus]);
    assert!(
        problems[0]
            .reason
            .contains("the cpu controller is not delegated"),
        "{err}"
    );
    assert!(problems[0].fix.contains("Delegate="), "{err}");
    assert!(!t.own.join("palisade-1-r").exists());
    assert_eq!(read(&t.own.join("cgroup.subtree_control")), "");
}

#[test]
fn best_effort_keeps_what_works_and_warns_about_the_rest() {
    let t = fake_v2("memory pids");
    let spec = LimitSpec {
        memory: Some(64 << 20),
        ..all_three()
    };
    let spec = LimitSpec {
        best_effort: true,
        cpus: None,
        ..spec
    };
    let got = prepare_in(&t.hierarchy(), &spec, "r", 1, 1000).unwrap();
    assert!(got.warnings.is_empty());
    assert!(got.cgroup.is_some());

    let spec = LimitSpec {
        best_effort: true,
        ..all_three()
    };
    let got = prepare_in(&t.hierarchy(), &spec, "r2", 1, 1000).unwrap();
    assert_eq!(got.warnings.len(), 1);
    let warning = &got.warnings[0];
    assert!(warning.starts_with("--cpus not enforced: the cpu controller is not delegated"));
    let cg = got.cgroup.unwrap();
    let dir = t.own.join("palisade-1-r2");
    assert_eq!(cg.dirs(), vec![dir.as_path()]);
    assert_eq!(read(&t.own.join("cgroup.subtree_control")), "+memory +pids");
    assert_eq!(read(&dir.join("pids.max")), "20");
    assert_eq!(read(&dir.join("cpu.max")), "max 100000");
}

#[test]
fn root_falls_back_to_the_top_of_the_hierarchy() {
    let t = fake_v2("memory pids");
    let got = prepare_in(&t.hierarchy(), &all_three(), "r", 1, 0).unwrap();
    let cg = got.cgroup.unwrap();
    assert_eq!(cg.dirs(), vec![t.mount.join("palisade-1-r").as_path()]);
    assert_eq!(
        read(&t.mount.join("cgroup.subtree_control")),
        "+memory +pids +cpu"
    );
}

#[test]
fn a_supervisor_moved_into_its_leaf_uses_the_leafs_parent() {
    let t = fake_v2("memory pids cpu");
    let leaf = t.own.join("palisade-9-supervisor");
    fs::create_dir(&leaf).unwrap();
    populate(&leaf);
    let h = Hierarchy {
        v2: Some(V2Place {
            mount: t.mount.clone(),
            own: leaf,
        }),
        ..t.hierarchy()
    };
    let cg = prepare_in(&h, &all_three(), "r", 9, 1000)
        .unwrap()
        .cgroup
        .unwrap();
    assert_eq!(cg.dirs(), vec![t.own.join("palisade-9-r").as_path()]);
}

#[test]
fn an_unwritable_subtree_control_is_reported_with_its_path() {
    let t = fake_v2("memory pids cpu");
    // A directory in place of the file makes the write fail the way a kernel refusal would.
    fs::remove_file(t.own.join("cgroup.subtree_control")).unwrap();
    fs::create_dir(t.own.join("cgroup.subtree_control")).unwrap();
    let spec = LimitSpec {
        pids: Some(5),
        ..Default::default()
    };
    let err = prepare_in(&t.hierarchy(), &spec, "r", 1, 1000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cgroup.subtree_control"), "{err}");
}

#[test]
fn v1_groups_are_made_per_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v1 = std::collections::BTreeMap::new();
    for c in Controller::ALL {
        let own = tmp.path().join(c.name()).join("own");
        fs::create_dir_all(&own).unwrap();
        populate(&own);
        v1.insert(c, own);
    }
    let h = Hierarchy {
        v2: None,
        v1,
        nproc_per_userns: false,
        populate: Some(populate),
    };
    let cg = prepare_in(&h, &all_three(), "r", 5, 0)
        .unwrap()
        .cgroup
        .unwrap();
    let dir = |c: &str| tmp.path().join(c).join("own/palisade-5-r");
    assert_eq!(cg.dirs().len(), 3);
    assert_eq!(
        read(&dir("memory").join("memory.limit_in_bytes")),
        "536870912"
    );
    assert_eq!(
        read(&dir("memory").join("memory.memsw.limit_in_bytes")),
        "536870912"
    );
    assert_eq!(read(&dir("pids").join("pids.max")), "20");
    assert_eq!(read(&dir("cpu").join("cpu.cfs_quota_us")), "150000");
    assert_eq!(read(&dir("cpu").join("cpu.cfs_period_us")), "100000");
    cg.add_pid(31).unwrap();
    assert_eq!(read(&dir("pids").join("cgroup.procs")), "31");
    assert_eq!(read(&dir("cpu").join("cgroup.procs")), "31");

    let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
    fs::write(dir("memory").join("memory.oom_control"), oom).unwrap();
    let hit = cg.limit_hit().unwrap();
    assert_eq!(
        hit.to_string(),
        "memory limit 512 MiB reached: processes killed (2)"
    );
    drop(cg);
    assert!(!dir("memory").exists() && !dir("pids").exists() && !dir("cpu").exists());
}

#[test]
fn v1_hierarchy_owned_by_root_is_refused_for_other_users() {
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("pids/own");
    fs::create_dir_all(&own).unwrap();
    populate(&own);
    let mut v1 = std::collections::BTreeMap::new();
    v1.insert(Controller::Pids, own.clone());
    let h = Hierarchy {
        v2: None,
        v1,
        nproc_per_userns: false,
        populate: Some(populate),
    };
    // The tempdir is 0700: let the unprivileged user reach `own` but not write it.
    for dir in [tmp.path(), &tmp.path().join("pids")] {
        set_mode(dir, 0o755);
    }
    set_mode(&own, 0o555);
    let spec = LimitSpec {
        pids: Some(5),
        ..Default::default()
    };
    let status = in_child(|| {
        as_nobody();
        match prepare_in(&h, &spec, "r", 5, 65534) {
            Err(LimitsError::Unenforceable(p))
                if p[0].reason.ends_with("own is not writable by uid 65534")
                    && p[0].fix.starts_with("run palisade as root") =>
            {
                0
            }
            _ => 1,
        }
    });
    assert_eq!(status, 0);
    assert!(!own.join("palisade-5-r").exists());
    // doctor says the same for pids, and offers rlimits and tmpfs regardless.
    let status = in_child(|| {
        as_nobody();
        let report = doctor_in(&h, 5, 65534);
        let pids = report.iter().find(|r| r.limit == Limit::Pids).unwrap();
        let tmp = report.iter().find(|r| r.limit == Limit::TmpSize).unwrap();
        i32::from(!(pids.enforced_by.is_none() && tmp.enforced_by.is_some()))
    });
    assert_eq!(status, 0);
    set_mode(&own, 0o755);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn doctor_names_the_mechanism_or_the_fix() {
    let t = fake_v2("memory pids");
    let report = doctor_in(&t.hierarchy(), 1, 1000);
    let by = |l: Limit| report.iter().find(|r| r.limit == l).unwrap();
    let memory = by(Limit::Memory).enforced_by.clone().unwrap();
    assert!(memory.starts_with("cgroup v2 memory under ") && memory.ends_with("app.scope"));
    let cpus = by(Limit::Cpus);
    assert!(cpus.enforced_by.is_none());
    let text = cpus.to_string();
    assert!(
        text.starts_with("--cpus        NOT ENFORCEABLE: the cpu controller is not delegated"),
        "{text}"
    );
    assert!(text.contains("fix: delegate it"), "{text}");
    assert!(by(Limit::OpenFiles)
        .to_string()
        .starts_with("--open-files  ok: rlimit RLIMIT_NOFILE"));
    assert_eq!(report.len(), Limit::ALL.len());
}

#[test]
fn sweep_removes_only_empty_groups_of_dead_owners() {
    let t = fake_v2("memory pids cpu");
    let dead = dead_pid();
    let me = std::process::id() as i32;
    let make = |name: &str, procs: &str| {
        let dir = t.own.join(name);
        fs::create_dir(&dir).unwrap();
        populate(&dir);
        fs::write(dir.join("cgroup.procs"), procs).unwrap();
        dir
    };
    let stale = make(&format!("palisade-{dead}-old"), "");
    let stale_leaf = make(&format!("palisade-{dead}-supervisor"), "");
    let busy = make(&format!("palisade-{dead}-busy"), "123\n");
    let mine = make(&format!("palisade-{me}-live"), "");
    let other = make("user-service", "");
    let removed = sweep_stale_in(&t.hierarchy(), me, 1000, Duration::ZERO);
    let mut want = vec![stale.clone(), stale_leaf.clone()];
    want.sort();
    let mut removed = removed;
    removed.sort();
    assert_eq!(removed, want);
    assert!(busy.exists() && mine.exists() && other.exists());
    // A young group is left alone: its owner may not have moved its command in yet.
    let young = make(&format!("palisade-{dead}-young"), "");
    assert!(sweep_stale_in(&t.hierarchy(), me, 1000, SWEEP_MIN_AGE).is_empty());
    assert!(young.exists());
}

/// A pid that belonged to a process that has exited and been reaped.
fn dead_pid() -> i32 {
    let child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    let mut child = child;
    child.wait().unwrap();
    pid
}
