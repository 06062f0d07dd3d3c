//! Configuration: every flag, each also settable from a `PLATFORMSH_EXPORTER_…` variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

mod alertmanager;
mod command;
mod error;
mod keys;
mod parse;
mod types;
mod version;

pub use alertmanager::{AlertmanagerFlags, Credential};
pub use command::{Command, LogFormat, SetupOutput};
pub use version::LONG_VERSION;

pub use error::{ConfigError, read};
use parse::{commits_per_push, duration, positive_duration, route_path};

use crate::labels::Limits;
use crate::reconcile::{self, ApiToken};
use crate::record::{DEFAULT_DEPLOYMENT_TYPES, DEFAULT_RESTART_TYPES, Settings};
use crate::verify::SharedKey;

/// The default port. Prometheus's port registry for 9100–9999 is full; 9887 is not used by any
/// widely deployed exporter.
pub const DEFAULT_PORT: u16 = 9887;

/// Receives Platform.sh (Upsun) activity webhooks and exposes them as Prometheus metrics.
#[derive(Debug, Clone, Parser)]
#[command(name = "platformsh-exporter", version, long_version = LONG_VERSION, about, long_about = None)]
pub struct Config {
    /// Without a command, the exporter serves. Flags are grouped by topic in `--help`.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on for the webhook, the metrics and the landing page.
    #[arg(
        long = "web.listen-address",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS",
        default_value = "0.0.0.0:9887",
        global = true
    )]
    pub listen_address: String,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_parser = route_path
    )]
    pub telemetry_path: String,

    /// Path that receives the webhook POSTs (the URL given to `platform integration:add`).
    #[arg(
        long = "webhook.path",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_PATH",
        default_value = "/webhook",
        value_parser = route_path
    )]
    pub webhook_path: String,

    /// File holding the integration's shared key (`platform integration:add --shared-key`).
    /// With a key, every delivery must carry a valid X-JWS-Signature. One key per line: a
    /// delivery signed with any verifies (to rotate it); `setup` gives the first.
    #[arg(
        long = "webhook.shared-key-file",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_SHARED_KEY_FILE",
        conflicts_with = "shared_key",
        global = true
    )]
    pub shared_key_file: Option<PathBuf>,

    /// The shared key itself. Prefer the environment variable or the file to this flag: a
    /// flag shows in the process list.
    #[arg(
        long = "webhook.shared-key",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_SHARED_KEY",
        hide_env_values = true,
        global = true
    )]
    pub shared_key: Option<SharedKey>,

    /// Proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For header
    /// is believed: a refused delivery's log line then names the address it forwarded for.
    #[arg(
        long = "web.trusted-proxies",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse::network
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Most bytes of webhook bodies held in memory at once, all deliveries together; a
    /// delivery whose next bytes do not fit waits (until the request timeout). An eighth is
    /// kept for bodies of at most 64 KiB, so stalled large bodies cannot hold up small
    /// deliveries. At least --webhook.max-body-bytes.
    #[arg(
        long = "webhook.body-memory-bytes",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_BODY_MEMORY_BYTES",
        default_value_t = 256 * 1024 * 1024
    )]
    pub body_memory_bytes: usize,

    /// Most bytes of `/metrics` answers held for scrapers at once. Scrapes of the same state
    /// share one copy, so this bounds what scrapers that read slowly, or never, can make the
    /// exporter hold; past it a scrape waits (until the request timeout), then gets 503.
    #[arg(
        long = "web.scrape-memory-bytes",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_SCRAPE_MEMORY_BYTES",
        default_value_t = 256 * 1024 * 1024
    )]
    pub scrape_memory_bytes: usize,

    /// Exporter-toolkit web configuration file; its `basic_auth_users` protect every path but
    /// the webhook.
    #[arg(
        long = "web.config.file",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_CONFIG_FILE"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Longest time to receive a request's headers (then the connection is closed), and
    /// separately a webhook body (then 408).
    #[arg(
        long = "web.request-timeout",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_REQUEST_TIMEOUT",
        default_value = "30s",
        value_parser = positive_duration
    )]
    pub request_timeout: Duration,

    /// Longest pause between two pieces of a webhook body; a body that stalls longer is
    /// answered 408 and its memory freed (a legitimate sender never pauses that long).
    #[arg(
        long = "webhook.body-gap-timeout",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_BODY_GAP_TIMEOUT",
        default_value = "10s",
        value_parser = positive_duration
    )]
    pub body_gap_timeout: Duration,

    /// Most open client connections; further ones wait to be accepted.
    #[arg(
        long = "web.max-connections",
        help_heading = "Web",
        env = "PLATFORMSH_EXPORTER_WEB_MAX_CONNECTIONS",
        default_value_t = 1024
    )]
    pub max_connections: usize,

    /// Largest accepted delivery, in bytes. A delivery carries its whole build log, so the
    /// default leaves room for a long one; larger bodies are answered 413.
    #[arg(
        long = "webhook.max-body-bytes",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_MAX_BODY_BYTES",
        default_value_t = 16 * 1024 * 1024
    )]
    pub max_body_bytes: usize,

    /// SQLite database that stores every accepted activity, replayed at start.
    #[arg(
        long = "storage.path",
        help_heading = "Storage",
        env = "PLATFORMSH_EXPORTER_STORAGE_PATH",
        default_value = "platformsh-exporter.db",
        global = true
    )]
    pub storage_path: PathBuf,

    /// Keep nothing on disk: metrics and deduplication start empty at every start.
    #[arg(
        long = "storage.in-memory",
        help_heading = "Storage",
        env = "PLATFORMSH_EXPORTER_STORAGE_IN_MEMORY",
        default_value_t = false
    )]
    pub in_memory: bool,

    /// Delete stored activities received longer ago than this (e.g. 90d); unset keeps all.
    /// Counters rebuilt from fewer activities restart lower at the next start.
    #[arg(
        long = "storage.retention",
        help_heading = "Storage",
        env = "PLATFORMSH_EXPORTER_STORAGE_RETENTION",
        value_parser = positive_duration
    )]
    pub retention: Option<Duration>,

    /// Most deliveries committed together (group commit); 1 commits each on its own.
    #[arg(
        long = "storage.max-batch",
        help_heading = "Storage",
        env = "PLATFORMSH_EXPORTER_STORAGE_MAX_BATCH",
        default_value_t = 1024
    )]
    pub max_batch: usize,

    /// How many recent (activity id, state) pairs are remembered to drop repeated deliveries.
    #[arg(
        long = "webhook.dedup-capacity",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_DEDUP_CAPACITY",
        default_value_t = 100_000
    )]
    pub dedup_capacity: usize,

    /// Activity types that deploy a change, code or configuration (comma-separated): what DORA
    /// counts as deployments.
    #[arg(
        long = "deployment.types",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_DEPLOYMENT_TYPES",
        value_delimiter = ',',
        default_values_t = DEFAULT_DEPLOYMENT_TYPES.iter().map(|t| (*t).to_owned())
    )]
    pub deployment_types: Vec<String>,

    /// Activity types that redeploy what an environment runs, without a change (comma-separated):
    /// counted as restarts; like deployments they set the environment's last deployment state.
    #[arg(
        long = "deployment.restart-types",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_DEPLOYMENT_RESTART_TYPES",
        value_delimiter = ',',
        default_values_t = DEFAULT_RESTART_TYPES.iter().map(|t| (*t).to_owned())
    )]
    pub restart_types: Vec<String>,

    /// Most distinct `project` label values; later ones are exposed as `_overflow`.
    #[arg(
        long = "limits.projects",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_PROJECTS",
        default_value_t = Limits::default().projects
    )]
    pub max_projects: usize,

    /// Most distinct (project, environment) pairs; later environments are exposed as `_overflow`.
    #[arg(
        long = "limits.environments",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_ENVIRONMENTS",
        default_value_t = Limits::default().environments
    )]
    pub max_environments: usize,

    /// Most distinct `type` label values; later ones are exposed as `_overflow`.
    #[arg(
        long = "limits.types",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_TYPES",
        default_value_t = Limits::default().types
    )]
    pub max_types: usize,

    /// Most distinct `environment_type` label values; later ones are exposed as `_overflow`.
    #[arg(
        long = "limits.environment-types",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_ENVIRONMENT_TYPES",
        default_value_t = Limits::default().environment_types
    )]
    pub max_environment_types: usize,

    /// Most distinct (project, environment, `environment_type`, type) label sets; activities of
    /// later ones are counted under one label set of `_overflow` values.
    #[arg(
        long = "limits.series",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_SERIES",
        default_value_t = Limits::default().series
    )]
    pub max_series: usize,

    /// Most commits remembered for lead time (pending production or already delivered), all
    /// projects together; past it the oldest are forgotten (about 270 bytes each).
    #[arg(
        long = "limits.commits",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_COMMITS",
        default_value_t = Limits::default().commits
    )]
    pub max_commits: usize,

    /// Most commits of one push taken in for lead time (stored, remembered); the rest are
    /// counted as skipped observations. At most 10000.
    #[arg(
        long = "limits.commits-per-push",
        help_heading = "Limits",
        env = "PLATFORMSH_EXPORTER_LIMITS_COMMITS_PER_PUSH",
        default_value_t = 1000,
        value_parser = commits_per_push
    )]
    pub commits_per_push: usize,

    /// Forget an environment with no activity for this long (e.g. 90d), as if it had been
    /// deleted: for environments whose `environment.delete` never reached the exporter. Unset
    /// keeps every environment until it is deleted.
    #[arg(
        long = "environments.forget-after",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_ENVIRONMENTS_FORGET_AFTER",
        value_parser = positive_duration
    )]
    pub forget_after: Option<Duration>,

    /// How long an activity stays in `platformsh_activities_unfinished` without news of it
    /// (staged deployments, which wait for a person, 30 days or this, the longer).
    #[arg(
        long = "activities.unfinished-ttl",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_ACTIVITIES_UNFINISHED_TTL",
        default_value = "24h",
        value_parser = positive_duration
    )]
    pub unfinished_ttl: Duration,

    /// How far past its receipt an activity's timestamp is believed. A later timestamp (a
    /// wrong clock or a forgery) counts as the time of receipt for the "last" gauges, and
    /// durations that involve it are not observed.
    #[arg(
        long = "activities.max-clock-skew",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_ACTIVITIES_MAX_CLOCK_SKEW",
        default_value = "5m",
        value_parser = duration
    )]
    pub max_clock_skew: Duration,

    /// How long lead time's and time to recover's facts wait before they are applied, in time
    /// order whatever order they arrived in (a push delivered after its merge, a failure after
    /// its fix). Their observations show this much later; the counters and gauges do not wait.
    /// 0 applies each as it arrives.
    #[arg(
        long = "activities.settle",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_ACTIVITIES_SETTLE",
        default_value = "10m",
        value_parser = duration
    )]
    pub settle: Duration,

    #[command(flatten)]
    pub alertmanager: AlertmanagerFlags,

    /// Most unfinished activities tracked at once.
    #[arg(
        long = "activities.unfinished-capacity",
        help_heading = "Activities",
        env = "PLATFORMSH_EXPORTER_ACTIVITIES_UNFINISHED_CAPACITY",
        default_value_t = 10_000
    )]
    pub unfinished_capacity: usize,

    /// File holding a Platform.sh API token: with one, the exporter polls the API for the
    /// activities its webhook missed, and backfills history (see README, Reconciliation).
    #[arg(
        long = "platformsh.api-token-file",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_API_TOKEN_FILE",
        conflicts_with = "api_token",
        global = true
    )]
    pub api_token_file: Option<PathBuf>,

    /// The Platform.sh API token itself. Prefer the environment variable or the file to this
    /// flag: a flag shows in the process list.
    #[arg(
        long = "platformsh.api-token",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_API_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub api_token: Option<ApiToken>,

    /// Base URL of the Platform.sh API.
    #[arg(
        long = "platformsh.api-url",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_API_URL",
        default_value = "https://api.upsun.com",
        global = true
    )]
    pub api_url: String,

    /// Base URL of the Platform.sh authentication service (API token exchange).
    #[arg(
        long = "platformsh.auth-url",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_AUTH_URL",
        default_value = "https://auth.upsun.com",
        global = true
    )]
    pub auth_url: String,

    /// The URL Platform.sh posts this exporter's webhook deliveries to (such as
    /// `https://exporter.example.com/webhook`): `setup` points each project's integration at it,
    /// and reconciliation knows by it which integration is this exporter's.
    #[arg(
        long = "webhook.public-url",
        help_heading = "Webhook",
        env = "PLATFORMSH_EXPORTER_WEBHOOK_PUBLIC_URL",
        value_parser = parse::public_url,
        global = true
    )]
    pub public_url: Option<reqwest::Url>,

    /// No webhook is configured: the API poller is the only source (README, API-only mode).
    /// Activities show at each poll, unfinished ones too, and none counts as missed.
    #[arg(
        long = "platformsh.api-only",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_API_ONLY"
    )]
    pub api_only: bool,

    /// Project ids to poll (comma-separated); empty: every project the token can see.
    #[arg(
        long = "platformsh.projects",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_PROJECTS",
        value_delimiter = ',',
        global = true
    )]
    pub projects: Vec<String>,

    /// How often each project's activities are polled.
    #[arg(
        long = "platformsh.poll-interval",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_POLL_INTERVAL",
        default_value = "5m",
        value_parser = positive_duration
    )]
    pub poll_interval: Duration,

    /// How far back the first poll of a project reaches (history for the dashboards).
    #[arg(
        long = "platformsh.backfill",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_BACKFILL",
        default_value = "30d",
        value_parser = duration
    )]
    pub backfill: Duration,

    /// Most pages of activities read per project and poll; a walk cut there goes on where it
    /// stopped at the next poll (and after a restart).
    #[arg(
        long = "platformsh.max-pages-per-poll",
        help_heading = "Reconciliation with the Platform.sh API",
        env = "PLATFORMSH_EXPORTER_PLATFORMSH_MAX_PAGES_PER_POLL",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_pages_per_poll: u32,

    /// Log format on standard error: logfmt (key=value, as Prometheus tools write) or json.
    #[arg(
        long = "log.format",
        help_heading = "Logs",
        env = "PLATFORMSH_EXPORTER_LOG_FORMAT",
        default_value = "logfmt"
    )]
    pub log_format: LogFormat,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive.
    #[arg(
        long = "log.level",
        help_heading = "Logs",
        env = "PLATFORMSH_EXPORTER_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
}

impl Config {
    /// The configuration with every default, as if no flag were given.
    pub fn defaults() -> Self {
        Self::parse_from(["platformsh-exporter"])
    }

    /// The reconciliation settings, when an API token is given (by flag, variable or file).
    pub fn reconcile(&self) -> Result<Option<reconcile::Settings>, ConfigError> {
        let token = match (&self.api_token_file, &self.api_token) {
            (Some(path), _) => {
                let what = "API token file";
                let token = read(what, path)?;
                ApiToken::parse(&token).map_err(|e| ConfigError::invalid(what, path, e))?
            }
            (None, Some(token)) => token.clone(),
            (None, None) if self.api_only => {
                return Err(ConfigError::Flags(
                    "--platformsh.api-only needs an API token (--platformsh.api-token-file): the \
                     poller is then the only source"
                        .into(),
                ));
            }
            (None, None) => return Ok(None),
        };
        let projects: Vec<String> = self
            .projects
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        for project in &projects {
            crate::activity::check_project_id("--platformsh.projects", project)
                .map_err(|e| ConfigError::Flags(format!("{e} ({project:?})")))?;
        }
        Ok(Some(reconcile::Settings {
            token,
            api_url: self.api_url.clone(),
            auth_url: self.auth_url.clone(),
            projects,
            poll_interval: self.poll_interval,
            backfill: self.backfill,
            timeout: Duration::from_secs(30),
            backoff: Duration::from_secs(1),
            max_pages: self.max_pages_per_poll as usize,
            public_url: self.public_url.clone(),
            api_only: self.api_only,
        }))
    }

    /// The shared keys (see [`keys::shared_keys`]).
    pub fn shared_keys(&self) -> Result<Vec<SharedKey>, ConfigError> {
        keys::shared_keys(self.shared_key_file.as_deref(), self.shared_key.as_ref())
    }

    /// The first shared key, the one integrations are given.
    pub fn shared_key(&self) -> Result<Option<SharedKey>, ConfigError> {
        Ok(self.shared_keys()?.into_iter().next())
    }

    /// Checks what clap cannot about the activity types: none is both a change and a restart.
    pub fn check_types(&self) -> Result<(), ConfigError> {
        types::check(&self.deployment_types, &self.restart_types)
    }

    /// The recorder's settings derived from the flags.
    pub fn settings(&self) -> Settings {
        Settings {
            limits: Limits {
                projects: self.max_projects,
                environments: self.max_environments,
                types: self.max_types,
                environment_types: self.max_environment_types,
                series: self.max_series,
                commits: self.max_commits,
            },
            deployment_types: types::set(&self.deployment_types),
            restart_types: types::set(&self.restart_types),
            dedup_capacity: self.dedup_capacity,
            unfinished_capacity: self.unfinished_capacity,
            unfinished_ttl: self.unfinished_ttl,
            max_clock_skew: self.max_clock_skew,
            forget_after: self.forget_after,
            settle: self.settle,
            incident_window: self.alertmanager.window,
            incident_environment_types: self.alertmanager.environment_types.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_are_well_formed() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_recorder_defaults() {
        let config = Config::defaults();
        assert_eq!(config.settings().limits, Limits::default());
        assert_eq!(
            config.settings().deployment_types,
            Settings::default().deployment_types
        );
        assert!(config.listen_address.ends_with(&format!(":{DEFAULT_PORT}")));
    }

    #[test]
    fn deployment_types_are_a_comma_separated_list() {
        let config = Config::parse_from([
            "platformsh-exporter",
            "--deployment.types",
            "environment.push, environment.redeploy",
        ]);
        let types = config.settings().deployment_types;
        assert_eq!(types.len(), 2);
        assert!(types.contains("environment.redeploy"));
    }

    /// A type is a change or a restart, not both: the defaults do not overlap, and a list that
    /// makes a type both is refused, naming it.
    #[test]
    fn a_type_in_both_lists_is_refused() {
        assert!(
            Config::parse_from(["platformsh-exporter"])
                .check_types()
                .is_ok()
        );
        let config = Config::parse_from([
            "platformsh-exporter",
            "--deployment.types",
            "environment.push,environment.redeploy",
        ]);
        let err = config.check_types().unwrap_err().to_string();
        assert!(err.starts_with("environment.redeploy in both"), "{err}");
        let settings = Config::parse_from(["platformsh-exporter"]).settings();
        assert_eq!(
            settings.redeploy("environment.resources.update"),
            Some(crate::record::Redeploy::Restart)
        );
        assert_eq!(
            settings.redeploy("environment.variable.update"),
            Some(crate::record::Redeploy::Change)
        );
        assert_eq!(settings.redeploy("environment.cron"), None);
    }

    /// Every duration flag refuses what would overflow or make no sense, with a message, at
    /// parse time: `--storage.retention=300000y` once panicked at start.
    #[test]
    fn duration_flags_refuse_absurd_values_cleanly() {
        use clap::CommandFactory;
        let command = Config::command();
        let durations: Vec<&str> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|long| {
                long.ends_with("timeout")
                    || long.ends_with("ttl")
                    || long.ends_with("skew")
                    || *long == "storage.retention"
                    || *long == "environments.forget-after"
                    || long.starts_with("platformsh.poll")
                    || *long == "platformsh.backfill"
            })
            .collect();
        assert_eq!(durations.len(), 8, "{durations:?}");
        for long in durations {
            for value in ["300000y", "18446744073709551615s", "soon"] {
                let err = Config::try_parse_from(["x", &format!("--{long}={value}")]).unwrap_err();
                assert_eq!(
                    err.kind(),
                    clap::error::ErrorKind::ValueValidation,
                    "{long}"
                );
            }
            assert!(Config::try_parse_from(["x", &format!("--{long}=90d")]).is_ok());
        }
        assert!(Config::try_parse_from(["x", "--storage.retention=0s"]).is_err());
        assert!(Config::try_parse_from(["x", "--environments.forget-after=0s"]).is_err());
        assert!(Config::try_parse_from(["x", "--web.request-timeout=0s"]).is_err());
        assert!(Config::try_parse_from(["x", "--activities.max-clock-skew=0s"]).is_ok());
    }

    /// `--help` groups flags by topic, as `node_exporter`'s does by collector.
    #[test]
    fn every_flag_has_a_help_heading() {
        use clap::CommandFactory;
        let command = Config::command();
        let bare: Vec<&str> = command
            .get_arguments()
            .filter(|a| a.get_help_heading().is_none())
            .filter_map(|a| a.get_long())
            .filter(|long| !matches!(*long, "help" | "version"))
            .collect();
        assert_eq!(bare, Vec::<&str>::new());
    }

    #[test]
    fn paths_must_be_absolute() {
        assert!(Config::try_parse_from(["x", "--webhook.path", "hook"]).is_err());
    }
}
