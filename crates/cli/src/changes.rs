//! `palisade changes`: review what `--fs overlay` runs wrote, and the run-side bookkeeping
//! (a change set per run, its status when the run ends).
//!
//! Exit status: 0 done, 1 some paths refused (conflicts, or a change that cannot be applied
//! alone), 125 usage or I/O errors.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use palisade_sandbox::overlay::{self, format_time, Change, ChangeKind, ChangeSet, Entry, Store};
use palisade_sandbox::plan::{FsInputs, WriteLayer};

use crate::inputs::{self, Effective};

#[derive(clap::Subcommand)]
pub enum ChangesCmd {
    /// The change sets kept, oldest first.
    List,
    /// What a change set would do to its workspace (all of it, or the PATHs given).
    Diff(Target),
    /// Write a change set to its workspace (all of it, or the changes at or below each PATH).
    Apply {
        #[command(flatten)]
        target: Target,
        /// Overwrite host files that changed since the run started.
        #[arg(long)]
        force: bool,
    },
    /// Drop a change set (all of it, or the changes at or below each PATH).
    Discard(Target),
}

#[derive(clap::Args)]
pub struct Target {
    /// The change set, as `palisade changes list` shows it.
    id: String,
    /// Paths relative to the workspace root, or absolute paths inside it.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
}

pub fn main(cmd: ChangesCmd) -> i32 {
    let mut out = std::io::stdout().lock();
    match run(cmd, &mut out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("palisade: {e:#}");
            125
        }
    }
}

fn store() -> Store {
    let xdg = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from);
    Store::new(Store::default_root(&inputs::home_dir(), xdg.as_deref()))
}

fn run(cmd: ChangesCmd, out: &mut impl Write) -> Result<i32> {
    let store = store();
    match cmd {
        ChangesCmd::List => {
            list(&store, out)?;
            Ok(0)
        }
        ChangesCmd::Diff(Target { id, paths }) => {
            let cs = store.open(&id)?;
            let select = selection(&cs, &paths)?;
            let changes = overlay::compute(&cs)?;
            let manifest = cs.manifest()?;
            for c in changes.iter().filter(|c| selected(&c.path, &select)) {
                if let Some(why) = overlay::conflict(&cs, &manifest, c) {
                    writeln!(out, "! {}: {why}", shown(&c.path))?;
                }
                render(&cs, c, out)?;
            }
            Ok(0)
        }
        ChangesCmd::Apply {
            target: Target { id, paths },
            force,
        } => {
            let cs = store.open(&id)?;
            let select = selection(&cs, &paths)?;
            let o = overlay::apply(&cs, &select, force)?;
            report(&cs, "applied", &o, out)
        }
        ChangesCmd::Discard(Target { id, paths }) => {
            let cs = store.open(&id)?;
            let select = selection(&cs, &paths)?;
            let o = overlay::discard(&cs, &select)?;
            report(&cs, "discarded", &o, out)
        }
    }
}

fn report(cs: &ChangeSet, verb: &str, o: &overlay::Outcome, out: &mut impl Write) -> Result<i32> {
    for p in &o.done {
        writeln!(out, "{verb} {}", shown(p))?;
    }
    for (p, why) in &o.refused {
        eprintln!("palisade: {}: not {verb}: {why}", shown(p));
    }
    if o.finished {
        writeln!(out, "change set {} is done and removed", cs.meta.id)?;
    } else {
        writeln!(out, "change set {} still holds pending changes", cs.meta.id)?;
    }
    Ok(if o.refused.is_empty() { 0 } else { 1 })
}

fn list(store: &Store, out: &mut impl Write) -> Result<()> {
    let sets = store.list()?;
    if sets.is_empty() {
        writeln!(out, "no change sets in {}", store.root().display())?;
        return Ok(());
    }
    writeln!(out, "ID\tSTATE\tSTARTED\tCHANGES\tWORKSPACE\tCOMMAND")?;
    for cs in sets {
        let counts = match overlay::compute(&cs) {
            Ok(ch) => {
                let n = |f: fn(&ChangeKind) -> bool| ch.iter().filter(|c| f(&c.kind)).count();
                format!(
                    "+{} ~{} -{}",
                    n(|k| matches!(k, ChangeKind::Added(_))),
                    n(|k| matches!(k, ChangeKind::Modified { .. } | ChangeKind::Replaced { .. })),
                    n(|k| matches!(k, ChangeKind::Deleted(_))),
                )
            }
            Err(e) => format!("unreadable ({e})"),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            cs.meta.id,
            cs.state(),
            format_time(cs.meta.started),
            counts,
            shown(&cs.meta.workspace),
            cs.meta
                .command
                .iter()
                .map(|a| shown(Path::new(a)))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    Ok(())
}

/// PATH arguments as paths relative to the workspace: absolute ones must lie in it,
/// relative ones are taken from the workspace root.
fn selection(cs: &ChangeSet, paths: &[String]) -> Result<Vec<PathBuf>> {
    let ws = &cs.meta.workspace;
    let mut out = Vec::new();
    for raw in paths {
        let p = Path::new(raw);
        let rel = if p.is_absolute() {
            p.strip_prefix(ws)
                .with_context(|| format!("{raw} is not in the workspace {}", ws.display()))?
        } else {
            p
        };
        let mut clean = PathBuf::new();
        for c in rel.components() {
            match c {
                Component::Normal(n) => clean.push(n),
                Component::CurDir => {}
                _ => bail!("{raw}: give a path inside the workspace, without '..'"),
            }
        }
        out.push(clean);
    }
    Ok(out)
}

fn selected(path: &Path, select: &[PathBuf]) -> bool {
    select.is_empty() || select.iter().any(|s| path.starts_with(s))
}

fn entry_word(e: Entry) -> &'static str {
    match e {
        Entry::File => "file",
        Entry::Dir => "directory",
        Entry::Symlink => "symlink",
        Entry::Other => "fifo or socket",
    }
}

/// A diff for one change: unified text for text files, one line for anything else.
fn render(cs: &ChangeSet, c: &Change, out: &mut impl Write) -> Result<()> {
    let p = shown(&c.path);
    let host = cs.meta.workspace.join(&c.path);
    let up = cs.upper().join(&c.path);
    match &c.kind {
        ChangeKind::Added(Entry::File) => {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::symlink_metadata(&up)?;
            let mode = meta.permissions().mode() & 0o7777;
            if meta.len() == 0 {
                writeln!(out, "new empty file {p} (mode {mode:04o})")?;
            } else {
                if mode & 0o111 != 0 {
                    writeln!(out, "new executable file {p} (mode {mode:04o})")?;
                }
                text_diff(&c.path, None, Some(&up), out)?;
            }
        }
        ChangeKind::Deleted(Entry::File) => text_diff(&c.path, Some(&host), None, out)?,
        ChangeKind::Added(Entry::Symlink) => {
            writeln!(out, "new symlink {p} -> {}", link(&up))?;
        }
        ChangeKind::Added(e) => writeln!(out, "new {} {p}", entry_word(*e))?,
        ChangeKind::Deleted(e) => writeln!(out, "deleted {} {p}", entry_word(*e))?,
        ChangeKind::Replaced { was, now } => {
            writeln!(
                out,
                "replaced {p}: {} -> {}",
                entry_word(*was),
                entry_word(*now)
            )?;
            if *now == Entry::Symlink {
                writeln!(out, "  {p} now points to {}", link(&up))?;
            }
            if *now == Entry::File {
                text_diff(&c.path, None, Some(&up), out)?;
            }
        }
        ChangeKind::Modified { content, mode } => {
            if let Some((old, new)) = mode {
                writeln!(out, "mode {p}: {old:04o} -> {new:04o}")?;
            }
            if *content {
                if up.is_symlink() {
                    writeln!(
                        out,
                        "symlink {p}: -> {} becomes -> {}",
                        link(&host),
                        link(&up)
                    )?;
                } else {
                    text_diff(&c.path, Some(&host), Some(&up), out)?;
                }
            }
        }
    }
    Ok(())
}

fn link(p: &Path) -> String {
    std::fs::read_link(p)
        .map(|t| shown(&t))
        .unwrap_or_else(|e| format!("(unreadable: {e})"))
}

/// Text content, or `None` for binary (a NUL byte, or not UTF-8).
fn text_of(p: &Path) -> Result<(Option<String>, u64)> {
    let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    let len = bytes.len() as u64;
    // A terminal control sequence in a diff could rewrite what the reviewer sees (erase
    // lines, move the cursor): such content is summarised like binary content.
    let control = |b: &u8| *b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r' | 0x0c);
    if bytes.iter().any(control) || bytes.contains(&0x7f) {
        return Ok((None, len));
    }
    Ok((String::from_utf8(bytes).ok(), len))
}

fn text_diff(
    rel: &Path,
    old: Option<&Path>,
    new: Option<&Path>,
    out: &mut impl Write,
) -> Result<()> {
    let p = shown(rel);
    let (old_text, old_len) = match old {
        Some(o) => text_of(o)?,
        None => (Some(String::new()), 0),
    };
    let (new_text, new_len) = match new {
        Some(n) => text_of(n)?,
        None => (Some(String::new()), 0),
    };
    let (Some(a), Some(b)) = (old_text, new_text) else {
        let what = match (old, new) {
            (None, _) => format!("added ({new_len} bytes)"),
            (_, None) => format!("deleted ({old_len} bytes)"),
            _ => format!("changed ({old_len} -> {new_len} bytes)"),
        };
        writeln!(out, "Binary file {p} {what}")?;
        return Ok(());
    };
    let ha = if old.is_some() {
        format!("a/{p}")
    } else {
        "/dev/null".into()
    };
    let hb = if new.is_some() {
        format!("b/{p}")
    } else {
        "/dev/null".into()
    };
    // A crafted pair of files can make a line diff quadratic: past the deadline `similar`
    // falls back to a coarser (still correct) diff.
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(&a, &b);
    write!(
        out,
        "{}",
        diff.unified_diff().context_radius(3).header(&ha, &hb)
    )?;
    Ok(())
}

/// The change set of one overlay run: created before the sandbox, closed when the run ends
/// (on any return path). A supervisor killed outright never closes it: `list` then shows the
/// run as interrupted, and it applies like any other.
pub struct RunChanges {
    cs: ChangeSet,
    pub code: Option<i32>,
}

/// Sets `fs` up for the mode the policy asks for; `Some` in overlay mode.
pub fn prepare(
    eff: &Effective,
    argv: &[std::ffi::OsString],
    fs: &mut FsInputs,
) -> Result<Option<RunChanges>> {
    use palisade_policy::FsMode;
    let mode = eff.policy.filesystem.mode.unwrap_or_default();
    if mode == FsMode::Direct {
        return Ok(None);
    }
    if overlay::unsafe_for_overlay(&eff.workspace) {
        bail!(
            "--fs {mode}: the workspace path {} holds a character overlayfs cannot take \
             (',', ':', '\\' or a newline)",
            eff.workspace.display()
        );
    }
    if mode == FsMode::Tmpfs {
        let size = eff
            .policy
            .limits
            .tmpfs_size_bytes()
            .map_err(anyhow::Error::msg)?;
        fs.layer = Some(WriteLayer::Tmpfs {
            size: Some(size.unwrap_or(DEFAULT_TMPFS_LAYER)),
        });
        return Ok(None);
    }
    let store = store();
    let root = store.root();
    if root.starts_with(&eff.workspace) || eff.workspace.starts_with(root) {
        bail!(
            "--fs overlay: the change store {} overlaps the workspace {}; set XDG_STATE_HOME \
             to a directory outside it",
            root.display(),
            eff.workspace.display()
        );
    }
    let command: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cs = store
        .create(&eff.workspace, &command)
        .context("cannot create the change set")?;
    if overlay::unsafe_for_overlay(&cs.dir) {
        let _ = cs.remove();
        bail!(
            "--fs overlay: the change store path {} holds a character overlayfs cannot take",
            root.display()
        );
    }
    // The command must not see or touch any change set, its own included.
    fs.deny_read.push(root.to_path_buf());
    fs.layer = Some(WriteLayer::Store {
        upper: cs.upper(),
        work: cs.work(),
    });
    eprintln!(
        "palisade: overlay: writes to {} go to change set {}",
        eff.workspace.display(),
        cs.meta.id
    );
    Ok(Some(RunChanges { cs, code: None }))
}

/// 1 GiB when `limits.tmpfs_size` is not set.
pub const DEFAULT_TMPFS_LAYER: u64 = 1 << 30;

impl Drop for RunChanges {
    fn drop(&mut self) {
        let id = self.cs.meta.id.clone();
        if let Err(e) = self.cs.finish(self.code.unwrap_or(125)) {
            eprintln!("palisade: change set {id}: {e}");
        }
        match overlay::compute(&self.cs) {
            Ok(ch) if ch.is_empty() => {
                let _ = self.cs.remove();
                eprintln!("palisade: overlay: no changes");
            }
            Ok(ch) => eprintln!(
                "palisade: overlay: {} change(s) kept in change set {id}; review with \
                 `palisade changes diff {id}`, then `palisade changes apply {id}` or `discard`",
                ch.len()
            ),
            Err(e) => eprintln!("palisade: change set {id}: {e}"),
        }
    }
}

/// A path as it may be printed: the command chose these names, so control characters (a
/// newline forging a line, an escape sequence) are shown escaped, never sent to the terminal.
fn shown(p: &Path) -> String {
    let text = p.to_string_lossy();
    if !text.chars().any(char::is_control) {
        return text.into_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
