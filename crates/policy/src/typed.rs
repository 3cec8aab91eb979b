//! Typed views of the string-valued settings, for the crates that enforce them. A policy that
//! passed [`crate::load_file`] or [`Policy::extend`] always parses; the `Result`s are for
//! values set in code afterwards.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::schema::{FsMode, Limits, Network};
use crate::units::{parse_duration, parse_resolve, parse_size, Cidr};

fn size(v: &Option<String>) -> Result<Option<u64>, String> {
    v.as_deref().map(parse_size).transpose()
}

impl Limits {
    /// `memory` in bytes.
    pub fn memory_bytes(&self) -> Result<Option<u64>, String> {
        size(&self.memory)
    }

    /// `tmp_size` (the private `/tmp`) in bytes.
    pub fn tmp_size_bytes(&self) -> Result<Option<u64>, String> {
        size(&self.tmp_size)
    }

    /// `tmpfs_size` (the `--fs tmpfs` write layer) in bytes.
    pub fn tmpfs_size_bytes(&self) -> Result<Option<u64>, String> {
        size(&self.tmpfs_size)
    }

    /// `file_size` (largest file the command may write) in bytes.
    pub fn file_size_bytes(&self) -> Result<Option<u64>, String> {
        size(&self.file_size)
    }

    /// `timeout` as a duration.
    pub fn timeout_duration(&self) -> Result<Option<Duration>, String> {
        self.timeout.as_deref().map(parse_duration).transpose()
    }
}

impl Network {
    /// `allow_cidr`, parsed.
    pub fn cidrs(&self) -> Result<Vec<Cidr>, String> {
        self.allow_cidr.iter().map(|c| Cidr::parse(c)).collect()
    }

    /// `resolve`, parsed into (host as written, address) pairs, in order.
    pub fn resolve_entries(&self) -> Result<Vec<(String, IpAddr)>, String> {
        self.resolve.iter().map(|r| parse_resolve(r)).collect()
    }
}

impl FsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FsMode::Direct => "direct",
            FsMode::Overlay => "overlay",
            FsMode::Tmpfs => "tmpfs",
        }
    }
}

impl fmt::Display for FsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FsMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(FsMode::Direct),
            "overlay" => Ok(FsMode::Overlay),
            "tmpfs" => Ok(FsMode::Tmpfs),
            _ => Err(format!("{s:?} is not one of: direct, overlay, tmpfs")),
        }
    }
}
