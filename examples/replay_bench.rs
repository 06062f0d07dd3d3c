//! Start-up replay benchmark: stores N activities (default 1 000 000) through the store's own
//! insert path, then times what a restart does with them, `Store::open` replaying every one
//! through the recorder. Prints the replay time, the store's size per activity, and the time
//! of `/api/v1/activities` queries with each filter (median of 21).
//!
//! `cargo run --release --example replay_bench -- 1000000 [folder]`

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use platformsh_exporter::activity::{Activity, parse};
use platformsh_exporter::record::{Recorder, Settings};
use platformsh_exporter::store::{Query, Store};
use platformsh_exporter::telemetry::{StoreCommits, Telemetry};

const SEED: &[u8] = include_bytes!("../tests/fixtures/push-success-seed.json");
const TYPES: [&str; 4] = [
    "environment.push",
    "environment.redeploy",
    "environment.cron",
    "environment.backup",
];

fn recorder() -> Arc<Mutex<Recorder>> {
    Arc::new(Mutex::new(Recorder::new(Settings::default())))
}

fn commits() -> StoreCommits {
    Telemetry::new().store_commits().clone()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::args()
        .nth(2)
        .map_or_else(|| tempfile::tempdir().unwrap().keep(), Into::into);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("replay.db");
    let _ = std::fs::remove_file(&path);
    let seed = parse(SEED).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let started = Instant::now();
    let store = Store::open(&path, recorder(), commits(), 1024, None)
        .unwrap()
        .store;
    runtime.block_on(async {
        // 256 senders at a time, so group commit fills its batches as under load.
        let mut pending = Vec::with_capacity(256);
        for i in 0..n {
            let activity = Activity {
                id: format!("replay-{i:08}"),
                project: format!("project-{}", i % 20),
                environment: format!("env-{}", i % 200),
                kind: TYPES[i % TYPES.len()].to_owned(),
                ..seed.clone()
            };
            let store = store.clone();
            pending.push(tokio::spawn(async move {
                store.insert(activity, Utc::now()).await.unwrap()
            }));
            if pending.len() == 256 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap();
        }
    });
    let filled = started.elapsed();
    // Closes the database and releases its lock before it is measured and opened again.
    runtime.block_on(store.close()).unwrap();
    let bytes: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum();

    let started = Instant::now();
    let opened = Store::open(&path, recorder(), commits(), 1024, None).unwrap();
    let replay = started.elapsed();
    println!(
        "stored {n} activities in {:.1} s ({:.0}/s); store {:.1} MB, {:.0} bytes per activity",
        filled.as_secs_f64(),
        n as f64 / filled.as_secs_f64(),
        bytes as f64 / 1e6,
        bytes as f64 / n as f64
    );
    println!(
        "replayed {} activities in {:.2} s ({:.2} us each)",
        opened.replayed,
        replay.as_secs_f64(),
        replay.as_secs_f64() * 1e6 / opened.replayed as f64
    );
    time_queries(&runtime, &opened.store, &seed, n);
}

/// Times `/api/v1/activities` queries with each filter, median of 21.
fn time_queries(runtime: &tokio::runtime::Runtime, store: &Store, seed: &Activity, n: usize) {
    let rare = format!("rare-{}", n / 2);
    if n > 0 {
        // One activity of a project seen once, half-way through the log.
        let activity = Activity {
            id: "rare".into(),
            project: rare.clone(),
            ..seed.clone()
        };
        runtime
            .block_on(store.insert(activity, Utc::now()))
            .unwrap();
    }
    let queries = [
        ("project", Some("project-7"), None, None),
        ("project seen once", Some(rare.as_str()), None, None),
        (
            "project and environment",
            Some("project-7"),
            Some("env-27"),
            None,
        ),
        ("type", None, None, Some("environment.cron")),
        ("none", None, None, None),
    ];
    for (name, project, environment, kind) in queries {
        let mut times: Vec<f64> = (0..21)
            .map(|_| {
                let query = Query {
                    project: project.map(Into::into),
                    environment: environment.map(Into::into),
                    kind: kind.map(Into::into),
                    result: None,
                    limit: 100,
                };
                let started = Instant::now();
                let found = runtime.block_on(store.recent(query)).unwrap();
                assert!(!found.is_empty(), "{name}");
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("/api/v1/activities filtered by {name}: {:.2} ms", times[10]);
    }
}
