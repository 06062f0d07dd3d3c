//! What the metrics say stays true when a sender lies: timestamps from the far future, values
//! that do not survive a round trip through the store.

use serde_json::json;

use crate::helpers::{Samples, TestApp, activity_samples, fixture, spawn_app, value};

fn now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// A deployment of the seed's environment with `result`, completed at `completed_at`.
fn deployment(id: &str, result: &str, completed_at: &str) -> String {
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    body["id"] = json!(id);
    body["result"] = json!(result);
    body["completed_at"] = json!(completed_at);
    body["updated_at"] = json!(completed_at);
    body.to_string()
}

/// Stops `app` and starts an exporter on its store at `path`: the activity samples must be
/// those of `samples`.
async fn a_restart_shows_the_same(app: TestApp, path: &str, samples: &Samples) {
    app.stop().await.unwrap();
    let again = spawn_app(&["--storage.path", path]).await;
    assert_eq!(
        activity_samples(&again.scrape().await),
        activity_samples(samples)
    );
}

#[tokio::test]
async fn a_far_future_success_cannot_hide_a_later_real_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &path]).await;
    let env = [
        ("project", "sx-this-is-an-example-value-hu"),
        ("environment", "master"),
    ];
    let project = [env[0]];

    let before = now();
    let lie = deployment("from-9999", "success", "9999-12-31T23:59:59Z");
    assert_eq!(app.post(lie).await.status, 202);
    let samples = app.scrape().await;
    let last = value(
        &samples,
        "platformsh_last_deployment_timestamp_seconds",
        &env,
    );
    assert!(
        (before..=now()).contains(&last),
        "clamped to the receipt: {last}"
    );
    let last_activity = value(
        &samples,
        "platformsh_last_activity_timestamp_seconds",
        &project,
    );
    assert!((before..=now()).contains(&last_activity), "{last_activity}");
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_observations_skipped_total",
            &[("metric", "activity_duration"), ("reason", "clock_skew")]
        ),
        1.0
    );

    // A genuine failure a moment later is the last deployment: the alert sees it.
    let failed_at = chrono::Utc::now() + chrono::Duration::seconds(1);
    let failure = deployment("real-failure", "failure", &failed_at.to_rfc3339());
    assert_eq!(app.post(failure).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &env),
        0.0
    );
    // The same after a restart: replay clamps against the stored receipt time.
    a_restart_shows_the_same(app, &path, &samples).await;
}

#[tokio::test]
async fn a_timestamp_within_the_tolerated_skew_is_taken_as_sent() {
    let app = spawn_app(&["--activities.max-clock-skew", "1h"]).await;
    let ahead = chrono::Utc::now() + chrono::Duration::minutes(30);
    let body = deployment("ahead", "success", &ahead.to_rfc3339());
    assert_eq!(app.post(body).await.status, 202);
    let samples = app.scrape().await;
    let last = value(
        &samples,
        "platformsh_last_deployment_timestamp_seconds",
        &[
            ("project", "sx-this-is-an-example-value-hu"),
            ("environment", "master"),
        ],
    );
    assert!((last - ahead.timestamp_micros() as f64 / 1e6).abs() < 1e-3);
}

/// Real API data can carry no timestamp at all: the activity counts, and its times fall back
/// to the time of receipt, which the store keeps, so a restart agrees.
#[tokio::test]
async fn an_activity_without_any_timestamp_counts_at_its_time_of_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &path]).await;
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    for field in [
        "created_at",
        "started_at",
        "completed_at",
        "cancelled_at",
        "updated_at",
    ] {
        body[field] = serde_json::Value::Null;
    }
    let before = now();
    assert_eq!(app.post(body.to_string()).await.status, 202);
    let after = now();
    let samples = app.scrape().await;
    let project = [("project", "sx-this-is-an-example-value-hu")];
    let env = [project[0], ("environment", "master")];
    for (name, labels) in [
        ("platformsh_last_activity_timestamp_seconds", &project[..]),
        ("platformsh_last_deployment_timestamp_seconds", &env[..]),
    ] {
        let at = value(&samples, name, labels);
        assert!((before..=after).contains(&at), "{name}: {at}");
    }
    a_restart_shows_the_same(app, &path, &samples).await;
}

/// Resizing an environment's resources and running a source operation redeploy it.
#[tokio::test]
async fn a_resource_update_is_a_restart_and_a_source_operation_a_deployment() {
    let app = spawn_app(&[]).await;
    for kind in [
        "environment.resources.update",
        "environment.source-operation",
    ] {
        let mut body: serde_json::Value =
            serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
        body["id"] = json!(kind);
        body["type"] = json!(kind);
        assert_eq!(app.post(body.to_string()).await.status, 202);
    }
    let samples = app.scrape().await;
    let labels = [
        ("project", "sx-this-is-an-example-value-hu"),
        ("environment", "master"),
        ("environment_type", "production"),
        ("result", "success"),
    ];
    // A source operation commits and deploys: a change. New resources (autoscaling among
    // them) restart what runs: not a deployment for DORA, but a (re)deployment all the same.
    assert_eq!(
        value(&samples, "platformsh_deployments_total", &labels),
        1.0
    );
    assert_eq!(value(&samples, "platformsh_restarts_total", &labels), 1.0);
    let last = [labels[0], labels[1]];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &last),
        1.0
    );
}
