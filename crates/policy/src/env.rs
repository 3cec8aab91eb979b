//! Which host environment variables look like secrets and are removed before the command
//! starts (unless `env.pass` or `--env NAME` passes them on).
//!
//! The test leans towards removing: a variable dropped by mistake costs a re-run with
//! `--env`; a token passed by mistake is gone for good.

/// Name fragments that mark a secret wherever they appear (compared upper-case).
const SECRET_NAME_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "SIGNING_KEY",
    "ENCRYPTION_KEY",
    "COOKIE",
    "SESSION_KEY",
    "CLIENT_KEY",
    "ACCESSKEY",
    "BEARER",
    "JWT",
    "WEBHOOK",
    "CONN_STR",
    "CONNECTION_STRING",
];

/// Name endings that mark a secret.
const SECRET_NAME_SUFFIXES: &[&str] = &["_KEY", "_PAT", "_PWD", "_DSN", "_PASS"];

/// Variables that carry a secret, or a handle to one, under a name the rules above miss.
pub const SECRET_ENV_NAMES: &[&str] = &[
    "PASS",
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "KUBECONFIG",
    "DOCKER_AUTH_CONFIG",
    "VAULT_TOKEN",
    "KRB5CCNAME",
    "XAUTHORITY",
    "DATABASE_URL",
    "REDIS_URL",
    "MONGODB_URI",
    "SENTRY_DSN",
    "DSN",
];

/// Names that trip a rule above but hold no secret.
const NOT_SECRET_NAMES: &[&str] = &["TOKENIZERS_PARALLELISM"];

/// Prefixes of well-known token formats, matched at the start of the value or of any word in
/// it, when the token that follows is long enough to be real.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "glptt-",
    "gldt-",
    "sk-ant-",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "xapp-",
    "AKIA",
    "ASIA",
    "AIza",
    "ya29.",
    "npm_",
    "pypi-",
    "hf_",
    "dop_v1_",
    "shpat_",
];

/// A token shorter than this after its prefix is taken for a word (`sk-qwerty`, a keymap).
const MIN_TOKEN_LEN: usize = 20;

/// Markers that make a value a secret wherever they appear in it.
const SECRET_VALUE_MARKERS: &[&str] = &[
    "-----BEGIN",
    "AccountKey=",
    "SharedAccessKey=",
    "SharedAccessSignature=",
];

/// Whether a host variable looks like a secret, by its name or its value.
pub fn is_secret_env(name: &str, value: &str) -> bool {
    secret_name(name) || secret_value(value)
}

fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if NOT_SECRET_NAMES.contains(&upper.as_str()) {
        return false;
    }
    SECRET_ENV_NAMES.contains(&upper.as_str())
        || SECRET_NAME_PARTS.iter().any(|p| upper.contains(p))
        || SECRET_NAME_SUFFIXES.iter().any(|s| upper.ends_with(s))
        || auth_in_name(&upper)
}

/// `AUTH` marks a secret (`GH_AUTH`, `OAUTH_…`, `AUTHORIZATION`, `SSH_AUTH_SOCK`), but
/// `AUTHOR` (`GIT_AUTHOR_NAME`) does not.
fn auth_in_name(upper: &str) -> bool {
    upper.match_indices("AUTH").any(|(i, _)| {
        let rest = &upper[i + 4..];
        !rest.starts_with("OR") || rest.starts_with("ORIZ")
    })
}

fn secret_value(value: &str) -> bool {
    if SECRET_VALUE_MARKERS.iter().any(|m| value.contains(m)) {
        return true;
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    // Every start of a token-character run: the value's start and each place after a
    // separator (space, `=`, `:`, quote, ...), so `Bearer ghp_…` is found too.
    let mut starts = vec![0];
    starts.extend(
        value
            .char_indices()
            .filter(|(_, c)| !is_token_char(*c))
            .map(|(i, c)| i + c.len_utf8()),
    );
    for start in starts {
        let rest = &value[start..];
        let token_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let token = &rest[..token_len];
        if token.len() >= MIN_TOKEN_LEN && TOKEN_PREFIXES.iter().any(|p| token.starts_with(p)) {
            return true;
        }
        if is_jwt(token) {
            return true;
        }
    }
    url_with_password(value)
}

/// A JSON Web Token: three base64url parts, the first a JSON object (`eyJ`).
fn is_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.len() >= MIN_TOKEN_LEN && token.split('.').count() == 3
}

/// `scheme://user:password@host…`, as in `DATABASE_URL` or a proxy URL with credentials.
fn url_with_password(value: &str) -> bool {
    value.match_indices("://").any(|(i, _)| {
        let after = &value[i + 3..];
        let authority_end = after.find(['/', '?', '#', ' ']).unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rsplit_once('@') {
            Some((userinfo, _)) => userinfo.contains(':'),
            None => false,
        }
    })
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
