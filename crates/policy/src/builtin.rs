//! The built-in default policy and the built-in lists every policy starts from.
//!
//! Reads are allowed everywhere but the secret stores below; writes go to the workspace and a
//! private `/tmp` only; there is no network. A policy file adds to these lists; it drops them
//! only with `filesystem.builtin_rules = false`.
//!
//! Paths that start with `~/` are relative to the caller's home ([`crate::expand_path`] takes
//! them as they are); [`BUILTIN_PROTECT_NAMES`] are relative to each writable root, as are the
//! relative entries of `filesystem.protect`.

use crate::schema::Policy;

/// Secret stores under the home directory, hidden from the sandbox (reads and writes fail).
///
/// Cloud and cluster credentials, registry and forge tokens, SSH and GPG keys, password
/// managers and keyrings, browser profiles (saved passwords and session cookies), and shell
/// and database client histories, where pasted tokens and passwords end up.
///
/// Left out on purpose: coding agents' own login files (`~/.claude/.credentials.json`,
/// `~/.codex/auth.json`), which the agent running inside needs until it is set up with a
/// proxy-held credential instead; and build files that mix settings with secrets
/// (`~/.m2/settings.xml`, `~/.gradle/gradle.properties`), which builds must read. Add them
/// to `filesystem.deny_read` where that trade-off goes the other way.
pub const BUILTIN_DENY_READ: &[&str] = &[
    // SSH, GPG, password stores and desktop keyrings.
    "~/.ssh",
    "~/.gnupg",
    "~/.password-store",
    "~/.local/share/keyrings",
    "~/.local/share/kwalletd",
    "~/.pki",
    // Cloud, cluster and infrastructure credentials.
    "~/.aws",
    "~/.azure",
    "~/.config/gcloud",
    "~/.oci",
    "~/.kube",
    "~/.config/doctl",
    "~/.config/hcloud",
    "~/.fly",
    "~/.terraform.d/credentials.tfrc.json",
    "~/.vault-token",
    "~/.config/op",
    "~/.config/rclone",
    "~/.s3cfg",
    "~/.boto",
    "~/.mc/config.json",
    "~/.config/sops",
    // Registries, forges and package managers.
    "~/.docker/config.json",
    "~/.config/containers/auth.json",
    "~/.git-credentials",
    "~/.config/git/credentials",
    "~/.netrc",
    "~/.npmrc",
    "~/.yarnrc.yml",
    "~/.pypirc",
    "~/.gem/credentials",
    "~/.cargo/credentials.toml",
    "~/.cargo/credentials",
    "~/.m2/settings-security.xml",
    "~/.config/gh",
    "~/.config/hub",
    "~/.config/glab-cli",
    // Database clients.
    "~/.pgpass",
    "~/.my.cnf",
    // Browser profiles and mail.
    "~/.mozilla",
    "~/.thunderbird",
    "~/.config/google-chrome",
    "~/.config/chromium",
    "~/.config/BraveSoftware",
    "~/.config/microsoft-edge",
    "~/.config/vivaldi",
    "~/.config/opera",
    // Histories.
    "~/.bash_history",
    "~/.zsh_history",
    "~/.local/share/fish/fish_history",
    "~/.python_history",
    "~/.psql_history",
    "~/.mysql_history",
    "~/.node_repl_history",
];

/// File-name patterns hidden wherever they appear inside writable roots (see [`crate::names`]
/// for the syntax: last match wins, `!` makes an exception).
///
/// `.env.example`, `.env.sample`, `.env.template` and `.env.dist` stay visible: by convention
/// they are committed templates without real values, and agents read them to learn a
/// project's settings. A policy that wants them hidden lists them again after this list.
pub const BUILTIN_DENY_NAMES: &[&str] = &[
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "!.env.dist",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "*.kdbx",
    "*-service-account.json",
    "client_secret*.json",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.tfstate",
    "*.tfstate.backup",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".htpasswd",
    ".dockercfg",
];

/// Paths relative to each writable root (and each git repository inside one) kept read-only
/// there: files that the host's git, editors and agents act on later, outside the sandbox
/// (hooks run on the next commit, `core.fsmonitor` or an alias in `.git/config` runs on the
/// next `git status`, editor and agent settings start tools or MCP servers, `.envrc` runs
/// under direnv).
///
/// `palisade.toml` is here because a policy file in the workspace must not be rewritable by
/// the command it confines.
pub const BUILTIN_PROTECT_NAMES: &[&str] = &[
    ".git/hooks",
    ".git/config",
    ".git/config.worktree",
    ".git/info",
    // These redirect git to another config or repository of the sandbox's choosing.
    ".git/commondir",
    ".git/gitdir",
    ".git/worktrees",
    ".git/modules",
    ".gitmodules",
    ".vscode",
    ".idea",
    ".zed",
    ".claude",
    ".codex",
    ".cursor",
    ".gemini",
    ".windsurf",
    ".mcp.json",
    ".envrc",
    ".devcontainer",
    "palisade.toml",
];

/// Home paths the host executes or loads later: shell start-up files, session autostart,
/// user services, the user's `PATH` directories, tool configs that name programs to run, and
/// agent and Palisade settings. Kept read-only when a writable root covers them (for example
/// `--allow-write ~`), so a confined command cannot plant code for the next login shell.
pub const BUILTIN_HOME_PROTECT: &[&str] = &[
    // Shells.
    "~/.bashrc",
    "~/.bashrc.d",
    "~/.bash_profile",
    "~/.bash_login",
    "~/.bash_logout",
    "~/.profile",
    "~/.zshrc",
    "~/.zshenv",
    "~/.zprofile",
    "~/.zlogin",
    "~/.zlogout",
    "~/.oh-my-zsh",
    "~/.config/fish",
    "~/.nvm",
    "~/.inputrc",
    // Sessions and services.
    "~/.xprofile",
    "~/.xsessionrc",
    "~/.xinitrc",
    "~/.pam_environment",
    "~/.config/autostart",
    "~/.config/systemd/user",
    "~/.config/environment.d",
    "~/.local/share/applications",
    // Programs on PATH or imported at start-up.
    "~/.local/bin",
    "~/bin",
    "~/.local/lib",
    "~/.cargo/bin",
    "~/.cargo/config.toml",
    "~/.cargo/config",
    "~/.ssh/rc",
    "~/.ssh/authorized_keys",
    "~/.npmrc",
    "~/.config/pip",
    "~/.docker/config.json",
    "~/.config/direnv",
    // Editors, git and terminal multiplexers.
    "~/.vimrc",
    "~/.vim",
    "~/.config/nvim",
    "~/.emacs",
    "~/.emacs.d",
    "~/.config/Code/User",
    "~/.tmux.conf",
    "~/.config/tmux",
    "~/.gitconfig",
    "~/.config/git",
    // Agents and Palisade itself.
    "~/.claude",
    "~/.claude.json",
    "~/.codex",
    "~/.gemini",
    "~/.cursor",
    "~/.config/palisade",
];

/// The policy used when no file is found: version 1, the built-in lists, nothing else.
pub fn builtin_default() -> Policy {
    let mut p = Policy {
        version: 1,
        ..Policy::default()
    };
    p.apply_builtin_rules();
    p
}

impl Policy {
    /// Whether the built-in lists apply (`filesystem.builtin_rules`, default true).
    pub fn builtin_rules_enabled(&self) -> bool {
        self.filesystem.builtin_rules != Some(false)
    }

    /// Puts the built-in lists in front of the policy's own entries, unless
    /// `filesystem.builtin_rules = false`: [`BUILTIN_DENY_READ`] into `deny_read`,
    /// [`BUILTIN_DENY_NAMES`] into `deny_read_names`, [`BUILTIN_PROTECT_NAMES`] and
    /// [`BUILTIN_HOME_PROTECT`] into `protect`. [`crate::load_file`], [`crate::discover`] and
    /// [`builtin_default`] have done this already, so the fields are the complete lists.
    ///
    /// Running it again changes nothing, so a printed policy loads back the same.
    pub fn apply_builtin_rules(&mut self) {
        if !self.builtin_rules_enabled() {
            return;
        }
        let fs = &mut self.filesystem;
        fs.deny_read = merged(&[BUILTIN_DENY_READ], &fs.deny_read);
        fs.deny_read_names = merged_in_order(BUILTIN_DENY_NAMES, &fs.deny_read_names);
        fs.protect = merged(&[BUILTIN_PROTECT_NAMES, BUILTIN_HOME_PROTECT], &fs.protect);
    }
}

/// Built-in entries first, then the policy's, each once.
fn merged(builtin: &[&[&str]], own: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = builtin.iter().flat_map(|l| l.iter().copied());
    for entry in all.chain(own.iter().map(String::as_str)) {
        if !out.iter().any(|e| e == entry) {
            out.push(entry.to_string());
        }
    }
    out
}

/// [`merged`] for name patterns, whose order matters (last match wins), so nothing is
/// dropped: the built-in list goes first unless the policy's list already starts with it.
fn merged_in_order(builtin: &[&str], own: &[String]) -> Vec<String> {
    if starts_with(own, builtin) {
        return own.to_vec();
    }
    builtin
        .iter()
        .map(|s| s.to_string())
        .chain(own.iter().cloned())
        .collect()
}

/// Whether `list` begins with all of `prefix`.
pub(crate) fn starts_with(list: &[String], prefix: &[&str]) -> bool {
    list.len() >= prefix.len() && list.iter().zip(prefix).all(|(a, b)| a == b)
}

#[cfg(test)]
#[path = "builtin_tests.rs"]
mod tests;
