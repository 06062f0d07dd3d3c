//! Metric families: the one place that defines each family's name, help, labels and buckets.
//!
//! Names are a contract with dashboards, alert rules and users' queries. README's metrics table
//! is checked against [`FAMILIES`] by a test, so the two cannot drift apart.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use prometheus::core::Collector;
use prometheus::{HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

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
/// Commits take one fsync of the write-ahead log: tens of microseconds on a local SSD, up to
/// seconds on a stalling network disk.
const COMMIT_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
const BATCH_SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

pub const STORE_COMMIT_DURATION: Family = Family {
    name: "platformsh_exporter_store_commit_duration_seconds",
    help: "Time to write and fsync one commit of the activity store (successful commits only).",
    kind: Kind::Histogram,
    labels: &[],
    buckets: COMMIT_SECONDS,
};
pub const STORE_COMMIT_BATCH: Family = Family {
    name: "platformsh_exporter_store_commit_batch_size",
    help: "Deliveries and other writes grouped into one commit of the activity store.",
    kind: Kind::Histogram,
    labels: &[],
    buckets: BATCH_SIZES,
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
    &STORE_COMMIT_DURATION,
    &STORE_COMMIT_BATCH,
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
    "replaced",
];

/// The exporter's own metrics and the process metrics, kept by the `prometheus` crate. The
/// activity families are kept by the recorder, in [`ActivityFamilies`].
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub webhooks: IntCounterVec,
    /// The `webhooks` counter of each of [`WEBHOOK_OUTCOMES`], resolved once: a label lookup
    /// per delivery hashes the value and takes the vector's lock.
    outcomes: Vec<IntCounter>,
    pub label_overflow: IntCounterVec,
    pub observations_skipped: IntCounterVec,
    pub store_errors: IntCounterVec,
    /// Registered when a store is opened: a memory-only exporter has no commits to show.
    store_commits: OnceLock<StoreCommits>,
}

impl Metrics {
    /// Builds and registers every self-metric family, plus the process collector on Linux.
    pub fn new() -> Self {
        let registry = Registry::new();
        let mut metrics = Self {
            webhooks: counter(&registry, &WEBHOOKS),
            label_overflow: counter(&registry, &LABEL_OVERFLOW),
            observations_skipped: counter(&registry, &OBSERVATIONS_SKIPPED),
            store_errors: counter(&registry, &STORE_ERRORS),
            store_commits: OnceLock::new(),
            outcomes: Vec::new(),
            registry,
        };
        metrics.outcomes = WEBHOOK_OUTCOMES
            .iter()
            .map(|outcome| metrics.webhooks.with_label_values(&[outcome]))
            .collect();
        for reason in STORE_ERROR_REASONS {
            metrics.store_errors.with_label_values(&[reason]);
        }
        let build_info =
            IntGaugeVec::new(opts(&BUILD_INFO), BUILD_INFO.labels).expect("valid gauge family");
        registered(&metrics.registry, build_info)
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("the process collector registers once in a fresh registry");
        metrics
    }

    /// Counts a delivery with `outcome`, one of [`WEBHOOK_OUTCOMES`].
    pub fn count_webhook(&self, outcome: &str) {
        match WEBHOOK_OUTCOMES.iter().position(|&o| o == outcome) {
            Some(i) => self.outcomes[i].inc(),
            None => self.webhooks.with_label_values(&[outcome]).inc(),
        }
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
            if let Some(outcome) = name.strip_prefix("webhooks_total:")
                && WEBHOOK_OUTCOMES.contains(&outcome)
            {
                self.webhooks.with_label_values(&[outcome]).inc_by(*value);
            }
        }
    }

    /// The store's commit histograms, registered the first time.
    pub fn store_commits(&self) -> &StoreCommits {
        self.store_commits.get_or_init(|| StoreCommits {
            duration: histogram(&self.registry, &STORE_COMMIT_DURATION),
            batch_size: histogram(&self.registry, &STORE_COMMIT_BATCH),
        })
    }

    /// Appends the exporter's own and the process metrics in the text exposition format.
    pub fn encode(&self, out: &mut String) {
        crate::text::encode(&self.registry.gather(), out);
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

/// Registers `collector` in `registry` and gives it back.
fn registered<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("unique family");
    collector
}

fn histogram(registry: &Registry, family: &Family) -> prometheus::Histogram {
    let opts = HistogramOpts::new(family.name, family.help).buckets(family.buckets.to_vec());
    let histogram = prometheus::Histogram::with_opts(opts).expect("valid histogram family");
    registered(registry, histogram)
}

/// What the store's writer observes of each commit.
#[derive(Debug)]
pub struct StoreCommits {
    pub duration: prometheus::Histogram,
    pub batch_size: prometheus::Histogram,
}

fn counter(registry: &Registry, family: &Family) -> IntCounterVec {
    let vec = IntCounterVec::new(opts(family), family.labels).expect("valid counter family");
    registered(registry, vec)
}

/// The activity families: one [`Series`] map per family, written only by the recorder.
#[derive(Debug)]
pub struct ActivityFamilies {
    pub activities: Series<f64>,
    pub activity_duration: Series<Histogram>,
    pub activity_wait: Series<Histogram>,
    pub activity_phase: Series<Histogram>,
    pub push_commits: Series<Histogram>,
    pub deployments: Series<f64>,
    pub last_deployment_timestamp: Series<f64>,
    pub last_deployment_success: Series<f64>,
    pub last_successful_deployment_timestamp: Series<f64>,
    pub deployment_recovery: Series<Histogram>,
    pub activities_unfinished: Series<f64>,
    pub last_activity_timestamp: Series<f64>,
}

impl ActivityFamilies {
    pub fn new() -> Self {
        Self {
            activities: Series::new(&ACTIVITIES),
            activity_duration: Series::new(&ACTIVITY_DURATION),
            activity_wait: Series::new(&ACTIVITY_WAIT),
            activity_phase: Series::new(&ACTIVITY_PHASE),
            push_commits: Series::new(&PUSH_COMMITS),
            deployments: Series::new(&DEPLOYMENTS),
            last_deployment_timestamp: Series::new(&LAST_DEPLOYMENT_TIMESTAMP),
            last_deployment_success: Series::new(&LAST_DEPLOYMENT_SUCCESS),
            last_successful_deployment_timestamp: Series::new(
                &LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP,
            ),
            deployment_recovery: Series::new(&DEPLOYMENT_RECOVERY),
            activities_unfinished: Series::new(&ACTIVITIES_UNFINISHED),
            last_activity_timestamp: Series::new(&LAST_ACTIVITY_TIMESTAMP),
        }
    }

    /// Appends every family that has a series, in the text exposition format.
    pub fn encode(&self, out: &mut String) {
        self.activities.encode(out);
        self.activity_duration.encode(out);
        self.activity_wait.encode(out);
        self.activity_phase.encode(out);
        self.push_commits.encode(out);
        self.deployments.encode(out);
        self.last_deployment_timestamp.encode(out);
        self.last_deployment_success.encode(out);
        self.last_successful_deployment_timestamp.encode(out);
        self.deployment_recovery.encode(out);
        self.activities_unfinished.encode(out);
        self.last_activity_timestamp.encode(out);
    }
}

impl Default for ActivityFamilies {
    fn default() -> Self {
        Self::new()
    }
}

/// The series of one family, by label set.
///
/// The activity families keep their own series instead of the `prometheus` crate's vectors:
/// the crate's `gather` builds a protobuf message per series and sorts them at every scrape,
/// which took 1.6 µs per series at 100 000 series and grew faster than the series count
/// (BENCHMARKS.md). Here every label set is written once, when its series appears, into one
/// buffer, and the values sit in one vector in the same order: a scrape reads both front to
/// back and writes text, at the same cost per series whatever their number. Series are
/// written in the order they appeared (the text format does not ask for any order). The
/// recorder is the only writer and already holds a lock, so the values need no atomics.
#[derive(Debug)]
pub struct Series<V> {
    family: &'static Family,
    /// Positions of the family's labels sorted by name: label pairs are written in that
    /// order, as the `prometheus` crate writes them.
    order: Vec<usize>,
    /// Every label set as written between the braces (`a="x",b="y"`, escaped), one after
    /// another.
    labels: String,
    /// Where each label set ends in `labels`, and its value, in the same order.
    values: Vec<(usize, V)>,
    /// Positions in `values`, found by the label set's text.
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
    /// Where a label set is written to be looked up: no allocation per lookup.
    key: String,
}

impl<V> Series<V> {
    pub fn new(family: &'static Family) -> Self {
        let mut order: Vec<usize> = (0..family.labels.len()).collect();
        order.sort_by_key(|&i| family.labels[i]);
        Self {
            family,
            order,
            labels: String::new(),
            values: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            key: String::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Each series' label set and value, in the order they appeared.
    fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        let mut start = 0;
        self.values.iter().map(move |(end, value)| {
            let labels = &self.labels[start..*end];
            start = *end;
            (labels, value)
        })
    }

    /// The value of the label set `values` (in the family's label order), created by `new`
    /// the first time.
    fn entry(&mut self, values: &[&str], new: impl FnOnce() -> V) -> &mut V {
        let i = self.position(values, new);
        &mut self.values[i].1
    }

    /// The value at `position`, as [`Series::position`] gave it.
    pub fn at(&mut self, position: usize) -> &mut V {
        &mut self.values[position].1
    }

    /// Where the series of the label set `values` (in the family's label order) is, created
    /// with the value `new` gives the first time. Positions never change: series are never
    /// removed.
    pub fn position(&mut self, values: &[&str], new: impl FnOnce() -> V) -> usize {
        assert_eq!(
            values.len(),
            self.order.len(),
            "{}: one value per label",
            self.family.name
        );
        self.key.clear();
        for (n, &i) in self.order.iter().enumerate() {
            if n > 0 {
                self.key.push(',');
            }
            self.key.push_str(self.family.labels[i]);
            self.key.push_str("=\"");
            crate::text::escape(values[i], true, &mut self.key);
            self.key.push('"');
        }
        let (labels, ends, hasher) = (&self.labels, &self.values, &self.hasher);
        let label_set = |i: usize| {
            let start = if i == 0 { 0 } else { ends[i - 1].0 };
            &labels[start..ends[i].0]
        };
        let hash = hasher.hash_one(self.key.as_str());
        let found = self.index.entry(
            hash,
            |&i| label_set(i) == self.key,
            |&i| hasher.hash_one(label_set(i)),
        );
        match found {
            Entry::Occupied(occupied) => *occupied.get(),
            Entry::Vacant(vacant) => {
                let i = self.values.len();
                vacant.insert(i);
                self.labels.push_str(&self.key);
                self.values.push((self.labels.len(), new()));
                i
            }
        }
    }
}

impl Series<f64> {
    /// Adds `v` to the counter or gauge of `values`.
    pub fn add(&mut self, values: &[&str], v: f64) {
        *self.entry(values, || 0.0) += v;
    }

    pub fn inc(&mut self, values: &[&str]) {
        self.add(values, 1.0);
    }

    /// Raises the gauge of `values` to `v` if `v` is greater (a new gauge takes `v`).
    pub fn set_max(&mut self, values: &[&str], v: f64) {
        let gauge = self.entry(values, || v);
        *gauge = gauge.max(v);
    }

    fn encode(&self, out: &mut String) {
        if self.is_empty() {
            return;
        }
        let family = self.family;
        crate::text::header(family.name, family.help, family.kind.as_str(), out);
        for (labels, &v) in self.iter() {
            crate::text::sample(out, family.name, "", labels, None, v);
        }
    }
}

impl Series<Histogram> {
    pub fn observe(&mut self, values: &[&str], v: f64) {
        let position = self.position(values, Histogram::default);
        self.observe_at(position, v);
    }

    /// Observes `v` in the series at `position`, as [`Series::position`] gave it.
    pub fn observe_at(&mut self, position: usize, v: f64) {
        let bounds = self.family.buckets;
        self.at(position).observe(bounds, v);
    }

    fn encode(&self, out: &mut String) {
        if self.is_empty() {
            return;
        }
        let family = self.family;
        crate::text::header(family.name, family.help, family.kind.as_str(), out);
        // The bounds as text, once per family rather than once per series.
        let bounds: Vec<String> = family
            .buckets
            .iter()
            .map(|&b| crate::text::le(b))
            .collect();
        for (labels, h) in self.iter() {
            let cumulative = h.counts.iter().scan(0, |total, count| {
                *total += count;
                Some(*total)
            });
            let buckets = bounds.iter().map(String::as_str).zip(cumulative);
            crate::text::histogram(out, family.name, labels, buckets, h.count, h.sum);
        }
    }
}

/// The most buckets a histogram family has; the counts are kept inline, so that a scrape
/// reads each series' values without following a pointer.
pub const MAX_BUCKETS: usize = 14;

/// One histogram series: a count per bucket (not cumulative), the sum and the count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: [u64; MAX_BUCKETS],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Counts `v` in the first bucket whose upper bound is at least `v`, as the `prometheus`
    /// crate does; past the last bound it is counted only in `+Inf` (the count).
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if let Some(i) = bounds.iter().position(|&bound| v <= bound) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the `prometheus` crate writes for the same updates made to its own vectors.
    #[test]
    fn series_are_written_as_the_prometheus_crate_writes_its_vectors() {
        use prometheus::{GaugeVec, HistogramOpts, HistogramVec};
        let registry = Registry::new();
        let counter = counter(&registry, &DEPLOYMENTS);
        let histogram = HistogramVec::new(
            HistogramOpts::new(ACTIVITY_DURATION.name, ACTIVITY_DURATION.help)
                .buckets(ACTIVITY_DURATION.buckets.to_vec()),
            ACTIVITY_DURATION.labels,
        )
        .unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        let gauge = GaugeVec::new(
            opts(&LAST_ACTIVITY_TIMESTAMP),
            LAST_ACTIVITY_TIMESTAMP.labels,
        )
        .unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();

        let mut deployments = Series::new(&DEPLOYMENTS);
        let mut duration = Series::new(&ACTIVITY_DURATION);
        let mut last = Series::new(&LAST_ACTIVITY_TIMESTAMP);
        // Ours are written in the order they appeared, the crate's sorted by label values:
        // here both orders are the same.
        for (values, n) in [
            (["q\"uote", "back\\slash\nnl", "", "success"], 2),
            (["p", "main", "production", "failure"], 1),
            (["p", "main", "production", "success"], 3),
        ] {
            counter.with_label_values(&values).inc_by(n);
            deployments.add(&values, n as f64);
        }
        for (values, v) in [
            (
                ["p", "production", "environment.push", "success"],
                0.126_238,
            ),
            (["p", "production", "environment.push", "success"], 1.0),
            (["p", "production", "environment.push", "success"], 1e9),
            (["r", "staging", "environment.cron", "failure"], 3600.0),
        ] {
            histogram.with_label_values(&values).observe(v);
            duration.observe(&values, v);
        }
        for (values, v) in [(["p"], 1_512_643_659.369_741), (["r"], 1_600_000_000.0)] {
            gauge.with_label_values(&values).set(v);
            last.set_max(&values, v);
        }

        let mut expected = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut expected)
            .unwrap();
        // The crate writes families sorted by name.
        let mut ours = String::new();
        duration.encode(&mut ours);
        deployments.encode(&mut ours);
        last.encode(&mut ours);
        assert_eq!(ours, expected);
    }

    #[test]
    fn a_family_without_series_writes_nothing() {
        let mut out = String::new();
        ActivityFamilies::new().encode(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn set_max_keeps_the_greatest_value() {
        let mut last = Series::new(&LAST_ACTIVITY_TIMESTAMP);
        last.set_max(&["p"], 5.0);
        last.set_max(&["p"], 3.0);
        assert_eq!(last.iter().collect::<Vec<_>>(), [("project=\"p\"", &5.0)]);
        last.set_max(&["p"], 7.0);
        assert_eq!(last.iter().collect::<Vec<_>>(), [("project=\"p\"", &7.0)]);
    }

    #[test]
    fn histogram_buckets_are_strictly_increasing_and_fit_inline() {
        for family in FAMILIES.iter().filter(|f| f.kind == Kind::Histogram) {
            assert!(!family.buckets.is_empty(), "{}", family.name);
            assert!(family.buckets.len() <= MAX_BUCKETS, "{}", family.name);
            assert!(
                family.buckets.windows(2).all(|w| w[0] < w[1]),
                "{}",
                family.name
            );
        }
    }
}
