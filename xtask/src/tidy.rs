//! Tidy tests of the workspace's source, in the manner of rust-analyzer's: the mock's layers,
//! no import cycle among the modules of any crate, a `//!` sentence at the top of every
//! module, and no hand-written file over about 600 lines unless `ARCHITECTURE.md` says why.
//!
//! Imports are read from the text: every `crate::…` path (in `use` items and in code, `use
//! crate::{a, b::c}` groups included), `super::…` paths, and a `mod.rs`'s or `lib.rs`'s `use`
//! of its own child modules. Test modules (`#[cfg(test)]` to the end of the file) are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The mock's layers, bottom first; a module may import only from its own layer or below,
/// and a feature from no other feature.
const MOCK_LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "clock",
            "error",
            "examples",
            "extract",
            "fields_cache",
            "logid",
            "media",
            "mutants",
            "projection",
            "random",
            "redact",
            "serve",
            "text",
            "validate",
        ],
    ),
    ("data", &["fixtures", "store"]),
    (
        "runtime",
        &["open_ids", "settings", "state", "tokens", "webhook_queue"],
    ),
    (
        "features",
        &[
            "authorization",
            "content_posting",
            "research",
            "user_info",
            "videos",
            "webhooks",
        ],
    ),
    (
        "assembly",
        &[
            "app",
            "call_log",
            "control",
            "pipeline",
            "proxy",
            "receiver",
            "recording",
            "registry",
            "seed",
            "server",
            "testing",
        ],
    ),
];

/// Hand-written files allowed over [`MAX_LINES`]; `ARCHITECTURE.md` must name each and say why.
const LONG_FILES: &[&str] = &["codegen/tests/validate.rs", "gateway/src/config.rs"];

/// The workspace's crates by layer: each directory, and the workspace crates its
/// `[dependencies]` may name (dev-dependencies are free). Apps depend on `tiktok-api`
/// alone, so it names none; the agent layer sits on it, MCP on the agent layer.
const CRATE_LAYERS: &[(&str, &[&str])] = &[
    ("codegen", &[]),
    ("generated", &[]),
    ("agent", &["tiktok-api"]),
    ("mock-server", &["tiktok-api"]),
    ("gateway", &["tiktok-api", "tiktok-agent"]),
    ("conformance", &["tiktok-api", "tiktok-mock"]),
    (
        "bench",
        &[
            "tiktok-api",
            "tiktok-mock",
            "tiktok-codegen",
            "tiktok-agent",
        ],
    ),
    ("xtask", &["tiktok-codegen", "tiktok-mock"]),
];

/// Crates `tiktok-api` must never depend on: what apps do not need.
const NOT_IN_THE_CLIENT: &[&str] = &["rusqlite", "rmcp", "tiktok-agent", "tiktok-mock"];

/// About 600 lines: the most a hand-written file should have.
const MAX_LINES: usize = 620;

/// The crates whose `src/` must be free of module cycles.
const CRATES: &[&str] = &[
    "agent",
    "codegen",
    "conformance",
    "gateway",
    "generated",
    "mock-server",
    "xtask",
    "bench",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name == "target") {
                    continue;
                }
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module path of a file under `src/`: `[]` for `lib.rs`/`main.rs`, `["store"]` for
/// `store/mod.rs` or `store.rs`, `["store", "memory"]` for `store/memory.rs`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text before the first `#[cfg(test)]`.
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// The text without comments (`//` to the end of the line), so docs naming paths don't count.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The paths (as segment lists, from the crate root) one file refers to.
fn references(
    code: &str,
    module: &[String],
    children: &BTreeSet<String>,
) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let push_path =
        |found: &mut Vec<(Vec<String>, String)>, base: Vec<String>, rest: &str, shown: String| {
            // `rest` starts right after `crate::` / `super::`.
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = item.trim();
                    let mut segments = base.clone();
                    for segment in item.split("::") {
                        let segment = ident_at(segment.trim());
                        if segment.is_empty() || segment == "self" {
                            break;
                        }
                        segments.push(segment.to_owned());
                    }
                    found.push((segments, format!("{shown}{{{item}}}")));
                }
            } else {
                let mut segments = base;
                let mut cursor = rest;
                loop {
                    let segment = ident_at(cursor);
                    if segment.is_empty() {
                        break;
                    }
                    segments.push(segment.to_owned());
                    cursor = &cursor[segment.len()..];
                    match cursor.strip_prefix("::") {
                        Some(next) if !next.starts_with('{') => cursor = next,
                        _ => break,
                    }
                }
                let text = segments.join("::");
                found.push((segments, format!("{shown}{text}")));
            }
        };
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with('$') {
            continue;
        }
        push_path(
            &mut found,
            Vec::new(),
            &code[at + 7..],
            "crate::".to_owned(),
        );
    }
    for (at, _) in code.match_indices("super::") {
        // `super` of `a::b` (a/b.rs) and of `a::b` (a/b/mod.rs) alike is `a`.
        let mut base = module.to_vec();
        base.pop();
        push_path(&mut found, base, &code[at + 7..], "super::".to_owned());
    }
    // `use child::…` in a module that declares `mod child;`.
    for line in code.lines() {
        let line = line.trim();
        let rest = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("use "))
            .or_else(|| line.strip_prefix("pub(crate) use "));
        let Some(rest) = rest else { continue };
        let first = ident_at(rest);
        if children.contains(first) {
            let mut base = module.to_vec();
            base.push(first.to_owned());
            found.push((base, format!("use {}", rest.trim_end_matches(';'))));
        }
    }
    found
}

/// One file and the modules it imports (each resolved to the longest path that is a file).
struct FileImports {
    file: PathBuf,
    module: Vec<String>,
    imports: Vec<(Vec<String>, String)>,
}

fn crate_imports(src: &Path) -> Vec<FileImports> {
    let files = rust_files(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|file| module_path(src, file)).collect();
    let mut result = Vec::new();
    for file in &files {
        let module = module_path(src, file);
        let text = fs::read_to_string(file).expect("readable source");
        let code = code_only(without_tests(&text));
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                let rest = line
                    .strip_prefix("pub mod ")
                    .or_else(|| line.strip_prefix("mod "))?;
                rest.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        let mut imports = Vec::new();
        for (segments, shown) in references(&code, &module, &children) {
            let target = (0..=segments.len())
                .rev()
                .map(|len| segments[..len].to_vec())
                .find(|prefix| modules.contains(prefix))
                .unwrap_or_default();
            if target != module {
                imports.push((target, shown));
            }
        }
        result.push(FileImports {
            file: file.clone(),
            module,
            imports,
        });
    }
    result
}

fn display(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        format!("crate::{}", module.join("::"))
    }
}

fn relative(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The layer problems of the mock's modules, one line each.
fn layer_problems(files: &[FileImports]) -> Vec<String> {
    let layer_of = |top: &str| {
        MOCK_LAYERS
            .iter()
            .position(|(_, modules)| modules.contains(&top))
    };
    let mut problems = Vec::new();
    for file in files {
        let Some(top) = file.module.first() else {
            continue; // lib.rs and main.rs: the crate root assembles everything.
        };
        let Some(from) = layer_of(top) else {
            problems.push(format!(
                "{}: module `{top}` is in no layer of MOCK_LAYERS (xtask/src/tidy.rs) and ARCHITECTURE.md",
                relative(&file.file)
            ));
            continue;
        };
        for (target, shown) in &file.imports {
            let Some(target_top) = target.first() else {
                problems.push(format!(
                    "{}: `{shown}` imports through the crate root; name the module that defines it",
                    relative(&file.file)
                ));
                continue;
            };
            if target_top == top {
                continue;
            }
            let Some(to) = layer_of(target_top) else {
                continue;
            };
            let (from_name, to_name) = (MOCK_LAYERS[from].0, MOCK_LAYERS[to].0);
            if to > from {
                problems.push(format!(
                    "{}: `{shown}` goes up from {from_name} (`{top}`) to {to_name} (`{target_top}`)",
                    relative(&file.file)
                ));
            } else if to == from && from_name == "features" {
                problems.push(format!(
                    "{}: `{shown}`: feature `{top}` imports feature `{target_top}`; features import only from the layers below",
                    relative(&file.file)
                ));
            }
        }
    }
    problems
}

/// The cycles among the file modules of one crate, each as `a -> b -> a`.
fn cycles(files: &[FileImports]) -> Vec<String> {
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in files {
        let entry = graph.entry(file.module.clone()).or_default();
        // Paths through the crate root's re-exports are not edges: the root is the
        // crate's facade (the mock's layer check refuses them outright).
        for (target, _) in file.imports.iter().filter(|(target, _)| !target.is_empty()) {
            entry.insert(target.clone());
        }
    }
    // Depth-first search with colours; report each back edge's cycle once.
    let mut state: BTreeMap<Vec<String>, u8> = BTreeMap::new();
    let mut found = BTreeSet::new();
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        found: &mut BTreeSet<String>,
    ) {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                0 => visit(next, graph, state, stack, found),
                1 => {
                    let start = stack.iter().position(|item| item == next).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[start..]
                        .iter()
                        .map(|module| display(module))
                        .collect();
                    cycle.push(display(next));
                    found.insert(cycle.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
    }
    let nodes: Vec<Vec<String>> = graph.keys().cloned().collect();
    for node in nodes {
        if state.get(&node).copied().unwrap_or(0) == 0 {
            visit(&node, &graph, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found.into_iter().collect()
}

#[test]
fn the_mock_keeps_its_layers() {
    let files = crate_imports(&root().join("mock-server/src"));
    let problems = layer_problems(&files);
    assert!(
        problems.is_empty(),
        "the mock's layers are broken (see ARCHITECTURE.md, \"Layers of the mock\"):\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut problems = Vec::new();
    for name in CRATES {
        let files = crate_imports(&root().join(name).join("src"));
        for cycle in cycles(&files) {
            problems.push(format!("{name}: {cycle}"));
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles among modules:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_back_edge_is_caught() {
    // A data-layer file that names a feature, as `store.rs` once did.
    let files = vec![FileImports {
        file: root().join("mock-server/src/store/records.rs"),
        module: vec!["store".to_owned(), "records".to_owned()],
        imports: vec![(
            vec!["content_posting".to_owned(), "rules".to_owned()],
            "crate::content_posting::rules::UPLOAD_PATH".to_owned(),
        )],
    }];
    let problems = layer_problems(&files);
    assert_eq!(
        problems,
        vec![
            "mock-server/src/store/records.rs: `crate::content_posting::rules::UPLOAD_PATH` goes up from data (`store`) to features (`content_posting`)"
                .to_owned()
        ]
    );
}

/// Every source file of the workspace (generated ones included), as (path, text).
fn sources() -> Vec<(String, String)> {
    CRATES
        .iter()
        .flat_map(|name| {
            ["src", "tests", "benches"]
                .iter()
                .flat_map(move |dir| rust_files(&root().join(name).join(dir)))
        })
        .map(|file| {
            let text = fs::read_to_string(&file).expect("readable source");
            (relative(&file), text)
        })
        .collect()
}

#[test]
fn every_module_opens_with_a_doc_sentence() {
    let mut problems = Vec::new();
    for (path, text) in sources() {
        let is_module = path.contains("/src/") || path.ends_with("/mod.rs");
        let first = text
            .lines()
            .find(|line| !line.trim().is_empty() && !line.starts_with("// @generated"))
            .unwrap_or_default();
        if is_module && !first.starts_with("//! ") {
            problems.push(format!("{path}: the first line is not a `//! ` sentence"));
        }
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//!") && trimmed.len() > 3 && !trimmed.starts_with("//! ") {
                problems.push(format!("{path}:{}: `//!` without a space", index + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hand_written_files_stay_short_or_are_explained() {
    let architecture =
        fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md exists");
    let mut problems = Vec::new();
    for (path, text) in sources() {
        if text.starts_with("// @generated") {
            continue;
        }
        let lines = text.lines().count();
        let allowed = LONG_FILES.contains(&path.as_str());
        if lines > MAX_LINES && !allowed {
            problems.push(format!(
                "{path}: {lines} lines; split it, or add it to LONG_FILES and say why in ARCHITECTURE.md"
            ));
        }
        if allowed && !architecture.contains(&format!("`{path}`")) {
            problems.push(format!(
                "{path}: in LONG_FILES but ARCHITECTURE.md does not say why"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The names in the `[dependencies]` table of `dir/Cargo.toml`.
fn dependencies(dir: &str) -> Vec<String> {
    let path = root().join(dir).join("Cargo.toml");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside
            && let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            names.push(name.trim().trim_end_matches(".workspace").to_string());
        }
    }
    names
}

#[test]
fn crates_depend_only_on_the_layers_below() {
    let mut problems = Vec::new();
    let workspace: Vec<&str> = CRATE_LAYERS.iter().map(|(dir, _)| *dir).collect();
    for (dir, allowed) in CRATE_LAYERS {
        for name in dependencies(dir) {
            if name.starts_with("tiktok-") && !allowed.contains(&name.as_str()) {
                problems.push(format!(
                    "{dir}/Cargo.toml depends on {name}, not a layer below it"
                ));
            }
        }
    }
    for name in dependencies("generated") {
        if NOT_IN_THE_CLIENT.contains(&name.as_str()) {
            problems.push(format!(
                "generated/Cargo.toml (tiktok-api) depends on {name}, which apps do not need"
            ));
        }
    }
    let members = fs::read_to_string(root().join("Cargo.toml")).expect("the workspace manifest");
    for dir in CRATES {
        if !workspace.contains(dir) {
            problems.push(format!("{dir} has no place in CRATE_LAYERS"));
        }
        if !members.contains(&format!("\"{dir}\"")) {
            problems.push(format!("{dir} is not a workspace member"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
