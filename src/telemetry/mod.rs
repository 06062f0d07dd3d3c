//! Telemetry: the exporter's own process-lifetime instruments (webhook outcomes, store errors
//! and commits, build info) and the process metrics, kept by the `prometheus` crate's registry
//! and written by [`crate::text`].
//!
//! The rule: what replay rebuilds from the stored activities is kept by the recorder, as
//! series; what describes this process (and starts from zero, or from saved counters, at each
//! start) is kept here.

#[cfg(target_os = "linux")]
mod process;

use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::activity::DeliveryMode;
use crate::catalogue::{
    ALERTMANAGER_ALERTS, ALERTMANAGER_NOTIFICATIONS, API_INTEGRATIONS_READABLE, API_LAST_SUCCESS,
    API_REQUESTS, API_UNREAD, BUILD_INFO, CONFIG_RELOAD_SUCCESSFUL, CONFIG_RELOAD_TIMESTAMP,
    DELIVERY_MODE, Family, PROJECT_INFO, SIGNATURES_VERIFIED, STORE_COMMIT_BATCH,
    STORE_COMMIT_DURATION, STORE_ERRORS, WEBHOOKS,
};

/// What became of a webhook delivery: the `outcome` label of
/// `platformsh_exporter_webhooks_total`. (Not the activity's `result`, which is what Platform.sh
/// says of the activity; a delivery is one HTTP request carrying it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Accepted,
    Duplicate,
    Invalid,
    TooLarge,
    Unauthorized,
    Unavailable,
    Timeout,
}

impl DeliveryOutcome {
    /// Every outcome, each exposed at 0 from the start so that `rate()` and alerts see the
    /// first one.
    pub const ALL: [DeliveryOutcome; 7] = [
        DeliveryOutcome::Accepted,
        DeliveryOutcome::Duplicate,
        DeliveryOutcome::Invalid,
        DeliveryOutcome::TooLarge,
        DeliveryOutcome::Unauthorized,
        DeliveryOutcome::Unavailable,
        DeliveryOutcome::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Accepted => "accepted",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Invalid => "invalid",
            DeliveryOutcome::TooLarge => "too_large",
            DeliveryOutcome::Unauthorized => "unauthorized",
            DeliveryOutcome::Unavailable => "unavailable",
            DeliveryOutcome::Timeout => "timeout",
        }
    }
}

/// The `outcome` values of `platformsh_exporter_alertmanager_alerts_total`: what the recorder
/// made of an incident, or why an alert is none.
pub const ALERT_OUTCOMES: [&str; 7] = [
    "opened",
    "resolved",
    "duplicate",
    "unknown_environment",
    "ignored_severity",
    "ignored_unplaced",
    "ignored_own",
];

/// Why a commit to the activity store failed: the `reason` label of
/// `platformsh_exporter_store_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorReason {
    DiskFull,
    ReadOnly,
    Corrupt,
    Locked,
    Io,
    Other,
    /// The store's writer has stopped.
    Stopped,
    /// The database file was deleted or replaced under the running exporter.
    Replaced,
}

impl StoreErrorReason {
    /// Every reason, each exposed at 0 from the start.
    pub const ALL: [StoreErrorReason; 8] = [
        StoreErrorReason::DiskFull,
        StoreErrorReason::ReadOnly,
        StoreErrorReason::Corrupt,
        StoreErrorReason::Locked,
        StoreErrorReason::Io,
        StoreErrorReason::Other,
        StoreErrorReason::Stopped,
        StoreErrorReason::Replaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorReason::DiskFull => "disk_full",
            StoreErrorReason::ReadOnly => "read_only",
            StoreErrorReason::Corrupt => "corrupt",
            StoreErrorReason::Locked => "locked",
            StoreErrorReason::Io => "io",
            StoreErrorReason::Other => "other",
            StoreErrorReason::Stopped => "stopped",
            StoreErrorReason::Replaced => "replaced",
        }
    }
}

impl std::fmt::Display for StoreErrorReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exporter's own metrics and the process metrics, kept by the `prometheus` crate. The
/// activity families are kept by the recorder, in [`crate::series::ActivityFamilies`].
#[derive(Debug)]
pub struct Telemetry {
    pub registry: Registry,
    webhooks: IntCounterVec,
    /// The `webhooks` counter of each of [`DeliveryOutcome::ALL`], in that order, resolved
    /// once: a label lookup per delivery hashes the value and takes the vector's lock.
    outcomes: Vec<IntCounter>,
    store_errors: IntCounterVec,
    /// Deliveries whose signature verified, by the number of the shared key it verified with.
    signatures: IntCounterVec,
    alertmanager_notifications: IntCounterVec,
    alertmanager_alerts: IntCounterVec,
    reload_successful: prometheus::IntGauge,
    reload_timestamp: prometheus::Gauge,
    /// Registered when a store is opened: a memory-only exporter has no commits to show.
    store_commits: OnceLock<StoreCommits>,
    api: OnceLock<ApiTelemetry>,
}

/// What the Platform.sh API poller reports of itself: registered when it starts, so an
/// exporter without reconciliation exposes none of it.
#[derive(Debug, Clone)]
pub struct ApiTelemetry {
    requests: IntCounterVec,
    last_success: prometheus::GaugeVec,
    unread: prometheus::GaugeVec,
    integrations_readable: IntGaugeVec,
    delivery_mode: IntGaugeVec,
    project_info: IntGaugeVec,
}

/// The value of each series of a gauge labelled by project, sorted by project.
fn by_project(gauge: &prometheus::GaugeVec) -> Vec<(String, f64)> {
    let mut values: Vec<(String, f64)> = gauge
        .collect()
        .iter()
        .flat_map(|family| family.get_metric().iter())
        .map(|m| {
            let project = m
                .get_label()
                .iter()
                .find(|l| l.name() == "project")
                .map(|l| l.value().to_owned())
                .unwrap_or_default();
            (project, m.get_gauge().value())
        })
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

impl ApiTelemetry {
    /// Counts one request to `endpoint` answered with `code` (an HTTP status, or `error`).
    pub fn count_request(&self, endpoint: &str, code: &str) {
        self.requests.with_label_values(&[endpoint, code]).inc();
    }

    /// Shows the request counters of `endpoints` at 0 for the codes that matter most.
    pub fn expect_requests(&self, endpoints: &[&str]) {
        for endpoint in endpoints {
            for code in ["200", "401", "429", "500", "error"] {
                self.requests.with_label_values(&[endpoint, code]);
            }
        }
    }

    /// How much creation time of `project` is not proven read, in seconds.
    /// Whether the project's webhook integrations could be read at its last poll.
    pub fn integrations_readable(&self, project: &str, readable: bool) {
        self.integrations_readable
            .with_label_values(&[project])
            .set(i64::from(readable));
    }

    /// Sets the project's delivery mode: 1 on its mode's series, 0 on the others.
    pub fn delivery_mode(&self, project: &str, mode: DeliveryMode) {
        for each in DeliveryMode::ALL {
            self.delivery_mode
                .with_label_values(&[project, each.as_str()])
                .set(i64::from(each == mode));
        }
    }

    /// Each project's delivery mode, by project.
    pub fn delivery_modes(&self) -> Vec<(String, DeliveryMode)> {
        let mut modes: Vec<(String, DeliveryMode)> = self
            .delivery_mode
            .collect()
            .iter()
            .flat_map(|family| family.get_metric().iter())
            .filter(|m| m.get_gauge().value() > 0.5)
            .filter_map(|m| {
                let label = |name: &str| {
                    m.get_label()
                        .iter()
                        .find(|l| l.name() == name)
                        .map(|l| l.value().to_owned())
                };
                let mode = label("mode")?;
                let mode = DeliveryMode::ALL.into_iter().find(|d| d.as_str() == mode)?;
                Some((label("project")?, mode))
            })
            .collect();
        modes.sort_by(|a, b| a.0.cmp(&b.0));
        modes
    }

    pub fn unread(&self, project: &str, seconds: f64) {
        self.unread.with_label_values(&[project]).set(seconds);
    }

    /// Each project's unread span (seconds), by project.
    pub fn unread_by_project(&self) -> Vec<(String, f64)> {
        by_project(&self.unread)
    }

    /// When each project's last complete poll ended (seconds), by project.
    pub fn last_polls(&self) -> Vec<(String, f64)> {
        by_project(&self.last_success)
    }

    pub fn polled(&self, project: &str, at: f64) {
        self.last_success.with_label_values(&[project]).set(at);
    }

    /// Shows `project`'s title, region and organization, replacing what was shown before.
    pub fn project_info(&self, project: &str, title: &str, region: &str, organization: &str) {
        let stale: Vec<_> = self
            .project_info
            .collect()
            .iter()
            .flat_map(|family| family.get_metric().iter())
            .filter(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "project" && l.value() == project)
            })
            .map(|m| {
                m.get_label()
                    .iter()
                    .map(|l| l.value().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        for labels in stale {
            let values: Vec<&str> = labels.iter().map(String::as_str).collect();
            let _ = self.project_info.remove_label_values(&values);
        }
        self.project_info
            .with_label_values(&[project, title, region, organization])
            .set(1);
    }
}

impl Telemetry {
    /// Builds and registers every self-metric family, plus the process collector on Linux.
    pub fn new() -> Self {
        let registry = Registry::new();
        let mut metrics = Self {
            webhooks: counter(&registry, &WEBHOOKS),
            store_errors: counter(&registry, &STORE_ERRORS),
            signatures: counter(&registry, &SIGNATURES_VERIFIED),
            alertmanager_notifications: counter(&registry, &ALERTMANAGER_NOTIFICATIONS),
            alertmanager_alerts: counter(&registry, &ALERTMANAGER_ALERTS),
            reload_successful: registered(
                &registry,
                prometheus::IntGauge::with_opts(opts(&CONFIG_RELOAD_SUCCESSFUL))
                    .expect("valid gauge"),
            ),
            reload_timestamp: registered(
                &registry,
                prometheus::Gauge::with_opts(opts(&CONFIG_RELOAD_TIMESTAMP)).expect("valid gauge"),
            ),
            store_commits: OnceLock::new(),
            api: OnceLock::new(),
            outcomes: Vec::new(),
            registry,
        };
        metrics.outcomes = DeliveryOutcome::ALL
            .iter()
            .map(|outcome| metrics.webhooks.with_label_values(&[outcome.as_str()]))
            .collect();
        for reason in StoreErrorReason::ALL {
            metrics.store_errors.with_label_values(&[reason.as_str()]);
        }
        for outcome in DeliveryOutcome::ALL {
            metrics
                .alertmanager_notifications
                .with_label_values(&[outcome.as_str()]);
        }
        for outcome in ALERT_OUTCOMES {
            metrics.alertmanager_alerts.with_label_values(&[outcome]);
        }
        let build_info =
            IntGaugeVec::new(opts(&BUILD_INFO), BUILD_INFO.labels).expect("valid gauge family");
        registered(&metrics.registry, build_info)
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                env!("PLATFORMSH_EXPORTER_REVISION"),
                // `rustc 1.95.0 (59807616e 2026-…)`: the version alone.
                env!("PLATFORMSH_EXPORTER_RUST_VERSION")
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("unknown"),
            ])
            .set(1);
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(process::ProcessMetrics::new()))
            .expect("the process collector registers once in a fresh registry");
        metrics
    }

    /// Counts a delivery with `outcome`.
    pub fn count_delivery(&self, outcome: DeliveryOutcome) {
        self.outcomes[outcome as usize].inc();
    }

    /// Says whether the configuration files were just read successfully.
    pub fn config_reloaded(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.reload_timestamp.set(now);
        }
    }

    /// Counts an Alertmanager notification with `outcome`.
    pub fn count_notification(&self, outcome: DeliveryOutcome) {
        self.alertmanager_notifications
            .with_label_values(&[outcome.as_str()])
            .inc();
    }

    /// Counts `n` alerts of accepted notifications with `outcome` (one of [`ALERT_OUTCOMES`]).
    pub fn count_alerts(&self, outcome: &str, n: usize) {
        self.alertmanager_alerts
            .with_label_values(&[outcome])
            .inc_by(n as u64);
    }

    /// Shows each of `keys` shared keys' count of verified deliveries, at 0 from the start.
    pub fn expect_keys(&self, keys: usize) {
        for key in 1..=keys {
            self.signatures.with_label_values(&[&key.to_string()]);
        }
    }

    /// Counts a delivery whose signature verified with the shared key numbered `key`.
    pub fn count_verified(&self, key: usize) {
        self.signatures.with_label_values(&[&key.to_string()]).inc();
    }

    /// Counts a commit of the store that failed for `reason`.
    pub fn count_store_error(&self, reason: StoreErrorReason) {
        self.store_errors
            .with_label_values(&[reason.as_str()])
            .inc();
    }

    /// The webhook counters by outcome, as the store saves them.
    pub fn webhook_counts(&self) -> Vec<(String, u64)> {
        DeliveryOutcome::ALL
            .iter()
            .zip(&self.outcomes)
            .map(|(o, counter)| (format!("webhooks_total:{}", o.as_str()), counter.get()))
            .collect()
    }

    /// Carries on the webhook counters saved before a restart.
    pub fn restore_webhook_counts(&self, counts: &[(String, u64)]) {
        for (name, value) in counts {
            let saved = name.strip_prefix("webhooks_total:");
            if let Some(i) = DeliveryOutcome::ALL
                .iter()
                .position(|o| Some(o.as_str()) == saved)
            {
                self.outcomes[i].inc_by(*value);
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

    /// The API poller's instruments, if reconciliation started them.
    pub fn api_started(&self) -> Option<&ApiTelemetry> {
        self.api.get()
    }

    /// The API poller's instruments, registered on first use.
    pub fn api(&self) -> &ApiTelemetry {
        self.api.get_or_init(|| ApiTelemetry {
            requests: counter(&self.registry, &API_REQUESTS),
            last_success: registered(
                &self.registry,
                prometheus::GaugeVec::new(opts(&API_LAST_SUCCESS), API_LAST_SUCCESS.labels)
                    .expect("valid gauge family"),
            ),
            unread: registered(
                &self.registry,
                prometheus::GaugeVec::new(opts(&API_UNREAD), API_UNREAD.labels)
                    .expect("valid gauge family"),
            ),
            integrations_readable: registered(
                &self.registry,
                IntGaugeVec::new(
                    opts(&API_INTEGRATIONS_READABLE),
                    API_INTEGRATIONS_READABLE.labels,
                )
                .expect("valid gauge family"),
            ),
            delivery_mode: registered(
                &self.registry,
                IntGaugeVec::new(opts(&DELIVERY_MODE), DELIVERY_MODE.labels)
                    .expect("valid gauge family"),
            ),
            project_info: registered(
                &self.registry,
                IntGaugeVec::new(opts(&PROJECT_INFO), PROJECT_INFO.labels)
                    .expect("valid gauge family"),
            ),
        })
    }
}

/// The exporter's own and the process metrics, gathered anew at each walk.
impl crate::exposition::Families for Telemetry {
    fn walk(&self, sink: &mut impl crate::exposition::Sink) {
        crate::exposition::walk_gathered(&self.registry.gather(), sink);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome the receiver counts is one exposed at 0 from the start.
    #[test]
    fn alert_outcomes_name_every_incident_outcome_and_ignored_reason() {
        let named: Vec<String> = crate::record::IncidentOutcome::ALL
            .iter()
            .map(|o| o.as_str().to_owned())
            .chain(
                crate::alert::Ignored::ALL
                    .iter()
                    .map(|r| format!("ignored_{}", r.as_str())),
            )
            .collect();
        assert_eq!(named, ALERT_OUTCOMES);
    }

    /// `outcomes` is indexed by the enum's discriminant: `ALL` must be in declaration order.
    #[test]
    fn outcomes_are_listed_in_declaration_order() {
        for (i, outcome) in DeliveryOutcome::ALL.iter().enumerate() {
            assert_eq!(*outcome as usize, i, "{outcome:?}");
        }
    }
}
