//! Receive: the webhook endpoint. Reads the body within its limit, verifies its signature,
//! parses it, records it, and counts the outcome; nothing is recorded unless the whole delivery
//! is valid.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;

use crate::activity::{self, State as ActivityState};
use crate::error::WebhookError;
use crate::record::Recorded;
use crate::server::AppState;
use crate::verify::SIGNATURE_HEADER;

/// The JSON body of an answered delivery.
#[derive(Debug, Serialize)]
pub struct Ack {
    pub status: &'static str,
    pub id: String,
    pub state: ActivityState,
}

/// `POST` handler for the webhook path.
pub async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = match read_body(&state, &headers, body).await {
        Ok(body) => receive(&state, &headers, &body).await,
        Err(e) => Err(e),
    };
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

/// Reads the whole body, refusing it as soon as it is known to exceed the limit: at once when
/// `Content-Length` says so, else when the bytes received pass it. Never buffers more.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, WebhookError> {
    let limit = state.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(WebhookError::TooLarge { limit });
    }
    let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
    // Most bodies are already in the first read: take them without arming a timer, which
    // costs more than the rest of reading. Only a body still arriving gets the deadline.
    let collected = match futures_util::FutureExt::now_or_never(collect.as_mut()) {
        Some(collected) => collected,
        None => tokio::time::timeout(state.request_timeout, collect)
            .await
            .map_err(|_| WebhookError::Timeout {
                timeout: state.request_timeout,
            })?,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(WebhookError::TooLarge { limit })
        }
        Err(e) => Err(WebhookError::Unreadable(e.to_string())),
    }
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(StatusCode, Ack), WebhookError> {
    if let Some(verifier) = &state.verifier {
        // Before parsing: an unauthenticated body gets no further than this.
        let signature = headers.get(SIGNATURE_HEADER).map(HeaderValue::as_bytes);
        verifier.verify(signature, body)?;
    }
    let activity = activity::parse(body)?;
    let (id, activity_state) = (activity.id.clone(), activity.state);
    let received_at = chrono::Utc::now();
    let recorded = match &state.store {
        // Durable first: the store records the activity once it is committed.
        Some(store) => store.insert(activity, received_at).await.map_err(|e| {
            state
                .metrics
                .store_errors
                .with_label_values(&[e.reason])
                .inc();
            WebhookError::Unavailable(e)
        })?,
        None => state
            .recorder
            .lock()
            .expect("the recorder lock is never poisoned: recording does not panic")
            .record(&activity, received_at),
    };
    let (status, label) = match recorded {
        Recorded::Accepted => (StatusCode::ACCEPTED, "accepted"),
        Recorded::Duplicate => (StatusCode::OK, "duplicate"),
    };
    Ok((
        status,
        Ack {
            status: label,
            id,
            state: activity_state,
        },
    ))
}
