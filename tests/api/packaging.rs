//! Ways to run it: the systemd unit passes `systemd-analyze verify` (and its security audit);
//! the binary runs as the container image runs it, and its healthcheck tells a serving exporter
//! from none. (The image itself needs a base image from a registry CI cannot reach.)

use std::path::Path;
use std::process::Command;

use crate::helpers::spawn_app;

const BINARY: &str = env!("CARGO_BIN_EXE_platformsh-exporter");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // As installed, but with the binary where this build put it.
    let unit = read("deploy/systemd/platformsh-exporter.service").replace(
        "ExecStart=platformsh-exporter",
        &format!("ExecStart={BINARY}"),
    );
    assert!(unit.contains(BINARY), "the unit's ExecStart moved");
    let path = dir.path().join("platformsh-exporter.service");
    std::fs::write(&path, unit).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // verify exits 0 on values it ignores: any remark is a mistake in the unit.
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");
    let security = Command::new("systemd-analyze")
        // Exposure is scored 0 to 10, the threshold 0 to 100: fail above 2.0 ("OK" is < 3).
        .args(["security", "--offline=true", "--threshold=20"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(security.status.success(), "exposure above 2:\n{report}");
    assert!(report.contains("Overall exposure level"), "{report}");
}

#[test]
fn the_dockerfile_runs_the_binary_as_non_root_with_a_volume_and_a_healthcheck() {
    let dockerfile = read("Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    // Multi-stage, a final user that is not root, the store on a volume, a healthcheck that
    // needs no shell, and the exec form for the entry point (signals reach the exporter).
    assert_eq!(
        instructions
            .iter()
            .filter(|l| l.starts_with("FROM "))
            .count(),
        2
    );
    assert!(instructions.contains(&"USER 65532:65532"));
    assert!(instructions.contains(&"ENV PLATFORMSH_EXPORTER_STORAGE_PATH=/data/store.db"));
    assert!(instructions.contains(&r#"VOLUME ["/data"]"#));
    // The image says its revision though .dockerignore leaves .git out.
    assert!(instructions.contains(&"ARG SOURCE_REVISION=unknown"));
    assert!(dockerfile.contains(r#"SOURCE_REVISION="$SOURCE_REVISION" cargo build"#));
    assert!(read(".dockerignore").lines().any(|l| l == ".git"));
    assert!(instructions.contains(&r#"ENTRYPOINT ["/usr/local/bin/platformsh-exporter"]"#));
    assert!(dockerfile.contains(r#"CMD ["/usr/local/bin/platformsh-exporter", "healthcheck"]"#));
    // Every base image is pinned to a tag, never `latest` (hadolint DL3006/DL3007).
    for from in instructions.iter().filter(|l| l.starts_with("FROM ")) {
        let image = from.split_whitespace().nth(1).unwrap();
        assert!(image.contains(':') && !image.ends_with(":latest"), "{from}");
    }
}

/// Runs the binary with `args` off the runtime's thread (the exporter under test answers on it).
async fn run(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || Command::new(BINARY).args(args).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_healthcheck_passes_against_a_serving_exporter_and_fails_without_one() {
    let app = spawn_app(&[]).await;
    let ready = run(&["healthcheck", "--url", &app.url("/-/ready")]).await;
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    // Derived from --web.listen-address, as the image runs it.
    let address = app.addr.to_string();
    let derived = run(&["--web.listen-address", &address, "healthcheck"]).await;
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    // After the subcommand too, as `docker run … healthcheck --web.listen-address=…` puts it.
    let after = run(&["healthcheck", "--web.listen-address", &address]).await;
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    app.stop().await.unwrap();
    let gone = run(&["--web.listen-address", &address, "healthcheck"]).await;
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("unhealthy"));
}

/// The image's entry point with the image's environment: the exporter serves from an empty
/// data directory, as the container's first start would.
#[tokio::test]
async fn the_binary_starts_as_the_image_starts_it() {
    let data = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let mut child = Command::new(BINARY)
        .env(
            "PLATFORMSH_EXPORTER_STORAGE_PATH",
            data.path().join("store.db"),
        )
        .env(
            "PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS",
            format!("127.0.0.1:{port}"),
        )
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let healthy = loop {
        let check = Command::new(BINARY)
            .env(
                "PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS",
                format!("127.0.0.1:{port}"),
            )
            .arg("healthcheck")
            .output()
            .unwrap();
        if check.status.success() || std::time::Instant::now() > deadline {
            break check.status.success();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy);
    assert!(data.path().join("store.db").exists());
}

/// The Upsun example: the store on a mount of the instance's own disk (not network storage),
/// a pinned toolchain no older than `rust-version`, built in the build cache by a hook that is
/// valid shell, the port Upsun gives, and a basic-auth file that the exporter refuses until its
/// placeholder hash is replaced (a forgotten edit fails loudly rather than serving the pages
/// unprotected).
#[test]
fn the_upsun_example_keeps_its_store_on_the_mount_and_refuses_the_placeholder_password() {
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("deploy/upsun/.upsun/config.yaml")).unwrap();
    let app = &config["applications"]["platformsh-exporter"];
    assert_eq!(app["type"], "rust:1");
    let mounts = app["mounts"].as_mapping().unwrap();
    assert_eq!(mounts.len(), 1);
    let (_, mount_config) = mounts.iter().next().unwrap();
    assert_eq!(mount_config["source"], "instance");
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
    let pinned = app["variables"]["env"]["RUST_TOOLCHAIN"].as_str().unwrap();
    assert_eq!(version(pinned).len(), 3, "a whole version: {pinned}");
    let manifest = read("Cargo.toml");
    let minimum = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .unwrap()
        .trim_end_matches('"');
    assert!(version(pinned) >= version(minimum), "{pinned} < {minimum}");
    let hook = app["hooks"]["build"].as_str().unwrap();
    assert!(
        hook.contains("CARGO_TARGET_DIR=\"$PLATFORM_CACHE_DIR/target\""),
        "{hook}"
    );
    assert!(hook.contains("+$RUST_TOOLCHAIN"), "{hook}");
    let syntax = Command::new("sh")
        .args(["-n", "-c", hook])
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");
    let start = app["web"]["commands"]["start"].as_str().unwrap();
    assert!(
        start.contains("--web.listen-address=\"0.0.0.0:$PORT\""),
        "{start}"
    );
    let env = &app["variables"]["env"];
    let store = env["PLATFORMSH_EXPORTER_STORAGE_PATH"].as_str().unwrap();
    let mount = app["mounts"]
        .as_mapping()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        store.starts_with(&format!("/app/{mount}/")),
        "{store} on {mount}"
    );
    let web_config = env["PLATFORMSH_EXPORTER_WEB_CONFIG_FILE"].as_str().unwrap();
    let in_repository = web_config.strip_prefix("/app/").unwrap();
    let refused = Command::new(BINARY)
        .args(["--storage.in-memory", "--web.listen-address=127.0.0.1:0"])
        .arg(format!(
            "--web.config.file={}",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(in_repository)
                .display()
        ))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let log = String::from_utf8_lossy(&refused.stderr);
    assert!(log.contains("web-config.yml"), "{log}");
}

/// Under the shipped unit's `ProcSubset=pid` only `/proc/<pid>` is visible (no `/proc/stat`,
/// where the boot time is): the binary in a mount namespace with such a `/proc` still gives its
/// true start time, and CPU time finer than whole seconds.
#[tokio::test]
async fn process_metrics_are_right_where_only_the_process_own_proc_is_visible() {
    let probe = Command::new("unshare")
        .args([
            "--mount",
            "--fork",
            "sh",
            "-c",
            "mount -t proc -o subset=pid proc /proc && ! test -e /proc/stat",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: cannot mount a /proc with subset=pid here (needs root, as CI has)");
        return;
    }
    let port = crate::helpers::free_port();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut child = Command::new("unshare")
        .args(["--mount", "--fork", "--kill-child", "sh", "-c"])
        .arg(format!(
            "mount -t proc -o subset=pid proc /proc && exec {BINARY} \
             --web.listen-address=127.0.0.1:{port} --storage.in-memory"
        ))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let first = loop {
        if let Ok(answer) = reqwest::get(&url).await {
            break answer.text().await.unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the exporter did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Some work, so that the CPU time is past a tick and short of a second.
    let mut text = first;
    for _ in 0..100 {
        text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let samples = crate::helpers::parse_exposition(&text);
    let start = samples["process_start_time_seconds"];
    assert!(
        start > started - 5.0 && start < started + 20.0,
        "process_start_time_seconds {start}, the test started it at {started}"
    );
    assert!(samples["process_cpu_seconds_total"] > 0.0, "{text}");
    assert!(samples["process_resident_memory_bytes"] > 0.0);
    assert!(samples["process_open_fds"] > 0.0);
}
