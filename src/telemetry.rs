//! Telemetry: the exporter's own process-lifetime instruments (webhook outcomes, store errors
//! and commits, build info) and the process metrics, kept by the `prometheus` crate's registry
//! and written by [`crate::text`].
//!
//! The rule: what replay rebuilds from the stored activities is kept by the recorder, as
//! series; what describes this process (and starts from zero, or from saved counters, at each
//! start) is kept here.

use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::catalogue::{
    BUILD_INFO, Family, STORE_COMMIT_BATCH, STORE_COMMIT_DURATION, STORE_ERROR_REASONS,
    STORE_ERRORS, WEBHOOK_OUTCOMES, WEBHOOKS,
};

/// The exporter's own metrics and the process metrics, kept by the `prometheus` crate. The
/// activity families are kept by the recorder, in [`crate::series::ActivityFamilies`].
#[derive(Debug)]
pub struct Telemetry {
    pub registry: Registry,
    pub webhooks: IntCounterVec,
    /// The `webhooks` counter of each of [`WEBHOOK_OUTCOMES`], resolved once: a label lookup
    /// per delivery hashes the value and takes the vector's lock.
    outcomes: Vec<IntCounter>,
    pub store_errors: IntCounterVec,
    /// Registered when a store is opened: a memory-only exporter has no commits to show.
    store_commits: OnceLock<StoreCommits>,
}

impl Telemetry {
    /// Builds and registers every self-metric family, plus the process collector on Linux.
    pub fn new() -> Self {
        let registry = Registry::new();
        let mut metrics = Self {
            webhooks: counter(&registry, &WEBHOOKS),
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

impl Default for Telemetry {
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
#[derive(Debug, Clone)]
pub struct StoreCommits {
    pub duration: prometheus::Histogram,
    pub batch_size: prometheus::Histogram,
}

fn counter(registry: &Registry, family: &Family) -> IntCounterVec {
    let vec = IntCounterVec::new(opts(family), family.labels).expect("valid counter family");
    registered(registry, vec)
}
