//! What every handler shares, put together by the composition root (`crate::app`) from what
//! it read and opened.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::budget::BodyBudget;
use arc_swap::ArcSwapOption;

use super::webconfig::WebConfigSource;
use crate::alert::Rules;
use crate::config::{Config, Credential};
use crate::record::Recorder;
use crate::store::{Intake, Store};
use crate::telemetry::Telemetry;
use crate::verify::Verifier;

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
    /// Present when a shared key is configured: every delivery must then be signed. Swapped
    /// when SIGHUP reads the key file again.
    pub verifier: ArcSwapOption<Verifier>,
    /// The web config file (basic auth, TLS), read again when it changes.
    pub web: Arc<WebConfigSource>,
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
    /// `--web.trusted-proxies`: peers whose `X-Forwarded-For` is believed in log lines.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The Alertmanager receiver's rules and credential.
    pub alertmanager: Receiver,
}

/// What the receiver needs besides the shared state: which alerts are incidents, and the
/// credential a sender must show.
#[derive(Debug)]
pub struct Receiver {
    pub rules: Rules,
    /// Swapped when SIGHUP reads the credential file again.
    pub credential: ArcSwapOption<Credential>,
}

/// What the state is made of besides the flags: built by the composition root.
#[derive(Debug)]
pub struct Parts {
    pub web: Arc<WebConfigSource>,
    pub recorder: Arc<Mutex<Recorder>>,
    pub telemetry: Arc<Telemetry>,
    pub verifier: Option<Verifier>,
    /// The credential Alertmanager must send to `/alertmanager`, if any.
    pub alertmanager: Option<Credential>,
    /// The store, opened and replayed into the recorder, and the counters it saved.
    pub store: Option<(Store, Vec<(String, u64)>)>,
}

impl AppState {
    pub fn new(config: &Config, parts: Parts) -> Self {
        let Parts {
            recorder,
            telemetry,
            verifier,
            alertmanager,
            store,
            web,
        } = parts;
        let (store, saved_counters) = match store {
            Some((store, counters)) => (Some(store), counters),
            None => (None, Vec::new()),
        };
        let intake = Intake {
            recorder: Arc::clone(&recorder),
            store: store.clone(),
            commits_per_push: config.commits_per_push,
        };
        Self(Arc::new(Shared {
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
            verifier: ArcSwapOption::from(verifier.map(Arc::new)),
            web,
            store,
            trusted_proxies: config.trusted_proxies.clone(),
            alertmanager: Receiver {
                rules: config.alertmanager.rules(),
                credential: ArcSwapOption::from(alertmanager.map(Arc::new)),
            },
        }))
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
