//! Shared harness: a proxy on its own current-thread runtime (as the supervisor runs it), a
//! fake resolver and a spy dialer, a recording HTTP origin, raw clients for the three entry
//! paths, and audit-log readers. Everything listens and connects on loopback only.
#![allow(dead_code, reason = "each test binary uses a subset")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod corpus;
pub mod servers;

use palisade_policy::Policy;
use palisade_proxy::resolve::BoxFuture;
use palisade_proxy::{Connector, Proxy, ProxyConfig, Resolver};
use serde_json::Value;

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How far a name's answers have been given out, and the answers.
type Script = (usize, Vec<Vec<IpAddr>>);

/// Scripted DNS: each name answers its list of answers in turn, repeating the last one.
/// Unknown names fail. Counts every call, so tests can prove a denied name was never looked up.
#[derive(Default)]
pub struct FakeResolver {
    answers: Mutex<HashMap<String, Script>>,
    pub calls: AtomicUsize,
    pub asked: Mutex<Vec<String>>,
}

impl FakeResolver {
    pub fn with(entries: &[(&str, &[&[&str]])]) -> Arc<Self> {
        let r = FakeResolver::default();
        {
            let mut map = r.answers.lock().unwrap();
            for (name, seq) in entries {
                let seq: Vec<Vec<IpAddr>> = seq
                    .iter()
                    .map(|ans| ans.iter().map(|a| a.parse().unwrap()).collect())
                    .collect();
                map.insert(name.to_string(), (0, seq));
            }
        }
        Arc::new(r)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolver for FakeResolver {
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push(name.to_string());
        let mut map = self.answers.lock().unwrap();
        let out = match map.get_mut(name) {
            Some((i, seq)) if !seq.is_empty() => {
                let ans = seq[(*i).min(seq.len() - 1)].clone();
                *i += 1;
                Ok(ans)
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "NXDOMAIN (fake)",
            )),
        };
        Box::pin(async move { out })
    }
}

/// Records every address the proxy asks to dial and connects to the test origin instead, so
/// "public" answers in the corpus are never contacted: nothing leaves loopback.
pub struct SpyConnector {
    pub origin: SocketAddr,
    pub dialled: Mutex<Vec<SocketAddr>>,
}

impl SpyConnector {
    pub fn new(origin: SocketAddr) -> Arc<Self> {
        Arc::new(SpyConnector {
            origin,
            dialled: Mutex::new(Vec::new()),
        })
    }

    pub fn take(&self) -> Vec<String> {
        self.dialled
            .lock()
            .unwrap()
            .drain(..)
            .map(|a| a.to_string())
            .collect()
    }
}

impl Connector for SpyConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
        self.dialled.lock().unwrap().push(addr);
        Box::pin(tokio::net::TcpStream::connect(self.origin))
    }
}

/// Dials only loopback addresses (a safety net for the real-client tests).
pub struct LoopbackConnector;

impl Connector for LoopbackConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
        Box::pin(async move {
            if !addr.ip().is_loopback() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "test connector dials loopback only",
                ));
            }
            tokio::net::TcpStream::connect(addr).await
        })
    }
}

/// A proxy served on its own thread by a current-thread runtime; stopped on drop.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    pub audit: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    read_upto: usize,
}

pub fn policy(allow: &[&str], deny: &[&str], cidr: &[&str], resolve: &[&str]) -> Policy {
    let mut p = Policy::default();
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
    p.network.allow = v(allow);
    p.network.deny = v(deny);
    p.network.allow_cidr = v(cidr);
    p.network.resolve = v(resolve);
    p
}

impl TestProxy {
    /// Binds 127.0.0.1:0 first so the policy can name the proxy's own port.
    pub fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").unwrap()
    }

    pub fn start(
        listeners: Vec<TcpListener>,
        mut policy: Policy,
        resolver: Arc<dyn Resolver>,
        connector: Arc<dyn Connector>,
        tweak: impl FnOnce(&mut ProxyConfig),
    ) -> TestProxy {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.jsonl");
        policy.network.audit_log = Some(audit.display().to_string());
        let mut cfg = ProxyConfig::from_policy(&policy, "test-sbx").unwrap();
        tweak(&mut cfg);
        let proxy = Proxy::with_parts(cfg, resolver, connector).unwrap();
        let addr = listeners[0].local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let p = proxy.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                tokio::select! {
                    r = p.serve(listeners) => r.unwrap(),
                    _ = stopped => {}
                }
            });
        });
        TestProxy {
            addr,
            proxy,
            audit,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
            read_upto: 0,
        }
    }

    pub fn lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.audit).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until the lines after the last call satisfy `done`, then returns them.
    pub fn wait_new(&mut self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let all = self.lines();
            let fresh = all[self.read_upto.min(all.len())..].to_vec();
            if done(&fresh) {
                self.read_upto = all.len();
                return fresh;
            }
            assert!(
                Instant::now() < deadline,
                "audit lines never arrived: {fresh:#?}; last: {:#?}",
                all.last()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The first decision or request line after the last call (waits for it).
    pub fn next_verdict(&mut self) -> Value {
        let fresh = self.wait_new(|ls| ls.iter().any(is_verdict));
        fresh.into_iter().find(is_verdict).unwrap()
    }
}

pub fn is_verdict(v: &Value) -> bool {
    matches!(v["ev"].as_str(), Some("decision" | "request"))
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A recording HTTP/1.1 origin: answers `ORIGIN <label> <path>` with keep-alive, and keeps
/// every request head it saw.
pub struct Origin {
    pub addr: SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    pub fn start(label: &'static str) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve_on(listener, label)
    }

    pub fn serve_on(listener: TcpListener, label: &'static str) -> Origin {
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let h = heads.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((s, _)) = l.accept().await else {
                        continue;
                    };
                    tokio::spawn(origin_conn(s, label, h.clone()));
                }
            });
        });
        Origin { addr, heads }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn origin_conn(
    mut s: tokio::net::TcpStream,
    label: &'static str,
    heads: Arc<Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let lower = head.to_ascii_lowercase();
        if let Some(cl) = header(&lower, "content-length") {
            let n: usize = cl.parse().unwrap_or(0);
            while buf.len() < n {
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            buf.drain(..n);
        } else if header(&lower, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            while find(&buf, b"0\r\n\r\n").is_none() {
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let i = find(&buf, b"0\r\n\r\n").unwrap();
            buf.drain(..i + 5);
        }
        let path = head.split(' ').nth(1).unwrap_or("?").to_string();
        heads.lock().unwrap().push(head.clone());
        let body = format!("ORIGIN {label} {path}");
        let close = lower.contains("connection: close");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if s.write_all(resp.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

fn header<'a>(lower_head: &'a str, name: &str) -> Option<&'a str> {
    lower_head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Reads one response: the head, then a Content-Length body (or until EOF).
pub fn read_response(s: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(i) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..i]).to_ascii_lowercase();
            if let Some(cl) = header(&head, "content-length") {
                let want = i + 4 + cl.parse::<usize>().unwrap_or(0);
                if data.len() >= want {
                    data.truncate(want);
                    return data;
                }
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends raw bytes on a fresh connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    read_response(&mut s)
}

pub fn status(resp: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(resp);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Sends `CONNECT authority`; returns the status and, on 2xx, the open tunnel.
pub fn connect_tunnel(proxy: SocketAddr, authority: &[u8]) -> (u16, Option<TcpStream>) {
    let mut s = connect(proxy);
    let mut req = b"CONNECT ".to_vec();
    req.extend_from_slice(authority);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    req.extend_from_slice(authority);
    req.extend_from_slice(b"\r\n\r\n");
    s.write_all(&req).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    let code = status(&head);
    if (200..300).contains(&code) {
        (code, Some(s))
    } else {
        (code, None)
    }
}

pub enum SocksDst<'a> {
    V4([u8; 4]),
    V6([u8; 16]),
    Domain(&'a [u8]),
}

/// SOCKS5 no-auth request with `cmd`; returns the reply code and, on success, the tunnel.
pub fn socks(proxy: SocketAddr, cmd: u8, dst: SocksDst<'_>, port: u16) -> (u8, Option<TcpStream>) {
    let mut s = connect(proxy);
    s.write_all(&[5, 1, 0]).unwrap();
    let mut sel = [0u8; 2];
    s.read_exact(&mut sel).unwrap();
    assert_eq!(sel, [5, 0]);
    let mut req = vec![5, cmd, 0];
    match dst {
        SocksDst::V4(a) => {
            req.push(1);
            req.extend_from_slice(&a);
        }
        SocksDst::V6(a) => {
            req.push(4);
            req.extend_from_slice(&a);
        }
        SocksDst::Domain(d) => {
            req.push(3);
            req.push(u8::try_from(d.len()).unwrap());
            req.extend_from_slice(d);
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut rep = [0u8; 10];
    if s.read_exact(&mut rep).is_err() {
        return (0xff, None);
    }
    if rep[1] == 0 {
        (0, Some(s))
    } else {
        (rep[1], None)
    }
}

/// Whether a command-line tool is installed; prints why a test is skipped when not.
pub fn have(tool: &str, test: &str) -> bool {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED {test}: `{tool}` is not installed");
    }
    ok
}
