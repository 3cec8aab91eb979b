//! Host names and host patterns, normalised one way for rules and requests alike.
//!
//! The proxy decides on the *normalised* form of a request's target, and every allow/deny entry
//! goes through the same functions when the policy loads, so a rule and a request can never be
//! compared in two different spellings (`EVIL.com`, `evil.com.`, `evil。com` are one name).
//! The policy loader calls [`validate_pattern`] to reject a bad `network.allow`/`network.deny`
//! entry at load time; the proxy calls [`HostPattern::parse`] and [`parse_host`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a host name or pattern was refused. Every variant is a malformed target for the proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("empty host name")]
    Empty,
    #[error("host name contains a character that is not allowed in a DNS name")]
    BadChar,
    #[error("host name has an empty label (`..`, a leading dot, or more than one trailing dot)")]
    EmptyLabel,
    #[error("a host label is longer than 63 bytes or the name is longer than 253")]
    TooLong,
    #[error("a host label starts or ends with `-`")]
    Hyphen,
    #[error("host name looks numeric but is not a dotted-quad IPv4 address")]
    NumericName,
    #[error("host name is not valid IDNA")]
    Idna,
    #[error("invalid IPv6 literal (zone ids are not accepted)")]
    BadIpv6,
}

/// A request target's host after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A DNS name: lowercase ASCII (IDNA A-labels), no trailing dot.
    Name(String),
    /// An IP literal; IPv4-mapped IPv6 literals are folded into their IPv4 form.
    Ip(IpAddr),
}

impl Host {
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

fn ascii_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// The one normalisation function `N()`: lowercase, one trailing dot stripped, IDNA to ASCII,
/// label and length limits, and no numeric-looking names (`2130706433`, `0x7f.1`, `127.1`
/// resolve to addresses in `getaddrinfo`, so they are never treated as names).
pub fn normalize_name(raw: &str) -> Result<String, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    // ASCII characters outside the DNS set are refused before IDNA sees them, so `%`, `\`,
    // `@`, whitespace and control bytes can never be mapped into something else.
    if raw.bytes().any(|b| b.is_ascii() && !ascii_name_char(b)) {
        return Err(HostError::BadChar);
    }
    let mut name = if raw.is_ascii() {
        raw.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(raw).map_err(|_| HostError::Idna)?
    };
    if name.ends_with('.') {
        name.pop();
    }
    validate_ascii_name(&name)?;
    Ok(name)
}

fn validate_ascii_name(name: &str) -> Result<(), HostError> {
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if !name
        .bytes()
        .all(|b| ascii_name_char(b) && !b.is_ascii_uppercase())
    {
        return Err(HostError::BadChar);
    }
    if name.len() > MAX_NAME {
        return Err(HostError::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(HostError::TooLong);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostError::Hyphen);
        }
    }
    if ends_in_number(name) {
        return Err(HostError::NumericName);
    }
    Ok(())
}

/// The WHATWG URL "ends in a number" test: a last label of only digits, or `0x` + hex digits,
/// makes resolvers read the whole name as an IPv4 address in some base. No TLD looks like that.
fn ends_in_number(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match last.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

/// Parses the host part of an authority: `[v6]`, a strict dotted-quad IPv4 address, or a name
/// (normalised with [`normalize_name`]). IPv4-mapped IPv6 literals become IPv4.
pub fn parse_host(raw: &str) -> Result<Host, HostError> {
    if let Some(inner) = raw.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::BadIpv6)?;
        return parse_ipv6(inner).map(|a| Host::Ip(fold_mapped(a)));
    }
    if let Ok(v4) = raw.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    normalize_name(raw).map(Host::Name)
}

fn parse_ipv6(inner: &str) -> Result<Ipv6Addr, HostError> {
    // Rust's parser already refuses `%zone`, but say so explicitly: a zone id names an
    // interface on the proxy's host, never something a sandbox may choose.
    if inner.contains('%') {
        return Err(HostError::BadIpv6);
    }
    inner.parse::<Ipv6Addr>().map_err(|_| HostError::BadIpv6)
}

fn fold_mapped(a: Ipv6Addr) -> IpAddr {
    match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    }
}

/// Parses a port strictly: 1 to 5 ASCII digits, no sign, no leading zero, 1..=65535.
pub fn parse_port(raw: &str) -> Option<u16> {
    let ok = !raw.is_empty()
        && raw.len() <= 5
        && raw.bytes().all(|b| b.is_ascii_digit())
        && !raw.starts_with('0');
    if !ok {
        return None;
    }
    raw.parse::<u16>().ok().filter(|p| *p != 0)
}

/// The host half of an allow/deny entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternHost {
    /// `a.b.c`: exactly that name.
    Exact(String),
    /// `*.b.c`: one or more labels under `b.c`, never `b.c` itself.
    Subdomains(String),
    /// An IP literal: only a target naming that same literal matches.
    Ip(IpAddr),
}

/// One `network.allow` / `network.deny` entry: a host pattern and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    pub host: PatternHost,
    /// `None` means the default ports (80 and 443) for an allow entry, every port for a deny.
    pub port: Option<u16>,
}

impl HostPattern {
    /// Parses `host`, `*.host`, `1.2.3.4`, `[::1]`, `::1`, each with an optional `:port`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (host, port) = split_pattern(raw)?;
        let port = match port {
            Some(p) => Some(parse_port(p).ok_or_else(|| format!("invalid port `{p}`"))?),
            None => None,
        };
        let host = parse_pattern_host(host)?;
        Ok(HostPattern { host, port })
    }

    /// Whether the host part matches a normalised target host (ports not considered).
    pub fn matches_host(&self, host: &Host) -> bool {
        match (&self.host, host) {
            (PatternHost::Exact(p), Host::Name(n)) => p == n,
            (PatternHost::Subdomains(p), Host::Name(n)) => {
                n.len() > p.len() + 1
                    && n.ends_with(p.as_str())
                    && n.as_bytes()[n.len() - p.len() - 1] == b'.'
            }
            (PatternHost::Ip(p), Host::Ip(a)) => p == a,
            _ => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            PatternHost::Exact(n) => f.write_str(n)?,
            PatternHost::Subdomains(n) => write!(f, "*.{n}")?,
            PatternHost::Ip(a) => write!(f, "{}", Host::Ip(*a))?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

fn split_pattern(raw: &str) -> Result<(&str, Option<&str>), String> {
    if raw.is_empty() {
        return Err("empty host pattern".to_string());
    }
    if raw.starts_with('[') {
        let end = raw.find(']').ok_or("unclosed `[` in IPv6 pattern")?;
        let (host, rest) = raw.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) => Ok((host, Some(p))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{rest}` after `]`")),
        };
    }
    if raw.matches(':').count() > 1 {
        // A bare IPv6 literal; a port needs the bracketed form.
        return Ok((raw, None));
    }
    Ok(match raw.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (raw, None),
    })
}

fn parse_pattern_host(host: &str) -> Result<PatternHost, String> {
    if let Some(suffix) = host.strip_prefix("*.") {
        let name = normalize_name(suffix).map_err(|e| format!("`{host}`: {e}"))?;
        if !name.contains('.') {
            return Err(format!(
                "`{host}`: a wildcard over a whole top-level domain"
            ));
        }
        if is_public_suffix(&name) {
            return Err(format!(
                "`{host}`: `{name}` is a public suffix (anyone can register names under it)"
            ));
        }
        return Ok(PatternHost::Subdomains(name));
    }
    if host.contains('*') {
        return Err(format!(
            "`{host}`: only a leading `*.` wildcard is supported"
        ));
    }
    if host.contains(':') && !host.starts_with('[') {
        return parse_ipv6(host)
            .map(|a| PatternHost::Ip(fold_mapped(a)))
            .map_err(|e| format!("`{host}`: {e}"));
    }
    match parse_host(host).map_err(|e| format!("`{host}`: {e}"))? {
        Host::Name(n) => Ok(PatternHost::Exact(n)),
        Host::Ip(a) => Ok(PatternHost::Ip(a)),
    }
}

fn is_public_suffix(name: &str) -> bool {
    match psl::suffix(name.as_bytes()) {
        Some(s) => s.is_known() && s.as_bytes() == name.as_bytes(),
        None => false,
    }
}

/// Checks one allow/deny entry (`host`, `*.host`, optional `:port`, or an IP literal).
/// Returns a one-line reason on failure.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    HostPattern::parse(pattern).map(|_| ())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "host_tests.rs"]
mod tests;
