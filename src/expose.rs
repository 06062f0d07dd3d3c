//! Expose: the `/metrics` endpoint.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::server::AppState;

/// `GET` handler for the telemetry path.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Expire stale unfinished activities here rather than per delivery: the scan is O(tracked).
    state
        .recorder
        .lock()
        .expect("the recorder lock is never poisoned: recording does not panic")
        .expire_unfinished(chrono::Utc::now());
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        state.metrics.render(),
    )
}
