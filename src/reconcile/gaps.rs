//! What reconciliation has not proven read: a project's gaps, ranges of creation time whose
//! activities may not all have been taken in yet.
//!
//! A poll adds the range since the last poll began (less an overlap); the first adds the
//! backfill. A walk over a gap reads the API newest first from the gap's top and removes what it
//! got through: the whole gap when it passed the gap's bottom or the end of the list, the part
//! above where it stopped otherwise (the page limit, an error, a page it could not page past).
//! Nothing else moves a gap, so a poll cut short resumes where it stopped, at the next poll and
//! after a restart. An activity that could not be taken in yet (unfinished, or changed moments
//! ago) leaves a gap of one instant, its creation time: the next poll reads that one place
//! again (one request), not the whole window since it was created.
//!
//! Pure: the poller does the I/O, and these rules are unit-tested here.

use chrono::{DateTime, Utc};

/// Most gaps kept per project: past it the two closest are joined (reading more, losing
/// nothing).
pub const MAX_GAPS: usize = 64;

/// One gap: activities created from `lo` to `hi` (microseconds, both included); `hi` is
/// `i64::MAX` for the open top (everything created since `lo`, the far-future dates too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub lo: i64,
    pub hi: i64,
}

/// A project's gaps, newest first, disjoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps(Vec<Gap>);

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl Gaps {
    pub fn iter(&self) -> impl Iterator<Item = &Gap> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The newest gap.
    pub fn first(&self) -> Option<Gap> {
        self.0.first().copied()
    }

    /// Adds activities created from `lo` to `hi` (`None`: no upper bound).
    pub fn add(&mut self, lo: DateTime<Utc>, hi: Option<DateTime<Utc>>) {
        self.add_micros(micros(lo), hi.map_or(i64::MAX, micros));
    }

    pub fn add_micros(&mut self, lo: i64, hi: i64) {
        if lo > hi {
            return;
        }
        self.0.push(Gap { lo, hi });
        self.normalise();
    }

    /// Forgets what is older than `limit` (the backfill's reach).
    pub fn clip(&mut self, limit: DateTime<Utc>) {
        let limit = micros(limit);
        self.0.retain(|g| g.hi >= limit);
        for g in &mut self.0 {
            g.lo = g.lo.max(limit);
        }
    }

    /// A walk over the newest gap got down to `cursor` (everything created after it, within
    /// the gap, is read), or through the whole gap if `None`.
    pub fn read_newest_down_to(&mut self, cursor: Option<i64>) {
        match cursor {
            Some(cursor) if !self.0.is_empty() && cursor > self.0[0].lo => {
                self.0[0].hi = self.0[0].hi.min(cursor);
            }
            Some(_) => {}
            None => {
                if !self.0.is_empty() {
                    self.0.remove(0);
                }
            }
        }
    }

    /// The span of creation time not proven read, in seconds (the open top counts up to
    /// `now`).
    pub fn unread_seconds(&self, now: DateTime<Utc>) -> f64 {
        let now = micros(now);
        self.0
            .iter()
            .map(|g| (g.hi.min(now) - g.lo).max(0) as f64 / 1e6)
            .sum()
    }

    /// Sorted newest first, overlapping or touching gaps joined, at most [`MAX_GAPS`].
    fn normalise(&mut self) {
        self.0.sort_by_key(|g| std::cmp::Reverse(g.hi));
        let mut joined: Vec<Gap> = Vec::with_capacity(self.0.len());
        for g in self.0.drain(..) {
            match joined.last_mut() {
                Some(last) if g.hi >= last.lo.saturating_sub(1) => last.lo = last.lo.min(g.lo),
                _ => joined.push(g),
            }
        }
        while joined.len() > MAX_GAPS {
            // Join the two with the least time between them.
            let i = (0..joined.len() - 1)
                .min_by_key(|&i| joined[i].lo.saturating_sub(joined[i + 1].hi))
                .expect("more than one gap");
            joined[i].lo = joined[i + 1].lo;
            joined.remove(i + 1);
        }
        self.0 = joined;
    }

    /// The gaps as counters (`reconcile_gap_lo:{project}:{i}`, `…_hi…`, and their number), for
    /// the store.
    pub fn to_counters(&self, project: &str) -> Vec<(String, u64)> {
        let mut counters = vec![(format!("reconcile_gaps:{project}"), self.0.len() as u64)];
        for (i, g) in self.0.iter().enumerate() {
            // The store keeps counters as SQLite integers (u64 up to i64::MAX): a time before
            // 1970 is kept as 1970, which no backfill reaches.
            counters.push((format!("reconcile_gap_lo:{project}:{i}"), to_u64(g.lo)));
            counters.push((format!("reconcile_gap_hi:{project}:{i}"), to_u64(g.hi)));
        }
        counters
    }

    /// The gaps `to_counters` saved, if any were.
    pub fn from_counters(project: &str, saved: &[(String, u64)]) -> Option<Self> {
        let find = |name: String| saved.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let n = find(format!("reconcile_gaps:{project}"))?;
        let mut gaps = Gaps::default();
        for i in 0..n.min(MAX_GAPS as u64) {
            let lo = find(format!("reconcile_gap_lo:{project}:{i}"))?;
            let hi = find(format!("reconcile_gap_hi:{project}:{i}"))?;
            gaps.add_micros(from_u64(lo), from_u64(hi));
        }
        Some(gaps)
    }
}

fn to_u64(v: i64) -> u64 {
    v.max(0).cast_unsigned()
}

fn from_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What one page of a walk held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub oldest: Option<i64>,
    pub new: bool,
    pub short: bool,
}

/// Where a walk over a gap stands after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask for the page of activities created at or before this (microseconds).
    Next(i64),
    /// The gap is read through: the page went below its bottom, or the list ended.
    Done,
    /// The walk cannot go on from here (no dated activity moved it down): the gap stays open
    /// from this point.
    Stuck,
}

/// What a walk learns from one page: `oldest` is the oldest creation time among the page's
/// activities (`None` if none has one), `new` whether it listed an id not seen before in this
/// poll, `short` whether it held fewer activities than the fullest page of this poll (the API
/// caps pages at a size it does not tell: a short page is the end of the list), `cursor`
/// where the page was asked from, `ceiling` the poll's start (no later cursor is believed: a
/// page of activities dated 9999 cannot make the walk ask for them again).
pub fn step(gap: Gap, cursor: i64, page: Listed, ceiling: i64) -> Step {
    let Listed { oldest, new, short } = page;
    if !new {
        // An empty page, or only the boundary activity again: the end of the list (the
        // poller asks twice before it believes it).
        return Step::Done;
    }
    let Some(oldest) = oldest else {
        return Step::Stuck;
    };
    // Down to the gap's bottom: what was created at it is on this page (a point gap, an
    // activity that was unsettled, ends here too).
    if oldest <= gap.lo {
        return Step::Done;
    }
    let next = oldest.min(ceiling);
    if next < cursor {
        Step::Next(next)
    } else if short {
        // Nothing older is listed: a walk resumed at its cursor gets the boundary activity
        // alone.
        Step::Done
    } else {
        Step::Stuck
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(list: &[(i64, i64)]) -> Gaps {
        let mut g = Gaps::default();
        for &(lo, hi) in list {
            g.add_micros(lo, hi);
        }
        g
    }

    fn list(g: &Gaps) -> Vec<(i64, i64)> {
        g.iter().map(|g| (g.lo, g.hi)).collect()
    }

    #[test]
    fn gaps_are_kept_newest_first_and_joined_where_they_meet() {
        let g = gaps(&[(0, 10), (20, 30), (25, 40), (11, 15), (50, 50)]);
        assert_eq!(list(&g), vec![(50, 50), (20, 40), (0, 15)]);
    }

    #[test]
    fn a_walk_cut_short_leaves_the_part_below_where_it_stopped() {
        let mut g = gaps(&[(100, i64::MAX)]);
        g.read_newest_down_to(Some(500));
        assert_eq!(list(&g), vec![(100, 500)]);
        // A later poll adds its own top; the cut one is still there below it.
        g.add_micros(900, i64::MAX);
        assert_eq!(list(&g), vec![(900, i64::MAX), (100, 500)]);
        g.read_newest_down_to(None);
        g.read_newest_down_to(None);
        assert!(g.is_empty());
    }

    #[test]
    fn past_the_cap_the_closest_gaps_are_joined_not_dropped() {
        let mut g = Gaps::default();
        for i in 0..(i64::try_from(MAX_GAPS).unwrap() + 10) {
            g.add_micros(i * 100, i * 100);
        }
        assert_eq!(g.iter().count(), MAX_GAPS);
        assert_eq!(g.iter().last().unwrap().lo, 0);
        assert_eq!(
            g.first().unwrap().hi,
            (i64::try_from(MAX_GAPS).unwrap() + 9) * 100
        );
    }

    #[test]
    fn the_backfill_limit_clips_what_is_older() {
        let mut g = gaps(&[(0, 10), (20, 30)]);
        g.clip(DateTime::from_timestamp_micros(25).unwrap());
        assert_eq!(list(&g), vec![(25, 30)]);
    }

    #[test]
    fn counters_round_trip_open_bounds_within_what_the_store_keeps() {
        let g = gaps(&[(0, 3), (10, i64::MAX)]);
        let saved = g.to_counters("p");
        assert!(saved.iter().all(|(_, v)| i64::try_from(*v).is_ok()));
        assert_eq!(Gaps::from_counters("p", &saved), Some(g));
        assert_eq!(Gaps::from_counters("q", &saved), None);
    }

    #[test]
    fn a_step_goes_down_never_up_and_stops_only_below_the_gap_or_at_the_end() {
        let gap = Gap {
            lo: 100,
            hi: i64::MAX,
        };
        let ceiling = 1000;
        let page = |oldest: Option<i64>, new: bool| Listed {
            oldest,
            new,
            short: false,
        };
        let step = |gap, cursor, (oldest, new): (Option<i64>, bool)| {
            step(gap, cursor, page(oldest, new), ceiling)
        };
        // A page of far-future dates: the next page is asked from the poll's start.
        assert_eq!(
            step(gap, i64::MAX, (Some(9_999_999), true)),
            Step::Next(1000)
        );
        assert_eq!(step(gap, 1000, (Some(600), true)), Step::Next(600));
        // Nothing new: the end of the list.
        assert_eq!(step(gap, 600, (None, false)), Step::Done);
        // Only undated activities, or no way down: stuck, the gap stays.
        assert_eq!(step(gap, 600, (None, true)), Step::Stuck);
        assert_eq!(step(gap, 600, (Some(600), true)), Step::Stuck);
        // Below the gap's bottom, or at it: through.
        assert_eq!(step(gap, 600, (Some(99), true)), Step::Done);
        assert_eq!(step(gap, 600, (Some(100), true)), Step::Done);
        // A point gap (an activity that was unsettled) is read by one page at it.
        let point = Gap { lo: 500, hi: 500 };
        assert_eq!(step(point, 500, (Some(500), true)), Step::Done);
        // Resumed at its cursor, a walk may get the boundary activity alone: a short page is
        // the end of the list, a full one of a single instant cannot be paged past.
        let short = Listed {
            oldest: Some(600),
            new: true,
            short: true,
        };
        assert_eq!(super::step(gap, 600, short, ceiling), Step::Done);
    }
}
