//! The proxy cases of the shared attack corpus (19, 21, 23), run on the host against this
//! proxy with the corpus's own canary services. Cases that test the sandbox rather than the
//! proxy (18 direct egress, 25's resolver probes, 26 abstract sockets) belong to the sandbox
//! suite. Skipped, with the reason printed, when the corpus is not beside the repository.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::servers::{python, Child};
use common::*;

fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/attacks");
    dir.join("harness/canary_services.py")
        .exists()
        .then_some(dir)
}

/// Four consecutive free ports for the canaries (allowed, denied, TLS front, DNS).
fn free_base() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = l.local_addr().unwrap().port();
        drop(l);
        if base < 60000
            && (1..4).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

#[test]
fn proxy_cases_of_the_attack_corpus_are_contained() {
    let (Some(dir), Some(py)) = (corpus_dir(), python()) else {
        eprintln!("SKIPPED attack corpus: ../shared/attacks or python3 missing");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("canary.env");
    let base = free_base();
    let canaries = Command::new(&py)
        .arg(dir.join("harness/canary_services.py"))
        .args([
            "--base-port",
            &base.to_string(),
            "--dns-port",
            &(base + 3).to_string(),
        ])
        .arg("--state-dir")
        .arg(tmp.path())
        .arg("--env-file")
        .arg(&env_file)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _canaries = Child(canaries);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env_file.exists() {
        assert!(Instant::now() < deadline, "canary services did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let canary_env: Vec<(String, String)> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        // The DNS responder is reachable directly on the host; that probe is the sandbox's.
        .filter(|(k, _)| !k.starts_with("DNS_CANARY"))
        .collect();
    let allowed = format!("allowed.sbx.test:{base}");
    let p = policy(
        &[&allowed],
        &[],
        &["127.0.0.0/8"],
        &["allowed.sbx.test:127.0.0.1", "denied.sbx.test:127.0.0.1"],
    );
    let resolver = Arc::new(FakeResolver::default());
    let proxy = TestProxy::start(
        vec![TestProxy::bind()],
        p,
        resolver.clone(),
        Arc::new(LoopbackConnector),
        |_| {},
    );
    let sandbox_env =
        palisade_proxy::sandbox_env(proxy.addr.port(), std::path::Path::new("/bin/false"));
    let mut failures = Vec::new();
    for case in [
        "19-net-proxy-denied-baseline.py",
        "21-net-proxy-host-header.py",
        "23-net-proxy-parser-differential.py",
    ] {
        let o = Command::new(&py)
            .arg(dir.join(case))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(canary_env.iter().cloned())
            .envs(sandbox_env.iter().cloned())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let last = out.lines().last().unwrap_or("").to_string();
        eprintln!("{case}: {last}");
        if !last.starts_with("CONTAINED") {
            failures.push(format!("{case}:\n{out}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(resolver.calls(), 0, "a name went to DNS");
}
