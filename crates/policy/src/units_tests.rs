use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;

#[test]
fn sizes_use_binary_multiples() {
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("1024k"), Ok(1024 * 1024));
    assert_eq!(parse_size("512M"), Ok(512 << 20));
    assert_eq!(parse_size("512MiB"), Ok(512 << 20));
    assert_eq!(parse_size("512mb"), Ok(512 << 20));
    assert_eq!(parse_size("2G"), Ok(2 << 30));
    assert_eq!(parse_size("1T"), Ok(1 << 40));
    assert_eq!(parse_size("0"), Ok(0));
}

#[test]
fn bad_sizes_say_why() {
    assert_eq!(
        parse_size("12X"),
        Err("unknown size suffix \"X\" (use K, M, G or T)".into())
    );
    assert_eq!(
        parse_size("1.5G"),
        Err("unknown size suffix \".5G\" (use K, M, G or T)".into())
    );
    assert_eq!(
        parse_size(""),
        Err("expected a size such as 4096, 512M or 2G".into())
    );
    assert_eq!(
        parse_size("-1"),
        Err("expected a size such as 4096, 512M or 2G".into())
    );
    assert_eq!(
        parse_size("M"),
        Err("expected a size such as 4096, 512M or 2G".into())
    );
    assert_eq!(parse_size("17179869184G"), Err("size out of range".into()));
    assert_eq!(
        parse_size("99999999999999999999"),
        Err("size out of range".into())
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
}

#[test]
fn bad_durations_say_why() {
    let unit = "unknown duration unit \"x\" (use ms, s, m, h or d)";
    assert_eq!(parse_duration("10x"), Err(unit.into()));
    assert_eq!(
        parse_duration("1h30"),
        Err("missing unit after a number (use ms, s, m, h or d)".into())
    );
    assert_eq!(
        parse_duration(""),
        Err("expected a duration such as 90s, 10m or 1h".into())
    );
    assert_eq!(
        parse_duration("s"),
        Err("expected a duration such as 90s, 10m or 1h".into())
    );
    assert_eq!(
        parse_duration("1.5h"),
        Err("unknown duration unit \".\" (use ms, s, m, h or d)".into())
    );
    assert_eq!(
        parse_duration("99999999999999999999d"),
        Err("duration out of range".into())
    );
}

#[test]
fn cidrs_parse_and_match() {
    let c = Cidr::parse("127.0.0.0/8").unwrap();
    assert_eq!(c.addr(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)));
    assert_eq!(c.prefix(), 8);
    assert!(c.contains(IpAddr::V4(Ipv4Addr::new(127, 9, 8, 7))));
    assert!(!c.contains(IpAddr::V4(Ipv4Addr::new(128, 0, 0, 1))));
    assert!(!c.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(c.to_string(), "127.0.0.0/8");

    assert_eq!(Cidr::parse("[::1]/128"), Cidr::parse("::1/128"));
    let one = Cidr::parse("::1").unwrap();
    assert_eq!(one.to_string(), "::1/128");
    assert!(one.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert!(!one.contains(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));

    let all = Cidr::parse("0.0.0.0/0").unwrap();
    assert!(all.contains(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))));
    let all6 = Cidr::parse("::/0").unwrap();
    assert!(all6.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn bad_cidrs_say_why() {
    assert_eq!(
        Cidr::parse("127.0.0.1/8"),
        Err("host bits set below the prefix; did you mean 127.0.0.0/8?".into())
    );
    assert_eq!(
        Cidr::parse("127.0.0.0/33"),
        Err("prefix length must be at most 32".into())
    );
    assert_eq!(
        Cidr::parse("::/129"),
        Err("prefix length must be at most 128".into())
    );
    assert_eq!(
        Cidr::parse("::/1000"),
        Err("prefix length must be a number".into())
    );
    assert_eq!(
        Cidr::parse("127.0.0.0/"),
        Err("prefix length must be a number".into())
    );
    assert_eq!(
        Cidr::parse("localhost/8"),
        Err("expected ADDR/PREFIX with ADDR an IP address".into())
    );
}

#[test]
fn resolve_entries() {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let lo6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert_eq!(
        parse_resolve("db.test:127.0.0.1"),
        Ok(("db.test".into(), lo))
    );
    assert_eq!(parse_resolve("db.test:::1"), Ok(("db.test".into(), lo6)));
    assert_eq!(parse_resolve("db.test:[::1]"), Ok(("db.test".into(), lo6)));
    assert_eq!(parse_resolve("db.test"), Err("expected HOST:ADDR".into()));
    assert_eq!(
        parse_resolve(":127.0.0.1"),
        Err("empty host before ':'".into())
    );
    assert_eq!(
        parse_resolve("db.test:443:127.0.0.1"),
        Err("\"443:127.0.0.1\" is not an IP address (expected HOST:ADDR)".into())
    );
    assert_eq!(
        parse_resolve("a b:127.0.0.1"),
        Err("\"a b\" is not a host name".into())
    );
    assert_eq!(
        parse_resolve("*.x:127.0.0.1"),
        Err("\"*.x\" is not a host name".into())
    );
}

#[test]
fn env_names() {
    for ok in ["PATH", "_", "a1", "GIT_AUTHOR_NAME", "_X_9"] {
        assert_eq!(validate_env_name(ok), Ok(()), "{ok}");
    }
    assert_eq!(validate_env_name(""), Err("empty variable name".into()));
    assert_eq!(
        validate_env_name("1X"),
        Err("a variable name must start with a letter or '_'".into())
    );
    assert_eq!(
        validate_env_name("A-B"),
        Err("a variable name may hold only letters, digits and '_'".into())
    );
    assert_eq!(
        validate_env_name("A=B"),
        Err("a variable name may hold only letters, digits and '_'".into())
    );
}
