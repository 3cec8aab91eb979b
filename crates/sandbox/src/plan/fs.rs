//! The filesystem plan: which host paths the sandbox sees writable, read-only or not at all.
//!
//! Rules are order-independent: every rule is a (path, kind) pair, and the mounts are applied
//! shallowest first, so the most specific rule covers whatever a shorter path set up. A deny
//! on a file inside a writable directory is therefore never re-exposed by the directory's
//! bind, whatever order the policy listed them in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::resolve::{resolve_rule_path, ResolveError};
use super::walk::walk_root;

/// Everything the planner needs, already expanded (`~`, relative paths) but not yet resolved.
#[derive(Debug, Clone, Default)]
pub struct FsInputs {
    pub home: PathBuf,
    /// Canonical workspace directory.
    pub workspace: PathBuf,
    pub allow_write: Vec<PathBuf>,
    pub deny_read: Vec<PathBuf>,
    pub allow_read: Vec<PathBuf>,
    /// Explicit extra protected paths.
    pub protect: Vec<PathBuf>,
    /// Names protected relative to each writable root and each repository root.
    pub protect_names: Vec<String>,
    /// Absolute paths (in `$HOME`) protected when a writable root contains them.
    pub home_protect: Vec<PathBuf>,
    /// File-name globs hidden inside writable roots.
    pub deny_names: Vec<String>,
    pub allow_unix_sockets: Vec<PathBuf>,
    /// Host sockets to mask beyond the ones found under `/run` (e.g. `$SSH_AUTH_SOCK`).
    pub extra_sockets: Vec<PathBuf>,
    pub tmp_size: Option<u64>,
    /// Palisade's own executable: the sandbox's init runs it, so it must not be writable.
    pub exe: Option<PathBuf>,
    /// Where the workspace's writes go: `None` writes through to the host (direct mode).
    pub layer: Option<WriteLayer>,
}

/// The upper layer of an overlaid workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteLayer {
    /// Host directories (a change set), kept after the run.
    Store { upper: PathBuf, work: PathBuf },
    /// A tmpfs inside the sandbox, gone with it.
    Tmpfs { size: Option<u64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOp {
    pub path: PathBuf,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Bind the host path writable (recursively, as the host has it).
    BindWritable,
    /// Bind the host path read-only, recursively.
    BindReadOnly,
    /// Bind a directory onto itself so it becomes a mount point: renaming or removing it then
    /// fails with EBUSY, so a protected path below it cannot be moved aside and recreated.
    Anchor,
    /// Hide a directory under an empty read-only tmpfs. `traversable` (mode 0111 instead of
    /// 0000) when a carve-out below it must stay reachable.
    MaskDir { traversable: bool },
    /// Hide a file (or socket) under an empty, unreadable, read-only file.
    MaskFile,
    /// A private tmpfs (`/tmp`).
    Tmpfs { size: Option<u64> },
    /// The workspace as an overlayfs: the host directory below, writes into the layer. Deeper
    /// operations inside it still apply on top.
    Overlay(WriteLayer),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsPlan {
    /// The host root is always bound read-only first, then these, in order.
    pub ops: Vec<MountOp>,
    pub write_roots: Vec<PathBuf>,
    /// Protected paths that do not exist yet (see README, Limitations).
    pub protect_missing: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // Declared in increasing priority: on the same path, the later kind wins (fail closed).
    Write,
    Read,
    Protect,
    Deny,
}

/// Paths the sandbox gets fresh instances of; rules below them are meaningless.
const SYSTEM_DIRS: &[&str] = &["/proc", "/dev", "/sys"];

pub fn build_fs_plan(inputs: &FsInputs) -> Result<FsPlan, ResolveError> {
    super::resolve::with_cache(|| plan_with(inputs))
}

fn plan_with(inputs: &FsInputs) -> Result<FsPlan, ResolveError> {
    let mut plan = FsPlan::default();
    let mut rules: BTreeMap<PathBuf, Kind> = BTreeMap::new();
    let lexical_roots: Vec<PathBuf> = std::iter::once(inputs.workspace.clone())
        .chain(inputs.allow_write.iter().cloned())
        .collect();

    // 1. Writable roots.
    for raw in &lexical_roots {
        match resolve_rule_path(raw, &lexical_roots[..1])? {
            Some(p) if p.exists() => {
                add(&mut rules, p.clone(), Kind::Write);
                if !plan.write_roots.contains(&p) {
                    plan.write_roots.push(p);
                }
            }
            _ => plan.warnings.push(format!(
                "allow-write path {} does not exist; skipped (Palisade creates nothing on the host)",
                raw.display()
            )),
        }
    }
    let roots = plan.write_roots.clone();

    // 2. Explicit denies and read carve-outs.
    for raw in &inputs.deny_read {
        if let Some(p) = resolve_rule_path(raw, &roots)? {
            if p.symlink_metadata().is_ok() {
                add(&mut rules, p, Kind::Deny);
            }
        }
    }
    for raw in &inputs.allow_read {
        if let Some(p) = resolve_rule_path(raw, &roots)? {
            if p.exists() {
                add(&mut rules, p, Kind::Read);
            }
        }
    }

    // 3. Inside writable roots: secret names, repositories, protected names.
    let mut protect: Vec<PathBuf> = Vec::new();
    for root in outermost(&roots) {
        let found = walk_root(&root, &inputs.deny_names);
        if found.truncated {
            plan.warnings.push(format!(
                "{} has more than {} entries; secret names were looked for in the first ones only",
                root.display(),
                super::walk::WALK_LIMIT
            ));
        }
        for f in found.secret_files {
            add(&mut rules, f, Kind::Deny);
        }
        for repo in found.repos {
            protect.extend(git_protected(&repo));
            protect.extend(inputs.protect_names.iter().map(|n| repo.join(n)));
        }
    }
    for root in &roots {
        // A root that is not a repository yet keeps `git init` working: its `.git/...` names
        // are protected only once `.git` exists (see README, Limitations).
        let repo = root.join(".git").symlink_metadata().is_ok();
        let names = inputs
            .protect_names
            .iter()
            .filter(|n| repo || !n.starts_with(".git/"));
        protect.extend(names.map(|n| root.join(n)));
        protect.extend(git_protected(root));
    }
    protect.extend(inputs.home_protect.iter().cloned());
    protect.extend(inputs.protect.iter().cloned());
    protect.extend(inputs.exe.iter().cloned());
    for raw in protect {
        let Some(p) = resolve_rule_path(&raw, &roots)? else {
            continue;
        };
        if !roots.iter().any(|r| p.starts_with(r)) {
            continue; // outside every writable root it is read-only already
        }
        if p.symlink_metadata().is_ok() {
            add(&mut rules, p, Kind::Protect);
        } else if !plan.protect_missing.contains(&p) {
            plan.protect_missing.push(p);
        }
    }

    // 4. Host daemon sockets.
    let mut sockets = find_sockets(Path::new("/run"), 6);
    sockets.extend(
        inputs
            .extra_sockets
            .iter()
            .filter(|p| is_socket(p))
            .cloned(),
    );
    for s in sockets {
        if !inputs.allow_unix_sockets.iter().any(|a| a == &s) {
            add(&mut rules, s, Kind::Deny);
        }
    }

    if rules.get(Path::new("/")) == Some(&Kind::Deny) {
        return Err(ResolveError::Unenforceable {
            path: PathBuf::from("/"),
            why: "hiding the whole root leaves nothing to run; deny the directories you mean"
                .into(),
        });
    }
    rules.retain(|path, _| {
        let system = SYSTEM_DIRS.iter().any(|d| path.starts_with(d));
        if system {
            plan.warnings.push(format!(
                "rule on {} ignored: the sandbox has its own",
                path.display()
            ));
        }
        !system && path != Path::new("/")
    });
    plan.ops = order_ops(&rules, inputs.tmp_size);
    if let Some(layer) = &inputs.layer {
        overlay_workspace(&mut plan.ops, &inputs.workspace, layer);
    }
    Ok(plan)
}

/// Turns the workspace's writable bind into the overlay, adding it when the workspace sat
/// inside another writable root (whose bind then covered it).
fn overlay_workspace(ops: &mut Vec<MountOp>, workspace: &Path, layer: &WriteLayer) {
    let action = Action::Overlay(layer.clone());
    match ops.iter_mut().find(|op| op.path == workspace) {
        Some(op) => op.action = action,
        None => ops.push(MountOp {
            path: workspace.to_path_buf(),
            action,
        }),
    }
    ops.sort_by_key(|op| op.path.components().count());
}

fn add(rules: &mut BTreeMap<PathBuf, Kind>, path: PathBuf, kind: Kind) {
    let slot = rules.entry(path).or_insert(kind);
    if kind > *slot {
        *slot = kind;
    }
}

/// Roots not nested in another root: walking those covers every root once.
fn outermost(roots: &[PathBuf]) -> Vec<PathBuf> {
    roots
        .iter()
        .filter(|r| !roots.iter().any(|o| o != *r && r.starts_with(o)))
        .cloned()
        .collect()
}

/// The git metadata a host `git` executes or obeys, for the repository whose work tree is `dir`.
fn git_protected(dir: &Path) -> Vec<PathBuf> {
    let dot_git = dir.join(".git");
    let mut out = Vec::new();
    let mut git_dirs = Vec::new();
    if dot_git.is_dir() {
        git_dirs.push(dot_git);
    } else if dot_git.is_file() {
        // A worktree or submodule: the `.git` file points elsewhere, and repointing it would
        // hand git a config of the sandbox's choosing.
        out.push(dot_git.clone());
        if let Ok(text) = std::fs::read_to_string(&dot_git) {
            if let Some(rest) = text.lines().next().and_then(|l| l.strip_prefix("gitdir:")) {
                let gd = dir.join(rest.trim());
                if let Ok(common) = std::fs::read_to_string(gd.join("commondir")) {
                    git_dirs.push(gd.join(common.trim()));
                }
                git_dirs.push(gd);
            }
        }
    }
    while let Some(gd) = git_dirs.pop() {
        for name in [
            "hooks",
            "config",
            "config.worktree",
            "info",
            "commondir",
            "gitdir",
            "worktrees",
        ] {
            out.push(gd.join(name));
        }
        if let Ok(mods) = std::fs::read_dir(gd.join("modules")) {
            git_dirs.extend(mods.flatten().map(|e| e.path()));
        }
    }
    out
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    path.symlink_metadata()
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

fn find_sockets(dir: &Path, depth: usize) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_socket() {
            out.push(e.path());
        } else if ft.is_dir() && depth > 0 {
            out.extend(find_sockets(&e.path(), depth - 1));
        }
    }
    out
}

/// Turns the rule map into mount operations, shallowest first, dropping rules that change
/// nothing (a deny inside a deny, a protect outside any writable root).
fn order_ops(rules: &BTreeMap<PathBuf, Kind>, tmp_size: Option<u64>) -> Vec<MountOp> {
    let nearest = |p: &Path| -> Option<(PathBuf, Kind)> {
        p.ancestors()
            .skip(1)
            .find_map(|a| rules.get(a).map(|k| (a.to_path_buf(), *k)))
    };
    let mut ops: Vec<MountOp> = Vec::new();
    let mut anchors: Vec<PathBuf> = Vec::new();
    for (path, kind) in rules {
        let parent = nearest(path);
        let parent_kind = parent.as_ref().map(|(_, k)| *k);
        let action = match (kind, parent_kind) {
            (Kind::Write, Some(Kind::Write)) => continue,
            (Kind::Write, _) => Action::BindWritable,
            (Kind::Read, None | Some(Kind::Read) | Some(Kind::Protect)) => continue,
            (Kind::Read, _) => Action::BindReadOnly,
            (Kind::Protect, Some(Kind::Write)) => {
                if let Some((root, _)) = &parent {
                    for a in path.ancestors().skip(1) {
                        if a == root {
                            break;
                        }
                        if !rules.contains_key(a) && !anchors.iter().any(|x| x == a) {
                            anchors.push(a.to_path_buf());
                        }
                    }
                }
                Action::BindReadOnly
            }
            (Kind::Protect, _) => continue,
            (Kind::Deny, Some(Kind::Deny)) => continue,
            (Kind::Deny, _) => {
                if path.is_dir() {
                    let traversable = rules.keys().any(|k| k != path && k.starts_with(path));
                    Action::MaskDir { traversable }
                } else {
                    Action::MaskFile
                }
            }
        };
        ops.push(MountOp {
            path: path.clone(),
            action,
        });
    }
    ops.extend(anchors.into_iter().map(|path| MountOp {
        path,
        action: Action::Anchor,
    }));
    ops.push(MountOp {
        path: PathBuf::from("/tmp"),
        action: Action::Tmpfs { size: tmp_size },
    });
    // Stable sort: shallowest first; at equal depth the paths are disjoint, so any order holds.
    ops.sort_by_key(|op| op.path.components().count());
    ops
}
