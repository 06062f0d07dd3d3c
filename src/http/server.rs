//! The HTTP server: routes, the landing page, health endpoints, the serve loop and its drain.
//! What runs beside it and the order of shutdown are the composition root's (`crate::app`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::deadline::SendDeadline;
use super::state::AppState;
use super::webconfig::{self, WebConfigSource};
use super::{alertmanager, api, metrics, receive, status};
use crate::config::{Config, ConfigError};
use crate::store::Store;

/// Paths the exporter always serves; the configurable ones must not collide with them.
const FIXED_PATHS: &[&str] = &[
    "/",
    "/-/healthy",
    "/-/ready",
    "/api/v1/activities",
    alertmanager::PATH,
];

/// Checks what clap cannot: that the configured paths do not collide, and that the serving
/// limits can be met.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    check_paths_and_sizes(config).map_err(ConfigError::Flags)
}

fn check_paths_and_sizes(config: &Config) -> Result<(), String> {
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
    if config.max_connections == 0 {
        return Err("--web.max-connections must be at least 1".into());
    }
    if config.body_memory_bytes < config.max_body_bytes {
        return Err(format!(
            "--webhook.body-memory-bytes ({}) must be at least --webhook.max-body-bytes ({}), \
             or a body of the largest size could never be read",
            config.body_memory_bytes, config.max_body_bytes
        ));
    }
    Ok(())
}

/// The router. A pure function of its inputs, so tests can drive it without a socket.
pub fn app(state: AppState, config: &Config) -> Router {
    let pages = Router::new()
        .route("/", get(status::page))
        .route(&config.telemetry_path, get(metrics::metrics))
        .route("/api/v1/activities", get(api::activities))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready))
        // Basic auth as the web config in use says (read again when it changes).
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state.web),
            webconfig::require,
        ));
    // The handler reads the body itself, within --webhook.max-body-bytes, the shared
    // --webhook.body-memory-bytes budget and the request timeout. Slow headers are cut off by
    // the connection's header timeout (see `run`); no other route reads a body.
    pages
        .route(&config.webhook_path, post(receive::webhook))
        // Alertmanager cannot sign: it authenticates with its own credential (see
        // `alertmanager::authenticate`), not the pages' basic auth.
        .route(alertmanager::PATH, post(alertmanager::receive))
        .with_state(state)
}

/// Ready unless the store can no longer keep deliveries (its file was deleted or replaced).
async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    match state.store.as_ref().map(Store::check) {
        Some(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not ready: {}\n", e.message),
        ),
        _ => (StatusCode::OK, "Ready\n".to_owned()),
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
///
/// A loop of our own rather than `axum::serve`, for two protections it does not give: a
/// timeout on reading request headers (slow-loris) and a cap on open connections.
///
/// HTTP/1.1 only. hyper's HTTP/1 header timeout starts whenever the connection waits for a
/// request head, so it closes a connection that sends nothing at all, or nothing more after a
/// response, as well as one that sends its headers slowly: idle connections cannot hold the
/// `--web.max-connections` slots. HTTP/2 is not served: Platform.sh and Prometheus speak
/// HTTP/1.1, hyper's protocol detection waits for the preface without a timeout, and each
/// HTTP/2 connection buffers a flow-control window outside the body budget. An HTTP/2 preface
/// is answered as a malformed HTTP/1 request and the connection closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    web: Arc<WebConfigSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // TLS or not is decided at start (a reload cannot switch it); certificates are taken from
    // the web config in use at each handshake, so a renewed one serves without a restart.
    let tls = web.current().tls.is_some();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Each request carries its connection's peer address, for the log lines of refusals.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let stream = SendDeadline::new(stream, config.request_timeout).resetting(|stream| {
            // A reset sends no FIN after the unsent answer, and frees it.
            let _ = stream.set_zero_linger();
        });
        if !tls {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        }
        let Some(tls_config) = web.current().tls.clone() else {
            continue; // unreachable: a reload cannot turn TLS off
        };
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let handshake_timeout = config.request_timeout;
        tokio::spawn(async move {
            // The handshake runs in the connection's task, within the request timeout: a
            // client that stalls it holds its slot that long at most.
            let accepted = tokio::time::timeout(
                handshake_timeout,
                tokio_rustls::TlsAcceptor::from(tls_config).accept(stream),
            )
            .await;
            let stream = match accepted {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, peer = %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Requests in flight get the request timeout to finish; then the server stops anyway.
    if tokio::time::timeout(config.request_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown were closed");
    }
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
