//! The built-in default policy and the built-in lists every policy starts from.
//!
//! Reads are allowed everywhere but the secret stores below; writes go to the workspace and a
//! private `/tmp` only; there is no network. A policy file adds to these lists; it drops them
//! only with `filesystem.builtin_rules = false`.
//!
//! Paths that start with `~/` are relative to the caller's home ([`crate::expand_path`] takes
//! them as they are); [`BUILTIN_PROTECT_NAMES`] are relative to each writable root.

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

/// The policy used when no file is found: version 1, no rules of its own, built-in lists on.
pub fn builtin_default() -> Policy {
    Policy {
        version: 1,
        ..Policy::default()
    }
}

/// The lists a policy is enforced with: its own entries plus, unless
/// `filesystem.builtin_rules = false`, the built-in ones. A [`Policy`] holds only what its
/// file and flags said; the sandbox takes these.
impl Policy {
    /// Whether the built-in lists apply (`filesystem.builtin_rules`, default true).
    pub fn builtin_rules_enabled(&self) -> bool {
        self.filesystem.builtin_rules != Some(false)
    }

    /// Paths hidden from the sandbox: [`BUILTIN_DENY_READ`] then `filesystem.deny_read`, each
    /// once.
    pub fn effective_deny_read(&self) -> Vec<String> {
        merged(
            self.builtin(&[BUILTIN_DENY_READ]),
            &self.filesystem.deny_read,
        )
    }

    /// Name patterns hidden inside writable roots, in match order: [`BUILTIN_DENY_NAMES`]
    /// then `filesystem.deny_read_names` (so the policy's own `!pattern` can re-show a name).
    pub fn effective_deny_read_names(&self) -> Vec<String> {
        let builtin = self.builtin(&[BUILTIN_DENY_NAMES]);
        let own = &self.filesystem.deny_read_names;
        // A printed effective policy loaded back already starts with the built-in list; adding
        // it again would not change a match, but would double the list.
        let repeats_builtin =
            own.len() >= builtin.len() && own.iter().zip(&builtin).all(|(o, b)| o == b);
        if repeats_builtin {
            return own.clone();
        }
        builtin
            .iter()
            .map(|s| s.to_string())
            .chain(own.iter().cloned())
            .collect()
    }

    /// Paths kept read-only relative to each writable root and repository root
    /// ([`BUILTIN_PROTECT_NAMES`]), or none when the built-in rules are off.
    pub fn effective_protect_names(&self) -> Vec<String> {
        merged(self.builtin(&[BUILTIN_PROTECT_NAMES]), &[])
    }

    /// Home paths kept read-only when a writable root covers them ([`BUILTIN_HOME_PROTECT`]),
    /// or none when the built-in rules are off.
    pub fn effective_home_protect(&self) -> Vec<String> {
        merged(self.builtin(&[BUILTIN_HOME_PROTECT]), &[])
    }

    fn builtin(&self, lists: &[&'static [&'static str]]) -> Vec<&'static str> {
        if !self.builtin_rules_enabled() {
            return Vec::new();
        }
        lists.iter().flat_map(|l| l.iter().copied()).collect()
    }
}

/// Built-in entries first, then the policy's, each once.
pub(crate) fn merged(builtin: Vec<&str>, own: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in builtin.into_iter().chain(own.iter().map(String::as_str)) {
        if !out.iter().any(|e| e == entry) {
            out.push(entry.to_string());
        }
    }
    out
}

#[cfg(test)]
#[path = "builtin_tests.rs"]
mod tests;
