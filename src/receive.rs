//! Receive: the webhook endpoint. Reads the body within its limit, parses it, records it, and
//! counts the outcome; nothing is recorded unless the whole delivery is valid.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::activity::{self, State as ActivityState};
use crate::error::WebhookError;
use crate::record::Recorded;
use crate::server::AppState;

/// The JSON body of an answered delivery.
#[derive(Debug, Serialize)]
pub struct Ack {
    pub status: &'static str,
    pub id: String,
    pub state: ActivityState,
}

/// `POST` handler for the webhook path.
pub async fn webhook(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = receive(&state, body);
    let outcome = match &result {
        Ok((_, ack)) => ack.status,
        Err(e) => e.outcome(),
    };
    state.metrics.webhooks.with_label_values(&[outcome]).inc();
    match result {
        Ok((status, ack)) => (status, Json(ack)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn receive(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Ack), WebhookError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebhookError::TooLarge {
                limit: state.max_body_bytes,
            }
        } else {
            WebhookError::Unreadable(rejection.body_text())
        }
    })?;
    let activity = activity::parse(&body)?;
    let recorded = state
        .recorder
        .lock()
        .expect("the recorder lock is never poisoned: recording does not panic")
        .record(&activity, chrono::Utc::now());
    let (status, label) = match recorded {
        Recorded::Accepted => (StatusCode::ACCEPTED, "accepted"),
        Recorded::Duplicate => (StatusCode::OK, "duplicate"),
    };
    Ok((
        status,
        Ack {
            status: label,
            id: activity.id,
            state: activity.state,
        },
    ))
}
