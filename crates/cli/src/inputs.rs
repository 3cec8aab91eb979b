//! From command-line flags to an effective policy and the sandbox plan's inputs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use palisade_policy::{Additions, Policy, PolicySource};
use palisade_sandbox::plan::FsInputs;

use crate::PolicyArgs;

pub struct Effective {
    pub policy: Policy,
    pub source: PolicySource,
    pub home: PathBuf,
    pub cwd: PathBuf,
    pub workspace: PathBuf,
}

pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    // SAFETY: getpwuid returns a pointer into static storage or null.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_dir.is_null() {
            let dir = std::ffi::CStr::from_ptr((*pw).pw_dir);
            return PathBuf::from(dir.to_string_lossy().into_owned());
        }
    }
    PathBuf::from("/")
}

pub fn load(args: &PolicyArgs) -> Result<Effective> {
    let cwd = std::env::current_dir().context("the current directory is not accessible")?;
    let home = home_dir();
    let (mut policy, source) =
        palisade_policy::discover(args.config.as_deref(), &cwd, Some(&home))?;
    policy.extend(additions(args))?;
    if let Some(n) = args.open_files {
        anyhow::ensure!(n > 0, "--open-files must be at least 1");
        policy.limits.open_files = Some(n);
    }
    if let Some(size) = &args.file_size {
        palisade_policy::parse_size(size)
            .map_err(|m| anyhow::anyhow!("--file-size {size:?}: {m}"))?;
        policy.limits.file_size = Some(size.clone());
    }
    // The proxy opens the audit log from the supervisor, whose directory is the caller's. It
    // appends with the caller's rights: a policy planted by an earlier run must not turn that
    // into a write to `~/.bashrc` or a hook, so only a log file name is accepted (and the
    // proxy opens it without following a symlink).
    if let Some(log) = &policy.network.audit_log {
        let abs = palisade_policy::expand_path(log, &home, &cwd)?;
        let name = abs.file_name().and_then(|n| n.to_str()).unwrap_or("");
        anyhow::ensure!(
            [".jsonl", ".json", ".log"]
                .iter()
                .any(|ext| name.ends_with(ext)),
            "audit log {}: the file name must end in .jsonl, .json or .log",
            abs.display()
        );
        policy.network.audit_log = Some(abs.to_string_lossy().into_owned());
    }
    let raw_ws = policy
        .filesystem
        .workspace
        .clone()
        .unwrap_or_else(|| ".".to_string());
    let ws = palisade_policy::expand_path(&raw_ws, &home, &cwd)?;
    let workspace = std::fs::canonicalize(&ws)
        .with_context(|| format!("workspace {} does not exist", ws.display()))?;
    Ok(Effective {
        policy,
        source,
        home,
        cwd,
        workspace,
    })
}

fn additions(a: &PolicyArgs) -> Additions {
    Additions {
        workspace: a.workspace.clone(),
        allow_write: a.allow_write.clone(),
        deny_read: a.deny_read.clone(),
        allow_domain: a.allow_domain.clone(),
        deny_domain: a.deny_domain.clone(),
        allow_cidr: a.allow_cidr.clone(),
        resolve: a.resolve.clone(),
        env: a.env.clone(),
        audit_log: a.audit_log.clone(),
        memory: a.memory.clone(),
        pids: a.pids,
        cpus: a.cpus,
        timeout: a.timeout.clone(),
        tmp_size: a.tmp_size.clone(),
        best_effort_limits: a.best_effort_limits,
        fs_mode: a.fs.map(Into::into),
        ..Additions::default()
    }
}

pub fn fs_inputs(eff: &Effective) -> Result<FsInputs> {
    let fs = &eff.policy.filesystem;
    let expand = |raw: &String| palisade_policy::expand_path(raw, &eff.home, &eff.workspace);
    let expand_all = |list: &[String]| list.iter().map(expand).collect::<Result<Vec<_>, _>>();
    let mut protect = Vec::new();
    let mut protect_names = Vec::new();
    for p in &fs.protect {
        if p.starts_with('~') || p.starts_with('/') {
            protect.push(expand(p)?);
        } else {
            protect_names.push(p.clone());
        }
    }
    let tmp_size = eff
        .policy
        .limits
        .tmp_size
        .as_deref()
        .map(palisade_policy::parse_size)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let extra_sockets = std::env::var_os("SSH_AUTH_SOCK")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    Ok(FsInputs {
        home: eff.home.clone(),
        workspace: eff.workspace.clone(),
        allow_write: expand_all(&fs.allow_write)?,
        deny_read: {
            let mut deny = expand_all(&fs.deny_read)?;
            deny.extend(hidden_state(eff)?);
            deny
        },
        allow_read: expand_all(&fs.allow_read)?,
        protect,
        protect_names,
        home_protect: Vec::new(),
        deny_names: fs.deny_read_names.clone(),
        allow_unix_sockets: expand_all(&fs.allow_unix_sockets)?,
        extra_sockets,
        tmp_size,
        exe: std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok()),
        layer: None,
    })
}

/// Host files Palisade itself relies on, hidden in every mode: the state directory (change
/// sets that a later `palisade changes apply` writes to the host) and the files credentials
/// are read from.
fn hidden_state(eff: &Effective) -> Result<Vec<PathBuf>> {
    let xdg = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from);
    let changes = palisade_sandbox::overlay::Store::default_root(&eff.home, xdg.as_deref());
    let mut out: Vec<PathBuf> = changes
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    for cred in &eff.policy.credentials {
        if let Some(file) = &cred.source.file {
            out.push(palisade_policy::expand_path(
                file,
                &eff.home,
                &eff.workspace,
            )?);
        }
    }
    Ok(out)
}

/// The directory the command starts in: the caller's, when the sandbox can see it.
pub fn start_dir(eff: &Effective) -> PathBuf {
    if eff.cwd.starts_with(&eff.workspace) || Path::new(&eff.cwd).exists() {
        eff.cwd.clone()
    } else {
        eff.workspace.clone()
    }
}
