//! A terminated tunnel: the ClientHello is judged as for a spliced tunnel (SNI must name the
//! target), then a TLS server with a leaf for the target's host answers the client, and each
//! request is handled on its own: its `Host` must name the tunnel's target (421 otherwise),
//! credentials are applied, and it is sent to the origin over a verified TLS connection.
//! The client may speak HTTP/2 (ALPN `h2`) or HTTP/1.1; the origin is always spoken to in
//! HTTP/1.1. Upgrades (WebSocket) are not carried.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::rewind::Rewind;
use super::upstream::{http_log, Upstream};
use crate::decide::{Mode, Reason, Refusal};
use crate::http::RespBody;
use crate::relay::{self, End, Tunnel};
use crate::sni::{parse_client_hello, Hello};
use crate::target::{parse_authority, Target};
use crate::Proxy;

/// Runs a tunnel whose mode is `Mitm`.
pub(crate) async fn run(
    proxy: &Arc<Proxy>,
    t: Tunnel,
    mut client: TcpStream,
    prefix: Vec<u8>,
    upstream: TcpStream,
) {
    let timeout = proxy.cfg().timeouts.client_hello;
    let first = match relay::read_first(&mut client, prefix, &t.target, timeout).await {
        Ok(first) => first,
        Err(end) => return relay::log_end(proxy, t, end, 0, 0),
    };
    if first.is_empty() {
        return relay::log_end(proxy, t, End::Closed("client_closed"), 0, 0);
    }
    if !matches!(parse_client_hello(&first), Hello::Parsed { .. }) {
        if proxy.cfg().creds.binds_tunnel(&t.target) {
            let end = relay::refuse(
                Reason::NotTls,
                "a tunnel to a host with a credential must carry TLS",
                None,
            );
            return relay::log_end(proxy, t, end, 0, 0);
        }
        // `tls_terminate = "all"` and a client that does not speak TLS here: splice.
        return relay::run(proxy, t, client, first, upstream).await;
    }
    let Some(ca) = proxy.ca() else {
        let end = End::Error("no CA for a terminated tunnel".into());
        return relay::log_end(proxy, t, end, 0, 0);
    };
    let server_cfg = match ca.server_config(&t.target.host) {
        Ok(c) => c,
        Err(e) => return relay::log_end(proxy, t, End::Error(e.to_string()), 0, 0),
    };
    let accept = tokio_rustls::TlsAcceptor::from(server_cfg).accept(Rewind::new(first, client));
    let tls = match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let end = handshake_failure(&t.target, &e);
            return relay::log_end(proxy, t, end, 0, 0);
        }
        Err(_) => {
            let end = End::Error("TLS handshake with the client timed out".into());
            return relay::log_end(proxy, t, end, 0, 0);
        }
    };
    let up = Arc::new(Mutex::new(Upstream::new(
        t.conn.clone(),
        t.entry,
        t.target.clone(),
        Mode::Mitm,
        Some((upstream, t.rule.clone())),
    )));
    let svc = {
        let (proxy, up) = (proxy.clone(), up.clone());
        service_fn(move |req: Request<Incoming>| {
            let (proxy, up) = (proxy.clone(), up.clone());
            async move {
                let mut up = up.lock().await;
                Ok::<_, Infallible>(handle(&proxy, &mut up, req).await)
            }
        })
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let served = if h2 {
        http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(tls), svc)
            .await
    } else {
        http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(proxy.cfg().timeouts.tunnel_idle)
            .serve_connection(TokioIo::new(tls), svc)
            .await
    };
    let end = match served {
        Ok(()) => End::Closed("client_closed"),
        Err(e) => End::Error(format!("inside the tunnel: {e}")),
    };
    relay::log_end(proxy, t, end, 0, 0);
}

async fn handle(
    proxy: &Arc<Proxy>,
    up: &mut Upstream,
    req: Request<Incoming>,
) -> Response<RespBody> {
    if req.method() == hyper::Method::CONNECT {
        let r = Refusal::new(
            Reason::BadRequest,
            "builtin:tunnel_connect",
            "CONNECT inside a terminated tunnel",
        );
        return up.refuse(proxy, r, http_log(&req), Vec::new());
    }
    if let Err(r) = check_authority(&req, &up.target) {
        return up.refuse(proxy, r, http_log(&req), Vec::new());
    }
    up.forward(proxy, req).await
}

/// `Host` (and an absolute-form URI's authority, HTTP/2's `:authority`) must name the
/// tunnel's target. HTTP/2 may leave `Host` out; HTTP/1.1 may not.
fn check_authority(req: &Request<Incoming>, target: &Target) -> Result<(), Refusal> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    let named = |raw: &str| parse_authority(raw, Some(443)).ok();
    let h2 = req.version() == hyper::Version::HTTP_2;
    let host_ok = match (first, second) {
        (Some(v), None) => v.to_str().ok().and_then(named).as_ref() == Some(target),
        (None, None) => h2 && req.uri().authority().is_some(),
        _ => false,
    };
    let uri_ok = match req.uri().authority() {
        Some(a) => named(a.as_str()).as_ref() == Some(target),
        None => true,
    };
    if host_ok && uri_ok {
        Ok(())
    } else {
        Err(Refusal::new(
            Reason::MisdirectedRequest,
            "builtin:tunnel_host",
            format!("every request in this tunnel must name {target} in Host"),
        ))
    }
}

/// A failed client handshake. A client that rejects the run's CA (it pins its own, or does
/// not read the bundle palisade points it at) gets a log line saying so: it fails closed.
fn handshake_failure(target: &Target, e: &std::io::Error) -> End {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::AlertReceived(alert)) = tls {
        let msg = format!(
            "the client refused palisade's certificate for {target} (TLS alert {alert:?}): it \
             does not trust the sandbox CA (pinned certificate, or a CA store other than \
             SSL_CERT_FILE and the system bundle); the connection was closed"
        );
        tracing::warn!("{msg}");
        return End::Error(msg);
    }
    End::Error(format!("TLS handshake with the client failed: {e}"))
}
