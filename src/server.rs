//! The HTTP server: routes, shared state, the landing page, health endpoints and shutdown.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Html;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::record::Recorder;
use crate::{expose, receive};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// A std `Mutex`, not tokio's: it is never held across an `.await`, and recording takes
    /// microseconds.
    pub recorder: Arc<Mutex<Recorder>>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(config: &Config) -> Self {
        let metrics = Arc::new(Metrics::new());
        let recorder = Recorder::new(Arc::clone(&metrics), config.settings());
        Self {
            recorder: Arc::new(Mutex::new(recorder)),
            metrics,
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// Paths the exporter always serves; the configurable ones must not collide with them.
const FIXED_PATHS: &[&str] = &["/", "/-/healthy", "/-/ready"];

/// Checks what clap cannot: that the configured paths do not collide.
pub fn validate(config: &Config) -> Result<(), String> {
    for path in [&config.telemetry_path, &config.webhook_path] {
        if FIXED_PATHS.contains(&path.as_str()) {
            return Err(format!("the path {path} is reserved by the exporter"));
        }
    }
    if config.telemetry_path == config.webhook_path {
        return Err(format!(
            "--web.telemetry-path and --webhook.path are both {}",
            config.webhook_path
        ));
    }
    Ok(())
}

/// The router. A pure function of the state, so tests can drive it without a socket.
pub fn app(state: AppState, config: &Config) -> Router {
    let landing = landing_page(config);
    Router::new()
        .route("/", get(move || async move { Html(landing) }))
        .route(&config.telemetry_path, get(expose::metrics))
        .route(
            &config.webhook_path,
            post(receive::webhook).layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(|| async { "Ready\n" }))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    validate(&config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let router = app(AppState::new(&config), &config);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

fn landing_page(config: &Config) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Platform.sh Exporter</title></head>
<body>
<h1>Platform.sh Exporter</h1>
<p>Receives Platform.sh (Upsun) activity webhooks and exposes them as Prometheus metrics.
Version {version}.</p>
<ul>
<li><a href="{metrics}">Metrics</a></li>
<li>Webhook: <code>POST {webhook}</code> (point <code>platform integration:add --type=webhook --url=…</code> here)</li>
<li><a href="/-/healthy">Health</a> and <a href="/-/ready">readiness</a></li>
</ul>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        metrics = config.telemetry_path,
        webhook = config.webhook_path,
    )
}
