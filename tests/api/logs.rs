//! The exporter's log, as the binary writes it on stderr: start-up lines, one line per
//! accepted delivery, refusals at warn but a few a minute, logfmt or JSON, and never a token.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{answer, fixture};

const SECRET: &str = "secret-api-token-for-the-log-test";

/// The binary, serving on a free port with `flags`; its stderr is read when it stops.
struct Exporter {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Exporter {
    async fn start(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::helpers::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("store.db").display()
            ))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/-/ready")).await.is_err() {
            assert!(Instant::now() < deadline, "the exporter did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url,
            _dir: dir,
        }
    }

    async fn post(&self, body: impl Into<reqwest::Body>) -> u16 {
        let request = reqwest::Client::new()
            .post(format!("{}/webhook", self.url))
            .body(body);
        answer(request).await.status
    }

    /// Stops the exporter (SIGKILL: the log is already written) and returns its stderr.
    fn log(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

#[tokio::test]
async fn logfmt_lines_say_what_started_each_delivery_and_a_few_refusals() {
    let exporter = Exporter::start(&[
        "--webhook.shared-key",
        "k",
        "--platformsh.api-token",
        SECRET,
        "--platformsh.api-url",
        "http://127.0.0.1:1",
        "--platformsh.auth-url",
        "http://127.0.0.1:1",
        "--platformsh.projects",
        "p",
    ])
    .await;
    // Unsigned: all refused (401); only the first ten of the minute are logged.
    for _ in 0..25 {
        assert_eq!(exporter.post(fixture("push-success-seed.json")).await, 401);
    }
    let log = exporter.log();
    let lines: Vec<&str> = log.lines().collect();
    for expected in [
        "msg=listening",
        "msg=serving",
        "msg=\"replayed the activity store\"",
        "msg=\"webhook signatures are required (X-JWS-Signature)\"",
        "msg=\"reconciliation with the Platform.sh API is on\"",
        "level=warn msg=\"no Alertmanager credential configured: anyone who can reach the exporter can post incidents (see --alertmanager.credentials-file)\"",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "no {expected} in\n{log}"
        );
    }
    let refused: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("msg=\"webhook delivery refused\""))
        .collect();
    assert_eq!(refused.len(), 10, "{log}");
    // Each names its sender: the connection's peer (no trusted proxy, so nothing forwarded).
    assert!(
        refused.iter().all(|l| l.contains("level=warn")
            && l.contains("outcome=unauthorized")
            && l.contains("remote=127.0.0.1")),
        "{log}"
    );
    assert!(!log.contains(SECRET), "the API token is in the log:\n{log}");
    assert!(lines.iter().all(|l| l.starts_with("ts=")), "{log}");
}

#[tokio::test]
async fn json_lines_carry_one_accepted_delivery_each() {
    let exporter = Exporter::start(&["--log.format", "json"]).await;
    assert_eq!(
        exporter
            .post(fixture("push-failure-development.json"))
            .await,
        202
    );
    assert_eq!(
        exporter
            .post(fixture("push-failure-development.json"))
            .await,
        200
    );
    let log = exporter.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let deliveries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["msg"] == "webhook delivery")
        .collect();
    // The duplicate changed nothing: logged at debug only.
    assert_eq!(deliveries.len(), 1, "{log}");
    // Flat: the fields sit beside time, level and msg, not under "fields".
    let fields = deliveries[0];
    assert!(fields.get("fields").is_none(), "{log}");
    assert!(
        fields["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{log}"
    );
    assert_eq!(fields["outcome"], "accepted");
    assert_eq!(fields["id"], "ujzde8gxd6ncf10epf91dhodzd");
    assert_eq!(fields["type"], "environment.push");
    assert_eq!(fields["project"], "abc123xyz");
    assert_eq!(fields["environment"], "feature-login");
    assert_eq!(fields["result"], "failure");
    assert!(lines.iter().any(|l| l["msg"]
        == "reconciliation with the Platform.sh API is off (see --platformsh.api-token-file)"));

    let exporter = Exporter::start(&["--log.format", "json", "--log.level", "debug"]).await;
    for status in [202, 200] {
        let body = fixture("push-failure-development.json");
        assert_eq!(exporter.post(body).await, status);
    }
    let log = exporter.log();
    let duplicate = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["outcome"] == "duplicate")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(duplicate["level"], "debug");
}
