//! One request to an HTTPS origin with credentials applied: shared by terminated tunnels and
//! plain endpoints. The target is fixed by the caller (the tunnel's, or the endpoint's
//! binding), never taken from the request. Redirects are passed back, never followed.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT_ENCODING, HOST};
use hyper::{Request, Response, Uri, Version};
use hyper_util::rt::TokioIo;
use palisade_policy::host::Host;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use crate::audit::{CredLog, Event, HttpLog, MsLog, TargetLog};
use crate::creds::Scheme;
use crate::decide::{Mode, Reason, Refusal};
use crate::forward::strip_hop_by_hop;
use crate::http::{refusal_response, RespBody};
use crate::inject::{self, Req};
use crate::resolve::millis;
use crate::scrub::ScrubBody;
use crate::target::{Entry, Target};
use crate::Proxy;

type Sender = SendRequest<Incoming>;

/// The upstream side of a tunnel or endpoint connection: reconnected when the origin closes.
pub(crate) struct Upstream {
    pub conn: String,
    pub entry: Entry,
    pub target: Target,
    pub mode: Mode,
    /// The connection already dialled when the tunnel was admitted.
    pub first: Option<TcpStream>,
    pub rule: String,
    sender: Option<Sender>,
}

impl Upstream {
    pub(crate) fn new(
        conn: String,
        entry: Entry,
        target: Target,
        mode: Mode,
        first: Option<(TcpStream, String)>,
    ) -> Self {
        let (first, rule) = match first {
            Some((s, r)) => (Some(s), r),
            None => (None, String::new()),
        };
        Upstream {
            conn,
            entry,
            target,
            mode,
            first,
            rule,
            sender: None,
        }
    }

    /// Makes `self.sender` a ready connection, dialling again if the origin closed the last.
    async fn ensure_sender(&mut self, proxy: &Proxy) -> Result<(), Refusal> {
        let usable = match self.sender.as_mut() {
            Some(s) => !s.is_closed() && s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            self.sender = Some(self.open(proxy).await?);
        }
        Ok(())
    }

    async fn open(&mut self, proxy: &Proxy) -> Result<Sender, Refusal> {
        let tcp = match self.first.take() {
            Some(s) => s,
            None => {
                let adm = proxy
                    .admit(self.entry, &self.target)
                    .await
                    .map_err(|(r, _)| r)?;
                self.rule = adm.grant.rule;
                adm.stream
            }
        };
        let Some(cfg) = proxy.upstream_tls() else {
            return Err(Refusal::new(
                Reason::UpstreamTlsError,
                "builtin:tls",
                "no upstream TLS configuration",
            ));
        };
        let name = match &self.target.host {
            Host::Name(n) => ServerName::try_from(n.clone()),
            Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        }
        .map_err(|_| Refusal::new(Reason::BadTarget, "builtin:tls", "not a TLS server name"))?;
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                Refusal::new(
                    Reason::UpstreamTlsError,
                    "builtin:upstream_tls",
                    format!("upstream TLS: {}", safe_text(&e.to_string())),
                )
            })?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| {
                Refusal::new(
                    Reason::ConnectFailed,
                    "builtin:upstream",
                    format!("upstream: {}", safe_text(&e.to_string())),
                )
            })?;
        tokio::spawn(async move { drop(driver.await) });
        Ok(sender)
    }

    /// Applies credentials and sends one request; logs one line.
    pub(crate) async fn forward(
        &mut self,
        proxy: &Arc<Proxy>,
        req: Request<Incoming>,
    ) -> Response<RespBody> {
        let start = Instant::now();
        let mut hlog = http_log(&req);
        let (parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut headers = parts.headers;
        let ireq = Req {
            scheme: Scheme::Https,
            target: &self.target,
            method: parts.method.as_str(),
            path_and_query: &path,
        };
        let creds = match inject::apply(&proxy.cfg().creds, &ireq, &mut headers) {
            Ok(c) => c,
            Err((r, creds)) => return self.refuse(proxy, r, hlog, creds),
        };
        strip_hop_by_hop(&mut headers);
        if !creds.is_empty() {
            // An uncompressed answer, so a value echoed in the body can be found and replaced.
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        if let Ok(v) = HeaderValue::from_str(&self.target.host_header(443)) {
            headers.insert(HOST, v);
        }
        let mut up = Request::new(body);
        *up.method_mut() = parts.method;
        *up.uri_mut() = path
            .parse::<Uri>()
            .unwrap_or_else(|_| Uri::from_static("/"));
        *up.version_mut() = Version::HTTP_11;
        *up.headers_mut() = headers;
        if let Err(r) = self.ensure_sender(proxy).await {
            return self.refuse(proxy, r, hlog, creds);
        }
        let Some(sender) = self.sender.as_mut() else {
            let r = Refusal::new(Reason::ConnectFailed, "builtin:upstream", "no upstream");
            return self.refuse(proxy, r, hlog, creds);
        };
        match sender.send_request(up).await {
            Ok(resp) => {
                let (mut parts, body) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                inject::scrub_response(&proxy.cfg().creds, &mut parts.headers);
                hlog.status = Some(parts.status.as_u16());
                self.log(proxy, hlog, creds, start, None);
                let body = ScrubBody::new(body, proxy.cfg().creds.clone());
                Response::from_parts(parts, body.map_err(Into::into).boxed_unsync())
            }
            Err(e) => {
                let r = Refusal::new(
                    Reason::ConnectFailed,
                    "builtin:upstream",
                    format!("upstream: {}", safe_text(&e.to_string())),
                );
                self.refuse(proxy, r, hlog, creds)
            }
        }
    }

    /// Logs a refused request (with its credential actions) and answers it.
    pub(crate) fn refuse(
        &self,
        proxy: &Proxy,
        r: Refusal,
        mut hlog: HttpLog,
        cred: Vec<CredLog>,
    ) -> Response<RespBody> {
        hlog.status = Some(r.reason.status());
        let event = Event {
            ev: "request",
            conn: Some(self.conn.clone()),
            req: Some(proxy.new_id('r')),
            entry: Some(self.entry),
            target: Some(TargetLog::of(&self.target)),
            decision: Some("deny"),
            rule: Some(r.rule.clone()),
            reason: Some(r.reason.as_str()),
            mode: Some(self.mode),
            http: Some(hlog),
            cred,
            error: Some(r.detail.clone()),
            ..Event::default()
        };
        proxy.record(&event, Some((self.target.to_string(), r.reason)));
        if r.reason == Reason::UpstreamTlsError {
            tracing::warn!(target = %self.target, "{}", r.detail);
        }
        refusal_response(&r, Ok(&self.target), "request to")
    }

    fn log(
        &self,
        proxy: &Proxy,
        hlog: HttpLog,
        cred: Vec<CredLog>,
        start: Instant,
        error: Option<String>,
    ) {
        let event = Event {
            ev: "request",
            conn: Some(self.conn.clone()),
            req: Some(proxy.new_id('r')),
            entry: Some(self.entry),
            target: Some(TargetLog::of(&self.target)),
            decision: Some("allow"),
            rule: Some(self.rule.clone()),
            reason: Some(Reason::Ok.as_str()),
            mode: Some(self.mode),
            http: Some(hlog),
            cred,
            ms: Some(MsLog {
                total: Some(millis(start.elapsed())),
                ..MsLog::default()
            }),
            error,
            ..Event::default()
        };
        proxy.record(&event, None);
    }
}

pub(crate) fn http_log<B>(req: &Request<B>) -> HttpLog {
    let ver = match req.version() {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/?",
    };
    HttpLog {
        ver,
        method: req.method().as_str().to_string(),
        path: req.uri().path().chars().take(256).collect(),
        status: None,
    }
}

fn safe_text(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(160)
        .collect()
}
