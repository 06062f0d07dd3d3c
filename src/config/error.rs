//! Why flags that parse cannot be used.

use std::path::{Path, PathBuf};

/// Flags that parse but cannot be used: a combination clap cannot check, or a file a flag
/// names. Each says which flag or file, and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Flags that do not go together (paths that collide, a budget too small).
    #[error("{0}")]
    Flags(String),
    #[error("cannot read the {what} {}: {source}", path.display())]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what} {}: {reason}", path.display())]
    Invalid {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl ConfigError {
    pub fn invalid(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            what,
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// The text of the file `path`, which a flag names as its `what`.
pub fn read(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        what,
        path: path.to_owned(),
        source,
    })
}
