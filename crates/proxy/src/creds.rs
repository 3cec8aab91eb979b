//! Credentials: resolved on the host at start (environment variable, file, or a command's
//! standard output, never through a shell), held in [`Secret`]s, never printed. The sandbox
//! sees at most a random placeholder shaped like the real value.
//!
//! Load-time checks: the value is non-empty and has no control characters; the bound target
//! is allowed by the network policy; two credentials never set the same header for the same
//! target; endpoint ports are distinct. Every error names the credential id, never a value.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palisade_policy::host::{parse_host, Host};
use palisade_policy::Policy;
use zeroize::Zeroizing;

use crate::config::ProxyConfig;
use crate::decide;
use crate::secret::Secret;
use crate::target::{Entry, Target};

/// How long a credential command may run before the start is abandoned.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest secret accepted (a header value, not a file).
const MAX_SECRET: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CredError {
    #[error("credential `{id}`: {why}")]
    Source { id: String, why: String },
    #[error(
        "credential `{id}`: its bound target {target} is not allowed by the network policy \
         ({reason}); add it to network.allow"
    )]
    NotAllowed {
        id: String,
        target: String,
        reason: &'static str,
    },
    #[error("credential `{id}`: {why}")]
    Binding { id: String, why: String },
    #[error("credential `{id}`: cannot protect the value in memory: {source}")]
    Memory { id: String, source: std::io::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// Where a credential may be sent.
#[derive(Debug)]
pub struct Binding {
    pub scheme: Scheme,
    pub target: Target,
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    /// Empty means any path.
    pub path_prefixes: Vec<String>,
}

impl Binding {
    pub fn same_target(&self, scheme: Scheme, target: &Target) -> bool {
        self.scheme == scheme && &self.target == target
    }

    pub fn covers(&self, method: &str, path: &str) -> bool {
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m == method);
        let path_ok =
            self.path_prefixes.is_empty() || self.path_prefixes.iter().any(|p| path_under(path, p));
        method_ok && path_ok
    }
}

/// `/v1` covers `/v1`, `/v1/x` and `/v1?q`, not `/v10`; a prefix ending in `/` is literal.
/// A path with a dot segment (`..` or `.`, plain or percent-encoded) or an encoded slash is
/// covered by no prefix: an origin that normalises it would serve a path outside the prefix
/// with the credential attached.
fn path_under(path: &str, prefix: &str) -> bool {
    if has_dot_segment(path) {
        return false;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?']),
        None => false,
    }
}

fn has_dot_segment(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains('\\') {
        return true;
    }
    lower
        .replace("%2e", ".")
        .split('/')
        .any(|seg| seg == "." || seg == "..")
}

#[derive(Debug)]
pub enum Injection {
    /// Set this header (lower-case) to `format` with `{}` replaced by the secret.
    Header { name: String, format: String },
    /// Replace the placeholder wherever the client put it in a header value.
    Substitute,
}

#[derive(Debug)]
pub struct Credential {
    pub id: String,
    secret: Secret,
    placeholder: Option<(String, String)>,
    pub bind: Binding,
    pub inject: Injection,
    /// (port inside the sandbox, variable set to its URL).
    pub endpoint: Option<(u16, String)>,
}

impl Credential {
    pub(crate) fn secret(&self) -> &[u8] {
        self.secret.expose()
    }

    /// The placeholder's value, if the credential has one.
    pub fn placeholder(&self) -> Option<&str> {
        self.placeholder.as_ref().map(|(_, v)| v.as_str())
    }

    /// The header value to inject (`format` with the secret), zeroed on drop.
    pub(crate) fn header_value(&self, format: &str) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(format.len() + self.secret.len()));
        let (before, after) = format.split_once("{}").unwrap_or(("", ""));
        out.extend_from_slice(before.as_bytes());
        out.extend_from_slice(self.secret());
        out.extend_from_slice(after.as_bytes());
        out
    }
}

/// Every credential of a run. Empty when the policy has none.
#[derive(Debug, Default)]
pub struct Credentials {
    pub list: Vec<Credential>,
    source_envs: Vec<String>,
}

impl Credentials {
    /// Resolves every `[[credential]]` of the policy and checks it against `cfg`.
    pub fn load(policy: &Policy, cfg: &ProxyConfig) -> Result<Credentials, CredError> {
        let mut out = Credentials::default();
        for c in &policy.credentials {
            let cred = load_one(c, cfg)?;
            if let Some(env) = &c.source.env {
                out.source_envs.push(env.clone());
            }
            check_conflicts(&out.list, &cred)?;
            out.list.push(cred);
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Variables the sandbox gets: each placeholder, and each endpoint's URL.
    pub fn sandbox_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for c in &self.list {
            if let Some((name, value)) = &c.placeholder {
                env.push((name.clone(), value.clone()));
            }
            if let Some((port, name)) = &c.endpoint {
                env.push((name.clone(), format!("http://127.0.0.1:{port}")));
            }
        }
        env
    }

    /// Must a variable stay out of the sandbox? True for a credential's source variable and
    /// for any value holding a secret.
    pub fn withhold_env(&self, name: &str, value: &[u8]) -> bool {
        self.source_envs.iter().any(|n| n == name) || self.contains_secret(value)
    }

    /// Does `hay` contain any credential's value?
    pub fn contains_secret(&self, hay: &[u8]) -> bool {
        self.list
            .iter()
            .any(|c| crate::inject::find(hay, c.secret()).is_some())
    }

    /// Ports the sandbox's plain endpoints listen on (127.0.0.1 inside), in policy order.
    pub fn endpoint_ports(&self) -> Vec<u16> {
        self.list
            .iter()
            .filter_map(|c| c.endpoint.as_ref().map(|(p, _)| *p))
            .collect()
    }

    /// Does a tunnel to this target carry a credential (so `as_needed` terminates it)?
    pub fn binds_tunnel(&self, target: &Target) -> bool {
        self.list
            .iter()
            .any(|c| c.bind.same_target(Scheme::Https, target))
    }
}

fn load_one(c: &palisade_policy::Credential, cfg: &ProxyConfig) -> Result<Credential, CredError> {
    let id = c.id.clone();
    let bind = binding(c).map_err(|why| CredError::Binding {
        id: id.clone(),
        why,
    })?;
    if let Err(r) = decide::decide(cfg, &bind.target, Entry::Connect) {
        return Err(CredError::NotAllowed {
            id,
            target: bind.target.to_string(),
            reason: r.reason.as_str(),
        });
    }
    let terminated = cfg.tls_terminate != crate::config::TlsTerminate::Off;
    if bind.scheme == Scheme::Https && c.endpoint.is_none() && !terminated {
        return Err(CredError::Binding {
            id,
            why: "network.tls_terminate = \"off\" leaves no way to add it to https requests: \
                  use as_needed, or an endpoint"
                .into(),
        });
    }
    if c.endpoint.is_some() && bind.scheme != Scheme::Https {
        return Err(CredError::Binding {
            id,
            why: "an endpoint forwards to an https origin: bind.scheme must be https".into(),
        });
    }
    let value = resolve_source(&c.source).map_err(|why| CredError::Source {
        id: id.clone(),
        why,
    })?;
    check_value(&value).map_err(|why| CredError::Source {
        id: id.clone(),
        why: why.into(),
    })?;
    let placeholder = c.placeholder.as_ref().map(|p| {
        (
            p.env.clone(),
            crate::placeholder::shaped(&value, p.prefix.as_deref()),
        )
    });
    let secret = Secret::new(&value).map_err(|source| CredError::Memory {
        id: id.clone(),
        source,
    })?;
    let inject = match &c.header {
        Some(h) => Injection::Header {
            name: h.to_ascii_lowercase(),
            format: c.format.clone().unwrap_or_else(|| "{}".to_string()),
        },
        None => Injection::Substitute,
    };
    Ok(Credential {
        id,
        secret,
        placeholder,
        bind,
        inject,
        endpoint: c.endpoint.as_ref().map(|e| (e.port, e.env.clone())),
    })
}

fn binding(c: &palisade_policy::Credential) -> Result<Binding, String> {
    let scheme = match c.bind.scheme.as_deref() {
        None | Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        Some(other) => return Err(format!("bind.scheme `{other}` is not http or https")),
    };
    let host = parse_host(&c.bind.host).map_err(|e| format!("bind.host: {e}"))?;
    if let Host::Name(n) = &host {
        if n.starts_with("*.") {
            return Err("bind.host must name one host, not a pattern".into());
        }
    }
    let port = c.bind.port.unwrap_or(match scheme {
        Scheme::Https => 443,
        Scheme::Http => 80,
    });
    Ok(Binding {
        scheme,
        target: Target { host, port },
        methods: c
            .bind
            .methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        path_prefixes: c.bind.path_prefixes.clone(),
    })
}

fn check_conflicts(done: &[Credential], new: &Credential) -> Result<(), CredError> {
    for old in done {
        let clash = |why: String| {
            Err(CredError::Binding {
                id: new.id.clone(),
                why,
            })
        };
        if let (Some((a, _)), Some((b, _))) = (&old.endpoint, &new.endpoint) {
            if a == b {
                return clash(format!("endpoint port {a} is already used by `{}`", old.id));
            }
        }
        if let (Injection::Header { name: a, .. }, Injection::Header { name: b, .. }) =
            (&old.inject, &new.inject)
        {
            let same = old.bind.same_target(new.bind.scheme, &new.bind.target);
            if a == b && same {
                return clash(format!(
                    "`{}` already sets header {a} for {}",
                    old.id, new.bind.target
                ));
            }
        }
    }
    Ok(())
}

fn check_value(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("the source gave an empty value");
    }
    if v.len() > MAX_SECRET {
        return Err("the source gave more than 16 KiB");
    }
    if v.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err("the value holds a control character (only one trailing newline is removed)");
    }
    Ok(())
}

/// Reads the value. Errors name the source (variable, path, program), never its content.
fn resolve_source(s: &palisade_policy::CredentialSource) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut raw = if let Some(name) = &s.env {
        let v = std::env::var_os(name)
            .ok_or_else(|| format!("the host environment variable {name} is not set"))?;
        let v = Zeroizing::new(std::os::unix::ffi::OsStringExt::into_vec(v));
        crate::secret::wipe_env(name);
        v
    } else if let Some(path) = &s.file {
        let path = expand_home(path);
        read_file(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    } else if let Some(argv) = &s.command {
        run_command(argv)?
    } else {
        return Err("no source".into());
    };
    if raw.ends_with(b"\n") {
        raw.pop();
        if raw.ends_with(b"\r") {
            raw.pop();
        }
    }
    Ok(raw)
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn read_file(path: &std::path::Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    // Sized up front so the buffer is not reallocated (each move would leave a copy behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_SECRET + 2));
    f.take(MAX_SECRET as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

fn run_command(argv: &[String]) -> Result<Zeroizing<Vec<u8>>, String> {
    let Some((prog, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run `{prog}`: {e}"))?;
    // Read on a thread so a command that never closes its output still meets the timeout
    // (killing it closes the pipe and ends the read).
    let reader = child.stdout.take().map(|out| {
        std::thread::spawn(move || {
            let mut buf = Zeroizing::new(Vec::with_capacity(MAX_SECRET + 2));
            let _ = out.take(MAX_SECRET as u64 + 1).read_to_end(&mut buf);
            buf
        })
    });
    let collect = |reader: Option<std::thread::JoinHandle<Zeroizing<Vec<u8>>>>| {
        reader
            .and_then(|r| r.join().ok())
            .unwrap_or_else(|| Zeroizing::new(Vec::new()))
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(collect(reader)),
            Ok(Some(st)) => return Err(format!("`{prog}` failed ({st})")),
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                // A grandchild may still hold the pipe: do not wait for the reader.
                return Err(format!("`{prog}` did not finish in time"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for `{prog}`: {e}")),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "creds_tests.rs"]
mod tests;
