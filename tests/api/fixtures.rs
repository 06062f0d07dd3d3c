//! Each shared fixture, posted alone to a fresh exporter, gives exactly the expected samples.
//! Expected values are worked out by hand from the fixture's fields (epoch seconds, differences).

use crate::helpers::{Samples, activity_samples, assert_exactly, fixture, s, spawn_app, value};

const SEED_PROJECT: &str = "sx-this-is-an-example-value-hu";
const PROJECT: &str = "abc123xyz";

/// Posts one fixture to a fresh exporter; returns the answer's JSON and the scrape after it.
async fn post_alone(name: &str) -> (serde_json::Value, Samples) {
    let app = spawn_app(&[]).await;
    let answer = app.post(fixture(name)).await;
    assert_eq!(answer.status, 202, "{name}: {}", answer.body);
    (answer.json(), app.scrape().await)
}

/// Labels of a histogram series plus its `_sum` and `_count`.
fn histogram(name: &str, labels: &[(&str, &str)], sum: f64, count: f64) -> [(String, f64); 2] {
    [
        s(&format!("{name}_sum"), labels, sum),
        s(&format!("{name}_count"), labels, count),
    ]
}

#[tokio::test]
async fn the_seed_push_gives_exactly_the_expected_samples() {
    let (ack, samples) = post_alone("push-success-seed.json").await;
    assert_eq!(
        ack,
        serde_json::json!({"status": "accepted", "id": "774-this-is-an-example-valuexzs4no", "state": "complete"})
    );
    let p = ("project", SEED_PROJECT);
    let env = ("environment", "master");
    let et = ("environment_type", "production");
    let ty = ("type", "environment.push");
    let ok = ("result", "success");
    let mut expected = vec![
        s("platformsh_activities_total", &[p, env, et, ty, ok], 1.0),
        s("platformsh_deployments_total", &[p, env, et, ok], 1.0),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            1_512_643_659.369_741,
        ),
        s("platformsh_last_deployment_success", &[p, env], 1.0),
        s(
            "platformsh_last_successful_deployment_timestamp_seconds",
            &[p, env],
            1_512_643_659.369_741,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_512_643_659.369_761,
        ),
    ];
    // 10:47:39.369741 − 10:45:30.996898, and 10:45:30.996898 − 10:45:30.870660.
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ok],
        128.372_843,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        0.126_238,
        1.0,
    ));
    expected.extend(histogram("platformsh_push_commits", &[p, et], 1.0, 1.0));
    // A push to production delivers the commit it lists, first seen at the push's creation:
    // 10:47:39.369741 − 10:45:30.870660. (Its author has no date: no commit lead time.)
    expected.extend(histogram(
        "platformsh_change_lead_time_seconds",
        &[p],
        128.499_081,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);

    // The 128 s push lands in the (120, 300] bucket.
    let bucket = |le| {
        value(
            &samples,
            "platformsh_activity_duration_seconds_bucket",
            &[p, et, ty, ok, ("le", le)],
        )
    };
    assert_eq!(
        (bucket("120"), bucket("300"), bucket("+Inf")),
        (0.0, 1.0, 1.0)
    );
}

#[tokio::test]
async fn a_pending_backup_is_only_an_unfinished_activity() {
    let (ack, samples) = post_alone("backup-pending.json").await;
    assert_eq!(ack["state"], "pending");
    let p = ("project", PROJECT);
    assert_exactly(
        &activity_samples(&samples),
        &[
            s(
                "platformsh_activities_unfinished",
                &[p, ("environment", "main"), ("state", "pending")],
                1.0,
            ),
            s(
                "platformsh_last_activity_timestamp_seconds",
                &[p],
                1_793_631_600.0,
            ),
        ],
    );
}

#[tokio::test]
async fn an_in_progress_push_is_only_an_unfinished_activity() {
    let (_, samples) = post_alone("push-in-progress.json").await;
    let p = ("project", PROJECT);
    assert_exactly(
        &activity_samples(&samples),
        &[
            s(
                "platformsh_activities_unfinished",
                &[p, ("environment", "main"), ("state", "in_progress")],
                1.0,
            ),
            s(
                "platformsh_last_activity_timestamp_seconds",
                &[p],
                1_793_628_000.0,
            ),
        ],
    );
}

#[tokio::test]
async fn a_cron_is_an_activity_with_phases_but_not_a_deployment() {
    let (_, samples) = post_alone("cron-success.json").await;
    let p = ("project", PROJECT);
    let et = ("environment_type", "production");
    let ty = ("type", "environment.cron");
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, ("environment", "main"), et, ty, ("result", "success")],
            1.0,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_620_807.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ("result", "success")],
        7.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        0.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        0.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        4.2,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        2.8,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_merge_to_staging_is_a_successful_deployment() {
    let (_, samples) = post_alone("merge-success-staging.json").await;
    let p = ("project", PROJECT);
    let env = ("environment", "staging");
    let et = ("environment_type", "staging");
    let ty = ("type", "environment.merge");
    let ok = ("result", "success");
    let mut expected = vec![
        s("platformsh_activities_total", &[p, env, et, ty, ok], 1.0),
        s("platformsh_deployments_total", &[p, env, et, ok], 1.0),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            1_793_617_500.0,
        ),
        s("platformsh_last_deployment_success", &[p, env], 1.0),
        s(
            "platformsh_last_successful_deployment_timestamp_seconds",
            &[p, env],
            1_793_617_500.0,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_617_500.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ok],
        300.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        12.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        12.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        180.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        120.0,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_project_level_activity_has_empty_environment_labels() {
    let (_, samples) = post_alone("project-domain-create.json").await;
    let p = ("project", PROJECT);
    let et = ("environment_type", "");
    let ty = ("type", "project.domain.create");
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, ("environment", ""), et, ty, ("result", "success")],
            1.0,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_635_203.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ("result", "success")],
        3.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        1.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        1.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        1.8,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        1.2,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_cancelled_push_counts_as_cancelled_and_leaves_the_last_deployment_alone() {
    let (ack, samples) = post_alone("push-cancelled.json").await;
    assert_eq!(ack["state"], "cancelled");
    let p = ("project", PROJECT);
    let env = ("environment", "feature-login");
    let et = ("environment_type", "development");
    let ty = ("type", "environment.push");
    let cancelled = ("result", "cancelled");
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, env, et, ty, cancelled],
            1.0,
        ),
        s(
            "platformsh_activity_failures_total",
            &[p, env, et, ty, ("reason", "cancelled")],
            1.0,
        ),
        s(
            "platformsh_deployments_total",
            &[p, env, et, cancelled],
            1.0,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_624_420.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, cancelled],
        20.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        30.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        30.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        12.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        8.0,
        1.0,
    ));
    expected.extend(histogram("platformsh_push_commits", &[p, et], 1.0, 1.0));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_failed_push_sets_last_deployment_success_to_zero() {
    let (_, samples) = post_alone("push-failure-development.json").await;
    let p = ("project", PROJECT);
    let env = ("environment", "feature-login");
    let et = ("environment_type", "development");
    let ty = ("type", "environment.push");
    let failed = ("result", "failure");
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, env, et, ty, failed],
            1.0,
        ),
        // The fixture's failure_reason.
        s(
            "platformsh_activity_failures_total",
            &[p, env, et, ty, ("reason", "error")],
            1.0,
        ),
        s("platformsh_deployments_total", &[p, env, et, failed], 1.0),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            1_793_610_095.0,
        ),
        s("platformsh_last_deployment_success", &[p, env], 0.0),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_610_095.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, failed],
        95.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        4.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        4.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        57.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        38.0,
        1.0,
    ));
    expected.extend(histogram("platformsh_push_commits", &[p, et], 3.0, 1.0));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_production_redeploy_is_a_restart_without_commits() {
    let (_, samples) = post_alone("redeploy-success-production.json").await;
    let p = ("project", PROJECT);
    let env = ("environment", "main");
    let et = ("environment_type", "production");
    let ty = ("type", "environment.redeploy");
    let ok = ("result", "success");
    let mut expected = vec![
        s("platformsh_activities_total", &[p, env, et, ty, ok], 1.0),
        // A restart: it sets the last deployment, but DORA counts only changes.
        s("platformsh_restarts_total", &[p, env, et, ok], 1.0),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            1_793_613_641.0,
        ),
        s("platformsh_last_deployment_success", &[p, env], 1.0),
        s(
            "platformsh_last_successful_deployment_timestamp_seconds",
            &[p, env],
            1_793_613_641.0,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_613_641.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ok],
        41.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        2.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "wait")],
        2.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "build")],
        24.6,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_phase_seconds",
        &[p, et, ty, ("phase", "deploy")],
        16.4,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn a_delivery_completed_before_it_started_observes_no_negative_duration() {
    let (_, samples) = post_alone("odd/completed-before-started.json").await;
    let p = ("project", SEED_PROJECT);
    let env = ("environment", "master");
    let et = ("environment_type", "production");
    let ty = ("type", "environment.push");
    let ok = ("result", "success");
    let mut expected = vec![
        s("platformsh_activities_total", &[p, env, et, ty, ok], 1.0),
        s("platformsh_deployments_total", &[p, env, et, ok], 1.0),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            1_512_643_530.996_898,
        ),
        s("platformsh_last_deployment_success", &[p, env], 1.0),
        s(
            "platformsh_last_successful_deployment_timestamp_seconds",
            &[p, env],
            1_512_643_530.996_898,
        ),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_512_643_659.369_761,
        ),
    ];
    // started_at − created_at is still positive: 10:47:39.369741 − 10:45:30.870660.
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        128.499_081,
        1.0,
    ));
    expected.extend(histogram("platformsh_push_commits", &[p, et], 1.0, 1.0));
    // A push to production delivers its commit: completed_at − created_at (its first sight),
    // 10:45:30.996898 − 10:45:30.870660.
    expected.extend(histogram(
        "platformsh_change_lead_time_seconds",
        &[p],
        0.126_238,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_observations_skipped_total",
            &[("metric", "activity_duration"), ("reason", "negative")]
        ),
        1.0
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let (ack, samples) = post_alone("odd/extra-fields.json").await;
    assert_eq!(ack["id"], "odd-extra");
    let (_, seed) = post_alone("push-success-seed.json").await;
    assert_eq!(activity_samples(&samples), activity_samples(&seed));
}

#[tokio::test]
async fn an_unknown_activity_type_is_recorded_but_is_not_a_deployment() {
    let (_, samples) = post_alone("odd/unknown-future-type.json").await;
    let p = ("project", SEED_PROJECT);
    let env = ("environment", "master");
    let et = ("environment_type", "production");
    let ty = ("type", "environment.some-future-type");
    let ok = ("result", "success");
    let mut expected = vec![
        s("platformsh_activities_total", &[p, env, et, ty, ok], 1.0),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_512_643_659.369_761,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, ok],
        128.372_843,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        0.126_238,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);
}

#[tokio::test]
async fn no_odd_fixture_observes_a_negative_duration() {
    for name in [
        "odd/completed-before-started.json",
        "odd/extra-fields.json",
        "odd/unknown-future-type.json",
    ] {
        let (_, samples) = post_alone(name).await;
        for (key, v) in &samples {
            if key.starts_with("platformsh_") && key.contains("_seconds_sum{") {
                assert!(*v >= 0.0, "{name}: {key} = {v}");
            }
        }
    }
}

/// Each invalid fixture, its status, and the JSON path its error names.
const INVALID: &[(&str, u16, &str, &str)] = &[
    ("invalid/array.json", 400, "$", "expected a JSON object"),
    (
        "invalid/bad-timestamp.json",
        400,
        "$.started_at",
        "input contains invalid characters",
    ),
    ("invalid/empty.json", 400, "$", "the body is empty"),
    ("invalid/missing-id.json", 400, "$", "missing field `id`"),
    (
        "invalid/not-json.txt",
        400,
        "$",
        "expected ident at line 1 column 2",
    ),
    (
        "invalid/truncated.json",
        400,
        "$.payload.commits[0].parents",
        "EOF while parsing a string at line 1 column 4000",
    ),
    (
        "invalid/type-not-string.json",
        400,
        "$.type",
        "invalid type: integer `42`, expected a string",
    ),
];

/// The exposition without the exporter's self-metrics and process metrics.
fn without_self_metrics(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("platformsh_exporter_") && !l.contains("process_"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_invalid_fixture_is_refused_with_its_path_and_changes_no_metric() {
    let app = spawn_app(&[]).await;
    app.post(fixture("push-success-seed.json")).await;
    let before = without_self_metrics(&app.exposition().await);
    for (name, status, path, message) in INVALID {
        let answer = app.post(fixture(name)).await;
        assert_eq!(answer.status, *status, "{name}: {}", answer.body);
        let body = answer.json();
        assert_eq!(body["status"], "rejected", "{name}");
        assert_eq!(body["error"], "invalid", "{name}");
        assert_eq!(body["path"], *path, "{name}: {body}");
        let text = body["message"].as_str().unwrap();
        assert!(text.contains(message), "{name}: {text}");
    }
    assert_eq!(without_self_metrics(&app.exposition().await), before);
    let samples = app.scrape().await;
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "invalid")]
        ),
        INVALID.len() as f64
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "accepted")]
        ),
        1.0
    );
}

/// The samples of one finished change deployment alone: its counters, its environment's
/// deployment gauges, and its duration and wait histograms.
fn one_deployment(
    at: (&str, &str),
    kind: &str,
    succeeded: bool,
    times: (f64, f64, f64),
) -> Vec<(String, f64)> {
    one_redeploy("platformsh_deployments_total", at, kind, succeeded, times)
}

/// As [`one_deployment`], counted in `family` (deployments or restarts).
fn one_redeploy(
    family: &str,
    (environment, environment_type): (&str, &str),
    kind: &str,
    succeeded: bool,
    (duration, wait, finished_at): (f64, f64, f64),
) -> Vec<(String, f64)> {
    let p = ("project", PROJECT);
    let env = ("environment", environment);
    let et = ("environment_type", environment_type);
    let ty = ("type", kind);
    let result = ("result", if succeeded { "success" } else { "failure" });
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, env, et, ty, result],
            1.0,
        ),
        s(family, &[p, env, et, result], 1.0),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            finished_at,
        ),
        s(
            "platformsh_last_deployment_timestamp_seconds",
            &[p, env],
            finished_at,
        ),
        s(
            "platformsh_last_deployment_success",
            &[p, env],
            if succeeded { 1.0 } else { 0.0 },
        ),
    ];
    if succeeded {
        expected.push(s(
            "platformsh_last_successful_deployment_timestamp_seconds",
            &[p, env],
            finished_at,
        ));
    } else {
        let reason = ("reason", "unknown");
        expected.push(s(
            "platformsh_activity_failures_total",
            &[p, env, et, ty, reason],
            1.0,
        ));
    }
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, result],
        duration,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        wait,
        1.0,
    ));
    expected
}

/// A sync's `payload.environment` is the parent it copied from; the child it synced and
/// redeployed is `payload.outcome`. A failed sync of a preview from production is the
/// preview's failed deployment: production is untouched (no series names it).
#[tokio::test]
async fn a_failed_sync_of_a_preview_fails_the_preview_not_production() {
    let (_, samples) = post_alone("platform/sync-failure-preview-from-production.json").await;
    let expected = one_deployment(
        ("feature-x", "development"),
        "environment.synchronize",
        false,
        (120.0, 5.0, 1_793_620_925.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);
}

/// A branch's and an initialize's environment is the new one, `payload.outcome` (they may
/// carry no `payload.environment`): its name and its type, not `unknown`.
#[tokio::test]
async fn branch_and_initialize_are_counted_on_the_new_environment_with_its_type() {
    let (_, samples) = post_alone("platform/branch-success.json").await;
    let expected = one_deployment(
        ("feature-y", "development"),
        "environment.branch",
        true,
        (60.0, 2.0, 1_793_624_462.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);

    let (_, samples) = post_alone("platform/initialize-success.json").await;
    let expected = one_deployment(
        ("main", "production"),
        "environment.initialize",
        true,
        (90.0, 1.0, 1_793_628_091.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);
}

/// Upsun's autoscaling shows up as `environment.resources.update`: a restart, not a deployment
/// for DORA (it would inflate deployment frequency), but it sets the last deployment state.
#[tokio::test]
async fn an_autoscaling_action_is_a_restart_not_a_deployment() {
    let (_, samples) = post_alone("platform/autoscaling-resources-update.json").await;
    let expected = one_redeploy(
        "platformsh_restarts_total",
        ("main", "production"),
        "environment.resources.update",
        true,
        (40.0, 3.0, 1_793_631_643.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);
}

/// A certificate renewal "triggers a redeployment": its failure is the environment's failed
/// deployment (the alert fires), counted as a restart.
#[tokio::test]
async fn a_failed_certificate_renewal_fails_the_environment_as_a_restart() {
    let (_, samples) = post_alone("platform/certificate-renewal-failure.json").await;
    let expected = one_redeploy(
        "platformsh_restarts_total",
        ("main", "production"),
        "environment.certificate.renewal",
        false,
        (30.0, 1.0, 1_793_635_231.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);
}

/// A variable change "causes that environment to be redeployed": a configuration change
/// delivered, counted as a deployment.
#[tokio::test]
async fn a_variable_change_is_a_deployment_of_a_change() {
    let (_, samples) = post_alone("platform/variable-update-staging.json").await;
    let expected = one_deployment(
        ("staging", "staging"),
        "environment.variable.update",
        true,
        (60.0, 2.0, 1_793_638_862.0),
    );
    assert_exactly(&activity_samples(&samples), &expected);
}

/// Manual deployment: a staged push with a result is finished for what it did (a failed build
/// counts; its commits wait for production), but deploys nothing; `environment.deploy` deploys
/// what was staged and delivers its commits; the staged push seen complete later is not
/// counted again.
#[tokio::test]
async fn staged_pushes_count_once_and_environment_deploy_delivers_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let flags = [
        "--activities.settle",
        "0s",
        "--storage.path",
        store.to_str().unwrap(),
    ];
    let app = spawn_app(&flags).await;
    let p = ("project", PROJECT);
    let env = ("environment", "main");
    let et = ("environment_type", "production");
    let push = ("type", "environment.push");
    let pushes = |samples: &Samples, result: &'static str| {
        value(
            samples,
            "platformsh_activities_total",
            &[p, env, et, push, ("result", result)],
        )
    };
    let deployments = |samples: &Samples| {
        value(
            samples,
            "platformsh_deployments_total",
            &[p, env, et, ("result", "success")],
        )
    };
    let unfinished = |samples: &Samples| {
        value(
            samples,
            "platformsh_activities_unfinished",
            &[p, env, ("state", "staged")],
        )
    };

    for name in ["staged-push-failure.json", "staged-push-success.json"] {
        let answer = app.post(fixture(&format!("platform/{name}"))).await;
        assert_eq!(answer.status, 202, "{name}: {}", answer.body);
    }
    let samples = app.scrape().await;
    assert_eq!(
        (pushes(&samples, "failure"), pushes(&samples, "success")),
        (1.0, 1.0)
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activity_failures_total",
            &[p, env, et, push, ("reason", "unknown")]
        ),
        1.0
    );
    // Staged is not deployed: no deployment, no last deployment, not unfinished either.
    assert_eq!(deployments(&samples), 0.0);
    let last = crate::helpers::series_key("platformsh_last_deployment_success", &[p, env]);
    assert!(!samples.contains_key(&last), "{samples:#?}");
    assert_eq!(unfinished(&samples), 0.0);

    let answer = app.post(fixture("platform/environment-deploy.json")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let samples = app.scrape().await;
    assert_eq!(deployments(&samples), 1.0);
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &[p, env]),
        1.0
    );
    // Both staged pushes' commits were delivered by the deploy (11:01:03): first seen at
    // 09:00:00 and 10:00:00, authored at 08:30 and 08:00.
    let lead = |name: &str, suffix: &str| value(&samples, &format!("{name}{suffix}"), &[p]);
    assert_eq!(lead("platformsh_change_lead_time_seconds", "_count"), 2.0);
    assert_eq!(
        lead("platformsh_change_lead_time_seconds", "_sum"),
        7263.0 + 3663.0
    );
    assert_eq!(lead("platformsh_commit_lead_time_seconds", "_count"), 2.0);
    assert_eq!(
        lead("platformsh_commit_lead_time_seconds", "_sum"),
        9063.0 + 10863.0
    );

    // The staged push seen complete after the deploy: accepted, counted once.
    let answer = app
        .post(fixture("platform/staged-push-success-later-complete.json"))
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let again = app.scrape().await;
    assert_eq!(pushes(&again, "success"), 1.0);
    assert_eq!(deployments(&again), 1.0);
    // Nothing else moved either (it finished when the deploy did: the same latest time).
    assert_eq!(activity_samples(&again), activity_samples(&samples));

    // A restart replays the same states in the same order: the same metrics.
    app.stop().await.unwrap();
    let app = spawn_app(&flags).await;
    assert_eq!(
        activity_samples(&app.scrape().await),
        activity_samples(&samples)
    );
}

/// A `complete` activity with a null `result` (the API's schema allows it) is accepted and
/// counted under `result="unknown"`: not a failure (no failure reason, the alert stays
/// silent), not a success (no last-deployment state, no commits delivered).
#[tokio::test]
async fn a_complete_activity_without_a_result_counts_as_unknown_and_moves_no_health() {
    let (ack, samples) = post_alone("platform/complete-without-result.json").await;
    assert_eq!(ack["state"], "complete");
    let p = ("project", PROJECT);
    let env = ("environment", "staging");
    let et = ("environment_type", "staging");
    let ty = ("type", "environment.variable.update");
    let unknown = ("result", "unknown");
    let mut expected = vec![
        s(
            "platformsh_activities_total",
            &[p, env, et, ty, unknown],
            1.0,
        ),
        s("platformsh_deployments_total", &[p, env, et, unknown], 1.0),
        s(
            "platformsh_last_activity_timestamp_seconds",
            &[p],
            1_793_638_862.0,
        ),
    ];
    expected.extend(histogram(
        "platformsh_activity_duration_seconds",
        &[p, et, ty, unknown],
        60.0,
        1.0,
    ));
    expected.extend(histogram(
        "platformsh_activity_wait_seconds",
        &[p, et, ty],
        2.0,
        1.0,
    ));
    assert_exactly(&activity_samples(&samples), &expected);

    // A failed command says it failed, as the vendor's CLI shows it.
    let app = spawn_app(&[]).await;
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("platform/complete-without-result.json")).unwrap();
    body["commands"] = serde_json::json!([{"app": "app", "type": "deploy", "exit_code": 1}]);
    assert_eq!(app.post(body.to_string()).await.status, 202);
    let samples = app.scrape().await;
    assert_eq!(
        value(
            &samples,
            "platformsh_deployments_total",
            &[p, env, et, ("result", "failure")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_activity_failures_total",
            &[p, env, et, ty, ("reason", "command")]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "platformsh_last_deployment_success", &[p, env]),
        0.0
    );
}
