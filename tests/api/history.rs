//! `platformsh-exporter history`: the store's metrics over time, through the real promtool
//! (blocks created from the OpenMetrics text) and a real Prometheus queried at past instants.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Samples, activity_samples, fixture, parse_exposition, spawn_app};

/// The production redeploy fixture with another id, result and completion time.
fn redeploy(id: &str, result: &str, completed_at: &str) -> String {
    let mut body: Value =
        serde_json::from_slice(&fixture("redeploy-success-production.json")).unwrap();
    body["id"] = json!(id);
    body["result"] = json!(result);
    body["completed_at"] = json!(completed_at);
    body["updated_at"] = json!(completed_at);
    body.to_string()
}

fn history(store: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
        .args(["--storage.path", store, "history"])
        .args(args)
        .output()
        .unwrap()
}

/// `promtool tsdb create-blocks-from openmetrics`, which must succeed.
fn create_blocks(file: &std::path::Path, blocks: &std::path::Path) {
    let created = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(file)
        .arg(blocks)
        .output()
        .expect("promtool must be installed (.ci/run installs it)");
    assert!(
        created.status.success(),
        "{}{}",
        String::from_utf8_lossy(&created.stdout),
        String::from_utf8_lossy(&created.stderr)
    );
}

/// The last value of each series in OpenMetrics text with timestamps, as a scrape would show.
pub fn last_values(text: &str) -> Samples {
    let mut plain = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (sample, _timestamp) = line.rsplit_once(' ').unwrap();
        plain.push_str(sample);
        plain.push('\n');
    }
    // Later lines of a series replace earlier ones.
    let mut last = Samples::new();
    for line in plain.lines() {
        last.extend(parse_exposition(&format!("{line}\n")));
    }
    last
}

#[tokio::test]
async fn history_goes_through_promtool_into_prometheus_and_ends_where_metrics_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &store]).await;
    for body in [
        redeploy("d1", "success", "2026-11-02T10:00:00+00:00"),
        redeploy("d2", "failure", "2026-11-03T10:00:00+00:00"),
        redeploy("d3", "success", "2026-11-04T10:00:00+00:00"),
    ] {
        assert_eq!(app.post(body).await.status, 202);
    }
    assert_eq!(
        app.post(fixture("push-failure-development.json"))
            .await
            .status,
        202
    );
    let scraped = activity_samples(&app.scrape().await);

    // While the exporter runs: history reads without its lock.
    let file = dir.path().join("history.om");
    let output = history(
        &store,
        &["--since", "3650d", "--output", file.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with("# EOF\n"), "{}", &text[text.len() - 100..]);
    assert!(text.contains("# TYPE platformsh_deployments counter\n"));
    // Its last values are what /metrics shows (buckets aside, as activity_samples leaves
    // them out).
    assert_eq!(activity_samples(&last_values(&text)), scraped);

    // promtool turns it into blocks.
    let blocks = dir.path().join("blocks");
    create_blocks(&file, &blocks);

    // A Prometheus on those blocks answers for past instants.
    let prometheus = Prometheus::on(&blocks, dir.path());
    let main = r#"{project="abc123xyz", environment="main"}"#;
    let at = |day: u32| format!("2026-11-{day:02}T12:00:00Z");
    // Changes and restarts: every (re)deployment of main.
    let deployments = r#"sum(last_over_time({__name__=~"platformsh_(deployments|restarts)_total", project="abc123xyz", environment="main"}[10d]))"#;
    let success = format!("last_over_time(platformsh_last_deployment_success{main}[10d])");
    prometheus.ready().await;
    assert_eq!(prometheus.value(deployments, &at(2)).await, Some(1.0));
    assert_eq!(prometheus.value(&success, &at(2)).await, Some(1.0));
    assert_eq!(prometheus.value(deployments, &at(3)).await, Some(2.0));
    assert_eq!(prometheus.value(&success, &at(3)).await, Some(0.0));
    assert_eq!(prometheus.value(deployments, &at(4)).await, Some(3.0));
    assert_eq!(prometheus.value(&success, &at(4)).await, Some(1.0));
    // Before the first activity there was nothing.
    assert_eq!(
        prometheus.value(deployments, "2026-10-30T12:00:00Z").await,
        None
    );
}

/// With `--step`, every metric has a sample at each step: an instant query (5 minutes of
/// lookback) just after a step finds the value of the time, without `last_over_time`.
#[tokio::test]
async fn with_a_step_every_metric_is_written_at_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db").to_str().unwrap().to_owned();
    let app = spawn_app(&["--storage.path", &store]).await;
    let now = chrono::Utc::now();
    let day = |n: i64| (now - chrono::Duration::days(n)).to_rfc3339();
    for (id, result, n) in [("d1", "success", 3), ("d2", "failure", 2)] {
        assert_eq!(app.post(redeploy(id, result, &day(n))).await.status, 202);
    }
    app.stop().await.unwrap();
    let file = dir.path().join("history.om");
    let output = history(
        &store,
        &[
            "--since",
            "4d",
            "--step",
            "6h",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let success = "platformsh_last_deployment_success{environment=\"main\",project=\"abc123xyz\"}";
    let points: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(success)?.trim().split_once(' '))
        .map(|(v, t)| (t.parse().unwrap(), v.parse().unwrap()))
        .collect();
    // At each 6-hour boundary after the first deployment, then at each change and at the end.
    let step = 6.0 * 3600.0;
    let boundaries = points.iter().filter(|(t, _)| t % step == 0.0).count();
    assert!((11..=13).contains(&boundaries), "{points:?}");
    assert!(
        points.windows(2).all(|w| w[0].0 < w[1].0),
        "in time order: {points:?}"
    );
    let value_at = |t: f64| {
        points
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map(|(_, v)| *v)
    };
    let seconds = |n: i64| (now - chrono::Duration::days(n)).timestamp() as f64;
    assert_eq!(value_at(seconds(3) + 1.0), Some(1.0));
    assert_eq!(value_at(seconds(2) + 1.0), Some(0.0));
    assert_eq!(value_at(seconds(4)), None);

    create_blocks(&file, &dir.path().join("blocks"));
}

#[tokio::test]
async fn history_of_a_missing_store_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("absent.db");
    let output = history(store.to_str().unwrap(), &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("absent.db"), "{stderr}");
    assert!(!store.exists(), "history must not create a store");
}

/// A Prometheus reading blocks from `data`, with no scrape target; killed when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn on(data: &std::path::Path, dir: &std::path::Path) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .unwrap();
        let port = crate::helpers::free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // The blocks are from the past: keep them whatever their age.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus must be installed (.ci/run installs it)");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = reqwest::get(format!("{}/-/ready", self.url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "Prometheus did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The single value of an instant query at `time`, or `None` if it has no result.
    async fn value(&self, query: &str, time: &str) -> Option<f64> {
        let text = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query), ("time", time)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["status"], "success", "{body}");
        let result = body["data"]["result"].as_array().unwrap();
        assert!(result.len() <= 1, "{query}: {result:?}");
        result
            .first()
            .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
    }
}
