//! The monitoring mixin (`mixin/`, jsonnet): the bundle under `dashboards/` is its rendering,
//! and its `_config` changes what it renders.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn jsonnet(args: &[&str]) -> String {
    let output = Command::new("jsonnet")
        .args(args)
        .current_dir(root())
        .output()
        .expect("jsonnet must be installed (Debian package jsonnet; .ci/run installs it)");
    assert!(
        output.status.success(),
        "jsonnet {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every file the mixin renders, relative to the output folder.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        found.push(
            entry
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    found.sort();
    found
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Renders `program` (one of `mixin/render.sh`'s) into a fresh folder: the files it wrote must
/// be `expected` and equal, byte for byte, those committed under `committed`.
fn assert_rendering_is_committed(program: &str, committed: &str, expected: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join("prometheus")).unwrap();
    let listed = jsonnet(&["-S", "-m", out.path().to_str().unwrap(), program]);
    let rendered = files_under(out.path());
    assert_eq!(rendered, expected, "{listed}");
    for file in &rendered {
        let fresh = std::fs::read_to_string(out.path().join(file)).unwrap();
        let bundled = std::fs::read_to_string(root().join(committed).join(file)).unwrap();
        assert!(
            fresh == bundled,
            "{committed}/{file} is not the mixin's rendering: run mixin/render.sh"
        );
    }
}

/// `mixin/render.sh`'s commands into fresh folders give the committed files byte for byte (the
/// bundle under `dashboards/` and the Kubernetes base's two rendered files): an edit of the
/// mixin not rendered, or of a rendered file by hand, fails here.
#[test]
fn the_bundled_dashboards_alerts_and_rules_are_the_mixin_rendered() {
    assert_rendering_is_committed(
        "mixin/render.jsonnet",
        "dashboards",
        &[
            "deployments.json",
            "overview.json",
            "prometheus/alerts.yml",
            "prometheus/rules.yml",
        ],
    );
    // The Kubernetes base's PrometheusRule and dashboards ConfigMap, rendered for its job.
    assert_rendering_is_committed(
        "mixin/kubernetes.jsonnet",
        "deploy/kubernetes",
        &["dashboards.yaml", "prometheusrule.yaml"],
    );
}

/// What a user overrides in `_config` reaches the alerts and the dashboards, and the result
/// still passes promtool.
#[test]
fn the_mixin_config_reaches_alerts_and_dashboards() {
    let program = r#"
        local mixin = (import 'mixin/mixin.libsonnet') + { _config+:: {
          selector: 'job="psh"',
          runbookURLPattern: 'https://runbooks.example/psh.md#%s',
          productionSelector: 'environment_type=~"production|staging"',
          nonProductionSelector: 'environment_type!~"production|staging"',
          dashboardTags: ['psh', 'dora'],
          dashboardUIDPrefix: 'psh-',
        } };
        {
          alerts: mixin.prometheusAlerts,
          rules: mixin.prometheusRules,
          dashboards: mixin.grafanaDashboards,
          alertsYaml: std.manifestYamlDoc(mixin.prometheusAlerts, quote_keys=false),
        }
    "#;
    let rendered: Value = serde_json::from_str(&jsonnet(&["-e", program])).unwrap();
    let alerts: Vec<&Value> = rendered["alerts"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert!(alerts.len() >= 15);
    for alert in &alerts {
        let name = alert["alert"].as_str().unwrap();
        assert_eq!(
            alert["annotations"]["runbook_url"],
            format!("https://runbooks.example/psh.md#{}", name.to_lowercase())
        );
    }
    let expr = |name: &str| {
        alerts.iter().find(|a| a["alert"] == name).unwrap()["expr"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(expr("PlatformshExporterDown").contains(r#"absent(up{job="psh"})"#));
    assert!(
        expr("PlatformshProductionDeploymentFailed")
            .contains(r#"platformsh_deployments_total{environment_type=~"production|staging"}"#)
    );
    assert!(
        expr("PlatformshDeploymentFailed")
            .contains(r#"platformsh_restarts_total{environment_type!~"production|staging"}"#)
    );
    for (file, dashboard) in rendered["dashboards"].as_object().unwrap() {
        assert_eq!(
            dashboard["tags"],
            serde_json::json!(["psh", "dora"]),
            "{file}"
        );
        assert!(dashboard["uid"].as_str().unwrap().starts_with("psh-"));
        let job = dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "job")
            .unwrap();
        assert_eq!(
            job["query"]["query"],
            r#"label_values(platformsh_exporter_build_info{job="psh"}, job)"#
        );
    }
    let deployments = rendered["dashboards"]["deployments.json"].to_string();
    assert!(deployments.contains(r#"environment_type=~\"production|staging\""#));
    // The overridden rules are still rules Prometheus loads.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.yml");
    std::fs::write(&file, rendered["alertsYaml"].as_str().unwrap()).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

/// README's recipe for the mixin with one's own settings renders, and the settings show.
#[test]
fn the_readme_recipe_renders_the_mixin_with_its_settings() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = "cat > my-bundle.jsonnet <<'JSONNET'\n";
    let program = &readme[readme.find(start).unwrap() + start.len()..];
    let program = &program[..program.find("\nJSONNET\n").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my-bundle.jsonnet"), program).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::create_dir(dir.path().join("out/prometheus")).unwrap();
    let out = dir.path().join("out");
    jsonnet(&[
        "-J",
        root().to_str().unwrap(),
        "-S",
        "-m",
        out.to_str().unwrap(),
        dir.path().join("my-bundle.jsonnet").to_str().unwrap(),
    ]);
    let alerts = std::fs::read_to_string(out.join("prometheus/alerts.yml")).unwrap();
    assert!(
        alerts.contains(r#"absent(up{job="psh-exporter"})"#),
        "{alerts}"
    );
    assert!(alerts.contains(
        "runbook_url: \"https://git.example.com/ops/platformsh-exporter/blob/main/docs/runbooks.md#platformshexporterdown\""
    ));
    assert_eq!(files_under(&out).len(), 4);
}
