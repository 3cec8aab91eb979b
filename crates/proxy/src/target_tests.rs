use super::*;

fn name(h: &str, port: u16) -> Target {
    Target {
        host: Host::Name(h.into()),
        port,
    }
}

#[test]
fn authority_form_is_strict() {
    assert_eq!(
        parse_authority("Api.Example.org.:443", None),
        Ok(name("api.example.org", 443))
    );
    assert_eq!(
        parse_authority("[::ffff:127.0.0.1]:22", None).map(|t| t.to_string()),
        Ok("127.0.0.1:22".to_string())
    );
    assert_eq!(
        parse_authority("[::1]:8080", None).map(|t| t.to_string()),
        Ok("[::1]:8080".to_string())
    );
    let bad = [
        "allowed.com",
        "allowed.com:",
        "allowed.com:+443",
        "allowed.com:0443",
        "allowed.com:65536",
        "allowed.com@evil.com:443",
        "::1:22",
        "[::1]22",
        "[fe80::1%25eth0]:80",
        "evil%E3%80%82com:443",
        "a..example.org:443",
        "2130706433:80",
        "0x7f.1:443",
        "evil.com:80#.allowed.com",
        "[evil.com]:80",
        "evil.com\t:80",
    ];
    for b in bad {
        assert!(parse_authority(b, None).is_err(), "{b:?} accepted");
    }
    assert_eq!(
        parse_authority("example.org", Some(80)),
        Ok(name("example.org", 80))
    );
}

#[test]
fn connect_and_absolute_forms() {
    let uri = |s: &str| s.parse::<http::Uri>().unwrap();
    assert_eq!(
        parse_connect(&uri("example.org:443")),
        Ok(name("example.org", 443))
    );
    assert!(parse_connect(&uri("http://example.org:443/")).is_err());
    assert_eq!(
        parse_absolute(&uri("http://Example.org/a?b")),
        Ok(name("example.org", 80))
    );
    assert_eq!(
        parse_absolute(&uri("http://example.org:8080/")),
        Ok(name("example.org", 8080))
    );
    assert!(parse_absolute(&uri("/just/a/path")).is_err());
    assert!(parse_absolute(&uri("https://example.org/")).is_err());
    assert!(parse_absolute(&uri("http://allowed.com@evil.com/")).is_err());
}

#[test]
fn socks_targets_share_the_host_parser() {
    assert_eq!(
        parse_socks(SocksAddr::Domain(b"EVIL.com."), 443),
        Ok(name("evil.com", 443))
    );
    let t = parse_socks(SocksAddr::Domain(b"10.0.0.1"), 80).unwrap();
    assert_eq!(t.kind(), "ip");
    assert!(parse_socks(SocksAddr::Domain(b"evil.com\0.ok.com"), 80).is_err());
    assert!(parse_socks(SocksAddr::Domain(b"ok.com"), 0).is_err());
    assert!(parse_socks(SocksAddr::Domain(&[0xff, 0xfe]), 80).is_err());
    let mapped = parse_socks(SocksAddr::Ip("::ffff:10.1.2.3".parse().unwrap()), 80).unwrap();
    assert_eq!(mapped.to_string(), "10.1.2.3:80");
}

#[test]
fn raw_targets_are_escaped_and_userinfo_hidden() {
    assert_eq!(escape_raw(b"evil.com\0.ok:80"), "evil.com\\x00.ok:80");
    assert_eq!(escape_raw(b"user:secret@host:1"), "[userinfo]@host:1");
    assert_eq!(escape_raw(b"a\"b\\c d"), "a\\\"b\\\\c\\x20d");
    assert!(escape_raw(&[b'a'; 1000]).len() <= 260);
}
