//! The run's CA: generated in memory at start, never written to disk; its certificate (not
//! its key) goes into the bundle the sandbox trusts. Leaf certificates carry exactly one name
//! (the tunnel's host) and are minted on first use, then cached with their server config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use palisade_policy::host::Host;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{provider, TlsError};
use crate::audit::civil_from_days;

pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    /// One key for every leaf of this run (a fresh key per host buys nothing here).
    leaf_key: KeyPair,
    cache: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca(..)")
    }
}

/// Validity: from two days ago (clock skew) to 90 days on; a run outliving that is unusual.
fn validity(params: &mut CertificateParams) {
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs() / 86_400).unwrap_or(0))
        .unwrap_or(0);
    let date = |days: i64| {
        let (y, m, d) = civil_from_days(days);
        rcgen::date_time_ymd(
            i32::try_from(y).unwrap_or(2000),
            u8::try_from(m).unwrap_or(1),
            u8::try_from(d).unwrap_or(1),
        )
    };
    params.not_before = date(today - 2);
    params.not_after = date(today + 90);
}

fn ca_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Ca(e.to_string())
}

impl Ca {
    pub fn generate(sandbox_id: &str) -> Result<Ca, TlsError> {
        let key = KeyPair::generate().map_err(ca_err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(ca_err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        validity(&mut params);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(
            DnType::CommonName,
            format!("Palisade sandbox CA {sandbox_id}"),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Palisade (per-run, in memory)");
        let cert = params.self_signed(&key).map_err(ca_err)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
            leaf_key: KeyPair::generate().map_err(ca_err)?,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate (PEM), for the sandbox's trust bundle.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server config presenting a leaf for `host`, offering h2 and http/1.1.
    pub(crate) fn server_config(&self, host: &Host) -> Result<Arc<ServerConfig>, TlsError> {
        let name = host.to_string();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cfg) = cache.get(&name) {
            return Ok(cfg.clone());
        }
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(ca_err)?;
        params.distinguished_name.push(DnType::CommonName, &name);
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(ca_err)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(ca_err)?;
        let certified = Arc::new(CertifiedKey::new(vec![leaf.der().clone()], signing));
        let mut cfg = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(ca_err)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(certified)));
        // HTTP/2 towards the client when it offers it; the origin is spoken to in HTTP/1.1.
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let cfg = Arc::new(cfg);
        cache.insert(name, cfg.clone());
        Ok(cfg)
    }
}

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
