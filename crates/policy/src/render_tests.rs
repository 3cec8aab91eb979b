use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::*;

const POLICY: &str = r#"
[filesystem]
deny_read = ["~/x"]
protect = ["Makefile"]
deny_read_names = ["!*.pem"]

[network]
allow = ["a.test", "*.b.test:8443"]
allow_cidr = ["127.0.0.0/8"]
resolve = ["db.test:[::1]"]

[env.set]
MODE = "test"

[limits]
memory = "512M"
timeout = "1h30m"

[[credential]]
id = "gh"
header = "authorization"
format = "Bearer {}"
source.env = "GH"
bind.host = "api.github.com"
"#;

#[test]
fn printed_policy_loads_back_the_same() {
    let p = load_str(POLICY, "p.toml").unwrap();
    let text = p.to_toml_pretty().unwrap();
    let again = load_str(&text, "printed.toml").unwrap();
    assert_eq!(again, p);
    assert_eq!(again.to_toml_pretty().unwrap(), text);

    let default_text = builtin_default().to_toml_pretty().unwrap();
    assert_eq!(
        load_str(&default_text, "d.toml").unwrap(),
        builtin_default()
    );
}

#[test]
fn printed_policy_marks_builtin_and_own_entries() {
    let p = load_str(POLICY, "p.toml").unwrap();
    let text = p.to_toml_pretty().unwrap();
    assert!(text.starts_with("# Effective Palisade policy. Built-in lists are included.\n"));
    let deny = format!(
        "deny_read = [\n    # built-in\n    \"~/.ssh\",\n    \"{}\",",
        BUILTIN_DENY_READ[1]
    );
    assert!(text.contains(&deny), "{text}");
    let own = format!(
        "    \"{}\",\n    # from the policy\n    \"~/x\",\n]",
        BUILTIN_DENY_READ[BUILTIN_DENY_READ.len() - 1]
    );
    assert!(text.contains(&own), "{text}");
    let protect_split = format!(
        "    \"{}\",\n    # built-in, in the home directory\n    \"{}\",",
        BUILTIN_PROTECT_NAMES[BUILTIN_PROTECT_NAMES.len() - 1],
        BUILTIN_HOME_PROTECT[0]
    );
    assert!(text.contains(&protect_split), "{text}");
    assert!(
        text.contains("allow = [\n    \"a.test\",\n    \"*.b.test:8443\",\n]"),
        "{text}"
    );
    assert!(text.contains("\n[[credential]]\nid = \"gh\"\n"), "{text}");
}

#[test]
fn printed_policy_without_builtins_says_so() {
    let p = load_str("[filesystem]\nbuiltin_rules = false\n", "p.toml").unwrap();
    let text = p.to_toml_pretty().unwrap();
    assert!(text.starts_with(
        "# Effective Palisade policy. Built-in lists are off (filesystem.builtin_rules = false).\n"
    ));
    assert!(!text.contains("~/.ssh"), "{text}");
    assert_eq!(load_str(&text, "p.toml").unwrap(), p);
}

#[test]
fn typed_views() {
    let p = load_str(POLICY, "p.toml").unwrap();
    assert_eq!(p.limits.memory_bytes(), Ok(Some(512 << 20)));
    assert_eq!(p.limits.tmp_size_bytes(), Ok(None));
    assert_eq!(
        p.limits.timeout_duration(),
        Ok(Some(Duration::from_secs(5400)))
    );
    let cidrs = p.network.cidrs().unwrap();
    assert_eq!(cidrs.len(), 1);
    assert!(cidrs[0].contains(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))));
    assert_eq!(
        p.network.resolve_entries(),
        Ok(vec![(
            "db.test".to_string(),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        )])
    );
}
