//! Plain-HTTP forwarding: one decision per request. The URI's authority is the target; `Host`
//! must name the same target (one `Host` only); hop-by-hop and `Proxy-*` headers are stripped;
//! the request is re-serialised by hyper onto a fresh connection to the checked address.
//! A second request on the same client connection is decided again from scratch.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, HOST};
use hyper::{Request, Response, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;

use crate::audit::{BytesLog, CredLog, Event, HttpLog, MsLog, ResolvedLog, TargetLog};
use crate::creds::Scheme;
use crate::decide::{Mode, Reason, Refusal};
use crate::http::{refusal_response, RespBody, TaskGuard};
use crate::inject::{self, Req};
use crate::resolve::millis;
use crate::target::{parse_absolute, parse_authority, BadTarget, Entry, Target};
use crate::{resolved_log, Proxy};

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

fn http_log(req: &Request<Incoming>) -> HttpLog {
    let ver = match req.version() {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        _ => "HTTP/?",
    };
    // The path only: query strings carry tokens often enough never to be logged.
    let path: String = req.uri().path().chars().take(256).collect();
    HttpLog {
        ver,
        method: req.method().as_str().to_string(),
        path,
        status: None,
    }
}

pub(crate) async fn handle(
    proxy: &Arc<Proxy>,
    conn: &str,
    tasks: &TaskGuard,
    req: Request<Incoming>,
) -> Response<RespBody> {
    let start = Instant::now();
    let mut hlog = http_log(&req);
    let refuse = |r: Refusal, target: Result<&Target, &BadTarget>, mut hlog: HttpLog| {
        hlog.status = Some(r.reason.status());
        proxy.log_refusal(conn, Entry::Http, target, &r, None, Some(hlog));
        refusal_response(&r, target, "request to")
    };
    let target = match parse_absolute(req.uri()) {
        Ok(t) => t,
        Err(bad) => {
            let reason = match req.uri().authority() {
                None => Reason::BadRequest,
                Some(_) => Reason::BadTarget,
            };
            return refuse(
                Refusal::new(reason, "builtin:parse", &bad.why),
                Err(&bad),
                hlog,
            );
        }
    };
    if let Some(bound) = crate::endpoint::endpoint_target(proxy, &target) {
        return crate::endpoint::forward_one(proxy, conn, bound, req).await;
    }
    // The policy speaks first (a denied URI is `deny_rule`, whatever its Host says); the
    // full pipeline below decides again, which is pure and cheap.
    if let Err(r) = crate::decide::decide(proxy.cfg(), &target, Entry::Http) {
        return refuse(r, Ok(&target), hlog);
    }
    if let Err(r) = check_host_header(req.headers(), &target) {
        return refuse(r, Ok(&target), hlog);
    }
    // Credentials bound to plain http are put in here; any placeholder going elsewhere stops.
    let mut req = req;
    let path_q = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let ireq = Req {
        scheme: Scheme::Http,
        target: &target,
        method: &method,
        path_and_query: &path_q,
    };
    let cred = match inject::apply(&proxy.cfg().creds, &ireq, req.headers_mut()) {
        Ok(c) => c,
        Err((r, cred)) => {
            hlog.status = Some(r.reason.status());
            let event = Event {
                ev: "decision",
                conn: Some(conn.to_string()),
                entry: Some(Entry::Http),
                target: Some(TargetLog::of(&target)),
                decision: Some("deny"),
                rule: Some(r.rule.clone()),
                reason: Some(r.reason.as_str()),
                http: Some(hlog),
                cred,
                error: Some(r.detail.clone()),
                ..Event::default()
            };
            proxy.record(&event, Some((target.to_string(), r.reason)));
            return refusal_response(&r, Ok(&target), "request to");
        }
    };
    let permit = match proxy.try_request_permit() {
        Ok(p) => p,
        Err(r) => return refuse(r, Ok(&target), hlog),
    };
    let adm = match proxy.admit(Entry::Http, &target).await {
        Ok(a) => a,
        Err((r, resolved)) => {
            hlog.status = Some(r.reason.status());
            proxy.log_refusal(
                conn,
                Entry::Http,
                Ok(&target),
                &r,
                resolved.as_ref(),
                Some(hlog),
            );
            return refusal_response(&r, Ok(&target), "request to");
        }
    };
    let up_bytes = Arc::new(AtomicU64::new(0));
    let done = RequestDone {
        proxy: proxy.clone(),
        conn: conn.to_string(),
        req: proxy.new_id('r'),
        target: target.clone(),
        http: hlog,
        rule: adm.grant.rule.clone(),
        mode: adm.grant.mode,
        resolved: resolved_log(&adm.resolved, Some(adm.chosen)),
        ms: MsLog {
            dns: adm.resolved.dns_ms,
            connect: Some(adm.connect_ms),
            total: None,
        },
        start,
        up: up_bytes.clone(),
        cred,
        error: None,
        _permit: permit,
    };
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    if let Ok(v) = HeaderValue::from_str(&target.host_header(80)) {
        headers.insert(HOST, v);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut up_req = Request::new(Metered {
        inner: body,
        count: up_bytes,
        done: None,
    });
    *up_req.method_mut() = parts.method;
    *up_req.uri_mut() = path
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    *up_req.version_mut() = Version::HTTP_11;
    *up_req.headers_mut() = headers;

    let sent = async {
        let (mut sender, driver) =
            hyper::client::conn::http1::handshake(TokioIo::new(adm.stream)).await?;
        tasks.track(tokio::spawn(async move { drop(driver.await) }).abort_handle());
        sender.send_request(up_req).await
    };
    match sent.await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let mut done = done;
            done.http.status = Some(parts.status.as_u16());
            let body = Metered {
                inner: body,
                count: Arc::new(AtomicU64::new(0)),
                done: Some(done),
            };
            Response::from_parts(parts, body.map_err(Into::into).boxed_unsync())
        }
        Err(e) => {
            let r = Refusal::new(
                Reason::ConnectFailed,
                "builtin:upstream",
                upstream_error(&e),
            );
            let mut done = done;
            done.http.status = Some(r.reason.status());
            done.error = Some(r.detail.clone());
            done.log(0);
            refusal_response(&r, Ok(&target), "request to")
        }
    }
}

fn upstream_error(e: &hyper::Error) -> String {
    let text = e.to_string();
    format!(
        "upstream: {}",
        text.chars()
            .filter(char::is_ascii_graphic)
            .take(80)
            .collect::<String>()
    )
}

/// Exactly one `Host`, and it names the URI's target (default port aware).
fn check_host_header(headers: &HeaderMap, target: &Target) -> Result<(), Refusal> {
    let mut values = headers.get_all(HOST).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Refusal::new(
            Reason::BadRequest,
            "builtin:host",
            "more than one Host header",
        ));
    }
    let Some(value) = first else { return Ok(()) };
    let named = value
        .to_str()
        .ok()
        .and_then(|s| parse_authority(s, Some(80)).ok());
    if named.as_ref() == Some(target) {
        Ok(())
    } else {
        Err(Refusal::new(
            Reason::AuthorityMismatch,
            "builtin:host",
            "the Host header names a different target than the request URI",
        ))
    }
}

/// Removes hop-by-hop headers, every header `Connection` nominates, and every `Proxy-*`
/// header (so `Proxy-Authorization` never reaches an origin).
pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap) {
    let nominated: Vec<HeaderName> = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in nominated {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
    let proxy_headers: Vec<HeaderName> = h
        .keys()
        .filter(|k| k.as_str().starts_with("proxy-"))
        .cloned()
        .collect();
    for n in proxy_headers {
        h.remove(n);
    }
}

/// What the `request` audit line needs, written when the response body is done (or dropped).
struct RequestDone {
    proxy: Arc<Proxy>,
    conn: String,
    req: String,
    target: Target,
    http: HttpLog,
    rule: String,
    mode: Mode,
    resolved: ResolvedLog,
    ms: MsLog,
    start: Instant,
    up: Arc<AtomicU64>,
    cred: Vec<CredLog>,
    error: Option<String>,
    _permit: OwnedSemaphorePermit,
}

impl RequestDone {
    fn log(mut self, down: u64) {
        self.ms.total = Some(millis(self.start.elapsed()));
        let event = Event {
            ev: "request",
            conn: Some(self.conn),
            req: Some(self.req),
            entry: Some(Entry::Http),
            target: Some(TargetLog::of(&self.target)),
            resolved: Some(self.resolved),
            decision: Some("allow"),
            rule: Some(self.rule),
            reason: Some(Reason::Ok.as_str()),
            mode: Some(self.mode),
            http: Some(self.http),
            bytes: Some(BytesLog {
                up: self.up.load(Ordering::Relaxed),
                down,
            }),
            ms: Some(self.ms),
            error: self.error,
            cred: self.cred,
        };
        self.proxy.record(&event, None);
    }
}

/// A body that counts data bytes and, for responses, logs the request when it is dropped.
struct Metered<B> {
    inner: B,
    count: Arc<AtomicU64>,
    done: Option<RequestDone>,
}

impl<B> Drop for Metered<B> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done.log(self.count.load(Ordering::Relaxed));
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Metered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
        }
        if let Poll::Ready(Some(Err(_))) = &polled {
            if let Some(done) = self.done.as_mut() {
                done.error = Some("upstream body error".to_string());
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
