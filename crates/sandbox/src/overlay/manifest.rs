//! The workspace as it was when the run started: one stamp per entry.
//!
//! A stamp is (kind, size, mtime, ctime, inode), not a content hash: reading every file of a
//! large workspace before each run would cost seconds, while a stat walk of 50,000 entries
//! takes a fraction of that. Any write through the file API moves mtime and ctime, and
//! replacing a file (an editor's write-and-rename) changes the inode; ctime cannot be set
//! back from user space, so a host change during the run cannot hide behind a restored
//! mtime.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{io_err, OverlayError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `f` file, `d` directory, `l` symlink, `o` anything else.
    pub kind: u8,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        path.symlink_metadata().ok().map(|m| Stamp::from_meta(&m))
    }

    pub fn from_meta(m: &std::fs::Metadata) -> Stamp {
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            b'd'
        } else if ft.is_file() {
            b'f'
        } else if ft.is_symlink() {
            b'l'
        } else {
            b'o'
        };
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            kind,
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
        }
    }

    /// Same entry, unchanged. A directory only has to stay a directory: its times move
    /// whenever an entry in it does, and those entries are checked on their own.
    pub fn same(&self, other: &Stamp) -> bool {
        if self.kind == b'd' || other.kind == b'd' {
            return self.kind == other.kind;
        }
        self == other
    }
}

/// Stamps keyed by path relative to the workspace.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub entries: BTreeMap<PathBuf, Stamp>,
}

impl Manifest {
    /// Walks `workspace` without following symlinks or leaving its filesystem (overlayfs does
    /// not see mounts below its lower directory either).
    pub fn take(workspace: &Path) -> Result<Manifest> {
        let root = workspace.symlink_metadata().map_err(io_err(workspace))?;
        let dev = root.dev();
        let mut entries = BTreeMap::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let dir = workspace.join(&rel);
            let Ok(list) = std::fs::read_dir(&dir) else {
                continue; // unreadable: the sandbox cannot read it either
            };
            for e in list.flatten() {
                let Ok(m) = e.metadata() else { continue };
                let child = rel.join(e.file_name());
                let stamp = Stamp::from_meta(&m);
                if stamp.kind == b'd' && m.dev() == dev {
                    stack.push(child.clone());
                }
                entries.insert(child, stamp);
            }
        }
        Ok(Manifest { entries })
    }

    pub fn get(&self, rel: &Path) -> Option<&Stamp> {
        self.entries.get(rel)
    }

    /// Entries strictly below `rel`.
    pub fn below<'a>(&'a self, rel: &'a Path) -> impl Iterator<Item = (&'a PathBuf, &'a Stamp)> {
        self.entries
            .range(rel.to_path_buf()..)
            .skip_while(move |(p, _)| p.as_path() == rel)
            .take_while(move |(p, _)| p.starts_with(rel))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(self.entries.len() * 64);
        for (p, s) in &self.entries {
            let _ = write!(
                out,
                "{} {} {} {} {} ",
                s.kind as char, s.size, s.mtime_ns, s.ctime_ns, s.ino
            );
            escape(p.as_os_str().as_bytes(), &mut out);
            out.push(b'\n');
        }
        std::fs::write(path, out).map_err(io_err(path))
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let data = std::fs::read(path).map_err(io_err(path))?;
        let corrupt = |n: usize| OverlayError::Corrupt {
            path: path.to_path_buf(),
            why: format!("line {n} is not a manifest entry"),
        };
        let mut entries = BTreeMap::new();
        for (n, line) in data.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut f = line.splitn(6, |b| *b == b' ');
            let mut next = || f.next().ok_or_else(|| corrupt(n + 1));
            let kind = *next()?.first().ok_or_else(|| corrupt(n + 1))?;
            let num = |b: &[u8]| {
                std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse::<i128>().ok())
            };
            let size = num(next()?).ok_or_else(|| corrupt(n + 1))?;
            let mtime_ns = num(next()?).ok_or_else(|| corrupt(n + 1))?;
            let ctime_ns = num(next()?).ok_or_else(|| corrupt(n + 1))?;
            let ino = num(next()?).ok_or_else(|| corrupt(n + 1))?;
            let name = unescape(next()?).ok_or_else(|| corrupt(n + 1))?;
            let stamp = Stamp {
                kind,
                size: u64::try_from(size).map_err(|_| corrupt(n + 1))?,
                mtime_ns,
                ctime_ns,
                ino: u64::try_from(ino).map_err(|_| corrupt(n + 1))?,
            };
            entries.insert(PathBuf::from(OsString::from_vec(name)), stamp);
        }
        Ok(Manifest { entries })
    }
}

/// Path bytes with newline, backslash and other control or non-ASCII bytes as `\xNN`.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02x}");
        } else {
            out.push(b);
        }
    }
}

fn unescape(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = std::str::from_utf8(bytes.get(i + 2..i + 4)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}
