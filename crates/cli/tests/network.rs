//! No network but loopback inside, and host daemon sockets out of reach unless allowed.
//! Every address used here is loopback or a socket this test creates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

use common::*;

/// Connection results that mean "could not reach it".
const UNREACHABLE: &[&str] = &["ECONNREFUSED", "EACCES", "ENOENT", "EPERM", "ENETUNREACH"];

#[test]
fn only_loopback_exists() {
    let t = Scratch::new("net-lo");
    let out = t.run(&[], &["cat", "/proc/net/dev"]);
    out.assert_ok();
    let ifaces: Vec<&str> = out
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
}

#[test]
fn loopback_is_the_sandboxes_own() {
    let t = Scratch::new("net-own-lo");
    // A listener on the host's loopback must not be reachable: the sandbox's 127.0.0.1 is
    // another interface in another namespace.
    let host = std::net::TcpListener::bind("127.0.0.1:0").expect("bind host listener");
    let port = host.local_addr().expect("addr").port();
    let host_op = format!("tcp:127.0.0.1:{port}");
    let p = t.probe(&[], &["tcp:127.0.0.1:1", &host_op]);
    p.out.assert_ok();
    p.expect("tcp:127.0.0.1:1", &["ECONNREFUSED"]);
    p.expect(&host_op, &["ECONNREFUSED"]);
    // Loopback inside works: a server started inside is reachable from inside.
    let script = "import socket\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n\
                  c = socket.create_connection(s.getsockname(), timeout=3)\n\
                  a, _ = s.accept(); c.sendall(b'pong'); print(a.recv(4).decode())\n";
    let out = t.run(&[], &[&python(), "-c", script]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "pong", "{out}");
}

#[test]
fn host_abstract_unix_socket_is_unreachable() {
    let t = Scratch::new("net-abstract");
    let name = format!("palisade-test-{}", token());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let _l = UnixListener::bind_addr(&addr).expect("bind abstract socket");
    // Reachable from the host itself, so the probe can tell the difference.
    let op = format!("unix:@{name}");
    let host = std::process::Command::new(python())
        .args([s(&t.probe), op.clone()])
        .output()
        .expect("host probe");
    assert!(
        String::from_utf8_lossy(&host.stdout).contains(" = OK"),
        "host cannot reach its own abstract socket: {host:?}"
    );
    let p = t.probe(&[], &[&op]);
    p.out.assert_ok();
    p.expect(&op, UNREACHABLE);
}

#[test]
fn ssh_agent_socket_is_masked() {
    let t = Scratch::new("net-agent");
    let sock = t.root.join("agent.sock");
    let _l = UnixListener::bind(&sock).expect("bind agent socket");
    let op = format!("unix:{}", s(&sock));
    let mut cmd = t.palisade();
    cmd.env("SSH_AUTH_SOCK", &sock)
        .args(["run", "--", &python(), &s(&t.probe), &op]);
    let p = probe_of(output(cmd));
    p.out.assert_ok();
    p.expect(&op, UNREACHABLE);
    assert!(Path::new(&sock).exists());
}
