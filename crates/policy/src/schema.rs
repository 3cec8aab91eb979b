//! The policy schema, shared by the file format, the CLI additions and `palisade check`.
//!
//! Every table rejects unknown keys: a typo must never silently turn a rule off.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One complete policy, as loaded from a file (or the built-in default) and extended by flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Schema version; only 1 exists.
    pub version: u32,
    pub filesystem: Filesystem,
    pub network: Network,
    pub env: Env,
    pub limits: Limits,
    #[serde(rename = "credential")]
    pub credentials: Vec<Credential>,
}

/// Filesystem rules. Paths may start with `~` (the caller's home) or be relative (to the
/// workspace). Rules are order-independent: the most specific path wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filesystem {
    /// The writable root; default: the current directory.
    pub workspace: Option<String>,
    /// More writable paths.
    pub allow_write: Vec<String>,
    /// Paths hidden from the sandbox (reads and writes fail), added to the built-in list.
    pub deny_read: Vec<String>,
    /// Read-only carve-outs below a denied path.
    pub allow_read: Vec<String>,
    /// Glob patterns of file names hidden inside writable roots (e.g. `.env*`, `*.pem`),
    /// added to the built-in list.
    pub deny_read_names: Vec<String>,
    /// More paths kept read-only inside writable roots, added to the built-in list.
    pub protect: Vec<String>,
    /// Host Unix sockets the sandbox may connect to (all others in /run are masked).
    pub allow_unix_sockets: Vec<String>,
    /// Whether the built-in secret and protected lists apply (default true).
    pub builtin_rules: Option<bool>,
    pub mode: Option<FsMode>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsMode {
    /// Writes to the workspace land on the host directly.
    #[default]
    Direct,
    /// Writes land in an upper layer kept as a change set for review.
    Overlay,
    /// Writes land in a size-limited tmpfs layer, discarded at exit.
    Tmpfs,
}

/// Network rules for the host-side proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Allowed targets: `host`, `*.host` (subdomains only), with an optional `:port`, or an
    /// IP literal (which only an entry naming that literal allows).
    pub allow: Vec<String>,
    /// Denied targets, same syntax; deny wins over allow.
    pub deny: Vec<String>,
    /// CIDRs that allowed *names* may resolve into (private, loopback). Never makes an IP
    /// literal an allowed target.
    pub allow_cidr: Vec<String>,
    /// `HOST:ADDR` static name mappings, like curl's `--resolve`.
    pub resolve: Vec<String>,
    /// JSON-lines audit log path, one line per decision.
    pub audit_log: Option<String>,
    /// TLS termination: `off` | `as_needed` (hosts with a credential) | `all`.
    pub tls_terminate: Option<String>,
    /// Extra CA bundle (PEM) trusted for upstream certificates, on top of the system roots.
    pub upstream_extra_ca: Option<String>,
}

/// Environment rules. Secret-looking variables are removed unless passed here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Env {
    /// Host variables passed through past the secret scrubbing.
    pub pass: Vec<String>,
    /// Variables set inside the sandbox.
    pub set: BTreeMap<String, String>,
}

/// Resource limits; all off by default. Sizes like `512M`, `2G`; durations like `90s`, `10m`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub memory: Option<String>,
    pub pids: Option<u64>,
    pub cpus: Option<f64>,
    pub timeout: Option<String>,
    pub tmp_size: Option<String>,
    pub tmpfs_size: Option<String>,
    pub open_files: Option<u64>,
    pub file_size: Option<String>,
    /// Run with the limits the host can enforce, printing the rest, instead of refusing.
    pub best_effort: Option<bool>,
}

/// A credential the proxy injects into requests bound for its hosts; the sandbox never sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credential {
    pub id: String,
    pub source: CredentialSource,
    pub bind: CredentialBind,
    /// Header to set, e.g. `authorization`. Mutually exclusive with `substitute`.
    pub header: Option<String>,
    /// Header value format, `{}` stands for the secret, e.g. `Bearer {}`.
    pub format: Option<String>,
    /// Replace the placeholder wherever the client put it in headers.
    pub substitute: Option<bool>,
    pub placeholder: Option<Placeholder>,
    /// Expose a plain `http://127.0.0.1:PORT` endpoint inside that forwards to the bound
    /// HTTPS origin with the credential, and set this variable to its URL.
    pub endpoint: Option<PlainEndpoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialSource {
    pub env: Option<String>,
    pub file: Option<String>,
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialBind {
    pub scheme: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub methods: Vec<String>,
    pub path_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Placeholder {
    /// Variable set inside the sandbox to the placeholder.
    pub env: String,
    /// Fixed prefix of the placeholder, e.g. `ghp_`; default: the real value's
    /// leading run of non-alphanumerics-terminated prefix.
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlainEndpoint {
    pub port: u16,
    pub env: String,
}
