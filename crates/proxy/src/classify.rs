//! Address classes. Every resolved address is classified before it may be dialled; only
//! `Public` passes on its own. IPv4-mapped, NAT64 and 6to4 forms are judged by the IPv4
//! address they carry, so `64:ff9b::a9fe:a9fe` is the metadata service, not a public host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AddrClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    /// Cloud instance metadata endpoints: never reachable through an allowed *name*.
    Metadata,
    Cgnat,
    ThisNetwork,
    Reserved,
    Multicast,
    Broadcast,
    Unspecified,
    Documentation,
    Benchmarking,
    IetfProtocol,
    UniqueLocal,
    SiteLocal,
    Nat64Local,
    SixToFour,
    Teredo,
    Ipv4Compatible,
    Discard,
}

impl AddrClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link_local",
            AddrClass::Metadata => "metadata",
            AddrClass::Cgnat => "cgnat",
            AddrClass::ThisNetwork => "this_network",
            AddrClass::Reserved => "reserved",
            AddrClass::Multicast => "multicast",
            AddrClass::Broadcast => "broadcast",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Documentation => "documentation",
            AddrClass::Benchmarking => "benchmarking",
            AddrClass::IetfProtocol => "ietf_protocol",
            AddrClass::UniqueLocal => "unique_local",
            AddrClass::SiteLocal => "site_local",
            AddrClass::Nat64Local => "nat64_local",
            AddrClass::SixToFour => "6to4",
            AddrClass::Teredo => "teredo",
            AddrClass::Ipv4Compatible => "ipv4_compatible",
            AddrClass::Discard => "discard",
        }
    }

    /// Classes no rule can open for a resolved name: dialling them is either meaningless or
    /// the classic SSRF prize.
    pub fn never_dialled(self) -> bool {
        matches!(
            self,
            AddrClass::Metadata
                | AddrClass::Multicast
                | AddrClass::Broadcast
                | AddrClass::Unspecified
                | AddrClass::ThisNetwork
        )
    }
}

/// Folds IPv4-mapped IPv6 (`::ffff:a.b.c.d`) into IPv4, which is what the kernel dials.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

pub fn classify(ip: IpAddr) -> AddrClass {
    match canonical(ip) {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn in4(a: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(a) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn classify_v4(a: Ipv4Addr) -> AddrClass {
    const METADATA: [[u8; 4]; 3] = [
        [169, 254, 169, 254],
        [169, 254, 170, 2],
        [100, 100, 100, 200],
    ];
    let table: [([u8; 4], u32, AddrClass); 16] = [
        ([0, 0, 0, 0], 8, AddrClass::ThisNetwork),
        ([10, 0, 0, 0], 8, AddrClass::Private),
        ([100, 64, 0, 0], 10, AddrClass::Cgnat),
        ([127, 0, 0, 0], 8, AddrClass::Loopback),
        ([169, 254, 0, 0], 16, AddrClass::LinkLocal),
        ([172, 16, 0, 0], 12, AddrClass::Private),
        ([192, 0, 0, 0], 24, AddrClass::IetfProtocol),
        ([192, 0, 2, 0], 24, AddrClass::Documentation),
        ([192, 88, 99, 0], 24, AddrClass::Reserved),
        ([192, 168, 0, 0], 16, AddrClass::Private),
        ([198, 18, 0, 0], 15, AddrClass::Benchmarking),
        ([198, 51, 100, 0], 24, AddrClass::Documentation),
        ([203, 0, 113, 0], 24, AddrClass::Documentation),
        ([224, 0, 0, 0], 4, AddrClass::Multicast),
        ([255, 255, 255, 255], 32, AddrClass::Broadcast),
        ([240, 0, 0, 0], 4, AddrClass::Reserved),
    ];
    if METADATA.contains(&a.octets()) {
        return AddrClass::Metadata;
    }
    if a.is_unspecified() {
        return AddrClass::Unspecified;
    }
    table
        .iter()
        .find(|(net, prefix, _)| in4(a, *net, *prefix))
        .map_or(AddrClass::Public, |(_, _, class)| *class)
}

fn in6(a: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(a) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v6(a: Ipv6Addr) -> AddrClass {
    if a.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if a.is_loopback() {
        return AddrClass::Loopback;
    }
    let seg = a.segments();
    let bits = u128::from(a);
    // NAT64 well-known prefix: the last 32 bits are the IPv4 destination.
    if in6(a, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return classify_v4(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    // 6to4: bits 16..48 are the IPv4 address of the relay-side host.
    if in6(a, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return match classify_v4(v4) {
            AddrClass::Public => AddrClass::SixToFour,
            inner => inner,
        };
    }
    // Deprecated IPv4-compatible form `::a.b.c.d`.
    if seg[..6].iter().all(|s| *s == 0) {
        return AddrClass::Ipv4Compatible;
    }
    if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return AddrClass::Metadata;
    }
    let table: [([u16; 8], u32, AddrClass); 13] = [
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, AddrClass::Nat64Local),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, AddrClass::Discard),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, AddrClass::Teredo),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, AddrClass::Benchmarking),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            AddrClass::Documentation,
        ),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, AddrClass::IetfProtocol),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, AddrClass::Documentation),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, AddrClass::Reserved),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, AddrClass::UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, AddrClass::LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, AddrClass::SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, AddrClass::Multicast),
        // Only 2000::/3 is allocated global unicast; everything else is reserved.
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, AddrClass::Public),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| in6(a, *net, *prefix))
        .map_or(AddrClass::Reserved, |(_, _, class)| *class)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn table_of_address_classes() {
        let cases = [
            ("93.184.216.34", AddrClass::Public),
            ("8.8.8.8", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.255.254", AddrClass::Loopback),
            ("10.1.2.3", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("169.254.169.254", AddrClass::Metadata),
            ("169.254.170.2", AddrClass::Metadata),
            ("100.100.100.200", AddrClass::Metadata),
            ("169.254.1.1", AddrClass::LinkLocal),
            ("100.64.0.0", AddrClass::Cgnat),
            ("100.127.255.255", AddrClass::Cgnat),
            ("100.128.0.0", AddrClass::Public),
            ("100.63.255.255", AddrClass::Public),
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::ThisNetwork),
            ("240.0.0.1", AddrClass::Reserved),
            ("255.255.255.255", AddrClass::Broadcast),
            ("224.0.0.1", AddrClass::Multicast),
            ("192.0.0.8", AddrClass::IetfProtocol),
            ("192.0.2.77", AddrClass::Documentation),
            ("198.18.0.1", AddrClass::Benchmarking),
            ("::", AddrClass::Unspecified),
            ("::1", AddrClass::Loopback),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("::ffff:93.184.216.34", AddrClass::Public),
            ("::127.0.0.1", AddrClass::Ipv4Compatible),
            ("64:ff9b::a9fe:a9fe", AddrClass::Metadata),
            ("64:ff9b::7f00:1", AddrClass::Loopback),
            ("64:ff9b::5db8:d822", AddrClass::Public),
            ("64:ff9b:1::1", AddrClass::Nat64Local),
            ("2002:a9fe:a9fe::1", AddrClass::Metadata),
            ("2002:0a00:0001::1", AddrClass::Private),
            ("2002:5db8:d822::1", AddrClass::SixToFour),
            ("2001::1", AddrClass::Teredo),
            ("2001:db8::1", AddrClass::Documentation),
            ("2001:2::1", AddrClass::Benchmarking),
            ("2001:4860:4860::8888", AddrClass::Public),
            ("2606:4700::1111", AddrClass::Public),
            ("fc00::1", AddrClass::UniqueLocal),
            ("fd12:3456::1", AddrClass::UniqueLocal),
            ("fd00:ec2::254", AddrClass::Metadata),
            ("fe80::1", AddrClass::LinkLocal),
            ("fec0::1", AddrClass::SiteLocal),
            ("ff02::1", AddrClass::Multicast),
            ("100::1", AddrClass::Discard),
            ("4000::1", AddrClass::Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(classify(ip.parse().unwrap()), want, "{ip}");
        }
    }
}
