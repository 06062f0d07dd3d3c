//! What a poll does with each activity the API lists: the rules, pure; the poller does the I/O
//! (README, Reconciliation).
//!
//! - Created before the gap being read: another gap's, or read already: skipped.
//! - Unfinished, or last touched moments ago (a delivery may be on its way): not taken in yet;
//!   its creation time is read again at the next poll.
//! - Last touched in the far future (past the clock skew the recorder believes): never settled
//!   by waiting, so taken in; the recorder clamps its times as it clamps a delivery's.
//! - API-only (no webhook sends the project's activities here): no grace for a delivery on its
//!   way, and an unfinished activity is taken in as unfinished (nothing else would show it)
//!   while its place is read again, until it finishes.
//! - Otherwise taken in: as history (backfill) if created before reconciliation first polled the
//!   project, as a missed delivery (reconciliation) if after, or if it has no creation time.

use chrono::{DateTime, Utc};

use crate::activity::{Activity, Source};

/// The times one poll judges activities by.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When reconciliation first polled the project.
    pub since: DateTime<Utc>,
    /// Activities last touched after this are left to the webhook for now…
    pub settled_before: DateTime<Utc>,
    /// …unless after this: a time from a wrong clock (the year 9999).
    pub skewed_after: DateTime<Utc>,
    /// No webhook delivers the project's activities: the poll is the only source.
    pub api_only: bool,
}

/// What becomes of one listed activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Below the gap's bottom (`floor`, µs).
    Skip,
    /// Not settled yet: read its place (its creation time, µs, if it has one) again.
    Unsettled(Option<i64>),
    /// Taken in, as this source.
    Take(Source),
    /// API-only: taken in unfinished, as this source, and its place read again (as
    /// `Unsettled`) until it finishes.
    TakeUnfinished(Source, Option<i64>),
}

impl Window {
    /// What becomes of `activity`, read in a gap whose bottom is `floor` (µs).
    pub fn due(&self, activity: &Activity, floor: i64) -> Due {
        let created = activity.created_at.map(|c| c.timestamp_micros());
        if created.is_some_and(|c| c < floor) {
            return Due::Skip;
        }
        let latest = activity
            .latest_timestamp()
            .or(activity.created_at)
            .unwrap_or(self.settled_before);
        let recent = latest > self.settled_before && latest <= self.skewed_after;
        let source = if activity.created_at.is_some_and(|c| c < self.since) {
            Source::Backfill
        } else {
            Source::Reconciliation
        };
        match activity.finished() {
            None if self.api_only => Due::TakeUnfinished(source, created),
            None => Due::Unsettled(created),
            Some(_) if recent => Due::Unsettled(created),
            Some(_) => Due::Take(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{ActivityResult, ActivityState};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    /// A finished activity created at `created`, last touched at `touched` (seconds).
    fn activity(created: Option<i64>, touched: i64) -> Activity {
        let seed = crate::activity::parse(include_bytes!(
            "../../tests/fixtures/push-success-seed.json"
        ))
        .unwrap();
        Activity {
            state: ActivityState::Complete,
            result: Some(ActivityResult::Success),
            created_at: created.map(at),
            started_at: Some(at(touched)),
            completed_at: Some(at(touched)),
            updated_at: Some(at(touched)),
            cancelled_at: None,
            ..seed
        }
    }

    const WINDOW: Window = Window {
        since: DateTime::from_timestamp(1000, 0).unwrap(),
        settled_before: DateTime::from_timestamp(2000, 0).unwrap(),
        skewed_after: DateTime::from_timestamp(3000, 0).unwrap(),
        api_only: false,
    };

    #[test]
    fn history_and_missed_deliveries_are_told_apart_by_the_first_poll() {
        assert_eq!(
            WINDOW.due(&activity(Some(500), 600), 0),
            Due::Take(Source::Backfill)
        );
        assert_eq!(
            WINDOW.due(&activity(Some(1500), 1600), 0),
            Due::Take(Source::Reconciliation)
        );
        // No creation time: not history, and taken in all the same.
        assert_eq!(
            WINDOW.due(&activity(None, 1600), 0),
            Due::Take(Source::Reconciliation)
        );
    }

    #[test]
    fn unfinished_and_recent_ones_wait_and_the_far_future_does_not() {
        let mut unfinished = activity(Some(1500), 1600);
        unfinished.state = ActivityState::InProgress;
        unfinished.result = None;
        unfinished.completed_at = None;
        assert_eq!(
            WINDOW.due(&unfinished, 0),
            Due::Unsettled(Some(1_500_000_000))
        );
        assert_eq!(
            WINDOW.due(&activity(Some(1900), 2500), 0),
            Due::Unsettled(Some(1_900_000_000))
        );
        assert_eq!(
            WINDOW.due(&activity(Some(1900), 9_000_000), 0),
            Due::Take(Source::Reconciliation)
        );
    }

    #[test]
    fn below_the_gap_s_bottom_is_skipped() {
        assert_eq!(
            WINDOW.due(&activity(Some(500), 600), 600_000_000),
            Due::Skip
        );
        assert_eq!(
            WINDOW.due(&activity(Some(600), 700), 600_000_000),
            Due::Take(Source::Backfill)
        );
    }

    /// API-only: an unfinished activity is taken in at once (and read again), and no grace is
    /// left for a delivery on its way: the poll's start is the settling time.
    #[test]
    fn api_only_takes_unfinished_ones_in_and_reads_them_again() {
        let api_only = Window {
            api_only: true,
            ..WINDOW
        };
        let mut unfinished = activity(Some(1500), 1600);
        unfinished.state = ActivityState::InProgress;
        unfinished.result = None;
        assert_eq!(
            api_only.due(&unfinished, 0),
            Due::TakeUnfinished(Source::Reconciliation, Some(1_500_000_000))
        );
        assert_eq!(
            api_only.due(&activity(Some(1500), 1600), 0),
            Due::Take(Source::Reconciliation)
        );
    }
}
