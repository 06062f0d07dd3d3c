//! The subcommands: what the exporter can do besides serving.

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{duration, positive_duration};

/// What the exporter can do besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Write the activity metrics as they evolved, from the store at --storage.path, in the
    /// OpenMetrics text format with timestamps, for `promtool tsdb create-blocks-from
    /// openmetrics` (see README, History for Prometheus).
    History {
        /// How far back to write (the state at that time, then every change).
        #[arg(long, default_value = "90d", value_parser = duration)]
        since: Duration,
        /// File to write; standard output if absent. Never the store; written in full beside
        /// it, then moved in place.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Replace --output if it exists (a symlink is replaced, not followed).
        #[arg(long)]
        overwrite: bool,
        /// Also write every metric at each multiple of this (e.g. 15m), not only when it
        /// changes: instant queries and short ranges then find a sample (Prometheus looks
        /// back 5 minutes). Each step costs a line per series.
        #[arg(long, value_parser = positive_duration)]
        step: Option<Duration>,
    },
    /// Make sure each project has exactly one webhook integration pointing at this exporter
    /// (--webhook.public-url) with its shared key and every state, event and environment:
    /// prints the plan, and carries it out with --apply (README, Setup). Uses the API token
    /// and the projects of reconciliation.
    Setup {
        /// Carry the plan out; without it nothing is changed.
        #[arg(long)]
        apply: bool,
        /// table (for people) or json (for scripts).
        #[arg(long, value_enum, default_value = "table")]
        output: SetupOutput,
        /// Send the shared key to integrations that point here even when nothing else differs:
        /// the API does not show an integration's key, so setup cannot tell whether it matches.
        #[arg(long)]
        set_key: bool,
    },
    /// Exit 0 if the exporter at --web.listen-address (or --url) answers its readiness check,
    /// 1 if not: a container HEALTHCHECK that needs no curl in the image.
    Healthcheck {
        /// Readiness URL; by default /-/ready on --web.listen-address (0.0.0.0 as 127.0.0.1).
        #[arg(long)]
        url: Option<String>,
    },
}

/// How `setup` prints its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SetupOutput {
    Table,
    Json,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}
