//! The activity store: restarts change no metric, a crash loses nothing answered 2xx, faults
//! answer 503 and count nothing, and the activity log answers "did my delivery arrive?".

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Samples, TestApp, VALID_FIXTURES, answer, fixture, spawn_app, value};

fn path_arg(dir: &tempfile::TempDir) -> String {
    dir.path().join("store.db").to_str().unwrap().to_owned()
}

/// Every `platformsh_*` sample but the build info, the store's commits and when the
/// configuration was read (this process's own, like the `process_*` metrics).
fn persistent(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with("platformsh_")
                && !k.starts_with("platformsh_exporter_build_info")
                && !k.starts_with("platformsh_exporter_store_commit_")
                && !k.starts_with("platformsh_exporter_config_last_reload_success_timestamp")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

#[tokio::test]
async fn a_restart_on_the_same_store_gives_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    // Every fixture, a duplicate and an invalid one.
    for name in VALID_FIXTURES
        .iter()
        .chain(&["push-success-seed.json", "invalid/missing-id.json"])
    {
        app.post(fixture(name)).await;
    }
    // A recovery (failure then fix) and an activity that finishes after being unfinished.
    let mut fix: serde_json::Value =
        serde_json::from_slice(&fixture("push-failure-development.json")).unwrap();
    fix["id"] = json!("fix");
    fix["result"] = json!("success");
    fix["completed_at"] = json!("2026-11-02T12:00:00+00:00");
    app.post(fix.to_string()).await;
    let before = persistent(&app.scrape().await);
    app.stop().await.unwrap();

    let again = spawn_app(&["--storage.path", &path]).await;
    let after = persistent(&again.scrape().await);
    assert_eq!(after, before);
    assert_eq!(
        value(
            &after,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "duplicate")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "platformsh_deployment_recovery_seconds_count",
            &[
                ("project", "abc123xyz"),
                ("environment_type", "development")
            ]
        ),
        1.0
    );

    // Deduplication survives the restart too.
    assert_eq!(again.post(fixture("cron-success.json")).await.status, 200);
}

#[tokio::test]
async fn the_activity_log_lists_recent_deliveries_newest_first_with_filters() {
    let app = spawn_app(&[]).await;
    for name in [
        "cron-success.json",
        "push-failure-development.json",
        "push-cancelled.json",
        "redeploy-success-production.json",
    ] {
        assert_eq!(app.post(fixture(name)).await.status, 202);
    }
    let all = app.get("/api/v1/activities").await;
    assert_eq!(all.status, 200);
    let ids: Vec<String> = all.json()["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "5wbbr4qmw2wxfogo4mvn4a4wfh",
            "ab69m64p2g158z6tnovmizwdia",
            "ujzde8gxd6ncf10epf91dhodzd",
            "fxbv932byv7s6ehogfqrclri1q"
        ]
    );
    let failed = app
        .get("/api/v1/activities?project=abc123xyz&environment=feature-login&result=failure")
        .await
        .json();
    let failed = failed["activities"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], "ujzde8gxd6ncf10epf91dhodzd");
    assert_eq!(failed[0]["type"], "environment.push");
    assert_eq!(failed[0]["completed_at"], "2026-11-02T09:01:35Z");
    let pushes = app
        .get("/api/v1/activities?type=environment.push&limit=1")
        .await
        .json();
    assert_eq!(pushes["activities"][0]["id"], "ab69m64p2g158z6tnovmizwdia");
    assert_eq!(pushes["activities"].as_array().unwrap().len(), 1);

    for bad in ["?limit=0", "?limit=x", "?result=maybe", "?limit=10001"] {
        let answer = app.get(&format!("/api/v1/activities{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    let memory = spawn_app(&["--storage.in-memory"]).await;
    assert_eq!(memory.get("/api/v1/activities").await.status, 404);
    assert!(app.get("/").await.body.contains("/api/v1/activities"));
}

#[tokio::test]
async fn retention_prunes_old_activities_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    app.post(fixture("cron-success.json")).await;
    app.stop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pruned = spawn_app(&["--storage.path", &path, "--storage.retention", "10ms"]).await;
    let samples = pruned.scrape().await;
    assert!(
        !samples
            .keys()
            .any(|k| k.starts_with("platformsh_activities_total"))
    );
    assert_eq!(
        pruned.get("/api/v1/activities").await.json()["activities"],
        json!([])
    );
}

#[tokio::test]
async fn an_unreadable_or_newer_database_is_a_startup_error_naming_the_path() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let start = |path: &str| {
        let config = platformsh_exporter::Config::parse_from(["x", "--storage.path", path]);
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            platformsh_exporter::app::run(listener, config, async {})
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let err = start(&path).await;
    assert!(
        err.contains(&path) && err.contains("not a database"),
        "{err}"
    );

    let newer = dir.path().join("newer.db");
    let conn = rusqlite::Connection::open(&newer).unwrap();
    conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES (99, 'later');").unwrap();
    drop(conn);
    let err = start(newer.to_str().unwrap()).await;
    assert!(err.contains("schema version 99"), "{err}");
}

/// Mounts a tmpfs of `size` at a new temporary folder; unmounted when dropped. Needs root,
/// which CI has.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self(dir)
    }

    fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.0.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Posts distinct copies of the seed until one is refused; returns (accepted, the refusal).
async fn fill(app: &TestApp, prefix: &str) -> (usize, crate::helpers::Answer) {
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    // A long log field is skipped by the parser; long ids fill the store faster.
    for i in 0..100_000 {
        body["id"] = json!(format!("{prefix}-{i}-{}", "x".repeat(200)));
        let answer = app.post(body.to_string()).await;
        if answer.status != 202 {
            return (i, answer);
        }
    }
    panic!("the store never filled up");
}

fn total_activities(samples: &Samples) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with("platformsh_activities_total{"))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn a_full_disk_answers_503_counts_nothing_and_keeps_serving_metrics() {
    let disk = Tmpfs::mount("512k");
    let path = disk.0.path().join("store.db");
    let app = spawn_app(&["--storage.path", path.to_str().unwrap()]).await;
    let (accepted, refused) = fill(&app, "full").await;
    assert!(accepted > 10, "only {accepted} fitted");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"], "unavailable");
    let samples = app.scrape().await;
    assert_eq!(
        total_activities(&samples),
        accepted as f64,
        "nothing refused is counted"
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_store_errors_total",
            &[("reason", "disk_full")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "unavailable")]
        ),
        1.0
    );
    assert_eq!(app.get("/-/healthy").await.status, 200);
}

#[tokio::test]
async fn a_database_on_a_read_only_path_is_a_startup_error_naming_the_path() {
    use clap::Parser;
    let disk = Tmpfs::mount("1m");
    disk.remount_read_only();
    let path = disk.0.path().join("store.db");
    let config =
        platformsh_exporter::Config::parse_from(["x", "--storage.path", path.to_str().unwrap()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = platformsh_exporter::app::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
}

#[tokio::test]
async fn a_database_locked_by_another_process_answers_503_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(app.post(fixture("cron-success.json")).await.status, 202);

    // Another process (here, another connection) holds the write lock past the busy timeout.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let refused = app.post(fixture("redeploy-success-production.json")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(app.get("/-/healthy").await.status, 200);
    let samples = app.scrape().await;
    assert_eq!(total_activities(&samples), 1.0);
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_store_errors_total",
            &[("reason", "locked")]
        ),
        1.0
    );

    // Once the lock is gone, the retry goes through.
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        app.post(fixture("redeploy-success-production.json"))
            .await
            .status,
        202
    );
}

/// The real binary as a child process, so it can be killed with SIGKILL.
struct Exporter {
    child: Child,
    url: String,
}

impl Exporter {
    async fn start(store: &Path) -> Self {
        let port = crate::helpers::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.path={}", store.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let exporter = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client
            .get(format!("{}/-/ready", exporter.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the exporter did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        exporter
    }

    fn kill(&mut self) {
        // SIGKILL: no shutdown, no flush, as in a crash or an OOM kill.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_delivery_that_was_answered_and_retries_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let mut exporter = Exporter::start(&store).await;
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    let bodies: Vec<(String, String)> = (0..4000)
        .map(|i| {
            let mut body = base.clone();
            body["id"] = json!(format!("crash-{i}"));
            (format!("crash-{i}"), body.to_string())
        })
        .collect();

    // 16 concurrent senders; the exporter is killed while they send.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let chunks: Vec<Vec<(String, String)>> = bodies.chunks(250).map(<[_]>::to_vec).collect();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        let url = format!("{}/webhook", exporter.url);
        let progress = std::sync::Arc::clone(&progress);
        senders.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for (id, body) in chunk {
                match client.post(&url).body(body).send().await {
                    Ok(r) if r.status().is_success() => {
                        answered.push(id);
                        progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            answered
        }));
    }
    // Kill once a quarter has been answered, whatever the machine's speed: mid-stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress.load(std::sync::atomic::Ordering::Relaxed) < bodies.len() / 4 {
        assert!(Instant::now() < deadline, "the senders made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    exporter.kill();
    let mut answered = Vec::new();
    for sender in senders {
        answered.extend(sender.await.unwrap());
    }
    assert!(
        !answered.is_empty() && answered.len() < bodies.len(),
        "killed mid-stream: {} answered",
        answered.len()
    );

    let restarted = Exporter::start(&store).await;
    let listed = answer(client.get(format!("{}/api/v1/activities?limit=10000", restarted.url)))
        .await
        .json();
    let stored: std::collections::HashSet<String> = listed["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &answered {
        assert!(
            stored.contains(id),
            "{id} was answered 2xx but is not stored"
        );
    }
    eprintln!(
        "{} answered before the kill, {} stored",
        answered.len(),
        stored.len()
    );

    // The sender retries everything: stored ones are duplicates, the rest are new.
    for (_, body) in &bodies {
        let status = client
            .post(format!("{}/webhook", restarted.url))
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }
    let text = answer(client.get(format!("{}/metrics", restarted.url)))
        .await
        .body;
    let samples = crate::helpers::parse_exposition(&text);
    assert_eq!(
        total_activities(&samples),
        bodies.len() as f64,
        "each delivery counted once"
    );
}

/// Every commit is timed and its size counted; a memory-only exporter shows neither family.
#[tokio::test]
async fn commits_are_timed_and_their_batches_counted() {
    let app = spawn_app(&[]).await;
    for n in 0..5 {
        let mut delivery: serde_json::Value =
            serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
        delivery["id"] = json!(format!("commit-{n}"));
        assert_eq!(app.post(delivery.to_string()).await.status, 202);
    }
    let samples = app.scrape().await;
    let commits = value(
        &samples,
        "platformsh_exporter_store_commit_batch_size_count",
        &[],
    );
    let written = value(
        &samples,
        "platformsh_exporter_store_commit_batch_size_sum",
        &[],
    );
    // Each delivery was answered before the next was sent, so none shared a commit with
    // another; the counters saved at start may have shared one with a delivery, or not yet run.
    assert!((5.0..=6.0).contains(&written), "{written} writes");
    assert!(
        commits >= written - 1.0 && commits <= written,
        "{commits} commits"
    );
    let batch_of_one = value(
        &samples,
        "platformsh_exporter_store_commit_batch_size_bucket",
        &[("le", "1")],
    );
    assert!(
        batch_of_one >= commits - 1.0,
        "{batch_of_one} commits of one write"
    );
    for (name, labels) in [
        (
            "platformsh_exporter_store_commit_duration_seconds_count",
            &[][..],
        ),
        (
            "platformsh_exporter_store_commit_duration_seconds_bucket",
            &[("le", "+Inf")][..],
        ),
    ] {
        assert_eq!(value(&samples, name, labels), commits, "{name}");
    }

    let memory = spawn_app(&["--storage.in-memory"]).await;
    memory.post(fixture("push-success-seed.json")).await;
    assert!(
        !memory
            .exposition()
            .await
            .contains("platformsh_exporter_store_commit")
    );
}

#[tokio::test]
async fn a_second_exporter_on_the_same_store_refuses_to_start_naming_the_path() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let first = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(first.post(fixture("cron-success.json")).await.status, 202);

    let config = platformsh_exporter::Config::parse_from(["x", "--storage.path", &path]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = platformsh_exporter::app::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&path), "{err}");
    assert!(err.to_string().contains("another exporter"), "{err}");
    // The first one is untouched.
    assert_eq!(first.get("/-/ready").await.status, 200);
    first.stop().await.unwrap();

    // Once it has stopped, the store opens again.
    let again = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(again.post(fixture("cron-success.json")).await.status, 200);
}

#[tokio::test]
async fn a_deleted_database_answers_503_and_reports_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(app.post(fixture("cron-success.json")).await.status, 202);
    assert_eq!(app.get("/-/ready").await.status, 200);

    std::fs::remove_file(&path).unwrap();
    let refused = app.post(fixture("redeploy-success-production.json")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    let ready = app.get("/-/ready").await;
    assert_eq!(ready.status, 503);
    assert!(ready.body.contains("deleted or replaced"), "{}", ready.body);
    assert_eq!(app.get("/-/healthy").await.status, 200);
    let samples = app.scrape().await;
    assert_eq!(total_activities(&samples), 1.0, "nothing recorded");
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_store_errors_total",
            &[("reason", "replaced")]
        ),
        1.0
    );
}

#[tokio::test]
async fn a_database_replaced_by_another_file_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(app.post(fixture("cron-success.json")).await.status, 202);
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap();
    std::fs::rename(&other, &path).unwrap();
    let refused = app.post(fixture("redeploy-success-production.json")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(app.get("/-/ready").await.status, 503);
}

#[tokio::test]
async fn a_database_truncated_in_place_answers_503_and_reports_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(app.post(fixture("cron-success.json")).await.status, 202);
    // What `> store.db` or a tool writing its output there does: same inode, no database.
    std::fs::File::create(&path).unwrap();
    let refused = app.post(fixture("redeploy-success-production.json")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    let ready = app.get("/-/ready").await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.body.contains("truncated or overwritten"),
        "{}",
        ready.body
    );
}

#[tokio::test]
async fn history_refuses_to_write_over_the_live_store_which_keeps_every_activity() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_arg(&dir);
    let app = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(app.post(fixture("cron-success.json")).await.status, 202);
    let before = std::fs::metadata(&path).unwrap().len();
    for output in [path.clone(), format!("{path}-wal"), format!("{path}.lock")] {
        for overwrite in [false, true] {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"));
            command.args(["--storage.path", &path, "history", "--output", &output]);
            if overwrite {
                command.arg("--overwrite");
            }
            let run = command.output().unwrap();
            assert!(!run.status.success());
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(stderr.contains("is part of the store"), "{stderr}");
        }
    }
    assert!(std::fs::metadata(&path).unwrap().len() >= before);
    assert_eq!(app.get("/-/ready").await.status, 200);
    assert_eq!(
        app.post(fixture("push-failure-development.json"))
            .await
            .status,
        202
    );
    app.stop().await.unwrap();
    let again = spawn_app(&["--storage.path", &path]).await;
    assert_eq!(
        total_activities(&again.scrape().await),
        2.0,
        "both replayed"
    );
}
