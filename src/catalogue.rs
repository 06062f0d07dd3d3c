//! The metric family catalogue: the one place that defines each family's name, help, labels and
//! buckets, whoever keeps its series (the recorder, or the exporter's own telemetry).
//!
//! Names are a contract with dashboards, alert rules and users' queries. README's metrics table
//! is checked against [`FAMILIES`] by a test, so the two cannot drift apart.

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
pub const ACTIVITY_FAILURES: Family = Family {
    name: "platformsh_activity_failures_total",
    help: "Finished activities that did not succeed, by reason: error or shell (Platform.sh's failure_reason), command (a command exited non-zero), cancelled, unknown.",
    kind: Kind::Counter,
    labels: &[
        "project",
        "environment",
        "environment_type",
        "type",
        "reason",
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
    help: "Phase times reported in an activity's timings (wait, build, deploy; execute spans the whole run, overlapping build and deploy).",
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
    help: "Finished deployments of a change (code or configuration: see --deployment.types), by result: what DORA's deployment frequency and change failure rate count.",
    kind: Kind::Counter,
    labels: &["project", "environment", "environment_type", "result"],
    buckets: &[],
};
pub const RESTARTS: Family = Family {
    name: "platformsh_restarts_total",
    help: "Finished redeployments of what an environment already runs (redeploy, resume, resources update including autoscaling, certificate renewal: see --deployment.restart-types), by result. Not deployments for DORA, but they set the environment's last deployment state.",
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
pub const INCIDENTS: Family = Family {
    name: "platformsh_incidents_total",
    help: "Incidents (Alertmanager alerts of --alertmanager.severities naming the environment) of an environment the exporter has seen deploy, counted when first heard of.",
    kind: Kind::Counter,
    labels: &["project", "environment", "environment_type"],
    buckets: &[],
};
pub const INCIDENTS_OPEN: Family = Family {
    name: "platformsh_incidents_open",
    help: "Incidents of the environment firing now (heard of firing, not yet resolved).",
    kind: Kind::Gauge,
    labels: &["project", "environment", "environment_type"],
    buckets: &[],
};
pub const CHANGE_FAILURES: Family = Family {
    name: "platformsh_change_failures_total",
    help: "Change deployments to production followed by an incident there within --incidents.window, each counted once: DORA's change failures, from incidents.",
    kind: Kind::Counter,
    labels: &["project", "environment", "environment_type"],
    buckets: &[],
};
pub const INCIDENT_RESTORE: Family = Family {
    name: "platformsh_incident_restore_seconds",
    help: "Time from an incident's start to its resolution, observed when it resolves: DORA's time to restore, from incidents.",
    kind: Kind::Histogram,
    labels: &["project", "environment_type"],
    buckets: RECOVERY_SECONDS,
};
/// Lead time: a minute (a push straight to production) to 90 days (a branch left waiting).
const LEAD_SECONDS: &[f64] = &[
    60.0,
    300.0,
    900.0,
    3600.0,
    10_800.0,
    21_600.0,
    43_200.0,
    86_400.0,
    259_200.0,
    604_800.0,
    1_209_600.0,
    2_592_000.0,
    5_184_000.0,
    7_776_000.0,
];
pub const CHANGE_LEAD_TIME: Family = Family {
    name: "platformsh_change_lead_time_seconds",
    help: "For each commit delivered to production: time from when an activity first listed it (its push) to the completion of the production deployment that delivered it.",
    kind: Kind::Histogram,
    labels: &["project"],
    buckets: LEAD_SECONDS,
};
pub const COMMIT_LEAD_TIME: Family = Family {
    name: "platformsh_commit_lead_time_seconds",
    help: "For each commit delivered to production: time from its author date to the completion of the production deployment that delivered it.",
    kind: Kind::Histogram,
    labels: &["project"],
    buckets: LEAD_SECONDS,
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
    help: "Latest timestamp carried by any accepted activity of the project (its time of receipt when it carries none).",
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
pub const ALERTMANAGER_NOTIFICATIONS: Family = Family {
    name: "platformsh_exporter_alertmanager_notifications_total",
    help: "Alertmanager notifications received on /alertmanager, by outcome (as for webhooks).",
    kind: Kind::Counter,
    labels: &["outcome"],
    buckets: &[],
};
pub const ALERTMANAGER_ALERTS: Family = Family {
    name: "platformsh_exporter_alertmanager_alerts_total",
    help: "Alerts in accepted Alertmanager notifications, by outcome: opened, resolved, duplicate (a repeat), unknown_environment (no deployment of it seen), or ignored_severity, ignored_unplaced (no project or environment label), ignored_own (this exporter's alerts).",
    kind: Kind::Counter,
    labels: &["outcome"],
    buckets: &[],
};
pub const CONFIG_RELOAD_SUCCESSFUL: Family = Family {
    name: "platformsh_exporter_config_last_reload_successful",
    help: "1 if the last reading of the configuration files (web config, shared keys, Alertmanager credential: at start, on a change of the web config, on SIGHUP) succeeded, 0 if the previous configuration was kept.",
    kind: Kind::Gauge,
    labels: &[],
    buckets: &[],
};
pub const CONFIG_RELOAD_TIMESTAMP: Family = Family {
    name: "platformsh_exporter_config_last_reload_success_timestamp_seconds",
    help: "When the configuration files were last read successfully.",
    kind: Kind::Gauge,
    labels: &[],
    buckets: &[],
};
pub const SIGNATURES_VERIFIED: Family = Family {
    name: "platformsh_exporter_webhook_signatures_verified_total",
    help: "Deliveries whose signature verified, by the shared key it verified with (its line in --webhook.shared-key-file, from 1): an old key at 0 can be retired.",
    kind: Kind::Counter,
    labels: &["key"],
    buckets: &[],
};
pub const LABEL_OVERFLOW: Family = Family {
    name: "platformsh_exporter_label_overflow_total",
    help: "Activities whose label value was replaced by _overflow because the label's cap was reached.",
    kind: Kind::Counter,
    labels: &["label"],
    buckets: &[],
};
pub const DELIVERED: Family = Family {
    name: "platformsh_exporter_delivered_activities_total",
    help: "Activities (id, state) received by webhook, by project.",
    kind: Kind::Counter,
    labels: &["project"],
    buckets: &[],
};
pub const UNSENT: Family = Family {
    name: "platformsh_exporter_unsent_activities_total",
    help: "Activities (id, state) the Platform.sh API listed that no webhook had delivered and that no webhook integration of the project was configured to send (states, events, environments, result): not missed.",
    kind: Kind::Counter,
    labels: &["project"],
    buckets: &[],
};
pub const RECONCILED: Family = Family {
    name: "platformsh_exporter_reconciled_activities_total",
    help: "Activities (id, state) the Platform.sh API listed that no webhook had delivered, since reconciliation started: missed deliveries.",
    kind: Kind::Counter,
    labels: &["project"],
    buckets: &[],
};
pub const BACKFILLED: Family = Family {
    name: "platformsh_exporter_backfilled_activities_total",
    help: "Activities (id, state) from before reconciliation started that the Platform.sh API listed and no webhook had delivered.",
    kind: Kind::Counter,
    labels: &["project"],
    buckets: &[],
};
pub const OBSERVATIONS_SKIPPED: Family = Family {
    name: "platformsh_exporter_observations_skipped_total",
    help: "Observations not made: a timestamp missing or not believable (clock_skew), a negative duration, or commits past --limits.commits-per-push (commit_limit).",
    kind: Kind::Counter,
    labels: &["metric", "reason"],
    buckets: &[],
};
pub const UNORDERED_ACTIVITIES: Family = Family {
    name: "platformsh_exporter_unordered_activities_total",
    help: "Finished activities whose part in lead time and time to recover was applied in arrival order, not in time order: more than --activities.settle after they finished (late), or too many waiting (capacity).",
    kind: Kind::Counter,
    labels: &["reason"],
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
pub const API_REQUESTS: Family = Family {
    name: "platformsh_exporter_api_requests_total",
    help: "Requests to the Platform.sh API by endpoint (token, activities, project, organization, projects) and HTTP status code (error: no answer).",
    kind: Kind::Counter,
    labels: &["endpoint", "code"],
    buckets: &[],
};
pub const API_LAST_SUCCESS: Family = Family {
    name: "platformsh_exporter_api_last_success_timestamp_seconds",
    help: "When the last complete poll of the project's activities in the Platform.sh API ended.",
    kind: Kind::Gauge,
    labels: &["project"],
    buckets: &[],
};
pub const API_UNREAD: Family = Family {
    name: "platformsh_exporter_api_unread_seconds",
    help: "Span of creation time whose activities reconciliation has not proven read yet (a poll cut short, a backfill under way).",
    kind: Kind::Gauge,
    labels: &["project"],
    buckets: &[],
};
pub const API_INTEGRATIONS_READABLE: Family = Family {
    name: "platformsh_exporter_api_integrations_readable",
    help: "1 if the project's webhook integrations could be read at the last poll (missed deliveries are then only what one of them should have sent), 0 if not (every activity polling found undelivered counts as missed).",
    kind: Kind::Gauge,
    labels: &["project"],
    buckets: &[],
};
pub const DELIVERY_MODE: Family = Family {
    name: "platformsh_exporter_delivery_mode",
    help: "1 for the way the project's activities reach the exporter, 0 for the others: webhook (a webhook integration sends to it), api_only (none does, or --platformsh.api-only: the poller is the only source, and nothing it finds is a missed delivery), unknown (its integrations cannot be read).",
    kind: Kind::Gauge,
    labels: &["project", "mode"],
    buckets: &[],
};
pub const PROJECT_INFO: Family = Family {
    name: "platformsh_project_info",
    help: "Always 1 for each project polled in the Platform.sh API: its title, region and organization name (its id if the name cannot be read), for dashboards to show.",
    kind: Kind::Gauge,
    labels: &["project", "title", "region", "organization"],
    buckets: &[],
};
pub const BUILD_INFO: Family = Family {
    name: "platformsh_exporter_build_info",
    help: "Always 1; the version of the running exporter, its git revision and its compiler.",
    kind: Kind::Gauge,
    labels: &["version", "revision", "rustversion"],
    buckets: &[],
};

/// Every family the exporter defines (process metrics come from the `prometheus` crate).
pub const FAMILIES: &[&Family] = &[
    &ACTIVITIES,
    &ACTIVITY_FAILURES,
    &ACTIVITY_DURATION,
    &ACTIVITY_WAIT,
    &ACTIVITY_PHASE,
    &PUSH_COMMITS,
    &DEPLOYMENTS,
    &RESTARTS,
    &LAST_DEPLOYMENT_TIMESTAMP,
    &LAST_DEPLOYMENT_SUCCESS,
    &LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP,
    &DEPLOYMENT_RECOVERY,
    &INCIDENTS,
    &INCIDENTS_OPEN,
    &CHANGE_FAILURES,
    &INCIDENT_RESTORE,
    &CHANGE_LEAD_TIME,
    &COMMIT_LEAD_TIME,
    &ACTIVITIES_UNFINISHED,
    &LAST_ACTIVITY_TIMESTAMP,
    &WEBHOOKS,
    &SIGNATURES_VERIFIED,
    &ALERTMANAGER_NOTIFICATIONS,
    &ALERTMANAGER_ALERTS,
    &CONFIG_RELOAD_SUCCESSFUL,
    &CONFIG_RELOAD_TIMESTAMP,
    &LABEL_OVERFLOW,
    &DELIVERED,
    &RECONCILED,
    &UNSENT,
    &BACKFILLED,
    &OBSERVATIONS_SKIPPED,
    &UNORDERED_ACTIVITIES,
    &STORE_ERRORS,
    &STORE_COMMIT_DURATION,
    &STORE_COMMIT_BATCH,
    &API_REQUESTS,
    &API_LAST_SUCCESS,
    &API_UNREAD,
    &API_INTEGRATIONS_READABLE,
    &DELIVERY_MODE,
    &PROJECT_INFO,
    &BUILD_INFO,
];
