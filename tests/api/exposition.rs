//! `/metrics` in the format the scraper asks for: OpenMetrics for Prometheus (which parses it in
//! the monitoring test), the text format otherwise, gzip when asked.

use std::io::Read;

use crate::helpers::{VALID_FIXTURES, fixture, parse_exposition, spawn_app};

/// What Prometheus 2.42 sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test]
async fn prometheus_gets_openmetrics_with_the_same_samples_and_others_the_text_format() {
    let app = spawn_app(&[]).await;
    for name in VALID_FIXTURES {
        app.post(fixture(name)).await;
    }
    let client = reqwest::Client::new();
    let openmetrics = client
        .get(app.url("/metrics"))
        .header("accept", PROMETHEUS_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        openmetrics.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let openmetrics = openmetrics.text().await.unwrap();
    let plain = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(plain.headers()["content-type"], "text/plain; version=0.0.4");
    let plain = plain.text().await.unwrap();

    assert!(openmetrics.ends_with("\n# EOF\n"));
    assert_eq!(openmetrics.matches("# EOF").count(), 1);
    // Counter families are named without `_total`, their samples with it.
    assert!(openmetrics.contains("# TYPE platformsh_activities counter\n"));
    assert!(openmetrics.contains("# HELP platformsh_activities Finished"));
    assert!(openmetrics.contains("\nplatformsh_activities_total{"));
    assert!(!openmetrics.contains("# TYPE platformsh_activities_total"));
    // The duration histograms carry, on the bucket of each observation, the activity it came
    // from (the seed push: 128.372843 s, in the 300 s bucket, completed 1512643659.369741).
    let exemplar = "le=\"300\"} 1 # {activity_id=\"774-this-is-an-example-valuexzs4no\"} \
                    128.372843 1512643659.369741\n";
    let with_exemplar: Vec<&str> = openmetrics.lines().filter(|l| l.contains(" # {")).collect();
    assert!(
        with_exemplar
            .iter()
            .any(|l| format!("{l}\n").ends_with(exemplar)
                && l.starts_with("platformsh_activity_duration_seconds_bucket{")
                && l.contains("project=\"sx-this-is-an-example-value-hu\"")),
        "{with_exemplar:#?}"
    );
    assert!(
        with_exemplar
            .iter()
            .all(|l| l.starts_with("platformsh_activity_duration_seconds_bucket{"))
    );
    assert!(!plain.contains(" # {"));
    // The same samples, whatever the format (process metrics move between the two scrapes).
    let samples = |text: &str| {
        let mut plain = String::new();
        for line in text.replace("# EOF\n", "").lines() {
            // An exemplar is not a sample.
            plain.push_str(line.split(" # {").next().unwrap());
            plain.push('\n');
        }
        let text = plain;
        parse_exposition(&text)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("process_"))
            .collect::<crate::helpers::Samples>()
    };
    assert_eq!(samples(&openmetrics), samples(&plain));
}

#[tokio::test]
async fn metrics_are_gzipped_when_the_scraper_asks() {
    let app = spawn_app(&[]).await;
    app.post(fixture("push-success-seed.json")).await;
    let answer = reqwest::Client::new()
        .get(app.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-encoding"], "gzip");
    let compressed = answer.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("platformsh_activities_total{"), "{text}");
    assert!(
        compressed.len() * 3 < text.len(),
        "{} of {}",
        compressed.len(),
        text.len()
    );
    // Not asked, not compressed.
    let plain = reqwest::Client::new()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
}

/// An independent parser, the Python client's (Debian's python3-prometheus-client, installed
/// by `.ci/run`), reads both formats, exemplars included.
#[tokio::test]
async fn the_python_client_s_parsers_read_both_formats() {
    const PYTHON: &str = "/usr/bin/python3";
    let available = std::process::Command::new(PYTHON)
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!(
            "SKIPPED: {PYTHON} has no prometheus_client (apt-get install python3-prometheus-client)"
        );
        return;
    }
    let app = spawn_app(&[]).await;
    for name in VALID_FIXTURES {
        app.post(fixture(name)).await;
    }
    let client = reqwest::Client::new();
    for (accept, module) in [
        (PROMETHEUS_ACCEPT, "prometheus_client.openmetrics.parser"),
        ("text/plain", "prometheus_client.parser"),
    ] {
        let body = client
            .get(app.url("/metrics"))
            .header("accept", accept)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let script = format!(
            "import sys\nfrom {module} import text_string_to_metric_families as parse\n\
             families = list(parse(sys.stdin.read()))\n\
             exemplars = sum(1 for f in families for s in f.samples if s.exemplar)\n\
             print(len(families), exemplars)"
        );
        let output = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = std::process::Command::new(PYTHON)
                .args(["-c", &script])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(body.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{module}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (families, exemplars) = said.trim().split_once(' ').unwrap();
        assert!(families.parse::<usize>().unwrap() > 15, "{module}: {said}");
        let exemplars: usize = exemplars.parse().unwrap();
        if module.contains("openmetrics") {
            assert!(exemplars > 0, "{said}");
        } else {
            assert_eq!(exemplars, 0);
        }
    }
}
