//! The status page at `/`, rendered by a real browser: headless Chromium loads it from a live
//! exporter, and the DOM it built is checked (a failing environment shown as failing and
//! first, a hostile project name shown as text); a screenshot is kept in
//! `status-page.png` in Cargo's `CARGO_TARGET_TMPDIR` (`target/tmp/` by default).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::helpers::{fixture, spawn_app};

/// A project name that would run as a script if the page did not escape it.
const HOSTILE: &str = "<script>document.title='pwned'</script><b>x</b>";

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|browser| Command::new(browser).arg("--version").output().is_ok())
}

/// Runs headless Chromium on `url` with `args`, off the runtime's thread (the exporter under
/// test answers on it), and returns its standard output.
async fn browse(browser: &'static str, url: String, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let output = Command::new("timeout")
            .arg("120")
            .arg(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
            ])
            .args(&args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{browser} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_real_browser_shows_the_failing_environment_first_and_the_hostile_name_as_text() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: Chromium is not installed (Debian: apt-get install chromium)");
        return;
    };
    let app = crate::helpers::spawn_app(&[]).await;
    for name in [
        "push-success-seed.json",
        "push-failure-development.json",
        "push-in-progress.json",
    ] {
        assert_eq!(app.post(fixture(name)).await.status, 202);
    }
    let mut hostile: serde_json::Value =
        serde_json::from_slice(&fixture("redeploy-success-production.json")).unwrap();
    hostile["project"] = json!(HOSTILE);
    hostile["id"] = json!("hostile");
    hostile["result"] = json!("failure");
    assert_eq!(app.post(hostile.to_string()).await.status, 202);

    let dom = browse(browser, app.url("/"), vec!["--dump-dom".into()]).await;
    // The failing environments, and only them, are marked failing, before any other row.
    let rows: Vec<&str> = dom
        .split("<tr ")
        .skip(1)
        .filter(|r| r.contains("data-project="))
        .collect();
    let failing = |row: &&str| row.starts_with("class=\"failing\"");
    assert_eq!(rows.iter().filter(|r| failing(r)).count(), 2, "{dom}");
    assert!(rows.iter().take(2).all(failing), "failing first: {dom}");
    let feature = rows
        .iter()
        .find(|r| r.contains("data-environment=\"feature-login\""))
        .unwrap();
    assert!(
        failing(feature) && feature.contains(">failed<"),
        "{feature}"
    );
    let master = rows
        .iter()
        .find(|r| r.contains("data-environment=\"master\""))
        .unwrap();
    assert!(master.starts_with("class=\"succeeded\"") && master.contains(">succeeded<"));
    // The hostile name is text: no script ran (the title is the page's), no element was made.
    assert!(dom.contains("<title>Platform.sh Exporter</title>"), "{dom}");
    assert!(dom.contains("&lt;script&gt;document.title="), "{dom}");
    assert!(!dom.contains("<b>x</b>"), "{dom}");
    // The other sections.
    assert!(dom.contains("id=\"unfinished\""), "{dom}");
    assert!(dom.contains("id=\"deliveries\""), "{dom}");
    assert!(dom.contains("Webhook signatures are not required"), "{dom}");

    // Cargo's folder for integration tests' files, wherever CARGO_TARGET_DIR puts it.
    let screenshot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    browse(
        browser,
        app.url("/"),
        vec![
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,900".into(),
        ],
    )
    .await;
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 1000, "no screenshot at {}", screenshot.display());
}

#[tokio::test]
async fn the_status_page_forbids_scripts_frames_and_type_sniffing() {
    let app = spawn_app(&["--storage.in-memory"]).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let policy = header("content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; style-src 'unsafe-inline'"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert!(header("content-type").starts_with("text/html"));
}

#[tokio::test]
async fn the_status_page_is_behind_the_same_basic_auth_as_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.yml");
    let hash = bcrypt::hash("secret", 4).unwrap();
    std::fs::write(
        &config,
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    let app = crate::helpers::spawn_app(&["--web.config.file", config.to_str().unwrap()]).await;
    assert_eq!(app.get("/").await.status, 401);
    let answer = crate::helpers::answer(
        reqwest::Client::new()
            .get(app.url("/?refresh=30"))
            .basic_auth("prometheus", Some("secret")),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .contains("<meta http-equiv=\"refresh\" content=\"30\">")
    );
}

#[tokio::test]
async fn the_status_page_says_how_many_activities_wait_their_turn_for_lead_time() {
    let app = spawn_app(&[]).await;
    let mut redeploy: serde_json::Value =
        serde_json::from_slice(&fixture("redeploy-success-production.json")).unwrap();
    let now = json!(chrono::Utc::now().to_rfc3339());
    for field in ["created_at", "started_at", "completed_at", "updated_at"] {
        redeploy[field] = now.clone();
    }
    assert_eq!(app.post(redeploy.to_string()).await.status, 202);
    let page = app.get("/").await.body;
    assert!(
        page.contains(
            "applied in time order, 10 min after each deployment (--activities.settle): \
             1 finished activity waiting."
        ),
        "{page}"
    );
    let app = spawn_app(&["--activities.settle", "0s"]).await;
    let page = app.get("/").await.body;
    assert!(page.contains("they depend on arrival order"), "{page}");
}
