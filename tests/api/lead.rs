//! Lead time for changes from the activities alone, scenario by scenario
//! (`tests/fixtures/lead/`, written by `scripts/lead_fixtures.py`): exact counts and sums.

use serde_json::Value;

use crate::helpers::{Samples, TestApp, fixture, spawn_app, value};

const PROJECT: [(&str, &str); 1] = [("project", "shop")];

fn scenario(name: &str) -> Vec<String> {
    let activities: Vec<Value> =
        serde_json::from_slice(&fixture(&format!("lead/{name}.json"))).unwrap();
    activities.iter().map(Value::to_string).collect()
}

async fn post_all(app: &TestApp, activities: &[String]) {
    for activity in activities {
        let answer = app.post(activity.clone()).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
}

/// (count, sum) of a lead-time histogram of the project.
fn observed(samples: &Samples, histogram: &str) -> (f64, f64) {
    (
        value(samples, &format!("{histogram}_count"), &PROJECT),
        value(samples, &format!("{histogram}_sum"), &PROJECT),
    )
}

const CHANGE: &str = "platformsh_change_lead_time_seconds";
const COMMIT: &str = "platformsh_commit_lead_time_seconds";

/// Posts the scenario to a fresh exporter; the change and commit lead times it observed.
async fn lead_times(name: &str) -> ((f64, f64), (f64, f64), Samples) {
    let app = spawn_app(&[]).await;
    post_all(&app, &scenario(name)).await;
    let samples = app.scrape().await;
    (
        observed(&samples, CHANGE),
        observed(&samples, COMMIT),
        samples,
    )
}

#[tokio::test]
async fn a_push_straight_to_production_delivers_its_own_commits() {
    let (change, commit, _) = lead_times("push-to-production").await;
    // Both commits first seen at the push's creation (10:00), delivered at 10:05.
    assert_eq!(change, (2.0, 600.0));
    // Authored at 09:00 and 09:30.
    assert_eq!(commit, (2.0, 3900.0 + 2100.0));
}

#[tokio::test]
async fn commits_pushed_to_a_feature_branch_are_delivered_by_its_merge_into_production() {
    let (change, commit, samples) = lead_times("feature-then-merge").await;
    // a first seen 10:00, b and c 11:00; the merge completes at 12:10.
    assert_eq!(change, (3.0, 7800.0 + 4200.0 + 4200.0));
    // a authored 09:00, b 10:30; c has no author date.
    assert_eq!(commit, (2.0, 11_400.0 + 6000.0));
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_observations_skipped_total",
            &[
                ("metric", "commit_lead_time"),
                ("reason", "missing_timestamp")
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_merge_into_staging_delivers_nothing_until_staging_reaches_production() {
    let (change, commit, _) = lead_times("chain-through-staging").await;
    // First seen 10:00, in production at 13:10 (not at staging's 11:05).
    assert_eq!(change, (1.0, 11_400.0));
    assert_eq!(commit, (1.0, 12_000.0));
}

#[tokio::test]
async fn a_failed_production_deployment_delivers_nothing_and_the_next_success_does() {
    let (change, commit, _) = lead_times("failed-then-redeployed").await;
    // Pushed at 10:00 (its deployment failed), delivered by the redeploy at 11:20.
    assert_eq!(change, (1.0, 4800.0));
    assert_eq!(commit, (1.0, 8400.0));
}

#[tokio::test]
async fn a_commit_pushed_to_two_branches_is_delivered_once_from_its_first_sight() {
    let (change, commit, _) = lead_times("one-commit-two-branches").await;
    // a first seen on feature-a at 10:00, b at 10:30; delivered by feature-b's merge at 11:10;
    // feature-a's later merge delivers nothing again.
    assert_eq!(change, (2.0, 4200.0 + 2400.0));
    assert_eq!(commit, (2.0, 7800.0 + 3000.0));
}

#[tokio::test]
async fn activities_arriving_out_of_order_give_the_earliest_first_sight() {
    let (change, commit, _) = lead_times("out-of-order").await;
    // feature-a's push (10:00) arrives after feature-b's (10:30): a was first seen at 10:00.
    assert_eq!(change, (2.0, 4200.0 + 2400.0));
    assert_eq!(commit, (2.0, 7800.0 + 3000.0));
}

#[tokio::test]
async fn a_restart_in_the_middle_gives_the_same_lead_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").to_str().unwrap().to_owned();
    let activities = scenario("feature-then-merge");
    let app = spawn_app(&["--storage.path", &path]).await;
    post_all(&app, &activities[..2]).await;
    app.stop().await.unwrap();
    let app = spawn_app(&["--storage.path", &path]).await;
    post_all(&app, &activities[2..]).await;
    let samples = app.scrape().await;
    assert_eq!(observed(&samples, CHANGE), (3.0, 16_200.0));
    assert_eq!(observed(&samples, COMMIT), (2.0, 17_400.0));
    // And once more, replaying everything.
    app.stop().await.unwrap();
    let app = spawn_app(&["--storage.path", &path]).await;
    let replayed = app.scrape().await;
    assert_eq!(observed(&replayed, CHANGE), (3.0, 16_200.0));
    assert_eq!(observed(&replayed, COMMIT), (2.0, 17_400.0));
}

#[tokio::test]
async fn commits_past_the_limit_are_forgotten_oldest_first_and_counted() {
    let app = spawn_app(&["--limits.commits", "2"]).await;
    // a and b are remembered, then c pushes a out.
    post_all(&app, &scenario("feature-then-merge")).await;
    let samples = app.scrape().await;
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_label_overflow_total",
            &[("label", "commit")]
        ),
        1.0
    );
    // b and c are delivered; a was forgotten.
    assert_eq!(observed(&samples, CHANGE), (2.0, 4200.0 + 4200.0));
}

/// The push-to-production fixture listing `n` commits, the first authored in year 1.
fn push_of(n: usize) -> String {
    let mut push: Value = serde_json::from_str(&scenario("push-to-production")[0]).unwrap();
    let commits: Vec<Value> = (0..n)
        .map(|i| {
            let date = if i == 0 {
                -62_135_596_800_i64
            } else {
                1_794_301_200
            };
            serde_json::json!({"sha": format!("{i:040x}"), "author": {"date": date}})
        })
        .collect();
    push["payload"]["commits"] = Value::from(commits);
    push["payload"]["commits_count"] = Value::from(n);
    push.to_string()
}

#[tokio::test]
async fn commits_past_the_per_push_limit_are_skipped_and_a_year_one_author_date_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db").to_str().unwrap().to_owned();
    let flags = ["--storage.path", &store, "--limits.commits-per-push", "300"];
    let app = spawn_app(&flags).await;
    post_all(&app, &[push_of(1000)]).await;
    let check = |samples: &Samples| {
        let skipped = |metric, reason| {
            value(
                samples,
                "platformsh_exporter_observations_skipped_total",
                &[("metric", metric), ("reason", reason)],
            )
        };
        assert_eq!(skipped("change_lead_time", "commit_limit"), 700.0);
        assert_eq!(skipped("commit_lead_time", "clock_skew"), 1.0);
        // 300 followed, each first seen 10:00 and delivered 10:05.
        assert_eq!(observed(samples, CHANGE), (300.0, 300.0 * 300.0));
        // 299 authored 09:00 (3 900 s before 10:05): the year-1 one adds nothing.
        assert_eq!(observed(samples, COMMIT), (299.0, 299.0 * 3900.0));
    };
    check(&app.scrape().await);
    app.stop().await.unwrap();
    // The store kept 300 commits and the count of the rest: replay agrees.
    let stored: i64 = rusqlite::Connection::open(&store)
        .unwrap()
        .query_row(
            "SELECT length(commit_list) - length(replace(commit_list, char(10), '')) FROM activities",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 301, "300 commits and the +700 line");
    let again = spawn_app(&flags).await;
    check(&again.scrape().await);
}
