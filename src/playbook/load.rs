//! Finding and reading playbook files: `crier.yaml` at the root of a folder, every other
//! `*.yaml` / `*.yml` below it (hidden folders and `target/` left out), each file split into
//! its documents and each document sorted by its `kind:`.
//!
//! The walk survives hostile folders: each folder and file is read once whatever links lead
//! to it (a link back into the walk is skipped with a warning), a subfolder that cannot be
//! read is named while the rest is still read, a UTF-8 byte-order mark is dropped, and bytes
//! that are not UTF-8 are reported at their line and column.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::sources::Sources;
use super::validate::{Validated, validate_from};
use super::yaml::{MAX_FILE_BYTES, Node, NodeKind, parse_documents};
use crate::diagnostic::{Diagnostic, Position, SourceFile, did_you_mean};
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
    /// Its file's index in `Loaded::sources`, and its place among that file's documents.
    pub file: usize,
    pub index: usize,
    /// Its tree, kept for every kind but campaigns. A campaign's tree (a thousand items are
    /// tens of megabytes of nodes) is parsed again from its file's text when it is validated
    /// ([`Document::tree`]), so the trees of many large campaigns are never all in memory
    /// beside the plan being built.
    pub node: Option<Node>,
    /// Its `name:`, for the check that names are unique across playbooks.
    pub name: Option<Node>,
}

impl Document {
    fn new(kind: Kind, file: usize, index: usize, node: Node) -> Document {
        let name = node.get("name").cloned();
        let node = (kind != Kind::Campaign).then_some(node);
        Document {
            kind,
            file,
            index,
            node,
            name,
        }
    }

    /// Its tree: the one kept, or its file's text parsed again. `parsed` holds the trees of
    /// the file parsed last, so a file of several campaigns is parsed once for all of them.
    pub fn tree(self, sources: &Sources, parsed: &mut Option<(usize, Vec<Option<Node>>)>) -> Node {
        if let Some(node) = self.node {
            return node;
        }
        if parsed.as_ref().is_none_or(|(file, _)| *file != self.file) {
            let (nodes, _reported_at_load) = parse_documents(sources.get(self.file), self.file);
            *parsed = Some((self.file, nodes.into_iter().map(Some).collect()));
        }
        parsed
            .as_mut()
            .and_then(|(_, nodes)| nodes.get_mut(self.index))
            .and_then(Option::take)
            .expect("a file's text parses to the documents it parsed to when loaded")
    }
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
    #[error(
        "`{}` is not a crier folder: it holds no {CONFIG_FILE}; `crier init {0}` makes a starting point",
        path.display()
    )]
    NoConfig { path: PathBuf },
    #[error(
        "`{}` holds no {CONFIG_FILE} of its own but {} crier folder(s): {}; give one of them",
        path.display(),
        found.len(),
        found.iter().map(|f| format!("`{}`", f.display())).collect::<Vec<_>>().join(", ")
    )]
    OtherFolders { path: PathBuf, found: Vec<PathBuf> },
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
    let (root, files, walk_diagnostics) = files_to_load(path)?;
    let mut loaded = Loaded {
        root: root.clone(),
        diagnostics: walk_diagnostics,
        ..Loaded::default()
    };
    for file in files {
        let is_config = is_config(&root, &file);
        read_file(&mut loaded, &file, is_config);
    }
    Ok(loaded)
}

/// Whether `file` is the `crier.yaml` of the folder `root`.
pub(super) fn is_config(root: &Path, file: &Path) -> bool {
    file.parent() == Some(root) && file.file_name().is_some_and(|n| n == CONFIG_FILE)
}

/// The folder playbooks are relative to, the files loading reads from it (in the order it
/// reads them) and what the walk skipped.
pub(super) fn files_to_load(
    path: &Path,
) -> Result<(PathBuf, Vec<PathBuf>, Vec<Diagnostic>), LoadError> {
    if !path.exists() {
        return Err(LoadError::Missing {
            path: path.to_path_buf(),
        });
    }
    let mut walk_diagnostics = Vec::new();
    let (root, files) = if path.is_dir() {
        let mut walk = Walk::default();
        walk.seen_dir(path);
        let entries = read_sorted(path).map_err(|source| LoadError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        walk.entries(entries);
        if !path.join(CONFIG_FILE).is_file() {
            return Err(not_a_crier_folder(path, &walk.files));
        }
        walk_diagnostics = walk.diagnostics;
        (path.to_path_buf(), walk.files)
    } else {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut files = vec![path.to_path_buf()];
        let config = root.join(CONFIG_FILE);
        if config.is_file() && !files.contains(&config) {
            files.insert(0, config);
        }
        (root, files)
    };
    Ok((root, files, walk_diagnostics))
}

/// Why a folder without its own `crier.yaml` cannot be loaded: it is no crier folder at all,
/// or it holds others (each with its own `crier.yaml`), named so the user can pick one.
fn not_a_crier_folder(path: &Path, files: &[PathBuf]) -> LoadError {
    let found: Vec<PathBuf> = files
        .iter()
        .filter(|file| file.file_name().is_some_and(|name| name == CONFIG_FILE))
        .filter_map(|file| file.parent().map(Path::to_path_buf))
        .collect();
    if found.is_empty() {
        LoadError::NoConfig {
            path: path.to_path_buf(),
        }
    } else {
        LoadError::OtherFolders {
            path: path.to_path_buf(),
            found,
        }
    }
}

/// The files found below a folder, each folder and file once, and what was skipped.
#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    /// Canonical paths of the folders and files already taken.
    seen: HashSet<PathBuf>,
    diagnostics: Vec<Diagnostic>,
}

impl Walk {
    /// Marks `dir` as taken; false if it was already.
    fn seen_dir(&mut self, dir: &Path) -> bool {
        let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.seen.insert(canonical)
    }

    fn entries(&mut self, entries: Vec<std::fs::DirEntry>) {
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            let path = entry.path();
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if path.is_dir() {
                self.folder(&path, is_link);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                self.file(path, is_link);
            }
        }
    }

    fn folder(&mut self, path: &Path, is_link: bool) {
        if !self.seen_dir(path) {
            self.skipped_link(path, is_link);
            return;
        }
        match read_sorted(path) {
            Ok(entries) => self.entries(entries),
            Err(error) => self.diagnostics.push(
                Diagnostic::file_error(path, format!("cannot read folder: {error}"))
                    .with_hint("its playbooks were not checked; make it readable (`chmod +rx`) or move it out of the folder"),
            ),
        }
    }

    fn file(&mut self, path: PathBuf, is_link: bool) {
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.seen.insert(canonical) {
            self.files.push(path);
        } else {
            self.skipped_link(&path, is_link);
        }
    }

    fn skipped_link(&mut self, path: &Path, is_link: bool) {
        let target = std::fs::read_link(path).unwrap_or_default();
        let message = if is_link {
            format!(
                "skipped link to `{}`: what it leads to is already read",
                target.display()
            )
        } else {
            "skipped: already read through a link".into()
        };
        self.diagnostics.push(
            Diagnostic::file_error(path, message)
                .warning()
                .with_hint("each folder and file is read once; remove the link to silence this"),
        );
    }
}

fn read_sorted(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// The text of a playbook file: a byte-order mark dropped; bytes that are not UTF-8 are an
/// error at the line and column of the first of them.
pub(super) fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let bytes = match bytes.strip_prefix("\u{feff}".as_bytes()) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let bytes = error.into_bytes();
        let before = String::from_utf8_lossy(&bytes[..valid]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let shown = SourceFile::new(path, String::from_utf8_lossy(&bytes).into_owned());
        Diagnostic::error(
            &shown,
            Position::new(line, column, 1),
            format!(
                "file is not valid UTF-8: byte 0x{:02x} is not a character",
                bytes[valid]
            ),
        )
        .with_hint("save the file as UTF-8 in your editor (\"Save with encoding\")")
    })
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
        Ok(bytes) => match decode(path, bytes) {
            Ok(text) => text,
            Err(diagnostic) => {
                loaded.diagnostics.push(diagnostic);
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
    add_text(loaded, path, text, is_config);
}

/// Parses a playbook file's text into `loaded`: its documents sorted by kind, or
/// `crier.yaml`'s one document.
pub(super) fn add_text(loaded: &mut Loaded, path: &Path, text: String, is_config: bool) {
    let file = loaded.sources.add(SourceFile::new(path, text));
    let (nodes, diagnostics) = parse_documents(loaded.sources.get(file), file);
    loaded.diagnostics.extend(diagnostics);
    for (index, node) in nodes.into_iter().enumerate() {
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
            Ok(kind) => loaded
                .documents
                .push(Document::new(kind, file, index, node)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_cannot_be_read_is_named_and_the_walk_goes_on() {
        let dir = tempfile::TempDir::new().unwrap();
        let not_a_folder = dir.path().join("plain");
        std::fs::write(&not_a_folder, "").unwrap();
        std::fs::write(dir.path().join("next.yaml"), "").unwrap();
        let mut walk = Walk::default();
        walk.folder(&not_a_folder, false);
        walk.folder(dir.path(), false);
        assert_eq!(walk.diagnostics.len(), 1);
        assert_eq!(walk.diagnostics[0].file, not_a_folder);
        assert!(
            walk.diagnostics[0]
                .message
                .starts_with("cannot read folder: ")
        );
        assert_eq!(walk.files, [dir.path().join("next.yaml")]);
    }

    #[test]
    fn a_campaign_keeps_no_tree_until_it_is_validated_and_then_parses_to_the_same_one() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "accounts: {}\n").unwrap();
        let text = "kind: campaign\nname: a\nposts: []\n---\nkind: template\nname: t\n---\nkind: campaign\nname: b\nposts: [{id: x}]\n";
        std::fs::write(dir.path().join("both.yaml"), text).unwrap();
        let loaded = load_path(dir.path()).unwrap();
        let kept: Vec<(Kind, bool, Option<&str>)> = loaded
            .documents
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.node.is_some(),
                    d.name.as_ref().and_then(Node::as_str),
                )
            })
            .collect();
        assert_eq!(
            kept,
            [
                (Kind::Campaign, false, Some("a")),
                (Kind::Template, true, Some("t")),
                (Kind::Campaign, false, Some("b")),
            ]
        );
        let file = loaded.documents[0].file;
        let (expected, _) = parse_documents(loaded.sources.get(file), file);
        let mut parsed = None;
        let trees: Vec<Node> = loaded
            .documents
            .into_iter()
            .map(|d| d.tree(&loaded.sources, &mut parsed))
            .collect();
        assert_eq!(trees, expected);
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let text = decode(
            Path::new("a.yaml"),
            b"\xef\xbb\xbfkind: campaign\n".to_vec(),
        );
        assert_eq!(text.unwrap(), "kind: campaign\n");
    }
}

/// What a command that reads only the store needs from `crier.yaml`: where the store is and
/// the time zone times are shown in. Nothing else in the folder is read or validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// The folder holding `crier.yaml`; a `sqlite://` store is relative to it.
    pub root: PathBuf,
    pub store: String,
    pub timezone: chrono_tz::Tz,
}

/// Reads `store:` and `timezone:` of the `crier.yaml` of a folder (or beside a file),
/// with the defaults validation uses; a value that does not read is an error naming it.
pub fn read_store_config(path: &Path) -> Result<StoreConfig, String> {
    if !path.exists() {
        return Err(LoadError::Missing {
            path: path.to_path_buf(),
        }
        .to_string());
    }
    let root = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let file = root.join(CONFIG_FILE);
    if !file.is_file() {
        return Err(LoadError::NoConfig { path: root }.to_string());
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|source| format!("cannot read `{}`: {source}", file.display()))?;
    let source = SourceFile::new(&file, text);
    let (documents, diagnostics) = parse_documents(&source, 0);
    if let Some(first) = diagnostics.first() {
        return Err(format!(
            "`{}` does not read: {}; `crier validate` shows where",
            file.display(),
            first.message
        ));
    }
    let field = |name: &str| -> Result<Option<String>, String> {
        let Some(node) = documents.first().and_then(|doc| doc.get(name)) else {
            return Ok(None);
        };
        super::yaml::from_node::<String>(node)
            .map(Some)
            .map_err(|_| format!("`{}`: `{name}:` must be a string", file.display()))
    };
    let store = field("store")?.unwrap_or_else(|| "sqlite://crier.db".into());
    let timezone = match field("timezone")? {
        Some(name) => crate::schedule::parse_timezone(&name)
            .map_err(|error| format!("`{}`: timezone: {error}", file.display()))?,
        None => chrono_tz::Tz::UTC,
    };
    Ok(StoreConfig {
        root,
        store,
        timezone,
    })
}
