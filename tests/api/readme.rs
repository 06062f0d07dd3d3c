//! README documents every metric family and every flag exactly as the code defines them.

use clap::CommandFactory;
use platformsh_exporter::Config;
use platformsh_exporter::catalogue::FAMILIES;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The cells of the table rows whose first cell is a backticked name starting with `prefix`.
fn rows(readme: &str, prefix: &str) -> Vec<Vec<String>> {
    readme
        .lines()
        .filter(|l| l.starts_with(&format!("| `{prefix}")))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn readme_lists_every_metric_family_with_its_type_and_labels() {
    let readme = readme();
    let rows = rows(&readme, "platformsh_");
    let documented: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
    let defined: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    assert_eq!(
        documented, defined,
        "README's metrics table and metrics::FAMILIES differ"
    );
    for (row, family) in rows.iter().zip(FAMILIES) {
        assert_eq!(row[1], family.kind.as_str(), "{}", family.name);
        let labels: Vec<String> = family.labels.iter().map(|l| format!("`{l}`")).collect();
        assert_eq!(row[2], labels.join(", "), "{}", family.name);
    }
}

#[test]
fn readme_lists_every_flag_with_its_environment_variable_and_default() {
    let readme = readme();
    let rows = rows(&readme, "--");
    let command = Config::command();
    let flags: Vec<_> = command
        .get_arguments()
        .filter_map(|a| Some((a.get_long()?, a)))
        .filter(|(long, _)| !matches!(*long, "help" | "version"))
        .collect();
    assert_eq!(
        rows.len(),
        flags.len(),
        "README's flags table has a row per flag"
    );
    for (long, arg) in flags {
        let row = rows
            .iter()
            .find(|r| r[0] == format!("`--{long}`"))
            .unwrap_or_else(|| panic!("--{long} is not in README"));
        let env = arg.get_env().unwrap().to_str().unwrap();
        assert_eq!(row[1], format!("`{env}`"), "--{long}");
        let defaults: Vec<_> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        if defaults.len() == 1 {
            assert_eq!(row[2], format!("`{}`", defaults[0]), "--{long}");
        }
    }
}
