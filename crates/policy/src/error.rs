//! The policy crate's one error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a policy could not be loaded, extended or applied.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A problem inside a policy file, with its place.
    #[error("{0}")]
    File(FileError),
    /// A bad command-line value, e.g. `--allow-domain "*.": empty label`.
    #[error("{flag} {value:?}: {message}")]
    Flag {
        flag: String,
        value: String,
        message: String,
    },
    /// A path the path rules refuse, e.g. `"~bob/x": ~user paths are not supported`.
    #[error("{raw:?}: {message}")]
    Path { raw: String, message: String },
}

/// A located problem in a policy file. Displays as `FILE:LINE:COLUMN: KEY: MESSAGE`, the key
/// being a dotted path such as `network.allow[1]` (left out when the text is not valid TOML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Dotted key path, e.g. `credential[1].id`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

impl PolicyError {
    /// The located file problem, if this is one (for tests and editors).
    pub fn file_error(&self) -> Option<&FileError> {
        match self {
            PolicyError::File(e) => Some(e),
            _ => None,
        }
    }
}
