//! Order independence (README, Order): a random history of pushes, merges and deployments,
//! recorded in time order by one exporter and shuffled by another, gives the same metrics, and
//! so do a restart's replay and `history` on the same store. An exporter that applies each
//! activity as it comes (`--activities.settle=0s`) is shown to disagree on the same shuffles:
//! the histories exercise what order changes.

use std::process::Command;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{Samples, TestApp, activity_samples, spawn_app, value};
use crate::history::last_values;

const SETTLE: &str = "10s";
const SETTLE_SECONDS: i64 = 10;
/// Activities per history, 20 ms apart.
const STEPS: i64 = 40;

/// Environments: (name, type).
const ENVIRONMENTS: [(&str, &str); 4] = [
    ("main", "production"),
    ("staging", "staging"),
    ("feature-a", "development"),
    ("feature-b", "development"),
];

fn at(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

/// One finished activity of project `shop`.
fn activity(
    id: &str,
    kind: &str,
    environment: (&str, &str),
    (created, completed): (DateTime<Utc>, DateTime<Utc>),
    succeeded: bool,
) -> Value {
    let (name, environment_type) = environment;
    json!({
        "id": id,
        "type": kind,
        "project": "shop",
        "environments": [name],
        "parameters": {"environment": name},
        "state": "complete",
        "result": if succeeded { "success" } else { "failure" },
        "created_at": at(created),
        "started_at": at(created),
        "updated_at": at(completed),
        "completed_at": at(completed),
        "completion_percent": 100,
        "payload": {
            "environment": {
                "name": name,
                "id": name,
                "type": environment_type,
                "is_main": name == "main",
            },
        },
        "description": format!("<user>Dev</user> ran <strong>{kind}</strong>"),
    })
}

/// A random history: pushes (some commits listed on two branches), merges of a feature into
/// staging or main and of staging into main, redeploys that fail and succeed. Finish times
/// overlap, so finishing order is not creation order.
fn random_history(rng: &mut StdRng, start: DateTime<Utc>) -> Vec<Value> {
    let mut shas: Vec<String> = Vec::new();
    let mut history = Vec::new();
    for step in 0..STEPS {
        let created = start + chrono::Duration::milliseconds(step * 20);
        let completed = created + chrono::Duration::milliseconds(rng.random_range(1..60));
        let times = (created, completed);
        let succeeded = rng.random_bool(0.7);
        let id = format!("a{step:03}");
        let body = match rng.random_range(0..10) {
            0..=3 => {
                let environment = ENVIRONMENTS[rng.random_range(0..ENVIRONMENTS.len())];
                let mut commits = Vec::new();
                for _ in 0..rng.random_range(1..3) {
                    let sha = format!("{:040x}", shas.len() + 1);
                    shas.push(sha.clone());
                    commits.push(sha);
                }
                if !shas.is_empty() && rng.random_bool(0.3) {
                    commits.push(shas[rng.random_range(0..shas.len())].clone());
                }
                let commits: Vec<Value> = commits
                    .into_iter()
                    .map(|sha| {
                        let authored = created.timestamp() - rng.random_range(60..86_400);
                        json!({"sha": sha, "message": "change", "author": {"name": "Dev", "date": authored}})
                    })
                    .collect();
                let mut body = activity(&id, "environment.push", environment, times, succeeded);
                body["payload"]["commits_count"] = json!(commits.len());
                body["payload"]["commits"] = json!(commits);
                body
            }
            4..=6 => {
                let (child, into) = match rng.random_range(0..3) {
                    0 => (ENVIRONMENTS[2], ENVIRONMENTS[0]),
                    1 => (ENVIRONMENTS[3], ENVIRONMENTS[1]),
                    _ => (ENVIRONMENTS[1], ENVIRONMENTS[0]),
                };
                let mut body = activity(&id, "environment.merge", into, times, succeeded);
                body["parameters"] = json!({"from": child.0, "into": into.0});
                body["environments"] = json!([child.0, into.0]);
                body["payload"]["outcome"] =
                    json!({"name": child.0, "id": child.0, "type": child.1});
                body
            }
            _ => {
                let environment = ENVIRONMENTS[rng.random_range(0..2)];
                activity(&id, "environment.redeploy", environment, times, succeeded)
            }
        };
        history.push(body);
    }
    history
}

fn completed(activity: &Value) -> String {
    activity["completed_at"].as_str().unwrap().to_owned()
}

async fn post_all(app: &TestApp, activities: &[Value]) {
    for activity in activities {
        let answer = app.post(activity.to_string()).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
}

/// What `/metrics` shows of the activities, every bucket included.
fn shown(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with("platformsh_") && !k.starts_with("platformsh_exporter_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Asserts that two sets of samples are the same, showing only the series that differ.
fn assert_same(actual: &Samples, expected: &Samples, what: &str) {
    let mut differ: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
    for key in actual.keys().chain(expected.keys()) {
        let (a, e) = (actual.get(key).copied(), expected.get(key).copied());
        let same = match (a, e) {
            (Some(a), Some(e)) => (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            _ => false,
        };
        if !same && !differ.iter().any(|(k, _, _)| k == key) {
            differ.push((key.clone(), a, e));
        }
    }
    assert!(
        differ.is_empty(),
        "{what}: (series, got, expected) {differ:#?}"
    );
}

fn late(samples: &Samples) -> f64 {
    value(
        samples,
        "platformsh_exporter_unordered_activities_total",
        &[("reason", "late")],
    )
}

/// One history: in order, shuffled, shuffled without settling; then replay and `history`.
/// Returns whether the exporter without settling disagreed.
async fn check(seed: u64) -> bool {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = Utc::now() - chrono::Duration::milliseconds(500);
    let mut in_order = random_history(&mut rng, start);
    in_order.sort_by_key(completed);
    let mut shuffled = in_order.clone();
    shuffled.shuffle(&mut rng);

    let dir = tempfile::tempdir().unwrap();
    let store = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (a_store, b_store) = (store("a.db"), store("b.db"));
    let a = spawn_app(&["--storage.path", &a_store, "--activities.settle", SETTLE]).await;
    let b = spawn_app(&["--storage.path", &b_store, "--activities.settle", SETTLE]).await;
    let c = spawn_app(&["--activities.settle", "0s"]).await;
    tokio::join!(
        post_all(&a, &in_order),
        post_all(&b, &shuffled),
        post_all(&c, &shuffled)
    );
    // Past the window for the last of them, and past housekeeping's next pass (every second)
    // after it: everything applied.
    let last = in_order.last().map(completed).unwrap();
    let last: DateTime<Utc> = last.parse().unwrap();
    let due =
        last + chrono::Duration::seconds(SETTLE_SECONDS) + chrono::Duration::milliseconds(1500);
    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;

    let (on_a, on_b) = (a.scrape().await, b.scrape().await);
    // Each arrived in time: nothing was applied out of order.
    assert_eq!((late(&on_a), late(&on_b)), (0.0, 0.0), "seed {seed}");
    let expected = shown(&on_a);
    assert!(
        expected.contains_key(
            "platformsh_deployment_recovery_seconds_count{environment_type=\"production\",project=\"shop\"}"
        ) || expected.keys().any(|k| k.starts_with("platformsh_change_lead_time_seconds_count")),
        "seed {seed}: a history with nothing order could change: {expected:#?}"
    );
    assert_same(&shown(&on_b), &expected, &format!("seed {seed}: shuffled"));

    // A restart replays the store: the same.
    b.stop().await.unwrap();
    let b = spawn_app(&["--storage.path", &b_store, "--activities.settle", SETTLE]).await;
    assert_same(
        &shown(&b.scrape().await),
        &expected,
        &format!("seed {seed}: replayed"),
    );

    // `history` on the shuffled store ends where /metrics is.
    b.stop().await.unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
        .args(["--storage.path", &b_store, "--activities.settle", SETTLE])
        .args(["history", "--since", "1d"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert_same(
        &activity_samples(&last_values(&text)),
        &activity_samples(&on_a),
        &format!("seed {seed}: history"),
    );

    let unsettled = shown(&c.scrape().await);
    a.stop().await.unwrap();
    unsettled != expected
}

#[tokio::test]
async fn the_same_history_in_any_order_gives_the_same_metrics_live_replayed_and_in_history() {
    let seeds = [1_u64, 2, 3, 4];
    let disagreed = futures_join(seeds.map(|seed| Box::pin(check(seed)))).await;
    // Without settling, arrival order shows: the histories are ones where order matters.
    assert!(disagreed.iter().any(|d| *d), "{disagreed:?}");
}

/// Runs the checks side by side: each waits out the settle window.
async fn futures_join<const N: usize>(
    checks: [impl Future<Output = bool> + Send + 'static; N],
) -> Vec<bool> {
    let handles: Vec<_> = checks.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
