use super::*;

#[test]
fn normalize_folds_case_one_trailing_dot_and_unicode() {
    let cases = [
        ("EVIL.com", "evil.com"),
        ("evil.com.", "evil.com"),
        ("evil\u{3002}com", "evil.com"),
        ("\u{ff25}\u{ff36}\u{ff29}\u{ff2c}.com", "evil.com"),
        ("exa\u{200b}mple.com", "example.com"),
        ("B\u{fc}cher.DE", "xn--bcher-kva.de"),
        ("_dmarc.example.org", "_dmarc.example.org"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize_name(raw).as_deref(), Ok(want), "{raw:?}");
        // N() is idempotent: a normalised name normalises to itself.
        assert_eq!(normalize_name(want).as_deref(), Ok(want), "{want:?}");
    }
}

#[test]
fn normalize_rejects_malformed_names() {
    let cases = [
        ("", HostError::Empty),
        (".", HostError::Empty),
        ("evil.com..", HostError::EmptyLabel),
        ("a..example.org", HostError::EmptyLabel),
        (".example.org", HostError::EmptyLabel),
        ("evil%E3%80%82com", HostError::BadChar),
        ("ex ample.com", HostError::BadChar),
        ("evil.com\0.allowed.com", HostError::BadChar),
        ("allowed.com@evil.com", HostError::BadChar),
        ("evil.com\\", HostError::BadChar),
        ("evil.com\t", HostError::BadChar),
        ("evil.com:443", HostError::BadChar),
        ("ex ample\u{e9}.com", HostError::BadChar),
        ("2130706433", HostError::NumericName),
        ("0x7f.1", HostError::NumericName),
        ("127.1", HostError::NumericName),
        ("0127.0.0.1", HostError::NumericName),
        ("169.254.169.254.", HostError::NumericName),
        ("-a.com", HostError::Hyphen),
        ("a-.com", HostError::Hyphen),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize_name(raw), Err(want.clone()), "{raw:?}");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    assert_eq!(normalize_name(&long_label), Err(HostError::TooLong));
    let long_name = vec!["a".repeat(60); 5].join(".");
    assert_eq!(normalize_name(&long_name), Err(HostError::TooLong));
}

#[test]
fn parse_host_reads_literals_strictly() {
    let v4 = |s: &str| Host::Ip(s.parse().unwrap());
    assert_eq!(parse_host("127.0.0.1"), Ok(v4("127.0.0.1")));
    assert_eq!(parse_host("[::1]"), Ok(v4("::1")));
    assert_eq!(parse_host("[::ffff:127.0.0.1]"), Ok(v4("127.0.0.1")));
    assert_eq!(parse_host("[fe80::1%25eth0]"), Err(HostError::BadIpv6));
    assert_eq!(parse_host("[fe80::1%eth0]"), Err(HostError::BadIpv6));
    assert_eq!(parse_host("[evil.com]"), Err(HostError::BadIpv6));
    assert_eq!(parse_host("[::1"), Err(HostError::BadIpv6));
    assert_eq!(parse_host("::1"), Err(HostError::BadChar));
    assert_eq!(
        parse_host("Api.Example.org"),
        Ok(Host::Name("api.example.org".into()))
    );
}

#[test]
fn ports_are_strict() {
    assert_eq!(parse_port("443"), Some(443));
    assert_eq!(parse_port("65535"), Some(65535));
    for bad in [
        "", "0", "0443", "+443", "-1", "65536", "123456", "44 3", "4a",
    ] {
        assert_eq!(parse_port(bad), None, "{bad:?}");
    }
}

fn pat(s: &str) -> HostPattern {
    HostPattern::parse(s).unwrap()
}

fn name(s: &str) -> Host {
    Host::Name(s.to_string())
}

#[test]
fn patterns_parse_and_print_normalised() {
    assert_eq!(pat("API.GitHub.com.").to_string(), "api.github.com");
    assert_eq!(pat("*.Example.org:8443").to_string(), "*.example.org:8443");
    assert_eq!(pat("localhost:8765").to_string(), "localhost:8765");
    assert_eq!(pat("127.0.0.1:8765").to_string(), "127.0.0.1:8765");
    assert_eq!(pat("[::1]:8080").to_string(), "[::1]:8080");
    assert_eq!(pat("::1").to_string(), "[::1]");
    assert_eq!(pat("[::ffff:10.0.0.1]").to_string(), "10.0.0.1");
}

#[test]
fn bad_patterns_are_load_errors() {
    let bad = [
        "",
        "*",
        "*.com",
        "*.co.uk",
        "*.github.io",
        "*.s3.amazonaws.com",
        "example.*",
        "api.*.example.com",
        "*example.com",
        "example.com:0",
        "example.com:+443",
        "example.com:",
        "ex ample.com",
        "2130706433",
        "[::1]x",
        "[fe80::1%eth0]:80",
        "user@example.com",
    ];
    for b in bad {
        assert!(validate_pattern(b).is_err(), "{b:?} should be refused");
    }
    let msg = validate_pattern("*.github.io").unwrap_err();
    assert!(msg.contains("public suffix"), "{msg}");
}

#[test]
fn wildcard_matches_subdomains_on_label_boundaries_only() {
    let p = pat("*.github.com");
    assert!(p.matches_host(&name("api.github.com")));
    assert!(p.matches_host(&name("a.b.github.com")));
    assert!(!p.matches_host(&name("github.com")));
    assert!(!p.matches_host(&name("evilgithub.com")));
    assert!(!p.matches_host(&name("github.com.evil.net")));
    assert!(!p.matches_host(&Host::Ip("140.82.112.6".parse().unwrap())));
    let e = pat("github.com");
    assert!(e.matches_host(&name("github.com")));
    assert!(!e.matches_host(&name("api.github.com")));
}

#[test]
fn ip_patterns_match_only_the_same_literal() {
    let p = pat("127.0.0.1:8765");
    assert!(p.matches_host(&Host::Ip("127.0.0.1".parse().unwrap())));
    assert!(!p.matches_host(&Host::Ip("127.0.0.2".parse().unwrap())));
    assert!(!p.matches_host(&name("localhost")));
    assert_eq!(p.port, Some(8765));
}
