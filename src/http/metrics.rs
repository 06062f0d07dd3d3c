//! The `/metrics` endpoint: it joins sources of text ([`WriteText`]) without knowing their
//! insides.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::state::AppState;
use crate::text::WriteText;

/// `GET` handler for the telemetry path: the recorder's families, then the process's.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let sources: [&dyn WriteText; 2] = [&*state.recorder, &*state.telemetry];
    let mut text = String::new();
    for source in sources {
        source.write_text(&mut text);
    }
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text)
}
