//! The Palisade policy: what a sandboxed command may read, write and reach.
//!
//! This crate makes no syscalls beyond reading the policy file. It turns a TOML file (or the
//! built-in default) plus command-line additions into one [`Policy`] value, validated, with
//! errors that name the file, line, column and key. Turning paths into mounts is the sandbox
//! crate's job; deciding network targets is the proxy crate's.
//!
//! - Loading: [`discover`] (`--config`, `./palisade.toml`, the user config, the built-in
//!   default), [`load_file`], [`load_str`]; errors read `FILE:LINE:COL: KEY: MESSAGE`.
//! - Built-in rules: [`builtin_default`], the `BUILTIN_*` lists, folded into every loaded
//!   policy by [`Policy::apply_builtin_rules`] unless `filesystem.builtin_rules = false`.
//! - Flags: [`Additions`] and [`Policy::extend`], checked like the file.
//! - Values: [`parse_size`], [`parse_duration`], [`Cidr`], [`parse_resolve`], [`names`] for
//!   file-name patterns, [`host`] for network patterns, [`expand_path`] for paths,
//!   [`is_secret_env`] for environment scrubbing.
//! - Printing: [`Policy::to_toml_pretty`].

mod additions;
mod builtin;
mod discover;
mod env;
mod error;
pub mod host;
mod keypath;
mod load;
pub mod names;
mod paths;
mod render;
mod schema;
mod typed;
mod units;
mod validate;

pub use additions::Additions;
pub use builtin::{
    builtin_default, BUILTIN_DENY_NAMES, BUILTIN_DENY_READ, BUILTIN_HOME_PROTECT,
    BUILTIN_PROTECT_NAMES,
};
pub use discover::{discover, discover_in, user_config_dir, PolicySource};
pub use env::{is_secret_env, SECRET_ENV_NAMES};
pub use error::{FileError, PolicyError};
pub use load::{load_file, load_str, parse_str};
pub use names::{glob_match, is_name_hidden, validate_name_pattern};
pub use paths::{expand_path, normalize};
pub use schema::*;
pub use units::{parse_duration, parse_resolve, parse_size, validate_env_name, Cidr};
