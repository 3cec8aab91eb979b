//! HTTP CONNECT: strict authority-form target, the shared admission pipeline, 200, then the
//! tunnel runs in the connection's own task once hyper hands the socket back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::audit::{Event, TargetLog};
use crate::decide::Reason;
use crate::http::{empty_body, refusal_response, RespBody};
use crate::relay::{self, Tunnel};
use crate::target::{parse_connect, Entry};
use crate::Proxy;

/// An allowed CONNECT waiting for hyper to finish writing the 200 and release the socket.
pub(crate) struct PendingTunnel {
    on_upgrade: OnUpgrade,
    tunnel: Tunnel,
    upstream: TcpStream,
}

pub(crate) type Slot = Arc<Mutex<Option<PendingTunnel>>>;

pub(crate) async fn handle(
    proxy: &Arc<Proxy>,
    conn: &str,
    slot: &Slot,
    mut req: Request<Incoming>,
) -> Response<RespBody> {
    let start = Instant::now();
    let target = match parse_connect(req.uri()) {
        Ok(t) => t,
        Err(bad) => {
            let r = crate::decide::Refusal::new(Reason::BadTarget, "builtin:parse", &bad.why);
            proxy.log_refusal(conn, Entry::Connect, Err(&bad), &r, None, None);
            return refusal_response(&r, Err(&bad), "CONNECT");
        }
    };
    let permit = match proxy.try_tunnel_permit() {
        Ok(p) => p,
        Err(r) => {
            proxy.log_refusal(conn, Entry::Connect, Ok(&target), &r, None, None);
            return refusal_response(&r, Ok(&target), "CONNECT");
        }
    };
    match proxy.admit(Entry::Connect, &target).await {
        Err((r, resolved)) => {
            proxy.log_refusal(
                conn,
                Entry::Connect,
                Ok(&target),
                &r,
                resolved.as_ref(),
                None,
            );
            refusal_response(&r, Ok(&target), "CONNECT")
        }
        Ok(adm) => {
            proxy.log_tunnel_allowed(conn, Entry::Connect, &target, &adm);
            let pending = PendingTunnel {
                on_upgrade: hyper::upgrade::on(&mut req),
                tunnel: Tunnel {
                    conn: conn.to_string(),
                    entry: Entry::Connect,
                    target,
                    start,
                    permit,
                    mode: adm.grant.mode,
                    rule: adm.grant.rule.clone(),
                },
                upstream: adm.stream,
            };
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(pending);
            Response::new(empty_body())
        }
    }
}

/// Runs the tunnel after hyper has sent the 200 and given the client socket back.
pub(crate) async fn finish(proxy: &Arc<Proxy>, pending: PendingTunnel) {
    let PendingTunnel {
        on_upgrade,
        tunnel,
        upstream,
    } = pending;
    let upgraded = tokio::time::timeout(Duration::from_secs(10), on_upgrade).await;
    let error = match upgraded {
        Ok(Ok(up)) => match up.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let client = parts.io.into_inner();
                relay::start(proxy, tunnel, client, parts.read_buf.to_vec(), upstream).await;
                return;
            }
            Err(_) => "upgrade: unexpected transport".to_string(),
        },
        Ok(Err(e)) => format!("upgrade: {e}"),
        Err(_) => "upgrade: timed out".to_string(),
    };
    // Pair the allow line with a close line even when the tunnel never started.
    let event = Event {
        ev: "close",
        conn: Some(tunnel.conn.clone()),
        entry: Some(tunnel.entry),
        target: Some(TargetLog::of(&tunnel.target)),
        reason: Some("error"),
        error: Some(error),
        ..Event::default()
    };
    proxy.record(&event, None);
}
