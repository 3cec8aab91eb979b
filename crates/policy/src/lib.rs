//! The Palisade policy: what a sandboxed command may read, write and reach.
//!
//! This crate makes no syscalls beyond reading the policy file. It turns a TOML file (or the
//! built-in default) plus command-line additions into one [`Policy`] value, validated, with
//! errors that name the file, line, column and key. Turning paths into mounts is the sandbox
//! crate's job; deciding network targets is the proxy crate's.

pub mod host;
mod schema;

pub use schema::*;
