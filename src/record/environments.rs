//! Environments, a sub-state of the recorder: each one's deployment history (the last
//! deployment, its result, the last success: the gauges the failed-deployment alerts read) and
//! its life (seen, deactivated or paused, deleted, forgotten when idle). A deleted environment
//! leaves a tombstone, its deletion time, so that its late activities do not bring it back; the
//! tombstones are bounded by count.

use std::time::Duration;

use hashbrown::{HashMap, HashSet};

use crate::activity::Activity;
use crate::series::{ActivityFamilies, LabelSet};

use super::finished::slot;

/// One environment's deployment state, for the status page.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentStatus {
    pub project: String,
    pub environment: String,
    /// Seconds since the epoch.
    pub last_deployment: f64,
    pub succeeded: bool,
    pub last_success: Option<f64>,
    /// The first failure since the last success, if the environment is failing.
    pub failing_since: Option<f64>,
    /// False once deactivated or paused (until the next deployment).
    pub active: bool,
}

/// What is known of one environment: its deployment history and its life.
#[derive(Debug, Default)]
pub(super) struct Environment {
    last_at: Option<f64>,
    last_succeeded: bool,
    last_success_at: Option<f64>,
    /// Completion time of the first failure since the last success.
    failing_since: Option<f64>,
    /// When it was last deactivated, paused or deleted: a deployment that finished before is
    /// history (counted), not the environment's state (its last-deployment gauges).
    ended_at: Option<f64>,
    /// Deleted at `ended_at`: an activity dated before that arrived late and is not counted,
    /// so that a deleted environment does not come back; a later one means a new environment
    /// of the same name.
    deleted: bool,
    /// Among deletions, the how-manyth this was: ties of `ended_at` are broken by it when the
    /// oldest tombstones are dropped.
    deletion: u64,
    /// The latest time of any of its activities, for `--environments.forget-after`.
    seen_at: f64,
    /// Where the environment's last-deployment timestamp, success and last-success timestamp
    /// gauges sit in their families (see [`super::finished`]).
    gauges: [Option<usize>; 3],
}

/// Every environment with a label of its own (not `_overflow`, not empty), by project.
#[derive(Debug)]
pub(super) struct Environments {
    map: HashMap<String, HashMap<String, Environment>>,
    /// How many of `map` are deleted ones, kept only to refuse their late activities.
    deleted: usize,
    /// Deletions recorded so far (see [`Environment::deletion`]).
    deletions: u64,
    /// Most tombstones kept (`--limits.environments`).
    tombstone_cap: usize,
    /// `--environments.forget-after`.
    forget_after: Option<Duration>,
    /// No environment is forgettable before this time (seconds): a lower bound, so that idle
    /// environments are looked for only when one may be due.
    next_forget: f64,
}

/// The environment's entry in `map`, made the first time; a look-up allocates only then.
fn entry<'m>(
    map: &'m mut HashMap<String, HashMap<String, Environment>>,
    project: &str,
    environment: &str,
) -> &'m mut Environment {
    map.entry_ref(project)
        .or_default()
        .entry_ref(environment)
        .or_default()
}

impl Environments {
    pub(super) fn new(tombstone_cap: usize, forget_after: Option<Duration>) -> Self {
        Self {
            map: HashMap::new(),
            deleted: 0,
            deletions: 0,
            tombstone_cap,
            forget_after,
            next_forget: f64::INFINITY,
        }
    }

    /// Every environment with a deployment, as the status page shows it: the failing ones
    /// first, then by project and environment.
    pub(super) fn status(&self) -> Vec<EnvironmentStatus> {
        let mut out: Vec<EnvironmentStatus> = self
            .map
            .iter()
            .flat_map(|(project, envs)| envs.iter().map(move |(env, state)| (project, env, state)))
            .filter(|(_, _, state)| !state.deleted)
            .filter_map(|(project, environment, state)| {
                let last_at = state.last_at?;
                Some(EnvironmentStatus {
                    project: project.clone(),
                    environment: environment.clone(),
                    last_deployment: last_at,
                    succeeded: state.last_succeeded,
                    last_success: state.last_success_at,
                    failing_since: state.failing_since,
                    active: state.ended_at.is_none_or(|end| last_at > end),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.active && !a.succeeded)
                .cmp(&(b.active && !b.succeeded))
                .reverse()
                .then_with(|| (&a.project, &a.environment).cmp(&(&b.project, &b.environment)))
        });
        out
    }

    /// Whether `activity` belongs to a deleted environment and is dated no later than its
    /// deletion (it arrived late); a later one brings the environment back as a new one.
    pub(super) fn is_from_before_deletion(&mut self, activity: &Activity, latest: f64) -> bool {
        if self.deleted == 0 {
            return false;
        }
        let Some(env) = self
            .map
            .get_mut(&activity.project)
            .and_then(|e| e.get_mut(&activity.environment))
            .filter(|env| env.deleted)
        else {
            return false;
        };
        if env.ended_at.is_some_and(|end| latest <= end) {
            return true;
        }
        *env = Environment::default();
        self.deleted -= 1;
        false
    }

    /// Notes that the environment of `labels` had an activity at `at`.
    pub(super) fn seen(&mut self, project: &str, environment: &str, at: f64) {
        let env = entry(&mut self.map, project, environment);
        env.seen_at = env.seen_at.max(at);
        if let Some(after) = self.forget_after {
            self.next_forget = self.next_forget.min(env.seen_at + after.as_secs_f64());
        }
    }

    /// Updates the environment's deployment history with a success or a failure finished at
    /// `at`, and the gauges that show it (time to recover waits its turn: [`super::recovery`]).
    pub(super) fn deployment_finished(
        &mut self,
        (project, environment): (&str, &str),
        at: f64,
        succeeded: bool,
        m: &mut ActivityFamilies,
    ) {
        let values = [project, environment];
        let env = entry(&mut self.map, project, environment);
        if env.ended_at.is_some_and(|end| at <= end) {
            // Finished before the environment was deactivated: its state stays "inactive".
            return;
        }
        // Deliveries can arrive out of order: only a later deployment replaces the last one.
        // Of two that finished at the same instant the failure counts as the later, in
        // whatever order they arrive: the environment is failing, and failing since then
        // (`super::recovery` follows the same rule).
        let later = |last: f64| match at.total_cmp(&last) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => !succeeded,
            std::cmp::Ordering::Less => false,
        };
        if env.last_at.is_none_or(later) {
            env.last_at = Some(at);
            env.last_succeeded = succeeded;
        }
        if succeeded {
            if env.last_success_at.is_none_or(|last| at > last) {
                env.last_success_at = Some(at);
            }
            if env.failing_since.is_some_and(|since| at > since) {
                env.failing_since = None;
            }
        } else {
            // The first failure after (or with) the last success starts the time to recover.
            let after_last_success = env.last_success_at.is_none_or(|s| at >= s);
            if after_last_success && env.failing_since.is_none_or(|since| at < since) {
                env.failing_since = Some(at);
            }
        }
        // Written from the state, not from this deployment: after a deactivation the gauges
        // were removed, and the first deployment since brings all of them back.
        let [last_gauge, success_gauge, last_success_gauge] = &mut env.gauges;
        if let Some(last) = env.last_at {
            *slot(
                last_gauge,
                &mut m.last_deployment_timestamp,
                &values,
                || 0.0,
            ) = last;
            *slot(
                success_gauge,
                &mut m.last_deployment_success,
                &values,
                || 0.0,
            ) = f64::from(u8::from(env.last_succeeded));
        }
        if let Some(last) = env.last_success_at {
            let gauge = &mut m.last_successful_deployment_timestamp;
            *slot(last_success_gauge, gauge, &values, || 0.0) = last;
        }
    }

    /// A deactivated or paused environment is not failing: its last-deployment gauges go (so
    /// the failed-deployment alerts resolve) and its counters stay. The next deployment brings
    /// the gauges back.
    /// Whether any series was removed (the cached positions then moved).
    pub(super) fn deactivate(
        &mut self,
        (project, environment): (&str, &str),
        at: f64,
        m: &mut ActivityFamilies,
    ) -> bool {
        let Some(env) = self
            .map
            .get_mut(project)
            .and_then(|e| e.get_mut(environment))
        else {
            return false;
        };
        if env.ended_at.is_some_and(|end| end >= at) || env.last_at.is_some_and(|last| last > at) {
            // An older deactivation arrived late: a deployment or another end came after it.
            return false;
        }
        env.ended_at = Some(at);
        env.failing_since = None;
        let this = |set: LabelSet<'_>| {
            set.value("environment").as_deref() == Some(environment)
                && set.value("project").as_deref() == Some(project)
        };
        let removed = m.last_deployment_timestamp.remove_where(this)
            + m.last_deployment_success.remove_where(this)
            + m.last_successful_deployment_timestamp.remove_where(this);
        removed > 0
    }

    /// Whether the environment had an activity after `at`: a delete dated `at`, delivered
    /// late, is then an old one (a branch of the same name was made again since).
    pub(super) fn seen_after(&self, project: &str, environment: &str, at: f64) -> bool {
        self.map
            .get(project)
            .and_then(|e| e.get(environment))
            .is_some_and(|env| env.seen_at > at)
    }

    /// The environment, its state gone, was deleted at `at`: what remains is when, so that its
    /// late activities do not bring it back.
    pub(super) fn tombstone(&mut self, project: &str, environment: &str, at: f64) {
        let env = entry(&mut self.map, project, environment);
        self.deletions += 1;
        *env = Environment {
            ended_at: Some(at),
            deleted: true,
            deletion: self.deletions,
            seen_at: at,
            ..Environment::default()
        };
        self.deleted += 1;
        // Deleted environments are remembered only as long as there is room for as many as
        // the live ones: past that, the older half are forgotten, by count whatever their
        // times (a flood of deletions dated the same instant must shrink too), so the scan
        // this costs is paid once per half the limit of deletions.
        if self.deleted > self.tombstone_cap {
            self.forget_oldest_tombstones();
        }
    }

    /// Forgets the older half of the deleted environments: by deletion time, then order.
    fn forget_oldest_tombstones(&mut self) {
        let mut tombstones: Vec<(f64, u64)> = self
            .map
            .values()
            .flat_map(HashMap::values)
            .filter(|env| env.deleted)
            .map(|env| (env.ended_at.unwrap_or(f64::NEG_INFINITY), env.deletion))
            .collect();
        let middle = tombstones.len() / 2;
        let order = |a: &(f64, u64), b: &(f64, u64)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let (_, &mut keep_from, _) = tombstones.select_nth_unstable_by(middle, order);
        let mut dropped = 0;
        for envs in self.map.values_mut() {
            envs.retain(|_, env| {
                let key = (env.ended_at.unwrap_or(f64::NEG_INFINITY), env.deletion);
                let drop = env.deleted && order(&key, &keep_from).is_lt();
                dropped += usize::from(drop);
                !drop
            });
        }
        self.map.retain(|_, envs| !envs.is_empty());
        self.deleted -= dropped;
    }

    /// Forgets the `gone` environments (project, then environments), tombstones included.
    pub(super) fn remove(&mut self, gone: &HashMap<String, HashSet<String>>) {
        for (project, environments) in gone {
            if let Some(envs) = self.map.get_mut(project) {
                envs.retain(|environment, env| {
                    let keep = !environments.contains(environment);
                    if !keep && env.deleted {
                        self.deleted -= 1;
                    }
                    keep
                });
                if envs.is_empty() {
                    self.map.remove(project);
                }
            }
        }
    }

    /// (tombstones counted, environments held): for tests of the bounds.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.deleted, self.map.values().map(HashMap::len).sum())
    }

    /// Series were removed: the gauges' cached positions are looked up again on next use.
    pub(super) fn positions_moved(&mut self) {
        for env in self.map.values_mut().flat_map(HashMap::values_mut) {
            env.gauges = [None; 3];
        }
    }

    /// The environments with no activity for `--environments.forget-after` before `now`
    /// (seconds), by project; none when none is due (checked against a lower bound first).
    pub(super) fn idle(&mut self, now: f64) -> HashMap<String, HashSet<String>> {
        let mut idle: HashMap<String, HashSet<String>> = HashMap::new();
        let Some(after) = self.forget_after else {
            return idle;
        };
        if now < self.next_forget {
            return idle;
        }
        let after = after.as_secs_f64();
        let mut next = f64::INFINITY;
        for (project, envs) in &self.map {
            for (environment, env) in envs {
                let due = env.seen_at + after;
                if due <= now {
                    idle.entry_ref(project.as_str())
                        .or_default()
                        .insert(environment.clone());
                } else {
                    next = next.min(due);
                }
            }
        }
        self.next_forget = next;
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: (&str, &str) = ("p", "main");

    #[test]
    fn the_last_deployment_is_the_latest_whatever_the_order_and_a_deactivation_hides_it() {
        let (mut envs, mut m) = (Environments::new(10, None), ActivityFamilies::new());
        envs.deployment_finished(MAIN, 200.0, false, &mut m);
        // An older success, delivered late, is history, not the state.
        envs.deployment_finished(MAIN, 100.0, true, &mut m);
        let status = envs.status();
        assert_eq!(status.len(), 1);
        assert_eq!(
            (
                status[0].succeeded,
                status[0].last_success,
                status[0].failing_since
            ),
            (false, Some(100.0), Some(200.0))
        );
        // Deactivated: its gauges go, and a deactivation older than the last deployment is
        // not one.
        assert!(!envs.deactivate(MAIN, 150.0, &mut m));
        assert!(envs.deactivate(MAIN, 300.0, &mut m));
        assert!(!envs.status()[0].active);
        let mut text = String::new();
        m.last_deployment_success
            .walk(&mut crate::exposition::text::Text::new(&mut text));
        assert_eq!(text, "");
    }

    #[test]
    fn tombstones_remember_the_deletion_and_idle_environments_come_due() {
        let mut envs = Environments::new(10, Some(Duration::from_secs(100)));
        envs.seen("p", "gone", 50.0);
        envs.seen("p", "kept", 500.0);
        assert!(envs.seen_after("p", "gone", 40.0));
        assert!(!envs.seen_after("p", "gone", 60.0));
        envs.tombstone("p", "gone", 60.0);
        assert_eq!(envs.counts(), (1, 2));
        // Nothing due before the first could be.
        assert!(envs.idle(100.0).is_empty());
        let idle = envs.idle(200.0);
        assert_eq!(idle.get("p").map(HashSet::len), Some(1));
        envs.remove(&idle);
        assert_eq!(envs.counts(), (0, 1));
    }
}
