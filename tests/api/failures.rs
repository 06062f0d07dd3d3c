//! A deployment whose hook failed is a failure, everywhere, and says why.

use serde_json::json;

use crate::helpers::{activity_samples, fixture, spawn_app, value};

const HOOK_FAILED: &str = "redeploy-hook-failed-production.json";

/// The hook-failed redeploy fixture with another id and completion time.
fn redeploy(id: &str, completed_at: &str, commands: &serde_json::Value) -> String {
    let mut body: serde_json::Value = serde_json::from_slice(&fixture(HOOK_FAILED)).unwrap();
    body["id"] = json!(id);
    body["completed_at"] = json!(completed_at);
    body["updated_at"] = json!(completed_at);
    body["commands"] = commands.clone();
    body.to_string()
}

#[tokio::test]
async fn a_success_whose_post_deploy_hook_failed_counts_as_a_failed_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &path]).await;
    let answer = app.post(fixture(HOOK_FAILED)).await;
    assert_eq!(answer.status, 202, "{}", answer.body);

    let samples = app.scrape().await;
    let env = [("project", "abc123xyz"), ("environment", "main")];
    let labels = [env[0], env[1], ("environment_type", "production")];
    let with = |extra: &[(&'static str, &'static str)]| [&labels[..], extra].concat();
    let redeploy_type = ("type", "environment.redeploy");
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &env),
        0.0
    );
    assert!(samples.contains_key(&crate::helpers::series_key(
        "platformsh_last_deployment_success",
        &env
    )));
    assert_eq!(
        value(
            &samples,
            "platformsh_restarts_total",
            &with(&[("result", "failure")])
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_restarts_total",
            &with(&[("result", "success")])
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activities_total",
            &with(&[redeploy_type, ("result", "failure")])
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activity_failures_total",
            &with(&[redeploy_type, ("reason", "command")])
        ),
        1.0
    );

    // The activity log says what Platform.sh said and what it was counted as.
    let log = app.get("/api/v1/activities?project=abc123xyz").await.json();
    let stored = &log["activities"][0];
    assert_eq!(
        (
            &stored["platformsh_result"],
            &stored["result"],
            &stored["failed_commands"],
            &stored["failure_reason"]
        ),
        (
            &json!("success"),
            &json!("failure"),
            &json!(1),
            &json!(null)
        ),
        "{stored}"
    );
    let failures = app.get("/api/v1/activities?result=failure").await.json();
    assert_eq!(failures["activities"].as_array().unwrap().len(), 1);

    // The next redeploy, all hooks fine, recovers after an hour; a restart shows the same.
    let fixed = redeploy(
        "fixed",
        "2026-11-02T11:00:41+00:00",
        &json!([{"app": "app", "type": "post_deploy", "exit_code": 0}]),
    );
    assert_eq!(app.post(fixed).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &env),
        1.0
    );
    let recovery = [("project", "abc123xyz"), ("environment_type", "production")];
    assert_eq!(
        value(
            &samples,
            "platformsh_deployment_recovery_seconds_sum",
            &recovery
        ),
        3600.0
    );
    app.stop().await.unwrap();
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(
        activity_samples(&app.scrape().await),
        activity_samples(&samples)
    );
}
