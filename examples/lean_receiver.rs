//! The baseline of the load test: the leanest receiver a user could write with the same stack
//! (axum, a serde struct of only the needed fields, the `prometheus` crate), and nothing else:
//! no validation, no deduplication, no store, no caps. `scripts/loadtest.sh` runs it beside the
//! exporter so the ratio of the two comes from one run on one machine.
//!
//! `cargo run --release --example lean_receiver -- 127.0.0.1:9999`

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Lean<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    project: &'a str,
    #[serde(default)]
    result: Option<&'a str>,
    #[serde(default)]
    environments: Vec<&'a str>,
    #[serde(default)]
    started_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    completed_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Clone)]
struct Lens {
    registry: Registry,
    activities: IntCounterVec,
    duration: HistogramVec,
}

async fn webhook(State(m): State<Lens>, body: Bytes) -> StatusCode {
    let Ok(a) = serde_json::from_slice::<Lean<'_>>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let env = a.environments.first().copied().unwrap_or("");
    let result = a.result.unwrap_or("");
    m.activities
        .with_label_values(&[a.project, env, a.kind, result])
        .inc();
    if let (Some(s), Some(c)) = (a.started_at, a.completed_at) {
        m.duration
            .with_label_values(&[a.project, a.kind])
            .observe((c - s).num_milliseconds() as f64 / 1000.0);
    }
    StatusCode::ACCEPTED
}

async fn metrics(State(m): State<Lens>) -> String {
    TextEncoder::new()
        .encode_to_string(&m.registry.gather())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".into());
    let registry = Registry::new();
    let activities = IntCounterVec::new(
        Opts::new("activities_total", "activities"),
        &["project", "environment", "type", "result"],
    )
    .unwrap();
    let duration = HistogramVec::new(
        HistogramOpts::new("activity_duration_seconds", "duration"),
        &["project", "type"],
    )
    .unwrap();
    registry.register(Box::new(activities.clone())).unwrap();
    registry.register(Box::new(duration.clone())).unwrap();
    let app = Router::new()
        .route("/webhook", post(webhook))
        .route("/metrics", get(metrics))
        .route("/-/ready", get(|| async { "Ready" }))
        .with_state(Lens {
            registry,
            activities,
            duration,
        });
    let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
