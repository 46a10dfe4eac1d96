//! The layout's rules, read off `src/` (a tidy test, after rust-analyzer's): the layer table in
//! `src/lib.rs`'s crate doc says which folder sits on which; a module may use only its own layer
//! and the layers below; no two files may import each other, directly or round a loop; and the
//! Lambda component (`function`) is used by `src/bin/bootstrap.rs` alone, never by the CLI.
//!
//! Imports are read as text: every `crate::a::b` path outside comments, resolved to the longest
//! prefix that names a module file. A child module file (`tally/tests.rs`) counts as its parent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// `src/lib.rs`'s layer table: folder → layer number.
fn layers() -> BTreeMap<String, u32> {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let cells: Vec<&str> = line.trim_start_matches("//!").split('|').map(str::trim).collect();
        if let [_, n, folder, _, ..] = cells.as_slice() {
            if let (Ok(n), Some(f)) = (n.parse::<u32>(), folder.strip_prefix('`').and_then(|f| f.strip_suffix('`'))) {
                out.insert(f.to_string(), n);
            }
        }
    }
    assert!(out.len() > 1, "no layer table read from src/lib.rs's crate doc: {out:?}");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path a library file defines: `src/count/tally.rs` → `count::tally`,
/// `src/count/mod.rs` → `count`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(SRC).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments (doc links are not imports).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every `root::a::b…` path in `text`, as its segments; a `{…}` group gives one path per item.
fn paths(text: &str, root: &str) -> Vec<Vec<String>> {
    let needle = format!("{root}::");
    let mut out = Vec::new();
    for (at, _) in text.match_indices(&needle) {
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        expand(&text[at + needle.len()..], Vec::new(), &mut out);
    }
    out
}

/// Reads one path (or group of paths) after `prefix::`, adding each to `out`.
fn expand(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut segs = prefix;
    let mut pos = 0;
    loop {
        let tail = &rest[pos..];
        let name: String = tail.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() && tail.starts_with('{') {
            // A group: each comma-separated item is a path of its own.
            pos += 1;
            loop {
                let t = &rest[pos..];
                let skip = t.len() - t.trim_start().len();
                pos += skip;
                if rest[pos..].starts_with('}') || pos >= rest.len() {
                    return pos + 1;
                }
                pos += expand(&rest[pos..], segs.clone(), out);
                let t = &rest[pos..];
                pos += t.len() - t.trim_start_matches([',', ' ', '\n']).len();
            }
        }
        pos += name.len();
        if !name.is_empty() {
            segs.push(name);
        }
        if rest[pos..].starts_with("::") {
            pos += 2;
        } else {
            // ` as x`, `;`, `(`, `,`: the path ends here.
            if let Some(t) = rest[pos..].strip_prefix(" as ") {
                let alias = t.chars().take_while(|c| c.is_alphanumeric() || *c == '_').count();
                pos += 4 + alias;
            }
            out.push(segs);
            return pos;
        }
    }
}

struct Tree {
    /// Module path → the file that defines it.
    modules: BTreeMap<Vec<String>, PathBuf>,
    /// File → the module files it imports (child module files folded into their parent).
    imports: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

/// The node a module file counts as: a `tests` child is its parent.
fn node(module: &[String]) -> Vec<String> {
    let mut m = module.to_vec();
    while m.last().is_some_and(|s| s == "tests") {
        m.pop();
    }
    m
}

fn read_tree() -> Tree {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.retain(|f| !f.starts_with(Path::new(SRC).join("bin")));
    let modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut imports: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = code(&std::fs::read_to_string(file).unwrap());
        let from = node(module);
        let entry = imports.entry(from.clone()).or_default();
        for path in paths(&text, "crate") {
            // The longest prefix that is a module file.
            let target = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p));
            if let Some(t) = target.map(|t| node(&t)) {
                if t != from && !t.is_empty() {
                    entry.insert(t);
                }
            }
        }
    }
    // Every check below passes on an empty tree: make sure src/ was read.
    assert!(modules.len() > 50, "src/ read: {} files", modules.len());
    let edges: usize = imports.values().map(BTreeSet::len).sum();
    assert!(edges > 100, "imports read: {edges}");
    Tree { modules, imports }
}

fn layer_of(module: &[String], layers: &BTreeMap<String, u32>) -> Option<u32> {
    module.first().and_then(|top| layers.get(top)).copied()
}

/// Imports that go up the layer table: `(from, to)`.
fn upward(tree: &Tree, layers: &BTreeMap<String, u32>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, tos) in &tree.imports {
        let Some(lf) = layer_of(from, layers) else { continue };
        for to in tos {
            if let Some(lt) = layer_of(to, layers) {
                if lt > lf {
                    out.push(format!("{} (layer {lf}) imports {} (layer {lt})", from.join("::"), to.join("::")));
                }
            }
        }
    }
    out
}

/// Every import cycle between files, each as the loop of modules.
fn cycles(tree: &Tree) -> Vec<String> {
    // Tarjan's strongly connected components: any component of two or more files is a cycle.
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<&'a Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            if !graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph: &tree.imports,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in tree.imports.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out.iter().map(|c| c.iter().map(|m| m.join("::")).collect::<Vec<_>>().join(" ↔ ")).collect()
}

#[test]
fn the_layer_table_names_every_top_level_folder() {
    let layers = layers();
    assert_eq!(layers.len(), 12, "lib.rs's table: {layers:?}");
    let tree = read_tree();
    let tops: BTreeSet<&String> = tree.modules.keys().filter_map(|m| m.first()).collect();
    for top in tops {
        assert!(layers.contains_key(top), "src/{top} is in no layer of lib.rs's table");
    }
}

#[test]
fn imports_only_go_down_the_layer_table() {
    let up = upward(&read_tree(), &layers());
    assert!(up.is_empty(), "imports that go up the layer table:\n{}", up.join("\n"));
}

#[test]
fn no_import_cycles() {
    let found = cycles(&read_tree());
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn only_bootstrap_uses_the_function() {
    let mut bins = Vec::new();
    rust_files(&Path::new(SRC).join("bin"), &mut bins);
    assert!(bins.len() >= 4, "binaries read: {bins:?}");
    let mut users = Vec::new();
    for file in &bins {
        let text = code(&std::fs::read_to_string(file).unwrap());
        if paths(&text, "apigw_4xx").iter().any(|p| p.first().is_some_and(|m| m == "function")) {
            users.push(file.strip_prefix(SRC).unwrap().to_string_lossy().into_owned());
        }
    }
    assert_eq!(users, ["bin/bootstrap.rs"], "binaries that use the Lambda component");
    for line in code(&std::fs::read_to_string(Path::new(SRC).join("bin/apigw-4xx/main.rs")).unwrap()).lines() {
        assert!(!line.contains("#[path"), "the CLI's modules are its own files: {line}");
    }
}

#[test]
fn the_checks_catch_what_they_are_for() {
    // A tree with an upward import and a cycle, built by hand: both must be found.
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let mut imports = BTreeMap::new();
    imports.insert(m("base::time"), BTreeSet::from([m("judge::severity")]));
    imports.insert(m("judge::severity"), BTreeSet::from([m("judge::finding")]));
    imports.insert(m("judge::finding"), BTreeSet::from([m("judge::severity"), m("base::time")]));
    let tree = Tree { modules: BTreeMap::new(), imports };
    let up = upward(&tree, &layers());
    assert_eq!(up, ["base::time (layer 0) imports judge::severity (layer 5)"]);
    let c = cycles(&tree);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].contains("judge::severity") && c[0].contains("judge::finding") && c[0].contains("base::time"));
    assert_eq!(
        paths("use crate::count::{tally, values::{self, X}}; x = crate::base::time::MINUTE_MS; mycrate::no", "crate"),
        [m("count::tally"), m("count::values::self"), m("count::values::X"), m("base::time::MINUTE_MS")]
    );
}
