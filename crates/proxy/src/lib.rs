//! Palisade's host-side egress proxy: the sandbox's only way out.
//!
//! One listening port serves HTTP absolute-form, HTTP CONNECT and SOCKS5 (first byte `0x05`).
//! Every entry path goes through the same steps in the same order: parse and normalise the
//! target ([`target`]), decide ([`decide::decide`]: built-in denies, deny rules, allow rules),
//! resolve only after an allow and drop non-public addresses ([`resolve`]), dial exactly a
//! checked address, then relay (tunnels, after an SNI check) or forward one request at a time
//! (plain HTTP). Each decision, plain-HTTP request and tunnel close is one JSON line
//! ([`audit`]).
//!
//! Credentials ([`creds`]) are resolved on the host and never enter the sandbox: a tunnel to a
//! bound target is terminated with the run's CA ([`tls`]) and each request inside gets the
//! value (`inject`); plain endpoints (`endpoint`) do the same for tools configured by a base
//! URL. A placeholder or value going anywhere else is refused, and values an origin echoes
//! are replaced in responses (`scrub`).

pub mod audit;
pub mod classify;
pub mod config;
mod connect;
pub mod creds;
pub mod decide;
mod endpoint;
mod env;
mod forward;
mod http;
mod inject;
mod logview;
pub mod placeholder;
mod relay;
pub mod resolve;
mod scrub;
pub mod secret;
pub mod sni;
mod socks;
mod splice;
pub mod target;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

pub use audit::{summary_line, DeniedTarget};
pub use config::{ConfigError, ProxyConfig, TlsTerminate};
pub use creds::{CredError, Credentials};
pub use decide::{Mode, Reason};
pub use env::{proxy_addr_from_env, proxy_connect_stdio, sandbox_env, ConnectError};
pub use logview::{print_log, LogError};
pub use resolve::{Connector, Resolver, SystemResolver, TcpConnector};
pub use tls::{ca_env, TlsError, SYSTEM_BUNDLE};

use audit::{Audit, Event, HttpLog, MsLog, ResolvedLog, TargetLog};
use decide::{Grant, Refusal};
use resolve::Resolved;
use target::{BadTarget, Entry, Target};

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot open the audit log {path}: {source}")]
    AuditLog {
        path: String,
        source: std::io::Error,
    },
    #[error("the proxy was given no listener")]
    NoListeners,
    #[error("listener setup failed: {0}")]
    Listener(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("TLS termination needs the system CA bundle {path}: {source}")]
    SystemBundle {
        path: String,
        source: std::io::Error,
    },
}

/// What the sandbox needs for credentials: variables (placeholders, endpoint URLs, CA
/// bundle paths) and generated files (the CA bundle over the system one).
#[derive(Debug, Default)]
pub struct SandboxAdditions {
    pub env: Vec<(String, String)>,
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// The running proxy's shared state. Cheap to share: wrap in `Arc` and serve.
pub struct Proxy {
    cfg: ProxyConfig,
    resolver: Arc<dyn Resolver>,
    connector: Arc<dyn Connector>,
    audit: Audit,
    tunnels: Arc<Semaphore>,
    requests: Arc<Semaphore>,
    own: Mutex<Vec<SocketAddr>>,
    next_id: AtomicU64,
    /// The run's CA, when some tunnel is terminated.
    ca: Option<tls::Ca>,
    /// The upstream TLS client, when credentials or termination are configured.
    upstream_tls: Option<Arc<rustls::ClientConfig>>,
}

/// An allowed target with its upstream connection open.
pub(crate) struct Admitted {
    pub stream: TcpStream,
    pub grant: Grant,
    pub chosen: SocketAddr,
    pub resolved: Resolved,
    pub connect_ms: u64,
}

impl Proxy {
    /// A proxy that resolves with the host's resolver and dials with plain TCP.
    pub fn new(cfg: ProxyConfig) -> Result<Arc<Self>, ProxyError> {
        Self::with_parts(cfg, Arc::new(SystemResolver), Arc::new(TcpConnector))
    }

    /// A proxy with a chosen resolver and dialer (tests fake both).
    pub fn with_parts(
        cfg: ProxyConfig,
        resolver: Arc<dyn Resolver>,
        connector: Arc<dyn Connector>,
    ) -> Result<Arc<Self>, ProxyError> {
        let audit = Audit::open(cfg.audit_log.as_deref(), &cfg.sandbox_id, &cfg.policy_gen)
            .map_err(|source| ProxyError::AuditLog {
                path: cfg
                    .audit_log
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                source,
            })?;
        let ca = match cfg.needs_ca() {
            true => Some(tls::Ca::generate(&cfg.sandbox_id)?),
            false => None,
        };
        let upstream_tls = match ca.is_some() || !cfg.creds.is_empty() {
            true => Some(tls::upstream_config(
                Path::new(SYSTEM_BUNDLE),
                cfg.upstream_extra_ca.as_deref(),
            )?),
            false => None,
        };
        Ok(Arc::new(Proxy {
            ca,
            upstream_tls,
            tunnels: Arc::new(Semaphore::new(cfg.limits.max_tunnels)),
            requests: Arc::new(Semaphore::new(cfg.limits.max_requests)),
            cfg,
            resolver,
            connector,
            audit,
            own: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }))
    }

    /// Accepts on every listener until the returned future is dropped; dropping it also ends
    /// every connection it accepted. One listener is enough (a kernel without IPv6 has only
    /// the IPv4 one).
    pub async fn serve(
        self: Arc<Self>,
        listeners: Vec<std::net::TcpListener>,
    ) -> Result<(), ProxyError> {
        if listeners.is_empty() {
            return Err(ProxyError::NoListeners);
        }
        let mut ready = Vec::new();
        for l in listeners {
            l.set_nonblocking(true).map_err(ProxyError::Listener)?;
            let addr = l.local_addr().map_err(ProxyError::Listener)?;
            self.own
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(addr);
            ready.push(TcpListener::from_std(l).map_err(ProxyError::Listener)?);
        }
        let mut loops = JoinSet::new();
        for l in ready {
            loops.spawn(accept_loop(self.clone(), l));
        }
        while loops.join_next().await.is_some() {}
        Ok(())
    }

    /// The bundle a sandbox trusts: the system roots in `system` plus the run's CA (`None`
    /// when no tunnel is terminated).
    pub fn ca_bundle(&self, system: &Path) -> Result<Option<Vec<u8>>, ProxyError> {
        let Some(ca) = &self.ca else { return Ok(None) };
        let mut bundle = std::fs::read(system).map_err(|source| ProxyError::SystemBundle {
            path: system.display().to_string(),
            source,
        })?;
        if !bundle.ends_with(b"\n") && !bundle.is_empty() {
            bundle.push(b'\n');
        }
        bundle.extend_from_slice(ca.cert_pem().as_bytes());
        Ok(Some(bundle))
    }

    /// The run's CA certificate (PEM), when some tunnel is terminated.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|c| c.cert_pem())
    }

    /// Variables and files for the sandbox: placeholders, endpoint URLs, and (when tunnels
    /// are terminated) the CA bundle bound over [`SYSTEM_BUNDLE`] with the variables the
    /// common runtimes read pointing at it.
    pub fn sandbox_additions(&self) -> Result<SandboxAdditions, ProxyError> {
        let mut add = SandboxAdditions {
            env: self.cfg.creds.sandbox_env(),
            files: Vec::new(),
        };
        if let Some(bundle) = self.ca_bundle(Path::new(SYSTEM_BUNDLE))? {
            add.files.push((PathBuf::from(SYSTEM_BUNDLE), bundle));
            add.env.extend(ca_env(Path::new(SYSTEM_BUNDLE)));
        }
        Ok(add)
    }

    /// The loaded credentials (ids, bindings, placeholders; values stay private).
    pub fn credentials(&self) -> &Credentials {
        &self.cfg.creds
    }

    pub(crate) fn ca(&self) -> Option<&tls::Ca> {
        self.ca.as_ref()
    }

    pub(crate) fn upstream_tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.upstream_tls.clone()
    }

    /// Denied targets so far (target, reason code, count), for the one-line exit summary.
    pub fn denied_summary(&self) -> Vec<DeniedTarget> {
        self.audit.denied()
    }

    pub(crate) fn cfg(&self) -> &ProxyConfig {
        &self.cfg
    }

    pub(crate) fn new_id(&self, prefix: char) -> String {
        format!(
            "{prefix}{:06x}",
            self.next_id.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    pub(crate) fn try_tunnel_permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.tunnels.clone().try_acquire_owned().map_err(|_| {
            Refusal::new(
                Reason::Limit,
                "builtin:max_tunnels",
                "too many open tunnels",
            )
        })
    }

    pub(crate) fn try_request_permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.requests.clone().try_acquire_owned().map_err(|_| {
            Refusal::new(
                Reason::Limit,
                "builtin:max_requests",
                "too many requests in flight",
            )
        })
    }

    /// Decide, resolve, filter, dial: the shared pipeline of every entry path.
    pub(crate) async fn admit(
        &self,
        entry: Entry,
        target: &Target,
    ) -> Result<Admitted, (Refusal, Option<Resolved>)> {
        let grant = decide::decide(&self.cfg, target, entry).map_err(|r| (r, None))?;
        let own = self.own.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let resolved =
            resolve::resolve_checked(&self.cfg, &*self.resolver, &own, target, grant.scope)
                .await
                .map_err(|r| (r, None))?;
        match resolve::dial(&*self.connector, &resolved.addrs, self.cfg.timeouts.connect).await {
            Ok((stream, chosen, connect_ms)) => Ok(Admitted {
                stream,
                grant,
                chosen,
                resolved,
                connect_ms,
            }),
            Err(r) => Err((r, Some(resolved))),
        }
    }

    /// Logs a refusal (one `decision` line) and counts it for the exit summary.
    pub(crate) fn log_refusal(
        &self,
        conn: &str,
        entry: Entry,
        target: Result<&Target, &BadTarget>,
        refusal: &Refusal,
        resolved: Option<&Resolved>,
        http: Option<HttpLog>,
    ) {
        let (tlog, key) = match target {
            Ok(t) => (TargetLog::of(t), t.to_string()),
            Err(bad) => (TargetLog::raw(&bad.raw), bad.raw.clone()),
        };
        let event = Event {
            ev: "decision",
            conn: Some(conn.to_string()),
            entry: Some(entry),
            target: Some(tlog),
            resolved: resolved.map(|r| resolved_log(r, None)),
            decision: Some("deny"),
            rule: Some(refusal.rule.clone()),
            reason: Some(refusal.reason.as_str()),
            http,
            error: Some(refusal.detail.clone()),
            ..Event::default()
        };
        self.audit.record(&event, Some((key, refusal.reason)));
    }

    /// Logs an allowed tunnel's decision line.
    pub(crate) fn log_tunnel_allowed(
        &self,
        conn: &str,
        entry: Entry,
        target: &Target,
        adm: &Admitted,
    ) {
        let event = Event {
            ev: "decision",
            conn: Some(conn.to_string()),
            entry: Some(entry),
            target: Some(TargetLog::of(target)),
            resolved: Some(resolved_log(&adm.resolved, Some(adm.chosen))),
            decision: Some("allow"),
            rule: Some(adm.grant.rule.clone()),
            reason: Some(Reason::Ok.as_str()),
            mode: Some(adm.grant.mode),
            ms: Some(MsLog {
                dns: adm.resolved.dns_ms,
                connect: Some(adm.connect_ms),
                total: None,
            }),
            ..Event::default()
        };
        self.audit.record(&event, None);
    }

    pub(crate) fn record(&self, event: &Event, denied: Option<(String, Reason)>) {
        self.audit.record(event, denied);
    }
}

pub(crate) fn resolved_log(r: &Resolved, chosen: Option<SocketAddr>) -> ResolvedLog {
    ResolvedLog {
        addrs: r.addrs.iter().map(|a| a.ip().to_string()).collect(),
        dropped: r.dropped.clone(),
        chosen: chosen.map(|c| c.to_string()),
    }
}

async fn accept_loop(proxy: Arc<Proxy>, listener: TcpListener) {
    // Connections live in this set: when serve() is dropped, this loop is aborted and the
    // set's drop aborts every connection task with it.
    let mut conns = JoinSet::new();
    let mut failing = false;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    failing = false;
                    conns.spawn(handle_conn(proxy.clone(), stream));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; never give up. One
                    // line per streak of failures: the user's terminal is not a log.
                    if !failing {
                        tracing::warn!("proxy accept failed: {e} (retrying; further failures not shown)");
                        failing = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn handle_conn(proxy: Arc<Proxy>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(proxy.cfg.timeouts.header_read, stream.peek(&mut first));
    match peeked.await {
        Ok(Ok(1)) if first[0] == 0x05 => socks::serve(proxy, stream).await,
        Ok(Ok(1)) => http::serve(proxy, stream).await,
        _ => {}
    }
}
