//! Checks inside a connection: the TLS server name on tunnels, SOCKS5 commands, and the
//! plain-HTTP request rules (Host, framing, hop-by-hop stripping, keep-alive re-decisions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use palisade_proxy::sni::build_client_hello;
use serde_json::Value;

fn start(origin: &Origin) -> (TestProxy, Arc<FakeResolver>, Arc<SpyConnector>) {
    let p = policy(
        &["allowed.test", "*.wild.test", "127.0.0.1:8765"],
        &["evil.test"],
        &[],
        &[],
    );
    let resolver = FakeResolver::with(&[
        ("allowed.test", &[&["93.184.216.34"]]),
        ("api.wild.test", &[&["93.184.216.35"]]),
    ]);
    let spy = SpyConnector::new(origin.addr);
    let proxy = TestProxy::start(
        vec![TestProxy::bind()],
        p,
        resolver.clone(),
        spy.clone(),
        |_| {},
    );
    (proxy, resolver, spy)
}

/// Sends `first` on an open tunnel, closes it, and returns every audit line of the tunnel.
fn tunnel_lines(p: &mut TestProxy, mut t: std::net::TcpStream, first: &[&[u8]]) -> Vec<Value> {
    for (i, part) in first.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        t.write_all(part).unwrap();
    }
    let _ = t.shutdown(std::net::Shutdown::Write);
    let mut sink = Vec::new();
    let _ = t.read_to_end(&mut sink);
    drop(t);
    p.wait_new(|ls| ls.iter().any(|l| l["ev"] == "close"))
}

fn close_of(lines: &[Value]) -> &Value {
    lines.iter().find(|l| l["ev"] == "close").unwrap()
}

#[test]
fn tls_server_name_must_name_the_tunnel_host() {
    let origin = Origin::start("inside");
    let (mut p, _r, _s) = start(&origin);
    let good = build_client_hello(Some("ALLOWED.test."), false);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "fronted SNI",
            build_client_hello(Some("evil.test"), false),
            "sni_mismatch",
        ),
        (
            "no SNI for a named host",
            build_client_hello(None, false),
            "sni_mismatch",
        ),
        (
            "plain HTTP on 443",
            b"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n".to_vec(),
            "not_tls",
        ),
        (
            "matching SNI, case and dot folded",
            good.clone(),
            "client_closed",
        ),
        (
            "ECH offered with the right outer SNI",
            build_client_hello(Some("allowed.test"), true),
            "client_closed",
        ),
    ];
    for (name, hello, want) in cases {
        for via_socks in [false, true] {
            let t = if via_socks {
                socks(p.addr, 1, SocksDst::Domain(b"allowed.test"), 443).1
            } else {
                connect_tunnel(p.addr, b"allowed.test:443").1
            };
            let lines = tunnel_lines(&mut p, t.unwrap(), &[&hello]);
            let close = close_of(&lines);
            assert_eq!(
                close["reason"], want,
                "{name} (socks: {via_socks}): {lines:#?}"
            );
            if want == "client_closed" {
                assert_eq!(close["bytes"]["up"], hello.len() as u64, "{name}");
            } else {
                assert_eq!(close["bytes"]["up"], 0, "{name}: bytes reached upstream");
                let deny = lines.iter().find(|l| l["decision"] == "deny").unwrap();
                assert_eq!(deny["reason"], want, "{name}");
            }
        }
    }
    let fronted = p
        .lines()
        .into_iter()
        .find(|l| l["reason"] == "sni_mismatch")
        .unwrap();
    assert_eq!(fronted["target"]["sni"], "evil.test");

    // A hello split over two writes, and one pipelined right behind the CONNECT.
    let (halves_a, halves_b) = good.split_at(20);
    let t = connect_tunnel(p.addr, b"allowed.test:443").1.unwrap();
    let lines = tunnel_lines(&mut p, t, &[halves_a, halves_b]);
    assert_eq!(close_of(&lines)["reason"], "client_closed");
    let mut s = connect(p.addr);
    let mut req = b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n".to_vec();
    req.extend_from_slice(&build_client_hello(Some("evil.test"), false));
    s.write_all(&req).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let lines = p.wait_new(|ls| ls.iter().any(|l| l["ev"] == "close"));
    assert_eq!(close_of(&lines)["reason"], "sni_mismatch", "{lines:#?}");

    // An IP-literal tunnel needs no SNI; naming a host there is fronting too.
    for (hello, want) in [
        (build_client_hello(None, false), "client_closed"),
        (build_client_hello(Some("evil.test"), false), "sni_mismatch"),
    ] {
        let t = connect_tunnel(p.addr, b"127.0.0.1:8765").1.unwrap();
        let lines = tunnel_lines(&mut p, t, &[&hello]);
        assert_eq!(close_of(&lines)["reason"], want);
    }
}

#[test]
fn socks_refuses_bind_udp_and_unknown_address_types() {
    let origin = Origin::start("inside");
    let (mut p, resolver, spy) = start(&origin);
    assert_eq!(
        socks(p.addr, 2, SocksDst::Domain(b"allowed.test"), 443).0,
        0x07
    );
    assert_eq!(socks(p.addr, 3, SocksDst::V4([0, 0, 0, 0]), 0).0, 0x07);
    let fe80: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
    assert_eq!(socks(p.addr, 1, SocksDst::V6(fe80.octets()), 80).0, 0x02);
    assert_eq!(
        socks(p.addr, 1, SocksDst::V4([93, 184, 216, 34]), 443).0,
        0x02
    );
    assert_eq!(
        socks(p.addr, 1, SocksDst::Domain(b"evil.test."), 443).0,
        0x02
    );
    let lines = p.wait_new(|ls| ls.iter().filter(|l| is_verdict(l)).count() >= 5);
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "bad_request",
            "bad_request",
            "ip_literal",
            "ip_literal",
            "deny_rule"
        ]
    );
    assert_eq!(resolver.calls(), 0);
    assert!(spy.take().is_empty());

    // An unknown address type gets 0x08; username/password auth is read and never logged.
    let mut s = connect(p.addr);
    s.write_all(&[5, 1, 2]).unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [5, 2]);
    s.write_all(&[1, 4, b'u', b's', b'e', b'r', 7]).unwrap();
    s.write_all(b"hunter2").unwrap();
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [1, 0]);
    s.write_all(&[5, 1, 0, 9, 0, 0]).unwrap();
    let mut rep = [0u8; 10];
    s.read_exact(&mut rep).unwrap();
    assert_eq!(rep[1], 0x08);
    p.wait_new(|ls| ls.iter().any(is_verdict));
    assert!(!std::fs::read_to_string(&p.audit)
        .unwrap()
        .contains("hunter2"));
}

fn get(host: &str, uri: &str, extra: &str) -> Vec<u8> {
    format!("GET {uri} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[test]
fn plain_http_requests_are_checked_one_by_one() {
    let origin = Origin::start("inside");
    let (mut p, _resolver, spy) = start(&origin);
    let refusals: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "Host names another target",
            get("evil.test", "http://allowed.test/a", ""),
            403,
            "authority_mismatch",
        ),
        (
            "URI denied, Host allowed",
            get("allowed.test", "http://evil.test/a", ""),
            403,
            "deny_rule",
        ),
        (
            "origin-form",
            get("evil.test", "/a", ""),
            400,
            "bad_request",
        ),
        (
            "duplicate Host",
            get(
                "allowed.test",
                "http://allowed.test/a",
                "Host: evil.test\r\n",
            ),
            400,
            "bad_request",
        ),
        (
            "numeric host",
            get("2130706433", "http://2130706433/", ""),
            400,
            "bad_target",
        ),
        (
            "userinfo",
            get("evil.test", "http://allowed.test@evil.test/", ""),
            400,
            "bad_target",
        ),
        (
            "https scheme",
            get("allowed.test", "https://allowed.test/", ""),
            400,
            "bad_target",
        ),
        (
            "lower-case connect",
            b"connect allowed.test:80 HTTP/1.1\r\nHost: allowed.test\r\n\r\n".to_vec(),
            400,
            "bad_target",
        ),
        (
            "CONNECT absolute-form",
            b"CONNECT http://allowed.test:80/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n".to_vec(),
            400,
            "bad_target",
        ),
    ];
    for (name, raw, code, reason) in refusals {
        let resp = exchange(p.addr, &raw);
        assert_eq!(
            status(&resp),
            code,
            "{name}: {}",
            String::from_utf8_lossy(&resp)
        );
        let v = p.next_verdict();
        assert_eq!(v["reason"], reason, "{name}");
    }
    assert!(
        origin.heads().is_empty(),
        "a refused request reached the origin"
    );
    assert!(spy.take().is_empty());

    // Allowed: Host is rewritten from the target, hop-by-hop and Proxy-* headers never leave.
    let extra = "Proxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n\
                 Connection: Upgrade, HTTP2-Settings, X-Secret\r\nUpgrade: h2c\r\n\
                 HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nX-Secret: s\r\nKeep-Alive: 5\r\n\
                 X-Kept: yes\r\n";
    let resp = exchange(
        p.addr,
        &get("allowed.test:80", "http://allowed.test:80/ok?q=1", extra),
    );
    assert_eq!(status(&resp), 200, "{}", String::from_utf8_lossy(&resp));
    let head = origin.heads().pop().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /ok?q=1 http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nhost: allowed.test\r\n"), "{head}");
    assert!(head.contains("\r\nx-kept: yes\r\n"), "{head}");
    for gone in [
        "proxy-",
        "upgrade",
        "http2-settings",
        "x-secret",
        "keep-alive",
    ] {
        assert!(!head.contains(gone), "`{gone}` reached the origin: {head}");
    }
    let line = p.next_verdict();
    assert_eq!(
        (line["ev"].as_str(), line["reason"].as_str()),
        (Some("request"), Some("ok"))
    );
    assert_eq!(line["http"]["path"], "/ok");
    assert_eq!(line["http"]["status"], 200);
    assert_eq!(spy.take(), ["93.184.216.34:80"]);
}

#[test]
fn keep_alive_requests_are_decided_again() {
    let origin = Origin::start("inside");
    let (mut p, _resolver, spy) = start(&origin);
    let mut s = connect(p.addr);
    let ka = |host: &str| {
        format!("GET http://{host}/k HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n")
    };
    s.write_all(ka("allowed.test").as_bytes()).unwrap();
    assert_eq!(status(&read_response(&mut s)), 200);
    s.write_all(ka("api.wild.test").as_bytes()).unwrap();
    assert_eq!(status(&read_response(&mut s)), 200);
    s.write_all(ka("evil.test").as_bytes()).unwrap();
    let resp = read_response(&mut s);
    assert_eq!(status(&resp), 403, "{}", String::from_utf8_lossy(&resp));
    let lines = p.wait_new(|ls| ls.iter().filter(|l| is_verdict(l)).count() >= 3);
    let seen: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["target"]["host"].as_str().unwrap().into(),
                l["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("allowed.test".into(), "ok".into()),
            ("api.wild.test".into(), "ok".into()),
            ("evil.test".into(), "deny_rule".into())
        ]
    );
    assert_eq!(spy.take(), ["93.184.216.34:80", "93.184.216.35:80"]);
    assert_eq!(origin.heads().len(), 2);
    // The connection is closed after a refusal: nothing pipelined behind it is read.
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0);
}

#[test]
fn framing_tricks_never_reach_the_origin_as_two_requests() {
    let origin = Origin::start("inside");
    let (mut p, _resolver, _spy) = start(&origin);
    let post = |extra: &str, body: &str| {
        format!("POST http://allowed.test/s HTTP/1.1\r\nHost: allowed.test\r\n{extra}\r\n{body}")
            .into_bytes()
    };
    let smuggled = "0\r\n\r\nGET http://evil.test/x HTTP/1.1\r\nHost: evil.test\r\n\r\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "TE Chunked",
            post("Transfer-Encoding: Chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "space before colon",
            post("Content-Length : 5\r\n", "hello"),
        ),
        (
            "two lengths",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
        ),
        (
            "chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
        ),
        (
            "CL and TE",
            post(
                "Content-Length: 60\r\nTransfer-Encoding: chunked\r\n",
                smuggled,
            ),
        ),
        (
            "obs-fold",
            post("X-A: a\r\n b\r\nContent-Length: 0\r\n", ""),
        ),
        ("plus length", post("Content-Length: +5\r\n", "hello")),
    ];
    for (name, raw) in cases {
        let before = origin.heads().len();
        let mut s = connect(p.addr);
        s.write_all(&raw).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        let code = status(&all);
        let after = origin.heads();
        assert!(
            after.len() - before <= 1,
            "{name}: origin saw {} requests",
            after.len() - before
        );
        assert!(
            after.iter().all(|h| !h.contains("evil.test")),
            "{name}: smuggled request"
        );
        assert!(code == 200 || code == 400, "{name}: status {code}");
    }
    // hyper closes after a message with both CL and TE (RFC 9112 6.3), so the smuggled
    // request is never even parsed; had it been, it would have been decided on its own.
    let bad = |ls: &[Value]| ls.iter().filter(|l| l["reason"] == "bad_request").count();
    let lines = p.wait_new(|ls| bad(ls) >= 5);
    assert_eq!(bad(&lines), 5, "{lines:#?}");
    assert!(!lines
        .iter()
        .any(|l| l["target"]["host"] == "evil.test" && l["decision"] == "allow"));
}

#[test]
fn connect_host_header_is_ignored_for_the_target() {
    let origin = Origin::start("inside");
    let (mut p, _resolver, spy) = start(&origin);
    let mut s = connect(p.addr);
    s.write_all(b"CONNECT allowed.test:80 HTTP/1.1\r\nHost: evil.test:80\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 19];
    s.read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"HTTP/1.1 200"));
    assert_eq!(spy.take(), ["93.184.216.34:80"]);
    let v = p.next_verdict();
    assert_eq!(v["target"]["host"], "allowed.test");
}
