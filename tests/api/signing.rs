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
            "platformsh_restarts_total",
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
    let err = platformsh_exporter::app::run(listener, config, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key"), "{err}");
}

/// Every file a flag names is read before the store is opened: a bad one is reported at once,
/// not after a replay, and leaves no store behind.
#[tokio::test]
async fn files_are_read_before_the_store_is_opened() {
    use clap::Parser;
    use platformsh_exporter::app::StartError;
    use platformsh_exporter::config::ConfigError;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let store_flag = store.to_str().unwrap();
    let bad_web_config = dir.path().join("web.yml");
    std::fs::write(&bad_web_config, "basic_auth_users: [not, a, map]\n").unwrap();
    let cases: [(&str, &str, &str); 3] = [
        (
            "--webhook.shared-key-file",
            "/nonexistent/key",
            "cannot read the shared key file",
        ),
        (
            "--web.config.file",
            bad_web_config.to_str().unwrap(),
            "the web config file",
        ),
        (
            "--platformsh.api-token-file",
            "/nonexistent/token",
            "cannot read the API token file",
        ),
    ];
    for (flag, file, message) in cases {
        let config = platformsh_exporter::Config::parse_from([
            "x",
            "--storage.path",
            store_flag,
            flag,
            file,
        ]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = platformsh_exporter::app::run(listener, config, async {})
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with(message), "{flag}: {err}");
        assert!(err.to_string().contains(file), "{flag}: {err}");
        let is_unreadable = matches!(
            &err,
            StartError::Config(ConfigError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
        );
        let is_invalid = matches!(&err, StartError::Config(ConfigError::Invalid { .. }));
        assert!(is_unreadable || is_invalid, "{flag}: {err:?}");
        assert!(!store.exists(), "{flag}: the store was opened first");
    }
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

/// A blank key from the flag, the variable or the file stops the exporter at start: it would
/// refuse unsigned deliveries (looking protected) and accept any signed with the empty key.
#[tokio::test]
async fn a_blank_shared_key_from_any_source_is_a_startup_error() {
    let binary = env!("CARGO_BIN_EXE_platformsh-exporter");
    let dir = tempfile::tempdir().unwrap();
    let blank_file = dir.path().join("blank-key");
    std::fs::write(&blank_file, "  \n").unwrap();
    let store = dir.path().join("store.db");
    let cases: [(&[&str], Option<&str>); 4] = [
        (&["--webhook.shared-key="], None),
        (&["--webhook.shared-key", "   "], None),
        (&[], Some("")),
        (
            &["--webhook.shared-key-file", blank_file.to_str().unwrap()],
            None,
        ),
    ];
    for (args, variable) in cases {
        let mut command = std::process::Command::new(binary);
        command
            .args(["--web.listen-address", "127.0.0.1:0", "--storage.path"])
            .arg(&store)
            .args(args)
            .env_remove("PLATFORMSH_EXPORTER_WEBHOOK_SHARED_KEY");
        if let Some(value) = variable {
            command.env("PLATFORMSH_EXPORTER_WEBHOOK_SHARED_KEY", value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {variable:?} started");
        assert!(stderr.contains("empty or blank"), "{args:?}: {stderr}");
    }
}

/// README's recipe as written: `openssl rand -base64 32 | tr -d '\n' > key`. The key has `+`
/// and `/`; whether Platform.sh MACs with its text or its decoded bytes, deliveries verify.
#[tokio::test]
async fn the_readme_key_recipe_gives_a_key_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared-key");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl rand -base64 32 | tr -d '\\n' > {}",
            path.display()
        ))
        .status()
        .expect("sh and openssl (installed by .ci/run)");
    assert!(status.success());
    let key = std::fs::read_to_string(&path).unwrap();
    let app = spawn_app(&["--webhook.shared-key-file", path.to_str().unwrap()]).await;
    let body = fixture("push-success-seed.json");
    let decoded = STANDARD.decode(&key).unwrap();
    for (n, bytes) in [key.as_bytes(), &decoded[..]].into_iter().enumerate() {
        let mut body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        body["id"] = format!("recipe-{n}").into();
        let body = body.to_string();
        let answer = app.post_signed(body.clone(), &sign(bytes, &body)).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
}

/// A compact detached JWS over `body`, as Platform.sh sends it.
pub fn sign(key: &[u8], body: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{header}.{body}").as_bytes());
    format!(
        "{header}..{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Rotation: a key file with the new key and the old one, one per line. A delivery signed with
/// either is accepted, and the verified counter says which key it was; a third key is refused.
#[tokio::test]
async fn with_two_keys_in_the_file_either_verifies_and_the_metric_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared-keys");
    std::fs::write(&path, "new-key-Bq3\r\n\nold-key-Xz9\n").unwrap();
    let app = spawn_app(&["--webhook.shared-key-file", path.to_str().unwrap()]).await;
    let verified = |samples: &crate::helpers::Samples, key: &str| {
        value(
            samples,
            "platformsh_exporter_webhook_signatures_verified_total",
            &[("key", key)],
        )
    };
    let before = app.scrape().await;
    assert_eq!((verified(&before, "1"), verified(&before, "2")), (0.0, 0.0));
    let seed = fixture("push-success-seed.json");
    for (n, key) in ["old-key-Xz9", "new-key-Bq3", "old-key-Xz9"]
        .iter()
        .enumerate()
    {
        let mut body: serde_json::Value = serde_json::from_slice(&seed).unwrap();
        body["id"] = format!("rotation-{n}").into();
        let body = body.to_string();
        let answer = app
            .post_signed(body.clone(), &sign(key.as_bytes(), &body))
            .await;
        assert_eq!(answer.status, 202, "{key}: {}", answer.body);
    }
    let mut body: serde_json::Value = serde_json::from_slice(&seed).unwrap();
    body["id"] = "rotation-other".into();
    let body = body.to_string();
    let refused = app
        .post_signed(body.clone(), &sign(b"other-key", &body))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let after = app.scrape().await;
    assert_eq!((verified(&after, "1"), verified(&after, "2")), (1.0, 2.0));
}
