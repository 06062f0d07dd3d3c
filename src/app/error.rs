//! Why the exporter cannot start.

use crate::config::ConfigError;

/// Why the exporter cannot start. Each names what to fix (a flag, a file, a path); the flags'
/// and files' errors keep their cause as their source.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A flag, or a file a flag names (the shared key, the web config, the API token).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store cannot be opened, migrated, locked or replayed.
    #[error("{0}")]
    Store(String),
    /// The API poller cannot be built.
    #[error("{0}")]
    Poller(String),
}
