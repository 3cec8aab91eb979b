//! Small value grammars used by the policy: sizes, durations, CIDRs, `--resolve` entries and
//! environment-variable names.
//!
//! Each parser returns a one-line reason on failure; the caller puts the key or flag and the
//! offending value in front of it.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Parses a size: plain bytes (`4096`) or a whole number with a binary suffix `K`, `M`, `G`,
/// `T` (case-insensitive; `Ki`/`KiB`/`KB` spellings mean the same, K = 1024).
///
/// Decimal (SI) multiples are not offered: `512MB` means 512 MiB, as in cgroup and tmpfs
/// options, so one spelling never means two sizes.
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if number.is_empty() {
        return Err("expected a size such as 4096, 512M or 2G".to_string());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "ki" | "kib" | "kb" => 10,
        "m" | "mi" | "mib" | "mb" => 20,
        "g" | "gi" | "gib" | "gb" => 30,
        "t" | "ti" | "tib" | "tb" => 40,
        _ => return Err(format!("unknown size suffix {suffix:?} (use K, M, G or T)")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| "size out of range".to_string())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| "size out of range".to_string())
}

/// Parses a duration: one or more `NUMBER UNIT` pairs with units `ms`, `s`, `m`, `h`, `d`
/// (`90s`, `10m`, `1h30m`, `500ms`). A bare number counts as seconds, as in timeout(1).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("expected a duration such as 90s, 10m or 1h".to_string());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| "duration out of range".to_string())?;
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err("expected a duration such as 90s, 10m or 1h".to_string());
        }
        let n: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| "duration out of range".to_string())?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let per_unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err("missing unit after a number (use ms, s, m, h or d)".to_string()),
            _ => {
                return Err(format!(
                    "unknown duration unit {unit:?} (use ms, s, m, h or d)"
                ))
            }
        };
        let ms = n
            .checked_mul(per_unit_ms)
            .ok_or_else(|| "duration out of range".to_string())?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// An address range, `ADDR/PREFIX` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `127.0.0.0/8`, `::1/128` (or `[::1]/128`), or a bare address (a one-address
    /// range). Host bits
    /// below the prefix must be zero: `127.0.0.1/8` is refused rather than guessed at.
    pub fn parse(raw: &str) -> Result<Cidr, String> {
        let s = raw.trim();
        let (addr_part, prefix_part) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        // `[::1]/128` is accepted as well, the brackets being how URLs write IPv6.
        let addr_part = addr_part
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr_part);
        let addr: IpAddr = addr_part
            .parse()
            .map_err(|_| "expected ADDR/PREFIX with ADDR an IP address".to_string())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_part {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => p
                .parse::<u8>()
                .map_err(|_| format!("prefix length must be at most {max}"))?,
            Some(_) => return Err("prefix length must be a number".to_string()),
        };
        if prefix > max {
            return Err(format!("prefix length must be at most {max}"));
        }
        let cidr = Cidr { addr, prefix };
        if cidr.network() != addr {
            return Err(format!(
                "host bits set below the prefix; did you mean {}/{prefix}?",
                cidr.network()
            ));
        }
        Ok(cidr)
    }

    /// The first address of the range.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the range. An IPv4 address never matches an IPv6 range or the
    /// reverse; callers that see IPv4-mapped IPv6 addresses canonicalise them first.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_u32(self.prefix);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_u128(self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask_u32(self.prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask_u128(self.prefix)).into()),
        }
    }
}

fn mask_u32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_u128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a `HOST:ADDR` mapping. The host is everything before the first `:` (host names hold
/// no colon), so an IPv6 address may follow bare or in brackets: `db.test:::1`,
/// `db.test:[::1]`. The host is returned as written; the proxy normalises it like any target.
pub fn parse_resolve(raw: &str) -> Result<(String, IpAddr), String> {
    let Some((host, addr)) = raw.split_once(':') else {
        return Err("expected HOST:ADDR".to_string());
    };
    if host.is_empty() {
        return Err("empty host before ':'".to_string());
    }
    let bad_host_char = |c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if host.contains(bad_host_char) || host.starts_with('.') || host.contains("..") {
        return Err(format!("{host:?} is not a host name"));
    }
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address (expected HOST:ADDR)"))?;
    Ok((host.to_string(), ip))
}

/// Checks an environment-variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn validate_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("empty variable name".to_string()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(_) => return Err("a variable name must start with a letter or '_'".to_string()),
    }
    if chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err("a variable name may hold only letters, digits and '_'".to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "units_tests.rs"]
mod tests;
