//! The HTTP/2 attack of `scripts/hostile.py`, which Python's standard library cannot speak:
//! N connections (prior knowledge, h2c), each a POST to the webhook whose body sends 1 MiB and
//! then stalls. After three seconds a small HTTP/1 delivery is timed, and the server's peak
//! RSS is read from /proc.
//!
//! `cargo run --release --example h2_attack -- 127.0.0.1:9887 600 <exporter pid>`

use std::time::{Duration, Instant};

use futures_util::StreamExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("address");
    let connections: usize = args.next().map_or(600, |n| n.parse().expect("a count"));
    let pid = args.next().expect("the exporter's pid");
    let url = format!("http://{addr}/webhook");

    let mut attacks = Vec::new();
    for _ in 0..connections {
        // A client each: one connection each, as many windows as connections.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let chunks = (0..16).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
        let body = futures_util::stream::iter(chunks).chain(futures_util::stream::pending());
        let request = client
            .post(&url)
            .header("content-length", "16777216")
            .body(reqwest::Body::wrap_stream(body));
        attacks.push(tokio::spawn(async move { request.send().await.is_ok() }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = attacks.iter().filter(|a| a.is_finished()).count();

    let small = r#"{"id":"h2-small","type":"environment.push","project":"p","state":"complete",
        "result":"success","completed_at":"2026-11-29T10:00:00Z"}"#;
    let started = Instant::now();
    let status = reqwest::Client::new()
        .post(&url)
        .body(small)
        .send()
        .await
        .map_or_else(|e| e.to_string(), |r| r.status().to_string());
    let waited = started.elapsed();
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(str::to_owned)
        .unwrap_or_default();
    println!(
        "http2: {connections} h2c connections each sending 1 MiB of a body then stalling; \
         {refused} ended by the server within 3 s; a small HTTP/1 delivery got {status} after \
         {:.0} ms; server {peak}",
        waited.as_secs_f64() * 1000.0
    );
    for attack in attacks {
        attack.abort();
    }
}
