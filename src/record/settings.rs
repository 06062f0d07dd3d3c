//! What the recorder needs to know beyond the activities themselves: the flags it obeys.

use std::time::Duration;

use hashbrown::HashSet;

use crate::labels::Limits;

/// Activity types that deploy a change (code or configuration) unless `--deployment.types` says
/// otherwise: what DORA counts as deployments.
pub const DEFAULT_DEPLOYMENT_TYPES: &[&str] = &[
    "environment.push",
    "environment.merge",
    "environment.merge-pr",
    "environment.activate",
    "environment.branch",
    "environment.synchronize",
    "environment.restore",
    // Applies what manual deployment staged.
    "environment.deploy",
    "environment.initialize",
    // Commits, then deploys.
    "environment.source-operation",
    // A variable change "causes that environment to be redeployed" (Platform.sh's docs): a
    // configuration change delivered.
    "environment.variable.create",
    "environment.variable.update",
    "environment.variable.delete",
];

/// Activity types that redeploy what an environment already runs, unless
/// `--deployment.restart-types` says otherwise: they set its last deployment state (a failed
/// restart alerts) but deliver no change, so DORA does not count them. Upsun's autoscaling
/// shows up as `environment.resources.update`; certificate renewals "trigger a redeployment".
pub const DEFAULT_RESTART_TYPES: &[&str] = &[
    "environment.redeploy",
    "environment.resume",
    "environment.resources.update",
    "environment.certificate.renewal",
    // Production resized by a plan change (Platform.sh).
    "environment.subscription.update",
];

/// The two kinds of (re)deployment: both set the environment's last deployment state, feed
/// time to recover and, on production, deliver the commits pending there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeploy {
    /// Delivers a change: counted in `platformsh_deployments_total`.
    Change,
    /// Redeploys what is there: counted in `platformsh_restarts_total`.
    Restart,
}

/// What the recorder needs to know beyond the activities themselves.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Types that deploy a change.
    pub deployment_types: HashSet<String>,
    /// Types that redeploy what is there.
    pub restart_types: HashSet<String>,
    /// How many (id, state) pairs are remembered for deduplication.
    pub dedup_capacity: usize,
    /// How many unfinished activities are tracked at once.
    pub unfinished_capacity: usize,
    /// How long an activity may stay unfinished before it is dropped from the gauge.
    pub unfinished_ttl: Duration,
    /// How far past its receipt an activity's timestamp may be (clocks disagree a little);
    /// a later one is from a wrong clock or a forgery.
    pub max_clock_skew: Duration,
    /// An environment with no activity for this long is forgotten as if deleted (for those
    /// whose delete was never delivered); `None` keeps every environment.
    pub forget_after: Option<Duration>,
    /// How long the facts whose order matters (lead time, time to recover) wait before they
    /// are applied, in time order (see [`super::settle`]). Zero applies them as they come.
    pub settle: Duration,
    /// `--incidents.window`: how long after a change deployment an incident on production is
    /// that change's failure.
    pub incident_window: Duration,
    /// `--incidents.environment-types`: the environment types whose incidents are change
    /// failures (DORA rates production).
    pub incident_environment_types: Vec<String>,
}

impl Settings {
    /// Whether an activity of type `kind` (re)deploys its environment, and how. A type in
    /// both lists is a change (the configuration refuses that at start).
    pub fn redeploy(&self, kind: &str) -> Option<Redeploy> {
        if self.deployment_types.contains(kind) {
            Some(Redeploy::Change)
        } else if self.restart_types.contains(kind) {
            Some(Redeploy::Restart)
        } else {
            None
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            deployment_types: DEFAULT_DEPLOYMENT_TYPES
                .iter()
                .map(|&t| t.to_owned())
                .collect(),
            restart_types: DEFAULT_RESTART_TYPES
                .iter()
                .map(|&t| t.to_owned())
                .collect(),
            dedup_capacity: 100_000,
            unfinished_capacity: 10_000,
            unfinished_ttl: Duration::from_secs(24 * 3600),
            max_clock_skew: Duration::from_secs(300),
            forget_after: None,
            settle: Duration::ZERO,
            incident_window: Duration::from_secs(24 * 3600),
            incident_environment_types: vec!["production".to_owned()],
        }
    }
}
