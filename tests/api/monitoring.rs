//! The monitoring bundle against a real Prometheus: rules pass promtool, every dashboard query
//! returns data on a live setup, and the failed-deployment alert fires and resolves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platformsh_exporter::catalogue::{FAMILIES, Kind};
use serde_json::{Value, json};

use crate::helpers::{TestApp, fixture, free_port, spawn_app};
use crate::platformsh_double::{ApiDouble, Behaviour};

fn bundle(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dashboards")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(bundle(path)).unwrap()
}

const DASHBOARDS: &[&str] = &["overview.json", "deployments.json"];
const RULE_FILES: &[&str] = &["prometheus/rules.yml", "prometheus/alerts.yml"];

/// Every rule (alert or record) of a rule file, across its groups.
fn rules(file: &str) -> Vec<serde_yaml_ng::Value> {
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(file)).unwrap();
    parsed["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
        .collect()
}

/// The value of `key` (alert, record, expr) of each rule of a file that has one.
fn rule_fields(file: &str, key: &str) -> Vec<String> {
    rules(file)
        .iter()
        .filter_map(|r| r[key].as_str().map(str::to_owned))
        .collect()
}

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(bundle(""))
        .output()
        .expect("promtool must be installed (Debian package prometheus; .ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_rules_and_the_example_config_pass_promtool_check() {
    promtool(&[
        "check",
        "rules",
        "prometheus/rules.yml",
        "prometheus/alerts.yml",
    ]);
    promtool(&["check", "config", "prometheus/prometheus.yml"]);
    // The example Alertmanager configuration, with the receiver that sends incidents.
    let output = Command::new("amtool")
        .args(["check-config", "prometheus/alertmanager.yml"])
        .current_dir(bundle(""))
        .output()
        .expect("amtool must be installed (Debian package prometheus-alertmanager)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const RULE_TESTS: &[&str] = &[
    "prometheus/tests/alerts_test.yml",
    "prometheus/tests/rules_test.yml",
    "prometheus/tests/alerts_long_test.yml",
];

#[test]
fn every_alert_passes_its_promtool_unit_tests() {
    let mut args = vec!["test", "rules"];
    args.extend(RULE_TESTS);
    let report = promtool(&args);
    assert_eq!(
        report.matches("SUCCESS").count(),
        RULE_TESTS.len(),
        "{report}"
    );
}

#[test]
fn every_alert_has_a_unit_test() {
    let tests: String = RULE_TESTS.iter().map(|f| read(f)).collect();
    let names = rule_fields("prometheus/alerts.yml", "alert");
    assert!(names.len() >= 6);
    for name in names {
        assert!(
            tests.contains(&format!("alertname: {name}\n")),
            "{name} has no promtool test"
        );
    }
}

/// Each alert links its runbook: a section of `docs/runbooks.md` named after it.
#[test]
fn every_alert_has_a_runbook_section() {
    let runbooks =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks.md"))
            .unwrap();
    let headings: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::to_lowercase)
        .collect();
    let alerts = rules("prometheus/alerts.yml");
    let names: Vec<&str> = alerts
        .iter()
        .map(|a| a["alert"].as_str().unwrap())
        .collect();
    for alert in &alerts {
        let name = alert["alert"].as_str().unwrap();
        let link = alert["annotations"]["runbook_url"]
            .as_str()
            .and_then(|u| u.strip_prefix("docs/runbooks.md#"))
            .unwrap_or_else(|| panic!("{name}: no runbook_url to docs/runbooks.md"));
        assert_eq!(link, name.to_lowercase(), "{name}");
        assert!(headings.contains(link), "no section for {name}");
    }
    // The example inhibitions name alerts that exist.
    let alertmanager: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("prometheus/alertmanager.yml")).unwrap();
    let rules = alertmanager["inhibit_rules"].as_sequence().unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        for side in ["source_matchers", "target_matchers"] {
            let matcher = rule[side][0].as_str().unwrap();
            let name = matcher
                .strip_prefix("alertname=\"")
                .and_then(|m| m.strip_suffix('"'))
                .unwrap();
            assert!(names.contains(&name), "{matcher}");
        }
    }
}

/// Every `expr` of every panel target, and every template variable query, of one dashboard.
fn queries(dashboard: &Value) -> (Vec<String>, Vec<String>) {
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        exprs.push(annotation["expr"].as_str().unwrap().to_owned());
    }
    let variables = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| v["query"]["query"].as_str().unwrap().to_owned())
        .collect();
    (exprs, variables)
}

/// Metric names (`platformsh_…`) and recording rule names (`a:b:c`) in a text.
fn names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if is_name(bytes[i]) && (i == 0 || !is_name(bytes[i - 1]) && bytes[i - 1] != b'$') {
            let start = i;
            while i < bytes.len() && is_name(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            if word.starts_with("platformsh_") || word.matches(':').count() == 2 {
                found.insert(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn every_metric_a_dashboard_or_rule_uses_is_one_the_exporter_exposes() {
    let mut exposed = BTreeSet::new();
    for family in FAMILIES {
        exposed.insert(family.name.to_owned());
        if family.kind == Kind::Histogram {
            for suffix in ["_bucket", "_sum", "_count"] {
                exposed.insert(format!("{}{suffix}", family.name));
            }
        }
    }
    let recorded: BTreeSet<String> = rule_fields("prometheus/rules.yml", "record")
        .into_iter()
        .collect();
    let mut used = BTreeSet::new();
    for file in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(&read(file)).unwrap();
        let (exprs, variables) = queries(&dashboard);
        for q in exprs.iter().chain(&variables) {
            used.extend(names(q));
        }
    }
    for file in RULE_FILES {
        for expr in rule_fields(file, "expr") {
            used.extend(names(&expr));
        }
    }
    assert!(used.len() > 15, "the scan found too few names: {used:?}");
    let unknown: Vec<_> = used
        .iter()
        .filter(|n| !exposed.contains(*n) && !recorded.contains(*n))
        .collect();
    assert!(unknown.is_empty(), "not exposed nor recorded: {unknown:?}");
}

/// Panels that pick deployments by type use the exporter's default deployment types: a type
/// added to one and not the other would chart deployments the exporter does not count.
#[test]
fn dashboards_pick_the_default_deployment_types() {
    use platformsh_exporter::record::{DEFAULT_DEPLOYMENT_TYPES, DEFAULT_RESTART_TYPES};
    // Changes and restarts: both (re)deploy, and their durations and failures are shown.
    let expected: BTreeSet<&str> = DEFAULT_DEPLOYMENT_TYPES
        .iter()
        .chain(DEFAULT_RESTART_TYPES)
        .copied()
        .collect();
    let mut checked = 0;
    for file in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(&read(file)).unwrap();
        for expr in queries(&dashboard).0 {
            for (at, matcher) in expr.match_indices("type=~\"") {
                // The `type` label, not `environment_type`.
                if expr[..at].ends_with('_') {
                    continue;
                }
                let rest = &expr[at + matcher.len()..];
                let regex = &rest[..rest.find('"').unwrap()];
                let types: BTreeSet<&str> = regex.split('|').collect();
                assert_eq!(types, expected, "{file}: {expr}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "{checked}");
}

/// Every query of a family that has an `environment` label honours the `$environment`
/// variable (the recording rules aggregate it away, and are not such families).
#[test]
fn every_query_of_an_environment_family_honours_the_environment_variable() {
    let with_environment: Vec<&str> = FAMILIES
        .iter()
        .filter(|f| f.labels.contains(&"environment"))
        .map(|f| f.name)
        .collect();
    let mut checked = 0;
    for file in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(&read(file)).unwrap();
        for expr in queries(&dashboard).0 {
            let uses = names(&expr)
                .into_iter()
                .any(|n| with_environment.contains(&n.as_str()));
            if uses {
                checked += 1;
                assert!(
                    expr.contains("environment=~\"$environment\""),
                    "{file}: {expr}"
                );
            }
        }
    }
    assert!(checked >= 10, "{checked}");
}

/// Every series a panel reads is picked by the `$job` variable, and every query of an
/// exporter's own series by `$instance` too (recorded series sum a job's instances), so that
/// two exporters scraped by one Prometheus do not merge.
#[test]
fn every_query_honours_the_job_and_instance_variables() {
    let mut checked = 0;
    for file in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(&read(file)).unwrap();
        for expr in queries(&dashboard).0 {
            let mut raw = false;
            for name in names(&expr) {
                raw |= !name.contains(':') && name != "platformsh_project_info";
                for (at, _) in expr.match_indices(name.as_str()) {
                    let rest = &expr[at + name.len()..];
                    let next = rest.bytes().next();
                    if next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                        continue; // a longer name
                    }
                    let braces = rest.strip_prefix('{').map(|r| &r[..r.find('}').unwrap()]);
                    assert!(
                        braces.is_some_and(|b| b.contains("job=~\"$job\"")),
                        "{file}: {name} without $job in {expr}"
                    );
                    checked += 1;
                }
            }
            if raw {
                assert!(expr.contains("instance=~\"$instance\""), "{file}: {expr}");
            }
        }
    }
    assert!(checked >= 60, "{checked}");
}

#[test]
fn dashboards_follow_the_bundle_conventions() {
    let mut uids = BTreeSet::new();
    for file in DASHBOARDS {
        let d: Value = serde_json::from_str(&read(file)).unwrap();
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_owned()),
            "{file}: uid"
        );
        assert!(
            d.get("__inputs").is_none(),
            "{file}: __inputs breaks file provisioning"
        );
        let vars = d["templating"]["list"].as_array().unwrap();
        assert_eq!(vars[0]["type"], "datasource", "{file}");
        for name in [
            "job",
            "instance",
            "organization",
            "project",
            "environment_type",
        ] {
            assert!(vars.iter().any(|v| v["name"] == name), "{file}: ${name}");
        }
        for panel in d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] != "row")
        {
            let title = panel["title"].as_str().unwrap();
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: {title}"
            );
            assert!(
                !panel["description"].as_str().unwrap_or("").is_empty(),
                "{file}: {title}"
            );
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{file}: {title} unit"
            );
        }
    }
}

/// A Prometheus server on loopback, stopped when dropped.
struct Prometheus {
    child: Child,
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes `target` every second with the bundled rules, evaluated every second.
    async fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for file in RULE_FILES {
            // The DORA group runs every minute in production; a test cannot wait that long.
            let rules = read(file).replace("interval: \"1m\"", "interval: \"1s\"");
            if file.ends_with("rules.yml") {
                assert!(
                    rules.contains("interval: \"1s\""),
                    "{file}: the DORA group's interval"
                );
            }
            let name = Path::new(file).file_name().unwrap();
            std::fs::write(dir.path().join(name), rules).unwrap();
        }
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml, alerts.yml]\n\
             scrape_configs:\n  - job_name: platformsh\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect(
                "prometheus must be installed (Debian package prometheus; .ci/run installs it)",
            );
        let prometheus = Self {
            child,
            url: format!("http://{address}"),
            client: reqwest::Client::new(),
            _dir: dir,
        };
        prometheus
            .wait_for("Prometheus to be ready", || async {
                let ready = prometheus
                    .client
                    .get(format!("{}/-/ready", prometheus.url))
                    .send()
                    .await;
                ready.is_ok_and(|r| r.status().is_success())
            })
            .await;
        prometheus
    }

    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .client
            .get(format!("{}/api/v1/{path}", self.url))
            .query(query)
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(body["status"], "success", "{path} {query:?}: {body}");
        body["data"].clone()
    }

    /// The samples of an instant query.
    async fn query(&self, expr: &str) -> Vec<Value> {
        self.api("query", &[("query", expr)]).await["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn firing(&self, alertname: &str) -> Vec<Value> {
        self.api("alerts", &[]).await["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == alertname && a["state"] == "firing")
            .cloned()
            .collect()
    }

    async fn wait_for<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until Prometheus has scraped `accepted` accepted deliveries, then one more
    /// rule evaluation.
    async fn wait_for_scrape(&self, accepted: u32) {
        let expr = r#"sum(platformsh_exporter_webhooks_total{outcome="accepted"})"#;
        self.wait_for(
            &format!("{accepted} accepted deliveries in Prometheus"),
            || async {
                self.query(expr)
                    .await
                    .first()
                    .and_then(|s| s["value"][1].as_str().map(str::to_owned))
                    == Some(accepted.to_string())
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
}

/// `fixture` with a new id and, if given, other fields replaced.
fn variant(name: &str, id: &str, changes: &Value) -> String {
    let mut body: Value = serde_json::from_slice(&fixture(name)).unwrap();
    body["id"] = json!(id);
    for (key, value) in changes.as_object().unwrap() {
        body[key] = value.clone();
    }
    body.to_string()
}

/// One round of deliveries covering every panel: each fixture, an unfinished push, and a
/// failed then fixed feature branch (for time to recover). Rounds differ in ids and times.
async fn post_round(app: &TestApp, round: u32) -> u32 {
    let mut accepted = 0;
    for name in [
        "push-success-seed.json",
        "cron-success.json",
        "merge-success-staging.json",
        "project-domain-create.json",
        "push-cancelled.json",
        "redeploy-success-production.json",
        "push-in-progress.json",
        "backup-pending.json",
    ] {
        let answer = app
            .post(variant(name, &format!("{name}-{round}"), &json!({})))
            .await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        accepted += 1;
    }
    // Commits delivered to production, with author dates: lead time.
    let lead: Vec<Value> =
        serde_json::from_slice(&fixture("lead/push-to-production.json")).unwrap();
    for activity in lead {
        let id = format!("{}-{round}", activity["id"].as_str().unwrap());
        let mut activity = activity;
        activity["id"] = json!(id);
        activity["payload"]["commits"][0]["sha"] = json!(format!("{round}{}", "a".repeat(39)));
        activity["payload"]["commits"][1]["sha"] = json!(format!("{round}{}", "b".repeat(39)));
        assert_eq!(app.post(activity.to_string()).await.status, 202);
        accepted += 1;
    }
    let hour = 15 + 2 * round;
    let failed = variant(
        "push-failure-development.json",
        &format!("failure-{round}"),
        &json!({"completed_at": format!("2026-11-02T{hour}:00:00+00:00")}),
    );
    let fixed = variant(
        "push-failure-development.json",
        &format!("fix-{round}"),
        &json!({"result": "success", "completed_at": format!("2026-11-02T{}:00:00+00:00", hour + 1)}),
    );
    // And a production one, of another project than the alert's (the DORA levels rate
    // production only): failed, then fixed.
    let failed_production = variant(
        "push-success-seed.json",
        &format!("production-failure-{round}"),
        &json!({"result": "failure", "completed_at": format!("2026-11-02T{hour}:30:00+00:00")}),
    );
    let fixed_production = variant(
        "push-success-seed.json",
        &format!("production-fix-{round}"),
        &json!({"completed_at": format!("2026-11-02T{}:30:00+00:00", hour + 1)}),
    );
    for body in [failed, fixed, failed_production, fixed_production] {
        assert_eq!(app.post(body).await.status, 202);
        accepted += 1;
    }
    // A production change of abc123xyz/main, then an incident there 5 min later, resolved
    // after 10 min: a change failure and a restore, from Alertmanager's notification.
    let change = variant(
        "push-in-progress.json",
        &format!("production-change-{round}"),
        &json!({"state": "complete", "result": "success",
                "completed_at": format!("2026-11-02T{}:35:00+00:00", hour + 1)}),
    );
    assert_eq!(app.post(change).await.status, 202);
    accepted += 1;
    let incident = |status: &str, ends: &str| {
        json!({
            "status": status,
            "labels": {"alertname": "CheckoutDown", "severity": "critical",
                       "project": "abc123xyz", "environment": "main"},
            "annotations": {}, "generatorURL": "", "fingerprint": format!("00000000000000{round:02}"),
            "startsAt": format!("2026-11-02T{}:40:00Z", hour + 1), "endsAt": ends,
        })
    };
    for alert in [
        incident("firing", "0001-01-01T00:00:00Z"),
        incident("resolved", &format!("2026-11-02T{}:50:00Z", hour + 1)),
    ] {
        let notification = json!({"version": "4", "status": "firing", "alerts": [alert]});
        let answer = app.post_to("/alertmanager", notification.to_string()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    accepted
}

/// Grafana's variables, as a user who picked the test's job, "All" for the others and a 1-hour
/// range would send them.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$job", "platformsh")
        .replace("$instance", ".*")
        .replace("$organization", ".*")
        .replace("$project", ".*")
        .replace("$environment_type", ".*")
        .replace("$environment", ".*")
}

#[tokio::test]
async fn dashboards_show_data_and_the_failed_deployment_alert_fires_then_resolves() {
    // Reconciliation on, against the API test double, for its panels and the project titles.
    let double = ApiDouble::start(Behaviour::default()).await;
    let flags = double.flags("abc123xyz");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = spawn_app(&flags).await;
    let prometheus = Prometheus::start(&app.addr.to_string()).await;

    // Two rounds with scrapes between, so rates and quantiles see increases, not new series.
    let mut accepted = post_round(&app, 1).await;
    prometheus.wait_for_scrape(accepted).await;
    accepted += post_round(&app, 2).await;
    prometheus.wait_for_scrape(accepted).await;

    // Prometheus asks for OpenMetrics, which /metrics now gives it: its own parser read every
    // scrape without an error.
    let targets = prometheus.api("targets", &[]).await;
    let target = &targets["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
    every_panel_and_variable_has_data(&prometheus).await;
    tables_show_project_titles(&prometheus).await;
    dora_panels_use_incidents_where_there_are_some(&prometheus).await;
    assert!(
        prometheus
            .firing("PlatformshProductionDeploymentFailed")
            .await
            .is_empty()
    );

    // A production deployment fails: the alert fires for that project and environment.
    let failure = variant(
        "redeploy-success-production.json",
        "production-failure",
        &json!({"result": "failure", "completed_at": "2026-11-03T10:00:00+00:00"}),
    );
    assert_eq!(app.post(failure).await.status, 202);
    prometheus
        .wait_for("the failed-deployment alert to fire", || async {
            !prometheus
                .firing("PlatformshProductionDeploymentFailed")
                .await
                .is_empty()
        })
        .await;
    let alerts = prometheus
        .firing("PlatformshProductionDeploymentFailed")
        .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let labels = &alerts[0]["labels"];
    assert_eq!(
        (
            &labels["project"],
            &labels["environment"],
            &labels["environment_type"],
            &labels["severity"]
        ),
        (
            &json!("abc123xyz"),
            &json!("main"),
            &json!("production"),
            &json!("critical")
        )
    );
    assert_eq!(
        alerts[0]["annotations"]["summary"],
        "Deployment of production environment abc123xyz/main failed"
    );

    // A later successful deployment resolves it.
    let fixed = variant(
        "redeploy-success-production.json",
        "production-fixed",
        &json!({"completed_at": "2026-11-03T11:00:00+00:00"}),
    );
    assert_eq!(app.post(fixed).await.status, 202);
    prometheus
        .wait_for("the failed-deployment alert to resolve", || async {
            prometheus
                .firing("PlatformshProductionDeploymentFailed")
                .await
                .is_empty()
        })
        .await;

    a_deleted_branch_resolves_its_alert(&app, &prometheus).await;
}

/// The DORA panels that fall back from incidents to the proxies: for the project with incidents
/// each shows the incident figure (its left side), for one without them the proxy (its right
/// side), evaluated at one instant.
async fn dora_panels_use_incidents_where_there_are_some(prometheus: &Prometheus) {
    let dashboard: Value = serde_json::from_str(&read("deployments.json")).unwrap();
    let at = format!("{}", chrono::Utc::now().timestamp());
    let value = |samples: Vec<Value>| -> Option<String> {
        samples
            .first()
            .and_then(|s| s["value"][1].as_str().map(str::to_owned))
    };
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap_or_default();
        if !title.starts_with("Change failure rate") && !title.starts_with("Time to restore") {
            continue;
        }
        if panel["type"] != "stat" {
            continue;
        }
        let expr = panel["targets"][0]["expr"].as_str().unwrap();
        // `(incidents) or (proxy)`: split at the top-level `or`.
        let (incidents, proxy) = split_or(expr).unwrap_or_else(|| panel_error(title, expr));
        for (project, side) in [("abc123xyz", incidents), (".*", incidents)] {
            let on = |e: &str| {
                substitute(e).replace("project=~\".*\"", &format!("project=~\"{project}\""))
            };
            let query = |e: String| {
                let at = at.clone();
                async move {
                    prometheus
                        .api("query", &[("query", &e), ("time", &at)])
                        .await["result"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                }
            };
            let shown = value(query(on(expr)).await);
            let from_incidents = value(query(on(side)).await);
            assert!(
                from_incidents.is_some(),
                "{title}: no incident figure for {project}"
            );
            assert_eq!(shown, from_incidents, "{title} for {project}");
        }
        // The other project has deployments but no incidents: the proxy.
        let other = "sx-this-is-an-example-value-hu";
        let on =
            |e: &str| substitute(e).replace("project=~\".*\"", &format!("project=~\"{other}\""));
        let shown = prometheus
            .api("query", &[("query", &on(expr)), ("time", &at)])
            .await["result"]
            .clone();
        let from_proxy = prometheus
            .api("query", &[("query", &on(proxy)), ("time", &at)])
            .await["result"]
            .clone();
        let from_incidents = prometheus
            .api("query", &[("query", &on(incidents)), ("time", &at)])
            .await["result"]
            .clone();
        assert_eq!(
            from_incidents,
            json!([]),
            "{title}: {other} has no incidents"
        );
        assert_ne!(
            from_proxy,
            json!([]),
            "{title}: no proxy figure for {other}"
        );
        assert_eq!(shown, from_proxy, "{title} for {other}");
        checked += 1;
    }
    assert_eq!(
        checked, 4,
        "the DORA row's two stats and the two level stats"
    );
}

fn panel_error(title: &str, expr: &str) -> ! {
    panic!("{title}: not `(incidents) or (proxy)`: {expr}")
}

/// `(a) or (b)` split into `a` and `b`, at the `or` outside every parenthesis.
fn split_or(expr: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    for (i, c) in expr.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && expr[i..].starts_with(" or ") => {
                return Some((expr[..i].trim(), expr[i + 4..].trim()));
            }
            _ => {}
        }
    }
    None
}

/// Tables that list projects show their titles where the API gave them, and ids alone where
/// not.
async fn tables_show_project_titles(prometheus: &Prometheus) {
    let dashboard: Value = serde_json::from_str(&read("overview.json")).unwrap();
    let silence = queries(&dashboard)
        .0
        .into_iter()
        .find(|q| {
            q.starts_with(
                "sort_desc((time() - max by (project) (platformsh_last_activity_timestamp_seconds{",
            )
        })
        .unwrap();
    let samples = prometheus.query(&substitute(&silence)).await;
    let titles: BTreeSet<(String, String)> = samples
        .iter()
        .map(|s| {
            let label = |l: &str| s["metric"][l].as_str().unwrap_or_default().to_owned();
            (label("project"), label("title"))
        })
        .collect();
    assert!(
        titles.contains(&("abc123xyz".into(), "Shop <abc123xyz>".into())),
        "{titles:?}"
    );
    // The environments table links each row to the console, by organization name.
    let environments = queries(&dashboard)
        .0
        .into_iter()
        .find(|q| q.starts_with("min by (project, environment)"))
        .unwrap();
    let rows = prometheus.query(&substitute(&environments)).await;
    assert!(
        rows.iter().any(|r| r["metric"]["organization"] == "acme"),
        "{rows:?}"
    );
    let text = read("overview.json");
    assert!(text.contains(
        "${console}/${__data.fields.organization}/${__data.fields.project}/${__data.fields.environment}"
    ));
    assert!(
        titles.contains(&("sx-this-is-an-example-value-hu".into(), String::new())),
        "{titles:?}"
    );
}

/// A feature branch fails, then is deleted: its warning fires, then resolves with it.
async fn a_deleted_branch_resolves_its_alert(app: &TestApp, prometheus: &Prometheus) {
    let failure = variant(
        "push-failure-development.json",
        "feature-failure",
        &json!({"completed_at": "2026-11-03T12:00:00+00:00"}),
    );
    assert_eq!(app.post(failure).await.status, 202);
    prometheus
        .wait_for("the development alert to fire", || async {
            prometheus.firing("PlatformshDeploymentFailed").await.len() == 1
        })
        .await;
    let delete = variant(
        "environment-delete-development.json",
        "feature-delete",
        &json!({"completed_at": "2026-11-03T13:00:00+00:00"}),
    );
    assert_eq!(app.post(delete).await.status, 202);
    prometheus
        .wait_for("the development alert to resolve", || async {
            prometheus
                .firing("PlatformshDeploymentFailed")
                .await
                .is_empty()
        })
        .await;
}

/// Every panel query and every variable returns at least one sample that is a number.
async fn every_panel_and_variable_has_data(prometheus: &Prometheus) {
    for file in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(&read(file)).unwrap();
        let (exprs, variables) = queries(&dashboard);
        for expr in exprs {
            let expr = substitute(&expr);
            let samples = prometheus.query(&expr).await;
            let numbers = samples
                .iter()
                .filter(|s| s["value"][1].as_str().is_some_and(|v| v != "NaN"))
                .count();
            assert!(numbers > 0, "{file}: no data for {expr}: {samples:?}");
        }
        for variable in variables {
            // query_result(expr) is Grafana's: an instant query, whose results the variable's
            // regex reads.
            if let Some(expr) = variable
                .strip_prefix("query_result(")
                .and_then(|v| v.strip_suffix(')'))
            {
                let samples = prometheus.query(&substitute(expr)).await;
                let titled = samples
                    .iter()
                    .filter(|s| s["metric"]["project"].is_string())
                    .count();
                assert!(titled > 0, "{file}: no values for {variable}: {samples:?}");
                assert!(
                    samples
                        .iter()
                        .any(|s| s["metric"]["title"] == "Shop <abc123xyz>"),
                    "{file}: no title in {samples:?}"
                );
                continue;
            }
            // label_values(selector, label) is Grafana's; Prometheus answers it with this API.
            let inner = variable
                .strip_prefix("label_values(")
                .unwrap()
                .strip_suffix(')')
                .unwrap();
            let (selector, label) = inner.rsplit_once(", ").unwrap();
            let values = prometheus
                .api(
                    &format!("label/{label}/values"),
                    &[("match[]", &substitute(selector))],
                )
                .await;
            assert!(
                !values.as_array().unwrap().is_empty(),
                "{file}: no values for {variable}"
            );
        }
    }
}
