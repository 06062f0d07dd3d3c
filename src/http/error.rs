//! The HTTP boundary's one error type: each variant maps to a status code and a JSON body in
//! [`IntoResponse`], which has no side effect (the handler logs and counts each delivery once).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::activity::ParseError;
use crate::store::StoreError;
use crate::telemetry::DeliveryOutcome;
use crate::verify::SignatureError;

/// Why a webhook delivery was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebhookError {
    /// 401: a shared key is configured and the signature is missing or wrong.
    #[error(transparent)]
    Unauthorized(#[from] SignatureError),
    /// 400: the body is not one well-formed activity.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// 413: the body is larger than `--webhook.max-body-bytes`.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// 503: the store could not commit the delivery; the sender may retry.
    #[error("the exporter cannot store deliveries right now; retry later")]
    Unavailable(StoreError),
    /// 408: the body did not arrive within `--web.request-timeout`.
    #[error("the request body did not arrive within {}", humantime::format_duration(*timeout))]
    Timeout { timeout: std::time::Duration },
    /// 408: nothing of the body arrived for `--webhook.body-gap-timeout`.
    #[error("the request body stalled: nothing arrived for {}", humantime::format_duration(*gap))]
    Stalled { gap: std::time::Duration },
    /// 401: `/alertmanager` needs the credential and the request did not carry it.
    #[error(
        "this receiver needs the credential of --alertmanager.credentials-file, as \
         `Authorization: Bearer …` or as basic auth's password"
    )]
    Credentials,
    /// 400: the body could not be read to its end (the client aborted, or bad chunking).
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
}

impl WebhookError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookError::Invalid(_) | WebhookError::Unreadable(_) => StatusCode::BAD_REQUEST,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Unauthorized(_) | WebhookError::Credentials => StatusCode::UNAUTHORIZED,
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebhookError::Timeout { .. } | WebhookError::Stalled { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
        }
    }

    /// The delivery's outcome, as `platformsh_exporter_webhooks_total` counts it.
    pub fn outcome(&self) -> DeliveryOutcome {
        match self {
            WebhookError::Invalid(_) | WebhookError::Unreadable(_) => DeliveryOutcome::Invalid,
            WebhookError::TooLarge { .. } => DeliveryOutcome::TooLarge,
            WebhookError::Unauthorized(_) | WebhookError::Credentials => {
                DeliveryOutcome::Unauthorized
            }
            WebhookError::Unavailable(_) => DeliveryOutcome::Unavailable,
            WebhookError::Timeout { .. } | WebhookError::Stalled { .. } => DeliveryOutcome::Timeout,
        }
    }
}

/// The JSON body of every refusal.
#[derive(Debug, Serialize)]
struct Refusal<'a> {
    status: &'static str,
    error: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

/// The answer only: logging and counting happen once, in `receive::report`.
impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let (message, path) = match &self {
            WebhookError::Invalid(e) => (e.message.clone(), Some(e.path.as_str())),
            other => (other.to_string(), None),
        };
        let body = Refusal {
            status: "rejected",
            error: self.outcome().as_str(),
            message,
            path,
        };
        (self.status(), Json(body)).into_response()
    }
}
