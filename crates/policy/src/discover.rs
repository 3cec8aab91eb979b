//! Finding the policy for a run: `--config FILE`, else `./palisade.toml`, else the user's
//! config file, else the built-in default.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::builtin::builtin_default;
use crate::error::PolicyError;
use crate::load::load_file;
use crate::schema::Policy;

/// Where the policy came from, for `palisade check` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// Named with `--config`.
    Explicit(PathBuf),
    /// `palisade.toml` in the current directory.
    CurrentDir(PathBuf),
    /// `$XDG_CONFIG_HOME/palisade/config.toml` (default `~/.config/palisade/config.toml`).
    UserConfig(PathBuf),
    /// No file: the built-in default.
    Builtin,
}

impl PolicySource {
    /// The file read, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            PolicySource::Explicit(p)
            | PolicySource::CurrentDir(p)
            | PolicySource::UserConfig(p) => Some(p),
            PolicySource::Builtin => None,
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::Explicit(p) => write!(f, "{} (--config)", p.display()),
            PolicySource::CurrentDir(p) => write!(f, "{} (current directory)", p.display()),
            PolicySource::UserConfig(p) => write!(f, "{} (user config)", p.display()),
            PolicySource::Builtin => f.write_str("built-in default"),
        }
    }
}

/// The user config directory: `$XDG_CONFIG_HOME` when set to an absolute path (the XDG
/// rules say to ignore a relative one), else `HOME/.config`.
pub fn user_config_dir(xdg_config_home: Option<OsString>, home: Option<&Path>) -> Option<PathBuf> {
    match xdg_config_home.map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => Some(dir),
        _ => home.map(|h| h.join(".config")),
    }
}

/// Finds and loads the policy, reading `XDG_CONFIG_HOME` from the environment. See
/// [`discover_in`].
pub fn discover(
    explicit: Option<&Path>,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<(Policy, PolicySource), PolicyError> {
    let config_dir = user_config_dir(std::env::var_os("XDG_CONFIG_HOME"), home);
    discover_in(explicit, cwd, config_dir.as_deref())
}

/// Finds and loads the policy: `explicit` must exist; otherwise the first of
/// `cwd/palisade.toml` and `config_dir/palisade/config.toml` that exists is loaded, and with
/// neither the built-in default applies. A candidate that exists but cannot be read or parsed
/// is an error, never skipped: falling through to a looser policy would hide the mistake.
pub fn discover_in(
    explicit: Option<&Path>,
    cwd: &Path,
    config_dir: Option<&Path>,
) -> Result<(Policy, PolicySource), PolicyError> {
    if let Some(path) = explicit {
        return Ok((load_file(path)?, PolicySource::Explicit(path.to_path_buf())));
    }
    let local = cwd.join("palisade.toml");
    if present(&local) {
        return Ok((load_file(&local)?, PolicySource::CurrentDir(local)));
    }
    if let Some(dir) = config_dir {
        let user = dir.join("palisade").join("config.toml");
        if present(&user) {
            return Ok((load_file(&user)?, PolicySource::UserConfig(user)));
        }
    }
    Ok((builtin_default(), PolicySource::Builtin))
}

/// Something is there, even a dangling symlink or a directory, so that loading it reports
/// the problem.
fn present(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#[path = "discover_tests.rs"]
mod tests;
