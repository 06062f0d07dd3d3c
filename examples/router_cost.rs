//! Drives N deliveries (unique ids, memory-only) through the exporter's router in process, for
//! instruction counts that do not depend on a noisy machine:
//!
//! `valgrind --tool=callgrind target/release/examples/router_cost 20000`
//! (instructions per delivery = the total Ir / N, less the start-up run with N = 0).

use axum::body::Body;
use axum::http::Request;
use clap::Parser;
use tower::ServiceExt;

const SEED: &str = include_str!("../tests/fixtures/push-success-seed.json");

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = platformsh_exporter::Config::parse_from(["router_cost", "--storage.in-memory"]);
    let opened = platformsh_exporter::app::App::build(config)
        .and_then(platformsh_exporter::app::App::open)
        .unwrap();
    let router = opened.router();
    runtime.block_on(async {
        for i in 0..n {
            let body = SEED.replacen(
                "774-this-is-an-example-valuexzs4no",
                &format!("cost-{i}"),
                1,
            );
            let request = Request::post("/webhook")
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(Body::from(body))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 202);
            axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
        }
    });
}
