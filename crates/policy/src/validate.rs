//! Value rules applied after the schema accepted a policy. The same single-value checks serve
//! the command-line additions, so a flag and a file entry are judged alike.

use std::collections::HashMap;

use crate::host;
use crate::keypath::KeyPath;
use crate::names::validate_name_pattern;
use crate::schema::{Credential, Policy};
use crate::units::{parse_duration, parse_resolve, parse_size, validate_env_name, Cidr};

/// The first problem found, with the key it concerns.
#[derive(Debug)]
pub(crate) struct Problem {
    pub path: KeyPath,
    pub message: String,
}

type Check = fn(&str) -> Result<(), String>;

/// A filesystem path as written in a policy: `~`, `~/x`, relative or absolute.
pub(crate) fn check_path(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("empty path".to_string());
    }
    if raw.contains('\0') {
        return Err("path holds a NUL byte".to_string());
    }
    if raw.starts_with('~') && raw != "~" && !raw.starts_with("~/") {
        return Err("~user paths are not supported; write ~/ or a full path".to_string());
    }
    Ok(())
}

pub(crate) fn check_domain(raw: &str) -> Result<(), String> {
    // The host checker names the host part; when that is the whole entry the caller's own
    // quoting already shows it.
    host::validate_pattern(raw).map_err(|reason| {
        let named = format!("`{raw}`: ");
        reason
            .strip_prefix(&named)
            .map_or(reason.clone(), str::to_string)
    })
}

pub(crate) fn check_cidr(raw: &str) -> Result<(), String> {
    Cidr::parse(raw).map(|_| ())
}

pub(crate) fn check_resolve(raw: &str) -> Result<(), String> {
    parse_resolve(raw).map(|_| ())
}

pub(crate) fn check_size(raw: &str) -> Result<(), String> {
    match parse_size(raw)? {
        0 => Err("must be greater than 0".to_string()),
        _ => Ok(()),
    }
}

pub(crate) fn check_duration(raw: &str) -> Result<(), String> {
    if parse_duration(raw)?.is_zero() {
        return Err("must be greater than 0".to_string());
    }
    Ok(())
}

pub(crate) fn check_cpus(cpus: f64) -> Result<(), String> {
    if cpus.is_finite() && cpus > 0.0 {
        Ok(())
    } else {
        Err("must be a number greater than 0".to_string())
    }
}

/// Formats a failed single-value check as `"VALUE": REASON`.
pub(crate) fn quoted(value: &str, reason: String) -> String {
    format!("{value:?}: {reason}")
}

fn each(base: &KeyPath, list: &[String], check: Check) -> Result<(), Problem> {
    for (i, v) in list.iter().enumerate() {
        one(base.index(i), v, check)?;
    }
    Ok(())
}

fn one(path: KeyPath, value: &str, check: Check) -> Result<(), Problem> {
    check(value).map_err(|reason| Problem {
        path,
        message: quoted(value, reason),
    })
}

fn opt(path: KeyPath, value: &Option<String>, check: Check) -> Result<(), Problem> {
    value.as_deref().map_or(Ok(()), |v| one(path, v, check))
}

fn fail(path: KeyPath, message: impl Into<String>) -> Result<(), Problem> {
    Err(Problem {
        path,
        message: message.into(),
    })
}

pub(crate) fn validate(p: &Policy) -> Result<(), Problem> {
    let root = KeyPath::default();
    if p.version > 1 {
        let msg = format!("unsupported version {} (only version 1 exists)", p.version);
        return fail(root.key("version"), msg);
    }

    let fs = root.key("filesystem");
    let f = &p.filesystem;
    opt(fs.key("workspace"), &f.workspace, check_path)?;
    each(&fs.key("allow_write"), &f.allow_write, check_path)?;
    each(&fs.key("deny_read"), &f.deny_read, check_path)?;
    each(&fs.key("allow_read"), &f.allow_read, check_path)?;
    each(
        &fs.key("deny_read_names"),
        &f.deny_read_names,
        validate_name_pattern,
    )?;
    each(&fs.key("protect"), &f.protect, check_path)?;
    each(
        &fs.key("allow_unix_sockets"),
        &f.allow_unix_sockets,
        check_path,
    )?;

    let net = root.key("network");
    let n = &p.network;
    each(&net.key("allow"), &n.allow, check_domain)?;
    each(&net.key("deny"), &n.deny, check_domain)?;
    each(&net.key("allow_cidr"), &n.allow_cidr, check_cidr)?;
    each(&net.key("resolve"), &n.resolve, check_resolve)?;
    opt(net.key("audit_log"), &n.audit_log, check_path)?;
    opt(
        net.key("upstream_extra_ca"),
        &n.upstream_extra_ca,
        check_path,
    )?;
    opt(net.key("tls_terminate"), &n.tls_terminate, |v| match v {
        "off" | "as_needed" | "all" => Ok(()),
        _ => Err("expected off, as_needed or all".to_string()),
    })?;

    let env = root.key("env");
    each(&env.key("pass"), &p.env.pass, validate_env_name)?;
    for (name, value) in &p.env.set {
        let path = env.key("set").key(name);
        one(path.clone(), name, validate_env_name)?;
        if value.contains('\0') {
            return fail(path, "value holds a NUL byte");
        }
    }

    let lim = root.key("limits");
    let l = &p.limits;
    opt(lim.key("memory"), &l.memory, check_size)?;
    opt(lim.key("timeout"), &l.timeout, check_duration)?;
    opt(lim.key("tmp_size"), &l.tmp_size, check_size)?;
    opt(lim.key("tmpfs_size"), &l.tmpfs_size, check_size)?;
    opt(lim.key("file_size"), &l.file_size, check_size)?;
    for (key, value) in [("pids", l.pids), ("open_files", l.open_files)] {
        if value == Some(0) {
            return fail(lim.key(key), "must be greater than 0");
        }
    }
    if let Some(cpus) = l.cpus {
        check_cpus(cpus).or_else(|m| fail(lim.key("cpus"), m))?;
    }

    let mut first_by_id: HashMap<&str, usize> = HashMap::new();
    let mut first_by_port: HashMap<u16, usize> = HashMap::new();
    for (i, c) in p.credentials.iter().enumerate() {
        let path = root.key("credential").index(i);
        if let Some(first) = first_by_id.get(c.id.as_str()) {
            let msg = format!(
                "duplicate id {:?} (first used by credential[{first}])",
                c.id
            );
            return fail(path.key("id"), msg);
        }
        first_by_id.insert(&c.id, i);
        validate_credential(&path, c)?;
        // Two endpoints cannot listen on one port inside the sandbox.
        if let Some(ep) = &c.endpoint {
            if let Some(first) = first_by_port.get(&ep.port) {
                let msg = format!("port {} is already credential[{first}]'s endpoint", ep.port);
                return fail(path.key("endpoint").key("port"), msg);
            }
            first_by_port.insert(ep.port, i);
        }
    }
    Ok(())
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn validate_credential(path: &KeyPath, c: &Credential) -> Result<(), Problem> {
    if c.id.is_empty() {
        return fail(path.key("id"), "empty id");
    }
    let id_ok = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
    if !c.id.bytes().all(id_ok) {
        return fail(
            path.key("id"),
            quoted(
                &c.id,
                "an id may hold only letters, digits, '-', '_' and '.'".into(),
            ),
        );
    }

    let src = path.key("source");
    let s = &c.source;
    let set = [s.env.is_some(), s.file.is_some(), s.command.is_some()];
    match set.iter().filter(|b| **b).count() {
        0 => return fail(src, "needs one of env, file or command"),
        1 => {}
        _ => return fail(src, "set only one of env, file or command"),
    }
    opt(src.key("env"), &s.env, validate_env_name)?;
    opt(src.key("file"), &s.file, check_path)?;
    if let Some(cmd) = &s.command {
        if !matches!(cmd.first(), Some(prog) if !prog.is_empty()) {
            return fail(src.key("command"), "needs a program name first");
        }
    }

    let bind = path.key("bind");
    let b = &c.bind;
    if b.host.is_empty() {
        return fail(bind.key("host"), "empty host");
    }
    one(bind.key("host"), &b.host, check_domain)?;
    opt(bind.key("scheme"), &b.scheme, |v| match v {
        "http" | "https" => Ok(()),
        _ => Err("expected http or https".to_string()),
    })?;
    if b.port == Some(0) {
        return fail(bind.key("port"), "must be from 1 to 65535");
    }
    each(&bind.key("methods"), &b.methods, |m| {
        if is_token(m) {
            Ok(())
        } else {
            Err("not an HTTP method".to_string())
        }
    })?;
    each(&bind.key("path_prefixes"), &b.path_prefixes, |p| {
        if p.starts_with('/') {
            Ok(())
        } else {
            Err("a path prefix starts with '/'".to_string())
        }
    })?;

    let substitute = c.substitute == Some(true);
    match (&c.header, substitute) {
        (Some(_), true) => {
            return fail(
                path.key("substitute"),
                "header and substitute = true exclude each other",
            )
        }
        (None, false) => return fail(path.clone(), "needs header or substitute = true"),
        _ => {}
    }
    if let Some(h) = &c.header {
        one(path.key("header"), h, |h| {
            if is_token(h) {
                Ok(())
            } else {
                Err("not an HTTP header name".to_string())
            }
        })?;
    }
    if let Some(f) = &c.format {
        if c.header.is_none() {
            return fail(path.key("format"), "format needs header");
        }
        if f.matches("{}").count() != 1 {
            let reason = "must hold {} exactly once, where the secret goes".to_string();
            return fail(path.key("format"), quoted(f, reason));
        }
    }
    match &c.placeholder {
        Some(ph) => {
            one(
                path.key("placeholder").key("env"),
                &ph.env,
                validate_env_name,
            )?;
            opt(path.key("placeholder").key("prefix"), &ph.prefix, |p| {
                if p.bytes().all(|b| b.is_ascii_graphic()) {
                    Ok(())
                } else {
                    Err("a prefix may hold only visible ASCII".to_string())
                }
            })?;
        }
        None if substitute => {
            return fail(path.clone(), "substitute = true needs a placeholder table");
        }
        None => {}
    }
    if let Some(ep) = &c.endpoint {
        if ep.port == 0 {
            return fail(path.key("endpoint").key("port"), "must be from 1 to 65535");
        }
        one(path.key("endpoint").key("env"), &ep.env, validate_env_name)?;
        if c.header.is_none() {
            return fail(path.key("endpoint"), "an endpoint needs header");
        }
    }
    Ok(())
}
