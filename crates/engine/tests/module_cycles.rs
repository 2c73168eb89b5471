//! The engine's modules depend on each other without cycles: a cycle means
//! two modules share a responsibility that deserves a module of its own.
//!
//! The graph is read from the sources: module `a` depends on `b` when a
//! line of `a` (tests included, comments not) names `crate::b`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Edges known to close a cycle, each with the reason it is still there.
/// `failure.rs` classifies into `machine.rs`'s `FailureKind` while the
/// machine calls the classifier; issue 12 folds classification into the
/// worker's step, which removes the edge.
const ALLOWED_EDGES: &[(&str, &str)] = &[];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level module a source file belongs to: `src/a.rs` and
/// `src/a/**.rs` are both `a`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?;
    Some(name.strip_suffix(".rs").unwrap_or(name).to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry is readable").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named after each `crate::` on a line: `crate::a::X` and
/// each `b::` inside `crate::{b::Y, ...}`.
fn named_modules(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for part in group.split(',') {
                let part = part.trim();
                if part.contains("::") {
                    names.push(ident(part));
                }
            }
        } else {
            let name = ident(rest);
            if rest[name.len()..].starts_with("::") {
                names.push(name);
            }
        }
    }
    names
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        if module == "lib" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("source is readable");
        let deps = graph.entry(module.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for name in named_modules(line) {
                if name != module && !name.is_empty() {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// One cycle of the graph, as the modules along it, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn engine_graph() -> Graph {
    graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn engine_modules_have_no_import_cycle() {
    let mut graph = engine_graph();
    for (from, to) in ALLOWED_EDGES {
        let present = graph.get_mut(*from).is_some_and(|deps| deps.remove(*to));
        assert!(
            present,
            "{from} no longer depends on {to}: remove ({from:?}, {to:?}) from ALLOWED_EDGES"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the engine's modules form a cycle: {}. Move what they share into a module of its own.",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_graph_sees_the_history_vocabulary_shared_by_drift_and_plan() {
    let graph = engine_graph();
    for module in ["drift", "plan", "manifest"] {
        assert!(
            graph[module].contains("history"),
            "{module} should read the history module: {:?}",
            graph[module]
        );
    }
    assert!(!graph["history"].contains("drift") && !graph["history"].contains("plan"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.get_mut("c").unwrap().remove("a");
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn grouped_and_qualified_paths_name_their_modules() {
    assert_eq!(
        named_modules("use crate::{history::Direction, policy::MAX_BATCH_SIZE};"),
        ["history", "policy"]
    );
    assert_eq!(
        named_modules("    checksum: crate::checksum::checksum_v1(&x),"),
        ["checksum"]
    );
    assert!(named_modules("use crate::EngineError;").is_empty());
}
