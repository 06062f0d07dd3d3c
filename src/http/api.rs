//! `GET /api/v1/activities`: the newest recorded activities, to answer "did my delivery arrive?".

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::state::AppState;
use crate::activity::ResultLabel;
use crate::store;

/// Most activities one request returns.
pub const MAX_LIMIT: usize = 10_000;
const DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
pub struct Params {
    project: Option<String>,
    environment: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    result: Option<String>,
    limit: Option<usize>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"status": "error", "message": message.into()});
    (status, Json(body)).into_response()
}

pub async fn activities(
    State(state): State<AppState>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(params) => params,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(store) = &state.store else {
        return error(
            StatusCode::NOT_FOUND,
            "the exporter runs with --storage.in-memory and keeps no activity log",
        );
    };
    if let Some(result) = &params.result
        && !ResultLabel::ALL.iter().any(|r| r.as_str() == result)
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("result must be success, failure, cancelled or unknown, not {result:?}"),
        );
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        );
    }
    let query = store::Query {
        project: params.project,
        environment: params.environment,
        kind: params.kind,
        result: params.result,
        limit,
    };
    match store.recent(query).await {
        Ok(activities) => Json(json!({"activities": activities})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the activity store");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the activity store cannot be read right now",
            )
        }
    }
}
