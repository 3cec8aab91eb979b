//! The command's environment: the caller's, minus anything that looks like a secret, plus what
//! the policy sets and what the proxy needs.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvPlan {
    pub vars: Vec<(OsString, OsString)>,
    /// Names removed as secret-looking, for `palisade check` and debug logs (never values).
    pub removed: Vec<String>,
}

/// Builds the environment from `host` (the supervisor's own environment).
///
/// `pass` names survive the scrubbing; `set` and `extra` (proxy and CA variables) are applied
/// last, so neither the host nor the policy can point a client around the proxy.
pub fn build_env(
    host: impl IntoIterator<Item = (OsString, OsString)>,
    is_secret: impl Fn(&str, &str) -> bool,
    pass: &[String],
    set: &[(String, String)],
    extra: &[(String, String)],
) -> EnvPlan {
    let mut plan = EnvPlan::default();
    let overridden = |name: &str| {
        set.iter().chain(extra).any(|(n, _)| n == name)
            // Every spelling of the proxy variables is replaced, never inherited.
            || (!extra.is_empty() && name.to_ascii_lowercase().ends_with("_proxy"))
    };
    for (name, value) in host {
        let (Some(n), v) = (name.to_str(), String::from_utf8_lossy(value.as_bytes())) else {
            continue; // a non-UTF-8 name cannot be matched against the rules: drop it
        };
        if overridden(n) {
            continue;
        }
        if is_secret(n, &v) && !pass.iter().any(|p| p == n) {
            plan.removed.push(n.to_string());
            continue;
        }
        plan.vars.push((name, value));
    }
    for (n, v) in set.iter().chain(extra) {
        plan.vars.retain(|(k, _)| k.as_bytes() != n.as_bytes());
        plan.vars.push((n.into(), v.into()));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, value: &str) -> bool {
        name.contains("TOKEN") || value.starts_with("ghp_")
    }

    fn host(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(a, b)| (OsString::from(*a), OsString::from(*b)))
            .collect()
    }

    #[test]
    fn scrubs_secrets_keeps_passed_and_forces_proxy_vars() {
        let env = build_env(
            host(&[
                ("PATH", "/usr/bin"),
                ("GITHUB_TOKEN", "x"),
                ("NPM_TOKEN", "y"),
                ("INNOCENT", "ghp_abc"),
                ("no_proxy", "localhost"),
                ("HTTP_PROXY", "http://evil:1"),
            ]),
            secret,
            &["NPM_TOKEN".to_string()],
            &[("FOO".to_string(), "bar".to_string())],
            &[(
                "HTTP_PROXY".to_string(),
                "http://127.0.0.1:3128".to_string(),
            )],
        );
        assert_eq!(
            env.vars,
            host(&[
                ("PATH", "/usr/bin"),
                ("NPM_TOKEN", "y"),
                ("FOO", "bar"),
                ("HTTP_PROXY", "http://127.0.0.1:3128"),
            ])
        );
        assert_eq!(
            env.removed,
            vec!["GITHUB_TOKEN".to_string(), "INNOCENT".to_string()]
        );
    }
}
