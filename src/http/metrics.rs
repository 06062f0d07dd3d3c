//! Expose: the `/metrics` endpoint. It joins the activity families' text and the exporter's own
//! metrics, both written by [`crate::text`].

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::state::AppState;

/// `GET` handler for the telemetry path.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = {
        let mut recorder = state
            .recorder
            .lock()
            .expect("the recorder lock is never poisoned: recording does not panic");
        // Expire stale unfinished activities here rather than per delivery: the scan is
        // O(tracked).
        recorder.expire_unfinished(chrono::Utc::now());
        recorder.exposition().to_owned()
    };
    state.telemetry.encode(&mut text);
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text)
}
