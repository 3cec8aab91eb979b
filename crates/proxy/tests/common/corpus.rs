//! The pitfall table of research/proxy.md §3 used by `tests/conformance.rs`: raw target
//! hosts and ports, the reason code every entry path must log, and what DNS and the dialler
//! may see.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Path {
    Http,
    Connect,
    Socks,
}

pub const ALL: &[Path] = &[Path::Http, Path::Connect, Path::Socks];
pub const TUNNELS: &[Path] = &[Path::Connect, Path::Socks];

pub struct Case {
    pub name: &'static str,
    pub host: &'static [u8],
    /// Port text as it appears in an authority; `""` means no port.
    pub port: &'static str,
    pub want: &'static str,
    /// The HTTP request line cannot carry these host bytes at all: hyper refuses the request
    /// before a target exists, so both HTTP paths log `bad_request` (SOCKS sees `want`).
    pub http_unparseable: bool,
    pub resolves: bool,
    pub dials: &'static [&'static str],
    pub paths: &'static [Path],
}

pub const fn case(
    name: &'static str,
    host: &'static [u8],
    port: &'static str,
    want: &'static str,
) -> Case {
    Case {
        name,
        host,
        port,
        want,
        http_unparseable: false,
        resolves: false,
        dials: &[],
        paths: ALL,
    }
}

impl Case {
    pub const fn resolves(mut self) -> Self {
        self.resolves = true;
        self
    }
    pub const fn dials(mut self, d: &'static [&'static str]) -> Self {
        self.dials = d;
        self
    }
    pub const fn unparseable_in_http(mut self) -> Self {
        self.http_unparseable = true;
        self
    }
    pub const fn only(mut self, p: &'static [Path]) -> Self {
        self.paths = p;
        self
    }
}

/// The proxy's own port, substituted for `PPORT` in the table.
pub const PPORT: &str = "PPORT";

pub fn corpus() -> Vec<Case> {
    vec![
        case("exact allow", b"allowed.test", "80", "ok")
            .resolves()
            .dials(&["93.184.216.34:80"]),
        case(
            "P1 trailing dot on a denied name",
            b"evil.test.",
            "80",
            "deny_rule",
        ),
        case("P1 upper case", b"EVIL.TEST", "80", "deny_rule"),
        // The `http` crate refuses `%` in an authority, so hyper answers 400 first.
        case(
            "P1 percent-encoded full stop",
            b"evil%E3%80%82test",
            "80",
            "bad_target",
        )
        .unparseable_in_http(),
        case("P1 empty label", b"a..wild.test", "80", "bad_target"),
        case(
            "P1 ideographic full stop",
            "evil\u{3002}test".as_bytes(),
            "80",
            "deny_rule",
        )
        .unparseable_in_http(),
        case(
            "P1 fullwidth letters",
            "\u{ff25}\u{ff36}\u{ff29}\u{ff2c}.test".as_bytes(),
            "80",
            "deny_rule",
        )
        .unparseable_in_http(),
        case(
            "P1 zero-width space",
            "ev\u{200b}il.test".as_bytes(),
            "80",
            "deny_rule",
        )
        .unparseable_in_http(),
        case("P2 subdomain of a wildcard", b"api.wild.test", "80", "ok")
            .resolves()
            .dials(&["93.184.216.35:80"]),
        case(
            "P2 wildcard never matches its apex",
            b"wild.test",
            "80",
            "no_rule",
        ),
        case(
            "P2 suffix without a label boundary",
            b"evilwild.test",
            "80",
            "no_rule",
        ),
        case(
            "P2 allowed name as a prefix",
            b"allowed.test.other.test",
            "80",
            "no_rule",
        ),
        case(
            "P2 deny beats a wildcard allow",
            b"blocked.wild.test",
            "80",
            "deny_rule",
        ),
        case(
            "P3 port outside the rule",
            b"allowed.test",
            "8443",
            "port_not_allowed",
        ),
        case("P3 plus sign", b"allowed.test", "+80", "bad_target"),
        case("P3 leading zero", b"allowed.test", "080", "bad_target"),
        case("P3 port zero", b"allowed.test", "0", "bad_target"),
        case("P3 port too large", b"allowed.test", "65536", "bad_target"),
        case(
            "P3 CONNECT without a port",
            b"allowed.test",
            "",
            "bad_target",
        )
        .only(TUNNELS),
        case(
            "P4 metadata literal",
            b"169.254.169.254",
            "80",
            "ip_literal",
        ),
        case("P4 decimal integer", b"2130706433", "80", "bad_target"),
        case("P4 hex short form", b"0x7f.1", "80", "bad_target"),
        case("P4 short dotted", b"127.1", "80", "bad_target"),
        case(
            "P4 mapped IPv6 literal",
            b"[::ffff:127.0.0.1]",
            "80",
            "ip_literal",
        ),
        case("P4 IPv6 loopback literal", b"[::1]", "8080", "ip_literal"),
        case("P4 unspecified", b"0.0.0.0", "80", "ip_literal"),
        case(
            "P4 literal with trailing dot",
            b"169.254.169.254.",
            "80",
            "bad_target",
        ),
        case("P4 zone id", b"[fe80::1%25eth0]", "80", "bad_target"),
        case("P4 literal named by an entry", b"127.0.0.1", "8765", "ok").dials(&["127.0.0.1:8765"]),
        case(
            "P4 named literal, other port",
            b"127.0.0.1",
            "8766",
            "ip_literal",
        ),
        case(
            "allow-cidr never opens a literal",
            b"127.0.0.2",
            "80",
            "ip_literal",
        ),
        case(
            "P19 localhost named with its port",
            b"localhost",
            "8765",
            "ok",
        )
        .dials(&["127.0.0.1:8765"]),
        case(
            "P19 localhost, another port",
            b"localhost",
            "2375",
            "local_target",
        ),
        case(
            "P19 metadata name",
            b"metadata.google.internal",
            "80",
            "local_target",
        ),
        case(
            "P19 name resolving to the proxy itself",
            b"self.test",
            PPORT,
            "non_public_ip",
        )
        .resolves(),
        case("allow-cidr opens an allowed name", b"loop.test", "80", "ok")
            .resolves()
            .dials(&["127.0.0.1:80"]),
        case(
            "P5 rebinding, first answer public",
            b"rebind.test",
            "80",
            "ok",
        )
        .resolves()
        .dials(&["93.184.216.34:80"]),
        case(
            "P5 rebinding, second answer private",
            b"rebind.test",
            "80",
            "non_public_ip",
        )
        .resolves(),
        case(
            "P5 mixed answers dial the public one",
            b"mixed.test",
            "80",
            "ok",
        )
        .resolves()
        .dials(&["93.184.216.34:80"]),
        case(
            "P5 NAT64-embedded metadata",
            b"v6nat64.test",
            "80",
            "non_public_ip",
        )
        .resolves(),
        case(
            "P5 IPv4-mapped private",
            b"v6mapped.test",
            "80",
            "non_public_ip",
        )
        .resolves(),
        case(
            "P5 6to4-embedded metadata",
            b"sixtofour.test",
            "80",
            "non_public_ip",
        )
        .resolves(),
        case("P5 private answer", b"private.test", "80", "non_public_ip").resolves(),
        case("P5 CGNAT answer", b"cgnat.test", "80", "non_public_ip").resolves(),
        case("P5 metadata answer", b"meta.test", "80", "non_public_ip").resolves(),
        case("resolution failure", b"nxdomain.test", "80", "dns_error").resolves(),
        case("P8 userinfo", b"allowed.test@evil.test", "80", "bad_target"),
        case("P8 bracketed name", b"[allowed.test]", "80", "bad_target"),
        case(
            "P8 NUL inside the name",
            b"evil.test\0.allowed.test",
            "80",
            "bad_target",
        )
        .unparseable_in_http(),
        case("P8 tab padding", b"evil.test\t", "80", "bad_target").unparseable_in_http(),
        case(
            "P17 a denied name is never resolved",
            b"c2VjcmV0.exfil.test",
            "443",
            "no_rule",
        ),
        case(
            "deny wins over an allow of the same name",
            b"evil.test",
            "80",
            "deny_rule",
        ),
    ]
}
