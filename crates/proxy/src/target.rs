//! Request targets: parsed strictly from the request-target (CONNECT authority, absolute URI,
//! SOCKS5 DST), never from `Host`, and normalised with the policy crate's one `N()`.

use std::fmt;
use std::net::IpAddr;

use palisade_policy::host::{parse_host, parse_port, Host, HostError};

/// Which door a connection came in by. One decision function serves all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entry {
    Http,
    Connect,
    Socks5,
    /// A credential's plain endpoint inside the sandbox.
    Endpoint,
}

impl Entry {
    pub fn as_str(self) -> &'static str {
        match self {
            Entry::Http => "http",
            Entry::Connect => "connect",
            Entry::Socks5 => "socks5",
            Entry::Endpoint => "endpoint",
        }
    }
}

/// A normalised destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self.host {
            Host::Name(_) => "name",
            Host::Ip(_) => "ip",
        }
    }

    /// The `Host` header value for an HTTP request to this target.
    pub fn host_header(&self, default_port: u16) -> String {
        if self.port == default_port {
            self.host.to_string()
        } else {
            self.to_string()
        }
    }
}

/// A target that could not be parsed. `raw` is escaped and safe to log or echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget {
    pub raw: String,
    pub why: String,
}

impl BadTarget {
    fn new(raw: &[u8], why: impl Into<String>) -> Self {
        BadTarget {
            raw: escape_raw(raw),
            why: why.into(),
        }
    }
}

fn host_err(raw: &[u8], e: HostError) -> BadTarget {
    BadTarget::new(raw, e.to_string())
}

/// Splits `host:port` / `[v6]:port`; the port part is `None` when absent.
fn split_authority(raw: &str) -> Result<(&str, Option<&str>), &'static str> {
    if raw.starts_with('[') {
        let end = raw.find(']').ok_or("unclosed `[`")?;
        let (host, rest) = raw.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err("junk after `]`"),
        };
    }
    match raw.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => Err("IPv6 literal without brackets"),
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((raw, None)),
    }
}

/// Parses `host:port`. `default_port` is used when the port is absent; `None` makes the port
/// mandatory (CONNECT). Userinfo, paths and any byte outside a DNS name are refused.
pub fn parse_authority(raw: &str, default_port: Option<u16>) -> Result<Target, BadTarget> {
    let b = raw.as_bytes();
    if raw.contains('@') {
        return Err(BadTarget::new(b, "userinfo (`@`) in the target"));
    }
    let (host, port) = split_authority(raw).map_err(|e| BadTarget::new(b, e))?;
    let port = match (port, default_port) {
        (Some(p), _) => parse_port(p).ok_or_else(|| BadTarget::new(b, "invalid port"))?,
        (None, Some(d)) => d,
        (None, None) => return Err(BadTarget::new(b, "port missing")),
    };
    let host = parse_host(host).map_err(|e| host_err(b, e))?;
    Ok(Target { host, port })
}

/// The target of a CONNECT request: authority-form only.
pub fn parse_connect(uri: &http::Uri) -> Result<Target, BadTarget> {
    let shown = uri.to_string();
    match uri.authority() {
        Some(a) if uri.scheme().is_none() && uri.path_and_query().is_none() => {
            parse_authority(a.as_str(), None)
        }
        _ => Err(BadTarget::new(shown.as_bytes(), "CONNECT needs host:port")),
    }
}

/// The target of a plain-HTTP proxy request: absolute-form `http://authority/...` only.
pub fn parse_absolute(uri: &http::Uri) -> Result<Target, BadTarget> {
    let Some(authority) = uri.authority() else {
        return Err(BadTarget::new(
            b"",
            "origin-form request: use an absolute http:// URI",
        ));
    };
    if uri.scheme_str() != Some("http") {
        let scheme = uri.scheme_str().unwrap_or("");
        return Err(BadTarget::new(
            authority.as_str().as_bytes(),
            format!(
                "scheme `{}` (only http:// is proxied; use CONNECT)",
                escape_raw(scheme.as_bytes())
            ),
        ));
    }
    parse_authority(authority.as_str(), Some(80))
}

/// A SOCKS5 DST.ADDR.
pub enum SocksAddr<'a> {
    Ip(IpAddr),
    Domain(&'a [u8]),
}

/// The target of a SOCKS5 CONNECT. A domain goes through the same host parser as an authority
/// (so `1.2.3.4` in a domain field is still an IP literal).
pub fn parse_socks(addr: SocksAddr<'_>, port: u16) -> Result<Target, BadTarget> {
    let host = match addr {
        SocksAddr::Ip(ip) => Host::Ip(match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        }),
        SocksAddr::Domain(raw) => {
            let s = std::str::from_utf8(raw).map_err(|_| BadTarget::new(raw, "not UTF-8"))?;
            parse_host(s).map_err(|e| host_err(raw, e))?
        }
    };
    if port == 0 {
        return Err(BadTarget::new(host.to_string().as_bytes(), "port 0"));
    }
    Ok(Target { host, port })
}

/// Escapes a raw target for logs and refusal bodies: printable ASCII kept, the rest `\xNN`,
/// userinfo replaced (it may hold a password), at most 256 bytes.
pub fn escape_raw(raw: &[u8]) -> String {
    let raw = match raw.iter().rposition(|b| *b == b'@') {
        Some(at) => {
            let mut v = b"[userinfo]".to_vec();
            v.extend_from_slice(&raw[at..]);
            v
        }
        None => raw.to_vec(),
    };
    let mut out = String::new();
    for &b in &raw {
        if out.len() >= 256 {
            out.push_str("...");
            break;
        }
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "target_tests.rs"]
mod tests;
