//! What `--version` prints.

/// `--version`, as Prometheus tools print theirs.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision: ",
    env!("PLATFORMSH_EXPORTER_REVISION"),
    ")\n  build date:   ",
    env!("PLATFORMSH_EXPORTER_BUILD_DATE"),
    "\n  rust version: ",
    env!("PLATFORMSH_EXPORTER_RUST_VERSION"),
    "\n  platform:     ",
    env!("PLATFORMSH_EXPORTER_TARGET"),
);
