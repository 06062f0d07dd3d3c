//! The exposition passes `promtool check metrics` (Prometheus's own linter).

use std::io::Write;
use std::process::{Command, Stdio};

use platformsh_exporter::catalogue::FAMILIES;

use crate::helpers::{VALID_FIXTURES, fixture, spawn_app};

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    let app = spawn_app(&[]).await;
    for name in VALID_FIXTURES {
        app.post(fixture(name)).await;
    }
    app.post(fixture("invalid/array.json")).await;
    let text = app.exposition().await;

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
    // Recovery needs a failure then a success of one environment. (The exporter's own
    // counters are there from the start, at 0.)
    assert_eq!(absent, ["platformsh_deployment_recovery_seconds"]);

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
