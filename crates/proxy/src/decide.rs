//! The one decision function for every entry path, and the refusal an agent can act on.
//!
//! Order: the target is already parsed and normalised; then built-in denies, deny rules,
//! allow rules. Resolution happens later (in `resolve`) and only after an allow, so a denied
//! name never reaches DNS.

use palisade_policy::host::{Host, HostPattern, PatternHost};

use crate::config::ProxyConfig;
use crate::target::{Entry, Target};

/// Reason codes, a fixed list shared by the audit log, refusal headers and the exit summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Ok,
    BadRequest,
    BadTarget,
    DenyRule,
    NoRule,
    PortNotAllowed,
    IpLiteral,
    LocalTarget,
    NonPublicIp,
    DnsError,
    SniMismatch,
    NotTls,
    EchRefused,
    AuthorityMismatch,
    Limit,
    ConnectFailed,
    /// A credential's placeholder sent where its binding does not reach.
    CredScope,
    /// The upstream's certificate or TLS handshake failed (terminated tunnels, endpoints).
    UpstreamTlsError,
    /// Inside a terminated tunnel, a request named another host than the tunnel's.
    MisdirectedRequest,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::BadRequest => "bad_request",
            Reason::BadTarget => "bad_target",
            Reason::DenyRule => "deny_rule",
            Reason::NoRule => "no_rule",
            Reason::PortNotAllowed => "port_not_allowed",
            Reason::IpLiteral => "ip_literal",
            Reason::LocalTarget => "local_target",
            Reason::NonPublicIp => "non_public_ip",
            Reason::DnsError => "dns_error",
            Reason::SniMismatch => "sni_mismatch",
            Reason::NotTls => "not_tls",
            Reason::EchRefused => "ech_refused",
            Reason::AuthorityMismatch => "authority_mismatch",
            Reason::Limit => "limit",
            Reason::ConnectFailed => "connect_failed",
            Reason::CredScope => "cred_scope",
            Reason::UpstreamTlsError => "upstream_tls_error",
            Reason::MisdirectedRequest => "misdirected_request",
        }
    }

    /// The HTTP status of a refusal with this reason.
    pub fn status(self) -> u16 {
        match self {
            Reason::Ok => 200,
            Reason::BadRequest | Reason::BadTarget => 400,
            Reason::DnsError | Reason::ConnectFailed | Reason::UpstreamTlsError => 502,
            Reason::MisdirectedRequest => 421,
            Reason::Limit => 503,
            _ => 403,
        }
    }

    /// The SOCKS5 reply code of a refusal with this reason (RFC 1928 §6).
    pub fn socks_reply(self) -> u8 {
        match self {
            Reason::Ok => 0x00,
            Reason::DnsError => 0x04,
            Reason::ConnectFailed => 0x05,
            Reason::Limit => 0x01,
            _ => 0x02,
        }
    }
}

/// What the proxy does with an allowed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Opaque byte relay after the SNI check (CONNECT, SOCKS5).
    Splice,
    /// Terminate TLS and handle requests one by one (tunnels carrying a credential, or all
    /// with `tls_terminate = "all"`).
    Mitm,
    /// Plain-HTTP forwarding, one decision per request.
    Plain,
}

/// Which resolved addresses an allow may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Public addresses, plus non-public ones inside `allow_cidr`.
    Resolved,
    /// `localhost` named by an allow entry: loopback addresses, without DNS.
    Loopback,
    /// An IP literal named by an allow entry: exactly that address.
    Literal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `allow:<pattern>`.
    pub rule: String,
    pub mode: Mode,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    /// `deny:<pattern>`, `allow:<pattern>` or `builtin:<name>`.
    pub rule: String,
    /// A short, safe-to-echo explanation (already escaped).
    pub detail: String,
}

impl Refusal {
    pub fn new(reason: Reason, rule: impl Into<String>, detail: impl Into<String>) -> Self {
        Refusal {
            reason,
            rule: rule.into(),
            detail: detail.into(),
        }
    }
}

/// Names that mean "this machine" or a private zone: refused unless an allow entry names them
/// exactly (a wildcard never opens them).
pub fn is_local_name(name: &str) -> bool {
    const EXACT: [&str; 4] = ["localhost", "metadata", "instance-data", "home.arpa"];
    const SUFFIX: [&str; 4] = [".localhost", ".local", ".internal", ".home.arpa"];
    EXACT.contains(&name) || SUFFIX.iter().any(|s| name.ends_with(s))
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

fn allow_port_ok(p: &HostPattern, port: u16) -> bool {
    p.port
        .map_or(port == 80 || port == 443, |want| want == port)
}

fn names_exactly(p: &HostPattern, host: &Host) -> bool {
    matches!(p.host, PatternHost::Exact(_) | PatternHost::Ip(_)) && p.matches_host(host)
}

/// Decides a target for an entry path. Pure: no I/O, no resolution.
pub fn decide(cfg: &ProxyConfig, target: &Target, entry: Entry) -> Result<Grant, Refusal> {
    let explicit = cfg
        .allow
        .iter()
        .any(|p| names_exactly(p, &target.host) && allow_port_ok(p, target.port));
    match &target.host {
        Host::Ip(_) if !explicit => {
            return Err(Refusal::new(
                Reason::IpLiteral,
                "builtin:ip_literal",
                "IP-literal targets are allowed only by an entry naming that address",
            ));
        }
        Host::Name(n) if is_local_name(n) && !explicit => {
            return Err(Refusal::new(
                Reason::LocalTarget,
                "builtin:local_name",
                "local and internal names are allowed only by an entry naming them exactly",
            ));
        }
        _ => {}
    }
    if let Some(d) = cfg
        .deny
        .iter()
        .find(|d| d.matches_host(&target.host) && d.port.unwrap_or(target.port) == target.port)
    {
        return Err(Refusal::new(
            Reason::DenyRule,
            format!("deny:{d}"),
            format!("it matches the deny entry `{d}`"),
        ));
    }
    let host_matches: Vec<&HostPattern> = cfg
        .allow
        .iter()
        .filter(|p| p.matches_host(&target.host))
        .collect();
    let Some(first) = host_matches.first() else {
        return Err(Refusal::new(
            Reason::NoRule,
            "builtin:default",
            "no allow entry matches",
        ));
    };
    let mut port_ok: Vec<&&HostPattern> = host_matches
        .iter()
        .filter(|p| allow_port_ok(p, target.port))
        .collect();
    // The most specific entry names the rule: an exact entry before a wildcard.
    port_ok.sort_by_key(|p| matches!(p.host, PatternHost::Subdomains(_)));
    let Some(rule) = port_ok.first() else {
        return Err(Refusal::new(
            Reason::PortNotAllowed,
            format!("allow:{first}"),
            format!("`{first}` allows {}", allowed_ports(first)),
        ));
    };
    let scope = match &target.host {
        Host::Ip(_) => Scope::Literal,
        Host::Name(n) if explicit && is_loopback_name(n) => Scope::Loopback,
        Host::Name(_) => Scope::Resolved,
    };
    let mode = match entry {
        Entry::Http | Entry::Endpoint => Mode::Plain,
        Entry::Connect | Entry::Socks5 if cfg.terminates(target) => Mode::Mitm,
        Entry::Connect | Entry::Socks5 => Mode::Splice,
    };
    Ok(Grant {
        rule: format!("allow:{rule}"),
        mode,
        scope,
    })
}

fn allowed_ports(p: &HostPattern) -> String {
    match p.port {
        Some(port) => format!("port {port} only"),
        None => "ports 80 and 443 only".to_string(),
    }
}

/// What the agent can do about a refusal: the flag (or policy line) that would allow it.
pub fn remedy(reason: Reason, target: Option<&Target>) -> String {
    let flag = |t: &Target| format!("to allow it: --allow-domain {t} (network.allow)");
    match (reason, target) {
        (
            Reason::NoRule | Reason::PortNotAllowed | Reason::IpLiteral | Reason::LocalTarget,
            Some(t),
        ) => flag(t),
        (Reason::DenyRule, _) => "remove the matching network.deny entry to allow it".into(),
        (Reason::NonPublicIp, _) => {
            "to allow it: --allow-cidr CIDR covering the address (network.allow_cidr)".into()
        }
        (Reason::DnsError | Reason::ConnectFailed, _) => "check the name and the server".into(),
        (Reason::Limit, _) => "too many connections at once; retry later".into(),
        (Reason::AuthorityMismatch, _) => {
            "send the request with a Host header naming the URI's host".into()
        }
        (Reason::SniMismatch | Reason::EchRefused, _) => {
            "the TLS server name must be the CONNECT host".into()
        }
        (Reason::NotTls, _) => "this port carries TLS only".into(),
        (Reason::CredScope, _) => {
            "a credential placeholder goes only to its bound host; remove it from this request"
                .into()
        }
        (Reason::MisdirectedRequest, _) => {
            "open a separate tunnel (CONNECT) for each host; the Host header must name the \
             tunnel's host"
                .into()
        }
        _ => "fix the request".into(),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "decide_tests.rs"]
mod tests;
