//! How often refused deliveries are logged: a flood of bad requests cannot fill a disk.

use tokio::time::Instant;

/// Refused deliveries are logged at warn, at most this many a minute: a flood of bad requests
/// cannot fill a disk, and a signature mismatch still shows in the log at once.
const REFUSALS_LOGGED_PER_MINUTE: u32 = 10;

/// How many refusals were logged in the current minute, and how many were not.
#[derive(Debug)]
pub struct RefusalLog {
    minute_started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self {
            minute_started: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }
}

impl RefusalLog {
    /// Whether this refusal may be logged, and how many went unlogged before it.
    pub(super) fn admit(&mut self, now: Instant) -> Option<u64> {
        if now.duration_since(self.minute_started) >= std::time::Duration::from_secs(60) {
            self.minute_started = now;
            self.logged = 0;
        }
        if self.logged >= REFUSALS_LOGGED_PER_MINUTE {
            self.suppressed += 1;
            return None;
        }
        self.logged += 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}
