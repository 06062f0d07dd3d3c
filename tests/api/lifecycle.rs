//! Environments end: a deleted environment leaves the metrics, a deactivated one stops looking
//! failed, an idle one is forgotten on request; a restart shows the same.

use crate::helpers::{Samples, TestApp, activity_samples, fixture, spawn_app, value};

const FAILING: &str = "push-failure-development.json";
const DEACTIVATE: &str = "environment-deactivate-development.json";
const DELETE: &str = "environment-delete-development.json";
const ENV: [(&str, &str); 2] = [("project", "abc123xyz"), ("environment", "feature-login")];

/// The samples that carry the fixtures' environment.
fn of_the_environment(samples: &Samples) -> Vec<&String> {
    samples
        .keys()
        .filter(|k| k.contains("environment=\"feature-login\""))
        .collect()
}

async fn restart(app: TestApp, path: &str) -> TestApp {
    app.stop().await.unwrap();
    spawn_app(&["--storage.path", path]).await
}

#[tokio::test]
async fn a_deactivated_then_deleted_environment_stops_failing_then_leaves_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
    assert_eq!(app.post(fixture(FAILING)).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(
        samples.get(&crate::helpers::series_key(
            "platformsh_last_deployment_success",
            &ENV
        )),
        Some(&0.0)
    );

    // Deactivated: no last deployment (the failed-deployment alerts resolve), counters kept.
    assert_eq!(app.post(fixture(DEACTIVATE)).await.status, 202);
    let samples = app.scrape().await;
    let left = of_the_environment(&samples);
    assert!(
        left.iter().all(|k| !k.starts_with("platformsh_last_")),
        "{left:#?}"
    );
    let failures = [ENV[0], ENV[1], ("environment_type", "development")];
    let failures = [&failures[..], &[("result", "failure")]].concat();
    assert_eq!(
        value(&samples, "platformsh_deployments_total", &failures),
        1.0
    );
    let app = restart(app, &path).await;
    assert_eq!(
        activity_samples(&app.scrape().await),
        activity_samples(&samples)
    );

    // Deleted: nothing carries it any more; the other project is untouched.
    assert_eq!(app.post(fixture(DELETE)).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(of_the_environment(&samples), Vec::<&String>::new());
    let seed = [
        ("project", "sx-this-is-an-example-value-hu"),
        ("environment", "master"),
    ];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &seed),
        1.0
    );
    // What happened is still in the families without an environment label.
    let duration = [
        ("project", "abc123xyz"),
        ("environment_type", "development"),
        ("type", "environment.push"),
        ("result", "failure"),
    ];
    assert_eq!(
        value(
            &samples,
            "platformsh_activity_duration_seconds_count",
            &duration
        ),
        1.0
    );
    let app = restart(app, &path).await;
    let replayed = app.scrape().await;
    assert_eq!(activity_samples(&replayed), activity_samples(&samples));

    // The failure delivered again (a retry, a replay by the API) is a duplicate: still gone.
    assert_eq!(app.post(fixture(FAILING)).await.status, 200);
    assert_eq!(
        of_the_environment(&app.scrape().await),
        Vec::<&String>::new()
    );
}

#[tokio::test]
async fn an_environment_idle_past_forget_after_is_forgotten_and_stays_forgotten_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let flags = ["--storage.path", &path, "--environments.forget-after", "7d"];
    let app = spawn_app(&flags).await;
    // The fixture's activity is from 2026-11-02: idle for more than a week.
    assert_eq!(app.post(fixture(FAILING)).await.status, 202);
    let recent = serde_json::json!({
        "id": "recent", "type": "environment.push", "project": "abc123xyz",
        "state": "complete", "result": "success",
        "completed_at": chrono::Utc::now().to_rfc3339(),
        "payload": {"environment": {"name": "main", "type": "production"}},
    });
    assert_eq!(app.post(recent.to_string()).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(of_the_environment(&samples), Vec::<&String>::new());
    let main = [("project", "abc123xyz"), ("environment", "main")];
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &main),
        1.0
    );
    app.stop().await.unwrap();
    let app = spawn_app(&flags).await;
    assert_eq!(
        activity_samples(&app.scrape().await),
        activity_samples(&samples)
    );
}
