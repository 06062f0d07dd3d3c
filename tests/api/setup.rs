//! `platformsh-exporter setup`, the real binary, against the API test double: the dry run
//! changes nothing and lists the plan; `--apply` creates, updates and removes exactly what
//! the plan said and verifies it; a second `--apply` is a no-op; a foreign webhook is left
//! alone; a forbidden project is reported while the others succeed; the shared key appears in
//! no output or log.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::platformsh_double::{API_TOKEN, ApiDouble, Behaviour};

const URL: &str = "https://exporter.example.com/webhook";
const KEY: &str = "s3cr3t-shared-key-Zq8xW";
const STATES: [&str; 6] = [
    "pending",
    "scheduled",
    "staged",
    "in_progress",
    "complete",
    "cancelled",
];

/// Five projects: none here yet (beside a chat webhook and an email), one here with the
/// default states, one here as it should be, two here, and one whose integrations the token
/// cannot read.
fn projects() -> HashMap<String, Value> {
    let chat = json!({"id": "chat", "type": "webhook", "url": "https://chat.example.com/hook",
                      "states": ["complete"], "shared_key": "chat-key"});
    let email = json!({"id": "mail", "type": "health.email", "recipients": ["ops@example.com"]});
    let right = json!({"id": "right", "type": "webhook", "url": URL, "events": ["*"],
                       "states": STATES, "environments": ["*"], "excluded_environments": [],
                       "result": "*", "shared_key": KEY});
    let mut wrong = right.clone();
    wrong["id"] = json!("wrong");
    wrong["states"] = json!(["complete"]);
    let mut second = right.clone();
    second["id"] = json!("second");
    HashMap::from([
        ("p-new".to_owned(), json!([chat, email])),
        ("p-wrong".to_owned(), json!([wrong])),
        ("p-right".to_owned(), json!([right.clone()])),
        ("p-twice".to_owned(), json!([right, second])),
    ])
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `setup` with `args`: the token and the key come from the environment and a file, as
/// README says to pass them, never argv.
async fn setup(double: &ApiDouble, key_file: &std::path::Path, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"));
    command
        .arg("setup")
        .args(args)
        .env_clear()
        .env("PLATFORMSH_EXPORTER_PLATFORMSH_API_TOKEN", API_TOKEN)
        .env("PLATFORMSH_EXPORTER_PLATFORMSH_API_URL", &double.url)
        .env("PLATFORMSH_EXPORTER_PLATFORMSH_AUTH_URL", &double.url)
        .env(
            "PLATFORMSH_EXPORTER_PLATFORMSH_PROJECTS",
            "p-new,p-wrong,p-right,p-twice,p-forbidden",
        )
        .env("PLATFORMSH_EXPORTER_WEBHOOK_PUBLIC_URL", URL)
        .env("PLATFORMSH_EXPORTER_WEBHOOK_SHARED_KEY_FILE", key_file)
        .env("PLATFORMSH_EXPORTER_LOG_LEVEL", "trace");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "the key leaked: {}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// Requests that change something (create, update, remove), as the double saw them.
fn writes(double: &ApiDouble) -> Vec<String> {
    double.seen(|s| {
        s.requests
            .iter()
            .filter(|r| {
                (r.starts_with("POST") && !r.ends_with("/validate") && !r.contains("oauth2"))
                    || r.starts_with("PATCH")
                    || r.starts_with("DELETE")
            })
            .cloned()
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_plans_applies_once_and_never_shows_the_key() {
    let double = ApiDouble::start(Behaviour {
        integrations: projects(),
        ..Behaviour::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("shared-key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let before: Vec<Value> = ["p-new", "p-wrong", "p-right", "p-twice"]
        .iter()
        .map(|p| double.integrations(p))
        .collect();

    // Dry run: the plan, nothing changed; the forbidden project fails the exit code.
    let dry = setup(&double, &key_file, &[]).await;
    assert_eq!(dry.code, 1, "{}\n{}", dry.stdout, dry.stderr);
    assert!(dry.stdout.contains("dry run"), "{}", dry.stdout);
    let line = |project: &str| {
        dry.stdout
            .lines()
            .find(|l| l.starts_with(project))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("p-new ").contains("create a webhook integration"));
    assert!(line("p-wrong").contains("update wrong: states, shared_key"));
    assert!(line("p-right").contains("right is as it should be"));
    assert!(line("p-right").contains("not shown by the API"));
    assert!(line("p-twice").contains("remove second"));
    assert!(line("p-forbidden").contains("403"), "{}", dry.stdout);
    assert_eq!(writes(&double), Vec::<String>::new());

    let json_run = setup(&double, &key_file, &["--output", "json"]).await;
    let report: Value = serde_json::from_str(&json_run.stdout).unwrap();
    assert_eq!(report["applied"], false);
    let plans: HashMap<String, Value> = report["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["project"].as_str().unwrap().to_owned(), p.clone()))
        .collect();
    assert_eq!(plans["p-new"]["steps"], json!([{"action": "create"}]));
    assert_eq!(
        plans["p-wrong"]["steps"],
        json!([{"action": "update", "integration": "wrong", "fields": ["states", "shared_key"]}])
    );
    assert_eq!(plans["p-right"]["key"], "unknown");
    assert!(
        plans["p-forbidden"]["error"]
            .as_str()
            .unwrap()
            .contains("403")
    );
    assert_eq!(writes(&double), Vec::<String>::new());
    let unchanged: Vec<Value> = ["p-new", "p-wrong", "p-right", "p-twice"]
        .iter()
        .map(|p| double.integrations(p))
        .collect();
    assert_eq!(unchanged, before);

    // Apply.
    let applied = setup(&double, &key_file, &["--apply"]).await;
    assert_eq!(applied.code, 1, "{}\n{}", applied.stdout, applied.stderr);
    assert_eq!(
        writes(&double),
        vec![
            "POST /projects/p-new/integrations".to_owned(),
            "PATCH /projects/p-wrong/integrations/wrong".to_owned(),
            "DELETE /projects/p-twice/integrations/second".to_owned(),
        ]
    );
    for project in ["p-new", "p-wrong", "p-right", "p-twice"] {
        let list = double.integrations(project);
        let here: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["url"] == URL)
            .collect();
        assert_eq!(here.len(), 1, "{project}: {list}");
        assert_eq!(here[0]["states"], json!(STATES), "{project}");
        assert_eq!(here[0]["events"], json!(["*"]), "{project}");
        assert_eq!(here[0]["environments"], json!(["*"]), "{project}");
        assert_eq!(here[0]["shared_key"], KEY, "{project}");
        assert_eq!(here[0]["type"], "webhook", "{project}");
    }
    // The chat webhook and the email integration are as they were.
    let new = double.integrations("p-new");
    assert_eq!(new[0], before[0][0]);
    assert_eq!(new[1], before[0][1]);
    assert_eq!(new.as_array().unwrap().len(), 3);
    let verified = applied
        .stdout
        .lines()
        .filter(|l| l.contains("done, verified; validation: valid"))
        .count();
    assert_eq!(verified, 4, "{}", applied.stdout);
    assert!(applied.stdout.contains("FAILED"), "{}", applied.stdout);

    // A second apply changes nothing.
    let again = setup(&double, &key_file, &["--apply"]).await;
    assert_eq!(again.code, 1);
    assert_eq!(writes(&double).len(), 3, "{:?}", writes(&double));
    assert!(!again.stdout.contains("create a"), "{}", again.stdout);
    assert!(!again.stdout.contains("update"), "{}", again.stdout);
}

/// Without a public URL or a token, setup says what it needs and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_without_its_flags_says_what_it_needs() {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_platformsh-exporter"))
            .args(["setup", "--apply"])
            .env_clear()
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("setup needs an API token"), "{stderr}");
}
