//! Record: the one function that turns an [`Activity`] into metric updates, and the state that
//! spans activities (deduplication, each environment's last deployment, unfinished activities).
//!
//! A live delivery and a stored one replayed at start go through [`Recorder::record`], so the
//! same activities in the same order always rebuild the same metrics.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
// hashbrown's maps hash with foldhash: SipHash, std's default, was 3 % of a delivery.
use hashbrown::{HashMap, HashSet};

use crate::activity::{Activity, Finished, State};
use crate::labels::{Caps, Labels, Limits};
use crate::metrics::{ActivityFamilies, Metrics};

/// Activity types counted as deployments unless `--deployment.types` says otherwise.
pub const DEFAULT_DEPLOYMENT_TYPES: &[&str] = &[
    "environment.push",
    "environment.redeploy",
    "environment.merge",
    "environment.merge-pr",
    "environment.activate",
    "environment.branch",
    "environment.synchronize",
    "environment.restore",
    "environment.deploy",
    "environment.resume",
    "environment.initialize",
];

/// What the recorder needs to know beyond the activities themselves.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    pub deployment_types: HashSet<String>,
    /// How many (id, state) pairs are remembered for deduplication.
    pub dedup_capacity: usize,
    /// How many unfinished activities are tracked at once.
    pub unfinished_capacity: usize,
    /// How long an activity may stay unfinished before it is dropped from the gauge.
    pub unfinished_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            deployment_types: DEFAULT_DEPLOYMENT_TYPES
                .iter()
                .map(|&t| t.to_owned())
                .collect(),
            dedup_capacity: 100_000,
            unfinished_capacity: 10_000,
            unfinished_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Accepted,
    /// The same (id, state) was recorded before; nothing changed.
    Duplicate,
}

/// Remembers the most recent (id, state) pairs; the oldest is forgotten past the capacity, so a
/// flood of unique ids cannot grow memory without bound.
#[derive(Debug)]
struct Seen {
    /// The states seen of each id, as a bit set of `State` discriminants. Keyed by id alone so
    /// that a `&str` can look it up: one allocation per new id, shared with `order`.
    states: HashMap<Arc<str>, u8>,
    /// (id, state) pairs, oldest first.
    order: VecDeque<(Arc<str>, State)>,
    capacity: usize,
}

fn bit(state: State) -> u8 {
    1 << (state as u8)
}

impl Seen {
    fn contains(&self, id: &str, state: State) -> bool {
        self.states
            .get(id)
            .is_some_and(|bits| bits & bit(state) != 0)
    }

    /// Inserts the pair; false if it was already there.
    fn insert(&mut self, id: &str, state: State) -> bool {
        let key = match self.states.get_key_value(id) {
            Some((_, bits)) if bits & bit(state) != 0 => return false,
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(id),
        };
        *self.states.entry(Arc::clone(&key)).or_insert(0) |= bit(state);
        self.order.push_back((key, state));
        while self.order.len() > self.capacity {
            let Some((old, old_state)) = self.order.pop_front() else {
                break;
            };
            if let Some(bits) = self.states.get_mut(&old) {
                *bits &= !bit(old_state);
                if *bits == 0 {
                    self.states.remove(&old);
                }
            }
        }
        true
    }
}

/// Deployment history of one environment.
#[derive(Debug, Default)]
struct Environment {
    last_at: Option<f64>,
    last_success_at: Option<f64>,
    /// Completion time of the first failure since the last success.
    failing_since: Option<f64>,
}

#[derive(Debug)]
struct Unfinished {
    project: String,
    environment: String,
    state: State,
    seen_at: DateTime<Utc>,
}

/// All state that spans activities, and the only writer of the activity metrics.
#[derive(Debug)]
pub struct Recorder {
    /// The exporter's own counters (label overflow, skipped observations).
    metrics: Arc<Metrics>,
    families: ActivityFamilies,
    /// The activity families' exposition text, reused by scrapes until a change.
    text: String,
    /// Whether `text` is older than the families.
    changed: bool,
    settings: Settings,
    caps: Caps,
    seen: Seen,
    /// Keyed by project, then environment, so that `&str` labels can look one up.
    environments: HashMap<String, HashMap<String, Environment>>,
    unfinished: HashMap<String, Unfinished>,
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

impl Recorder {
    pub fn new(metrics: Arc<Metrics>, settings: Settings) -> Self {
        Self {
            metrics,
            families: ActivityFamilies::new(),
            text: String::new(),
            changed: true,
            caps: Caps::new(settings.limits),
            seen: Seen {
                states: HashMap::new(),
                order: VecDeque::new(),
                capacity: settings.dedup_capacity,
            },
            settings,
            environments: HashMap::new(),
            unfinished: HashMap::new(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn families(&self) -> &ActivityFamilies {
        &self.families
    }

    /// The activity families in the text exposition format. Deliveries are rare next to
    /// scrapes, so the text is written again only after a change.
    pub fn exposition(&mut self) -> &str {
        if self.changed {
            self.text.clear();
            self.families.encode(&mut self.text);
            self.changed = false;
        }
        &self.text
    }

    /// Records one activity received at `received_at`. A duplicate changes nothing.
    pub fn record(&mut self, activity: &Activity, received_at: DateTime<Utc>) -> Recorded {
        if !self.seen.insert(&activity.id, activity.state) {
            return Recorded::Duplicate;
        }
        let (labels, overflowed) = self.caps.resolve(activity);
        for label in overflowed {
            self.metrics
                .label_overflow
                .with_label_values(&[label])
                .inc();
        }

        if let Some(t) = activity.latest_timestamp() {
            self.families
                .last_activity_timestamp
                .set_max(&[&labels.project], seconds(t));
        }

        match activity.finished() {
            Some(finished) => {
                self.forget_unfinished(&activity.id);
                self.record_finished(activity, &labels, finished, received_at);
            }
            None => self.track_unfinished(activity, &labels, received_at),
        }
        self.changed = true;
        Recorded::Accepted
    }

    fn record_finished(
        &mut self,
        activity: &Activity,
        labels: &Labels<'_>,
        finished: Finished,
        received_at: DateTime<Utc>,
    ) {
        let (m, skipped) = (&mut self.families, &self.metrics.observations_skipped);
        let skip = |metric: &str, reason: &str| skipped.with_label_values(&[metric, reason]).inc();
        let result = finished.as_str();
        let (project, environment, environment_type, kind) = (
            labels.project.as_ref(),
            labels.environment.as_ref(),
            labels.environment_type.as_ref(),
            labels.kind.as_ref(),
        );
        m.activities
            .inc(&[project, environment, environment_type, kind, result]);

        match span(activity.started_at, activity.completed_at) {
            Ok(d) => m
                .activity_duration
                .observe(&[project, environment_type, kind, result], d),
            Err(reason) => skip("activity_duration", reason),
        }
        match span(activity.created_at, activity.started_at) {
            Ok(d) => m
                .activity_wait
                .observe(&[project, environment_type, kind], d),
            Err(reason) => skip("activity_wait", reason),
        }
        for (phase, value) in activity.timings.phases() {
            match value {
                Some(v) if v.is_finite() && v >= 0.0 => m
                    .activity_phase
                    .observe(&[project, environment_type, kind, phase], v),
                Some(_) => skip("activity_phase", "negative"),
                None => {}
            }
        }
        if activity.kind == "environment.push" {
            if let Some(commits) = activity.commits {
                m.push_commits
                    .observe(&[project, environment_type], commits as f64);
            }
        }

        if self.settings.deployment_types.contains(&activity.kind) {
            m.deployments
                .inc(&[project, environment, environment_type, result]);
            let at = seconds(activity.finished_at().unwrap_or(received_at));
            match finished {
                Finished::Success => self.deployment_finished(labels, at, true),
                Finished::Failure => self.deployment_finished(labels, at, false),
                // A cancelled deployment leaves the environment as it was.
                Finished::Cancelled => {}
            }
        }
    }

    /// Updates the environment's deployment history with a success or a failure finished at
    /// `at`, and the gauges and the recovery histogram that show it.
    fn deployment_finished(&mut self, labels: &Labels<'_>, at: f64, succeeded: bool) {
        let values = [labels.project.as_ref(), labels.environment.as_ref()];
        let m = &mut self.families;
        let env = entry(
            entry(&mut self.environments, &labels.project),
            &labels.environment,
        );
        // Deliveries can arrive out of order: only a later deployment replaces the last one.
        if env.last_at.is_none_or(|last| at >= last) {
            env.last_at = Some(at);
            m.last_deployment_timestamp.set(&values, at);
            m.last_deployment_success
                .set(&values, f64::from(u8::from(succeeded)));
        }
        if succeeded {
            if env.last_success_at.is_none_or(|last| at > last) {
                env.last_success_at = Some(at);
                m.last_successful_deployment_timestamp.set(&values, at);
            }
            if let Some(since) = env.failing_since.filter(|&since| at >= since) {
                env.failing_since = None;
                m.deployment_recovery
                    .observe(&[&labels.project, &labels.environment_type], at - since);
            }
        } else {
            // The first failure after the last success starts the time to recover.
            let after_last_success = env.last_success_at.is_none_or(|s| at > s);
            if after_last_success && env.failing_since.is_none_or(|since| at < since) {
                env.failing_since = Some(at);
            }
        }
    }

    fn track_unfinished(&mut self, activity: &Activity, labels: &Labels<'_>, now: DateTime<Utc>) {
        // A late "in_progress" for an activity already finished must not resurrect it.
        if self.seen.contains(&activity.id, State::Complete)
            || self.seen.contains(&activity.id, State::Cancelled)
        {
            return;
        }
        let full = |r: &Self| {
            !r.unfinished.contains_key(&activity.id)
                && r.unfinished.len() >= r.settings.unfinished_capacity
        };
        // Expiry scans the whole map, so it runs at scrape time and only here when full.
        if full(self) {
            self.expire_unfinished(now);
        }
        if full(self) {
            self.metrics
                .label_overflow
                .with_label_values(&["unfinished"])
                .inc();
            return;
        }
        self.forget_unfinished(&activity.id);
        self.families.activities_unfinished.inc(&[
            &labels.project,
            &labels.environment,
            activity.state.as_str(),
        ]);
        self.unfinished.insert(
            activity.id.clone(),
            Unfinished {
                project: labels.project.to_string(),
                environment: labels.environment.to_string(),
                state: activity.state,
                seen_at: now,
            },
        );
    }

    fn forget_unfinished(&mut self, id: &str) {
        if let Some(u) = self.unfinished.remove(id) {
            self.decrement(&u);
        }
    }

    fn decrement(&mut self, u: &Unfinished) {
        self.families
            .activities_unfinished
            .add(&[&u.project, &u.environment, u.state.as_str()], -1.0);
    }

    /// Drops unfinished activities not heard of for longer than the TTL: their final state may
    /// never come (an integration that only sends some states, a lost delivery).
    pub fn expire_unfinished(&mut self, now: DateTime<Utc>) {
        let ttl = chrono::Duration::from_std(self.settings.unfinished_ttl)
            .unwrap_or(chrono::Duration::MAX);
        let expired: Vec<String> = self
            .unfinished
            .iter()
            .filter(|(_, u)| now.signed_duration_since(u.seen_at) > ttl)
            .map(|(id, _)| id.clone())
            .collect();
        if !expired.is_empty() {
            self.changed = true;
        }
        for id in expired {
            self.forget_unfinished(&id);
        }
    }
}

/// The value under `key`, inserted by default if absent: `HashMap::entry` would need an owned
/// key, an allocation per lookup on the hot path.
fn entry<'m, V: Default>(map: &'m mut HashMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("present or inserted above")
}

/// `to − from` in seconds, or why it cannot be observed.
fn span(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<f64, &'static str> {
    match (from, to) {
        (Some(from), Some(to)) => {
            let d = (to - from).num_microseconds().ok_or("negative")? as f64 / 1e6;
            if d < 0.0 { Err("negative") } else { Ok(d) }
        }
        _ => Err("missing_timestamp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(capacity: usize) -> Seen {
        Seen {
            states: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    #[test]
    fn each_state_of_an_id_is_remembered_apart() {
        let mut s = seen(10);
        assert!(s.insert("a", State::InProgress));
        assert!(s.insert("a", State::Complete));
        assert!(!s.insert("a", State::InProgress));
        assert!(s.contains("a", State::Complete));
        assert!(!s.contains("a", State::Cancelled));
        assert!(!s.contains("b", State::Complete));
    }

    #[test]
    fn the_oldest_pairs_are_forgotten_past_the_capacity() {
        let mut s = seen(2);
        s.insert("a", State::InProgress);
        s.insert("a", State::Complete);
        s.insert("b", State::Complete);
        assert!(!s.contains("a", State::InProgress));
        assert!(s.contains("a", State::Complete));
        s.insert("c", State::Complete);
        assert!(!s.contains("a", State::Complete));
        assert!(
            !s.states.contains_key("a"),
            "an id with no state left is dropped"
        );
        assert_eq!(s.states.len(), 2);
    }
}
