//! The pitfall corpus of research/proxy.md §3 as raw inputs, run through all three entry paths
//! (HTTP absolute-form, CONNECT, SOCKS5) against a fresh proxy each, with a fake resolver and
//! a spy dialer. Every case asserts the audit line's reason code, the status or SOCKS reply,
//! whether DNS was consulted, and exactly which addresses were dialled.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use common::corpus::*;
use common::*;

fn start(origin: &Origin) -> (TestProxy, Arc<FakeResolver>, Arc<SpyConnector>) {
    let listener = TestProxy::bind();
    let pport = listener.local_addr().unwrap().port();
    let self_entry = format!("self.test:{pport}");
    let allow = [
        "allowed.test",
        "*.wild.test",
        "evil.test",
        "rebind.test",
        "mixed.test",
        "v6nat64.test",
        "v6mapped.test",
        "sixtofour.test",
        "private.test",
        "cgnat.test",
        "meta.test",
        "nxdomain.test",
        "loop.test",
        "127.0.0.1:8765",
        "localhost:8765",
        &self_entry,
    ];
    let p = policy(
        &allow,
        &["evil.test", "blocked.wild.test"],
        &["127.0.0.0/8"],
        &[],
    );
    let resolver = FakeResolver::with(&[
        ("allowed.test", &[&["93.184.216.34"]]),
        ("api.wild.test", &[&["93.184.216.35"]]),
        ("blocked.wild.test", &[&["93.184.216.36"]]),
        ("evil.test", &[&["93.184.216.99"]]),
        ("rebind.test", &[&["93.184.216.34"], &["10.0.0.1"]]),
        (
            "mixed.test",
            &[&["10.0.0.1", "93.184.216.34", "169.254.169.254"]],
        ),
        ("v6nat64.test", &[&["64:ff9b::a9fe:a9fe"]]),
        ("v6mapped.test", &[&["::ffff:10.0.0.1"]]),
        ("sixtofour.test", &[&["2002:a9fe:a9fe::1"]]),
        ("private.test", &[&["10.0.0.5"]]),
        ("cgnat.test", &[&["100.64.1.1"]]),
        ("meta.test", &[&["169.254.169.254"]]),
        ("loop.test", &[&["127.0.0.1"]]),
        ("self.test", &[&["127.0.0.1"]]),
        ("c2vjcmv0.exfil.test", &[&["93.184.216.34"]]),
    ]);
    let spy = SpyConnector::new(origin.addr);
    let proxy = TestProxy::start(vec![listener], p, resolver.clone(), spy.clone(), |_| {});
    (proxy, resolver, spy)
}

fn authority(c: &Case, pport: &str) -> Vec<u8> {
    let mut a = c.host.to_vec();
    let port = if c.port == PPORT { pport } else { c.port };
    if !port.is_empty() {
        a.push(b':');
        a.extend_from_slice(port.as_bytes());
    }
    a
}

enum Dst {
    V4([u8; 4]),
    V6([u8; 16]),
    Name(Vec<u8>),
}

fn socks_dst(c: &Case, pport: &str) -> (Dst, u16) {
    let port_text = if c.port == PPORT { pport } else { c.port };
    let canonical = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| p.to_string() == port_text);
    let text = std::str::from_utf8(c.host).ok();
    let v4 = text
        .and_then(|t| t.parse::<Ipv4Addr>().ok())
        .map(|a| a.octets());
    let v6 = text
        .and_then(|t| {
            t.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<Ipv6Addr>()
                .ok()
        })
        .map(|a| a.octets());
    let dst = match (v4, v6) {
        (Some(a), _) => Dst::V4(a),
        (_, Some(a)) => Dst::V6(a),
        _ => Dst::Name(c.host.to_vec()),
    };
    match (canonical, port_text.is_empty()) {
        (Some(p), _) => (dst, p),
        (None, true) => (dst, 0),
        // A port SOCKS cannot carry goes into the name, where the same parser refuses it.
        (None, false) => (Dst::Name(authority(c, pport)), 80),
    }
}

/// Runs one case on one path; returns (reason from the audit line, status or SOCKS reply).
fn run(p: &mut TestProxy, path: Path, c: &Case) -> (String, u16) {
    let pport = p.addr.port().to_string();
    let code = match path {
        Path::Http => {
            let a = authority(c, &pport);
            let mut req = b"GET http://".to_vec();
            req.extend_from_slice(&a);
            req.extend_from_slice(b"/p HTTP/1.1\r\nHost: ");
            req.extend_from_slice(&a);
            req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            let resp = exchange(p.addr, &req);
            let code = status(&resp);
            if code == 200 {
                assert!(find(&resp, b"ORIGIN conf /p").is_some(), "{}", c.name);
            } else {
                let denied = find(&resp, b"x-palisade-denied: ").is_some();
                assert!(denied || code == 400, "{}: no refusal header", c.name);
            }
            code
        }
        Path::Connect => {
            let (code, tunnel) = connect_tunnel(p.addr, &authority(c, &pport));
            if let Some(mut t) = tunnel {
                t.write_all(b"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                assert!(
                    find(&read_response(&mut t), b"ORIGIN conf /p").is_some(),
                    "{}",
                    c.name
                );
            }
            code
        }
        Path::Socks => {
            let (dst, port) = socks_dst(c, &pport);
            let dst = match &dst {
                Dst::V4(a) => SocksDst::V4(*a),
                Dst::V6(a) => SocksDst::V6(*a),
                Dst::Name(n) => SocksDst::Domain(n),
            };
            let (code, tunnel) = socks(p.addr, 1, dst, port);
            if let Some(mut t) = tunnel {
                t.write_all(b"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                assert!(
                    find(&read_response(&mut t), b"ORIGIN conf /p").is_some(),
                    "{}",
                    c.name
                );
            }
            u16::from(code)
        }
    };
    // An allowed tunnel also needs its close line, so it cannot leak into the next case.
    let fresh = p.wait_new(|ls| match ls.iter().find(|l| is_verdict(l)) {
        Some(v) if path != Path::Http && v["decision"] == "allow" => {
            ls.iter().any(|l| l["ev"] == "close")
        }
        Some(_) => true,
        None => false,
    });
    let verdict = fresh.into_iter().find(is_verdict).unwrap();
    (verdict["reason"].as_str().unwrap_or("").to_string(), code)
}

fn expected_code(path: Path, reason: &str) -> u16 {
    match (path, reason) {
        (Path::Socks, "ok") => 0,
        (Path::Socks, "dns_error") => 4,
        (Path::Socks, _) => 2,
        (_, "ok") => 200,
        (_, "bad_target" | "bad_request") => 400,
        (_, "dns_error") => 502,
        _ => 403,
    }
}

#[test]
fn corpus_gives_identical_decisions_on_every_entry_path() {
    let origin = Origin::start("conf");
    let cases = corpus();
    let mut failures = Vec::new();
    for path in [Path::Http, Path::Connect, Path::Socks] {
        let (mut p, resolver, spy) = start(&origin);
        for c in cases.iter().filter(|c| c.paths.contains(&path)) {
            let calls = resolver.calls();
            let (reason, code) = run(&mut p, path, c);
            let want = if c.http_unparseable && path != Path::Socks {
                "bad_request"
            } else {
                c.want
            };
            let dialled = spy.take();
            let resolved = resolver.calls() > calls;
            let got = (reason.as_str(), code, resolved, dialled.clone());
            let expect = (
                want,
                expected_code(path, want),
                c.resolves,
                c.dials.to_vec(),
            );
            if got.0 != expect.0 || got.1 != expect.1 || got.2 != expect.2 || got.3 != expect.3 {
                failures.push(format!(
                    "{path:?} / {}: got {got:?}, want {expect:?}",
                    c.name
                ));
            }
        }
        // The denied exfiltration name never reached the resolver on any path.
        assert!(!resolver
            .asked
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.contains("exfil")));
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn refusal_names_target_reason_and_flag() {
    let origin = Origin::start("conf");
    let (p, _r, _s) = start(&origin);
    let resp = exchange(
        p.addr,
        b"GET http://other.test:8080/x?token=s3cret HTTP/1.1\r\nHost: other.test:8080\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&resp).to_string();
    assert_eq!(status(&resp), 403, "{text}");
    assert!(
        text.contains("x-palisade-denied: no_rule; target=other.test:8080"),
        "{text}"
    );
    assert!(text.contains("--allow-domain other.test:8080"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(body.lines().count(), 1, "{body}");
    let line = p.lines().pop().unwrap();
    assert_eq!(line["http"]["path"], "/x");
    assert!(!std::fs::read_to_string(&p.audit)
        .unwrap()
        .contains("s3cret"));
    let addr: SocketAddr = p.addr;
    let (code, _) = connect_tunnel(addr, b"other.test:443");
    assert_eq!(code, 403);
}
