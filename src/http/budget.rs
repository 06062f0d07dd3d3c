//! The memory budget of webhook bodies, shared by every delivery in flight.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The granularity of the body memory budget, in bytes.
pub const BUDGET_UNIT: usize = 1024;

/// Bodies that declare at most this many bytes may use the budget's reserve. A delivery is
/// 2–50 KB unless its build log is long.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// The memory that webhook bodies may hold, all deliveries together
/// (`--webhook.body-memory-bytes`), in units of [`BUDGET_UNIT`].
///
/// An eighth of it (no more than what exceeds `--webhook.max-body-bytes`, so one body of the
/// largest size always fits the rest) is a reserve that only small bodies may use: large bodies
/// that stall cannot make a small delivery wait, and stalled small bodies are cut off by the
/// gap timeout long before the request timeout.
#[derive(Debug)]
pub struct BodyBudget {
    main: Arc<Semaphore>,
    reserve: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(total_bytes: usize, max_body_bytes: usize) -> Self {
        let reserve = (total_bytes / 8).min(total_bytes.saturating_sub(max_body_bytes));
        Self {
            main: Arc::new(Semaphore::new(
                (total_bytes - reserve).div_ceil(BUDGET_UNIT),
            )),
            reserve: Arc::new(Semaphore::new(reserve / BUDGET_UNIT)),
        }
    }

    /// Waits for `units` of the budget; a small body takes them from the reserve or the rest,
    /// whichever has room first.
    pub async fn acquire(&self, units: u32, small: bool) -> OwnedSemaphorePermit {
        let main = Arc::clone(&self.main).acquire_many_owned(units);
        let permit = if small {
            let reserve = Arc::clone(&self.reserve).acquire_many_owned(units);
            tokio::select! {
                biased;
                permit = reserve => permit,
                permit = main => permit,
            }
        } else {
            main.await
        };
        permit.expect("the body budget is never closed")
    }
}
