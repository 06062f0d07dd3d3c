//! The clock an activity is read with: its receipt time, and how far past it its timestamps are
//! believed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::activity::Activity;

use super::skipped::Reason;

/// The time an activity is shown at, as the recorder takes it: its latest timestamp, or the
/// receipt time when it has none or when it lies beyond `skew` past the receipt.
pub fn shown_at(activity: &Activity, received_at: DateTime<Utc>, skew: Duration) -> DateTime<Utc> {
    Clock::new(received_at, skew).at(activity.latest_timestamp())
}

/// The time an activity was received, and how far past it its timestamps are believed.
///
/// A timestamp beyond the skew is clamped to the receipt time wherever it sets a "last" gauge
/// (rather than refusing the delivery, which Platform.sh did perform): a completion dated 9999
/// would otherwise keep its environment "last deployed" forever, hiding every later failure.
/// Durations that involve such a timestamp are not observed. Replay passes the stored receipt
/// time, so it reaches the same values.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    received_at: DateTime<Utc>,
    latest: DateTime<Utc>,
}

impl Clock {
    pub(super) fn new(received_at: DateTime<Utc>, skew: Duration) -> Self {
        let skew = chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::MAX);
        Self {
            received_at,
            latest: received_at
                .checked_add_signed(skew)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// The instant `t` stands for: itself, or the receipt time when it is absent or beyond the
    /// skew.
    pub(super) fn at(self, t: Option<DateTime<Utc>>) -> DateTime<Utc> {
        match t {
            Some(t) if t <= self.latest => t,
            _ => self.received_at,
        }
    }

    /// `to − from` in seconds, or why it cannot be observed.
    pub(super) fn span(
        self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<f64, Reason> {
        match (from, to) {
            (Some(from), Some(to)) if from.max(to) > self.latest => Err(Reason::ClockSkew),
            (Some(from), Some(to)) => {
                let d = (to - from).num_microseconds().ok_or(Reason::Negative)? as f64 / 1e6;
                if d < 0.0 {
                    Err(Reason::Negative)
                } else {
                    Ok(d)
                }
            }
            _ => Err(Reason::MissingTimestamp),
        }
    }
}

/// Seconds since the epoch, from the microseconds the store keeps.
pub(super) fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}
