//! The activity's type: the fields the metrics need, their label domains, and the rules that
//! read them (finished, failed, latest time).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest accepted label value (project, environment, type), in bytes. Platform.sh ids and
/// branch names are far shorter; anything longer is not a real delivery.
pub const MAX_LABEL_BYTES: usize = 128;
/// The label value that stands for every value past a label's cap. A sender may not use it:
/// its activities would be indistinguishable from folded ones.
pub const OVERFLOW: &str = "_overflow";

/// Longest accepted activity id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// An activity's lifecycle state, as Platform.sh sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    Pending,
    Scheduled,
    Staged,
    InProgress,
    Complete,
    Cancelled,
}

impl ActivityState {
    pub const ALL: [ActivityState; 6] = [
        ActivityState::Pending,
        ActivityState::Scheduled,
        ActivityState::Staged,
        ActivityState::InProgress,
        ActivityState::Complete,
        ActivityState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityState::Pending => "pending",
            ActivityState::Scheduled => "scheduled",
            ActivityState::Staged => "staged",
            ActivityState::InProgress => "in_progress",
            ActivityState::Complete => "complete",
            ActivityState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ActivityState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The activity's `result` field: what Platform.sh says of a finished activity. (Not the
/// `result` label, [`ResultLabel`], which also has `cancelled`; nor a delivery's outcome,
/// which is the exporter's answer to one HTTP request.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityResult {
    Success,
    Failure,
}

impl ActivityResult {
    pub const ALL: [ActivityResult; 2] = [ActivityResult::Success, ActivityResult::Failure];

    /// As Platform.sh spells it (and serde reads it), and as the store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityResult::Success => "success",
            ActivityResult::Failure => "failure",
        }
    }
}

/// The `result` label of a finished activity: its [`ActivityResult`], `cancelled`, or
/// `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultLabel {
    Success,
    Failure,
    /// State `cancelled`, whatever `result` says (Platform.sh sends `failure`).
    Cancelled,
    /// State `complete` with a null `result`, which the API's schema allows: finished, but
    /// neither a success nor a failure can be claimed for it, so it counts, and moves no
    /// environment's health.
    Unknown,
}

impl ResultLabel {
    /// Every value, in the order of the discriminants (slot arrays are indexed by them).
    pub const ALL: [ResultLabel; 4] = [
        ResultLabel::Success,
        ResultLabel::Failure,
        ResultLabel::Cancelled,
        ResultLabel::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResultLabel::Success => "success",
            ResultLabel::Failure => "failure",
            ResultLabel::Cancelled => "cancelled",
            ResultLabel::Unknown => "unknown",
        }
    }
}

/// Why a finished activity did not succeed: the `reason` label of
/// `platformsh_activity_failures_total`, and what the store keeps of the `failure_reason` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// `failure_reason: error` (Platform.sh's own error).
    Error,
    /// `failure_reason: shell` (a build or deploy script failed).
    Shell,
    /// A command in `commands` exited non-zero: a deploy hook can fail while the activity
    /// itself reports `success`, and the vendor's CLI shows such an activity as failed.
    Command,
    /// State `cancelled`.
    Cancelled,
    /// A failure that says nothing of why, or a `failure_reason` this exporter does not know.
    Unknown,
}

impl FailureReason {
    pub const ALL: [FailureReason; 5] = [
        FailureReason::Error,
        FailureReason::Shell,
        FailureReason::Command,
        FailureReason::Cancelled,
        FailureReason::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Error => "error",
            FailureReason::Shell => "shell",
            FailureReason::Command => "command",
            FailureReason::Cancelled => "cancelled",
            FailureReason::Unknown => "unknown",
        }
    }

    /// The reason spelt `s` (as [`FailureReason::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How an activity reached the exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// A webhook delivery.
    #[default]
    Webhook,
    /// The Platform.sh API listed it after reconciliation started, and no webhook had
    /// delivered it: a missed delivery.
    Reconciliation,
    /// The Platform.sh API listed it from before reconciliation started (history).
    Backfill,
    /// The Platform.sh API listed it after reconciliation started, no webhook had delivered
    /// it, and no webhook integration of the project was configured to send it (its states,
    /// events, environments or result): not a missed delivery.
    Unsent,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Webhook,
        Source::Reconciliation,
        Source::Backfill,
        Source::Unsent,
    ];

    /// As the store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Reconciliation => "reconciliation",
            Source::Backfill => "backfill",
            Source::Unsent => "unsent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How a project's activities reach the exporter, as reconciliation finds it at each poll:
/// the `mode` label of `platformsh_exporter_delivery_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// A webhook integration of the project sends to this exporter.
    Webhook,
    /// None does (or `--platformsh.api-only`): the poller is the only source, and what it
    /// finds is not a missed delivery.
    ApiOnly,
    /// The project's integrations cannot be read: taken to be a webhook, as before they were
    /// read.
    Unknown,
}

impl DeliveryMode {
    pub const ALL: [DeliveryMode; 3] = [
        DeliveryMode::Webhook,
        DeliveryMode::ApiOnly,
        DeliveryMode::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Webhook => "webhook",
            DeliveryMode::ApiOnly => "api_only",
            DeliveryMode::Unknown => "unknown",
        }
    }
}

/// Phase times from the `timings` object. Only the documented keys are kept, so a delivery
/// cannot create unbounded `phase` label values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub struct Timings {
    pub wait: Option<f64>,
    pub build: Option<f64>,
    pub deploy: Option<f64>,
    pub execute: Option<f64>,
}

impl Timings {
    pub fn phases(&self) -> [(&'static str, Option<f64>); 4] {
        [
            ("wait", self.wait),
            ("build", self.build),
            ("deploy", self.deploy),
            ("execute", self.execute),
        ]
    }
}

/// A commit a push lists (`payload.commits[]`), as lead time needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Its id: up to 64 ASCII letters and digits (a SHA-1 or SHA-256 in hex).
    pub sha: String,
    /// `author.date`, in newer payloads (epoch seconds).
    pub author_date: Option<DateTime<Utc>>,
}

/// Longest commit id kept (SHA-256 in hex).
pub const MAX_SHA_BYTES: usize = 64;

/// Most commits of one push the parser keeps, whatever the body lists: a 16 MiB body can list a
/// million, and each kept one costs memory in the parse, a line in the store and a replay.
/// `--limits.commits-per-push` can lower it, not raise it.
pub const MAX_COMMITS_PER_PUSH: usize = 10_000;

/// One normalised activity: the few fields the metrics need, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: String,
    /// The activity `type`, e.g. `environment.push`.
    pub kind: String,
    pub project: String,
    /// `payload.environment.name`, else the first of `environments`, else empty.
    pub environment: String,
    /// `payload.environment.type`, else derived from `is_main`, else empty.
    pub environment_type: String,
    pub state: ActivityState,
    pub result: Option<ActivityResult>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub timings: Timings,
    /// Commits of a push: `payload.commits_count`, else the length of `payload.commits`.
    pub commits: Option<u64>,
    /// The commits `payload.commits` lists (those with a usable `sha`), for lead time: at most
    /// [`MAX_COMMITS_PER_PUSH`] from the parser, at most `--limits.commits-per-push` once taken
    /// in.
    pub commit_list: Vec<Commit>,
    /// Commits with a usable `sha` left out of `commit_list` by those limits.
    pub commits_dropped: u64,
    /// `failure_reason`: `Error`, `Shell`, `Unknown` (another value) or `None` (null, absent).
    pub failure_reason: Option<FailureReason>,
    /// How many of `commands` exited non-zero.
    pub failed_commands: u32,
    /// The environment a merge merged into the one deployed: `payload.outcome.name`, else
    /// `parameters.from` (merges only).
    pub merged_child: Option<String>,
    /// Not from the body: how it was received.
    pub source: Source,
}

impl Activity {
    /// Keeps at most `limit` commits in `commit_list`, counting the rest as dropped.
    pub fn limit_commits(&mut self, limit: usize) {
        if self.commit_list.len() > limit {
            self.commits_dropped += (self.commit_list.len() - limit) as u64;
            self.commit_list.truncate(limit);
        }
    }

    /// The `result` label, for a finished activity only. A success with a failed command is a
    /// failure, as the vendor's CLI shows it: its deploy hook did not do its work. So is a
    /// `complete` activity without a result (the schema allows it) with a failed command;
    /// without one, its result is `unknown`.
    pub fn finished(&self) -> Option<ResultLabel> {
        let failed_command = self.failed_commands > 0;
        match (self.state, self.result) {
            (ActivityState::Cancelled, _) => Some(ResultLabel::Cancelled),
            // A staged activity (manual deployment) with a result is finished for what it did
            // (a build that failed is a failure); what it staged is deployed later, by
            // `environment.deploy`.
            (ActivityState::Complete | ActivityState::Staged, Some(_))
            | (ActivityState::Complete, None)
                if failed_command =>
            {
                Some(ResultLabel::Failure)
            }
            (ActivityState::Complete | ActivityState::Staged, Some(ActivityResult::Success)) => {
                Some(ResultLabel::Success)
            }
            (ActivityState::Complete | ActivityState::Staged, Some(ActivityResult::Failure)) => {
                Some(ResultLabel::Failure)
            }
            (ActivityState::Complete, None) => Some(ResultLabel::Unknown),
            _ => None,
        }
    }

    /// Why a finished activity did not succeed; `None` for a success or an unfinished one.
    /// Platform.sh's own `failure_reason` first, then a failed command.
    pub fn failure(&self) -> Option<FailureReason> {
        match self.finished()? {
            ResultLabel::Success | ResultLabel::Unknown => None,
            ResultLabel::Cancelled => Some(FailureReason::Cancelled),
            ResultLabel::Failure => Some(match (self.result, self.failure_reason) {
                (Some(ActivityResult::Failure), Some(reason)) => reason,
                _ if self.failed_commands > 0 => FailureReason::Command,
                _ => FailureReason::Unknown,
            }),
        }
    }

    /// When the activity ended: `completed_at`, else `cancelled_at`, else `updated_at`.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.or(self.cancelled_at).or(self.updated_at)
    }

    /// The latest timestamp the activity carries.
    pub fn latest_timestamp(&self) -> Option<DateTime<Utc>> {
        [
            self.created_at,
            self.started_at,
            self.completed_at,
            self.cancelled_at,
            self.updated_at,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// `t` to the microsecond, the precision the store keeps: a live delivery and its replay then
/// see the same instants (two timestamps 0.2 µs apart in the wrong order would otherwise be a
/// zero duration live and a negative one replayed).
pub fn stored_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
