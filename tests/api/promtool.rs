//! The exposition passes `promtool check metrics` (Prometheus's own linter).

use std::io::Write;
use std::process::{Command, Stdio};

use platformsh_exporter::catalogue::FAMILIES;

use crate::helpers::{VALID_FIXTURES, fixture, spawn_app};
use crate::platformsh_double::{ApiDouble, Behaviour};

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    // Reconciliation on, against the API test double: its families are checked too.
    let double = ApiDouble::start(Behaviour::default()).await;
    let flags = double.flags("abc123xyz");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = spawn_app(&flags).await;
    for name in VALID_FIXTURES {
        app.post(fixture(name)).await;
    }
    app.post(fixture("invalid/array.json")).await;
    let polled = "platformsh_exporter_api_last_success_timestamp_seconds{";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let text = app.exposition().await;
        if text.contains(polled) {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no poll: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    // Every family the fixtures touch is exposed with the type metrics::FAMILIES declares.
    let mut absent = Vec::new();
    for family in FAMILIES {
        if text.contains(&format!("# TYPE {} ", family.name)) {
            let line = format!("# TYPE {} {}", family.name, family.kind.as_str());
            assert!(text.contains(&line), "expected {line:?}");
        } else {
            absent.push(family.name);
        }
    }
    // Recovery needs a failure then a success of one environment; commit lead time, commits
    // with an author date (newer payloads than the fixtures). (The exporter's own counters
    // are there from the start, at 0; the reconciliation ones from the first poll; the
    // verified signatures by key only with a shared key, which this exporter has not; the
    // incident families from the first incident.)
    assert_eq!(
        absent,
        [
            "platformsh_deployment_recovery_seconds",
            "platformsh_incidents_total",
            "platformsh_incidents_open",
            "platformsh_change_failures_total",
            "platformsh_incident_restore_seconds",
            "platformsh_commit_lead_time_seconds",
            "platformsh_exporter_webhook_signatures_verified_total"
        ]
    );

    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (Debian package prometheus; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(report.trim().is_empty(), "promtool has remarks:\n{report}");
}
