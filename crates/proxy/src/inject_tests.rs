use super::*;
use std::sync::Arc;

use palisade_policy::Policy;
use palisade_policy::{Credential as PolicyCred, CredentialBind, CredentialSource, Placeholder};

use crate::config::ProxyConfig;
use crate::target::parse_authority;

const SECRET: &str = "ghp_REALsecretVALUE0123456789abcdefghij";

fn creds(methods: &[&str], substitute: bool) -> (tempfile::TempDir, Arc<Credentials>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tok");
    std::fs::write(&path, SECRET).unwrap();
    let mut p = Policy::default();
    p.network.allow = vec!["api.github.test".into(), "other.test".into()];
    p.credentials = vec![PolicyCred {
        id: "gh".into(),
        source: CredentialSource {
            file: Some(path.display().to_string()),
            ..CredentialSource::default()
        },
        bind: CredentialBind {
            host: "api.github.test".into(),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            path_prefixes: vec!["/repos".into()],
            ..CredentialBind::default()
        },
        header: (!substitute).then(|| "authorization".into()),
        format: (!substitute).then(|| "token {}".into()),
        substitute: substitute.then_some(true),
        placeholder: Some(Placeholder {
            env: "GH_TOKEN".into(),
            prefix: None,
        }),
        endpoint: None,
    }];
    let cfg = ProxyConfig::from_policy(&p, "t").unwrap();
    (dir, Arc::new(Credentials::load(&p, &cfg).unwrap()))
}

fn run(
    c: &Credentials,
    host: &str,
    method: &str,
    path: &str,
    headers: &mut HeaderMap,
) -> Result<Vec<CredLog>, Refused> {
    let target = parse_authority(host, Some(443)).unwrap();
    let req = Req {
        scheme: Scheme::Https,
        target: &target,
        method,
        path_and_query: path,
    };
    apply(c, &req, headers)
}

#[test]
fn header_credential_overwrites_the_client_copy_only_where_bound() {
    let (_d, c) = creds(&["GET"], false);
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_static("token fake"));
    let logs = run(&c, "api.github.test", "GET", "/repos/x?y=1", &mut h).unwrap();
    assert_eq!(logs, vec![CredLog::new("gh", "client_value_replaced")]);
    assert_eq!(
        h[AUTHORIZATION].as_bytes(),
        format!("token {SECRET}").as_bytes()
    );
    assert_eq!(h.get_all(AUTHORIZATION).iter().count(), 1);

    let mut h = HeaderMap::new();
    let logs = run(&c, "api.github.test", "GET", "/repos", &mut h).unwrap();
    assert_eq!(logs, vec![CredLog::new("gh", "injected")]);
    // Wrong method, wrong path, other port, other host: nothing added.
    for (host, method, path) in [
        ("api.github.test", "POST", "/repos/x"),
        ("api.github.test", "GET", "/user"),
        ("api.github.test:8443", "GET", "/repos/x"),
        ("other.test", "GET", "/repos/x"),
    ] {
        let mut h = HeaderMap::new();
        assert_eq!(run(&c, host, method, path, &mut h).unwrap(), vec![]);
        assert!(h.is_empty(), "{host} {method} {path}");
    }
}

#[test]
fn placeholder_outside_its_binding_is_refused_wherever_it_hides() {
    let (_d, c) = creds(&[], false);
    let ph = c.list[0].placeholder().unwrap().to_string();
    let basic = format!("Basic {}", STANDARD.encode(format!("x-access-token:{ph}")));
    type Case<'a> = (&'a str, String, Option<(&'a str, String)>);
    let cases: Vec<Case<'_>> = vec![
        (
            "other.test",
            "/".into(),
            Some(("authorization", format!("Bearer {ph}"))),
        ),
        ("other.test", "/".into(), Some(("x-api-key", ph.clone()))),
        ("other.test", "/".into(), Some(("authorization", basic))),
        ("other.test", format!("/?token={ph}"), None),
        (
            "api.github.test",
            "/user".into(),
            Some(("x-token", ph.clone())),
        ),
    ];
    for (host, path, header) in cases {
        let mut h = HeaderMap::new();
        if let Some((n, v)) = &header {
            h.insert(
                HeaderName::from_static(n),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let (r, logs) = run(&c, host, "GET", &path, &mut h).unwrap_err();
        assert_eq!(r.reason, Reason::CredScope, "{host} {path}");
        assert_eq!(r.rule, "cred:gh");
        assert_eq!(logs, vec![CredLog::new("gh", "blocked_scope")]);
        assert!(!r.detail.contains(&ph));
    }
}

#[test]
fn substitution_replaces_the_placeholder_also_inside_basic() {
    let (_d, c) = creds(&[], true);
    let ph = c.list[0].placeholder().unwrap().to_string();
    let mut h = HeaderMap::new();
    let basic = format!("Basic {}", STANDARD.encode(format!("x-access-token:{ph}")));
    h.insert(AUTHORIZATION, HeaderValue::from_str(&basic).unwrap());
    h.insert(
        "x-other",
        HeaderValue::from_str(&format!("a {ph} b")).unwrap(),
    );
    let logs = run(&c, "api.github.test", "PUT", "/repos/o/r", &mut h).unwrap();
    assert_eq!(logs, vec![CredLog::new("gh", "injected")]);
    let want = format!(
        "Basic {}",
        STANDARD.encode(format!("x-access-token:{SECRET}"))
    );
    assert_eq!(h[AUTHORIZATION].to_str().unwrap(), want);
    assert_eq!(h["x-other"].to_str().unwrap(), format!("a {SECRET} b"));
    // No placeholder in the request: nothing to substitute, nothing logged.
    let mut h = HeaderMap::new();
    assert_eq!(
        run(&c, "api.github.test", "GET", "/repos", &mut h).unwrap(),
        vec![]
    );
}

#[test]
fn an_echoed_value_in_a_response_header_is_replaced_by_the_placeholder() {
    let (_d, c) = creds(&[], false);
    let ph = c.list[0].placeholder().unwrap().to_string();
    let mut h = HeaderMap::new();
    h.insert(
        "x-echo",
        HeaderValue::from_str(&format!("got token {SECRET}")).unwrap(),
    );
    h.insert("x-plain", HeaderValue::from_static("nothing"));
    scrub_response(&c, &mut h);
    assert_eq!(h["x-echo"].to_str().unwrap(), format!("got token {ph}"));
    assert_eq!(h["x-plain"], "nothing");
}

#[test]
fn the_value_itself_is_held_to_its_binding() {
    let (_d, c) = creds(&[], false);
    let mut h = HeaderMap::new();
    h.insert("x-copy", HeaderValue::from_str(SECRET).unwrap());
    let (r, logs) = run(&c, "other.test", "GET", "/", &mut h).unwrap_err();
    assert_eq!(r.reason, Reason::CredScope);
    assert_eq!(logs, vec![CredLog::new("gh", "blocked_scope")]);
    assert!(!r.detail.contains(SECRET));
}

#[test]
fn dot_segments_never_fall_under_a_path_prefix() {
    let (_d, c) = creds(&[], false);
    for path in [
        "/repos/../admin",
        "/repos/%2e%2e/admin",
        "/repos/%2E./x",
        "/repos/./x",
        "/repos%2fx",
    ] {
        let mut h = HeaderMap::new();
        let logs = run(&c, "api.github.test", "GET", path, &mut h).unwrap();
        assert!(logs.is_empty(), "{path}: credential injected");
        assert!(h.get(AUTHORIZATION).is_none(), "{path}: header set");
    }
    let mut h = HeaderMap::new();
    let logs = run(&c, "api.github.test", "GET", "/repos/o/r", &mut h).unwrap();
    assert_eq!(logs.len(), 1);
}

#[test]
fn range_requests_lose_their_range_when_a_credential_is_injected() {
    let (_d, c) = creds(&[], false);
    let mut h = HeaderMap::new();
    h.insert(
        hyper::header::RANGE,
        HeaderValue::from_static("bytes=80-100"),
    );
    h.insert(hyper::header::IF_RANGE, HeaderValue::from_static("\"x\""));
    run(&c, "api.github.test", "GET", "/repos/o/r", &mut h).unwrap();
    assert!(h.get(hyper::header::RANGE).is_none());
    assert!(h.get(hyper::header::IF_RANGE).is_none());
    let mut other = HeaderMap::new();
    other.insert(hyper::header::RANGE, HeaderValue::from_static("bytes=0-1"));
    run(&c, "other.test", "GET", "/", &mut other).unwrap();
    assert!(
        other.get(hyper::header::RANGE).is_some(),
        "no credential: the request is untouched"
    );
}
