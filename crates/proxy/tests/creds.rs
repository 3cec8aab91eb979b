//! Credentials through the proxy, with real clients against a TLS origin started here on
//! 127.0.0.1 (made-up names mapped to it), signed by a test CA the proxy trusts through
//! `network.upstream_extra_ca`. The clients trust the run's CA through the bundle and the
//! variables the sandbox would get. The origin records every request's Authorization.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;
#[path = "creds/fixture.rs"]
mod fixture;

use common::servers::python;
use common::*;
use fixture::*;
use serde_json::Value;
use std::process::Command;

#[test]
fn curl_gets_the_key_injected_over_a_valid_chain_and_its_own_copy_replaced() {
    if !ready("curl", "curl credential") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let o = f
        .client("curl")
        .args(["-sS", "--fail", "-H"])
        .arg(format!("Authorization: Bearer {}", f.placeholder))
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let echoed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(echoed["authorization"], f.scrubbed().as_str());
    assert_eq!(echoed["host"], format!("{BOUND}:{}", f.port));
    assert_eq!(echoed["accept-encoding"], "identity");
    // SOCKS5 (socks5h: the name goes to the proxy) is terminated the same way.
    let o = f
        .client("curl")
        .args(["-sS", "--fail", "--proxy"])
        .arg(format!("socks5h://127.0.0.1:{}", f.proxy.addr.port()))
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    let echoed: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(echoed["authorization"], f.scrubbed().as_str());
    f.assert_origin_got_key(2);
    let reqs = f.request_lines();
    assert_eq!(reqs[1]["entry"], "socks5");
    assert_eq!(reqs[1]["cred"][0]["action"], "injected");
    let req = &reqs[0];
    assert_eq!(req["mode"], "mitm");
    assert_eq!(req["entry"], "connect");
    assert_eq!(req["http"]["status"], 200);
    assert_eq!(
        req["cred"],
        serde_json::json!([{"id": "anthropic", "action": "client_value_replaced"}])
    );
    f.assert_log_clean();
}

#[test]
fn python_urllib_and_requests_get_the_key_injected() {
    if !ready("python3", "python credential") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let url = f.url(BOUND, "/echo");
    // Strict X.509 checking, the default from Python 3.13 on, asked for explicitly.
    let urllib = format!(
        "import urllib.request, json, ssl\n\
         ctx = ssl.create_default_context()\n\
         ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN\n\
         print(json.loads(urllib.request.urlopen('{url}', context=ctx).read())['authorization'])"
    );
    let o = f
        .client(python().unwrap().to_str().unwrap())
        .args(["-c", &urllib])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        f.scrubbed(),
        "{}",
        text(&o)
    );
    let requests = format!(
        "import requests\nprint(requests.get('{url}', timeout=10).json()['authorization'])"
    );
    let o = f
        .client(python().unwrap().to_str().unwrap())
        .args(["-c", &requests])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&o.stderr).contains("No module named 'requests'") {
        eprintln!("SKIPPED python requests: not installed");
    } else {
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            f.scrubbed(),
            "{}",
            text(&o)
        );
    }
    f.assert_origin_got_key(1);
    let injected = f
        .request_lines()
        .iter()
        .filter(|l| l["cred"][0]["action"] == "injected")
        .count();
    assert!(injected >= 1, "{:#?}", f.request_lines());
    f.assert_log_clean();
}

#[test]
fn node_https_gets_the_key_injected() {
    if !ready("node", "node credential") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    // Node 20 has no proxy support of its own: CONNECT by hand, then https over the socket
    // (trusting NODE_EXTRA_CA_CERTS, as set for the sandbox).
    let js = format!(
        "const http = require('http'), https = require('https'), tls = require('tls');\n\
         const u = new URL(process.env.HTTPS_PROXY);\n\
         http.request({{host: u.hostname, port: u.port, method: 'CONNECT', path: '{BOUND}:{port}'}})\n\
         .on('connect', (res, socket) => {{\n\
           const agent = new https.Agent();\n\
           agent.createConnection = () => tls.connect({{socket, servername: '{BOUND}'}});\n\
           https.get({{host: '{BOUND}', port: {port}, path: '/echo', agent}}, r => {{\n\
             let b = ''; r.on('data', d => b += d);\n\
             r.on('end', () => {{ console.log(JSON.parse(b).authorization); process.exit(0); }});\n\
           }}).on('error', e => {{ console.error(e.message); process.exit(1); }});\n\
         }}).end();",
        port = f.port
    );
    let o = f.client("node").args(["-e", &js]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        f.scrubbed(),
        "{}",
        text(&o)
    );
    f.assert_origin_got_key(1);
    f.assert_log_clean();
}

#[test]
fn git_clones_over_https_with_the_key_injected() {
    if !ready("git", "git credential") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let dest = f.dir.path().join("clone");
    let o = f
        .client("git")
        .args(["clone", "-q", &f.url(BOUND, "/repo.git")])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let readme = std::fs::read_to_string(dest.join("README")).unwrap();
    assert_eq!(readme, "palisade proxy test repo\n");
    let saw = f.origin_saw();
    assert!(saw.len() >= 2, "{saw:#?}");
    assert!(
        saw.iter().all(|r| r["authorization"] == bearer().as_str()),
        "{saw:#?}"
    );
    assert!(f
        .request_lines()
        .iter()
        .any(|l| l["http"]["path"] == "/repo.git/git-upload-pack" && l["mode"] == "mitm"));
    f.assert_log_clean();
}

#[test]
fn placeholder_sent_to_an_allowed_unbound_host_is_refused() {
    if !ready("curl", "placeholder scope") {
        return;
    }
    let f = Fixture::new("all", false);
    let o = f
        .client("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("x-api-key: {}", f.placeholder))
        .arg(f.url(OTHER, "/echo"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "403", "{}", text(&o));
    assert!(f.origin_saw().is_empty(), "{:#?}", f.origin_saw());
    let line = f.wait_line(|l| l["reason"] == "cred_scope");
    assert_eq!(line["decision"], "deny");
    assert_eq!(line["rule"], "cred:anthropic");
    assert_eq!(line["target"]["host"], OTHER);
    assert_eq!(
        line["cred"],
        serde_json::json!([{"id": "anthropic", "action": "blocked_scope"}])
    );
    // The same host without the placeholder is fine, and gets no credential.
    let o = f
        .client("curl")
        .args(["-sS", "--fail"])
        .arg(f.url(OTHER, "/echo"))
        .output()
        .unwrap();
    let echoed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(echoed.get("authorization"), None, "{}", text(&o));
    f.assert_log_clean();
}

#[test]
fn a_request_naming_another_host_inside_the_tunnel_gets_421() {
    if !ready("curl", "tunnel host") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let o = f
        .client("curl")
        .args([
            "-sS",
            "--http1.1",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
        ])
        .arg(format!("Host: {OTHER}:{}", f.port))
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "421", "{}", text(&o));
    assert!(f.origin_saw().is_empty());
    let line = f.wait_line(|l| l["reason"] == "misdirected_request");
    assert_eq!(line["http"]["status"], 421);
}

#[test]
fn redirects_are_passed_back_not_followed() {
    if !ready("curl", "redirect") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let o = f
        .client("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(f.url(BOUND, "/redirect"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("302 https://{OTHER}:{}/echo", f.port),
        "{}",
        text(&o)
    );
    let saw = f.origin_saw();
    assert_eq!(saw.len(), 1, "the proxy followed the redirect: {saw:#?}");
    assert_eq!(saw[0]["path"], "/redirect");
}

#[test]
fn a_client_pinning_its_own_ca_fails_closed_with_a_log_line() {
    if !ready("curl", "pinned CA") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let o = f
        .client("curl")
        .args(["-sS", "--cacert"])
        .arg(&f.origin_ca)
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(60), "{}", text(&o));
    assert!(f.origin_saw().is_empty());
    let line = f.wait_line(|l| l["ev"] == "close");
    let err = line["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("the client refused palisade's certificate for api.cred.test"),
        "{line:#}"
    );
}

#[test]
fn plain_endpoint_forwards_to_the_bound_origin_with_the_key() {
    if !ready("python3", "plain endpoint") {
        return;
    }
    let f = Fixture::new("off", true);
    assert!(!f.bundle.exists(), "no CA without termination");
    let port = f.endpoint.unwrap();
    // ANTHROPIC_BASE_URL-style: the client only knows the base URL. Once directly (as with
    // NO_PROXY), once through HTTP_PROXY (the proxy hands it to the endpoint).
    let script = "import os, json, urllib.request\n\
                  req = urllib.request.Request(os.environ['ANTHROPIC_BASE_URL'] + '/echo',\n\
                      headers={'x-api-key': os.environ['ANTHROPIC_API_KEY'],\n\
                               'Authorization': 'Bearer client-copy'})\n\
                  h = json.loads(urllib.request.urlopen(req).read())\n\
                  print(h['authorization'], h['host'])";
    for direct in [true, false] {
        let mut c = f.client(python().unwrap().to_str().unwrap());
        if direct {
            c.env("NO_PROXY", "127.0.0.1").env("no_proxy", "127.0.0.1");
        }
        let o = c.args(["-c", script]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            format!("{} {BOUND}:{}", f.scrubbed(), f.port),
            "direct={direct}: {}",
            text(&o)
        );
    }
    f.assert_origin_got_key(2);
    let env = f.proxy.proxy.credentials().sandbox_env();
    assert!(env.contains(&(
        "ANTHROPIC_BASE_URL".to_string(),
        format!("http://127.0.0.1:{port}")
    )));
    let reqs = f.request_lines();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    for r in &reqs {
        assert_eq!(r["entry"], "endpoint");
        assert_eq!(r["target"]["host"], BOUND);
        assert_eq!(r["cred"][0]["action"], "client_value_replaced");
    }
    // The endpoint's own placeholder may go to its bound origin: it did (x-api-key above).
    f.assert_log_clean();
}

#[test]
fn placeholder_in_plain_http_to_another_host_is_refused() {
    if !ready("curl", "plain-HTTP placeholder") {
        return;
    }
    let f = Fixture::new("as_needed", false);
    let url = format!("http://{PLAIN}:{}/leak", f.plain.addr.port());
    let o = f
        .client("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {}", f.placeholder))
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "403", "{}", text(&o));
    assert!(f.plain.heads().is_empty());
    let line = f.wait_line(|l| l["reason"] == "cred_scope");
    assert_eq!(line["entry"], "http");
    assert_eq!(line["cred"][0]["action"], "blocked_scope");
    // Without the placeholder the same request goes through.
    let o = f
        .client("curl")
        .args(["-sS", "--fail", &url])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ORIGIN plain /leak",
        "{}",
        text(&o)
    );
    f.assert_log_clean();
}

#[test]
fn terminate_all_splices_a_tunnel_whose_client_does_not_speak_tls() {
    if !ready("python3", "terminate all, not TLS") {
        return;
    }
    let f = Fixture::new("all", false);
    let authority = format!("{PLAIN}:{}", f.plain.addr.port());
    let (code, tunnel) = connect_tunnel(f.proxy.addr, authority.as_bytes());
    assert_eq!(code, 200);
    let mut t = tunnel.unwrap();
    use std::io::Write;
    t.write_all(format!("GET /raw HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .unwrap();
    let resp = read_response(&mut t);
    assert!(
        resp.ends_with(b"ORIGIN plain /raw"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let decision = f.wait_line(|l| l["ev"] == "decision" && l["target"]["host"] == PLAIN);
    assert_eq!(decision["mode"], "mitm");
}

#[test]
fn http2_clients_are_terminated_too_and_their_authority_checked() {
    if !ready("curl", "http2 credential") {
        return;
    }
    let features = Command::new("curl").arg("-V").output().unwrap();
    if !String::from_utf8_lossy(&features.stdout).contains("HTTP2") {
        eprintln!("SKIPPED http2: this curl has no HTTP/2");
        return;
    }
    let f = Fixture::new("as_needed", false);
    let o = f
        .client("curl")
        .args(["-sS", "--fail", "--http2"])
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    let echoed: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(echoed["authorization"], f.scrubbed().as_str());
    assert_eq!(echoed["host"], format!("{BOUND}:{}", f.port));
    f.assert_origin_got_key(1);
    let req = &f.request_lines()[0];
    assert_eq!(req["http"]["ver"], "HTTP/2");
    assert_eq!(req["cred"][0]["action"], "injected");
    // HTTP/2's :authority naming another host is refused like Host in HTTP/1.1.
    let o = f
        .client("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
        ])
        .arg(format!("Host: {OTHER}:{}", f.port))
        .arg(f.url(BOUND, "/echo"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "421", "{}", text(&o));
    assert_eq!(f.origin_saw().len(), 1);
    f.assert_log_clean();
}
