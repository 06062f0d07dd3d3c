//! Time to recover, a sub-state of the recorder: each environment's deployments as time to
//! recover sees them, in the order they finished (the recorder feeds it facts in time order,
//! see [`super::settle`]), apart from the last-deployment gauges, which follow arrival.
//!
//! The rule (README, Metrics): the first failure after the last success starts the time to
//! recover, the next success ends it. A deactivation, pause or deletion ends the environment's
//! past: what finished before it starts or ends nothing. A fact that arrived too late to wait
//! its turn is still placed as well as it can be: a failure before the last success, or a
//! success before the failure that started the time, changes nothing.

// hashbrown's maps, as the recorder's, for `&str` look-ups of `String` keys.
use hashbrown::HashMap;

/// One environment.
#[derive(Debug, Default)]
struct Environment {
    last_success: Option<f64>,
    /// The first failure since the last success.
    failing_since: Option<f64>,
    /// Deactivated, paused or deleted at: what finished before belongs to its past.
    ended_at: Option<f64>,
}

/// Every environment's, by project then environment. Bounded as the recorder's environments
/// are: an environment forgotten or deleted there is forgotten here.
#[derive(Debug, Default)]
pub(super) struct Recovery {
    environments: HashMap<String, HashMap<String, Environment>>,
}

impl Recovery {
    /// The environment's, made the first time; a look-up allocates only then.
    fn environment(&mut self, project: &str, environment: &str) -> &mut Environment {
        self.environments
            .entry_ref(project)
            .or_default()
            .entry_ref(environment)
            .or_default()
    }

    /// A deployment of the environment finished at `at` (seconds): the time to recover it
    /// ends, if it ends one.
    pub(super) fn deployment(
        &mut self,
        project: &str,
        environment: &str,
        at: f64,
        succeeded: bool,
    ) -> Option<f64> {
        let env = self.environment(project, environment);
        if env.ended_at.is_some_and(|end| at <= end) {
            return None;
        }
        // Of a success and a failure at the same instant, the failure counts as the later (as
        // the last-deployment gauges have it): the time to recover starts there.
        if succeeded {
            let recovered = env
                .failing_since
                .filter(|&since| at > since)
                .map(|since| at - since);
            if recovered.is_some() {
                env.failing_since = None;
            }
            if env.last_success.is_none_or(|last| at > last) {
                env.last_success = Some(at);
            }
            recovered
        } else {
            let after_last_success = env.last_success.is_none_or(|s| at >= s);
            if after_last_success && env.failing_since.is_none_or(|since| at < since) {
                env.failing_since = Some(at);
            }
            None
        }
    }

    /// The environment was deactivated or paused at `at`: its past is closed.
    pub(super) fn ended(&mut self, project: &str, environment: &str, at: f64) {
        let env = self.environment(project, environment);
        if env.ended_at.is_none_or(|end| at > end) {
            *env = Environment {
                ended_at: Some(at),
                ..Environment::default()
            };
        }
    }

    /// The environment was deleted or forgotten.
    pub(super) fn forget(&mut self, project: &str, environment: &str) {
        if let Some(envs) = self.environments.get_mut(project) {
            envs.remove(environment);
            if envs.is_empty() {
                self.environments.remove(project);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// A success and a failure that finished at the same instant leave the environment failing
    /// since then, in either order, and the next success ends it.
    #[test]
    fn of_a_success_and_a_failure_at_the_same_instant_the_failure_is_the_later() {
        for failure_first in [true, false] {
            let mut r = Recovery::default();
            let order = if failure_first {
                [false, true]
            } else {
                [true, false]
            };
            for succeeded in order {
                assert_eq!(
                    r.deployment("p", "main", 100.0, succeeded),
                    None,
                    "{order:?}"
                );
            }
            assert_eq!(
                r.deployment("p", "main", 160.0, true),
                Some(60.0),
                "{order:?}"
            );
        }
    }

    use super::*;

    #[test]
    fn the_first_failure_after_the_last_success_starts_it_and_the_next_success_ends_it() {
        let mut r = Recovery::default();
        assert_eq!(r.deployment("p", "main", 100.0, false), None);
        assert_eq!(r.deployment("p", "main", 160.0, false), None);
        assert_eq!(r.deployment("p", "main", 400.0, true), Some(300.0));
        // Recovered: the next success ends nothing.
        assert_eq!(r.deployment("p", "main", 500.0, true), None);
        // Environments apart.
        assert_eq!(r.deployment("p", "staging", 450.0, false), None);
        assert_eq!(r.deployment("p", "main", 600.0, false), None);
        assert_eq!(r.deployment("p", "staging", 700.0, true), Some(250.0));
    }

    #[test]
    fn facts_too_late_for_their_turn_change_nothing_they_cannot() {
        let mut r = Recovery::default();
        assert_eq!(r.deployment("p", "main", 400.0, true), None);
        // A failure from before the last success, arriving after it.
        assert_eq!(r.deployment("p", "main", 100.0, false), None);
        assert_eq!(r.deployment("p", "main", 500.0, true), None);
        // A failure, then a success from before it.
        assert_eq!(r.deployment("p", "main", 600.0, false), None);
        assert_eq!(r.deployment("p", "main", 550.0, true), None);
        assert_eq!(r.deployment("p", "main", 700.0, true), Some(100.0));
    }

    #[test]
    fn an_end_closes_the_past_and_forgetting_starts_afresh() {
        let mut r = Recovery::default();
        assert_eq!(r.deployment("p", "main", 100.0, false), None);
        r.ended("p", "main", 150.0);
        // A failure before the deactivation, and the success after it: nothing to recover.
        assert_eq!(r.deployment("p", "main", 120.0, false), None);
        assert_eq!(r.deployment("p", "main", 200.0, true), None);
        assert_eq!(r.deployment("p", "main", 300.0, false), None);
        r.forget("p", "main");
        assert!(r.environments.is_empty());
        assert_eq!(r.deployment("p", "main", 400.0, true), None);
    }
}
