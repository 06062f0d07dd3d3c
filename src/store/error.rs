//! Why the store could not take a delivery: the error every part of the store returns.

use crate::telemetry::StoreErrorReason;

/// Why the store could not take a delivery. The `reason` is the label of
/// `platformsh_exporter_store_errors_total`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StoreError {
    pub reason: StoreErrorReason,
    pub message: String,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let reason = match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreErrorReason::DiskFull,
            Some(ErrorCode::ReadOnly) => StoreErrorReason::ReadOnly,
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreErrorReason::Corrupt,
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorReason::Locked,
            Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => StoreErrorReason::Io,
            _ => StoreErrorReason::Other,
        };
        Self {
            reason,
            message: e.to_string(),
        }
    }
}

impl StoreError {
    pub(super) fn stopped() -> Self {
        Self {
            reason: StoreErrorReason::Stopped,
            message: "the store's writer has stopped".into(),
        }
    }
}
