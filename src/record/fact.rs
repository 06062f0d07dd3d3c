//! The facts whose effect depends on order (lead time, time to recover), kept until their turn
//! comes (see [`super::settle`]).

use super::clock::Clock;
use crate::activity::{Activity, ResultLabel};
use crate::labels::Labels;

/// A fact whose effect depends on order, applied when its turn comes.
#[derive(Debug)]
pub(super) enum Fact {
    /// A finished activity's part in lead time, and a deployment's in time to recover.
    Finished {
        activity: Box<Activity>,
        labels: Labels<'static>,
        finished: ResultLabel,
        clock: Clock,
        deployment: Option<Deployment>,
    },
    /// The environment was deactivated, paused or deleted at `at`.
    Ended {
        project: String,
        environment: String,
        at: f64,
        deleted: bool,
    },
}

/// A finished deployment, for time to recover.
#[derive(Debug)]
pub(super) struct Deployment {
    /// `project`, `environment_type`: the recovery histogram's labels (folded past the series
    /// cap).
    pub values: [String; 2],
    pub at: f64,
    pub succeeded: bool,
}
