//! Metric families: the one place that defines each family's name, help, labels and buckets.
//!
//! Names are a contract with dashboards, alert rules and users' queries. README's metrics table
//! is checked against [`FAMILIES`] by a test, so the two cannot drift apart.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// The Prometheus type of a family, as written in README and in `# TYPE` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Everything that defines one metric family.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// Histogram bucket upper bounds; empty for other kinds.
    pub buckets: &'static [f64],
}

/// Activities last from a second to hours: a build can queue, compile and deploy for a long time.
const ACTIVITY_SECONDS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
];
/// Queue time is mostly sub-second to minutes, but a busy project can wait much longer.
const WAIT_SECONDS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
const COMMITS: &[f64] = &[1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0];
/// Time to recover: minutes (a quick fix-forward) to a week (a branch left broken).
const RECOVERY_SECONDS: &[f64] = &[
    60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 259_200.0, 604_800.0,
];

pub const ACTIVITIES: Family = Family {
    name: "platformsh_activities_total",
    help: "Finished activities (state complete or cancelled) by result: success, failure or cancelled.",
    kind: Kind::Counter,
    labels: &[
        "project",
        "environment",
        "environment_type",
        "type",
        "result",
    ],
    buckets: &[],
};
pub const ACTIVITY_DURATION: Family = Family {
    name: "platformsh_activity_duration_seconds",
    help: "Time from started_at to completed_at of finished activities.",
    kind: Kind::Histogram,
    labels: &["project", "environment_type", "type", "result"],
    buckets: ACTIVITY_SECONDS,
};
pub const ACTIVITY_WAIT: Family = Family {
    name: "platformsh_activity_wait_seconds",
    help: "Time from created_at to started_at (time queued) of finished activities.",
    kind: Kind::Histogram,
    labels: &["project", "environment_type", "type"],
    buckets: WAIT_SECONDS,
};
pub const ACTIVITY_PHASE: Family = Family {
    name: "platformsh_activity_phase_seconds",
    help: "Phase times reported in an activity's timings (wait, build, deploy, execute).",
    kind: Kind::Histogram,
    labels: &["project", "environment_type", "type", "phase"],
    buckets: ACTIVITY_SECONDS,
};
pub const PUSH_COMMITS: Family = Family {
    name: "platformsh_push_commits",
    help: "Commits per finished environment.push activity.",
    kind: Kind::Histogram,
    labels: &["project", "environment_type"],
    buckets: COMMITS,
};
pub const DEPLOYMENTS: Family = Family {
    name: "platformsh_deployments_total",
    help: "Finished activities whose type counts as a deployment (see --deployment.types), by result.",
    kind: Kind::Counter,
    labels: &["project", "environment", "environment_type", "result"],
    buckets: &[],
};
pub const LAST_DEPLOYMENT_TIMESTAMP: Family = Family {
    name: "platformsh_last_deployment_timestamp_seconds",
    help: "Completion time of the latest successful or failed deployment of the environment.",
    kind: Kind::Gauge,
    labels: &["project", "environment"],
    buckets: &[],
};
pub const LAST_DEPLOYMENT_SUCCESS: Family = Family {
    name: "platformsh_last_deployment_success",
    help: "1 if the latest deployment of the environment succeeded, 0 if it failed.",
    kind: Kind::Gauge,
    labels: &["project", "environment"],
    buckets: &[],
};
pub const LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP: Family = Family {
    name: "platformsh_last_successful_deployment_timestamp_seconds",
    help: "Completion time of the latest successful deployment of the environment.",
    kind: Kind::Gauge,
    labels: &["project", "environment"],
    buckets: &[],
};
pub const DEPLOYMENT_RECOVERY: Family = Family {
    name: "platformsh_deployment_recovery_seconds",
    help: "Time from the first failed deployment of an environment to its next successful one.",
    kind: Kind::Histogram,
    labels: &["project", "environment_type"],
    buckets: RECOVERY_SECONDS,
};
pub const ACTIVITIES_UNFINISHED: Family = Family {
    name: "platformsh_activities_unfinished",
    help: "Activities last seen in a state that is not final (pending, scheduled, staged, in_progress).",
    kind: Kind::Gauge,
    labels: &["project", "environment", "state"],
    buckets: &[],
};
pub const LAST_ACTIVITY_TIMESTAMP: Family = Family {
    name: "platformsh_last_activity_timestamp_seconds",
    help: "Latest timestamp carried by any accepted activity of the project.",
    kind: Kind::Gauge,
    labels: &["project"],
    buckets: &[],
};
pub const WEBHOOKS: Family = Family {
    name: "platformsh_exporter_webhooks_total",
    help: "Webhook deliveries received, by outcome.",
    kind: Kind::Counter,
    labels: &["outcome"],
    buckets: &[],
};
pub const LABEL_OVERFLOW: Family = Family {
    name: "platformsh_exporter_label_overflow_total",
    help: "Activities whose label value was replaced by _overflow because the label's cap was reached.",
    kind: Kind::Counter,
    labels: &["label"],
    buckets: &[],
};
pub const OBSERVATIONS_SKIPPED: Family = Family {
    name: "platformsh_exporter_observations_skipped_total",
    help: "Durations not observed because a timestamp was missing or the duration was negative.",
    kind: Kind::Counter,
    labels: &["metric", "reason"],
    buckets: &[],
};
pub const STORE_ERRORS: Family = Family {
    name: "platformsh_exporter_store_errors_total",
    help: "Commits to the activity store that failed, by reason; their deliveries were answered 503.",
    kind: Kind::Counter,
    labels: &["reason"],
    buckets: &[],
};
pub const BUILD_INFO: Family = Family {
    name: "platformsh_exporter_build_info",
    help: "Always 1; the version of the running exporter.",
    kind: Kind::Gauge,
    labels: &["version"],
    buckets: &[],
};

/// Every family the exporter defines (process metrics come from the `prometheus` crate).
pub const FAMILIES: &[&Family] = &[
    &ACTIVITIES,
    &ACTIVITY_DURATION,
    &ACTIVITY_WAIT,
    &ACTIVITY_PHASE,
    &PUSH_COMMITS,
    &DEPLOYMENTS,
    &LAST_DEPLOYMENT_TIMESTAMP,
    &LAST_DEPLOYMENT_SUCCESS,
    &LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP,
    &DEPLOYMENT_RECOVERY,
    &ACTIVITIES_UNFINISHED,
    &LAST_ACTIVITY_TIMESTAMP,
    &WEBHOOKS,
    &LABEL_OVERFLOW,
    &OBSERVATIONS_SKIPPED,
    &STORE_ERRORS,
    &BUILD_INFO,
];

/// Outcomes of a delivery, pre-initialised to 0 so `rate()` and alerts see them from the start.
pub const WEBHOOK_OUTCOMES: &[&str] = &[
    "accepted",
    "duplicate",
    "invalid",
    "too_large",
    "unauthorized",
    "unavailable",
    "timeout",
];

/// Reasons a store commit fails (see `store::StoreError`), pre-initialised to 0 like outcomes.
pub const STORE_ERROR_REASONS: &[&str] = &[
    "disk_full",
    "read_only",
    "corrupt",
    "locked",
    "io",
    "other",
    "stopped",
];

/// Handles to every family. The activity families live in `registry`; the exporter's own and
/// the process metrics in `self_registry`, so that a scrape can reuse the text of the activity
/// families while no activity changed them (see [`Metrics::render`]).
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub self_registry: Registry,
    /// Bumped by the recorder whenever it changes an activity family.
    generation: AtomicU64,
    /// The activity families' text and the generation it was rendered at.
    rendered: Mutex<(u64, String)>,
    pub activities: IntCounterVec,
    pub activity_duration: HistogramVec,
    pub activity_wait: HistogramVec,
    pub activity_phase: HistogramVec,
    pub push_commits: HistogramVec,
    pub deployments: IntCounterVec,
    pub last_deployment_timestamp: GaugeVec,
    pub last_deployment_success: IntGaugeVec,
    pub last_successful_deployment_timestamp: GaugeVec,
    pub deployment_recovery: HistogramVec,
    pub activities_unfinished: IntGaugeVec,
    pub last_activity_timestamp: GaugeVec,
    pub webhooks: IntCounterVec,
    pub label_overflow: IntCounterVec,
    pub observations_skipped: IntCounterVec,
    pub store_errors: IntCounterVec,
}

impl Metrics {
    /// Builds and registers every family, plus the process collector on Linux.
    pub fn new() -> Self {
        let registry = Registry::new();
        let self_registry = Registry::new();
        let metrics = Self {
            activities: counter(&registry, &ACTIVITIES),
            activity_duration: histogram(&registry, &ACTIVITY_DURATION),
            activity_wait: histogram(&registry, &ACTIVITY_WAIT),
            activity_phase: histogram(&registry, &ACTIVITY_PHASE),
            push_commits: histogram(&registry, &PUSH_COMMITS),
            deployments: counter(&registry, &DEPLOYMENTS),
            last_deployment_timestamp: gauge(&registry, &LAST_DEPLOYMENT_TIMESTAMP),
            last_deployment_success: int_gauge(&registry, &LAST_DEPLOYMENT_SUCCESS),
            last_successful_deployment_timestamp: gauge(
                &registry,
                &LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP,
            ),
            deployment_recovery: histogram(&registry, &DEPLOYMENT_RECOVERY),
            activities_unfinished: int_gauge(&registry, &ACTIVITIES_UNFINISHED),
            last_activity_timestamp: gauge(&registry, &LAST_ACTIVITY_TIMESTAMP),
            webhooks: counter(&self_registry, &WEBHOOKS),
            label_overflow: counter(&self_registry, &LABEL_OVERFLOW),
            observations_skipped: counter(&self_registry, &OBSERVATIONS_SKIPPED),
            store_errors: counter(&self_registry, &STORE_ERRORS),
            registry,
            self_registry,
            // Never equal to a rendered generation until the first render.
            generation: AtomicU64::new(1),
            rendered: Mutex::new((0, String::new())),
        };
        for outcome in WEBHOOK_OUTCOMES {
            metrics.webhooks.with_label_values(&[outcome]);
        }
        for reason in STORE_ERROR_REASONS {
            metrics.store_errors.with_label_values(&[reason]);
        }
        int_gauge(&metrics.self_registry, &BUILD_INFO)
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        #[cfg(target_os = "linux")]
        metrics
            .self_registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("the process collector registers once in a fresh registry");
        metrics
    }

    /// The webhook counters by outcome, as the store saves them.
    pub fn webhook_counts(&self) -> Vec<(String, u64)> {
        WEBHOOK_OUTCOMES
            .iter()
            .map(|o| {
                (
                    format!("webhooks_total:{o}"),
                    self.webhooks.with_label_values(&[o]).get(),
                )
            })
            .collect()
    }

    /// Carries on the webhook counters saved before a restart.
    pub fn restore_webhook_counts(&self, counts: &[(String, u64)]) {
        for (name, value) in counts {
            if let Some(outcome) = name.strip_prefix("webhooks_total:") {
                if WEBHOOK_OUTCOMES.contains(&outcome) {
                    self.webhooks.with_label_values(&[outcome]).inc_by(*value);
                }
            }
        }
    }

    /// Marks the activity families as changed, so the next scrape renders them again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Renders every family in the Prometheus text exposition format.
    ///
    /// Gathering from the `prometheus` crate builds a message per series (about 1 µs each, see
    /// BENCHMARKS.md), so the activity families are rendered again only after the recorder
    /// changed them; deliveries are rare next to scrapes. The exporter's own and the process
    /// metrics are rendered at every scrape.
    pub fn render(&self) -> String {
        let mut rendered = self
            .rendered
            .lock()
            .expect("the render cache lock is never poisoned: encoding does not panic");
        // Read before gathering: a change made during the gather bumps it again, so the text
        // is never taken as newer than it is.
        let generation = self.generation.load(Ordering::Acquire);
        if rendered.0 != generation {
            rendered.1.clear();
            crate::expose::encode(&self.registry.gather(), &mut rendered.1);
            rendered.0 = generation;
        }
        let mut out = rendered.1.clone();
        drop(rendered);
        crate::expose::encode(&self.self_registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// The `expect`s below fire only if a Family constant is malformed or registered twice: a
// programming error that every test run would catch at start.

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

fn counter(registry: &Registry, family: &Family) -> IntCounterVec {
    let vec = IntCounterVec::new(opts(family), family.labels).expect("valid counter family");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique family");
    vec
}

fn gauge(registry: &Registry, family: &Family) -> GaugeVec {
    let vec = GaugeVec::new(opts(family), family.labels).expect("valid gauge family");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique family");
    vec
}

fn int_gauge(registry: &Registry, family: &Family) -> IntGaugeVec {
    let vec = IntGaugeVec::new(opts(family), family.labels).expect("valid gauge family");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique family");
    vec
}

fn histogram(registry: &Registry, family: &Family) -> HistogramVec {
    let opts = HistogramOpts::new(family.name, family.help).buckets(family.buckets.to_vec());
    let vec = HistogramVec::new(opts, family.labels).expect("valid histogram family");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique family");
    vec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_shows_activity_changes_once_they_are_marked_and_self_metrics_always() {
        let metrics = Metrics::new();
        let labels = ["p", "e", "production", "environment.push", "success"];
        // The crate writes label pairs sorted by name.
        let series = "platformsh_activities_total{environment=\"e\",environment_type=\"production\",project=\"p\",result=\"success\",type=\"environment.push\"}";
        metrics.activities.with_label_values(&labels).inc();
        metrics.changed();
        assert!(metrics.render().contains(&format!("{series} 1\n")));
        // The recorder always marks its changes; the self metrics need no mark.
        metrics.activities.with_label_values(&labels).inc();
        metrics.webhooks.with_label_values(&["accepted"]).inc();
        let text = metrics.render();
        assert!(
            text.contains(&format!("{series} 1\n")),
            "reused until marked"
        );
        assert!(text.contains("platformsh_exporter_webhooks_total{outcome=\"accepted\"} 1\n"));
        metrics.changed();
        assert!(metrics.render().contains(&format!("{series} 2\n")));
    }

    #[test]
    fn histogram_buckets_are_strictly_increasing() {
        for family in FAMILIES.iter().filter(|f| f.kind == Kind::Histogram) {
            assert!(!family.buckets.is_empty(), "{}", family.name);
            assert!(
                family.buckets.windows(2).all(|w| w[0] < w[1]),
                "{}",
                family.name
            );
        }
    }
}
