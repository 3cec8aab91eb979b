//! Regression tests for failures reported against peer sandboxes' proxies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;

fn proxy_to(allow: &[&str]) -> TestProxy {
    let p = policy(allow, &[], &["127.0.0.0/8"], &["allowed.test:127.0.0.1"]);
    let resolver = Arc::new(FakeResolver::default());
    TestProxy::start(
        vec![TestProxy::bind()],
        p,
        resolver,
        Arc::new(LoopbackConnector),
        |_| {},
    )
}

/// anthropics/claude-code#40213: only CONNECT was filtered; absolute-form plain HTTP to an
/// unlisted host was forwarded.
#[test]
fn plain_http_to_an_unlisted_host_is_refused_like_connect() {
    let origin = Origin::start("reg");
    let port = origin.addr.port();
    let mut p = proxy_to(&[]);
    let req = format!("GET http://127.0.0.1:{port}/x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    assert_eq!(status(&exchange(p.addr, req.as_bytes())), 403);
    assert_eq!(
        connect_tunnel(p.addr, format!("127.0.0.1:{port}").as_bytes()).0,
        403
    );
    let req =
        format!("GET http://unlisted.test:{port}/ HTTP/1.1\r\nHost: unlisted.test:{port}\r\n\r\n");
    assert_eq!(status(&exchange(p.addr, req.as_bytes())), 403);
    let lines = p.wait_new(|ls| ls.len() >= 3);
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["ip_literal", "ip_literal", "no_rule"]);
    assert!(origin.heads().is_empty());
}

/// A byte relay between the client and the proxy (socat-style, as an agent might run).
fn relay(to: SocketAddr) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let up = std::net::TcpStream::connect(to).unwrap();
            let (mut c2, mut up2) = (c.try_clone().unwrap(), up.try_clone().unwrap());
            let (mut c, mut up) = (c, up);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut up2);
                let _ = up2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up, &mut c);
            });
        }
    });
    addr
}

/// anthropics/claude-code#87381: a CONNECT re-sent by a relay inside the sandbox got a
/// different answer than the same CONNECT sent directly.
#[test]
fn a_relayed_connect_gets_the_same_decision() {
    let origin = Origin::start("reg");
    let port = origin.addr.port();
    let mut p = proxy_to(&[&format!("allowed.test:{port}")]);
    let via = relay(p.addr);
    for target in [p.addr, via] {
        assert_eq!(
            connect_tunnel(target, format!("denied.test:{port}").as_bytes()).0,
            403
        );
        let (code, t) = connect_tunnel(target, format!("allowed.test:{port}").as_bytes());
        assert_eq!(code, 200);
        let mut t = t.unwrap();
        t.write_all(b"GET /r HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert!(find(&read_response(&mut t), b"ORIGIN reg /r").is_some());
    }
    // A tunnel to the proxy itself, to re-send a CONNECT from "outside": refused.
    assert_eq!(connect_tunnel(p.addr, p.addr.to_string().as_bytes()).0, 403);
    let lines = p.wait_new(|ls| ls.iter().filter(|l| is_verdict(l)).count() >= 5);
    let reasons: Vec<&str> = lines
        .iter()
        .filter(|l| is_verdict(l))
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["no_rule", "ok", "no_rule", "ok", "ip_literal"]);
}

/// Bursts of parallel requests were answered 502 by a peer's relay; every one of 50 parallel
/// plain requests and 50 parallel CONNECTs must be served.
#[test]
fn bursts_of_fifty_are_all_served() {
    let origin = Origin::start("burst");
    let port = origin.addr.port();
    let p = proxy_to(&[&format!("allowed.test:{port}")]);
    for use_connect in [false, true] {
        let barrier = Arc::new(Barrier::new(50));
        let workers: Vec<_> = (0..50)
            .map(|i| {
                let (barrier, proxy) = (barrier.clone(), p.addr);
                std::thread::spawn(move || {
                    barrier.wait();
                    if use_connect {
                        let (code, t) = connect_tunnel(proxy, format!("allowed.test:{port}").as_bytes());
                        assert_eq!(code, 200);
                        let mut t = t.unwrap();
                        let req = format!("GET /{i} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
                        t.write_all(req.as_bytes()).unwrap();
                        status(&read_response(&mut t))
                    } else {
                        let req = format!(
                            "GET http://allowed.test:{port}/{i} HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n"
                        );
                        status(&exchange(proxy, req.as_bytes()))
                    }
                })
            })
            .collect();
        let codes: Vec<u16> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(
            codes.iter().all(|c| *c == 200),
            "connect={use_connect}: {codes:?}"
        );
    }
    if have("curl", "curl --parallel burst") {
        let urls: Vec<String> = (0..50)
            .flat_map(|i| {
                [
                    "-o".into(),
                    "/dev/null".into(),
                    format!("http://allowed.test:{port}/c{i}"),
                ]
            })
            .collect();
        let o = Command::new("curl")
            .args(["-sS", "--parallel", "--parallel-max", "50"])
            .args(["-w", "%{http_code}\n", "-x", &format!("http://{}", p.addr)])
            .args(&urls)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.lines().filter(|l| *l == "200").count(), 50, "{out}");
    }
}

/// anthropics/claude-code#65482: NO_PROXY sent an allowed loopback target around the proxy,
/// into the sandbox's empty namespace. The sandbox env empties NO_PROXY, overriding any
/// inherited value, so allowed `localhost:PORT` goes through the proxy.
#[test]
fn no_proxy_never_sends_an_allowed_loopback_target_around_the_proxy() {
    let origin = Origin::start("local");
    let port = origin.addr.port();
    let p = proxy_to(&[&format!("localhost:{port}")]);
    let env = palisade_proxy::sandbox_env(p.addr.port(), std::path::Path::new("/bin/false"));
    let url = format!("http://localhost:{port}/np");
    let mut clients: Vec<Command> = Vec::new();
    if have("curl", "curl NO_PROXY") {
        let mut c = Command::new("curl");
        c.args(["-sS", &url]);
        clients.push(c);
    }
    if let Some(py) = common::servers::python() {
        let mut c = Command::new(py);
        c.args([
            "-c",
            &format!("import urllib.request as u; print(u.urlopen('{url}').read().decode())"),
        ]);
        clients.push(c);
    }
    for mut c in clients {
        c.env("NO_PROXY", "localhost,127.0.0.1")
            .env("no_proxy", "localhost,127.0.0.1");
        let o = c.envs(env.iter().cloned()).output().unwrap();
        assert!(String::from_utf8_lossy(&o.stdout).contains("ORIGIN local /np"));
    }
    let through = p
        .lines()
        .iter()
        .filter(|l| l["target"]["host"] == "localhost")
        .count();
    assert!(through >= 1, "the request bypassed the proxy");
}

/// On a kernel without IPv6 only the IPv4 listener exists: serve() must work with one, and
/// with two it must answer on both.
#[test]
fn serve_copes_with_one_listener_or_two() {
    let origin = Origin::start("ls");
    let port = origin.addr.port();
    let p = proxy_to(&[&format!("allowed.test:{port}")]);
    let req =
        format!("GET http://allowed.test:{port}/v4 HTTP/1.1\r\nHost: allowed.test:{port}\r\n\r\n");
    assert_eq!(status(&exchange(p.addr, req.as_bytes())), 200);
    drop(p);

    match TcpListener::bind("[::1]:0") {
        Ok(v6) => {
            let v6_addr = v6.local_addr().unwrap();
            let pol = policy(
                &[&format!("allowed.test:{port}")],
                &[],
                &["127.0.0.0/8"],
                &["allowed.test:127.0.0.1"],
            );
            let resolver = Arc::new(FakeResolver::default());
            let both = vec![TestProxy::bind(), v6];
            let p = TestProxy::start(both, pol, resolver, Arc::new(LoopbackConnector), |_| {});
            for addr in [p.addr, v6_addr] {
                assert_eq!(status(&exchange(addr, req.as_bytes())), 200, "{addr}");
            }
        }
        Err(e) => eprintln!("SKIPPED the two-listener half: no IPv6 loopback here ({e})"),
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let proxy = palisade_proxy::Proxy::new(
        palisade_proxy::ProxyConfig::from_policy(&policy(&[], &[], &[], &[]), "t").unwrap(),
    )
    .unwrap();
    let r = rt.block_on(proxy.serve(Vec::new()));
    assert!(matches!(r, Err(palisade_proxy::ProxyError::NoListeners)));
}

/// Dropping the serve future ends the connections it accepted (the supervisor relies on it).
#[test]
fn dropping_serve_closes_open_tunnels() {
    let origin = Origin::start("drop");
    let port = origin.addr.port();
    let p = proxy_to(&[&format!("allowed.test:{port}")]);
    let (code, t) = connect_tunnel(p.addr, format!("allowed.test:{port}").as_bytes());
    assert_eq!(code, 200);
    let mut t = t.unwrap();
    drop(p);
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        t.read(&mut buf).unwrap_or(0),
        0,
        "tunnel still open after the proxy stopped"
    );
}
