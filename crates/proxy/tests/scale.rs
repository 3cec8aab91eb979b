//! Scale and caps: 1,000 concurrent idle tunnels, and the tunnel cap refusing with `limit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use common::*;

/// Client, proxy (two sockets each) and origin all live in this process: ~4 fds per tunnel.
fn raise_fd_limit(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return false;
        }
        if lim.rlim_cur >= want {
            return true;
        }
        lim.rlim_cur = want.min(lim.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= want
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn proxy(origin: &Origin, max_tunnels: usize) -> TestProxy {
    let port = origin.addr.port();
    let p = policy(
        &[&format!("allowed.test:{port}")],
        &[],
        &["127.0.0.0/8"],
        &["allowed.test:127.0.0.1"],
    );
    let resolver = Arc::new(FakeResolver::default());
    TestProxy::start(
        vec![TestProxy::bind()],
        p,
        resolver,
        Arc::new(LoopbackConnector),
        |c| {
            c.limits.max_tunnels = max_tunnels;
        },
    )
}

#[test]
fn a_thousand_idle_tunnels() {
    const N: usize = 1000;
    if !raise_fd_limit(8 * N as u64) {
        eprintln!(
            "SKIPPED 1000 tunnels: cannot raise RLIMIT_NOFILE to {}",
            8 * N
        );
        return;
    }
    let origin = Origin::start("idle");
    let port = origin.addr.port();
    let mut p = proxy(&origin, 4096);
    let rss_before = rss_kib();
    let start = Instant::now();
    let mut tunnels = Vec::with_capacity(N);
    for _ in 0..N {
        let (code, t) = connect_tunnel(p.addr, format!("allowed.test:{port}").as_bytes());
        assert_eq!(code, 200, "tunnel {} refused", tunnels.len());
        tunnels.push(t.unwrap());
    }
    let opened = start.elapsed();
    let rss_open = rss_kib();
    // Every idle tunnel still carries a request end to end.
    for (i, t) in tunnels.iter_mut().enumerate() {
        t.write_all(format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
    }
    for (i, t) in tunnels.iter_mut().enumerate() {
        let resp = read_response(t);
        assert!(
            find(&resp, format!("ORIGIN idle /{i}").as_bytes()).is_some(),
            "tunnel {i}"
        );
    }
    eprintln!(
        "1000 tunnels opened in {opened:?}; process RSS {rss_before} -> {rss_open} KiB \
         (client + proxy + origin: {} KiB per tunnel)",
        rss_open.saturating_sub(rss_before) / N as u64
    );
    drop(tunnels);
    let lines = p.wait_new(|ls| ls.iter().filter(|l| l["ev"] == "close").count() >= N);
    let closes: Vec<_> = lines.iter().filter(|l| l["ev"] == "close").collect();
    assert_eq!(closes.len(), N);
    assert!(closes
        .iter()
        .all(|l| l["reason"] == "client_closed" || l["reason"] == "upstream_closed"));
    assert!(!lines.iter().any(|l| l["decision"] == "deny"));
}

#[test]
fn the_tunnel_cap_refuses_with_limit_and_frees_on_close() {
    let origin = Origin::start("cap");
    let port = origin.addr.port();
    let mut p = proxy(&origin, 3);
    let target = format!("allowed.test:{port}");
    let mut open: Vec<_> = (0..3)
        .map(|_| connect_tunnel(p.addr, target.as_bytes()).1.unwrap())
        .collect();
    assert_eq!(connect_tunnel(p.addr, target.as_bytes()).0, 503);
    assert_eq!(
        socks(p.addr, 1, SocksDst::Domain(b"allowed.test"), port).0,
        0x01
    );
    let lines = p.wait_new(|ls| ls.iter().filter(|l| l["reason"] == "limit").count() >= 2);
    assert!(lines.iter().any(|l| l["rule"] == "builtin:max_tunnels"));
    drop(open.pop());
    p.wait_new(|ls| ls.iter().any(|l| l["ev"] == "close"));
    assert_eq!(connect_tunnel(p.addr, target.as_bytes()).0, 200);
}

#[test]
fn slow_and_idle_peers_are_timed_out() {
    use std::io::Read;
    use std::time::Duration;
    let origin = Origin::start("slow");
    let port = origin.addr.port();
    let pol = policy(
        &[&format!("allowed.test:{port}"), "tls.test:443"],
        &[],
        &["127.0.0.0/8"],
        &["allowed.test:127.0.0.1", "tls.test:127.0.0.1"],
    );
    let resolver = Arc::new(FakeResolver::default());
    let spy = SpyConnector::new(origin.addr);
    let mut p = TestProxy::start(vec![TestProxy::bind()], pol, resolver, spy, |c| {
        c.timeouts.header_read = Duration::from_millis(300);
        c.timeouts.tunnel_idle = Duration::from_millis(600);
        c.timeouts.client_hello = Duration::from_millis(150);
    });
    // A client that never finishes its request head is disconnected.
    let mut s = connect(p.addr);
    s.write_all(b"GET http://allowed.test/ HTTP/1.1\r\n")
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "slow header never timed out"
    );
    // An idle tunnel is closed with `idle_timeout`.
    let (code, _t) = connect_tunnel(p.addr, format!("allowed.test:{port}").as_bytes());
    assert_eq!(code, 200);
    let lines = p.wait_new(|ls| ls.iter().any(|l| l["ev"] == "close"));
    let close = lines.iter().find(|l| l["ev"] == "close").unwrap();
    assert_eq!(close["reason"], "idle_timeout");
    // A TLS-only port that never sees a ClientHello is refused.
    let (code, _t) = connect_tunnel(p.addr, b"tls.test:443");
    assert_eq!(code, 200);
    let lines = p.wait_new(|ls| ls.iter().any(|l| l["ev"] == "close"));
    assert!(lines.iter().any(|l| l["reason"] == "not_tls"), "{lines:#?}");
}
