//! The credential tests' fixture: a TLS origin (echo, redirect, git smart HTTP) for two
//! made-up names, a plain origin, and a proxy with one credential bound to the first name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::common::servers::{self, python, spawn_py, Child};
use super::common::*;
use palisade_policy::{Credential, CredentialBind, CredentialSource, Placeholder, PlainEndpoint};
use palisade_proxy::Credentials;
use serde_json::Value;

pub const SECRET: &str = "sk-ant-api03-REALkeyVALUEdoNotLeak0123456789abcdefXYZ";
const ORIGIN: &str = include_str!("origin.py");
pub const BOUND: &str = "api.cred.test";
pub const OTHER: &str = "other.test";
pub const PLAIN: &str = "plain.test";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    _origin: Child,
    pub port: u16,
    pub origin_ca: PathBuf,
    pub origin_log: PathBuf,
    pub proxy: TestProxy,
    pub bundle: PathBuf,
    pub placeholder: String,
    pub endpoint: Option<u16>,
    /// A plain-HTTP origin at PLAIN.
    pub plain: Origin,
}

/// A CA and a leaf naming both test hosts, written as PEM files.
fn origin_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "origin test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![BOUND.to_string(), OTHER.to_string()]).unwrap();
    leaf.use_authority_key_identifier_extension = true;
    let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let (ca, cert, key) = (
        dir.join("origin-ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    );
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (ca, cert, key)
}

impl Fixture {
    /// `terminate`: the policy's `tls_terminate`; `endpoint`: also expose a plain endpoint.
    pub fn new(terminate: &str, endpoint: bool) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (origin_ca, cert, key) = origin_certs(dir.path());
        let origin_log = dir.path().join("origin.jsonl");
        std::fs::write(&origin_log, "").unwrap();
        let root = servers::make_repo(dir.path());
        let redirect = format!("https://{OTHER}:PORT/echo");
        let (origin, port) = spawn_py(
            dir.path(),
            "cred_origin.py",
            ORIGIN,
            &[
                cert.to_str().unwrap(),
                key.to_str().unwrap(),
                origin_log.to_str().unwrap(),
                &redirect,
                root.to_str().unwrap(),
            ],
        );
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let endpoint_listener = endpoint.then(|| TcpListener::bind("127.0.0.1:0").unwrap());
        let plain = Origin::start("plain");
        let pport = plain.addr.port();
        let mut p = policy(
            &[
                &format!("{BOUND}:{port}"),
                &format!("{OTHER}:{port}"),
                &format!("{PLAIN}:{pport}"),
            ],
            &[],
            &["127.0.0.0/8"],
            &[
                &format!("{BOUND}:127.0.0.1"),
                &format!("{OTHER}:127.0.0.1"),
                &format!("{PLAIN}:127.0.0.1"),
            ],
        );
        p.network.tls_terminate = Some(terminate.to_string());
        p.network.upstream_extra_ca = Some(origin_ca.display().to_string());
        p.credentials = vec![Credential {
            id: "anthropic".into(),
            source: CredentialSource {
                file: Some(secret_file.display().to_string()),
                ..CredentialSource::default()
            },
            bind: CredentialBind {
                host: BOUND.into(),
                port: Some(port),
                ..CredentialBind::default()
            },
            header: Some("authorization".into()),
            format: Some("Bearer {}".into()),
            placeholder: Some(Placeholder {
                env: "ANTHROPIC_API_KEY".into(),
                prefix: None,
            }),
            endpoint: endpoint_listener.as_ref().map(|l| PlainEndpoint {
                port: l.local_addr().unwrap().port(),
                env: "ANTHROPIC_BASE_URL".into(),
            }),
            ..Credential::default()
        }];
        let pol = p.clone();
        let proxy = TestProxy::start(
            vec![TestProxy::bind()],
            p,
            Arc::new(FakeResolver::default()),
            Arc::new(LoopbackConnector),
            move |cfg| cfg.creds = Arc::new(Credentials::load(&pol, cfg).unwrap()),
        );
        let bundle = dir.path().join("bundle.pem");
        let system = Path::new(palisade_proxy::SYSTEM_BUNDLE);
        if let Some(b) = proxy.proxy.ca_bundle(system).unwrap() {
            std::fs::write(&bundle, b).unwrap();
        }
        let placeholder = proxy.proxy.credentials().list[0]
            .placeholder()
            .unwrap()
            .to_string();
        let endpoint = endpoint_listener.map(|l| {
            let port = l.local_addr().unwrap().port();
            let px = proxy.proxy.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let _ = px.serve_endpoints(vec![(port, l)]).await;
                });
            });
            port
        });
        Fixture {
            dir,
            _origin: origin,
            port,
            origin_ca,
            origin_log,
            proxy,
            bundle,
            placeholder,
            endpoint,
            plain,
        }
    }

    /// A command with the environment a sandbox would get: proxy, CA and placeholder.
    pub fn client(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(palisade_proxy::sandbox_env(
                self.proxy.addr.port(),
                Path::new("/nonexistent/palisade"),
            ))
            .envs(palisade_proxy::ca_env(&self.bundle))
            .envs(self.proxy.proxy.credentials().sandbox_env())
            .stdin(Stdio::null());
        c
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port)
    }

    /// Requests the origin saw: (host, path, authorization).
    pub fn origin_saw(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.origin_log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn request_lines(&self) -> Vec<Value> {
        self.proxy
            .lines()
            .into_iter()
            .filter(|l| l["ev"] == "request")
            .collect()
    }

    /// Waits until a log line satisfies `f` (the close line comes after the client exits).
    pub fn wait_line(&self, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(l) = self.proxy.lines().into_iter().find(&f) {
                return l;
            }
            assert!(Instant::now() < deadline, "{:#?}", self.proxy.lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What a client sees where an origin echoed the injected header: the value replaced.
    pub fn scrubbed(&self) -> String {
        format!("Bearer {}", self.placeholder)
    }

    /// The origin's last `n` requests carried the real key.
    pub fn assert_origin_got_key(&self, n: usize) {
        let saw = self.origin_saw();
        assert!(saw.len() >= n, "{saw:#?}");
        for r in &saw[saw.len() - n..] {
            assert_eq!(r["authorization"], bearer().as_str(), "{saw:#?}");
        }
    }

    /// The secret appears in no audit line; the placeholder neither.
    pub fn assert_log_clean(&self) {
        let text = std::fs::read_to_string(&self.proxy.audit).unwrap();
        assert!(!text.contains(SECRET), "secret in the audit log");
        assert!(
            !text.contains(&self.placeholder),
            "placeholder in the audit log"
        );
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn bearer() -> String {
    format!("Bearer {SECRET}")
}

/// Skips (with the reason) when python, the system bundle or `tool` is missing.
pub fn ready(tool: &str, test: &str) -> bool {
    if python().is_none() {
        eprintln!("SKIPPED {test}: no python3 for the origin");
        return false;
    }
    if !Path::new(palisade_proxy::SYSTEM_BUNDLE).exists() {
        eprintln!("SKIPPED {test}: no {}", palisade_proxy::SYSTEM_BUNDLE);
        return false;
    }
    have(tool, test)
}
