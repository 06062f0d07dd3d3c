//! Criterion benchmarks of each step of the data path: parse, record, render, store.
//! `cargo bench --bench pipeline`; figures and the machine are in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use platformsh_exporter::activity::{Activity, parse};
use platformsh_exporter::exposition::{self, Format, text::Text};
use platformsh_exporter::labels::Limits;
use platformsh_exporter::record::{Recorder, Settings};
use platformsh_exporter::store::Store;
use platformsh_exporter::telemetry::Telemetry;

const SEED: &[u8] = include_bytes!("../tests/fixtures/push-success-seed.json");

/// The seed with a `log` of `size` bytes, as a real build log would make it.
fn with_log(size: usize) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
    let line = "Building application 'app' (runtime type: php:8.3, tree: 8d2e600)\n";
    v["log"] = line.repeat(size / line.len() + 1)[..size].into();
    serde_json::to_vec(&v).unwrap()
}

fn recorder(limits: Limits) -> Recorder {
    let settings = Settings {
        limits,
        dedup_capacity: 100_000,
        ..Settings::default()
    };
    Recorder::new(settings)
}

/// What `examples/lean_receiver.rs` parses: the floor for a typed parse of the seed.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Lean<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    project: &'a str,
    result: Option<&'a str>,
    environments: Vec<&'a str>,
    started_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    completed_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("lean_baseline_seed", |b| {
        b.iter(|| serde_json::from_slice::<Lean<'_>>(black_box(SEED)).unwrap());
    });
    let big = with_log(1 << 20);
    for (name, body) in [("seed", SEED.to_vec()), ("seed_with_1MiB_log", big)] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse(black_box(&body)).unwrap()));
    }
    group.finish();
}

fn bench_record(c: &mut Criterion) {
    let seed = parse(SEED).unwrap();
    let mut recorder = recorder(Limits::default());
    let mut n = 0u64;
    // A new id each time, so deduplication records rather than short-circuits.
    c.bench_function("record/seed_unique_id", |b| {
        b.iter_batched(
            || {
                n += 1;
                Activity {
                    id: format!("bench-{n}"),
                    ..seed.clone()
                }
            },
            |a| recorder.record(&a, Utc::now()),
            BatchSize::SmallInput,
        );
    });
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    let seed = parse(SEED).unwrap();
    // Each environment adds 5 series (activities, deployments and 3 last-deployment gauges).
    for environments in [200, 2000, 20_000] {
        let limits = Limits {
            environments: 100_000,
            series: 100_000,
            ..Limits::default()
        };
        let mut recorder = recorder(limits);
        for i in 0..environments {
            let a = Activity {
                id: format!("render-{i}"),
                environment: format!("env-{i}"),
                ..seed.clone()
            };
            recorder.record(&a, Utc::now());
        }
        let series = recorder
            .text()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count();
        group.throughput(Throughput::Elements(series as u64));
        // After a delivery changed the activity families: written again, and the exporter's
        // own metrics appended, as a scrape does.
        // The buffer is reused, as the recorder reuses its own.
        let mut buffer = String::new();
        let telemetry = Telemetry::new();
        group.bench_with_input(BenchmarkId::new("changed", series), &recorder, |b, r| {
            b.iter(|| {
                buffer.clear();
                r.families().walk(&mut Text::new(&mut buffer));
                let mut text = buffer.clone();
                exposition::write(&telemetry, Format::Text, &mut text);
                text
            });
        });
        group.bench_with_input(
            BenchmarkId::new("activity_families_only", series),
            &recorder,
            |b, r| {
                b.iter(|| {
                    buffer.clear();
                    r.families().walk(&mut Text::new(&mut buffer));
                    buffer.len()
                });
            },
        );
        // No delivery since the last scrape: the activity families' text is reused (the
        // scrapes of one generation share it).
        let written = recorder.text();
        group.bench_function(BenchmarkId::new("unchanged", series), |b| {
            b.iter(|| {
                let mut text = written.clone();
                exposition::write(&telemetry, Format::Text, &mut text);
                text
            });
        });
    }
    group.finish();
}

fn bench_store(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_commit_64_concurrent");
    group.sample_size(10);
    group.throughput(Throughput::Elements(64));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seed = parse(SEED).unwrap();
    for max_batch in [1, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Mutex::new(recorder(Limits::default())));
        let commits = Telemetry::new().store_commits().clone();
        let store = Store::open(&dir.path().join("bench.db"), rec, commits, max_batch, None)
            .unwrap()
            .store;
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("max_batch", max_batch), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let inserts: Vec<_> = (0..64)
                        .map(|_| {
                            n += 1;
                            let a = Activity {
                                id: format!("store-{n}"),
                                ..seed.clone()
                            };
                            let store = store.clone();
                            tokio::spawn(async move { store.insert(a, Utc::now()).await })
                        })
                        .collect();
                    for insert in inserts {
                        insert.await.unwrap().unwrap();
                    }
                });
            });
        });
    }
    group.finish();
}

/// The whole in-process path of one delivery through the router (extractors, layers, parse,
/// record, answer), without sockets: memory-only mode, a new id each time.
fn bench_router(c: &mut Criterion) {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config =
        <platformsh_exporter::Config as clap::Parser>::parse_from(["bench", "--storage.in-memory"]);
    let opened = platformsh_exporter::app::App::build(config)
        .and_then(platformsh_exporter::app::App::open)
        .unwrap();
    let router = opened.router();
    let seed = String::from_utf8(SEED.to_vec()).unwrap();
    let mut n = 0u64;
    c.bench_function("router/webhook_seed_unique_id", |b| {
        b.iter_batched(
            || {
                n += 1;
                let body = seed.replacen(
                    "774-this-is-an-example-valuexzs4no",
                    &format!("router-{n}"),
                    1,
                );
                Request::post("/webhook")
                    .header("content-type", "application/json")
                    .header("content-length", body.len())
                    .body(Body::from(body))
                    .unwrap()
            },
            |request| {
                runtime.block_on(async {
                    let response = router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 202);
                    axum::body::to_bytes(response.into_body(), 1024)
                        .await
                        .unwrap()
                })
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(
    benches,
    bench_parse,
    bench_record,
    bench_router,
    bench_render,
    bench_store
);
criterion_main!(benches);
