//! Incidents from a real Alertmanager (Debian's `prometheus-alertmanager`, on loopback) posting
//! to the exporter's `/alertmanager`: attribution to the last production change, time to
//! restore, repeats and a restart that change nothing; and bad input to the receiver.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::{
    Samples, TestApp, assert_exactly, fixture, free_port, s, spawn_app, spawn_app_at, value,
};

const CREDENTIAL: &str = "am-s3cret";
const PROJECT: &str = "abc123xyz";

/// A private Alertmanager: one route, every alert its own group, repeats every 2 s.
struct Alertmanager {
    child: Child,
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    async fn start(receiver: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "route:\n  receiver: platformsh\n  group_by: ['...']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 2s\n\
             receivers:\n  - name: platformsh\n    webhook_configs:\n      - url: {receiver}\n        \
             send_resolved: true\n        max_alerts: 1000\n        http_config:\n          \
             authorization:\n            credentials: {CREDENTIAL}\n"
        );
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("alertmanager.log")).unwrap())
            .spawn()
            .expect(
                "prometheus-alertmanager must be installed (Debian package \
                 prometheus-alertmanager; .ci/run installs it)",
            );
        let am = Self {
            child,
            url: format!("http://{address}"),
            client: reqwest::Client::new(),
            _dir: dir,
        };
        wait_for("Alertmanager to be ready", || async {
            am.client
                .get(format!("{}/-/ready", am.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        am
    }

    /// Posts alerts to Alertmanager's API, as Prometheus does.
    async fn post(&self, alerts: Value) {
        let response = self
            .client
            .post(format!("{}/api/v2/alerts", self.url))
            .header("content-type", "application/json")
            .body(alerts.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A successful push to `environment` (of `environment_type`) finished at `at`.
fn push(id: &str, environment: &str, environment_type: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut a: Value = serde_json::from_slice(&fixture("push-in-progress.json")).unwrap();
    a["id"] = json!(id);
    a["state"] = json!("complete");
    a["result"] = json!("success");
    for (field, t) in [
        ("created_at", at - chrono::Duration::seconds(60)),
        ("started_at", at - chrono::Duration::seconds(50)),
        ("updated_at", at),
        ("completed_at", at),
    ] {
        a[field] = json!(time(t));
    }
    a["environments"] = json!([environment]);
    a["parameters"]["environment"] = json!(environment);
    a["payload"]["environment"]["name"] = json!(environment);
    a["payload"]["environment"]["type"] = json!(environment_type);
    serde_json::to_vec(&a).unwrap()
}

fn alert(name: &str, severity: &str, environment: &str, starts: DateTime<Utc>) -> Value {
    json!({
        "labels": {
            "alertname": name, "severity": severity,
            "project": PROJECT, "environment": environment,
        },
        "annotations": {"summary": "checkout is down"},
        "startsAt": time(starts),
    })
}

/// The incident families, without buckets.
fn incidents(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("platformsh_incident") || k.starts_with("platformsh_change_failures"))
                && !k.contains("_bucket{")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn place(environment: &'static str, kind: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("project", PROJECT),
        ("environment", environment),
        ("environment_type", kind),
    ]
}

fn expected(main_open: f64, restored: Option<f64>) -> Vec<(String, f64)> {
    let main = place("main", "production");
    let feature = place("feature-login", "development");
    let legacy = place("legacy", "production");
    let mut expected = vec![
        s("platformsh_incidents_total", &main, 1.0),
        s("platformsh_incidents_total", &feature, 1.0),
        s("platformsh_incidents_total", &legacy, 1.0),
        s("platformsh_incidents_open", &main, main_open),
        s("platformsh_incidents_open", &feature, 1.0),
        s("platformsh_incidents_open", &legacy, 1.0),
        // The production change 10 min before: a change failure. The preview's is not
        // production; legacy's change was 3 h before the incident, outside the 1 h window.
        s("platformsh_change_failures_total", &main, 1.0),
        s("platformsh_change_failures_total", &feature, 0.0),
        s("platformsh_change_failures_total", &legacy, 0.0),
    ];
    if let Some(seconds) = restored {
        let labels = [("project", PROJECT), ("environment_type", "production")];
        expected.push(s("platformsh_incident_restore_seconds_count", &labels, 1.0));
        expected.push(s(
            "platformsh_incident_restore_seconds_sum",
            &labels,
            seconds,
        ));
    }
    expected
}

async fn alerts(app: &TestApp, outcome: &str) -> f64 {
    let samples = app.scrape().await;
    value(
        &samples,
        "platformsh_exporter_alertmanager_alerts_total",
        &[("outcome", outcome)],
    )
}

#[tokio::test]
async fn a_real_alertmanager_gives_one_change_failure_and_one_restore_across_repeats_and_a_restart()
{
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("credential");
    std::fs::write(&credential, format!("{CREDENTIAL}\n")).unwrap();
    let store = dir.path().join("store.db");
    let address = format!("127.0.0.1:{}", free_port());
    let flags = [
        "--storage.path",
        store.to_str().unwrap(),
        "--alertmanager.credentials-file",
        credential.to_str().unwrap(),
        "--incidents.window",
        "1h",
    ];
    let app = spawn_app_at(&address, &flags).await;

    let now = Utc::now();
    let minutes = |m: i64| now - chrono::Duration::minutes(m);
    for body in [
        push("deploy-main", "main", "production", minutes(10)),
        push(
            "deploy-feature",
            "feature-login",
            "development",
            minutes(10),
        ),
        push("deploy-legacy", "legacy", "production", minutes(180)),
    ] {
        assert_eq!(app.post(body).await.status, 202);
    }

    let am = Alertmanager::start(&format!("http://{address}/alertmanager")).await;
    let started = minutes(5);
    am.post(json!([
        alert("CheckoutDown", "critical", "main", started),
        alert("CheckoutDown", "critical", "feature-login", started),
        alert("CheckoutDown", "critical", "legacy", started),
        // Not incidents: another severity, and the exporter's own alert.
        alert("CheckoutSlow", "warning", "main", started),
        alert(
            "PlatformshProductionDeploymentFailed",
            "critical",
            "main",
            started
        ),
    ]))
    .await;
    wait_for("three incidents opened", || async {
        alerts(&app, "opened").await == 3.0
    })
    .await;
    assert_exactly(&incidents(&app.scrape().await), &expected(1.0, None));
    assert!(alerts(&app, "ignored_severity").await >= 1.0);
    assert!(alerts(&app, "ignored_own").await >= 1.0);

    // Alertmanager repeats the firing alerts every 2 s: nothing changes.
    wait_for("a repeated notification", || async {
        alerts(&app, "duplicate").await >= 3.0
    })
    .await;
    assert_exactly(&incidents(&app.scrape().await), &expected(1.0, None));

    // A restart in the middle: the store gives back exactly the same.
    app.stop().await.unwrap();
    let app = spawn_app_at(&address, &flags).await;
    assert_exactly(&incidents(&app.scrape().await), &expected(1.0, None));

    // Resolved 4 min after it started: one restore observation of 240 s.
    let mut resolved = alert("CheckoutDown", "critical", "main", started);
    resolved["endsAt"] = json!(time(minutes(1)));
    am.post(json!([resolved])).await;
    wait_for("the incident resolved", || async {
        alerts(&app, "resolved").await == 1.0
    })
    .await;
    assert_exactly(&incidents(&app.scrape().await), &expected(0.0, Some(240.0)));
    app.stop().await.unwrap();
    let app = spawn_app_at(&address, &flags).await;
    assert_exactly(&incidents(&app.scrape().await), &expected(0.0, Some(240.0)));
    drop(am);
    app.stop().await.unwrap();
}

fn notification(alerts: &Value) -> String {
    json!({
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "platformsh", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://am", "alerts": alerts,
    })
    .to_string()
}

fn wire_alert(environment: &str) -> Value {
    json!({
        "status": "firing",
        "labels": {"alertname": "Down", "severity": "critical", "project": PROJECT, "environment": environment},
        "annotations": {}, "startsAt": "2026-11-02T14:30:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "", "fingerprint": "0123456789abcdef",
    })
}

#[tokio::test]
async fn bad_notifications_get_a_clear_error_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("credential");
    std::fs::write(&credential, CREDENTIAL).unwrap();
    let app = spawn_app(&[
        "--alertmanager.credentials-file",
        credential.to_str().unwrap(),
        "--webhook.max-body-bytes",
        "65536",
    ])
    .await;
    let mut deploy: Value = serde_json::from_slice(&fixture("push-in-progress.json")).unwrap();
    deploy["state"] = json!("complete");
    deploy["result"] = json!("success");
    deploy["completed_at"] = json!("2026-11-02T14:10:00Z");
    assert_eq!(
        app.post(serde_json::to_vec(&deploy).unwrap()).await.status,
        202
    );
    let before = app.scrape().await;

    let post = |body: String, authorization: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url("/alertmanager"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        crate::helpers::answer(request)
    };
    let bearer = Some("Bearer am-s3cret");
    let good = notification(&json!([wire_alert("main")]));

    let unauthenticated = post(good.clone(), None).await;
    assert_eq!(unauthenticated.status, 401);
    assert!(
        unauthenticated
            .body
            .contains("--alertmanager.credentials-file")
    );
    assert_eq!(post(good.clone(), Some("Bearer wrong")).await.status, 401);

    let malformed = post("{\"version\": \"4\", \"alerts\": [".into(), bearer).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"], "invalid");
    let old = post(
        good.replace("\"version\":\"4\"", "\"version\":\"3\""),
        bearer,
    )
    .await;
    assert_eq!(old.status, 400);
    assert_eq!(old.json()["path"], "$.version");
    let mut bad_time = wire_alert("main");
    bad_time["startsAt"] = json!("yesterday");
    let bad_time = post(notification(&json!([bad_time])), bearer).await;
    assert_eq!(bad_time.json()["path"], "$.alerts[0].startsAt");

    let huge = post(" ".repeat(70_000) + &good, bearer).await;
    assert_eq!(huge.status, 413);
    let thousands: Vec<Value> = (0..1001).map(|_| json!({})).collect();
    let thousands = post(notification(&json!(thousands)), bearer).await;
    assert_eq!(thousands.status, 400);
    assert!(thousands.body.contains("max_alerts"), "{}", thousands.body);

    // Hostile label values: accepted, but no incident of an environment nobody deployed.
    let mut hostile = wire_alert("main\"} 1\nplatformsh_incidents_total{x=\"");
    hostile["fingerprint"] = json!("fedcba9876543210");
    let mut long = wire_alert(&"x".repeat(5_000));
    long["fingerprint"] = json!("1111111111111111");
    let accepted = post(notification(&json!([hostile, long])), bearer).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.json()["unknown_environment"], 1);
    assert_eq!(accepted.json()["ignored"], 1);

    let after = app.scrape().await;
    assert!(incidents(&after).is_empty(), "{:?}", incidents(&after));
    let refused = |samples: &Samples, outcome: &str| {
        value(
            samples,
            "platformsh_exporter_alertmanager_notifications_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(refused(&after, "unauthorized"), 2.0);
    assert_eq!(refused(&after, "invalid"), 4.0);
    assert_eq!(refused(&after, "too_large"), 1.0);
    assert_eq!(refused(&after, "accepted"), 1.0);
    assert_eq!(
        crate::helpers::activity_samples(&before),
        crate::helpers::activity_samples(&after)
    );

    // The good one, authenticated with basic auth's password: one incident.
    let basic = Some("Basic YWxlcnRtYW5hZ2VyOmFtLXMzY3JldA=="); // alertmanager:am-s3cret
    let ok = post(good.clone(), basic).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["opened"], 1);
    assert_eq!(post(good, basic).await.json()["duplicate"], 1);
    app.stop().await.unwrap();
}

/// The status page lists the incidents firing now, their labels as text, and drops one when
/// it resolves.
#[tokio::test]
async fn the_status_page_lists_open_incidents_until_they_resolve() {
    let app = spawn_app(&[]).await;
    let deployed = Utc::now() - chrono::Duration::minutes(30);
    assert_eq!(
        app.post(push("d1", "main", "production", deployed))
            .await
            .status,
        202
    );
    let mut firing = wire_alert("main");
    firing["labels"]["alertname"] = json!("<b>CheckoutDown</b>");
    firing["startsAt"] = json!(time(deployed + chrono::Duration::minutes(10)));
    let send = |alert: Value| app.post_to("/alertmanager", notification(&json!([alert])));
    assert_eq!(send(firing.clone()).await.status, 200);
    let page = app.get("/").await.body;
    let table = &page[page
        .find("<table id=\"incidents\">")
        .expect("no incidents table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(
        table.contains(&format!(
            "<td>{PROJECT}</td><td>main</td><td>&lt;b&gt;CheckoutDown&lt;/b&gt;</td>"
        )),
        "{table}"
    );
    assert!(
        table.contains(">20 min ago<") || table.contains(">19 min ago<"),
        "{table}"
    );
    let mut resolved = firing;
    resolved["status"] = json!("resolved");
    resolved["endsAt"] = json!(time(Utc::now()));
    assert_eq!(send(resolved).await.status, 200);
    let page = app.get("/").await.body;
    assert!(!page.contains("<table id=\"incidents\">"), "{page}");
    assert!(page.contains("<h2>Open incidents</h2>\n<p>None"), "{page}");
    app.stop().await.unwrap();
}
