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
            "alert",
            "labels",
            "catalogue",
            "series",
            "exposition",
            "record",
        ],
    ),
    ("verify", 1, &["verify"]),
    ("telemetry", 1, &["telemetry"]),
    ("logging", 1, &["logging"]),
    ("store", 2, &["store"]),
    ("reconcile", 3, &["reconcile"]),
    ("history", 3, &["history"]),
    ("config", 4, &["config"]),
    // `setup` configures Platform.sh through the API client; main hands it its options.
    ("setup", 4, &["setup"]),
    ("http", 5, &["http"]),
    // The composition root: it builds the state http serves and runs it beside the poller.
    ("app", 6, &["app"]),
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

/// The modules one file's code names (outside its unit tests), as module paths from the crate
/// root: `crate::a::b::C` gives `[a, b, C]`, `super::x::Y` the parent's path and `[x, Y]`, and
/// `child::Z` for a `mod child;` the file declares its own path and `[child, Z]`; braces
/// (`crate::a::{b, c}`) give one path each. Which of them are files is decided by the caller.
fn named_paths(module: &[String], source: &str) -> Vec<Vec<String>> {
    let code: String = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let children: Vec<String> = code
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.split("mod ").nth(1)?;
            let name = rest.strip_suffix(';')?;
            (line.starts_with("mod ") || line.starts_with("pub"))
                .then(|| name.trim().to_owned())
                .filter(|n| n.chars().all(is_ident))
        })
        .collect();
    let parent = &module[..module.len().saturating_sub(1)];
    let mut prefixes: Vec<(String, Vec<String>)> = vec![
        ("crate::".to_owned(), Vec::new()),
        ("super::".to_owned(), parent.to_vec()),
    ];
    for child in &children {
        let mut base = module.to_vec();
        base.push(child.clone());
        prefixes.push((format!("{child}::"), base));
    }
    let mut paths = Vec::new();
    for (prefix, base) in &prefixes {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix.as_str()) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            // `x::` inside `a::x::` or `crate::x` is not a child reference.
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let tail: String = rest
                .chars()
                .take_while(|c| is_ident(*c) || *c == ':')
                .collect();
            let mut path = base.clone();
            path.extend(
                tail.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            if (tail.is_empty() || tail.ends_with("::")) && rest[tail.len()..].starts_with('{') {
                let group = &rest[tail.len() + 1..];
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for name in group.split(',') {
                    let name: String = name.trim().chars().take_while(|c| is_ident(*c)).collect();
                    if !name.is_empty() {
                        let mut one = path.clone();
                        one.push(name);
                        paths.push(one);
                    }
                }
            } else {
                paths.push(path);
            }
        }
    }
    paths
}

/// The import circles among `files` (module path, source): each a list of module paths.
fn circles(files: &[(Vec<String>, String)]) -> Vec<Vec<String>> {
    let modules: Vec<&Vec<String>> = files.iter().map(|(m, _)| m).collect();
    let file_of = |path: &[String]| {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.iter().position(|m| m.as_slice() == &path[..n]))
    };
    let edges: Vec<Vec<usize>> = files
        .iter()
        .enumerate()
        .map(|(i, (module, source))| {
            let mut to: Vec<usize> = named_paths(module, source)
                .iter()
                .filter_map(|p| file_of(p))
                .filter(|&j| j != i)
                .collect();
            to.sort_unstable();
            to.dedup();
            to
        })
        .collect();
    // Files that reach each other, found by following edges from each (a few dozen files).
    let reach = |from: usize| {
        let mut seen = vec![false; files.len()];
        let mut stack = edges[from].clone();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                stack.extend(&edges[n]);
            }
        }
        seen
    };
    let reaches: Vec<Vec<bool>> = (0..files.len()).map(reach).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut placed = vec![false; files.len()];
    for i in 0..files.len() {
        if placed[i] || !reaches[i][i] {
            continue;
        }
        let circle: Vec<usize> = (0..files.len())
            .filter(|&j| reaches[i][j] && reaches[j][i])
            .collect();
        for &j in &circle {
            placed[j] = true;
        }
        found.push(circle.iter().map(|&j| modules[j].join("::")).collect());
    }
    found
}

fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_owned())
        .collect();
    if path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    path
}

#[test]
fn no_two_files_import_each_other_even_within_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(Vec<String>, String)> = paths
        .iter()
        .map(|p| {
            let relative = p.strip_prefix(&src).unwrap();
            (module_path(relative), std::fs::read_to_string(p).unwrap())
        })
        .filter(|(m, _)| m != &["lib"] && m != &["main"])
        .collect();
    assert!(files.len() >= 30, "only {} files", files.len());
    let found = circles(&files);
    assert!(found.is_empty(), "import circles: {found:?}");
}

/// The check above would pass if it read nothing; this proves it sees the kinds of reference
/// a circle is made of.
#[test]
fn circles_through_super_crate_braces_and_children_are_caught() {
    let file = |path: &str, source: &str| {
        (
            path.split('/').map(str::to_owned).collect::<Vec<_>>(),
            source.to_owned(),
        )
    };
    let pair = [
        file("http/state", "pub refusals: super::receive::Log,\n"),
        file("http/receive", "use super::state::AppState;\n"),
    ];
    assert_eq!(circles(&pair).len(), 1);
    let braces = [
        file("store", "mod writer;\nuse writer::Writer;\n"),
        file("store/writer", "use super::{Command, x};\n"),
        file("store/rows", "use super::{writer, Other};\n"),
    ];
    assert_eq!(circles(&braces).len(), 1);
    let through_crate = [
        file("a", "use crate::b::{c, D};\n"),
        file("b/c", "use crate::a::X;\n"),
        file("b", "pub mod c;\n"),
    ];
    assert_eq!(circles(&through_crate), vec![vec!["a", "b::c"]]);
    // One way only, or named in a comment or a unit test: no circle.
    let one_way = [
        file("x", "use crate::y::Y; // crate::x is ours\n"),
        file(
            "y",
            "pub struct Y;\n#[cfg(test)]\nmod tests {\n    use crate::x::X;\n}\n",
        ),
    ];
    assert!(circles(&one_way).is_empty());
}

/// Lines of a source file before its tests.
fn lines_before_tests(source: &str) -> usize {
    source
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .count()
}

/// A file a newcomer can read in one sitting: past ~600 lines before its tests, a module holds
/// more than one thing (issue 20). Split it rather than raise the limit.
#[test]
fn no_source_file_is_over_600_lines_before_its_tests() {
    const MOST: usize = 600;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|path| {
            (
                path,
                lines_before_tests(&std::fs::read_to_string(path).unwrap()),
            )
        })
        .filter(|(_, n)| *n > MOST)
        .map(|(path, n)| format!("{}: {n} lines", path.display()))
        .collect();
    assert!(files.len() >= 15, "only {} files found", files.len());
    assert!(
        long.is_empty(),
        "over {MOST} lines before the tests:\n{}",
        long.join("\n")
    );
    assert_eq!(lines_before_tests("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}
