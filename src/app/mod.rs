//! The composition root: the one place that turns the flags into a running exporter.
//!
//! [`App::build`] resolves every flag and reads every file a flag names (the shared key, the
//! web config, the API token) before anything is opened, so a bad file is reported at once,
//! not after a replay of the store. [`App::open`] then opens and replays the store and builds
//! what the handlers share; [`Opened::run_until_stopped`] serves, polls the API and keeps house
//! side by side until the shutdown signal, and stops them in order. The shape is
//! zero-to-production's `startup.rs` (build, then run until stopped) and ripgrep's low-level
//! then high-level arguments.

mod error;
mod housekeeping;
mod reload;

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use error::StartError;

use crate::config::Config;
use crate::config::Credential;
use crate::http::webconfig::{WebConfig, WebConfigSource};
use crate::http::{self, AppState, Parts};
use crate::reconcile::{self, Poller};
use crate::record::Recorder;
use crate::store::Store;
use crate::telemetry::Telemetry;
use crate::verify::Verifier;

/// Everything the flags name, read and checked; nothing opened yet.
#[derive(Debug)]
pub struct App {
    config: Config,
    verifier: Option<Verifier>,
    /// The credential Alertmanager must send, if any.
    alertmanager: Option<Credential>,
    /// The web config file as read at start (basic auth, TLS).
    web: Option<WebConfig>,
    reconcile: Option<reconcile::Settings>,
}

/// The store opened and replayed, the state built: ready to serve.
#[derive(Debug)]
pub struct Opened {
    app: App,
    state: AppState,
}

impl App {
    /// Checks the flags and reads the files they name, once.
    pub fn build(config: Config) -> Result<Self, StartError> {
        http::validate(&config)?;
        config.check_types()?;
        let keys = config.shared_keys()?;
        let verifier = (!keys.is_empty()).then(|| Verifier::new(&keys));
        let alertmanager = config.alertmanager.credential()?;
        let web = match &config.web_config_file {
            Some(path) => Some(WebConfig::load(path)?),
            None => None,
        };
        let reconcile = config.reconcile()?;
        Ok(Self {
            config,
            verifier,
            alertmanager,
            web,
            reconcile,
        })
    }

    /// The flags it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens the store (unless `--storage.in-memory`) and replays it into a new recorder, so
    /// the metrics are back where they were.
    pub fn open(mut self) -> Result<Opened, StartError> {
        let config = &self.config;
        let telemetry = Arc::new(Telemetry::new());
        telemetry.expect_keys(self.verifier.as_ref().map_or(0, Verifier::key_count));
        let recorder = Arc::new(Mutex::new(Recorder::new(config.settings())));
        let store = if config.in_memory {
            None
        } else {
            let opened = Store::open(
                &config.storage_path,
                Arc::clone(&recorder),
                // Registered now, so that the families are there from the first scrape.
                telemetry.store_commits().clone(),
                config.max_batch,
                config.retention.map(housekeeping::retention_cutoff),
            )
            .map_err(StartError::Store)?;
            telemetry.restore_webhook_counts(&opened.counters);
            // What settled or expired while the exporter was down, before the first scrape.
            crate::record::expire(
                &mut recorder
                    .lock()
                    .expect("the recorder lock is never poisoned: recording does not panic"),
                chrono::Utc::now(),
            );
            tracing::info!(
                path = %config.storage_path.display(),
                activities = opened.replayed,
                seconds = opened.replay_time.as_secs_f64(),
                "replayed the activity store"
            );
            Some((opened.store, opened.counters))
        };
        let web = Arc::new(WebConfigSource::new(
            self.config.web_config_file.clone(),
            self.web.take().unwrap_or_default(),
            Arc::clone(&telemetry),
        ));
        let config = &self.config;
        let parts = Parts {
            web,
            recorder,
            telemetry,
            verifier: self.verifier.clone(),
            alertmanager: self.alertmanager.clone(),
            store,
        };
        let state = AppState::new(config, parts);
        Ok(Opened { app: self, state })
    }
}

impl Opened {
    /// The router, for driving the handlers without a socket (benchmarks, examples).
    pub fn router(&self) -> Router {
        http::app(self.state.clone(), &self.app.config)
    }

    /// Serves on `listener`, polls the API (with a token) and keeps house, until `shutdown`
    /// completes; then stops them in order: the requests in flight finish, the poller stops
    /// between two inserts, the counters are saved with every answered request, and the store
    /// closes last.
    pub async fn run_until_stopped(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let Self { app, state } = self;
        log_start(&app.config, &state);
        let housekeeping = housekeeping::spawn(&state, app.config.retention);
        let poller = spawn_poller(app.reconcile.clone(), &state)?;
        let router = http::app(state.clone(), &app.config);
        let reloads = tokio::spawn(reload::on_hangup(state.clone(), app.config.clone()));
        http::serve(
            listener,
            router,
            &app.config,
            Arc::clone(&state.web),
            shutdown,
        )
        .await;
        reloads.abort();

        housekeeping.abort();
        if let Some(poller) = poller {
            // Before the store closes: an insert in flight is committed or not, never half done.
            poller.abort();
            let _ = poller.await;
        }
        // Last, so the saved counters include every request answered.
        state.save_counters().await;
        if let Some(store) = &state.store
            && let Err(e) = store.close().await
        {
            tracing::warn!(error = %e, "cannot close the activity store");
        }
        Ok(())
    }
}

/// Builds, opens and runs the exporter on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    App::build(config)?
        .open()?
        .run_until_stopped(listener, shutdown)
        .await
}

/// The start-up lines: where the exporter serves and keeps activities, and whether deliveries
/// must be signed.
fn log_start(config: &Config, state: &AppState) {
    tracing::info!(
        webhook = config.webhook_path,
        metrics = config.telemetry_path,
        store = if config.in_memory {
            "memory only".to_owned()
        } else {
            config.storage_path.display().to_string()
        },
        "serving"
    );
    if state.verifier.load().is_none() {
        tracing::warn!(
            "no shared key configured: webhook deliveries are not authenticated, and anyone who \
             learns the URL can post fake activities (see --webhook.shared-key-file)"
        );
    } else {
        tracing::info!("webhook signatures are required (X-JWS-Signature)");
    }
    if state.alertmanager.credential.load().is_none() {
        tracing::warn!(
            path = http::alertmanager::PATH,
            "no Alertmanager credential configured: anyone who can reach the exporter can post \
             incidents (see --alertmanager.credentials-file)"
        );
    } else {
        tracing::info!(
            path = http::alertmanager::PATH,
            "Alertmanager notifications must carry the credential (bearer token or basic auth)"
        );
    }
}

/// Starts polling the Platform.sh API when a token is given, saying so either way.
fn spawn_poller(
    settings: Option<reconcile::Settings>,
    state: &AppState,
) -> Result<Option<JoinHandle<()>>, StartError> {
    let Some(settings) = settings else {
        tracing::info!(
            "reconciliation with the Platform.sh API is off (see --platformsh.api-token-file)"
        );
        return Ok(None);
    };
    let projects = if settings.projects.is_empty() {
        "every project the token can see".to_owned()
    } else {
        settings.projects.join(", ")
    };
    let poller = Poller::new(
        settings,
        state.intake.clone(),
        state.telemetry.api().clone(),
        &state.saved_counters,
    )
    .map_err(StartError::Poller)?;
    tracing::info!(projects, "reconciliation with the Platform.sh API is on");
    Ok(Some(tokio::spawn(poller.run())))
}
