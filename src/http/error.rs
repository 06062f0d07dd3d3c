//! The HTTP boundary's one error type: each variant maps to a status code and a JSON body in
//! [`IntoResponse`], and is logged there, once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::activity::ParseError;
use crate::store::StoreError;
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
    /// 400: the body could not be read to its end (the client aborted, or bad chunking).
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
}

impl WebhookError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookError::Invalid(_) | WebhookError::Unreadable(_) => StatusCode::BAD_REQUEST,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebhookError::Timeout { .. } | WebhookError::Stalled { .. } => {
                StatusCode::REQUEST_TIMEOUT
            }
        }
    }

    /// The `outcome` label of `platformsh_exporter_webhooks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            WebhookError::Invalid(_) | WebhookError::Unreadable(_) => "invalid",
            WebhookError::TooLarge { .. } => "too_large",
            WebhookError::Unauthorized(_) => "unauthorized",
            WebhookError::Unavailable(_) => "unavailable",
            WebhookError::Timeout { .. } | WebhookError::Stalled { .. } => "timeout",
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

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        if let WebhookError::Unavailable(e) = &self {
            // Ours: the operator must know why (the body stays opaque to the sender).
            tracing::error!(reason = e.reason, error = %e.message, "cannot store a delivery");
        } else {
            // The sender's mistake: debug level, so a flood of bad deliveries cannot flood the
            // log. The counter tells operators they happen.
            tracing::debug!(error = %self, "webhook delivery refused");
        }
        let (message, path) = match &self {
            WebhookError::Invalid(e) => (e.message.clone(), Some(e.path.as_str())),
            other => (other.to_string(), None),
        };
        let body = Refusal {
            status: "rejected",
            error: self.outcome(),
            message,
            path,
        };
        (self.status(), Json(body)).into_response()
    }
}
