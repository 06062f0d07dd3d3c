//! What the recorder needs to know beyond the activities themselves: the flags it obeys.

use std::time::Duration;

use hashbrown::HashSet;

use crate::labels::Limits;

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
    // Both redeploy the environment: new resources (CPU, memory, instances) restart its
    // containers, and a source operation commits and deploys.
    "environment.resources.update",
    "environment.source-operation",
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
    /// How far past its receipt an activity's timestamp may be (clocks disagree a little);
    /// a later one is from a wrong clock or a forgery.
    pub max_clock_skew: Duration,
    /// An environment with no activity for this long is forgotten as if deleted (for those
    /// whose delete was never delivered); `None` keeps every environment.
    pub forget_after: Option<Duration>,
    /// How long the facts whose order matters (lead time, time to recover) wait before they
    /// are applied, in time order (see [`super::settle`]). Zero applies them as they come.
    pub settle: Duration,
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
            max_clock_skew: Duration::from_secs(300),
            forget_after: None,
            settle: Duration::ZERO,
        }
    }
}
