//! The HTTP side of the shared port: hyper parses every request (strict framing, no raw
//! client bytes forwarded); CONNECT goes to [`crate::connect`], anything else must be an
//! absolute-form `http://` request and is forwarded one request per decision
//! ([`crate::forward`]).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use crate::connect::{self, Slot};
use crate::decide::{remedy, Reason, Refusal};
use crate::forward;
use crate::target::{BadTarget, Entry, Target};
use crate::Proxy;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type RespBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn empty_body() -> RespBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Upstream connection drivers spawned for this client connection; aborted with it.
#[derive(Default)]
pub(crate) struct TaskGuard {
    handles: Mutex<Vec<AbortHandle>>,
}

impl TaskGuard {
    pub(crate) fn track(&self, h: AbortHandle) {
        let mut v = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|h| !h.is_finished());
        v.push(h);
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let v = self.handles.get_mut().unwrap_or_else(|e| e.into_inner());
        for h in v.drain(..) {
            h.abort();
        }
    }
}

pub(crate) async fn serve(proxy: Arc<Proxy>, stream: TcpStream) {
    let conn = proxy.new_id('c');
    let slot: Slot = Arc::new(Mutex::new(None));
    let tasks = Arc::new(TaskGuard::default());
    let svc = {
        let (proxy, conn, slot, tasks) = (proxy.clone(), conn.clone(), slot.clone(), tasks.clone());
        service_fn(move |req: Request<Incoming>| {
            let (proxy, conn, slot, tasks) =
                (proxy.clone(), conn.clone(), slot.clone(), tasks.clone());
            async move {
                let resp = if req.method() == Method::CONNECT {
                    connect::handle(&proxy, &conn, &slot, req).await
                } else {
                    forward::handle(&proxy, &conn, &tasks, req).await
                };
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let result = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(proxy.cfg().timeouts.header_read)
        // A client may shut down its write side while waiting for the answer (scripts do).
        .half_close(true)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
    if let Err(e) = result {
        if e.is_parse() || e.is_parse_too_large() {
            // hyper has already answered 400/431; the request never got as far as a target.
            let r = Refusal::new(
                Reason::BadRequest,
                "builtin:parse",
                "malformed HTTP request",
            );
            let bad = BadTarget {
                raw: String::new(),
                why: e.to_string(),
            };
            proxy.log_refusal(&conn, Entry::Http, Err(&bad), &r, None, None);
        }
    }
    let pending = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(p) = pending {
        connect::finish(&proxy, p).await;
    }
}

/// A refusal the agent can act on: status by reason, `X-Palisade-Denied`, and a one-line body
/// naming the target, the reason code and what would allow it. The connection is closed
/// after it, so nothing the client pipelined is ever read as a new request.
pub(crate) fn refusal_response(
    r: &Refusal,
    target: Result<&Target, &BadTarget>,
    what: &str,
) -> Response<RespBody> {
    let shown = match target {
        Ok(t) => t.to_string(),
        Err(bad) if bad.raw.is_empty() => "(request)".to_string(),
        Err(bad) => bad.raw.clone(),
    };
    let body = format!(
        "palisade: denied {what} {shown}: {} ({}); {}\n",
        r.reason.as_str(),
        r.detail,
        remedy(r.reason, target.ok())
    );
    let header = match target {
        Ok(t) => format!("{}; target={t}", r.reason.as_str()),
        Err(_) => r.reason.as_str().to_string(),
    };
    let status = StatusCode::from_u16(r.reason.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let value = HeaderValue::from_str(&header).unwrap_or(HeaderValue::from_static("denied"));
    h.insert("x-palisade-denied", value);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
