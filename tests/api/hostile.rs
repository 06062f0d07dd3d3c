//! A hostile client cannot stop the exporter from answering: slow headers and bodies are cut
//! off at the request timeout, oversized bodies refused before they are read, deep nesting
//! refused without recursion, and a flood of label values stays within the caps.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, fixture, spawn_app, value};

/// Asserts the exporter still answers its health and metrics endpoints, promptly.
async fn still_answers(app: &TestApp) {
    let started = Instant::now();
    assert_eq!(app.get("/-/healthy").await.status, 200);
    assert_eq!(app.get("/metrics").await.status, 200);
    // Generous: this is about being served at all while attacked, not about speed.
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Reads what the server sends until it closes the connection, at most `limit` long.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut received))
        .await
        .expect("the server should close the connection")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_slow_body_is_cut_off_with_408_while_the_server_keeps_answering() {
    let app = spawn_app(&["--web.request-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"id\":")
        .await
        .unwrap();
    still_answers(&app).await;
    let started = Instant::now();
    let response = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3));
    still_answers(&app).await;
}

#[tokio::test]
async fn slow_headers_are_cut_off_at_the_request_timeout() {
    let app = spawn_app(&["--web.request-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    still_answers(&app).await;
    // The server gives up on the headers and closes: the read ends instead of hanging.
    read_until_closed(&mut stream, Duration::from_secs(10)).await;
    still_answers(&app).await;
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_it_is_sent() {
    let app = spawn_app(&[]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    // Announce a gigabyte and send none of it: the answer must not wait for the body.
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("answered without the body")
        .unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused_once_it_passes_the_limit() {
    let app = spawn_app(&["--webhook.max-body-bytes", "65536"]).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|_| Ok(vec![b' '; 4096])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let answer = app.post(body).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["error"], "too_large");
}

#[tokio::test]
async fn deeply_nested_json_is_handled_without_recursion() {
    let app = spawn_app(&[]).await;
    let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    // As the whole body: not an object.
    let answer = app.post(deep.clone()).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["path"], "$");
    // Where a value is read, refused at that field at once.
    let mut seed: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    seed.as_object_mut().unwrap().remove("id");
    let seed = seed.to_string();
    let open = seed.strip_suffix('}').unwrap();
    let answer = app.post(format!("{open},\"id\":{deep}}}")).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["path"], "$.id");
    // Inside a field it skips (such as `log`): skipped without recursion, accepted.
    let seed = String::from_utf8(fixture("push-success-seed.json")).unwrap();
    let open = seed.trim_end().strip_suffix('}').unwrap();
    let answer = app.post(format!("{open},\"log\":{deep}}}")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    still_answers(&app).await;
}

#[tokio::test]
async fn ten_thousand_distinct_label_values_keep_the_series_bounded() {
    let app = spawn_app(&["--limits.projects", "100", "--limits.environments", "200"]).await;
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();

    let senders = 8;
    let per_sender = 1250;
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let client = app.client.clone();
        let url = app.url("/webhook");
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_sender {
                let mut body = base.clone();
                let n = sender * per_sender + i;
                body["id"] = json!(format!("hostile-{n}"));
                body["project"] = json!(format!("project-{n}"));
                body["payload"]["environment"]["name"] = json!(format!("branch-{n}"));
                let status = client
                    .post(&url)
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 202);
            }
        }));
    }
    // Health and metrics stay answered during the flood.
    for _ in 0..5 {
        still_answers(&app).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }

    let samples = app.scrape().await;
    let projects = samples
        .keys()
        .filter(|k| k.starts_with("platformsh_last_activity_timestamp_seconds{"))
        .count();
    assert_eq!(projects, 101, "100 admitted projects and _overflow");
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_label_overflow_total",
            &[("label", "project")]
        ),
        f64::from(senders * per_sender - 100)
    );
    // Memory is measured against the release binary alone by `scripts/hostile.py`
    // (BENCHMARKS.md): this process's RSS holds every test running beside this one.
}

#[tokio::test]
async fn hundreds_of_idle_connections_do_not_block_other_clients() {
    let app = spawn_app(&[]).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    still_answers(&app).await;
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
}

#[tokio::test]
async fn slow_senders_do_not_hold_up_other_deliveries() {
    let app = spawn_app(&["--web.request-timeout", "20s"]).await;
    // Far more half-sent bodies than any concurrency limit would allow.
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(
                b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"id\":",
            )
            .await
            .unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held up {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bodies_past_the_memory_budget_wait_for_room() {
    // Room for one 9 KB body at a time.
    let app = spawn_app(&[
        "--webhook.body-memory-bytes",
        "16384",
        "--webhook.max-body-bytes",
        "16384",
        "--web.request-timeout",
        "2s",
    ])
    .await;
    let seed = fixture("push-success-seed.json");
    // A sender that sent most of a body and stalls holds most of the budget...
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        seed.len()
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&seed[..seed.len() - 10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...so a whole delivery does not fit until the stalled one times out (408) and frees it.
    let started = Instant::now();
    let answer = app.post(seed.clone()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "did not wait: {:?}",
        started.elapsed()
    );
    let response = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
}

/// Every slot held by a connection that sends nothing, or only the start of an HTTP/2
/// preface: each must be closed within the request timeout, so that a real delivery gets in.
#[tokio::test]
async fn idle_connections_and_partial_http2_prefaces_are_closed_at_the_request_timeout() {
    let app = spawn_app(&["--web.max-connections", "40", "--web.request-timeout", "2s"]).await;
    let mut held = Vec::new();
    for n in 0..50 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        if n % 5 == 0 {
            stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        }
        held.push(stream);
    }
    // Past the connection cap: this delivery waits until idle slots are closed.
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        app.post(fixture("push-success-seed.json")),
    )
    .await
    .expect("a delivery is answered while idle connections hold every slot");
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited {:?}",
        started.elapsed()
    );
    // Every held connection was closed by the server (a read sees the end, not a timeout).
    for mut stream in held {
        read_until_closed(&mut stream, Duration::from_secs(3)).await;
    }
}

/// A full HTTP/2 preface (prior knowledge, h2c) is not served: the connection is closed at
/// once instead of being held open by a protocol the exporter does not bound.
#[tokio::test]
async fn an_http2_preface_is_refused_and_closed() {
    let app = spawn_app(&[]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let started = Instant::now();
    read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Sends the head and all but `missing` bytes of a `length`-byte body, then stalls.
async fn stalled_body(app: &TestApp, length: usize, missing: usize) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&vec![b' '; length - missing])
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn stalled_large_bodies_do_not_hold_up_a_small_delivery() {
    let app = spawn_app(&[
        "--webhook.body-memory-bytes",
        "4194304",
        "--webhook.max-body-bytes",
        "1048576",
        "--web.request-timeout",
        "20s",
        "--webhook.body-gap-timeout",
        "20s",
    ])
    .await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stalled_body(&app, 1024 * 1024, 100).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let small = json!({
        "id": "small-delivery", "type": "environment.push", "project": "p",
        "state": "complete", "result": "success",
        "completed_at": "2026-11-29T10:00:00Z", "payload": {"environment": {"name": "main"}},
    });
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), app.post(small.to_string()))
        .await
        .expect("a small delivery is answered while large bodies stall");
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "held up {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_cut_off_at_the_gap_timeout() {
    let app = spawn_app(&[
        "--web.request-timeout",
        "30s",
        "--webhook.body-gap-timeout",
        "1s",
    ])
    .await;
    let mut stream = stalled_body(&app, 50_000, 10).await;
    let started = Instant::now();
    let response = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("stalled"), "{response}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut off after {:?}",
        started.elapsed()
    );
}

/// Fills the families with `n` label sets of long names (a project and type each, so every
/// histogram gets a series of its own: about 12 KB of exposition each), 16 senders at once.
async fn label_sets(app: &TestApp, n: usize) {
    let base: serde_json::Value =
        serde_json::from_slice(&fixture("push-success-seed.json")).unwrap();
    let mut tasks = Vec::new();
    for sender in 0..16 {
        let (client, url, base) = (app.client.clone(), app.url("/webhook"), base.clone());
        tasks.push(tokio::spawn(async move {
            for i in (sender..n).step_by(16) {
                let mut body = base.clone();
                body["id"] = json!(format!("big-{i}"));
                let long = "x".repeat(100);
                body["project"] = json!(format!("project-{i}-{long}"));
                body["type"] = json!(format!("environment.kind-{i}-{long}"));
                let sent = client.post(&url).body(body.to_string()).send().await;
                assert_eq!(sent.unwrap().status(), 202);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// A scrape whose client never reads: a socket with the smallest receive buffer, so the
/// server's writes stall as soon as its own send buffer is full.
async fn unread_scrape(app: &TestApp) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn scrapes_that_are_never_read_are_cut_off_and_hold_no_slot() {
    let app = spawn_app(&[
        "--storage.in-memory",
        "--web.request-timeout",
        "2s",
        "--web.max-connections",
        "4",
        "--limits.projects",
        "5000",
        "--limits.types",
        "5000",
    ])
    .await;
    label_sets(&app, 800).await;
    let size = app.exposition().await.len();
    assert!(size > 8_000_000, "the exposition is {size} bytes");

    let mut unread = Vec::new();
    for _ in 0..4 {
        unread.push(unread_scrape(&app).await);
    }
    // Every slot is held by a scrape nobody reads: a delivery gets in once the send timeout
    // has closed them, not never.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        app.post(fixture("push-failure-development.json")),
    )
    .await
    .expect("a delivery is answered once the stalled scrapes are cut off");
    assert_eq!(answer.status, 202);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Each stalled answer was cut off before its end.
    for mut stream in unread {
        let received = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(
            received.starts_with("HTTP/1.1 200"),
            "{}",
            &received[..40.min(received.len())]
        );
        assert!(
            received.len() < size,
            "{} of {size} bytes sent",
            received.len()
        );
    }
    still_answers(&app).await;
}
