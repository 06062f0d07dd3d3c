//! The Kubernetes base (`deploy/kubernetes/`): valid offline against the Kubernetes and
//! Prometheus Operator schemas, locked down as it says, and its pod's probes passing with basic
//! auth on.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_platformsh-exporter");

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

fn validator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubernetes/validate.py")
}

/// The files `kustomization.yaml` lists, in its order.
fn resources() -> Vec<PathBuf> {
    let kustomization: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(base().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| base().join(r.as_str().unwrap()))
        .collect()
}

fn document(file: &str) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(base().join(file)).unwrap()).unwrap()
}

/// `validate.py` (kubernetes-validate for core kinds, the CRDs' schemas for the operator's)
/// on some files: its report, and whether all were valid.
fn validate(files: &[PathBuf]) -> (String, bool) {
    let output = Command::new("python3")
        .arg(validator())
        .args(files)
        .output()
        .expect("python3 with kubernetes-validate (pip; .ci/run installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (report, output.status.success())
}

#[test]
fn the_kubernetes_base_is_valid_offline() {
    let files = resources();
    assert_eq!(files.len(), 5);
    let (report, valid) = validate(&files);
    assert!(valid, "{report}");
    assert_eq!(report.matches("valid ").count(), 5, "{report}");
    for kind in [
        "StatefulSet",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(report.contains(&format!(": {kind} ")), "{kind}: {report}");
    }
    // kustomize's own build, where kubectl (which embeds it) is installed: the same objects,
    // the image set from `images`.
    let Ok(built) = Command::new("kubectl")
        .arg("kustomize")
        .arg(base())
        .output()
    else {
        eprintln!(
            "SKIPPED: kubectl kustomize (no kubectl here); the files were checked one by one"
        );
        return;
    };
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("built.yaml");
    std::fs::write(&file, &built.stdout).unwrap();
    let (report, valid) = validate(&[file]);
    assert!(valid, "{report}");
    assert_eq!(report.matches("valid ").count(), 5, "{report}");
    assert!(
        String::from_utf8_lossy(&built.stdout)
            .contains("image: registry.example.com/platformsh-exporter:0.2.0")
    );
}

/// The validator refuses what the API server would: a wrong type, a misspelt field of a core
/// kind and of an operator kind.
#[test]
fn the_validator_refuses_what_the_api_server_would() {
    let dir = tempfile::tempdir().unwrap();
    for (file, from, to) in [
        ("statefulset.yaml", "  replicas: 1", "  replicas: \"one\""),
        (
            "statefulset.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFileSystem: true",
        ),
        (
            "servicemonitor.yaml",
            "      interval: 30s",
            "      intervall: 30s",
        ),
    ] {
        let text = std::fs::read_to_string(base().join(file)).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        let bad = dir.path().join(file);
        std::fs::write(&bad, text.replace(from, to)).unwrap();
        let (report, valid) = validate(&[bad]);
        assert!(!valid, "{file} with {to}: {report}");
        assert!(report.contains("INVALID"), "{report}");
    }
}

#[test]
fn the_kubernetes_base_runs_one_locked_down_replica_found_by_its_service_monitor() {
    let set = document("statefulset.yaml");
    let spec = &set["spec"];
    assert_eq!(spec["replicas"], 1);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // The image's user (Dockerfile).
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("USER 65532:65532"));
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    let container = &pod["containers"][0];
    let locked = &container["securityContext"];
    assert_eq!(locked["readOnlyRootFilesystem"], true);
    assert_eq!(locked["allowPrivilegeEscalation"], false);
    assert_eq!(locked["capabilities"]["drop"][0], "ALL");
    // The store on the claim.
    let env = |name: &str| {
        container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let store = env("PLATFORMSH_EXPORTER_STORAGE_PATH");
    let claim = spec["volumeClaimTemplates"][0]["metadata"]["name"]
        .as_str()
        .unwrap();
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == claim)
        .unwrap()["mountPath"]
        .as_str()
        .unwrap();
    assert!(
        store.starts_with(&format!("{mount}/")),
        "{store} on {mount}"
    );
    // Every probe runs the image's binary's healthcheck.
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/platformsh-exporter\"]"));
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["exec"]["command"],
            serde_yaml_ng::from_str::<Value>(
                r#"["/usr/local/bin/platformsh-exporter", "healthcheck"]"#
            )
            .unwrap(),
            "{probe}"
        );
    }
    // The Service and the ServiceMonitor find the pod's port by name and the Service by label.
    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 9887);
    let service = document("service.yaml");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let monitor = document("servicemonitor.yaml");
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    for (label, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap()
    {
        assert_eq!(&service["metadata"]["labels"][label], value);
    }
}

/// The operator names the job after the Service: the rendered rules and dashboards select it.
#[test]
fn the_kubernetes_rules_and_dashboards_select_the_services_job() {
    let service = document("service.yaml");
    let job = format!("job=\"{}\"", service["metadata"]["name"].as_str().unwrap());
    let rule = document("prometheusrule.yaml");
    let alerts: Vec<&Value> = rule["spec"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .collect();
    let down = alerts
        .iter()
        .find(|r| r["alert"] == "PlatformshExporterDown")
        .unwrap();
    assert!(
        down["expr"]
            .as_str()
            .unwrap()
            .contains(&format!("up{{{job}}}"))
    );
    assert!(alerts.iter().any(|r| r["record"].is_string()));
    let dashboards = document("dashboards.yaml");
    assert_eq!(dashboards["metadata"]["labels"]["grafana_dashboard"], "1");
    for (name, text) in dashboards["data"].as_mapping().unwrap() {
        let board: serde_json::Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        let variable = board["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "job")
            .unwrap();
        assert!(
            variable["query"]["query"].as_str().unwrap().contains(&job),
            "{name:?}"
        );
    }
}

/// The pod's container as the `StatefulSet` gives it (its environment, its files where the
/// volumes put them, here in temporary folders), with basic auth on as an overlay would add
/// it: it starts, its probe command passes, and /metrics asks for the password.
#[tokio::test]
async fn the_pods_probes_pass_with_basic_auth_on() {
    let set = document("statefulset.yaml");
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let root = tempfile::tempdir().unwrap();
    let relocate = |path: &str| root.path().join(path.trim_start_matches('/'));
    let mut env: Vec<(String, String)> = Vec::new();
    for variable in container["env"].as_sequence().unwrap() {
        let path = relocate(variable["value"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        env.push((
            variable["name"].as_str().unwrap().to_owned(),
            path.to_str().unwrap().to_owned(),
        ));
    }
    // The Secret's two keys.
    std::fs::write(
        relocate("/etc/platformsh-exporter/webhook-shared-key"),
        "k8s-key\n",
    )
    .unwrap();
    std::fs::write(
        relocate("/etc/platformsh-exporter/api-token"),
        "k8s-token\n",
    )
    .unwrap();
    let web = root.path().join("web.yml");
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    let port = crate::helpers::free_port();
    let address = format!("127.0.0.1:{port}");
    let extra = [
        (
            "PLATFORMSH_EXPORTER_WEB_CONFIG_FILE",
            web.to_str().unwrap().to_owned(),
        ),
        ("PLATFORMSH_EXPORTER_WEB_LISTEN_ADDRESS", address.clone()),
        // No way out of this machine: the API is a closed port.
        (
            "PLATFORMSH_EXPORTER_PLATFORMSH_API_URL",
            "http://127.0.0.1:9".to_owned(),
        ),
        (
            "PLATFORMSH_EXPORTER_PLATFORMSH_AUTH_URL",
            "http://127.0.0.1:9".to_owned(),
        ),
    ];
    let mut child = Command::new(BINARY)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let probe = container["livenessProbe"]["exec"]["command"]
        .as_sequence()
        .unwrap();
    let args: Vec<&str> = probe[1..].iter().map(|a| a.as_str().unwrap()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let passed = loop {
        let check = Command::new(BINARY)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        if check.status.success() || std::time::Instant::now() > deadline {
            break check.status.success();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let metrics = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(passed, "the probe never passed");
    assert_eq!(metrics.status(), 401);
    assert!(relocate("/data/store.db").exists());
}
