//! With a shared key, only correctly signed deliveries are recorded; basic auth on the pages.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::helpers::{answer, fixture, spawn_app, value};

fn key_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    // Written with a trailing newline, as editors and `echo` do.
    let key = String::from_utf8(fixture("signed/shared-key.txt")).unwrap();
    std::fs::write(&path, format!("{}\n", key.trim_end())).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

fn signature() -> String {
    String::from_utf8(fixture("signed/x-jws-signature.txt"))
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_signed_delivery_is_accepted_end_to_end() {
    let (_dir, key) = key_file();
    let app = spawn_app(&["--webhook.shared-key-file", &key]).await;
    let answer = app
        .post_signed(fixture("signed/body.json"), &signature())
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.json()["id"], "5lo50djzdnbj0ddlz2uhfkvml7");
    let samples = app.scrape().await;
    assert_eq!(
        value(
            &samples,
            "platformsh_deployments_total",
            &[
                ("project", "abc123xyz"),
                ("environment", "main"),
                ("environment_type", "production"),
                ("result", "success"),
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn the_key_can_come_from_the_environment_variable_flag() {
    let key = String::from_utf8(fixture("signed/shared-key.txt")).unwrap();
    let app = spawn_app(&["--webhook.shared-key", key.trim_end()]).await;
    let answer = app
        .post_signed(fixture("signed/body.json"), &signature())
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
}

#[tokio::test]
async fn unsigned_or_tampered_deliveries_are_refused_with_401_and_change_nothing() {
    let (_dir, key) = key_file();
    let app = spawn_app(&["--webhook.shared-key-file", &key]).await;
    let before: Vec<_> = app
        .scrape()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("platformsh_") && !k.starts_with("platformsh_exporter_"))
        .collect();

    let unsigned = app.post(fixture("signed/body.json")).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.json()["error"], "unauthorized");
    assert!(
        unsigned.json()["message"]
            .as_str()
            .unwrap()
            .contains("missing")
    );

    let mut body = fixture("signed/body.json");
    let at = body.iter().position(|&b| b == b'5').unwrap();
    body[at] = b'6';
    let tampered = app.post_signed(body, &signature()).await;
    assert_eq!(tampered.status, 401);
    assert_eq!(
        tampered.json()["message"],
        "the signature does not match the body"
    );

    // A valid signature of another body does not carry over.
    let other = app
        .post_signed(fixture("push-success-seed.json"), &signature())
        .await;
    assert_eq!(other.status, 401);

    let samples = app.scrape().await;
    let after: Vec<_> = samples
        .iter()
        .filter(|(k, _)| k.starts_with("platformsh_") && !k.starts_with("platformsh_exporter_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(after, before);
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "unauthorized")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "platformsh_exporter_webhooks_total",
            &[("outcome", "accepted")]
        ),
        0.0
    );
}

#[tokio::test]
async fn an_unreadable_key_file_is_a_startup_error_naming_the_path() {
    use clap::Parser;
    let config = platformsh_exporter::Config::parse_from([
        "x",
        "--webhook.shared-key-file",
        "/nonexistent/key",
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = platformsh_exporter::server::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key"), "{err}");
}

#[tokio::test]
async fn basic_auth_protects_every_page_but_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    let app = spawn_app(&["--web.config.file", path.to_str().unwrap()]).await;

    for page in ["/metrics", "/", "/-/healthy"] {
        let anonymous = app.get(page).await;
        assert_eq!(anonymous.status, 401, "{page}");
        let wrong = answer(
            app.client
                .get(app.url(page))
                .basic_auth("prometheus", Some("nope")),
        )
        .await;
        assert_eq!(wrong.status, 401, "{page}");
        let right = answer(
            app.client
                .get(app.url(page))
                .basic_auth("prometheus", Some("scrape-secret")),
        )
        .await;
        assert_eq!(right.status, 200, "{page}");
    }
    // Platform.sh cannot send credentials: the webhook stays open.
    assert_eq!(
        app.post(fixture("push-success-seed.json")).await.status,
        202
    );
    let raw = format!("Basic {}", STANDARD.encode("prometheus:scrape-secret"));
    let metrics = answer(
        app.client
            .get(app.url("/metrics"))
            .header("authorization", raw),
    )
    .await;
    assert!(metrics.body.contains("platformsh_activities_total{"));
}
