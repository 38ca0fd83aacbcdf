//! The host's top-level modules form no dependency cycle: they are layered, leaves first, and
//! each may use only the modules of earlier layers. Read from the `crate::` paths of every
//! source file, so a change that adds a back edge fails here, naming the file and the edge.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The layers, leaves first: a module may use those before it, never one after it.
const LAYERS: &[&str] = &[
    // Leaves: sizes and times, private files, routelet.toml, metrics, the dist format, the
    // response type.
    "units",
    "private",
    "config",
    "metrics",
    "dist",
    "response",
    // Host capabilities, then the three lifetimes: process, request, deploy.
    "factors",
    "engine",
    "request",
    "static_pages",
    "app",
    // Serving, deploying, building, and the command line.
    "server",
    "deploy",
    "admin",
    "builder",
    "cli",
];

/// The top-level modules `lib.rs` declares.
fn modules(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("reading lib.rs");
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').to_owned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every top-level module a file names through `crate::`, including inside `use crate::{...}`.
fn uses(text: &str, modules: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (index, _) in text.match_indices("crate::") {
        let rest = &text[index + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or(""))
                    .collect()
            }
            None => vec![
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or(""),
            ],
        };
        for name in names {
            if modules.iter().any(|m| m == name) {
                found.push(name.to_owned());
            }
        }
    }
    found
}

#[test]
fn top_level_modules_use_only_modules_of_earlier_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let mut sorted_layers: Vec<&str> = LAYERS.to_vec();
    sorted_layers.sort();
    let mut sorted_modules: Vec<&str> = modules.iter().map(String::as_str).collect();
    sorted_modules.sort();
    assert_eq!(
        sorted_modules, sorted_layers,
        "every module of lib.rs has its place in LAYERS, and only those"
    );
    let rank: HashMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut back_edges = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("below src");
        let Some(owner) = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs"))
        else {
            continue;
        };
        let Some(&owner_rank) = rank.get(owner) else {
            continue; // lib.rs, main.rs, this file
        };
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        for used in uses(&text, &modules) {
            if rank[used.as_str()] > owner_rank {
                back_edges.push(format!("{}: {owner} uses {used}", relative.display()));
            }
        }
    }
    back_edges.sort();
    back_edges.dedup();
    assert!(
        back_edges.is_empty(),
        "these uses go against the layers (a module may use only those of earlier layers), so \
         they make or risk a dependency cycle:\n{}",
        back_edges.join("\n")
    );
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let modules: Vec<String> = ["config", "app", "server"].map(String::from).into();
    let text = "use crate::{config::X, app};\nlet a = crate::server::handle;\n// crate::nothing";
    assert_eq!(uses(text, &modules), ["config", "app", "server"]);
}
