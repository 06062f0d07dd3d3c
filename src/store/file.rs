//! The database file: an exclusive lock for the process lifetime, and a check that the path
//! still names the file that was opened.

use std::path::{Path, PathBuf};

use super::error::StoreError;
use crate::telemetry::StoreErrorReason;

/// The database file this process opened, to notice when it is deleted or replaced under the
/// running exporter: SQLite would go on writing to the unlinked file, answering 2xx for
/// deliveries that no restart could replay.
#[derive(Debug)]
pub(super) struct Identity {
    path: PathBuf,
    file: Option<(u64, u64)>,
    /// The file opened, read again at each check: truncated or overwritten in place (an
    /// operator's `>`, a tool told to write its output there), it keeps its inode but no
    /// longer starts as a SQLite database does.
    opened: Option<std::fs::File>,
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// An exclusive lock on the database, held by the writer until it stops: a second exporter
/// on the same database refuses to start instead of overwriting this one's saved counters.
/// On a file beside the database, not the database itself: closing any descriptor of the
/// database would drop SQLite's own locks on it.
#[derive(Debug)]
pub(super) struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    pub(super) fn take(path: &Path) -> Result<Self, String> {
        let lock_path = lock_path(path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open the lock file {}: {e}", lock_path.display()))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => format!(
                "another exporter is using the store {} (it holds {}); give each its own \
                 --storage.path",
                path.display(),
                lock_path.display()
            ),
            std::fs::TryLockError::Error(e) => {
                format!("cannot lock {}: {e}", lock_path.display())
            }
        })?;
        Ok(Self(lock))
    }
}

impl Identity {
    /// The file now at `path`: the one just opened.
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            file: Self::of(path),
            opened: std::fs::File::open(path).ok(),
        }
    }

    pub(super) fn of(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    /// An error unless the path still names the file that was opened, and that file is
    /// still a SQLite database.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        if self.file.is_none() || Self::of(&self.path) != self.file {
            return Err(StoreError {
                reason: StoreErrorReason::Replaced,
                message: format!(
                    "the database {} was deleted or replaced while the exporter ran; restart \
                     it to open the file now there",
                    self.path.display()
                ),
            });
        }
        if !self.starts_as_sqlite() {
            return Err(StoreError {
                reason: StoreErrorReason::Replaced,
                message: format!(
                    "the database {} was truncated or overwritten while the exporter ran; \
                     nothing more is written to it: restore it from a backup, then restart",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    fn starts_as_sqlite(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.opened else {
            return false;
        };
        let mut header = [0; 16];
        // One pread per commit, next to the fsync.
        file.read_exact_at(&mut header, 0).is_ok() && &header == SQLITE_HEADER
    }
}

/// The lock file of the database at `path`.
pub(super) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
