//! Imports point inward: every module of `src/` names only modules of its own layer or of the
//! layers beneath it, and the core names no HTTP, SQLite or async runtime crate. The layers
//! are the ones `src/lib.rs` describes.

use std::path::Path;

/// Layers from the bottom up: (layer, rank, top-level modules). A module may use its own
/// layer and any layer of a lower rank; layers of the same rank do not use each other.
const LAYERS: &[(&str, u8, &[&str])] = &[
    (
        "core",
        0,
        &[
            "activity",
            "labels",
            "catalogue",
            "series",
            "text",
            "dedup",
            "lead",
            "settle",
            "record",
        ],
    ),
    ("verify", 1, &["verify"]),
    ("telemetry", 1, &["telemetry"]),
    ("store", 2, &["store"]),
    ("reconcile", 3, &["reconcile"]),
    ("history", 3, &["history"]),
    ("config", 4, &["config"]),
    ("http", 5, &["http"]),
];

/// Crates the core must not name: it is the domain, without its edges.
const NOT_IN_CORE: &[&str] = &["axum", "hyper", "tokio", "rusqlite", "reqwest"];

fn layer_of(module: &str) -> Option<(&'static str, u8)> {
    LAYERS
        .iter()
        .find(|(_, _, modules)| modules.contains(&module))
        .map(|(layer, rank, _)| (*layer, *rank))
}

/// The top-level modules named as `crate::<module>` in code (comments are skipped).
fn crate_references(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
        }
    }
    found
}

/// What is wrong with the file of `module` holding `source`, one line each.
fn violations(file: &str, module: &str, source: &str) -> Vec<String> {
    let Some((layer, rank)) = layer_of(module) else {
        return vec![format!(
            "{file}: module {module} is in no layer of tests/layers.rs"
        )];
    };
    let mut wrong = Vec::new();
    for (line, used) in crate_references(source) {
        match layer_of(&used) {
            None => wrong.push(format!("{file}:{line}: crate::{used} is in no layer")),
            Some((used_layer, used_rank)) => {
                if used_layer != layer && used_rank >= rank {
                    wrong.push(format!(
                        "{file}:{line}: {layer} (rank {rank}) uses {used_layer} (rank \
                         {used_rank}) through crate::{used}: imports must point inward"
                    ));
                }
            }
        }
    }
    if layer == "core" {
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for name in NOT_IN_CORE {
                if code.contains(&format!("{name}::")) || code.contains(&format!("use {name}")) {
                    wrong.push(format!("{file}:{}: the core names {name}", n + 1));
                }
            }
        }
    }
    wrong
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_points_inward_and_the_core_has_no_edge_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for path in files {
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        // The crate root and the binary sit above every layer.
        if module == "lib" || module == "main" {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        wrong.extend(violations(
            &relative.display().to_string(),
            &module,
            &source,
        ));
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} files found under src/");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The check above would pass on a tree it cannot read; these prove it catches what it must.
#[test]
fn an_upward_import_and_an_edge_crate_in_the_core_are_caught() {
    let up = "use crate::store::Store;\n";
    assert_eq!(violations("record.rs", "record", up).len(), 1);
    assert_eq!(
        violations("store.rs", "store", "use crate::http::AppState;").len(),
        1
    );
    assert_eq!(
        violations("verify.rs", "verify", "use crate::telemetry::X;").len(),
        1
    );
    assert!(violations("http/api.rs", "http", up).is_empty());
    // A comment may name anything.
    assert!(violations("record.rs", "record", "// see crate::http::run\n").is_empty());
    let edge = "use tokio::sync::Mutex;\n";
    assert_eq!(violations("series.rs", "series", edge).len(), 1);
    assert!(violations("store.rs", "store", edge).is_empty());
    assert_eq!(
        violations("new.rs", "new", "").len(),
        1,
        "a module in no layer"
    );
}
