//! Incidents, a sub-state of the recorder: DORA's change failure rate and time to restore from
//! incidents (Alertmanager's alerts, see [`crate::alert`]) rather than from failed deployments.
//!
//! The rules:
//! - An incident belongs to an environment the exporter has seen (re)deploy; others are not
//!   counted (their labels would be anyone's to choose).
//! - It is counted once, when first heard of (firing, or already resolved), whatever
//!   Alertmanager repeats: (fingerprint, start) identifies it.
//! - On a production environment (a type of `--incidents.environment-types`), it is a change
//!   failure of the last successful *change* deployed there at or before its start, if it
//!   started within `--incidents.window` of it.
//!   A deployment counts at most once, however many incidents follow it. Deployments are known
//!   as they are recorded (in arrival order, not after the settle window); one delivered after
//!   the incident it preceded does not take it over (counters do not go back).
//! - Time to restore = end − start, observed when it resolves.
//!
//! Pure: the recorder writes what [`Effect`] says; the rules are unit-tested here.

use std::collections::{BTreeMap, VecDeque};

use hashbrown::HashMap;

use super::settings::Settings;
use crate::alert::{AlertStatus, Incident};
use crate::series::ActivityFamilies;

/// Successful change deployments kept per environment: enough for a day of deployments many
/// times over; older ones could only take incidents the window has left behind.
const CHANGES_KEPT: usize = 256;

/// What became of an incident alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentOutcome {
    /// A new incident, firing.
    Opened,
    /// It resolved (new or known).
    Resolved,
    /// Known already in this state: Alertmanager repeats every alert of a group.
    Duplicate,
    /// Its environment has not been seen deploying: not counted.
    UnknownEnvironment,
}

impl IncidentOutcome {
    pub const ALL: [IncidentOutcome; 4] = [
        IncidentOutcome::Opened,
        IncidentOutcome::Resolved,
        IncidentOutcome::Duplicate,
        IncidentOutcome::UnknownEnvironment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentOutcome::Opened => "opened",
            IncidentOutcome::Resolved => "resolved",
            IncidentOutcome::Duplicate => "duplicate",
            IncidentOutcome::UnknownEnvironment => "unknown_environment",
        }
    }
}

/// An environment's label values: project, environment, environment type.
pub(super) type Place = [String; 3];

/// What the metrics must show after one incident alert.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Effect {
    /// Counted in `platformsh_incidents_total` of this place.
    pub counted: Option<Place>,
    /// A deployment of this place became a change failure.
    pub change_failure: bool,
    /// Restored after this many seconds: (project, environment type), seconds.
    pub restore: Option<([String; 2], f64)>,
    /// Places whose open incidents changed, with their count now.
    pub open: Vec<(Place, usize)>,
}

#[derive(Debug, Default)]
struct Environment {
    kind: String,
    /// Successful change deployments by completion time (µs): whether one is a change failure.
    changes: BTreeMap<i64, bool>,
    open: usize,
}

#[derive(Debug)]
struct Known {
    project: String,
    environment: String,
    alertname: String,
    resolved: bool,
}

/// An incident firing now, as the status page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    pub project: String,
    pub environment: String,
    pub alertname: String,
    /// When it started, seconds since the epoch.
    pub started: f64,
}

#[derive(Debug)]
pub(super) struct Incidents {
    /// `--incidents.window`, µs.
    window: i64,
    /// `--incidents.environment-types`: where an incident is a change failure.
    types: Vec<String>,
    capacity: usize,
    environments: HashMap<String, HashMap<String, Environment>>,
    /// By (fingerprint, start µs).
    known: HashMap<(String, i64), Known>,
    /// `known`'s keys, oldest first: the first to go past `capacity`.
    order: VecDeque<(String, i64)>,
}

impl Incidents {
    pub(super) fn new(settings: &Settings) -> Self {
        Self {
            window: i64::try_from(settings.incident_window.as_micros()).unwrap_or(i64::MAX),
            types: settings.incident_environment_types.clone(),
            capacity: settings.dedup_capacity.max(1),
            environments: HashMap::new(),
            known: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// A deployment of the environment finished at `at` (µs): a change that succeeded can
    /// be followed by incidents.
    pub(super) fn deployed(
        &mut self,
        [project, environment, environment_type]: [&str; 3],
        at: i64,
        successful_change: bool,
    ) {
        let env = self
            .environments
            .entry_ref(project)
            .or_default()
            .entry_ref(environment)
            .or_default();
        if env.kind != environment_type {
            environment_type.clone_into(&mut env.kind);
        }
        if successful_change {
            env.changes.entry(at).or_insert(false);
            while env.changes.len() > CHANGES_KEPT {
                env.changes.pop_first();
            }
        }
    }

    /// Records one incident alert, its start `starts` and end `ends` (µs) as the clock
    /// believes them.
    pub(super) fn record(
        &mut self,
        incident: &Incident,
        starts: i64,
        ends: Option<i64>,
    ) -> (IncidentOutcome, Effect) {
        let mut effect = Effect::default();
        let (project, environment) = (incident.project.as_str(), incident.environment.as_str());
        let Some(env) = self
            .environments
            .get_mut(project)
            .and_then(|envs| envs.get_mut(environment))
        else {
            return (IncidentOutcome::UnknownEnvironment, effect);
        };
        let place: Place = [project.to_owned(), environment.to_owned(), env.kind.clone()];
        let resolved = incident.status == AlertStatus::Resolved;
        let key = (incident.fingerprint.clone(), starts);
        let outcome = match self.known.get_mut(&key) {
            Some(known) if known.resolved || !resolved => {
                return (IncidentOutcome::Duplicate, effect);
            }
            Some(known) => {
                known.resolved = true;
                env.open = env.open.saturating_sub(1);
                effect.open.push((place.clone(), env.open));
                IncidentOutcome::Resolved
            }
            None => {
                effect.counted = Some(place.clone());
                if self.types.contains(&env.kind) {
                    effect.change_failure = attribute(&mut env.changes, starts, self.window);
                }
                if !resolved {
                    env.open += 1;
                    effect.open.push((place.clone(), env.open));
                }
                self.known.insert(
                    key.clone(),
                    Known {
                        project: project.to_owned(),
                        environment: environment.to_owned(),
                        alertname: incident.alertname.clone(),
                        resolved,
                    },
                );
                self.order.push_back(key);
                if resolved {
                    IncidentOutcome::Resolved
                } else {
                    IncidentOutcome::Opened
                }
            }
        };
        if resolved && let Some(ends) = ends.filter(|&e| e >= starts) {
            let seconds = (ends - starts) as f64 / 1e6;
            effect.restore = Some(([place[0].clone(), place[2].clone()], seconds));
        }
        self.evict(&mut effect);
        (outcome, effect)
    }

    /// Forgets the oldest incidents past the capacity; an open one leaves its gauge.
    fn evict(&mut self, effect: &mut Effect) {
        while self.known.len() > self.capacity {
            let Some(key) = self.order.pop_front() else {
                return;
            };
            let Some(gone) = self.known.remove(&key) else {
                continue; // its environment was forgotten
            };
            if gone.resolved {
                continue;
            }
            if let Some(env) = self
                .environments
                .get_mut(&gone.project)
                .and_then(|envs| envs.get_mut(&gone.environment))
            {
                env.open = env.open.saturating_sub(1);
                let place = [gone.project, gone.environment, env.kind.clone()];
                effect.open.retain(|(p, _)| *p != place);
                effect.open.push((place, env.open));
            }
        }
    }

    /// The incidents firing now, the latest first.
    pub(super) fn open(&self) -> Vec<OpenIncident> {
        let mut open: Vec<OpenIncident> = self
            .known
            .iter()
            .filter(|(_, known)| !known.resolved)
            .map(|((_, starts), known)| OpenIncident {
                project: known.project.clone(),
                environment: known.environment.clone(),
                alertname: known.alertname.clone(),
                started: *starts as f64 / 1e6,
            })
            .collect();
        // Ties by place and name: the page must not follow the map's order.
        open.sort_by(|a, b| {
            b.started.total_cmp(&a.started).then_with(|| {
                (&a.project, &a.environment, &a.alertname).cmp(&(
                    &b.project,
                    &b.environment,
                    &b.alertname,
                ))
            })
        });
        open
    }

    /// Forgets the environments `is_gone` says are gone, and their incidents.
    pub(super) fn forget_environments(&mut self, is_gone: impl Fn(&str, &str) -> bool) {
        for (project, envs) in &mut self.environments {
            envs.retain(|environment, _| !is_gone(project, environment));
        }
        self.environments.retain(|_, envs| !envs.is_empty());
        self.known
            .retain(|_, known| !is_gone(&known.project, &known.environment));
        let known = &self.known;
        self.order.retain(|key| known.contains_key(key));
    }
}

/// Writes what one incident alert changed.
pub(super) fn write(effect: &Effect, families: &mut ActivityFamilies) {
    if let Some(place) = &effect.counted {
        let values = strs(place);
        families.incidents.inc(&values);
        // At 0 from its first incident, so that the rate of change failures has data.
        families.change_failures.add(&values, 0.0);
        if effect.change_failure {
            families.change_failures.inc(&values);
        }
    }
    for (place, open) in &effect.open {
        let series = &mut families.incidents_open;
        let at = series.position(&strs(place), || 0.0);
        *series.at(at) = *open as f64;
    }
    if let Some(([project, environment_type], seconds)) = &effect.restore {
        families
            .incident_restore
            .observe(&[project, environment_type], *seconds);
    }
}

fn strs(place: &Place) -> [&str; 3] {
    [place[0].as_str(), place[1].as_str(), place[2].as_str()]
}

/// Marks the last change at or before `starts`, within `window` of it, as a change failure;
/// true if it was not one already.
fn attribute(changes: &mut BTreeMap<i64, bool>, starts: i64, window: i64) -> bool {
    match changes.range_mut(..=starts).next_back() {
        Some((&at, counted)) if starts - at <= window && !*counted => {
            *counted = true;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    const MIN: i64 = 60_000_000;
    const PROD: [&str; 3] = ["p", "main", "production"];

    fn incident(fingerprint: &str, environment: &str, status: AlertStatus) -> Incident {
        Incident {
            fingerprint: fingerprint.into(),
            status,
            starts_at: DateTime::<Utc>::UNIX_EPOCH,
            ends_at: None,
            project: "p".into(),
            environment: environment.into(),
            alertname: "Down".into(),
            severity: "critical".into(),
        }
    }

    fn day() -> Incidents {
        Incidents::new(&Settings {
            dedup_capacity: 100,
            ..Settings::default()
        })
    }

    fn place(env: [&str; 3]) -> Place {
        env.map(str::to_owned)
    }

    #[test]
    fn an_incident_after_a_production_change_is_its_change_failure_and_resolving_restores() {
        let mut s = day();
        s.deployed(PROD, 10 * MIN, true);
        let firing = incident("a", "main", AlertStatus::Firing);
        let (outcome, effect) = s.record(&firing, 40 * MIN, None);
        assert_eq!(outcome, IncidentOutcome::Opened);
        assert_eq!(
            effect,
            Effect {
                counted: Some(place(PROD)),
                change_failure: true,
                restore: None,
                open: vec![(place(PROD), 1)],
            }
        );
        // Alertmanager repeats it: nothing changes.
        assert_eq!(
            s.record(&firing, 40 * MIN, None),
            (IncidentOutcome::Duplicate, Effect::default())
        );
        let resolved = incident("a", "main", AlertStatus::Resolved);
        let (outcome, effect) = s.record(&resolved, 40 * MIN, Some(52 * MIN));
        assert_eq!(outcome, IncidentOutcome::Resolved);
        assert_eq!(
            effect,
            Effect {
                counted: None,
                change_failure: false,
                restore: Some((["p".into(), "production".into()], 720.0)),
                open: vec![(place(PROD), 0)],
            }
        );
        assert_eq!(
            s.record(&resolved, 40 * MIN, Some(52 * MIN)).0,
            IncidentOutcome::Duplicate
        );
    }

    /// `--incidents.environment-types` with staging: a staging incident is a change failure
    /// of the staging change before it; a preview's still is not.
    #[test]
    fn the_configured_environment_types_have_change_failures() {
        let mut s = Incidents::new(&Settings {
            incident_environment_types: vec!["production".into(), "staging".into()],
            ..Settings::default()
        });
        s.deployed(["p", "stage", "staging"], 10 * MIN, true);
        s.deployed(["p", "feature", "development"], 10 * MIN, true);
        let staging = s.record(&incident("a", "stage", AlertStatus::Firing), 20 * MIN, None);
        assert!(staging.1.change_failure);
        let preview = s.record(
            &incident("b", "feature", AlertStatus::Firing),
            20 * MIN,
            None,
        );
        assert!(!preview.1.change_failure);
        // By default staging has none.
        let mut s = day();
        s.deployed(["p", "stage", "staging"], 10 * MIN, true);
        let staging = s.record(&incident("a", "stage", AlertStatus::Firing), 20 * MIN, None);
        assert!(!staging.1.change_failure);
    }

    /// The status page's list: what fires now, the latest first; a resolved one leaves it.
    #[test]
    fn the_open_incidents_are_those_firing_the_latest_first() {
        let mut s = day();
        s.deployed(PROD, 10 * MIN, true);
        s.record(&incident("a", "main", AlertStatus::Firing), 20 * MIN, None);
        let mut late = incident("b", "main", AlertStatus::Firing);
        late.alertname = "Slow".into();
        s.record(&late, 30 * MIN, None);
        let open = s.open();
        assert_eq!(
            open.iter()
                .map(|o| (o.alertname.as_str(), o.started))
                .collect::<Vec<_>>(),
            [("Slow", 1800.0), ("Down", 1200.0)]
        );
        assert_eq!(
            (open[0].project.as_str(), open[0].environment.as_str()),
            ("p", "main")
        );
        s.record(
            &incident("b", "main", AlertStatus::Resolved),
            30 * MIN,
            Some(31 * MIN),
        );
        assert_eq!(s.open().len(), 1);
        assert_eq!(s.open()[0].alertname, "Down");
        // Two starting at once: by place, then name, whatever order they came in.
        for name in ["Zed", "Alpha"] {
            let mut same = incident(name, "main", AlertStatus::Firing);
            same.alertname = name.into();
            s.record(&same, 40 * MIN, None);
        }
        let names: Vec<String> = s.open().into_iter().map(|o| o.alertname).collect();
        assert_eq!(names, ["Alpha", "Zed", "Down"]);
    }

    #[test]
    fn a_deployment_counts_once_however_many_incidents_follow_it() {
        let mut s = day();
        s.deployed(PROD, 10 * MIN, true);
        let a = s.record(&incident("a", "main", AlertStatus::Firing), 20 * MIN, None);
        let b = s.record(&incident("b", "main", AlertStatus::Firing), 21 * MIN, None);
        assert!(a.1.change_failure);
        assert!(!b.1.change_failure);
        assert_eq!(b.1.counted, Some(place(PROD)));
        assert_eq!(b.1.open, vec![(place(PROD), 2)]);
        // The same labels firing again later: another incident, but the same deployment.
        let again = s.record(&incident("a", "main", AlertStatus::Firing), 90 * MIN, None);
        assert_eq!(again.0, IncidentOutcome::Opened);
        assert!(!again.1.change_failure);
        // A later change takes the next one.
        s.deployed(PROD, 100 * MIN, true);
        let c = s.record(&incident("c", "main", AlertStatus::Firing), 101 * MIN, None);
        assert!(c.1.change_failure);
    }

    #[test]
    fn no_change_failure_outside_the_window_on_a_preview_after_a_restart_or_unknown_place() {
        let mut s = day();
        s.deployed(PROD, 0, true);
        let late = s.record(
            &incident("a", "main", AlertStatus::Firing),
            1441 * MIN,
            None,
        );
        assert_eq!(late.0, IncidentOutcome::Opened);
        assert!(!late.1.change_failure);

        s.deployed(["p", "feature", "development"], 0, true);
        let preview = s.record(&incident("b", "feature", AlertStatus::Firing), MIN, None);
        assert_eq!(
            preview.1.counted,
            Some(place(["p", "feature", "development"]))
        );
        assert!(!preview.1.change_failure);

        // A restart (or a failed change) is no change deployed: the last change stays the
        // one before it, here out of the window.
        s.deployed(PROD, 1500 * MIN, false);
        let after_restart = s.record(
            &incident("c", "main", AlertStatus::Firing),
            1501 * MIN,
            None,
        );
        assert!(!after_restart.1.change_failure);

        let nowhere = s.record(&incident("d", "staging", AlertStatus::Firing), MIN, None);
        assert_eq!(
            nowhere,
            (IncidentOutcome::UnknownEnvironment, Effect::default())
        );
        // An incident that started before any change deployed there is no change's failure.
        let mut s = day();
        s.deployed(PROD, 10 * MIN, true);
        let before = s.record(&incident("e", "main", AlertStatus::Firing), 5 * MIN, None);
        assert!(!before.1.change_failure);
    }

    #[test]
    fn an_incident_heard_of_only_resolved_is_counted_and_restored_at_once() {
        let mut s = day();
        s.deployed(PROD, 0, true);
        let (outcome, effect) = s.record(
            &incident("a", "main", AlertStatus::Resolved),
            MIN,
            Some(3 * MIN),
        );
        assert_eq!(outcome, IncidentOutcome::Resolved);
        assert_eq!(effect.counted, Some(place(PROD)));
        assert!(effect.change_failure);
        assert!((effect.restore.unwrap().1 - 120.0).abs() < 1e-9);
        assert!(effect.open.is_empty());
        // Its firing, delivered late, is the same incident.
        let late = s.record(&incident("a", "main", AlertStatus::Firing), MIN, None);
        assert_eq!(late, (IncidentOutcome::Duplicate, Effect::default()));
    }

    #[test]
    fn past_the_capacity_the_oldest_go_and_an_open_one_leaves_the_gauge() {
        let mut s = Incidents::new(&Settings {
            dedup_capacity: 2,
            ..Settings::default()
        });
        s.deployed(PROD, 0, true);
        s.record(&incident("a", "main", AlertStatus::Firing), MIN, None);
        s.record(&incident("b", "main", AlertStatus::Firing), MIN, None);
        let (_, effect) = s.record(&incident("c", "main", AlertStatus::Firing), MIN, None);
        // c opened (3), then a was forgotten (2).
        assert_eq!(effect.open, vec![(place(PROD), 2)]);
    }

    #[test]
    fn a_forgotten_environment_takes_its_incidents_along() {
        let mut s = day();
        s.deployed(PROD, 0, true);
        s.record(&incident("a", "main", AlertStatus::Firing), MIN, None);
        s.forget_environments(|p, e| p == "p" && e == "main");
        let (outcome, _) = s.record(
            &incident("a", "main", AlertStatus::Resolved),
            MIN,
            Some(2 * MIN),
        );
        assert_eq!(outcome, IncidentOutcome::UnknownEnvironment);
        assert!(s.known.is_empty() && s.order.is_empty());
    }
}
