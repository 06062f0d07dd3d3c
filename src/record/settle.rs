//! Settling: facts whose effect depends on the order they are applied in (a push and the
//! merge that carries its commits, a failure and the success that fixes it) wait until they
//! are `window` old, then are applied in time order, whatever order they arrived in.
//!
//! The watermark is the receipt clock less the window: it moves when an activity is recorded
//! (to its receipt time) and when a scrape looks (to now), so replay, which records the stored
//! activities with their receipt times, applies the same facts at the same points. A fact
//! that arrives already behind the watermark (more than the window after its time: a backfill,
//! an outage longer than the window) cannot be put back in its place without taking back an
//! observation already made: it is applied at once, and said so.
//!
//! Pure: the recorder applies what comes out; these rules are unit-tested here.

use std::collections::BTreeMap;
use std::time::Duration;

/// What became of an offered fact.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<T> {
    /// It waits for its turn.
    Waiting,
    /// It came too late to wait: apply it now.
    Late(T),
    /// Too much waits: apply these (the oldest waiting, or the one offered), oldest first, now.
    Full(Vec<T>),
}

/// Facts waiting for the watermark, oldest first.
#[derive(Debug)]
pub struct Settling<T> {
    /// Microseconds.
    window: i64,
    /// Most weight waiting at once (a fact weighs what it holds: one, plus its commits).
    capacity: usize,
    weight: usize,
    /// No fact at or before this (µs) waits any longer.
    watermark: i64,
    /// By time (µs), then id: a total order, the same for every arrival order.
    waiting: BTreeMap<(i64, String), (usize, T)>,
}

impl<T> Settling<T> {
    /// Facts wait `window`; at most `capacity` of weight at once.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window: i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
            capacity,
            weight: 0,
            watermark: i64::MIN,
            waiting: BTreeMap::new(),
        }
    }

    /// Whether facts wait at all (a zero window applies each as it comes).
    pub fn is_ordering(&self) -> bool {
        self.window > 0
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Moves the watermark to `now` (µs) less the window, and returns the facts now due,
    /// oldest first.
    pub fn advance(&mut self, now: i64) -> Vec<T> {
        self.watermark = self.watermark.max(now.saturating_sub(self.window));
        let mut due = Vec::new();
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > self.watermark {
                break;
            }
            let (weight, fact) = entry.remove();
            self.weight -= weight;
            due.push(fact);
        }
        due
    }

    /// Whether a fact dated `at` (µs) would wait (rather than be late).
    pub fn waits(&self, at: i64) -> bool {
        self.window > 0 && at > self.watermark
    }

    /// Offers a fact dated `at` (µs), `id` breaking ties, of `weight` (at least 1). Call
    /// [`advance`](Self::advance) with the receipt time first.
    pub fn offer(&mut self, at: i64, id: &str, weight: usize, fact: T) -> Offer<T> {
        if !self.waits(at) {
            return Offer::Late(fact);
        }
        let weight = weight.max(1);
        let mut early = Vec::new();
        while self.weight + weight > self.capacity {
            match self.waiting.first_entry() {
                Some(oldest) if oldest.key().0 < at => {
                    let (w, fact) = oldest.remove();
                    self.weight -= w;
                    early.push(fact);
                }
                // The offered fact is the oldest, or too heavy to wait at all.
                _ => {
                    early.push(fact);
                    return Offer::Full(early);
                }
            }
        }
        self.waiting.insert((at, id.to_owned()), (weight, fact));
        self.weight += weight;
        if early.is_empty() {
            Offer::Waiting
        } else {
            Offer::Full(early)
        }
    }
}

/// Why a fact was applied in arrival order: `reason` of
/// `platformsh_exporter_unordered_activities_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unordered {
    /// It arrived more than the settle window after it finished.
    Late,
    /// Too many waited: the oldest were applied early.
    Capacity,
}

impl Unordered {
    pub const ALL: [Self; 2] = [Self::Late, Self::Capacity];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Late => "late",
            Self::Capacity => "capacity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn facts_come_out_in_time_order_whatever_order_they_went_in() {
        let mut s = Settling::new(Duration::from_secs(10), 100);
        assert!(s.advance(100 * SECOND).is_empty());
        for (at, id) in [(95, "c"), (91, "a"), (99, "d"), (93, "b")] {
            assert_eq!(s.offer(at * SECOND, id, 1, id), Offer::Waiting);
        }
        assert_eq!(s.advance(103 * SECOND), vec!["a", "b"]);
        assert_eq!(s.advance(110 * SECOND), vec!["c", "d"]);
        assert!(s.is_empty());
    }

    #[test]
    fn a_fact_behind_the_watermark_is_late() {
        let mut s = Settling::new(Duration::from_secs(10), 100);
        s.advance(100 * SECOND);
        assert_eq!(s.offer(90 * SECOND, "x", 1, 1), Offer::Late(1));
        assert_eq!(s.offer(91 * SECOND, "y", 1, 2), Offer::Waiting);
        // The watermark never goes back.
        s.advance(50 * SECOND);
        assert_eq!(s.offer(90 * SECOND, "z", 1, 3), Offer::Late(3));
    }

    #[test]
    fn ties_are_broken_by_id() {
        let mut s = Settling::new(Duration::from_secs(1), 100);
        for id in ["b", "c", "a"] {
            s.offer(5 * SECOND, id, 1, id);
        }
        assert_eq!(s.advance(10 * SECOND), vec!["a", "b", "c"]);
    }

    #[test]
    fn past_the_capacity_the_oldest_are_applied_first() {
        let mut s = Settling::new(Duration::from_secs(60), 4);
        s.offer(10 * SECOND, "a", 1, "a");
        s.offer(20 * SECOND, "b", 2, "b");
        assert_eq!(
            s.offer(30 * SECOND, "c", 3, "c"),
            Offer::Full(vec!["a", "b"])
        );
        // Older than everything waiting: applied itself.
        assert_eq!(s.offer(5 * SECOND, "d", 2, "d"), Offer::Full(vec!["d"]));
        // Heavier than the capacity: applied at once, after what was older.
        assert_eq!(
            s.offer(40 * SECOND, "e", 9, "e"),
            Offer::Full(vec!["c", "e"])
        );
        assert!(s.is_empty());
        assert_eq!(s.offer(50 * SECOND, "f", 1, "f"), Offer::Waiting);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_zero_window_applies_each_fact_as_it_comes() {
        let mut s = Settling::new(Duration::ZERO, 100);
        assert!(!s.is_ordering());
        s.advance(100 * SECOND);
        assert_eq!(s.offer(100 * SECOND, "a", 1, 1), Offer::Late(1));
        // Dated a little ahead of the receipt clock: still at once.
        assert_eq!(s.offer(101 * SECOND, "b", 1, 2), Offer::Late(2));
    }
}
