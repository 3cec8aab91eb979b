use super::*;
use crate::builtin::BUILTIN_DENY_NAMES;

#[test]
fn globs() {
    assert!(glob_match("*.pem", "server.pem"));
    assert!(glob_match("*.pem", ".pem"));
    assert!(!glob_match("*.pem", "server.pem.txt"));
    assert!(glob_match(".env", ".env"));
    assert!(!glob_match(".env", ".envrc"));
    assert!(glob_match(".env.*", ".env.local"));
    assert!(!glob_match(".env.*", ".env"));
    assert!(glob_match("id_rsa*", "id_rsa.pub"));
    assert!(glob_match(
        "*-service-account.json",
        "prod-service-account.json"
    ));
    assert!(glob_match("a?c", "abc"));
    assert!(!glob_match("a?c", "ac"));
    assert!(glob_match("[ab]x", "bx"));
    assert!(!glob_match("[!ab]x", "bx"));
    assert!(glob_match("[a-c]*", "cat"));
    assert!(!glob_match("[a-c]*", "dog"));
    assert!(glob_match("[]]", "]"));
    assert!(glob_match("x[", "x["));
    assert!(glob_match("*a*b*c*", "zzazzbzzczz"));
    assert!(!glob_match("*a*b*c*", "zzazzczzbzz"));
    assert!(glob_match("**", ""));
}

#[test]
fn hostile_pattern_stays_fast() {
    let name = "a".repeat(200);
    let pattern = format!("{}b", "*a".repeat(50));
    let started = std::time::Instant::now();
    assert!(!glob_match(&pattern, &name));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn last_match_decides() {
    let patterns = [".env", ".env.*", "!.env.example", "*.pem", "!public.pem"];
    assert!(is_name_hidden(&patterns, ".env"));
    assert!(is_name_hidden(&patterns, ".env.production"));
    assert!(!is_name_hidden(&patterns, ".env.example"));
    assert!(is_name_hidden(&patterns, "server.pem"));
    assert!(!is_name_hidden(&patterns, "public.pem"));
    assert!(!is_name_hidden(&patterns, "README.md"));
    let rehidden = [".env.*", "!.env.example", ".env.example"];
    assert!(is_name_hidden(&rehidden, ".env.example"));
}

#[test]
fn builtin_names_hide_secrets_and_keep_examples() {
    for secret in [
        ".env",
        ".env.local",
        ".env.production",
        "server.pem",
        "tls.key",
        "ci-service-account.json",
        "cert.p12",
        "cert.pfx",
        "id_rsa",
        "id_ed25519",
        "id_ecdsa.pub",
        "terraform.tfstate",
        ".netrc",
    ] {
        assert!(
            is_name_hidden(BUILTIN_DENY_NAMES, secret),
            "{secret} should be hidden"
        );
    }
    for plain in [
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        ".envrc",
        "main.rs",
        "key.rs",
        "Cargo.toml",
        "keys.json",
    ] {
        assert!(
            !is_name_hidden(BUILTIN_DENY_NAMES, plain),
            "{plain} should stay visible"
        );
    }
    for p in BUILTIN_DENY_NAMES {
        assert_eq!(validate_name_pattern(p), Ok(()), "{p}");
    }
}

#[test]
fn pattern_validation() {
    assert_eq!(validate_name_pattern(""), Err("empty name pattern".into()));
    assert_eq!(validate_name_pattern("!"), Err("empty name pattern".into()));
    assert_eq!(
        validate_name_pattern("a/b"),
        Err("a name pattern matches one file name and holds no '/'".into())
    );
    assert_eq!(
        validate_name_pattern("[ab"),
        Err("unclosed '[' in name pattern".into())
    );
    assert_eq!(
        validate_name_pattern(".."),
        Err("a name pattern cannot be . or ..".into())
    );
    assert_eq!(validate_name_pattern("!*.pem"), Ok(()));
}

#[test]
fn fast_shapes_match_like_the_general_matcher() {
    // (pattern, name, expected): the literal and single-star shapes take the fast path.
    let cases = [
        (".env", ".env", true),
        (".env", ".envx", false),
        ("*.pem", ".pem", true),
        ("*.pem", "a.pem.bak", false),
        ("id_rsa*", "id_rsa", true),
        ("id_rsa*", "id_rsa.pub", true),
        ("id_rsa*", "xid_rsa", false),
        (".env.*", ".env.", true),
        (".env.*", ".env", false),
        ("client_secret*.json", "client_secret_1.json", true),
        ("client_secret*.json", "client_secret.jso", false),
        ("ab*ab", "ab", false),
        ("ab*ab", "abab", true),
    ];
    for (p, n, want) in cases {
        assert_eq!(glob_match(p, n), want, "{p} vs {n}");
    }
}
