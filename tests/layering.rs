//! One-way layering: a module of `src/` imports only from its own layer or the layers below.
//! Reads every `src/**/*.rs`, finds the `crate::X` and `super::…` paths that reach another
//! top-level module, and names each one that reaches upwards by file, line and layers.

use std::path::{Path, PathBuf};

/// Bottom to top; a module may import from its own layer and every layer before it.
const LAYERS: &[&[&str]] = &[
    &["diagnostic", "telemetry", "memory"],
    &["schedule", "script", "text", "network"],
    &["playbook"],
    &["connectors"],
    &["store", "rules"],
    &["contest", "crisis", "preview"],
    &["engine"],
    &["ops"],
    &["cli", "server", "init", "main"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `src/engine/core.rs` is `["engine", "core"]`, `src/engine/mod.rs`
/// is `["engine"]`, `src/lib.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib") {
        parts.push(stem.to_string());
    }
    parts
}

/// The text without comments and literals, byte for byte the same length with the same line
/// breaks, so an offset still gives the line.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = vec![b' '; bytes.len()];
    let mut i = 0;
    // Blanks `bytes[from..to]`, keeping line breaks.
    let skip_to = |out: &mut Vec<u8>, from: usize, to: usize| {
        for at in from..to.min(bytes.len()) {
            if bytes[at] == b'\n' {
                out[at] = b'\n';
            }
        }
        to
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = find(bytes, i, b"\n").unwrap_or(bytes.len());
            i = skip_to(&mut out, i, end);
        } else if rest.starts_with(b"r#\"") || rest.starts_with(b"r\"") {
            let hashes = rest[1..].iter().take_while(|&&b| b == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + 2 + hashes;
            let end = find(bytes, body, close.as_bytes()).map_or(bytes.len(), |e| e + close.len());
            i = skip_to(&mut out, i, end);
        } else if bytes[i] == b'"' {
            let mut end = i + 1;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            i = skip_to(&mut out, i, end + 1);
        } else if bytes[i] == b'\'' && bytes.get(i + 1) == Some(&b'\\') {
            let end = find(bytes, i + 3, b"'").map_or(bytes.len(), |e| e + 1);
            i = skip_to(&mut out, i, end);
        } else if bytes[i] == b'\'' && bytes.get(i + 2) == Some(&b'\'') {
            i += 3;
        } else {
            if bytes[i].is_ascii() {
                out[i] = bytes[i];
            }
            i += 1;
        }
    }
    String::from_utf8(out).expect("ASCII only")
}

/// The offset of `needle` in `bytes` at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn identifier_at(code: &str, at: usize) -> &str {
    let rest = &code[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The first segment of each path in a `{…}` group starting at `open`, with its offset.
fn group_heads(code: &str, open: usize) -> Vec<(usize, String)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    for (offset, c) in code[open..].char_indices() {
        let at = open + offset;
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    expect_head = true;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect_head = true,
            c if depth == 1 && expect_head && (c.is_ascii_alphabetic() || c == '_') => {
                heads.push((at, identifier_at(code, at).to_string()));
                expect_head = false;
            }
            c if depth == 1 && !c.is_whitespace() => expect_head = false,
            _ => {}
        }
    }
    heads
}

/// Every top-level module a file's paths reach, with the offset of the reference.
fn reached_modules(code: &str, own_path: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let is_boundary =
        |at: usize| at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    let mut search = 0;
    while let Some(relative) = code[search..].find("crate::") {
        let at = search + relative;
        search = at + "crate::".len();
        if !is_boundary(at) {
            continue;
        }
        let next = search;
        if code[next..].starts_with('{') {
            found.extend(group_heads(code, next));
        } else {
            found.push((at, identifier_at(code, next).to_string()));
        }
    }
    let mut search = 0;
    while let Some(relative) = code[search..].find("super::") {
        let at = search + relative;
        if !is_boundary(at) || (at >= 7 && &code[at - 7..at] == "super::") {
            search = at + "super::".len();
            continue;
        }
        let mut levels = 0;
        let mut next = at;
        while code[next..].starts_with("super::") {
            levels += 1;
            next += "super::".len();
        }
        search = next;
        if levels < own_path.len() {
            continue;
        }
        // Only a path climbing to the crate root names a top-level module.
        if code[next..].starts_with('{') {
            found.extend(group_heads(code, next));
        } else {
            found.push((at, identifier_at(code, next).to_string()));
        }
    }
    found
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string("src/lib.rs").expect("read src/lib.rs");
    let missing: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in tests/layering.rs: {missing:?}"
    );
}

#[test]
fn modules_import_only_from_their_layer_or_below() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix("src").expect("under src");
        let own_path = module_path(relative);
        let own = own_path.first().map(String::as_str).unwrap_or("main");
        if relative == Path::new("lib.rs") {
            continue;
        }
        let own_layer =
            layer_of(own).unwrap_or_else(|| panic!("{} is in no layer", file.display()));
        let text = std::fs::read_to_string(file).expect("read a source file");
        let code = code_only(&text);
        for (at, reached) in reached_modules(&code, &own_path) {
            if reached == own {
                continue;
            }
            let Some(reached_layer) = layer_of(&reached) else {
                continue;
            };
            if reached_layer <= own_layer {
                continue;
            }
            upward.push(format!(
                "{}:{}: `{own}` (layer {}) imports `{reached}` (layer {}), a layer above it",
                file.display(),
                line_of(&code, at),
                own_layer + 1,
                reached_layer + 1
            ));
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn an_upward_import_is_found_in_a_group_and_through_super() {
    let code = code_only(
        "use crate::{store::Store, engine::clock};\n// crate::cli::x\nfn f() { super::super::ops::act(); }\n",
    );
    let reached: Vec<String> = reached_modules(&code, &["crisis".into(), "runner".into()])
        .into_iter()
        .map(|(at, m)| format!("{}:{m}", line_of(&code, at)))
        .collect();
    assert_eq!(reached, ["1:store", "1:engine", "3:ops"]);
}
