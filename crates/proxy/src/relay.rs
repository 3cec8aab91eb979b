//! The tunnel after CONNECT/SOCKS5 success: check the client's first bytes (a ClientHello
//! whose SNI must name the target; TLS required on 443), then relay both ways with an idle
//! timeout and byte counters, and write the close line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade_policy::host::{normalize_name, Host};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::audit::{BytesLog, Event, MsLog, TargetLog};
use crate::decide::{Reason, Refusal};
use crate::resolve::millis;
use crate::sni::{parse_client_hello, Hello, MAX_HELLO};
use crate::target::{escape_raw, Entry, Target};
use crate::Proxy;

const BUF: usize = 16 * 1024;

/// Ports where the client must speak TLS first.
fn tls_required(port: u16) -> bool {
    port == 443
}

pub(crate) struct Tunnel {
    pub conn: String,
    pub entry: Entry,
    pub target: Target,
    pub start: Instant,
    pub permit: OwnedSemaphorePermit,
    pub mode: crate::decide::Mode,
    pub rule: String,
}

/// Runs an admitted tunnel: terminated or spliced, as its decision said.
pub(crate) async fn start(
    proxy: &std::sync::Arc<Proxy>,
    t: Tunnel,
    client: TcpStream,
    prefix: Vec<u8>,
    up: TcpStream,
) {
    if t.mode == crate::decide::Mode::Mitm {
        crate::tls::mitm::run(proxy, t, client, prefix, up).await;
    } else {
        run(proxy, t, client, prefix, up).await;
    }
}

struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(millis(self.start.elapsed()), Ordering::Relaxed);
    }
}

pub(crate) enum End {
    Closed(&'static str),
    Refused(Refusal, Option<String>),
    Error(String),
}

/// Runs a tunnel to the end. `prefix` holds client bytes already read (pipelined after
/// CONNECT).
pub(crate) async fn run(
    proxy: &Proxy,
    t: Tunnel,
    client: TcpStream,
    prefix: Vec<u8>,
    up: TcpStream,
) {
    let act = Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        up: AtomicU64::new(0),
        down: AtomicU64::new(0),
    };
    let timeouts = &proxy.cfg().timeouts;
    let (cr, cw) = client.into_split();
    let (ur, uw) = up.into_split();
    let target = t.target.clone();
    let c2u = client_to_upstream(cr, uw, prefix, &target, &act, timeouts.client_hello);
    let u2c = pump(ur, cw, &act, &act.down);
    tokio::pin!(c2u, u2c);
    let idle = idle_watch(&act, timeouts.tunnel_idle);
    tokio::pin!(idle);
    let end = tokio::select! {
        r = &mut c2u => match r {
            Ok(()) => tokio::select! {
                r = &mut u2c => r.map_or_else(End::Error, |()| End::Closed("client_closed")),
                () = &mut idle => End::Closed("idle_timeout"),
            },
            Err(e) => e,
        },
        r = &mut u2c => match r {
            Ok(()) => tokio::select! {
                r = &mut c2u => r.map_or_else(|e| e, |()| End::Closed("upstream_closed")),
                () = &mut idle => End::Closed("idle_timeout"),
            },
            Err(e) => End::Error(e),
        },
        () = &mut idle => End::Closed("idle_timeout"),
    };
    let (up, down) = (
        act.up.load(Ordering::Relaxed),
        act.down.load(Ordering::Relaxed),
    );
    log_end(proxy, t, end, up, down);
}

/// Writes a tunnel's last lines: the refusal (if any) and the close line; frees its slot.
pub(crate) fn log_end(proxy: &Proxy, t: Tunnel, end: End, up: u64, down: u64) {
    let (reason, error) = match end {
        End::Closed(why) => (why, None),
        End::Error(e) => ("error", Some(e)),
        End::Refused(refusal, sni) => {
            let mut tlog = TargetLog::of(&t.target);
            tlog.sni = sni;
            let event = Event {
                ev: "decision",
                conn: Some(t.conn.clone()),
                entry: Some(t.entry),
                target: Some(tlog),
                decision: Some("deny"),
                rule: Some(refusal.rule.clone()),
                reason: Some(refusal.reason.as_str()),
                error: Some(refusal.detail.clone()),
                ..Event::default()
            };
            proxy.record(&event, Some((t.target.to_string(), refusal.reason)));
            (refusal.reason.as_str(), None)
        }
    };
    let event = Event {
        ev: "close",
        conn: Some(t.conn),
        entry: Some(t.entry),
        target: Some(TargetLog::of(&t.target)),
        reason: Some(reason),
        bytes: Some(BytesLog { up, down }),
        ms: Some(MsLog {
            total: Some(millis(t.start.elapsed())),
            ..MsLog::default()
        }),
        error,
        ..Event::default()
    };
    proxy.record(&event, None);
    drop(t.permit);
}

async fn idle_watch(act: &Activity, idle: Duration) {
    loop {
        let last = Duration::from_millis(act.last_ms.load(Ordering::Relaxed));
        let due = act.start + last + idle;
        if Instant::now() >= due {
            return;
        }
        tokio::time::sleep_until(due.into()).await;
    }
}

async fn pump(
    r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    act: &Activity,
    count: &AtomicU64,
) -> Result<(), String> {
    let pipe = crate::splice::Pipe::new().map_err(|e| e.kind().to_string())?;
    let (from, to): (&TcpStream, &TcpStream) = (r.as_ref(), w.as_ref());
    loop {
        let n = crate::splice::relay_chunk(from, to, &pipe)
            .await
            .map_err(|e| e.kind().to_string())?;
        if n == 0 {
            // Half-close: pass the EOF on and keep the other direction running.
            let _ = w.shutdown().await;
            return Ok(());
        }
        act.touch();
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
}

async fn client_to_upstream(
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    prefix: Vec<u8>,
    target: &Target,
    act: &Activity,
    hello_timeout: Duration,
) -> Result<(), End> {
    let first = read_first(&mut r, prefix, target, hello_timeout).await?;
    if !first.is_empty() {
        act.touch();
        w.write_all(&first)
            .await
            .map_err(|e| End::Error(e.kind().to_string()))?;
        act.up.fetch_add(first.len() as u64, Ordering::Relaxed);
    } else {
        let _ = w.shutdown().await;
        return Ok(());
    }
    pump(r, w, act, &act.up).await.map_err(End::Error)
}

/// Reads until the first bytes are judged. Returns them for forwarding (empty on EOF).
pub(crate) async fn read_first(
    r: &mut (impl AsyncRead + Unpin),
    mut buf: Vec<u8>,
    target: &Target,
    hello_timeout: Duration,
) -> Result<Vec<u8>, End> {
    let must_tls = tls_required(target.port);
    let deadline = tokio::time::Instant::now() + hello_timeout;
    let mut chunk = vec![0u8; BUF];
    loop {
        match parse_client_hello(&buf) {
            Hello::NeedMore => {}
            Hello::NotTls if must_tls => return Err(refuse(Reason::NotTls, "not TLS", None)),
            Hello::NotTls => return Ok(buf),
            Hello::Malformed(why) => return Err(refuse(Reason::NotTls, why, None)),
            Hello::Parsed { sni, ech: _ } => return check_sni(target, sni).map(|()| buf),
        }
        if buf.len() > MAX_HELLO + 1024 {
            return Err(refuse(Reason::NotTls, "ClientHello too large", None));
        }
        // Before the first byte a non-TLS client may legitimately wait for the server (SSH,
        // SMTP banners); once a handshake has started, or on a TLS-only port, it may not.
        let read = r.read(&mut chunk);
        let n = if buf.is_empty() && !must_tls {
            read.await
        } else {
            match tokio::time::timeout_at(deadline, read).await {
                Ok(n) => n,
                Err(_) => return Err(refuse(Reason::NotTls, "no ClientHello in time", None)),
            }
        };
        let n = n.map_err(|e| End::Error(e.kind().to_string()))?;
        if n == 0 {
            return Ok(Vec::new());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The SNI must name the CONNECT host; an IP-literal target must come without one.
fn check_sni(target: &Target, sni: Option<String>) -> Result<(), End> {
    let shown = sni.as_deref().map(|s| escape_raw(s.as_bytes()));
    let ok = match (&target.host, &sni) {
        (Host::Name(want), Some(got)) => normalize_name(got).is_ok_and(|n| &n == want),
        (Host::Ip(_), None) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let detail = match &shown {
            Some(s) => format!("TLS server name `{s}` is not the tunnel's host"),
            None => "no TLS server name for a named host".to_string(),
        };
        Err(refuse(Reason::SniMismatch, &detail, shown))
    }
}

pub(crate) fn refuse(reason: Reason, detail: &str, sni: Option<String>) -> End {
    End::Refused(Refusal::new(reason, "builtin:tls", detail), sni)
}
