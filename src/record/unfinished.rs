//! Unfinished activities, a sub-state of the recorder: which activities were last heard of in
//! `pending`, `scheduled`, `staged` or `in_progress`, for `platformsh_activities_unfinished`
//! (the gauge it is given to write).
//!
//! At most `capacity` are tracked (an activity past it is not, and the recorder counts it). One
//! not heard of for the TTL is dropped: its final state may never come (an integration that
//! sends some states only, a lost delivery). A staged deployment (manual deployment strategy)
//! waits for a person, for days if need be: it is not stuck, and gets a month (or the TTL, if
//! longer), so that one whose end never came still leaves in the end.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::HashMap;

use crate::activity::ActivityState;
use crate::series::Series;

/// How long a staged deployment stays unfinished without news (at least the TTL).
const STAGED_TTL: chrono::Duration = chrono::Duration::days(30);

/// One tracked activity.
#[derive(Debug)]
struct Tracked {
    project: String,
    environment: String,
    state: ActivityState,
    seen_at: DateTime<Utc>,
}

/// The tracked activities, by id.
#[derive(Debug)]
pub(super) struct Unfinished {
    capacity: usize,
    ttl: chrono::Duration,
    tracked: HashMap<String, Tracked>,
}

/// One tracked activity, as the status page lists it: (id, project, environment, state, when
/// last heard of).
pub type Listed = (String, String, String, ActivityState, DateTime<Utc>);

impl Unfinished {
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            tracked: HashMap::new(),
        }
    }

    /// Tracks `id` as last heard of in `state` at `now`, in place of its earlier state. False
    /// if it could not be: full, even once what is past its TTL is dropped.
    pub(super) fn track(
        &mut self,
        (id, project, environment): (&str, &str, &str),
        state: ActivityState,
        now: DateTime<Utc>,
        gauge: &mut Series<f64>,
    ) -> bool {
        let full = |u: &Self| !u.tracked.contains_key(id) && u.tracked.len() >= u.capacity;
        // Expiry scans the whole map, so it runs at scrape time, and here only when full.
        if full(self) {
            self.expire(now, gauge);
        }
        if full(self) {
            return false;
        }
        self.forget(id, gauge);
        gauge.inc(&[project, environment, state.as_str()]);
        self.tracked.insert(
            id.to_owned(),
            Tracked {
                project: project.to_owned(),
                environment: environment.to_owned(),
                state,
                seen_at: now,
            },
        );
        true
    }

    /// Stops tracking `id` (it finished, or expired).
    pub(super) fn forget(&mut self, id: &str, gauge: &mut Series<f64>) {
        if let Some(u) = self.tracked.remove(id) {
            gauge.add(&[&u.project, &u.environment, u.state.as_str()], -1.0);
        }
    }

    /// Drops what was not heard of for its TTL before `now`. Whether any was.
    pub(super) fn expire(&mut self, now: DateTime<Utc>, gauge: &mut Series<f64>) -> bool {
        let staged_ttl = self.ttl.max(STAGED_TTL);
        let expired: Vec<String> = self
            .tracked
            .iter()
            .filter(|(_, u)| {
                let ttl = if u.state == ActivityState::Staged {
                    staged_ttl
                } else {
                    self.ttl
                };
                now.signed_duration_since(u.seen_at) > ttl
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.forget(id, gauge);
        }
        !expired.is_empty()
    }

    /// Stops tracking the activities of environments that are `gone` (project, environment),
    /// whose series were removed with them.
    pub(super) fn forget_environments(&mut self, gone: impl Fn(&str, &str) -> bool) {
        self.tracked
            .retain(|_, u| !gone(&u.project, &u.environment));
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    /// The tracked activities, oldest first (then by id).
    pub(super) fn list(&self) -> Vec<Listed> {
        let mut out: Vec<Listed> = self
            .tracked
            .iter()
            .map(|(id, u)| {
                let environment = u.environment.clone();
                (
                    id.clone(),
                    u.project.clone(),
                    environment,
                    u.state,
                    u.seen_at,
                )
            })
            .collect();
        out.sort_by(|a, b| a.4.cmp(&b.4).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::ACTIVITIES_UNFINISHED;

    fn gauge() -> Series<f64> {
        Series::new(&ACTIVITIES_UNFINISHED)
    }

    /// The gauge's value for `state` in p/main.
    fn value(gauge: &Series<f64>, state: &str) -> Option<f64> {
        let mut text = String::new();
        gauge.walk(&mut crate::exposition::text::Text::new(&mut text));
        let series = format!(
            "platformsh_activities_unfinished{{environment=\"main\",project=\"p\",state=\"{state}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.parse().ok())
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    const ID: (&str, &str, &str) = ("a", "p", "main");

    #[test]
    fn a_new_state_replaces_the_last_and_forgetting_takes_it_off() {
        let (mut u, mut g) = (Unfinished::new(10, Duration::from_secs(60)), gauge());
        assert!(u.track(ID, ActivityState::Pending, at(0), &mut g));
        assert!(u.track(ID, ActivityState::InProgress, at(1), &mut g));
        assert_eq!(value(&g, "pending"), Some(0.0));
        assert_eq!(value(&g, "in_progress"), Some(1.0));
        u.forget("a", &mut g);
        assert_eq!(value(&g, "in_progress"), Some(0.0));
        assert!(u.list().is_empty());
    }

    #[test]
    fn past_the_capacity_what_expired_makes_room_or_nothing_is_tracked() {
        let (mut u, mut g) = (Unfinished::new(1, Duration::from_secs(60)), gauge());
        assert!(u.track(ID, ActivityState::InProgress, at(0), &mut g));
        assert!(!u.track(("b", "p", "main"), ActivityState::Pending, at(30), &mut g));
        // The first is past its TTL by then: dropped, and the new one tracked.
        assert!(u.track(("b", "p", "main"), ActivityState::Pending, at(100), &mut g));
        assert_eq!(u.list().len(), 1);
        assert_eq!(value(&g, "in_progress"), Some(0.0));
    }

    #[test]
    fn a_staged_deployment_waits_a_month_not_the_ttl() {
        let (mut u, mut g) = (Unfinished::new(10, Duration::from_secs(3600)), gauge());
        u.track(ID, ActivityState::Staged, at(0), &mut g);
        u.track(("b", "p", "main"), ActivityState::InProgress, at(0), &mut g);
        assert!(u.expire(at(7200), &mut g));
        assert_eq!(value(&g, "staged"), Some(1.0));
        assert_eq!(value(&g, "in_progress"), Some(0.0));
        assert!(!u.expire(at(29 * 86_400), &mut g));
        assert!(u.expire(at(31 * 86_400), &mut g));
        assert_eq!(value(&g, "staged"), Some(0.0));
    }
}
