//! The HTTP surface: status codes, bodies, deduplication and the state that spans activities.

use serde_json::json;

use crate::helpers::{fixture, spawn_app, value};

const PROJECT: &str = "abc123xyz";

fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

#[tokio::test]
async fn a_duplicate_delivery_is_answered_200_and_counts_once() {
    let app = spawn_app(&[]).await;
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
    let before = app.scrape().await;
    let again = app.post(fixture("push-success-seed.json")).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json(),
        json!({"status": "duplicate", "id": "774-this-is-an-example-valuexzs4no", "state": "complete"})
    );
    let after = app.scrape().await;
    let total = |s: &crate::helpers::Samples| {
        value(
            s,
            "platformsh_activities_total",
            &[
                ("project", "sx-this-is-an-example-value-hu"),
                ("environment", "master"),
                ("environment_type", "production"),
                ("type", "environment.push"),
                ("result", "success"),
            ],
        )
    };
    assert_eq!((total(&before), total(&after)), (1.0, 1.0));
    assert_eq!(
        value(
            &after,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "duplicate")]
        ),
        1.0
    );
}

#[tokio::test]
async fn in_progress_then_complete_of_one_id_counts_one_finished_activity() {
    let app = spawn_app(&[]).await;
    let started = fixture_json("push-in-progress.json");
    let mut finished = started.clone();
    finished["state"] = json!("complete");
    finished["result"] = json!("success");
    finished["completed_at"] = json!("2026-11-02T14:02:00.000000+00:00");
    let unfinished = |s: &crate::helpers::Samples| {
        value(
            s,
            "platformsh_activities_unfinished",
            &[
                ("project", PROJECT),
                ("environment", "main"),
                ("state", "in_progress"),
            ],
        )
    };

    assert_eq!(app.post(started.to_string()).await.status, 202);
    assert_eq!(unfinished(&app.scrape().await), 1.0);
    assert_eq!(app.post(finished.to_string()).await.status, 202);
    // A late in_progress after the end must not resurrect it.
    assert_eq!(app.post(started.to_string()).await.status, 200);

    let samples = app.scrape().await;
    assert_eq!(unfinished(&samples), 0.0);
    let labels = [
        ("project", PROJECT),
        ("environment", "main"),
        ("environment_type", "production"),
        ("type", "environment.push"),
        ("result", "success"),
    ];
    assert_eq!(value(&samples, "platformsh_activities_total", &labels), 1.0);
    // 14:02:00 − 14:00:00.
    assert_eq!(
        value(
            &samples,
            "platformsh_activity_duration_seconds_sum",
            &[labels[0], labels[2], labels[3], labels[4]]
        ),
        120.0
    );
}

#[tokio::test]
async fn a_success_after_failures_observes_the_time_to_recover() {
    let app = spawn_app(&[]).await;
    let failure = fixture_json("push-failure-development.json"); // completed 09:01:35
    let mut second_failure = failure.clone();
    second_failure["id"] = json!("second-failure");
    second_failure["completed_at"] = json!("2026-11-02T09:30:00.000000+00:00");
    let mut fixed = failure.clone();
    fixed["id"] = json!("the-fix");
    fixed["result"] = json!("success");
    fixed["failure_reason"] = json!(null);
    fixed["completed_at"] = json!("2026-11-02T10:01:35.000000+00:00");
    for body in [&failure, &second_failure, &fixed] {
        assert_eq!(app.post(body.to_string()).await.status, 202);
    }
    let samples = app.scrape().await;
    let env = [("project", PROJECT), ("environment", "feature-login")];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &env),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_last_deployment_timestamp_seconds",
            &env
        ),
        1_793_613_695.0
    );
    let recovery = [("project", PROJECT), ("environment_type", "development")];
    // From the first failure (09:01:35) to the fix (10:01:35), once.
    assert_eq!(
        value(
            &samples,
            "platformsh_deployment_recovery_seconds_sum",
            &recovery
        ),
        3600.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_deployment_recovery_seconds_count",
            &recovery
        ),
        1.0
    );
}

#[tokio::test]
async fn an_older_deployment_delivered_late_does_not_replace_the_last_one() {
    let app = spawn_app(&[]).await;
    let mut newer = fixture_json("redeploy-success-production.json"); // completed 10:00:41
    newer["result"] = json!("failure");
    let mut older = fixture_json("redeploy-success-production.json");
    older["id"] = json!("older");
    older["completed_at"] = json!("2026-11-02T08:00:00.000000+00:00");
    app.post(newer.to_string()).await;
    app.post(older.to_string()).await;
    let samples = app.scrape().await;
    let env = [("project", PROJECT), ("environment", "main")];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &env),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_last_deployment_timestamp_seconds",
            &env
        ),
        1_793_613_641.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_last_successful_deployment_timestamp_seconds",
            &env
        ),
        1_793_606_400.0
    );
}

#[tokio::test]
async fn deployment_types_are_configurable() {
    let app = spawn_app(&["--deployment.types", "environment.cron"]).await;
    app.post(fixture("cron-success.json")).await;
    app.post(fixture("redeploy-success-production.json")).await;
    let samples = app.scrape().await;
    let deployments = |result| {
        value(
            &samples,
            "platformsh_deployments_total",
            &[
                ("project", PROJECT),
                ("environment", "main"),
                ("environment_type", "production"),
                ("result", result),
            ],
        )
    };
    // The cron counts; the redeploy, no longer in the list, does not.
    assert_eq!(deployments("success"), 1.0);
    assert_eq!(
        value(
            &samples,
            "platformsh_last_deployment_timestamp_seconds",
            &[("project", PROJECT), ("environment", "main")]
        ),
        1_793_620_807.0
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_and_changes_nothing() {
    let app = spawn_app(&["--webhook.max-body-bytes", "4096"]).await;
    let answer = app.post(fixture("push-success-seed.json")).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["error"], "too_large");
    assert_eq!(
        body["message"],
        "the request body is larger than the limit of 4096 bytes"
    );
    let samples = app.scrape().await;
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "too_large")]
        ),
        1.0
    );
    assert!(
        !samples
            .keys()
            .any(|k| k.starts_with("platformsh_activities_total"))
    );
}

#[tokio::test]
async fn the_landing_page_links_to_the_metrics() {
    let app = spawn_app(&["--web.telemetry-path", "/custom-metrics"]).await;
    let answer = app.get("/").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .contains(r#"<a href="/custom-metrics">Metrics</a>"#),
        "{}",
        answer.body
    );
    assert_eq!(app.get("/custom-metrics").await.status, 200);
    assert_eq!(app.get("/metrics").await.status, 404);
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/-/healthy").await.body, "Healthy\n");
    assert_eq!(app.get("/-/ready").await.body, "Ready\n");
}

#[tokio::test]
async fn the_webhook_path_is_configurable_and_takes_only_post() {
    let app = spawn_app(&["--webhook.path", "/hooks/platformsh"]).await;
    assert_eq!(app.get("/hooks/platformsh").await.status, 405);
    assert_eq!(
        app.post_to("/webhook", fixture("push-success-seed.json"))
            .await
            .status,
        404
    );
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
}

#[tokio::test]
async fn the_server_stops_cleanly_when_asked() {
    let app = spawn_app(&[]).await;
    app.post(fixture("push-success-seed.json")).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn colliding_paths_are_a_startup_error() {
    use clap::Parser;
    let config = platformsh_exporter::Config::parse_from(["x", "--webhook.path", "/metrics"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = platformsh_exporter::app::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("both /metrics"), "{err}");
}

/// The exporter's own counters show every known label value at 0 before anything happened,
/// so that `increase()` and alerts see the first event (Prometheus naming practice).
#[tokio::test]
async fn the_exporters_counters_exist_at_zero_from_the_start() {
    let app = crate::helpers::spawn_app(&[]).await;
    let samples = app.scrape().await;
    let zero = |name: &str, labels: &[(&str, &str)]| {
        let key = crate::helpers::series_key(name, labels);
        assert_eq!(samples.get(&key), Some(&0.0), "{key}");
    };
    for label in [
        "project",
        "environment",
        "type",
        "environment_type",
        "series",
        "unfinished",
        "commit",
    ] {
        zero(
            "platformsh_exporter_label_overflow_total",
            &[("label", label)],
        );
    }
    for metric in ["activity_duration", "activity_wait"] {
        for reason in ["missing_timestamp", "negative", "clock_skew"] {
            zero(
                "platformsh_exporter_observations_skipped_total",
                &[("metric", metric), ("reason", reason)],
            );
        }
    }
    zero(
        "platformsh_exporter_observations_skipped_total",
        &[("metric", "activity_phase"), ("reason", "negative")],
    );
    for outcome in [
        "accepted",
        "duplicate",
        "invalid",
        "too_large",
        "unauthorized",
        "unavailable",
        "timeout",
    ] {
        zero(
            "platformsh_exporter_webhooks_total",
            &[("outcome", outcome)],
        );
    }
    for reason in [
        "disk_full",
        "read_only",
        "corrupt",
        "locked",
        "io",
        "other",
        "stopped",
        "replaced",
    ] {
        zero(
            "platformsh_exporter_store_errors_total",
            &[("reason", reason)],
        );
    }
}
