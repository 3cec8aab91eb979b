//! The launch plan: everything the sandbox will do, computed on the host before `clone`, as
//! plain data. Tests compare whole plans; the executor only follows them.

mod env;
mod fs;
mod resolve;
mod walk;

pub use env::{build_env, EnvPlan};
pub use fs::{build_fs_plan, Action, FsInputs, FsPlan, MountOp, WriteLayer};
pub use resolve::{resolve_rule_path, ResolveError};

#[cfg(test)]
#[path = "fs_tests.rs"]
mod fs_tests;
