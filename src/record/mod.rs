//! Record: the one function that turns an [`Activity`] into metric updates, and the state that
//! spans activities (deduplication, each environment's last deployment, unfinished activities).
//!
//! A live delivery and a stored one replayed at start go through [`Recorder::record`], so the
//! same activities in the same order always rebuild the same metrics.

use std::time::Duration;

use chrono::{DateTime, Utc};
// hashbrown's maps hash with foldhash: SipHash, std's default, was 3 % of a delivery.
use hashbrown::{HashMap, HashSet};

use crate::activity::{Activity, ActivityState, ResultLabel, Source};
use crate::alert::Incident;
use crate::exposition::Sink;
use crate::labels::{Caps, Labels, Overflow};
use crate::series::{ActivityFamilies, LabelSet, RecorderFamilies};

mod clock;
mod dedup;
mod environments;
mod fact;
mod finished;
mod incidents;
pub mod lead;
mod recovery;
mod settings;
mod settle;
mod skipped;
mod snapshot;
pub mod unfinished;

pub use clock::shown_at;
use clock::{Clock, seconds};
use dedup::Seen;
pub use environments::EnvironmentStatus;
use environments::Environments;
use fact::{Deployment, Fact};
use finished::Finished;
use incidents::Incidents;
pub use incidents::{IncidentOutcome, OpenIncident};
use lead::{LeadSeries, LeadTimes};
use recovery::Recovery;
pub use settings::{DEFAULT_DEPLOYMENT_TYPES, DEFAULT_RESTART_TYPES, Redeploy, Settings};
use settle::{Offer, Settling, Unordered};
use skipped::{SKIPPABLE, skip};
pub use snapshot::Snapshot;
use unfinished::Unfinished;

/// Most weight of facts waiting to be applied in time order (one per activity, plus one per
/// commit it lists): a few tens of MB at most. Past it the oldest are applied early.
const SETTLING_CAPACITY: usize = 50_000;

/// Activity types that end an environment's life, or pause it, once finished successfully.
const DELETE: &str = "environment.delete";
const DEACTIVATIONS: [&str; 2] = ["environment.deactivate", "environment.pause"];

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Accepted,
    /// The same (id, state) was recorded before; nothing changed.
    Duplicate,
}

/// All state that spans activities, and the only writer of the activity metrics.
#[derive(Debug)]
pub struct Recorder {
    families: ActivityFamilies,
    /// The exporter's own counters that replay rebuilds: label overflow, skipped observations.
    own: RecorderFamilies,
    /// Where `own.unordered`'s series for each of [`Unordered::ALL`] sit: counted per
    /// delivery, so not looked up by label each time.
    unordered: [usize; 2],
    /// Counts the changes that scrapes can see: a scrape reuses what it wrote for the same
    /// generation.
    generation: u64,
    /// Whether the families changed since `generation` was last read.
    changed: bool,
    settings: Settings,
    caps: Caps,
    seen: Seen,
    /// Activities counted as finished while staged (manual deployment), so that the same id
    /// seen complete later is not counted again.
    staged: Seen,
    /// Keyed by project, then environment, so that `&str` labels can look one up. Every
    /// environment with a label of its own (not `_overflow`, not empty) is here.
    environments: Environments,
    unfinished: Unfinished,
    /// At most one per label set of `platformsh_activities_total`: bounded as it is, by the caps.
    handles: Finished,
    /// Commits pending production and delivered, for lead time.
    lead: LeadTimes,
    /// Lead time's and time to recover's facts, waiting to be applied in time order.
    settling: Settling<Fact>,
    /// Each environment's failures and successes as time to recover sees them.
    recovery: Recovery,
    /// Incidents, and the change deployments they may follow.
    incidents: Incidents,
}

impl Recorder {
    /// How far past its receipt an activity's timestamp may be before it is not believed.
    pub fn max_clock_skew(&self) -> Duration {
        self.settings.max_clock_skew
    }

    pub fn new(settings: Settings) -> Self {
        let mut own = RecorderFamilies::new();
        // At 0 from the start, so that `increase()` and alerts see the first one.
        for label in Overflow::ALL {
            own.label_overflow.add(&[label.as_str()], 0.0);
        }
        for (metric, reason) in SKIPPABLE {
            skip(&mut own.observations_skipped, metric, reason, 0.0);
        }
        // Found once: the own families never lose a series, so the positions stay good.
        let unordered =
            Unordered::ALL.map(|reason| own.unordered.position(&[reason.as_str()], || 0.0));
        Self {
            unordered,
            families: ActivityFamilies::new(),
            own,
            generation: 0,
            changed: true,
            caps: Caps::new(settings.limits),
            seen: Seen::new(settings.dedup_capacity),
            staged: Seen::new(settings.dedup_capacity),
            lead: LeadTimes::new(settings.limits.commits),
            settling: Settling::new(settings.settle, SETTLING_CAPACITY),
            environments: Environments::new(settings.limits.environments, settings.forget_after),
            handles: Finished::new(settings.limits.series),
            unfinished: Unfinished::new(settings.unfinished_capacity, settings.unfinished_ttl),
            recovery: Recovery::default(),
            incidents: Incidents::new(&settings),
            settings,
        }
    }

    /// Shows `project`'s reconciliation counters at 0 for `increase()`; the API poller calls it.
    pub fn expect_project(&mut self, project: &str) {
        let Some(project) = self.caps.admitted_project(project) else {
            return;
        };
        self.own.delivered.add(&[project], 0.0);
        self.own.reconciled.add(&[project], 0.0);
        self.own.backfilled.add(&[project], 0.0);
        self.own.unsent.add(&[project], 0.0);
        self.changed = true;
    }

    pub fn families(&self) -> &ActivityFamilies {
        &self.families
    }

    /// The unfinished activities, oldest first: (id, project, environment, state, last heard).
    pub fn unfinished_activities(&self) -> Vec<unfinished::Listed> {
        self.unfinished.list()
    }

    /// Walks the activity families (not the own counters) into `sink`: what `history` writes.
    pub fn walk_activity_families(&self, sink: &mut impl Sink) {
        self.families.walk(sink);
    }

    /// Every family in the text format, as a scrape writes it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut sink = crate::exposition::text::Text::new(&mut out);
        self.families.walk(&mut sink);
        self.own.walk(&mut sink);
        out
    }

    /// A number that changes whenever what the families show does (never 0).
    pub fn generation(&mut self) -> u64 {
        if self.changed {
            self.generation += 1;
            self.changed = false;
        }
        self.generation
    }

    /// A copy of what the families show now, to be written without the recorder's lock:
    /// copying the series is a fraction of writing them as text (BENCHMARKS.md, `/metrics`),
    /// so deliveries wait that much less behind a scrape.
    pub fn snapshot(&mut self) -> Snapshot {
        Snapshot {
            generation: self.generation(),
            families: self.families.clone(),
            own: self.own.clone(),
        }
    }

    /// Records one activity received at `received_at`. A duplicate changes nothing.
    pub fn record(&mut self, activity: &Activity, received_at: DateTime<Utc>) -> Recorded {
        if !self.seen.insert(&activity.id, activity.state) {
            return Recorded::Duplicate;
        }
        let clock = Clock::new(received_at, self.settings.max_clock_skew);
        // What waited long enough first: replay moves the watermark at the same points.
        self.settle(received_at);
        // Real API data can have every timestamp null: the activity still happened, and was
        // received at a time the store keeps, so replay agrees.
        let latest_at = clock.at(activity.latest_timestamp());
        let latest = seconds(latest_at);
        // Before the caps admit anything: a forgotten environment frees its slot. Due by the
        // receipt time, so that replay forgets at the same points.
        self.forget_idle_environments(seconds(received_at));
        if self.environments.is_from_before_deletion(activity, latest) {
            return Recorded::Accepted;
        }
        let (labels, overflowed) = self.caps.resolve(activity);
        for label in overflowed {
            self.own.label_overflow.inc(&[label.as_str()]);
        }
        self.families
            .last_activity_timestamp
            .set_max(&[&labels.project], latest);
        match activity.source {
            Source::Webhook => self.own.delivered.inc(&[&labels.project]),
            Source::Reconciliation => self.own.reconciled.inc(&[&labels.project]),
            Source::Backfill => self.own.backfilled.inc(&[&labels.project]),
            Source::Unsent => self.own.unsent.inc(&[&labels.project]),
        }
        if labels.name_one_environment() {
            let (project, environment) = (&labels.project, &labels.environment);
            self.environments.seen(project, environment, latest);
        }

        let finished = activity.finished();
        match finished {
            // Staged with a result, then seen complete (or the other way): counted once.
            Some(_) if self.counted_in_another_state(activity) => {
                self.forget_unfinished(&activity.id);
            }
            Some(finished) => {
                self.forget_unfinished(&activity.id);
                if activity.state == ActivityState::Staged {
                    self.staged.insert(&activity.id, ActivityState::Staged);
                }
                let deployment = self.record_finished(activity, &labels, finished, clock);
                let matters = deployment.is_some()
                    || !activity.commit_list.is_empty()
                    || activity.commits_dropped > 0
                    || activity.merged_child.is_some();
                let at = clock.at(activity.finished_at()).timestamp_micros();
                if matters && !self.settling.waits(at) {
                    // Too late to wait (or no window): applied now, without a copy.
                    self.count_unordered(Unordered::Late);
                    self.apply_finished(activity, &labels, finished, clock, deployment.as_ref());
                } else if matters {
                    let weight = 1 + activity.commit_list.len();
                    let fact = Fact::Finished {
                        activity: Box::new(activity.clone()),
                        labels: labels.to_static(),
                        finished,
                        clock,
                        deployment,
                    };
                    self.order(at, &activity.id, weight, fact);
                }
            }
            None => self.track_unfinished(activity, &labels, received_at),
        }
        if finished == Some(ResultLabel::Success) && labels.name_one_environment() {
            let (project, environment) = (&labels.project, &labels.environment);
            let deleted = activity.kind == DELETE;
            let deactivated = !deleted && DEACTIVATIONS.contains(&activity.kind.as_str());
            if deleted {
                self.delete_environment(project, environment, latest);
            } else if deactivated {
                let ended = (project.as_ref(), environment.as_ref());
                if self
                    .environments
                    .deactivate(ended, latest, &mut self.families)
                {
                    self.positions_moved();
                }
            }
            if deleted || deactivated {
                let fact = Fact::Ended {
                    project: project.to_string(),
                    environment: environment.to_string(),
                    at: latest,
                    deleted,
                };
                self.order(latest_at.timestamp_micros(), &activity.id, 1, fact);
            }
        }
        self.changed = true;
        Recorded::Accepted
    }

    /// Counts a finished activity (see [`finished`]); for a deployment that succeeded or
    /// failed, updates its environment's last deployment and returns it, for time to recover.
    fn record_finished(
        &mut self,
        activity: &Activity,
        labels: &Labels<'_>,
        finished: ResultLabel,
        clock: Clock,
    ) -> Option<Deployment> {
        let redeploy = self.redeploy(activity);
        let (m, own) = (&mut self.families, &mut self.own);
        let values =
            self.handles
                .record((activity, labels), finished, clock, redeploy, (m, own))?;
        let at = seconds(clock.at(activity.finished_at()));
        let succeeded = match finished {
            ResultLabel::Success => true,
            ResultLabel::Failure => false,
            // A cancelled deployment, or one whose result is unknown, leaves the environment
            // as it was.
            ResultLabel::Cancelled | ResultLabel::Unknown => return None,
        };
        let environment = (labels.project.as_ref(), labels.environment.as_ref());
        self.environments
            .deployment_finished(environment, at, succeeded, &mut self.families);
        if labels.name_one_environment() {
            let place = [
                environment.0,
                environment.1,
                labels.environment_type.as_ref(),
            ];
            let micros = clock.at(activity.finished_at()).timestamp_micros();
            let change = succeeded && redeploy == Some(Redeploy::Change);
            self.incidents.deployed(place, micros, change);
        }
        Some(Deployment {
            values,
            at,
            succeeded,
        })
    }

    /// Whether (and how) the activity redeployed its environment: never while staged (manual
    /// deployment: `environment.deploy` deploys what was staged, later).
    fn redeploy(&self, activity: &Activity) -> Option<Redeploy> {
        if activity.state == ActivityState::Staged {
            return None;
        }
        self.settings.redeploy(&activity.kind)
    }

    /// Whether the activity was counted as finished in another state: staged with a result,
    /// then complete or cancelled (whether Platform.sh does so is undocumented), or the other
    /// way. An activity is counted once whatever states it passes through.
    fn counted_in_another_state(&self, activity: &Activity) -> bool {
        match activity.state {
            ActivityState::Staged => {
                self.seen.contains(&activity.id, ActivityState::Complete)
                    || self.seen.contains(&activity.id, ActivityState::Cancelled)
            }
            _ => self.staged.contains(&activity.id, ActivityState::Staged),
        }
    }

    /// Records one incident alert received at `received_at` (see [`incidents`]).
    pub fn incident(&mut self, incident: &Incident, received_at: DateTime<Utc>) -> IncidentOutcome {
        let clock = Clock::new(received_at, self.settings.max_clock_skew);
        let starts = clock.at(Some(incident.starts_at)).timestamp_micros();
        let ends = incident
            .ends_at
            .map(|t| clock.at(Some(t)).timestamp_micros());
        let (outcome, effect) = self.incidents.record(incident, starts, ends);
        if effect != incidents::Effect::default() {
            incidents::write(&effect, &mut self.families);
            self.changed = true;
        }
        outcome
    }

    /// Applies what waited its turn up to `now` (less the settle window).
    pub fn settle(&mut self, now: DateTime<Utc>) {
        let due = self.settling.advance(now.timestamp_micros());
        if !due.is_empty() {
            self.changed = true;
        }
        for fact in due {
            self.apply(fact);
        }
    }

    /// Lets `fact`, dated `at` (µs), wait its turn, or applies it now if it came too late to.
    fn order(&mut self, at: i64, id: &str, weight: usize, fact: Fact) {
        let (now, reason) = match self.settling.offer(at, id, weight, fact) {
            Offer::Waiting => return,
            Offer::Late(fact) => (vec![fact], Unordered::Late),
            Offer::Full(facts) => (facts, Unordered::Capacity),
        };
        for fact in now {
            if matches!(fact, Fact::Finished { .. }) {
                self.count_unordered(reason);
            }
            self.apply(fact);
        }
    }

    /// Counts a finished activity applied in arrival order, when facts are ordered at all.
    fn count_unordered(&mut self, reason: Unordered) {
        if self.settling.is_ordering() {
            *self.own.unordered.at(self.unordered[reason as usize]) += 1.0;
        }
    }

    fn apply(&mut self, fact: Fact) {
        match fact {
            Fact::Finished {
                activity,
                labels,
                finished,
                clock,
                deployment,
            } => self.apply_finished(&activity, &labels, finished, clock, deployment.as_ref()),
            Fact::Ended {
                project,
                environment,
                at,
                deleted,
            } => {
                if deleted {
                    self.lead.forget_environment(&project, &environment);
                    self.recovery.forget(&project, &environment);
                } else {
                    self.recovery.ended(&project, &environment, at);
                }
            }
        }
    }

    /// A finished activity's part in lead time, and a deployment's in time to recover.
    fn apply_finished(
        &mut self,
        activity: &Activity,
        labels: &Labels<'_>,
        finished: ResultLabel,
        clock: Clock,
        deployment: Option<&Deployment>,
    ) {
        // A restart delivers too: a redeploy after a failed push is what brings its code out.
        let delivers = labels.environment_type == "production" && self.redeploy(activity).is_some();
        let series = LeadSeries {
            change: &mut self.families.change_lead_time,
            commit: &mut self.families.commit_lead_time,
            overflow: &mut self.own.label_overflow,
            skipped: &mut self.own.observations_skipped,
        };
        let project = labels.project.as_ref();
        self.lead
            .record(activity, project, finished, clock, delivers, series);
        if let Some(deployment) = deployment
            && labels.name_one_environment()
        {
            self.recover(labels, deployment);
        }
    }

    /// Time to recover (see [`recovery`]): observed when a success ends one.
    fn recover(&mut self, labels: &Labels<'_>, deployment: &Deployment) {
        let Deployment {
            values,
            at,
            succeeded,
        } = deployment;
        if let Some(recovered) =
            self.recovery
                .deployment(&labels.project, &labels.environment, *at, *succeeded)
        {
            let values = [values[0].as_str(), values[1].as_str()];
            self.families
                .deployment_recovery
                .observe(&values, recovered);
        }
    }

    /// How many finished activities wait for lead time and recovery, and how long each waits.
    pub fn settling(&self) -> (usize, Duration) {
        (self.settling.len(), self.settings.settle)
    }

    /// Every deployed environment, for the status page: failing first, then by name.
    pub fn environment_status(&self) -> Vec<EnvironmentStatus> {
        self.environments.status()
    }

    /// The incidents firing now (Alertmanager's), the latest first, for the status page.
    pub fn open_incidents(&self) -> Vec<OpenIncident> {
        self.incidents.open()
    }

    /// A deleted environment leaves no trace in the metrics: every series that carries it, its
    /// state and its slot under `--limits.environments` go; a tombstone remains.
    fn delete_environment(&mut self, project: &str, environment: &str, at: f64) {
        if self.environments.seen_after(project, environment, at) {
            // An old delete delivered late: a branch of the same name was made again since.
            return;
        }
        let gone = HashMap::from([(project.to_owned(), HashSet::from([environment.to_owned()]))]);
        self.remove_environments(&gone);
        self.environments.tombstone(project, environment, at);
    }

    /// Removes every series that carries one of the `gone` environments (project, then
    /// environments), their state, unfinished activities and slots under the caps. One pass
    /// over each family, however many go.
    fn remove_environments(&mut self, gone: &HashMap<String, HashSet<String>>) {
        let is_gone = |project: &str, environment: &str| {
            gone.get(project)
                .is_some_and(|envs| envs.contains(environment))
        };
        let carries_one = |set: LabelSet<'_>| {
            set.value("project").is_some_and(|project| {
                gone.get(project.as_ref()).is_some_and(|envs| {
                    set.value("environment")
                        .is_some_and(|environment| envs.contains(environment.as_ref()))
                })
            })
        };
        let removed = self.families.remove_environments(carries_one);
        self.unfinished.forget_environments(is_gone);
        self.incidents.forget_environments(is_gone);
        self.handles.forget_environments(is_gone);
        for (project, environments) in gone {
            for environment in environments {
                self.caps.forget_environment(project, environment);
                self.lead.forget_environment(project, environment);
                self.recovery.forget(project, environment);
            }
        }
        self.environments.remove(gone);
        if removed > 0 {
            self.positions_moved();
        }
    }

    /// Series were removed, so the positions cached in the handles and the environments' gauges
    /// may point at other series: they are looked up again on next use.
    fn positions_moved(&mut self) {
        self.handles.positions_moved();
        self.environments.positions_moved();
    }

    /// Forgets the environments with no activity for `--environments.forget-after` before `now`
    /// (seconds), as if they had been deleted (but their late activities are welcome).
    pub fn forget_idle_environments(&mut self, now: f64) {
        let idle = self.environments.idle(now);
        if !idle.is_empty() {
            self.remove_environments(&idle);
            self.changed = true;
        }
    }

    fn track_unfinished(&mut self, activity: &Activity, labels: &Labels<'_>, now: DateTime<Utc>) {
        // A late "in_progress" for an activity already finished must not resurrect it.
        if self.seen.contains(&activity.id, ActivityState::Complete)
            || self.seen.contains(&activity.id, ActivityState::Cancelled)
        {
            return;
        }
        let id = (
            activity.id.as_str(),
            labels.project.as_ref(),
            labels.environment.as_ref(),
        );
        let gauge = &mut self.families.activities_unfinished;
        if !self.unfinished.track(id, activity.state, now, gauge) {
            self.own
                .label_overflow
                .inc(&[Overflow::Unfinished.as_str()]);
        }
    }

    fn forget_unfinished(&mut self, id: &str) {
        self.unfinished
            .forget(id, &mut self.families.activities_unfinished);
    }

    /// Drops unfinished activities not heard of for their TTL (see [`unfinished`]).
    pub fn expire_unfinished(&mut self, now: DateTime<Utc>) {
        if self
            .unfinished
            .expire(now, &mut self.families.activities_unfinished)
        {
            self.changed = true;
        }
    }
}

/// Brings the recorder to the present `now`: what waited its turn applied, stale
/// unfinished activities and idle environments dropped (here rather than per delivery: the
/// scans are O(tracked)). The exporter's housekeeping calls it every second (a scrape only
/// reads), and `history` before its last point: both show the same state for the same `now`.
pub fn expire(recorder: &mut Recorder, now: DateTime<Utc>) {
    recorder.settle(now);
    recorder.expire_unfinished(now);
    recorder.forget_idle_environments(seconds(now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ActivityResult;
    use crate::labels::{Limits, OVERFLOW};

    /// Each result of one label set has its own slot in the handles: the counts must not mix.
    #[test]
    fn results_of_one_label_set_count_apart() {
        let seed = crate::activity::parse(include_bytes!(
            "../../tests/fixtures/push-success-seed.json"
        ))
        .unwrap();
        let mut recorder = Recorder::new(Settings::default());
        let outcomes = [
            (ActivityState::Complete, Some(ActivityResult::Success)),
            (ActivityState::Complete, Some(ActivityResult::Failure)),
            (ActivityState::Cancelled, Some(ActivityResult::Failure)),
            (ActivityState::Complete, Some(ActivityResult::Success)),
            (ActivityState::Complete, Some(ActivityResult::Failure)),
            (ActivityState::Complete, Some(ActivityResult::Success)),
        ];
        for (n, (state, result)) in outcomes.into_iter().enumerate() {
            let activity = Activity {
                id: format!("a{n}"),
                state,
                result,
                ..seed.clone()
            };
            recorder.record(&activity, Utc::now());
        }
        let text = &recorder.text();
        let labels = "environment=\"master\",environment_type=\"production\",\
                      project=\"sx-this-is-an-example-value-hu\"";
        for (result, count) in [("success", 3), ("failure", 2), ("cancelled", 1)] {
            let line = format!(
                "platformsh_activities_total{{{labels},result=\"{result}\",\
                 type=\"environment.push\"}} {count}\n"
            );
            assert!(text.contains(&line), "{line} in\n{text}");
            let line =
                format!("platformsh_deployments_total{{{labels},result=\"{result}\"}} {count}\n");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        // All finished at the same instant: of a success and a failure then, the failure counts
        // as the later (whatever the order they came in), so the environment is failing.
        let env = "environment=\"master\",project=\"sx-this-is-an-example-value-hu\"";
        assert!(text.contains(&format!("platformsh_last_deployment_success{{{env}}} 0\n")));
    }

    /// A deployment of the seed's environment (production `master`) finished at `at` (seconds).
    fn deployment(id: &str, state: ActivityState, result: ActivityResult, at: i64) -> Activity {
        let seed = crate::activity::parse(include_bytes!(
            "../../tests/fixtures/push-success-seed.json"
        ))
        .unwrap();
        let at = DateTime::from_timestamp(at, 0).unwrap();
        Activity {
            id: id.into(),
            state,
            result: Some(result),
            started_at: Some(at),
            completed_at: Some(at),
            cancelled_at: None,
            updated_at: Some(at),
            created_at: Some(at),
            ..seed
        }
    }

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    const ENV: &str = "{environment=\"master\",project=\"sx-this-is-an-example-value-hu\"}";
    const RECOVERY: &str = "platformsh_deployment_recovery_seconds";
    const ENV_TYPE: &str =
        "{environment_type=\"production\",project=\"sx-this-is-an-example-value-hu\"}";

    #[test]
    fn within_the_settle_window_a_failure_delivered_after_its_fix_is_paired_with_it() {
        use ActivityResult::{Failure, Success};
        let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap();
        let count = format!("{RECOVERY}_count{ENV_TYPE}");
        let sum = format!("{RECOVERY}_sum{ENV_TYPE}");
        for (settle, expected) in [(0, None), (600, Some(200.0))] {
            let settings = Settings {
                settle: Duration::from_secs(settle),
                ..Settings::default()
            };
            let mut r = Recorder::new(settings);
            // The fix arrives first, then the failure it fixed.
            let fix = deployment("s1", ActivityState::Complete, Success, 2000);
            r.record(&fix, at(2100));
            r.record(
                &deployment("f1", ActivityState::Complete, Failure, 1800),
                at(2100),
            );
            if settle > 0 {
                // Waiting its turn: not observed yet.
                assert_eq!(sample(&r.text(), &count), None);
            }
            r.settle(at(2700));
            assert_eq!(sample(&r.text(), &sum), expected, "settle {settle}");
        }
    }

    #[test]
    fn a_success_after_failures_observes_the_time_from_the_first_failure() {
        let mut r = Recorder::new(Settings::default());
        let now = Utc::now();
        r.record(
            &deployment("f1", ActivityState::Complete, ActivityResult::Failure, 1000),
            now,
        );
        r.record(
            &deployment("f2", ActivityState::Complete, ActivityResult::Failure, 1600),
            now,
        );
        r.record(
            &deployment("s", ActivityState::Complete, ActivityResult::Success, 4600),
            now,
        );
        let text = &r.text();
        assert_eq!(
            sample(text, &format!("{RECOVERY}_count{ENV_TYPE}")),
            Some(1.0)
        );
        assert_eq!(
            sample(text, &format!("{RECOVERY}_sum{ENV_TYPE}")),
            Some(3600.0)
        );
        let last = format!("platformsh_last_deployment_success{ENV}");
        assert_eq!(sample(text, &last), Some(1.0));
    }

    #[test]
    fn a_late_delivery_of_an_older_failure_does_not_replace_the_last_deployment() {
        let mut r = Recorder::new(Settings::default());
        let now = Utc::now();
        r.record(
            &deployment(
                "new",
                ActivityState::Complete,
                ActivityResult::Success,
                2000,
            ),
            now,
        );
        r.record(
            &deployment(
                "old",
                ActivityState::Complete,
                ActivityResult::Failure,
                1000,
            ),
            now,
        );
        let text = &r.text();
        let last = format!("platformsh_last_deployment_success{ENV}");
        assert_eq!(sample(text, &last), Some(1.0));
        let at = format!("platformsh_last_deployment_timestamp_seconds{ENV}");
        assert_eq!(sample(text, &at), Some(2000.0));
        // The older failure came before the success: nothing to recover from.
        assert_eq!(sample(text, &format!("{RECOVERY}_count{ENV_TYPE}")), None);
    }

    #[test]
    fn a_cancelled_deployment_leaves_the_last_deployment_as_it_was() {
        let mut r = Recorder::new(Settings::default());
        let now = Utc::now();
        r.record(
            &deployment("f", ActivityState::Complete, ActivityResult::Failure, 1000),
            now,
        );
        r.record(
            &deployment("c", ActivityState::Cancelled, ActivityResult::Failure, 2000),
            now,
        );
        let text = &r.text();
        let last = format!("platformsh_last_deployment_success{ENV}");
        assert_eq!(sample(text, &last), Some(0.0));
        let at = format!("platformsh_last_deployment_timestamp_seconds{ENV}");
        assert_eq!(sample(text, &at), Some(1000.0));
    }

    #[test]
    fn a_staged_deployment_outlives_the_ttl_meant_for_stuck_activities() {
        let mut r = Recorder::new(Settings::default());
        let then = Utc::now();
        let staged = Activity {
            result: None,
            ..deployment(
                "staged",
                ActivityState::Staged,
                ActivityResult::Success,
                1000,
            )
        };
        let stuck = Activity {
            result: None,
            ..deployment(
                "stuck",
                ActivityState::InProgress,
                ActivityResult::Success,
                1000,
            )
        };
        r.record(&staged, then);
        r.record(&stuck, then);
        r.expire_unfinished(then + chrono::Duration::days(3));
        let text = r.text();
        let unfinished = |state: &str| {
            sample(
                &text,
                &format!(
                    "platformsh_activities_unfinished{{environment=\"master\",\
                     project=\"sx-this-is-an-example-value-hu\",state=\"{state}\"}}"
                ),
            )
        };
        assert_eq!(unfinished("staged"), Some(1.0));
        assert_eq!(unfinished("in_progress"), Some(0.0));
        // A month without news: its end was lost; it leaves too.
        r.expire_unfinished(then + chrono::Duration::days(31));
        let text = r.text();
        let staged = "platformsh_activities_unfinished{environment=\"master\",\
                      project=\"sx-this-is-an-example-value-hu\",state=\"staged\"}";
        assert_eq!(sample(&text, staged), Some(0.0));
    }

    /// A finished activity of `kind` on environment `environment` of the seed's project,
    /// with `result`, at `at` (seconds).
    fn on(environment: &str, kind: &str, id: &str, result: ActivityResult, at: i64) -> Activity {
        Activity {
            kind: kind.into(),
            environment: environment.into(),
            environment_type: "development".into(),
            ..deployment(id, ActivityState::Complete, result, at)
        }
    }

    fn env_series(text: &str, environment: &str) -> Vec<String> {
        let label = format!("environment=\"{environment}\"");
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains(&label))
            .map(str::to_owned)
            .collect()
    }

    const PUSH: &str = "environment.push";

    #[test]
    fn a_deleted_environment_leaves_no_series_no_state_and_frees_its_slot() {
        let settings = Settings {
            limits: Limits {
                environments: 2,
                ..Limits::default()
            },
            ..Settings::default()
        };
        let mut r = Recorder::new(settings);
        let now = Utc::now();
        r.record(&on("kept", PUSH, "k", ActivityResult::Success, 900), now);
        r.record(&on("pr-1", PUSH, "f", ActivityResult::Failure, 1000), now);
        let unfinished = Activity {
            state: ActivityState::InProgress,
            result: None,
            ..on("pr-1", PUSH, "u", ActivityResult::Success, 1100)
        };
        r.record(&unfinished, now);
        // Activities, failures, deployments, the last deployment and its flag, unfinished.
        assert_eq!(env_series(&r.text(), "pr-1").len(), 6);

        let delete = on("pr-1", DELETE, "d", ActivityResult::Success, 2000);
        r.record(&delete, now);
        let text = r.text();
        assert_eq!(env_series(&text, "pr-1"), Vec::<String>::new(), "{text}");
        assert_eq!(env_series(&text, "kept").len(), 5, "{text}");
        // Families without the environment label keep what happened.
        let pushes = format!(
            "platformsh_activity_duration_seconds_count{{environment_type=\"development\",\
             project=\"sx-this-is-an-example-value-hu\",result=\"failure\",type=\"{PUSH}\"}}"
        );
        assert_eq!(sample(&text, &pushes), Some(1.0));
        assert!(r.unfinished.is_empty());

        // Its slot is free: a third environment gets its own label, not `_overflow`.
        r.record(&on("pr-2", PUSH, "p2", ActivityResult::Success, 3000), now);
        assert_eq!(env_series(&r.text(), "pr-2").len(), 5);
        assert_eq!(env_series(&r.text(), OVERFLOW), Vec::<String>::new());
        // The positions cached before the removal were dropped: `kept` counts on its series.
        r.record(&on("kept", PUSH, "k2", ActivityResult::Success, 3100), now);
        let text = r.text();
        let kept = "platformsh_deployments_total{environment=\"kept\",\
                    environment_type=\"development\",\
                    project=\"sx-this-is-an-example-value-hu\",result=\"success\"}";
        assert_eq!(sample(&text, kept), Some(2.0), "{text}");
    }

    #[test]
    fn a_late_activity_of_a_deleted_environment_does_not_bring_it_back() {
        let mut r = Recorder::new(Settings::default());
        let now = Utc::now();
        r.record(&on("pr-1", DELETE, "d", ActivityResult::Success, 2000), now);
        r.record(
            &on("pr-1", PUSH, "late", ActivityResult::Failure, 1000),
            now,
        );
        assert_eq!(env_series(&r.text(), "pr-1"), Vec::<String>::new());
        // A branch of the same name made after the deletion is a new environment.
        r.record(&on("pr-1", PUSH, "new", ActivityResult::Failure, 3000), now);
        let text = r.text();
        let last = "platformsh_last_deployment_success{environment=\"pr-1\",\
                    project=\"sx-this-is-an-example-value-hu\"}";
        assert_eq!(sample(&text, last), Some(0.0));
        let failures = "platformsh_deployments_total{environment=\"pr-1\",\
                        environment_type=\"development\",\
                        project=\"sx-this-is-an-example-value-hu\",result=\"failure\"}";
        assert_eq!(sample(&text, failures), Some(1.0));
        // The first deletion delivered again under another id, late: the new one stays.
        r.record(
            &on("pr-1", DELETE, "d-again", ActivityResult::Success, 2000),
            now,
        );
        assert_eq!(sample(&r.text(), last), Some(0.0));
    }

    #[test]
    fn tombstones_are_bounded_by_count_even_when_every_deletion_is_dated_the_same() {
        let settings = Settings {
            limits: Limits {
                environments: 10,
                ..Limits::default()
            },
            ..Settings::default()
        };
        let mut r = Recorder::new(settings);
        let now = Utc::now();
        for i in 0..1000 {
            let delete = on(
                &format!("pr-{i}"),
                DELETE,
                &format!("d{i}"),
                ActivityResult::Success,
                2000,
            );
            r.record(&delete, now);
            let (deleted, _) = r.environments.counts();
            assert!(deleted <= 10, "{deleted} tombstones after {i}");
        }
        let (deleted, tombstones) = r.environments.counts();
        assert_eq!(tombstones, deleted);
        // The newest are the ones kept: a late activity of the last one deleted stays out.
        r.record(
            &on("pr-999", PUSH, "late", ActivityResult::Failure, 1000),
            now,
        );
        assert_eq!(env_series(&r.text(), "pr-999"), Vec::<String>::new());
    }

    #[test]
    fn a_failed_delete_changes_nothing() {
        let mut r = Recorder::new(Settings::default());
        let now = Utc::now();
        r.record(&on("pr-1", PUSH, "f", ActivityResult::Failure, 1000), now);
        r.record(&on("pr-1", DELETE, "d", ActivityResult::Failure, 2000), now);
        let text = r.text();
        let last = "platformsh_last_deployment_success{environment=\"pr-1\",\
                    project=\"sx-this-is-an-example-value-hu\"}";
        assert_eq!(sample(&text, last), Some(0.0));
    }

    #[test]
    fn a_deactivated_environment_keeps_its_counters_and_loses_its_last_deployment() {
        for kind in DEACTIVATIONS {
            let mut r = Recorder::new(Settings::default());
            let now = Utc::now();
            r.record(&on("pr-1", PUSH, "s", ActivityResult::Success, 500), now);
            r.record(&on("pr-1", PUSH, "f", ActivityResult::Failure, 1000), now);
            r.record(&on("pr-1", kind, "off", ActivityResult::Success, 2000), now);
            let text = r.text();
            let series = env_series(&text, "pr-1");
            assert!(
                series.iter().all(|l| !l.starts_with("platformsh_last_")),
                "{kind}: {series:#?}"
            );
            // Activities (success, failure, the deactivation), failures, deployments (2).
            assert_eq!(series.len(), 6, "{kind}: {series:#?}");
            // A deployment that finished before the deactivation, delivered late, is counted
            // but does not make the environment look failing again.
            r.record(
                &on("pr-1", PUSH, "late", ActivityResult::Failure, 1500),
                now,
            );
            let series = env_series(&r.text(), "pr-1");
            assert!(series.iter().all(|l| !l.starts_with("platformsh_last_")));
            // The next deployment brings every gauge back, and no recovery is observed from a
            // failure before the deactivation.
            r.record(
                &on(
                    "pr-1",
                    "environment.activate",
                    "on",
                    ActivityResult::Success,
                    3000,
                ),
                now,
            );
            let text = r.text();
            let env = "{environment=\"pr-1\",project=\"sx-this-is-an-example-value-hu\"}";
            let gauge = |name: &str| sample(&text, &format!("{name}{env}"));
            assert_eq!(gauge("platformsh_last_deployment_success"), Some(1.0));
            assert_eq!(
                gauge("platformsh_last_deployment_timestamp_seconds"),
                Some(3000.0)
            );
            assert_eq!(
                gauge("platformsh_last_successful_deployment_timestamp_seconds"),
                Some(3000.0)
            );
            let recovery = "platformsh_deployment_recovery_seconds_count{\
                            environment_type=\"development\",\
                            project=\"sx-this-is-an-example-value-hu\"}";
            assert_eq!(sample(&text, recovery), None, "{kind}");
        }
    }

    #[test]
    fn an_idle_environment_is_forgotten_after_the_set_time() {
        let settings = Settings {
            forget_after: Some(Duration::from_secs(3600)),
            ..Settings::default()
        };
        let mut r = Recorder::new(settings);
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        r.record(
            &on("old", PUSH, "o", ActivityResult::Failure, 1000),
            at(1000),
        );
        r.record(
            &on("busy", PUSH, "b1", ActivityResult::Success, 1000),
            at(1000),
        );
        r.record(
            &on("busy", PUSH, "b2", ActivityResult::Success, 4000),
            at(4000),
        );
        // A failure: counters (activities, failures, deployments), last deployment and its
        // success flag, no last success.
        assert_eq!(env_series(&r.text(), "old").len(), 5);
        // Due at 4600: the next delivery after that forgets it, before anything is recorded.
        r.record(
            &on("busy", PUSH, "b3", ActivityResult::Success, 4700),
            at(4700),
        );
        assert_eq!(env_series(&r.text(), "old"), Vec::<String>::new());
        assert_eq!(env_series(&r.text(), "busy").len(), 5);
        // A scrape forgets too, at the time of the scrape.
        r.forget_idle_environments(4700.0 + 3600.0);
        assert_eq!(env_series(&r.text(), "busy"), Vec::<String>::new());
        // Unlike a deleted one, a forgotten environment's late activity is welcome.
        r.record(
            &on("old", PUSH, "o2", ActivityResult::Success, 900),
            at(9000),
        );
        assert_eq!(env_series(&r.text(), "old").len(), 5);
    }
}
