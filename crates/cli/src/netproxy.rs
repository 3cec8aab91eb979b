//! Glue between the supervisor and the proxy crate.
// TEMPORARY until the proxy crate exposes its serving API.

use std::path::Path;

pub struct Proxy;

impl Proxy {
    pub async fn serve(
        self: std::sync::Arc<Self>,
        _l: Vec<std::net::TcpListener>,
    ) -> anyhow::Result<()> {
        std::future::pending().await
    }
    pub fn denied_summary(&self) -> Vec<String> {
        Vec::new()
    }
}

pub fn start(
    _policy: &palisade_policy::Policy,
    _id: &str,
) -> anyhow::Result<std::sync::Arc<Proxy>> {
    Ok(std::sync::Arc::new(Proxy))
}

pub fn sandbox_env(port: u16, _exe: &Path) -> Vec<(String, String)> {
    let url = format!("http://127.0.0.1:{port}");
    let mut v = Vec::new();
    for n in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        v.push((n.to_string(), url.clone()));
    }
    for n in ["NO_PROXY", "no_proxy"] {
        v.push((n.to_string(), String::new()));
    }
    v
}
