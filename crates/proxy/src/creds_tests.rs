use super::*;
use palisade_policy::{Credential as PolicyCred, CredentialBind, CredentialSource, Placeholder};

fn cfg(allow: &[&str]) -> ProxyConfig {
    let mut p = Policy::default();
    p.network.allow = allow.iter().map(|s| s.to_string()).collect();
    ProxyConfig::from_policy(&p, "t").unwrap()
}

fn cred(id: &str, source: CredentialSource, host: &str) -> PolicyCred {
    PolicyCred {
        id: id.into(),
        source,
        bind: CredentialBind {
            host: host.into(),
            ..CredentialBind::default()
        },
        header: Some("authorization".into()),
        format: Some("Bearer {}".into()),
        ..PolicyCred::default()
    }
}

fn policy_with(creds: Vec<PolicyCred>) -> Policy {
    Policy {
        credentials: creds,
        ..Policy::default()
    }
}

fn file_source(dir: &std::path::Path, content: &[u8]) -> CredentialSource {
    let path = dir.join("tok");
    std::fs::write(&path, content).unwrap();
    CredentialSource {
        file: Some(path.display().to_string()),
        ..CredentialSource::default()
    }
}

#[test]
fn file_and_command_sources_resolve_and_strip_one_newline() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cred(
        "a",
        file_source(dir.path(), b"tok-file-value-0123456\n"),
        "api.example.org",
    );
    c.placeholder = Some(Placeholder {
        env: "A_TOKEN".into(),
        prefix: Some("tok-".into()),
    });
    let b = cred(
        "b",
        CredentialSource {
            command: Some(vec!["printf".into(), "%s".into(), "from-command".into()]),
            ..CredentialSource::default()
        },
        "b.example.org",
    );
    let creds = Credentials::load(
        &policy_with(vec![c, b]),
        &cfg(&["api.example.org", "b.example.org"]),
    )
    .unwrap();
    assert_eq!(creds.list[0].secret(), b"tok-file-value-0123456");
    assert_eq!(creds.list[1].secret(), b"from-command");
    let ph = creds.list[0].placeholder().unwrap();
    assert!(ph.starts_with("tok-") && ph.len() == 22, "{ph}");
    assert_eq!(
        creds.sandbox_env(),
        vec![("A_TOKEN".to_string(), ph.to_string())]
    );
    assert!(creds.contains_secret(b"xx from-command yy"));
    assert!(!format!("{creds:?}").contains("from-command"));
    assert!(creds.withhold_env("ANY", b"x=tok-file-value-0123456"));
}

#[test]
fn errors_name_the_credential_and_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = cfg(&["api.example.org"]);
    let missing = cred(
        "gh",
        CredentialSource {
            env: Some("PALISADE_TEST_SURELY_UNSET_VAR".into()),
            ..CredentialSource::default()
        },
        "api.example.org",
    );
    let e = Credentials::load(&policy_with(vec![missing]), &allowed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "credential `gh`: the host environment variable PALISADE_TEST_SURELY_UNSET_VAR is not set"
    );
    let ctl = cred(
        "c",
        file_source(dir.path(), b"sec\x01ret"),
        "api.example.org",
    );
    let e = Credentials::load(&policy_with(vec![ctl]), &allowed)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("credential `c`: the value holds a control character"),
        "{e}"
    );
    assert!(!e.contains("sec"), "{e}");
    let empty = cred("e", file_source(dir.path(), b"\n"), "api.example.org");
    let e = Credentials::load(&policy_with(vec![empty]), &allowed)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "credential `e`: the source gave an empty value");
    let failing = cred(
        "f",
        CredentialSource {
            command: Some(vec!["sh".into(), "-c".into(), "echo leaked; exit 3".into()]),
            ..CredentialSource::default()
        },
        "api.example.org",
    );
    let e = Credentials::load(&policy_with(vec![failing]), &allowed)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("credential `f`: `sh` failed (exit status: 3)"),
        "{e}"
    );
    assert!(!e.contains("leaked"));
}

#[test]
fn bound_host_must_be_allowed_and_headers_must_not_clash() {
    let dir = tempfile::tempdir().unwrap();
    let c = cred("gh", file_source(dir.path(), b"v"), "api.github.test");
    let e = Credentials::load(&policy_with(vec![c]), &cfg(&["other.test"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "credential `gh`: its bound target api.github.test:443 is not allowed by the network \
         policy (no_rule); add it to network.allow"
    );
    let a = cred("a", file_source(dir.path(), b"v"), "h.test");
    let b = cred("b", file_source(dir.path(), b"v"), "h.test");
    let e = Credentials::load(&policy_with(vec![a, b]), &cfg(&["h.test"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "credential `b`: `a` already sets header authorization for h.test:443"
    );
}

#[test]
fn path_prefixes_match_on_segment_boundaries() {
    assert!(path_under("/v1", "/v1"));
    assert!(path_under("/v1/messages", "/v1"));
    assert!(!path_under("/v10", "/v1"));
    assert!(path_under("/v1x", "/v1x"));
    assert!(path_under("/repos/a", "/repos/"));
    assert!(!path_under("/other", "/v1"));
}
