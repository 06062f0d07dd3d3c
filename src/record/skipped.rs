//! Observations not made, and why: the labels of
//! `platformsh_exporter_observations_skipped_total`, as enums.

use crate::series::Series;

/// The histogram an observation was not made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Metric {
    ActivityDuration,
    ActivityWait,
    ActivityPhase,
    ChangeLeadTime,
    CommitLeadTime,
}

impl Metric {
    fn as_str(self) -> &'static str {
        match self {
            Self::ActivityDuration => "activity_duration",
            Self::ActivityWait => "activity_wait",
            Self::ActivityPhase => "activity_phase",
            Self::ChangeLeadTime => "change_lead_time",
            Self::CommitLeadTime => "commit_lead_time",
        }
    }
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// A timestamp it needs is absent.
    MissingTimestamp,
    /// It would be negative.
    Negative,
    /// A timestamp past the believed clock skew, or an author date before 1970.
    ClockSkew,
    /// Commits of a push past `--limits.commits-per-push`.
    CommitLimit,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::MissingTimestamp => "missing_timestamp",
            Self::Negative => "negative",
            Self::ClockSkew => "clock_skew",
            Self::CommitLimit => "commit_limit",
        }
    }
}

/// Every (metric, reason) that can happen: exposed at 0 from the start.
pub(super) const SKIPPABLE: [(Metric, Reason); 12] = [
    (Metric::ActivityDuration, Reason::MissingTimestamp),
    (Metric::ActivityDuration, Reason::Negative),
    (Metric::ActivityDuration, Reason::ClockSkew),
    (Metric::ActivityWait, Reason::MissingTimestamp),
    (Metric::ActivityWait, Reason::Negative),
    (Metric::ActivityWait, Reason::ClockSkew),
    (Metric::ActivityPhase, Reason::Negative),
    (Metric::ChangeLeadTime, Reason::Negative),
    (Metric::ChangeLeadTime, Reason::CommitLimit),
    (Metric::CommitLeadTime, Reason::MissingTimestamp),
    (Metric::CommitLeadTime, Reason::Negative),
    (Metric::CommitLeadTime, Reason::ClockSkew),
];

/// Counts `n` observations of `metric` skipped for `reason` in `series`.
pub(super) fn skip(series: &mut Series<f64>, metric: Metric, reason: Reason, n: f64) {
    series.add(&[metric.as_str(), reason.as_str()], n);
}
