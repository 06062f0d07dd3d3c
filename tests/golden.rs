//! The exposition is a contract: the same activities must give the same bytes, in the text
//! format, in OpenMetrics (with exemplars) and in `history`, whatever the code that writes them
//! becomes. A stream of every fixture and a large generated one (seeded: the same stream at
//! every run) are recorded, and each output's SHA-256 is compared with the one the code wrote
//! before its writers were rewritten (issue 20: one exposition path). On a mismatch the output
//! is left in `target/tmp/golden/` to be compared with the previous revision's. A change meant
//! to change the metrics updates the hashes in the same commit, having read that diff (issue
//! 21's split of changes and restarts did: redeploys and resource updates moved from
//! `platformsh_deployments_total` to `platformsh_restarts_total`, variable changes became
//! deployments, and nothing else moved; so did its tie rule: the fixtures' failed and
//! successful redeploys of one environment at one instant now leave it failing, without the
//! 0-second recovery they used to observe; and the phase family's HELP, which says that
//! `execute` spans the whole run).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use platformsh_exporter::activity::{Activity, parse};
use platformsh_exporter::exposition::Format;
use platformsh_exporter::history::{self, Options};
use platformsh_exporter::labels::Limits;
use platformsh_exporter::record::{self, Recorder, Settings};
use platformsh_exporter::store::Store;
use platformsh_exporter::telemetry::Telemetry;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Small caps, so that overflow and `_overflow` series are part of the output too.
fn settings() -> Settings {
    Settings {
        limits: Limits {
            projects: 6,
            environments: 40,
            types: 10,
            ..Limits::default()
        },
        forget_after: Some(Duration::from_secs(20 * 24 * 3600)),
        ..Settings::default()
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn at(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

const TYPES: &[&str] = &[
    "environment.push",
    "environment.push",
    "environment.push",
    "environment.redeploy",
    "environment.merge",
    "environment.cron",
    "environment.backup",
    "environment.variable.update",
    "environment.resources.update",
    "environment.branch",
    "environment.deactivate",
    "environment.delete",
    "project.domain.create",
];

/// `n` activities of 8 projects (two past the cap), each with environments of every type and
/// some past the cap, in every state and result, with commits, phases and odd names.
fn generated(n: usize) -> Vec<(Activity, DateTime<Utc>)> {
    let mut rng = StdRng::seed_from_u64(20);
    let mut out = Vec::with_capacity(n);
    let mut clock = start();
    for i in 0..n {
        clock += chrono::Duration::seconds(rng.random_range(1..120));
        let project = format!("proj-{}", rng.random_range(0..8));
        let kind = *TYPES.choose(&mut rng).unwrap();
        let (environment, environment_type) = match rng.random_range(0..10) {
            0..=3 => ("main".to_owned(), "production"),
            4..=5 => ("staging".to_owned(), "staging"),
            6 => ("we\"ird\\name".to_owned(), "development"),
            _ => (format!("pr-{}", rng.random_range(0..16)), "development"),
        };
        let state = *[
            "complete",
            "complete",
            "complete",
            "in_progress",
            "pending",
            "cancelled",
        ]
        .choose(&mut rng)
        .unwrap();
        let result = match state {
            "complete" => json!(if rng.random_bool(0.8) {
                "success"
            } else {
                "failure"
            }),
            _ => Value::Null,
        };
        let created = clock - chrono::Duration::seconds(rng.random_range(0..3000));
        let started = created + chrono::Duration::milliseconds(rng.random_range(0..90_000));
        let completed = started + chrono::Duration::milliseconds(rng.random_range(0..5_000_000));
        let finished = matches!(state, "complete" | "cancelled");
        let commits: Vec<Value> = (0..rng.random_range(0..6))
            .map(|c| {
                json!({
                    "sha": format!("{:040x}", rng.random_range(0..400u64) * 1000 + c),
                    "author": {"date": at(created - chrono::Duration::hours(rng.random_range(0..72)))},
                })
            })
            .collect();
        let id = if i % 97 == 0 {
            format!("long-{}-{}", "x".repeat(130), i)
        } else {
            format!("act-{i}")
        };
        let activity = json!({
            "id": id,
            "type": kind,
            "project": project,
            "environments": [environment],
            "parameters": {"environment": environment},
            "state": state,
            "result": result,
            "created_at": at(created),
            "started_at": at(started),
            "updated_at": at(if finished { completed } else { started }),
            "completed_at": if finished { at(completed) } else { Value::Null },
            "completion_percent": if finished { 100 } else { 40 },
            "payload": {
                "environment": {
                    "name": environment,
                    "id": environment,
                    "type": environment_type,
                    "status": "active",
                },
                "commits": commits,
                "commits_count": commits.len(),
            },
        });
        let bytes = serde_json::to_vec(&activity).unwrap();
        let received = if finished { completed } else { started };
        let received = received + chrono::Duration::milliseconds(rng.random_range(0..2_000));
        out.push((
            parse(&bytes).expect("a generated activity parses"),
            received,
        ));
    }
    out
}

/// Every fixture that parses, received in file order an hour apart.
fn fixtures() -> Vec<(Activity, DateTime<Utc>)> {
    let mut paths = Vec::new();
    for folder in [
        "tests/fixtures",
        "tests/fixtures/lead",
        "tests/fixtures/odd",
    ] {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut out = Vec::new();
    let mut received = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let activities: Vec<Value> = match serde_json::from_slice(&bytes).unwrap() {
            Value::Array(many) => many,
            one => vec![one],
        };
        for activity in activities {
            if let Ok(activity) = parse(&serde_json::to_vec(&activity).unwrap()) {
                received += chrono::Duration::hours(1);
                // A fixture's own time may be years before: it is received when it says.
                let own = activity.completed_at.or(activity.started_at);
                out.push((activity, own.map_or(received, |t| t.max(received))));
            }
        }
    }
    out
}

/// What a scrape at `now` shows, in both formats.
fn exposition(stream: &[(Activity, DateTime<Utc>)], now: DateTime<Utc>) -> (String, String) {
    let mut recorder = Recorder::new(settings());
    for (activity, received) in stream {
        recorder.record(activity, *received);
    }
    record::expire(&mut recorder, now);
    let snapshot = recorder.snapshot();
    (
        snapshot.write(Format::Text),
        snapshot.write(Format::OpenMetrics),
    )
}

/// What `history --step 1h` writes for the stream, stored first.
fn history(stream: &[(Activity, DateTime<Utc>)], now: DateTime<Utc>, dir: &Path) -> String {
    let path = dir.join("golden.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    runtime.block_on(async {
        let recorder = Arc::new(Mutex::new(Recorder::new(settings())));
        let commits = Telemetry::new().store_commits().clone();
        let store = Store::open(&path, recorder, commits, 64, None)
            .unwrap()
            .store;
        // Together, so that the writer commits them in a few groups, not one fsync each.
        let mut inserts = tokio::task::JoinSet::new();
        for (activity, received) in stream {
            let (store, activity, received) = (store.clone(), activity.clone(), *received);
            inserts.spawn(async move { store.insert(activity, received).await });
        }
        while let Some(recorded) = inserts.join_next().await {
            recorded.unwrap().unwrap();
        }
        store.close().await.unwrap();
    });
    let options = Options {
        since: Duration::from_secs(2 * 24 * 3600),
        step: Some(Duration::from_secs(6 * 3600)),
        now,
    };
    let mut out = Vec::new();
    history::write(&path, settings(), &options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn sha256(text: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Compares each output's hash; writes the ones that differ to `target/golden/`.
fn check(name: &str, outputs: &[(&str, &str)], expected: &[&str]) {
    let actual: Vec<String> = outputs.iter().map(|(_, text)| sha256(text)).collect();
    let mut wrong = Vec::new();
    for ((what, text), (actual, expected)) in outputs.iter().zip(actual.iter().zip(expected)) {
        if actual != expected {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{name}-{what}.txt"));
            std::fs::write(&file, text).unwrap();
            wrong.push(format!("{what}: {actual} (written to {})", file.display()));
        }
    }
    assert!(wrong.is_empty(), "{name} changed:\n{}", wrong.join("\n"));
}

/// The exposition of the whole stream, and the history of its first `history_of` activities
/// (history writes every series after each activity: its cost grows with both).
fn outputs(
    stream: &[(Activity, DateTime<Utc>)],
    history_of: usize,
    now: DateTime<Utc>,
) -> [String; 3] {
    let dir = tempfile::tempdir().unwrap();
    let (text, openmetrics) = exposition(stream, now);
    let first = &stream[..history_of.min(stream.len())];
    let end = first.iter().map(|(_, r)| *r).max().unwrap() + chrono::Duration::minutes(30);
    [text, openmetrics, history(first, end, dir.path())]
}

#[test]
fn the_fixtures_are_written_as_before() {
    let stream = fixtures();
    assert!(stream.len() >= 20, "{} fixtures", stream.len());
    let now = stream.iter().map(|(_, r)| *r).max().unwrap() + chrono::Duration::minutes(30);
    let [text, openmetrics, history] = outputs(&stream, usize::MAX, now);
    assert!(
        openmetrics.contains("# {activity_id=\""),
        "exemplars are part of it"
    );
    check(
        "fixtures",
        &[
            ("text", &text),
            ("openmetrics", &openmetrics),
            ("history", &history),
        ],
        &[
            "73a155e842eee709173d6f2336da47fc472e49ae0e03edf082ab85f432a72377",
            "ce6da6d40a0b96c58efdcd9835faa87c7c128fbf66289d240b72b7aed03a058c",
            "4cbe0e3a59ea45af378e04a2e19d3ee9815ab8631e4d4a97d072a2c939f4c9aa",
        ],
    );
}

#[test]
fn a_large_generated_stream_is_written_as_before() {
    let stream = generated(20_000);
    let now = stream.iter().map(|(_, r)| *r).max().unwrap() + chrono::Duration::minutes(30);
    let [text, openmetrics, history] = outputs(&stream, 600, now);
    assert!(text.contains("_overflow"), "the caps are part of it");
    assert!(text.len() > 100_000, "{} bytes", text.len());
    check(
        "generated",
        &[
            ("text", &text),
            ("openmetrics", &openmetrics),
            ("history", &history),
        ],
        &[
            "1c6a08ed6c84794ee2dfaca7cf8cbcdf57d13092ed53e33d8e7c5b0ade946baa",
            "060f094671098c1bf7a0b52eb675cc44cc0554a0f2830e46fc0ee189d4002b25",
            "3698e56b00bb15d0ffb94ddf76fc1f573f405b7f5162448bdd637819f3b47f36",
        ],
    );
}
