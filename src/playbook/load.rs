//! Finding and reading playbook files: `crier.yaml` at the root of a folder, every other
//! `*.yaml` / `*.yml` below it (hidden folders and `target/` left out), each file split into
//! its documents and each document sorted by its `kind:`.

use std::path::{Path, PathBuf};

use super::sources::Sources;
use super::validate::{Validated, validate_from};
use super::yaml::{MAX_FILE_BYTES, Node, NodeKind, parse_documents};
use crate::diagnostic::{Diagnostic, SourceFile, did_you_mean};
use crate::script::ScriptEngine;
use crate::text::TextTemplates;

/// The kinds of playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Campaign,
    Template,
    Contest,
    Crisis,
    Rules,
}

impl Kind {
    pub const NAMES: [&'static str; 5] = ["campaign", "template", "contest", "crisis", "rules"];

    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "campaign" => Kind::Campaign,
            "template" => Kind::Template,
            "contest" => Kind::Contest,
            "crisis" => Kind::Crisis,
            "rules" => Kind::Rules,
            _ => return None,
        })
    }
}

/// One playbook document.
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: Kind,
    pub node: Node,
}

/// Everything read from a folder, before validation.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The folder playbooks are relative to (the one holding `crier.yaml`).
    pub root: PathBuf,
    pub sources: Sources,
    /// The `crier.yaml` document, if there is one.
    pub config: Option<Node>,
    pub documents: Vec<Document>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A path that cannot be loaded at all: a usage error, not an invalid playbook.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read `{}`: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub const CONFIG_FILE: &str = "crier.yaml";

/// Loads and validates a folder or file; `Err` is a path that cannot be read at all.
pub fn load_and_validate(path: &Path) -> Result<Validated, LoadError> {
    load_and_validate_with(path, &ScriptEngine::new(), &TextTemplates::new())
}

/// The same, with engines the caller goes on using (to render or evaluate afterwards, so the
/// conditions and templates compiled here are the ones used later).
pub fn load_and_validate_with(
    path: &Path,
    scripts: &ScriptEngine,
    texts: &TextTemplates,
) -> Result<Validated, LoadError> {
    load_and_validate_from(path, scripts, texts, None)
}

/// The same, with `day_one: first-run` counting from `first_run` (the day the store first
/// ran, or a rehearsal's first day; today if `None`).
pub fn load_and_validate_from(
    path: &Path,
    scripts: &ScriptEngine,
    texts: &TextTemplates,
    first_run: Option<chrono::NaiveDate>,
) -> Result<Validated, LoadError> {
    Ok(validate_from(load_path(path)?, scripts, texts, first_run))
}

/// Loads a folder (recursively) or a single playbook file; for a file, `crier.yaml` is
/// looked for beside it.
pub fn load_path(path: &Path) -> Result<Loaded, LoadError> {
    if !path.exists() {
        return Err(LoadError::Missing {
            path: path.to_path_buf(),
        });
    }
    let (root, files) = if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files).map_err(|source| LoadError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        (path.to_path_buf(), files)
    } else {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut files = vec![path.to_path_buf()];
        let config = root.join(CONFIG_FILE);
        if config.is_file() && !files.contains(&config) {
            files.insert(0, config);
        }
        (root, files)
    };
    let mut loaded = Loaded {
        root: root.clone(),
        ..Loaded::default()
    };
    for file in files {
        let is_config = file.parent() == Some(root.as_path())
            && file.file_name().is_some_and(|n| n == CONFIG_FILE);
        read_file(&mut loaded, &file, is_config);
    }
    Ok(loaded)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.push(path);
        }
    }
    Ok(())
}

fn read_file(loaded: &mut Loaded, path: &Path, is_config: bool) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES as u64 {
        loaded.diagnostics.push(
            Diagnostic::file_error(
                path,
                format!(
                    "file is {} KiB, larger than the 1024 KiB a playbook may be",
                    size.div_ceil(1024)
                ),
            )
            .with_hint("split it into several files, or move bulk rows into a CSV calendar"),
        );
        return;
    }
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                loaded
                    .diagnostics
                    .push(Diagnostic::file_error(path, "file is not valid UTF-8"));
                return;
            }
        },
        Err(error) => {
            loaded.diagnostics.push(Diagnostic::file_error(
                path,
                format!("cannot read file: {error}"),
            ));
            return;
        }
    };
    let file = loaded.sources.add(SourceFile::new(path, text));
    let (nodes, diagnostics) = parse_documents(loaded.sources.get(file), file);
    loaded.diagnostics.extend(diagnostics);
    for node in nodes {
        if is_config {
            if loaded.config.is_some() {
                loaded.diagnostics.push(
                    loaded
                        .sources
                        .error_node(&node, "`crier.yaml` holds more than one document")
                        .with_hint("keep accounts and people in one document; put playbooks in their own files"),
                );
            } else {
                loaded.config = Some(node);
            }
            continue;
        }
        match classify(&loaded.sources, &node) {
            Ok(kind) => loaded.documents.push(Document { kind, node }),
            Err(diagnostic) => loaded.diagnostics.push(diagnostic),
        }
    }
}

fn classify(sources: &Sources, node: &Node) -> Result<Kind, Diagnostic> {
    const HINT: &str = "start each playbook with `kind:` and one of `campaign`, `template`, `contest`, `crisis` or `rules`";
    if !matches!(node.kind, NodeKind::Mapping(_)) {
        return Err(sources
            .error_node(
                node,
                format!(
                    "expected a playbook (a map with `kind:`), found {}",
                    node.describe()
                ),
            )
            .with_hint(HINT));
    }
    let Some(kind) = node.get("kind") else {
        return Err(sources
            .error_node(node, "missing field `kind`")
            .with_hint(HINT));
    };
    let name = kind.as_str().unwrap_or_default();
    Kind::parse(name).ok_or_else(|| {
        sources
            .error_node(kind, format!("unknown kind `{name}`"))
            .with_hint(did_you_mean(name, Kind::NAMES).unwrap_or_else(|| HINT.into()))
    })
}
