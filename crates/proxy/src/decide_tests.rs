use super::*;
use palisade_policy::Policy;

fn cfg(allow: &[&str], deny: &[&str]) -> ProxyConfig {
    let mut p = Policy::default();
    p.network.allow = allow.iter().map(|s| s.to_string()).collect();
    p.network.deny = deny.iter().map(|s| s.to_string()).collect();
    ProxyConfig::from_policy(&p, "t").unwrap()
}

fn t(s: &str) -> Target {
    crate::target::parse_authority(s, None).unwrap()
}

fn reason(c: &ProxyConfig, s: &str) -> Reason {
    match decide(c, &t(s), Entry::Connect) {
        Ok(_) => Reason::Ok,
        Err(r) => r.reason,
    }
}

#[test]
fn order_builtin_then_deny_then_allow() {
    let c = cfg(
        &[
            "*.example.org",
            "api.example.org:8443",
            "10.0.0.1:80",
            "localhost:8765",
            "evil.com",
        ],
        &["bad.example.org", "evil.com"],
    );
    assert_eq!(reason(&c, "a.example.org:443"), Reason::Ok);
    assert_eq!(reason(&c, "a.example.org:80"), Reason::Ok);
    assert_eq!(reason(&c, "a.example.org:22"), Reason::PortNotAllowed);
    assert_eq!(reason(&c, "example.org:443"), Reason::NoRule);
    assert_eq!(reason(&c, "api.example.org:8443"), Reason::Ok);
    assert_eq!(reason(&c, "bad.example.org:443"), Reason::DenyRule);
    assert_eq!(reason(&c, "evil.com:443"), Reason::DenyRule);
    assert_eq!(reason(&c, "10.0.0.1:80"), Reason::Ok);
    assert_eq!(reason(&c, "10.0.0.1:81"), Reason::IpLiteral);
    assert_eq!(reason(&c, "10.0.0.2:80"), Reason::IpLiteral);
    assert_eq!(reason(&c, "localhost:8765"), Reason::Ok);
    assert_eq!(reason(&c, "localhost:8766"), Reason::LocalTarget);
    assert_eq!(reason(&c, "x.localhost:8765"), Reason::LocalTarget);
    assert_eq!(
        reason(&c, "metadata.google.internal:80"),
        Reason::LocalTarget
    );
}

#[test]
fn wildcards_never_open_local_names() {
    let c = cfg(&["*.corp.internal"], &[]);
    assert_eq!(reason(&c, "db.corp.internal:443"), Reason::LocalTarget);
    let c = cfg(&["db.corp.internal"], &[]);
    assert_eq!(reason(&c, "db.corp.internal:443"), Reason::Ok);
}

#[test]
fn grant_carries_rule_scope_and_mode() {
    let c = cfg(
        &[
            "*.example.org",
            "api.example.org",
            "localhost:8765",
            "[::1]:9000",
        ],
        &[],
    );
    let g = decide(&c, &t("api.example.org:443"), Entry::Socks5).unwrap();
    assert_eq!(g.rule, "allow:api.example.org");
    assert_eq!((g.mode, g.scope), (Mode::Splice, Scope::Resolved));
    let g = decide(&c, &t("localhost:8765"), Entry::Http).unwrap();
    assert_eq!((g.mode, g.scope), (Mode::Plain, Scope::Loopback));
    let g = decide(&c, &t("[::1]:9000"), Entry::Connect).unwrap();
    assert_eq!(g.scope, Scope::Literal);
}

#[test]
fn refusal_names_the_flag() {
    let text = remedy(Reason::NoRule, Some(&t("evil.com:443")));
    assert_eq!(
        text,
        "to allow it: --allow-domain evil.com:443 (network.allow)"
    );
    assert_eq!(Reason::NoRule.status(), 403);
    assert_eq!(Reason::NoRule.socks_reply(), 2);
    assert_eq!(Reason::DnsError.socks_reply(), 4);
}
