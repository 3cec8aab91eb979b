//! Command-line additions to a policy (`palisade run --allow-domain …`), checked by the same
//! rules as the file and reported by flag.

use crate::error::PolicyError;
use crate::names::validate_name_pattern;
use crate::schema::{FsMode, Policy};
use crate::units::validate_env_name;
use crate::validate::{
    check_cidr, check_cpus, check_domain, check_duration, check_path, check_resolve, check_size,
};

/// What the `run` flags add to or override in the loaded policy. List flags add entries;
/// single-value flags replace the file's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Additions {
    /// `--workspace DIR`
    pub workspace: Option<String>,
    /// `--allow-write PATH`
    pub allow_write: Vec<String>,
    /// `--deny-read PATH`
    pub deny_read: Vec<String>,
    /// `--deny-read-name GLOB`
    pub deny_read_names: Vec<String>,
    /// `--allow-domain PAT`
    pub allow_domain: Vec<String>,
    /// `--deny-domain PAT`
    pub deny_domain: Vec<String>,
    /// `--allow-cidr CIDR`
    pub allow_cidr: Vec<String>,
    /// `--resolve HOST:ADDR`
    pub resolve: Vec<String>,
    /// `--env NAME` (pass a host variable) or `--env NAME=VALUE` (set one).
    pub env: Vec<String>,
    /// `--audit-log FILE`
    pub audit_log: Option<String>,
    /// `--fs direct|overlay|tmpfs`
    pub fs_mode: Option<FsMode>,
    /// `--memory SIZE`
    pub memory: Option<String>,
    /// `--pids N`
    pub pids: Option<u64>,
    /// `--cpus N`
    pub cpus: Option<f64>,
    /// `--timeout DURATION`
    pub timeout: Option<String>,
    /// `--tmp-size SIZE`
    pub tmp_size: Option<String>,
    /// `--best-effort-limits`: run with the limits the host can enforce.
    pub best_effort_limits: bool,
}

fn flag_err(flag: &str, value: &str, message: String) -> PolicyError {
    PolicyError::Flag {
        flag: flag.to_string(),
        value: value.to_string(),
        message,
    }
}

fn check_all(
    flag: &str,
    values: &[String],
    check: fn(&str) -> Result<(), String>,
) -> Result<(), PolicyError> {
    for v in values {
        check(v).map_err(|m| flag_err(flag, v, m))?;
    }
    Ok(())
}

fn check_one(
    flag: &str,
    value: &Option<String>,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), PolicyError> {
    value
        .as_deref()
        .map_or(Ok(()), |v| check(v).map_err(|m| flag_err(flag, v, m)))
}

fn check_env(entry: &str) -> Result<(), String> {
    let name = entry.split_once('=').map_or(entry, |(n, _)| n);
    validate_env_name(name)?;
    if entry.contains('\0') {
        return Err("value holds a NUL byte".to_string());
    }
    Ok(())
}

impl Additions {
    /// Checks every value, naming the flag in the error; nothing is applied by this.
    pub fn validate(&self) -> Result<(), PolicyError> {
        check_one("--workspace", &self.workspace, check_path)?;
        check_all("--allow-write", &self.allow_write, check_path)?;
        check_all("--deny-read", &self.deny_read, check_path)?;
        check_all(
            "--deny-read-name",
            &self.deny_read_names,
            validate_name_pattern,
        )?;
        check_all("--allow-domain", &self.allow_domain, check_domain)?;
        check_all("--deny-domain", &self.deny_domain, check_domain)?;
        check_all("--allow-cidr", &self.allow_cidr, check_cidr)?;
        check_all("--resolve", &self.resolve, check_resolve)?;
        check_all("--env", &self.env, check_env)?;
        check_one("--audit-log", &self.audit_log, check_path)?;
        check_one("--memory", &self.memory, check_size)?;
        check_one("--timeout", &self.timeout, check_duration)?;
        check_one("--tmp-size", &self.tmp_size, check_size)?;
        if let Some(0) = self.pids {
            return Err(flag_err(
                "--pids",
                "0",
                "must be greater than 0".to_string(),
            ));
        }
        if let Some(cpus) = self.cpus {
            check_cpus(cpus).map_err(|m| flag_err("--cpus", &cpus.to_string(), m))?;
        }
        Ok(())
    }
}

impl Policy {
    /// Applies command-line additions after checking all of them; on error the policy is left
    /// unchanged.
    pub fn extend(&mut self, add: Additions) -> Result<(), PolicyError> {
        add.validate()?;
        let fs = &mut self.filesystem;
        if add.workspace.is_some() {
            fs.workspace = add.workspace;
        }
        push_new(&mut fs.allow_write, add.allow_write);
        push_new(&mut fs.deny_read, add.deny_read);
        // Name patterns are ordered (last match wins), so a flag's pattern goes last even if
        // it repeats an earlier one.
        fs.deny_read_names.extend(add.deny_read_names);
        if add.fs_mode.is_some() {
            fs.mode = add.fs_mode;
        }

        let net = &mut self.network;
        push_new(&mut net.allow, add.allow_domain);
        push_new(&mut net.deny, add.deny_domain);
        push_new(&mut net.allow_cidr, add.allow_cidr);
        push_new(&mut net.resolve, add.resolve);
        if add.audit_log.is_some() {
            net.audit_log = add.audit_log;
        }

        for entry in add.env {
            match entry.split_once('=') {
                Some((name, value)) => {
                    self.env.set.insert(name.to_string(), value.to_string());
                }
                None => push_new(&mut self.env.pass, vec![entry]),
            }
        }

        let lim = &mut self.limits;
        lim.memory = add.memory.or(lim.memory.take());
        lim.pids = add.pids.or(lim.pids);
        lim.cpus = add.cpus.or(lim.cpus);
        lim.timeout = add.timeout.or(lim.timeout.take());
        lim.tmp_size = add.tmp_size.or(lim.tmp_size.take());
        if add.best_effort_limits {
            lim.best_effort = Some(true);
        }
        Ok(())
    }
}

fn push_new(list: &mut Vec<String>, more: Vec<String>) {
    for v in more {
        if !list.contains(&v) {
            list.push(v);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "additions_tests.rs"]
mod tests;
