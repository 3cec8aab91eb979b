//! Plain endpoints: `http://127.0.0.1:PORT` inside the sandbox, for tools configured by a base
//! URL. Every request is sent to the credential's bound HTTPS origin (never anywhere else,
//! whatever the request names), with the credential applied; no CA is involved.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use palisade_policy::host::Host;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::decide::Mode;
use crate::target::{Entry, Target};
use crate::tls::upstream::Upstream;
use crate::{Proxy, ProxyError};

impl Proxy {
    /// Ports of the plain endpoints, in policy order; the supervisor listens on 127.0.0.1 at
    /// each inside the sandbox and hands the sockets to [`Proxy::serve_endpoints`].
    pub fn endpoint_ports(&self) -> Vec<u16> {
        self.cfg().creds.endpoint_ports()
    }

    /// Serves each `(port, listener)` until dropped. A port no credential names is an error.
    pub async fn serve_endpoints(
        self: Arc<Self>,
        listeners: Vec<(u16, std::net::TcpListener)>,
    ) -> Result<(), ProxyError> {
        let mut loops = JoinSet::new();
        for (port, l) in listeners {
            let Some(target) = self
                .cfg()
                .creds
                .list
                .iter()
                .find(|c| c.endpoint.as_ref().is_some_and(|(p, _)| *p == port))
                .map(|c| c.bind.target.clone())
            else {
                return Err(ProxyError::Listener(std::io::Error::other(format!(
                    "no credential endpoint on port {port}"
                ))));
            };
            l.set_nonblocking(true).map_err(ProxyError::Listener)?;
            let l = TcpListener::from_std(l).map_err(ProxyError::Listener)?;
            loops.spawn(accept_loop(self.clone(), l, target));
        }
        while loops.join_next().await.is_some() {}
        Ok(())
    }
}

/// The bound target of the endpoint at `127.0.0.1:port`, if there is one.
pub(crate) fn endpoint_target(proxy: &Proxy, target: &Target) -> Option<Target> {
    let loopback = matches!(target.host, Host::Ip(ip) if ip == IpAddr::from([127, 0, 0, 1]));
    if !loopback {
        return None;
    }
    proxy
        .cfg()
        .creds
        .list
        .iter()
        .find(|c| c.endpoint.as_ref().is_some_and(|(p, _)| *p == target.port))
        .map(|c| c.bind.target.clone())
}

/// A request that reached the main port addressed to an endpoint (clients that send even
/// `http://127.0.0.1:PORT` through `HTTP_PROXY`): served as the endpoint would.
pub(crate) async fn forward_one(
    proxy: &Arc<Proxy>,
    conn: &str,
    bound: Target,
    req: Request<Incoming>,
) -> hyper::Response<crate::http::RespBody> {
    let mut up = Upstream::new(conn.to_string(), Entry::Endpoint, bound, Mode::Plain, None);
    up.forward(proxy, req).await
}

async fn accept_loop(proxy: Arc<Proxy>, listener: TcpListener, target: Target) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve(proxy.clone(), stream, target.clone()));
                }
                Err(e) => {
                    tracing::warn!("endpoint accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve(proxy: Arc<Proxy>, stream: TcpStream, target: Target) {
    let _ = stream.set_nodelay(true);
    let conn = proxy.new_id('c');
    let up = Arc::new(Mutex::new(Upstream::new(
        conn,
        Entry::Endpoint,
        target,
        Mode::Plain,
        None,
    )));
    let svc = {
        let (proxy, up) = (proxy.clone(), up.clone());
        service_fn(move |req: Request<Incoming>| {
            let (proxy, up) = (proxy.clone(), up.clone());
            async move {
                let mut up = up.lock().await;
                Ok::<_, Infallible>(up.forward(&proxy, req).await)
            }
        })
    };
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(proxy.cfg().timeouts.header_read)
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}
