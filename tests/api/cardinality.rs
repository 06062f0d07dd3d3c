//! A flood of random label values stays within the caps.

use rand::Rng;
use serde_json::json;

use crate::helpers::{fixture, spawn_app, value};

#[tokio::test]
async fn a_flood_of_random_label_values_keeps_the_series_count_under_the_caps() {
    let app = spawn_app(&[
        "--limits.projects",
        "5",
        "--limits.environments",
        "10",
        "--limits.types",
        "4",
        "--limits.environment-types",
        "3",
        "--activities.unfinished-capacity",
        "20",
    ])
    .await;
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    let mut rng = rand::rng();
    let deliveries = 400;
    for i in 0..deliveries {
        let mut body = base.clone();
        let word = |rng: &mut rand::rngs::ThreadRng| format!("r{:x}", rng.random::<u64>());
        body["id"] = json!(format!("flood-{i}"));
        body["project"] = json!(word(&mut rng));
        body["type"] = json!(word(&mut rng));
        body["payload"]["environment"]["name"] = json!(word(&mut rng));
        body["payload"]["environment"]["type"] = json!(word(&mut rng));
        // Half of them unfinished, to exercise that map's cap too.
        if i % 2 == 0 {
            body["state"] = json!("in_progress");
            body["result"] = json!(null);
        }
        assert_eq!(app.post(body.to_string()).await.status, 202);
    }
    let samples = app.scrape().await;
    let series = |name: &str| {
        samples
            .keys()
            .filter(|k| k.starts_with(&format!("{name}{{")))
            .count()
    };
    // Each capped label has its admitted values plus _overflow.
    let (projects, environments, types, env_types) = (5 + 1, 10 + 1, 4 + 1, 3 + 1);
    assert!(series("platformsh_last_activity_timestamp_seconds") <= projects);
    assert!(series("platformsh_last_deployment_success") <= environments);
    assert!(
        series("platformsh_activities_total") <= environments * types * env_types,
        "{}",
        series("platformsh_activities_total")
    );
    assert!(series("platformsh_activities_unfinished") <= environments);
    let overflow = |label| {
        value(
            &samples,
            "platformsh_exporter_label_overflow_total",
            &[("label", label)],
        )
    };
    // 400 distinct values, 5 admitted: the rest folded.
    assert_eq!(overflow("project"), f64::from(deliveries - 5));
    assert_eq!(overflow("type"), f64::from(deliveries - 4));
    assert_eq!(overflow("unfinished"), f64::from(deliveries / 2 - 20));
    let finished: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("platformsh_activities_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        finished,
        f64::from(deliveries / 2),
        "every finished delivery is still counted"
    );
}

/// Every label within its cap, but each delivery a new combination of them: past
/// `--limits.series` they are counted under one label set of `_overflow` values.
#[tokio::test]
async fn label_combinations_past_the_series_cap_fold_into_one_label_set() {
    let app = spawn_app(&["--limits.series", "50"]).await;
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    let deliveries: u32 = 120;
    for i in 0..deliveries as usize {
        let mut body = base.clone();
        body["id"] = json!(format!("combo-{i}"));
        body["project"] = json!(format!("project-{}", i % 40));
        let kind = [
            "environment.push",
            "environment.redeploy",
            "environment.merge",
        ][i / 40];
        body["type"] = json!(kind);
        assert_eq!(app.post(body.to_string()).await.status, 202);
    }
    let samples = app.scrape().await;
    let label_sets = |name: &str| {
        samples
            .keys()
            .filter(|k| k.starts_with(&format!("{name}{{")))
            .count()
    };
    assert_eq!(label_sets("platformsh_activities_total"), 51);
    assert_eq!(
        label_sets("platformsh_deployments_total"),
        41,
        "40 projects"
    );
    assert_eq!(label_sets("platformsh_activity_duration_seconds_count"), 51);
    let folded = value(
        &samples,
        "platformsh_activities_total",
        &[
            ("project", "_overflow"),
            ("environment", "_overflow"),
            ("environment_type", "_overflow"),
            ("type", "_overflow"),
            ("result", "success"),
        ],
    );
    assert_eq!(folded, f64::from(deliveries - 50));
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_label_overflow_total",
            &[("label", "series")]
        ),
        f64::from(deliveries - 50)
    );
    // The environment's own gauges keep its real labels: they are bounded by the
    // environment cap, and the alerts read them.
    assert_eq!(
        label_sets("platformsh_last_deployment_success"),
        40,
        "one per real (project, environment)"
    );
}
