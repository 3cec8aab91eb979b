//! Resolution after an allow, address filtering, and the pinned dial.
//!
//! The resolver and the dialer sit behind traits so tests can fake DNS (rebinding, mixed and
//! IPv6-embedded answers) and spy on exactly which address gets dialled. Only the filtered
//! addresses are ever handed to the dialer; nothing downstream sees the name again.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

use palisade_policy::host::Host;
use tokio::net::TcpStream;

use crate::classify::{canonical, classify, AddrClass};
use crate::config::ProxyConfig;
use crate::decide::{Reason, Refusal, Scope};
use crate::target::Target;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Name to addresses. Called only for names an allow rule matched.
pub trait Resolver: Send + Sync {
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The host's resolver (`getaddrinfo` on tokio's blocking pool). Numeric-looking names never
/// get here: the target parser refuses them, so `inet_aton` quirks cannot turn a name into an
/// address that skipped classification.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name, 0)).await?;
            Ok(addrs.map(|sa| sa.ip()).collect())
        })
    }
}

/// Opens the upstream TCP connection to one already-checked address.
pub trait Connector: Send + Sync {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>>;
}

pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }
}

/// The addresses that survived filtering, what was dropped (by class) and how long DNS took.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub addrs: Vec<SocketAddr>,
    pub dropped: BTreeMap<&'static str, u32>,
    pub dns_ms: Option<u64>,
}

/// Finds the addresses an allowed target may be dialled at.
pub async fn resolve_checked(
    cfg: &ProxyConfig,
    resolver: &dyn Resolver,
    own: &[SocketAddr],
    target: &Target,
    scope: Scope,
) -> Result<Resolved, Refusal> {
    let mut out = Resolved::default();
    let answers: Vec<IpAddr> = match (&target.host, scope) {
        (Host::Ip(ip), _) => vec![*ip],
        (Host::Name(_), Scope::Loopback) => {
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        }
        (Host::Name(name), _) => match cfg.resolve.get(name) {
            Some(fixed) => fixed.clone(),
            None => {
                let start = Instant::now();
                let got = tokio::time::timeout(cfg.timeouts.dns, resolver.resolve(name)).await;
                out.dns_ms = Some(millis(start.elapsed()));
                match got {
                    Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
                    Ok(Ok(_)) => return Err(dns_refusal("no addresses")),
                    Ok(Err(e)) => return Err(dns_refusal(&e.to_string())),
                    Err(_) => return Err(dns_refusal("timed out")),
                }
            }
        },
    };
    for ip in answers {
        let ip = canonical(ip);
        let addr = SocketAddr::new(ip, target.port);
        match admit_addr(cfg, own, addr, scope) {
            Ok(()) if !out.addrs.contains(&addr) => out.addrs.push(addr),
            Ok(()) => {}
            Err(class) => *out.dropped.entry(class).or_default() += 1,
        }
    }
    if out.addrs.is_empty() {
        let classes: Vec<&str> = out.dropped.keys().copied().collect();
        return Err(Refusal::new(
            Reason::NonPublicIp,
            "builtin:non_public_ip",
            format!("every address is non-public ({})", classes.join(", ")),
        ));
    }
    Ok(out)
}

fn dns_refusal(why: &str) -> Refusal {
    let why: String = why
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(120)
        .collect();
    Refusal::new(
        Reason::DnsError,
        "builtin:dns",
        format!("resolution failed: {why}"),
    )
}

fn is_own(own: &[SocketAddr], addr: SocketAddr) -> bool {
    own.iter()
        .any(|o| o.port() == addr.port() && (o.ip() == addr.ip() || o.ip().is_unspecified()))
}

/// Whether one resolved address may be dialled; the error is the class it was dropped as.
fn admit_addr(
    cfg: &ProxyConfig,
    own: &[SocketAddr],
    addr: SocketAddr,
    scope: Scope,
) -> Result<(), &'static str> {
    if is_own(own, addr) {
        return Err("self");
    }
    let class = classify(addr.ip());
    let ok = match scope {
        Scope::Literal => !matches!(
            class,
            AddrClass::Unspecified | AddrClass::Multicast | AddrClass::Broadcast
        ),
        Scope::Loopback => class == AddrClass::Loopback,
        Scope::Resolved => {
            class == AddrClass::Public
                || (!class.never_dialled() && cfg.allow_cidr.iter().any(|c| c.contains(addr.ip())))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(class.as_str())
    }
}

/// Dials the checked addresses in order until one answers, within the connect timeout.
pub async fn dial(
    connector: &dyn Connector,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr, u64), Refusal> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("no address");
    for &addr in addrs {
        match tokio::time::timeout_at(deadline, connector.connect(addr)).await {
            Ok(Ok(stream)) => {
                // Small writes (TLS records, SSH packets) should not wait for Nagle.
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr, millis(start.elapsed())));
            }
            Ok(Err(e)) => last = format!("{addr}: {}", e.kind()),
            Err(_) => {
                last = format!("{addr}: timed out");
                break;
            }
        }
    }
    Err(Refusal::new(
        Reason::ConnectFailed,
        "builtin:dial",
        format!("connect failed ({last})"),
    ))
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
