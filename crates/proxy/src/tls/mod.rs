//! TLS for credentials: the upstream client (system roots plus `network.upstream_extra_ca`),
//! the per-run CA that signs leaf certificates for terminated tunnels (`ca`), and the
//! terminated tunnel itself (`mitm`).

pub(crate) mod ca;
pub(crate) mod mitm;
mod rewind;
pub(crate) mod upstream;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

pub use ca::Ca;

/// The system bundle: read on the host for upstream roots, and the path inside the sandbox
/// the bundle with the run's CA is bound over.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA certificates from {path}: {why}")]
    Roots { path: PathBuf, why: String },
    #[error("no usable CA certificate in {0}")]
    NoRoots(PathBuf),
    #[error("TLS setup: {0}")]
    Setup(String),
    #[error("cannot create the run's CA: {0}")]
    Ca(String),
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |why: String| TlsError::Roots {
        path: path.to_path_buf(),
        why,
    };
    CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))
}

/// The client configuration for upstream origins: HTTP/1.1 only, roots from `system` plus
/// `extra`.
pub(crate) fn upstream_config(
    system: &Path,
    extra: Option<&Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    if system.exists() {
        roots.add_parsable_certificates(pem_certs(system)?);
    }
    if let Some(extra) = extra {
        let (added, _) = roots.add_parsable_certificates(pem_certs(extra)?);
        if added == 0 {
            return Err(TlsError::NoRoots(extra.to_path_buf()));
        }
    }
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Variables that point the usual runtimes at a CA bundle (all at the same file).
pub const CA_ENV_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "CARGO_HTTP_CAINFO",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
    "DENO_CERT",
    "HTTPLIB2_CA_CERTS",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    "NIX_SSL_CERT_FILE",
];

/// `name=path` for each of [`CA_ENV_VARS`].
pub fn ca_env(path: &Path) -> Vec<(String, String)> {
    let p = path.display().to_string();
    CA_ENV_VARS
        .iter()
        .map(|n| (n.to_string(), p.clone()))
        .collect()
}
