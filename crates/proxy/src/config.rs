//! The proxy's compiled configuration: host patterns, CIDRs, the static resolve map, limits.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use palisade_policy::host::{normalize_name, HostPattern};
use palisade_policy::Policy;

use crate::creds::Credentials;
use crate::target::Target;

/// A policy entry the proxy cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("network.{list} entry `{entry}`: {msg}")]
    Pattern {
        list: &'static str,
        entry: String,
        msg: String,
    },
    #[error("network.allow_cidr entry `{entry}`: {msg}")]
    Cidr { entry: String, msg: String },
    #[error("network.resolve entry `{entry}`: {msg} (expected HOST:ADDR)")]
    Resolve { entry: String, msg: String },
    #[error("network.tls_terminate `{0}`: expected off, as_needed or all")]
    TlsTerminate(String),
}

/// Which CONNECT/SOCKS5 tunnels the proxy terminates (TLS inside, requests one by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsTerminate {
    Off,
    /// Only tunnels to a target a credential is bound to.
    #[default]
    AsNeeded,
    /// Every allowed tunnel whose client speaks TLS.
    All,
}

/// An address range, `addr/prefix` (a bare address is a single-address range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix `{p}` is not 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => prefix_eq(&net.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => prefix_eq(&net.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Timeouts, each bounding one wait on a peer the sandbox controls (or one it picked).
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// From accepting a connection (or the end of the last request) to a complete request head.
    pub header_read: Duration,
    /// Resolving an allowed name.
    pub dns: Duration,
    /// Dialling the checked addresses, all attempts together.
    pub connect: Duration,
    /// A tunnel with no byte in either direction for this long is closed.
    pub tunnel_idle: Duration,
    /// Waiting for the ClientHello on a tunnel whose client speaks TLS (or must).
    pub client_hello: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(30),
            dns: Duration::from_secs(5),
            connect: Duration::from_secs(10),
            tunnel_idle: Duration::from_secs(600),
            client_hello: Duration::from_secs(10),
        }
    }
}

/// Caps on concurrent work, so one sandbox cannot exhaust the supervisor's descriptors.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open CONNECT and SOCKS5 tunnels.
    pub max_tunnels: usize,
    /// Plain-HTTP requests being forwarded at once.
    pub max_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tunnels: 4096,
            max_requests: 1024,
        }
    }
}

/// Everything the proxy needs, compiled from the effective policy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub sandbox_id: String,
    pub allow: Vec<HostPattern>,
    pub deny: Vec<HostPattern>,
    pub allow_cidr: Vec<Cidr>,
    /// Normalised name to addresses, consulted before DNS.
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
    pub audit_log: Option<PathBuf>,
    /// A short hash of the network policy, written on every audit line.
    pub policy_gen: String,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub tls_terminate: TlsTerminate,
    /// A PEM file of extra roots for upstream certificates (on top of the system's).
    pub upstream_extra_ca: Option<PathBuf>,
    /// Resolved credentials; empty until [`Credentials::load`] fills them in.
    pub creds: Arc<Credentials>,
}

impl ProxyConfig {
    /// Is a tunnel to `target` terminated?
    pub fn terminates(&self, target: &Target) -> bool {
        match self.tls_terminate {
            TlsTerminate::Off => false,
            TlsTerminate::AsNeeded => self.creds.binds_tunnel(target),
            TlsTerminate::All => true,
        }
    }

    /// Does any tunnel get terminated (so a CA is needed)?
    pub fn needs_ca(&self) -> bool {
        match self.tls_terminate {
            TlsTerminate::Off => false,
            TlsTerminate::AsNeeded => self
                .creds
                .list
                .iter()
                .any(|c| c.bind.scheme == crate::creds::Scheme::Https),
            TlsTerminate::All => true,
        }
    }
}

impl ProxyConfig {
    /// From the effective policy plus a sandbox id for the log.
    pub fn from_policy(policy: &Policy, sandbox_id: &str) -> Result<Self, ConfigError> {
        let net = &policy.network;
        let patterns = |list: &'static str, entries: &[String]| {
            entries
                .iter()
                .map(|e| {
                    HostPattern::parse(e).map_err(|msg| ConfigError::Pattern {
                        list,
                        entry: e.clone(),
                        msg,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let allow = patterns("allow", &net.allow)?;
        let deny = patterns("deny", &net.deny)?;
        let allow_cidr = net
            .allow_cidr
            .iter()
            .map(|e| {
                Cidr::parse(e).map_err(|msg| ConfigError::Cidr {
                    entry: e.clone(),
                    msg,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut resolve: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for entry in &net.resolve {
            let (name, addr) = parse_resolve(entry)?;
            resolve.entry(name).or_default().push(addr);
        }
        let tls_terminate = match net.tls_terminate.as_deref() {
            None | Some("as_needed") => TlsTerminate::AsNeeded,
            Some("off") => TlsTerminate::Off,
            Some("all") => TlsTerminate::All,
            Some(other) => return Err(ConfigError::TlsTerminate(other.to_string())),
        };
        let fingerprint = serde_json::to_string(net).unwrap_or_default();
        Ok(ProxyConfig {
            sandbox_id: sandbox_id.to_string(),
            allow,
            deny,
            allow_cidr,
            resolve,
            audit_log: net.audit_log.as_ref().map(PathBuf::from),
            policy_gen: format!("{:016x}", fnv1a(fingerprint.as_bytes())),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            tls_terminate,
            upstream_extra_ca: net.upstream_extra_ca.as_ref().map(PathBuf::from),
            creds: Arc::new(Credentials::default()),
        })
    }
}

fn parse_resolve(entry: &str) -> Result<(String, IpAddr), ConfigError> {
    let err = |msg: &str| ConfigError::Resolve {
        entry: entry.to_string(),
        msg: msg.to_string(),
    };
    let (name, addr) = entry.split_once(':').ok_or_else(|| err("no `:`"))?;
    let name = normalize_name(name).map_err(|e| err(&e.to_string()))?;
    let addr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map_err(|_| err("the address is not an IP address"))?;
    Ok((name, addr))
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn cidr_contains_on_bit_boundaries() {
        let c = Cidr::parse("100.64.0.0/10").unwrap();
        assert!(c.contains("100.64.0.1".parse().unwrap()));
        assert!(c.contains("100.127.255.255".parse().unwrap()));
        assert!(!c.contains("100.128.0.0".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert_eq!(one.prefix, 32);
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(Cidr::parse("::/0")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("example.com/8").is_err());
    }

    #[test]
    fn from_policy_compiles_entries_and_names_bad_ones() {
        let mut p = Policy::default();
        p.network.allow = vec!["API.example.org".into(), "*.example.net:8443".into()];
        p.network.allow_cidr = vec!["127.0.0.0/8".into()];
        p.network.resolve = vec!["Foo.Test:127.0.0.1".into(), "foo.test:[::1]".into()];
        let cfg = ProxyConfig::from_policy(&p, "sbx").unwrap();
        assert_eq!(cfg.allow[0].to_string(), "api.example.org");
        assert_eq!(cfg.allow[1].to_string(), "*.example.net:8443");
        assert_eq!(
            cfg.resolve["foo.test"],
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(cfg.policy_gen.len(), 16);

        p.network.deny = vec!["*.com".into()];
        let err = ProxyConfig::from_policy(&p, "sbx").unwrap_err().to_string();
        assert!(err.starts_with("network.deny entry `*.com`"), "{err}");
        p.network.deny.clear();
        p.network.resolve = vec!["foo.test".into()];
        assert!(ProxyConfig::from_policy(&p, "sbx").is_err());
    }
}
