//! The crate's structure, checked from its source: which file imports
//! which, with no import cycle between files and every import running
//! downward through the layers of `ARCHITECTURE.md`.
//!
//! An import is any `crate::…`, `super::…` or child-module path in a
//! file's code outside its `#[cfg(test)]` module, resolved to the file that
//! defines it (through `pub use` re-exports, which are a module's facade,
//! not an import of its own). Print the graph with
//! `cargo test --test it layers -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may import only from
/// strictly lower layers (and, inside itself, without cycles).
const LAYERS: &[&[&str]] = &[
    &[
        "crypto",
        "signing",
        "per_worker",
        "http_util",
        "metrics",
        "throttle",
        "request_id",
        "access_note",
        "trace_context",
    ],
    &["pages", "config", "http_client", "server"],
    &["forwarded", "telemetry"],
    &["session", "worker"],
    &["error"],
    &["oidc", "route_table"],
    &["refresh"],
    &["state"],
    &["auth"],
    &["proxy", "admin"],
    &["edge"],
    &["app"],
    &[
        "lib",
        "main",
        "main_healthcheck",
        "main_sessions",
        "fuzzing",
    ],
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, as its path relative to `src/`.
fn files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(
                path.strip_prefix(src())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

/// The module path of a file: `auth/login.rs` → `auth::login`.
fn module_of(file: &str) -> Vec<String> {
    let trimmed = file.trim_end_matches(".rs").trim_end_matches("/mod");
    trimmed.split('/').map(str::to_owned).collect()
}

/// The file defining module `path`, if any.
fn file_of(path: &[String], known: &BTreeSet<String>) -> Option<String> {
    let base = path.join("/");
    [format!("{base}.rs"), format!("{base}/mod.rs")]
        .into_iter()
        .find(|f| known.contains(f))
}

/// A file's code: no comments, no `#[cfg(test)]` module (by house style
/// the last item of a file).
fn code(file: &str) -> String {
    let text = std::fs::read_to_string(src().join(file)).unwrap();
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or("")
        .to_owned();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d}}` into `a::b`, `a::c::d`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else {
        return vec![path];
    };
    let (head, rest) = path.split_at(open);
    let inner = &rest[1..rest.len() - 1];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{head}{p}")))
        .collect()
}

/// Where the `use` statement that ends `piece` (a `;`-terminated piece
/// of code) starts, and whether it is a re-export (`pub use`).
fn use_start(piece: &str) -> Option<(usize, bool)> {
    let at = piece.rfind("use ")?;
    let line_start = piece[..at].rfind(['\n', '{', '}']).map_or(0, |i| i + 1);
    let prefix = piece[line_start..at].trim();
    match prefix {
        "" => Some((line_start, false)),
        p if p.starts_with("pub") => Some((line_start, true)),
        _ => None,
    }
}

/// `use` statements of a file: (is a re-export, expanded paths).
fn uses(code: &str) -> Vec<(bool, Vec<String>)> {
    code.split(';')
        .filter_map(|piece| {
            let (start, reexport) = use_start(piece)?;
            let path = piece[start..].split("use ").nth(1)?;
            Some((reexport, expand(path)))
        })
        .collect()
}

/// The code without its `use` statements.
fn without_uses(code: &str) -> String {
    let kept = code
        .split(';')
        .map(|piece| use_start(piece).map_or(piece, |(start, _)| &piece[..start]));
    kept.collect::<Vec<_>>().join(";")
}

/// Paths in expressions: `crate::a::b`, `super::x`, `child::item`.
fn inline_paths(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let mut j = i;
        while j < bytes.len()
            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b':')
        {
            j += 1;
        }
        if starts && j > i && code[i..j].contains("::") {
            out.push(code[i..j].trim_end_matches(':').to_owned());
        }
        i = j.max(i + 1);
    }
    out
}

/// Resolves `path`, as written in module `here`, to the file defining it.
fn resolve(
    here: &[String],
    path: &str,
    known: &BTreeSet<String>,
    exports: &Graph,
) -> Option<String> {
    let mut segs: Vec<String> = path
        .split("::")
        .map(|s| s.split(" as ").next().unwrap_or("").to_owned())
        .collect();
    let mut base: Vec<String> = match segs.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") => here[..here.len().saturating_sub(1)].to_vec(),
        Some("self") => here.to_vec(),
        Some(first) if file_of(&[here, &[first.to_owned()]].concat(), known).is_some() => {
            here.to_vec()
        }
        _ => return None,
    };
    if matches!(segs[0].as_str(), "crate" | "super" | "self") {
        segs.remove(0);
    }
    while segs.first().is_some_and(|s| s == "super") {
        base.pop();
        segs.remove(0);
    }
    let mut found = file_of(&base, known);
    for seg in &segs {
        let mut next = base.clone();
        next.push(seg.clone());
        match file_of(&next, known) {
            Some(file) => (found, base) = (Some(file), next),
            None => {
                // An item: through its module's re-exports to where it lives.
                let module = file_of(&base, known)?;
                let target = exports.get(&format!("{module}#{seg}"));
                return target.and_then(|t| t.iter().next().cloned()).or(found);
            }
        }
    }
    found
}

/// Direct imports between files, re-exports resolved.
fn graph() -> Graph {
    let mut list = Vec::new();
    files(&src(), &mut list);
    let known: BTreeSet<String> = list.iter().cloned().collect();
    let mut exports = Graph::new();
    for _pass in 0..3 {
        for file in &list {
            for (reexport, paths) in uses(&code(file)) {
                for path in paths.iter().filter(|_| reexport) {
                    let name = path
                        .rsplit("::")
                        .next()
                        .unwrap_or("")
                        .rsplit(" as ")
                        .next()
                        .unwrap_or("");
                    if let Some(target) = resolve(&module_of(file), path, &known, &exports) {
                        exports.insert(format!("{file}#{name}"), BTreeSet::from([target]));
                    }
                }
            }
        }
    }
    let mut graph = Graph::new();
    for file in &list {
        let code = code(file);
        let here = module_of(file);
        let mut paths: Vec<String> = uses(&code)
            .into_iter()
            .filter(|(re, _)| !re)
            .flat_map(|(_, p)| p)
            .collect();
        paths.extend(inline_paths(&without_uses(&code)));
        let targets = paths
            .iter()
            .filter_map(|p| resolve(&here, p, &known, &exports));
        let edges = graph.entry(file.clone()).or_default();
        edges.extend(targets.filter(|t| t != file));
    }
    graph
}

fn layer_of(file: &str) -> (usize, String) {
    let top = module_of(file)[0].clone();
    let layer = LAYERS.iter().position(|l| l.contains(&top.as_str()));
    (
        layer.expect("every top-level module has a layer in LAYERS"),
        top,
    )
}

/// A path of imports from `from` to `to`, if `to` is reachable.
fn path_between(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_owned()]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut path = vec![at];
            while let Some(prev) = came_from.get(path.last().unwrap()) {
                path.push(prev.clone());
            }
            path.reverse();
            return Some(path);
        }
        for next in graph.get(&at).into_iter().flatten() {
            if next != from && !came_from.contains_key(next) {
                came_from.insert(next.clone(), at.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

#[test]
fn no_import_cycle_between_files() {
    let graph = graph();
    for (file, edges) in &graph {
        eprintln!(
            "{file} -> {}",
            edges.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        graph
            .get("proxy/mod.rs")
            .is_some_and(|e| e.contains("auth/authenticate.rs")),
        "the checker sees imports"
    );
    // Every edge a -> b closes a cycle exactly when a is reachable from b.
    let cycles: BTreeSet<String> = graph
        .iter()
        .flat_map(|(a, edges)| edges.iter().map(move |b| (a, b)))
        .filter_map(|(a, b)| {
            path_between(&graph, b, a).map(|back| format!("{a} -> {}", back.join(" -> ")))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_import_runs_down_the_layers() {
    let mut wrong = Vec::new();
    for (file, edges) in graph() {
        let (from, from_top) = layer_of(&file);
        for target in edges {
            let (to, to_top) = layer_of(&target);
            if from_top != to_top && to >= from {
                wrong.push(format!("{file} -> {target}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that do not run downward:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_design_rules_hold_as_direct_imports() {
    let graph = graph();
    let imports = |from: &str, to: &str| -> Vec<String> {
        graph
            .iter()
            .filter(|(f, _)| f.starts_with(from))
            .flat_map(|(f, e)| {
                e.iter()
                    .filter(|t| t.starts_with(to))
                    .map(move |t| format!("{f} -> {t}"))
            })
            .collect()
    };
    for (from, forbidden) in [
        (
            "session/",
            &[
                "auth/",
                "proxy/",
                "server.rs",
                "worker.rs",
                "edge/",
                "state.rs",
                "refresh/",
            ][..],
        ),
        (
            "config/",
            &[
                "server.rs",
                "worker.rs",
                "state.rs",
                "app.rs",
                "edge/",
                "proxy/",
            ],
        ),
        ("auth/", &["proxy/"]),
        ("crypto.rs", &[""]),
        ("per_worker.rs", &[""]),
    ] {
        for to in forbidden {
            let found = imports(from, to);
            assert!(found.is_empty(), "{from} must not import {to}: {found:?}");
        }
    }
}
