//! The counts and histograms of a finished activity, a sub-state of the recorder: where each
//! label set's series sit (found once, then updated in place), and the series cap that folds
//! label sets past it into one of `_overflow` values.

use hashbrown::HashMap;

use crate::activity::{Activity, ResultLabel};
use crate::labels::{Labels, OVERFLOW, Overflow};
use crate::series::{ActivityFamilies, Exemplar, Histogram, RecorderFamilies, Series};

use super::clock::{Clock, seconds};
use super::settings::Redeploy;
use super::skipped::{Metric, Reason, skip};

/// Where one label set's series sit in the families of finished activities, found on its
/// first activity: later ones update their series without writing, hashing and comparing the
/// label text of each family again (that was 4 % of a delivery). A family with a label the
/// set does not fix (result, phase) has one slot per value.
#[derive(Debug, Default)]
pub(super) struct Handles {
    activities: [Option<usize>; ResultLabel::ALL.len()],
    failures: [Option<usize>; 5],
    duration: [Option<usize>; ResultLabel::ALL.len()],
    wait: Option<usize>,
    phase: [Option<usize>; 4],
    push_commits: Option<usize>,
    deployments: [Option<usize>; ResultLabel::ALL.len()],
    restarts: [Option<usize>; ResultLabel::ALL.len()],
}

/// The label set that keys [`Handles`]: project, environment, environment type, type.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HandlesKey(String, String, String, String);

/// A borrowed [`HandlesKey`], for looking one up without an allocation. Hashes as the owned
/// key does: `String` hashes as its `str`.
#[derive(Hash)]
struct HandlesKeyRef<'a>(&'a str, &'a str, &'a str, &'a str);

impl hashbrown::Equivalent<HandlesKey> for HandlesKeyRef<'_> {
    fn equivalent(&self, key: &HandlesKey) -> bool {
        (self.0, self.1, self.2, self.3) == (&key.0[..], &key.1[..], &key.2[..], &key.3[..])
    }
}

impl From<&HandlesKeyRef<'_>> for HandlesKey {
    fn from(key: &HandlesKeyRef<'_>) -> Self {
        Self(key.0.into(), key.1.into(), key.2.into(), key.3.into())
    }
}

/// The series in `slot`, looked up by `values` in `series` (and created by `new`) only the
/// first time.
pub(super) fn slot<'s, V>(
    slot: &mut Option<usize>,
    series: &'s mut Series<V>,
    values: &[&str],
    new: impl FnOnce() -> V,
) -> &'s mut V {
    let position = *slot.get_or_insert_with(|| series.position(values, new));
    series.at(position)
}

/// Observes `v` in the histogram series in `slot` (see [`slot`]).
fn observe(slot: &mut Option<usize>, series: &mut Series<Histogram>, values: &[&str], v: f64) {
    let position = *slot.get_or_insert_with(|| series.position(values, Histogram::default));
    series.observe_at(position, v);
}

/// Every label set's [`Handles`], at most `series_cap` of them.
#[derive(Debug)]
pub(super) struct Finished {
    handles: HashMap<HandlesKey, Handles>,
    series_cap: usize,
}

impl Finished {
    pub(super) fn new(series_cap: usize) -> Self {
        Self {
            handles: HashMap::new(),
            series_cap,
        }
    }

    /// Counts `activity`, finished as `finished`, under `labels` (folded past the series cap)
    /// in `m`; what cannot be observed is counted in `own`. A (re)deployment is counted in
    /// `platformsh_deployments_total` (a change) or `platformsh_restarts_total` (a restart)
    /// too, and its (project, environment type) as counted is returned, for time to recover.
    pub(super) fn record(
        &mut self,
        (activity, labels): (&Activity, &Labels<'_>),
        finished: ResultLabel,
        clock: Clock,
        redeploy: Option<Redeploy>,
        (m, own): (&mut ActivityFamilies, &mut RecorderFamilies),
    ) -> Option<[String; 2]> {
        let mut key = HandlesKeyRef(
            labels.project.as_ref(),
            labels.environment.as_ref(),
            labels.environment_type.as_ref(),
            labels.kind.as_ref(),
        );
        // Each label is capped, but their combinations multiply: past the series cap, a new
        // label set is counted under one set of `_overflow` values.
        if self.handles.len() >= self.series_cap && !self.handles.contains_key(&key) {
            own.label_overflow.inc(&[Overflow::Series.as_str()]);
            key = HandlesKeyRef(OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW);
        }
        let skipped = &mut own.observations_skipped;
        let mut skip = |metric: Metric, reason: Reason| skip(skipped, metric, reason, 1.0);
        let result = finished.as_str();
        let HandlesKeyRef(project, environment, environment_type, kind) = key;
        let h = self.handles.entry_ref(&key).or_default();
        let r = finished as usize;
        let values = [project, environment, environment_type, kind, result];
        *slot(&mut h.activities[r], &mut m.activities, &values, || 0.0) += 1.0;
        if let Some(reason) = activity.failure() {
            let values = [
                project,
                environment,
                environment_type,
                kind,
                reason.as_str(),
            ];
            let failures = &mut m.activity_failures;
            *slot(&mut h.failures[reason as usize], failures, &values, || 0.0) += 1.0;
        }

        match clock.span(activity.started_at, activity.completed_at) {
            Ok(d) => {
                let values = [project, environment_type, kind, result];
                let series = &mut m.activity_duration;
                let position = *h.duration[r]
                    .get_or_insert_with(|| series.position(&values, Histogram::default));
                let exemplar = Exemplar {
                    id: activity.id.as_str().into(),
                    value: d,
                    at: seconds(clock.at(activity.completed_at)),
                };
                series.observe_at_with(position, d, exemplar);
            }
            Err(reason) => skip(Metric::ActivityDuration, reason),
        }
        match clock.span(activity.created_at, activity.started_at) {
            Ok(d) => {
                let values = [project, environment_type, kind];
                observe(&mut h.wait, &mut m.activity_wait, &values, d);
            }
            Err(reason) => skip(Metric::ActivityWait, reason),
        }
        for (n, (phase, value)) in activity.timings.phases().into_iter().enumerate() {
            match value {
                Some(v) if v.is_finite() && v >= 0.0 => {
                    let values = [project, environment_type, kind, phase];
                    observe(&mut h.phase[n], &mut m.activity_phase, &values, v);
                }
                Some(_) => skip(Metric::ActivityPhase, Reason::Negative),
                None => {}
            }
        }
        if activity.kind == "environment.push"
            && let Some(commits) = activity.commits
        {
            let values = [project, environment_type];
            observe(
                &mut h.push_commits,
                &mut m.push_commits,
                &values,
                commits as f64,
            );
        }

        let values = [project, environment, environment_type, result];
        match redeploy? {
            Redeploy::Change => {
                *slot(&mut h.deployments[r], &mut m.deployments, &values, || 0.0) += 1.0;
            }
            Redeploy::Restart => {
                *slot(&mut h.restarts[r], &mut m.restarts, &values, || 0.0) += 1.0;
            }
        }
        Some([project.to_owned(), environment_type.to_owned()])
    }

    /// Series were removed: every cached position is looked up again on next use.
    pub(super) fn positions_moved(&mut self) {
        for handles in self.handles.values_mut() {
            *handles = Handles::default();
        }
    }

    /// Forgets the label sets of environments that are `gone` (project, environment).
    pub(super) fn forget_environments(&mut self, gone: impl Fn(&str, &str) -> bool) {
        self.handles.retain(|key, _| !gone(&key.0, &key.1));
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use super::*;

    fn labels(project: &str) -> Labels<'_> {
        Labels {
            project: Cow::Borrowed(project),
            environment: Cow::Borrowed("main"),
            environment_type: Cow::Borrowed("production"),
            kind: Cow::Borrowed("environment.push"),
        }
    }

    #[test]
    fn past_the_series_cap_a_new_label_set_is_counted_under_overflow_values() {
        let activity = crate::activity::parse(include_bytes!(
            "../../tests/fixtures/push-success-seed.json"
        ))
        .unwrap();
        let clock = Clock::new(chrono::Utc::now(), Duration::from_secs(300));
        let (mut m, mut own) = (ActivityFamilies::new(), RecorderFamilies::new());
        let mut finished = Finished::new(1);
        for project in ["a", "b", "c", "a"] {
            let counted = finished.record(
                (&activity, &labels(project)),
                ResultLabel::Success,
                clock,
                Some(Redeploy::Change),
                (&mut m, &mut own),
            );
            let expected = if project == "a" { project } else { OVERFLOW };
            assert_eq!(
                counted,
                Some([
                    expected.to_owned(),
                    if project == "a" {
                        "production"
                    } else {
                        OVERFLOW
                    }
                    .to_owned()
                ])
            );
        }
        let mut text = String::new();
        m.deployments
            .walk(&mut crate::exposition::text::Text::new(&mut text));
        own.label_overflow
            .walk(&mut crate::exposition::text::Text::new(&mut text));
        assert!(
            text.contains("project=\"a\",result=\"success\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("project=\"_overflow\",result=\"success\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("label_overflow_total{label=\"series\"} 2\n"),
            "{text}"
        );
    }
}
