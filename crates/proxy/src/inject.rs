//! Per-request credential handling, the same for terminated tunnels, plain endpoints and
//! plain-HTTP forwarding:
//! 1. a placeholder found anywhere in the request line or a header (also inside a `Basic`
//!    authorization) of a request its binding does not cover refuses the request
//!    (`cred_scope`);
//! 2. each credential whose binding covers the request is put in: a header credential
//!    overwrites the client's copy of its header; a substitution credential replaces its
//!    placeholder where the client put it in a header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use zeroize::Zeroizing;

use crate::audit::CredLog;
use crate::creds::{Credential, Credentials, Injection, Scheme};
use crate::decide::{Reason, Refusal};
use crate::target::Target;

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request as far as credentials are concerned.
pub(crate) struct Req<'a> {
    pub scheme: Scheme,
    pub target: &'a Target,
    pub method: &'a str,
    /// Path and query as sent.
    pub path_and_query: &'a str,
}

impl Req<'_> {
    fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query, |(p, _)| p)
    }

    fn covered_by(&self, c: &Credential) -> bool {
        c.bind.same_target(self.scheme, self.target) && c.bind.covers(self.method, self.path())
    }
}

/// A refusal plus the credential lines for the audit log.
pub(crate) type Refused = (Refusal, Vec<CredLog>);

/// Checks placeholders, then injects. Returns one log entry per credential acted on.
pub(crate) fn apply(
    creds: &Credentials,
    req: &Req<'_>,
    headers: &mut HeaderMap,
) -> Result<Vec<CredLog>, Refused> {
    for c in &creds.list {
        if req.covered_by(c) {
            continue;
        }
        // The value itself (learned somehow) is held to the same binding as its placeholder.
        let value_seen = value_in(req.path_and_query, headers, c.secret());
        let ph_seen = c
            .placeholder()
            .is_some_and(|ph| placeholder_in(req.path_and_query, headers, ph));
        if value_seen || ph_seen {
            let refusal = Refusal::new(
                Reason::CredScope,
                format!("cred:{}", c.id),
                format!(
                    "the placeholder or value of credential `{}` may be sent only to {} with the \
                     methods and paths its binding names",
                    c.id, c.bind.target
                ),
            );
            return Err((refusal, vec![CredLog::new(&c.id, "blocked_scope")]));
        }
    }
    let mut logs = Vec::new();
    if creds.list.iter().any(|c| req.covered_by(c)) {
        // A partial answer lets an origin that echoes the request hand the credential back a
        // slice at a time, past the whole-value scrubbing of responses.
        headers.remove(hyper::header::RANGE);
        headers.remove(hyper::header::IF_RANGE);
    }
    for c in creds.list.iter().filter(|c| req.covered_by(c)) {
        match &c.inject {
            Injection::Header { name, format } => {
                let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                    continue;
                };
                let existed = headers.remove(&name).is_some();
                let value = c.header_value(format);
                if let Ok(mut v) = HeaderValue::from_bytes(&value) {
                    v.set_sensitive(true);
                    headers.insert(name, v);
                    let action = if existed {
                        "client_value_replaced"
                    } else {
                        "injected"
                    };
                    logs.push(CredLog::new(&c.id, action));
                }
            }
            Injection::Substitute => {
                if let Some(ph) = c.placeholder() {
                    if substitute(headers, ph.as_bytes(), c.secret()) {
                        logs.push(CredLog::new(&c.id, "injected"));
                    }
                }
            }
        }
    }
    Ok(logs)
}

/// Replaces any credential value an origin echoed in a response header (by the placeholder,
/// or `[redacted]` without one). Bodies are streamed and not searched.
pub(crate) fn scrub_response(creds: &Credentials, headers: &mut HeaderMap) {
    for c in &creds.list {
        let with = c.placeholder().unwrap_or("[redacted]").as_bytes();
        for value in headers.values_mut() {
            if find(value.as_bytes(), c.secret()).is_some() {
                let clean = replace_all(value.as_bytes(), c.secret(), with);
                if let Ok(v) = HeaderValue::from_bytes(&clean) {
                    *value = v;
                }
            }
        }
    }
}

fn placeholder_in(path_and_query: &str, headers: &HeaderMap, ph: &str) -> bool {
    value_in(path_and_query, headers, ph.as_bytes())
}

fn value_in(path_and_query: &str, headers: &HeaderMap, ph: &[u8]) -> bool {
    find(path_and_query.as_bytes(), ph).is_some()
        || headers.iter().any(|(name, v)| {
            find(v.as_bytes(), ph).is_some()
                || (name == AUTHORIZATION
                    && basic_payload(v.as_bytes()).is_some_and(|p| find(&p, ph).is_some()))
        })
}

/// The decoded credentials of a `Basic` authorization value.
fn basic_payload(v: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let rest = v
        .strip_prefix(b"Basic ")
        .or_else(|| v.strip_prefix(b"basic "))?;
    STANDARD.decode(rest.trim_ascii()).ok().map(Zeroizing::new)
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(hay.len() + to.len() * 2));
    let mut rest = hay;
    while let Some(i) = find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Replaces `ph` by `secret` in every header value (and inside `Basic`). True if any was.
fn substitute(headers: &mut HeaderMap, ph: &[u8], secret: &[u8]) -> bool {
    let mut any = false;
    for (name, value) in headers.iter_mut() {
        let raw = value.as_bytes();
        let new = if find(raw, ph).is_some() {
            Some(replace_all(raw, ph, secret))
        } else if name == AUTHORIZATION {
            basic_payload(raw)
                .filter(|p| find(p, ph).is_some())
                .map(|p| {
                    let inner = replace_all(&p, ph, secret);
                    let mut v = Zeroizing::new(b"Basic ".to_vec());
                    v.extend_from_slice(STANDARD.encode(&*inner).as_bytes());
                    v
                })
        } else {
            None
        };
        if let Some(bytes) = new {
            if let Ok(mut v) = HeaderValue::from_bytes(&bytes) {
                v.set_sensitive(true);
                *value = v;
                any = true;
            }
        }
    }
    any
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "inject_tests.rs"]
mod tests;
