//! Application state and its construction: the shared key, the store (replayed) and the
//! recorder are built, or the start fails with a [`StartError`], before anything is served.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::budget::BodyBudget;
use crate::config::Config;
use crate::record::Recorder;
use crate::store::{Intake, Store};
use crate::telemetry::Telemetry;
use crate::verify::Verifier;

/// Why the exporter cannot start. Each names what to fix (a flag, a file, a path).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Flags that parse but do not go together (paths that collide, a budget too small).
    #[error("{0}")]
    Config(String),
    /// The shared key file cannot be read, or the key is blank.
    #[error("{0}")]
    SharedKey(String),
    /// The store cannot be opened, migrated, locked or replayed.
    #[error("{0}")]
    Store(String),
    /// The web configuration file cannot be read or is invalid.
    #[error("{0}")]
    WebConfig(String),
}

/// What every handler shares. Axum clones it for every request: one reference count.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// A std `Mutex`, not tokio's: it is never held across an `.await`, and recording takes
    /// microseconds.
    pub recorder: Arc<Mutex<Recorder>>,
    pub telemetry: Arc<Telemetry>,
    pub max_body_bytes: usize,
    /// How long a webhook body may take to arrive.
    pub request_timeout: Duration,
    /// Longest pause between two pieces of a webhook body.
    pub body_gap_timeout: Duration,
    /// Bytes of webhook bodies that may be held at once.
    pub body_budget: BodyBudget,
    /// Present when a shared key is configured: every delivery must then be signed.
    pub verifier: Option<Verifier>,
    /// Absent with `--storage.in-memory`.
    pub store: Option<Store>,
    /// The recorder and the store together, where deliveries go.
    pub intake: Intake,
    /// The store's counters as the last run saved them (the API poller resumes from them).
    pub saved_counters: Vec<(String, u64)>,
    /// Where the metrics are served, for the status page's link.
    pub telemetry_path: String,
    /// The latest rendering of the recorder's families, shared by scrapes, and the memory
    /// budget of what scrapes hold.
    pub scrapes: super::scrapes::Scrapes,
    /// Refused deliveries logged this minute (see `receive::report`).
    pub refusals: Mutex<super::refusals::RefusalLog>,
}

impl AppState {
    /// Builds the state; with a store, replays it, so the metrics are back where they were.
    pub fn new(config: &Config) -> Result<Self, StartError> {
        // Before the store: a bad key file should not wait for a replay to be reported.
        let verifier = config
            .shared_key()
            .map_err(StartError::SharedKey)?
            .as_ref()
            .map(Verifier::new);
        let telemetry = Arc::new(Telemetry::new());
        let recorder = Arc::new(Mutex::new(Recorder::new(config.settings())));
        let mut saved_counters = Vec::new();
        let store = if config.in_memory {
            None
        } else {
            let prune_before = config.retention.map(retention_cutoff);
            let opened = Store::open(
                &config.storage_path,
                Arc::clone(&recorder),
                // Registered now, so that the families are there from the first scrape.
                telemetry.store_commits().clone(),
                config.max_batch,
                prune_before,
            )
            .map_err(StartError::Store)?;
            telemetry.restore_webhook_counts(&opened.counters);
            saved_counters = opened.counters;
            tracing::info!(
                path = %config.storage_path.display(),
                activities = opened.replayed,
                seconds = opened.replay_time.as_secs_f64(),
                "replayed the activity store"
            );
            Some(opened.store)
        };
        let intake = Intake {
            recorder: Arc::clone(&recorder),
            store: store.clone(),
            commits_per_push: config.commits_per_push,
        };
        Ok(Self(Arc::new(Shared {
            intake,
            saved_counters,
            refusals: Mutex::default(),
            scrapes: super::scrapes::Scrapes::new(
                config.scrape_memory_bytes,
                config.request_timeout,
            ),
            telemetry_path: config.telemetry_path.clone(),
            recorder,
            telemetry,
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
            body_gap_timeout: config.body_gap_timeout,
            body_budget: BodyBudget::new(config.body_memory_bytes, config.max_body_bytes),
            verifier,
            store,
        })))
    }

    /// Saves the exporter's own counters to the store, if there is one.
    pub async fn save_counters(&self) {
        if let Some(store) = &self.store
            && let Err(e) = store.save_counters(self.telemetry.webhook_counts()).await
        {
            tracing::warn!(error = %e, "cannot save the exporter's counters");
        }
    }
}

/// Activities received before this are past `retention`.
pub fn retention_cutoff(retention: Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::TimeDelta::MAX)
}
