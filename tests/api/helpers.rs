//! `spawn_app` and the exposition parser the tests compare samples with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use platformsh_exporter::Config;
use tokio::sync::oneshot;

/// A running exporter on a free loopback port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), platformsh_exporter::app::StartError>>>,
    /// The store's folder, unless the flags named one.
    _storage: Option<tempfile::TempDir>,
}

/// Starts the server with the given flags (and every other flag at its default), storing in a
/// fresh temporary folder unless the flags say where or `--storage.in-memory`.
pub async fn spawn_app(flags: &[&str]) -> TestApp {
    spawn_app_at("127.0.0.1:0", flags).await
}

/// [`spawn_app`] on a given address: one a sender outside the test (an Alertmanager) posts to,
/// kept across a restart.
pub async fn spawn_app_at(address: &str, flags: &[&str]) -> TestApp {
    let mut args: Vec<String> = ["platformsh-exporter", "--web.listen-address", "127.0.0.1:0"]
        .iter()
        .chain(flags)
        .map(|s| (*s).to_owned())
        .collect();
    let storage = if flags
        .iter()
        .any(|f| f.starts_with("--storage.path") || *f == "--storage.in-memory")
    {
        None
    } else {
        let dir = tempfile::tempdir().unwrap();
        args.push("--storage.path".into());
        args.push(dir.path().join("store.db").to_str().unwrap().to_owned());
        Some(dir)
    };
    let config = Config::parse_from(args);
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(platformsh_exporter::app::run(
        listener,
        config.clone(),
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        addr,
        // No connection reuse: the server closes idle connections at its header timeout, and a
        // pooled connection closed under the client would fail a request for the wrong reason.
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        config,
        shutdown: Some(tx),
        handle: Some(handle),
        _storage: storage,
    }
}

/// A response's status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, body: impl Into<reqwest::Body>) -> Answer {
        let path = self.config.webhook_path.clone();
        self.post_to(&path, body).await
    }

    pub async fn post_to(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        let request = self.client.post(self.url(path)).body(body);
        answer(request.header("content-type", "application/json")).await
    }

    /// Posts to the webhook with an `X-JWS-Signature` header.
    pub async fn post_signed(&self, body: impl Into<reqwest::Body>, signature: &str) -> Answer {
        let request = self
            .client
            .post(self.url(&self.config.webhook_path))
            .body(body);
        answer(request.header("x-jws-signature", signature)).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(self.client.get(self.url(path))).await
    }

    /// The raw exposition text.
    pub async fn exposition(&self) -> String {
        let answer = self.get(&self.config.telemetry_path.clone()).await;
        assert_eq!(answer.status, 200);
        answer.body
    }

    pub async fn scrape(&self) -> Samples {
        parse_exposition(&self.exposition().await)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> Result<(), platformsh_exporter::app::StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap().await.unwrap()
    }
}

/// Sends the request and reads the whole answer.
pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}

/// Every valid fixture of a finished or unfinished activity, in a fixed order.
pub const VALID_FIXTURES: &[&str] = &[
    "push-success-seed.json",
    "backup-pending.json",
    "cron-success.json",
    "merge-success-staging.json",
    "project-domain-create.json",
    "push-cancelled.json",
    "push-failure-development.json",
    "push-in-progress.json",
    "redeploy-success-production.json",
    "odd/completed-before-started.json",
    "odd/unknown-future-type.json",
];

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Samples keyed by `name{label="value",…}` with labels sorted by name.
pub type Samples = BTreeMap<String, f64>;

/// Parses the Prometheus text format (as the `prometheus` crate writes it) into samples.
pub fn parse_exposition(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
        };
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, rest)) => {
                let labels = parse_labels(rest.strip_suffix('}').expect("closing brace"));
                series_key(name, &labels)
            }
        };
        assert!(
            samples.insert(key, value).is_none(),
            "duplicate series {line}"
        );
    }
    samples
}

fn parse_labels(mut s: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        s = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The key of one series: `name{a="1",b="2"}`, labels sorted.
pub fn series_key(name: &str, labels: &[(impl AsRef<str>, impl AsRef<str>)]) -> String {
    let mut labels: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    labels.sort_unstable();
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if inner.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", inner.join(","))
    }
}

/// The activity samples: `platformsh_*` without the exporter's own metrics and without
/// histogram buckets (checked separately where they matter).
pub fn activity_samples(samples: &Samples) -> Samples {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with("platformsh_") && !k.starts_with("platformsh_exporter_"))
        .filter(|(k, _)| !k.contains("_bucket{"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Asserts that `actual` holds exactly the `expected` series, with values equal to within
/// float rounding (timestamps carry microseconds).
pub fn assert_exactly(actual: &Samples, expected: &[(String, f64)]) {
    let expected: Samples = expected.iter().cloned().collect();
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let unexpected: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing: {missing:#?}\nunexpected: {unexpected:#?}"
    );
    for (key, want) in &expected {
        let got = actual[key];
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{key}: got {got}, want {want}"
        );
    }
}

/// Builds one expected sample: `s("name", &[("label", "value")], 1.0)`.
pub fn s(name: &str, labels: &[(&str, &str)], value: f64) -> (String, f64) {
    (series_key(name, labels), value)
}

/// The value of one series, or 0 if it is absent.
pub fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .get(&series_key(name, labels))
        .copied()
        .unwrap_or(0.0)
}

/// A port free on 127.0.0.1 now, for a process of its own to listen on (the binary, a
/// Prometheus).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
