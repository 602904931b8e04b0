//! Builds the position-keeping tree from the YAML parser's event stream, and enforces the
//! safety limits: file size, nesting depth, alias expansion (the "billion laughs" bomb) and
//! duplicate keys. Drives the parser's pull API in a loop, so deep input cannot overflow the
//! stack.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::explain::explain;
use super::node::{Mark, Node, NodeKind, ScalarStyle};
use crate::diagnostic::{Diagnostic, Position, SourceFile};

/// Playbooks are small; anything larger is a mistake or an attack.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deeper nesting than this is never a real playbook.
pub const MAX_DEPTH: usize = 64;
/// Nodes one document may hold once aliases are expanded.
pub const MAX_NODES: usize = 100_000;

enum Frame {
    Sequence {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Parses every document of a file. Documents that hold nothing are left out. On a syntax
/// error, the documents read before it are kept and the error is reported.
pub fn parse_documents(source: &SourceFile, file: usize) -> (Vec<Node>, Vec<Diagnostic>) {
    let text = &*source.text;
    if text.len() > MAX_FILE_BYTES {
        let diagnostic = Diagnostic::file_error(
            &source.path,
            format!(
                "file is {} KiB, larger than the 1024 KiB a playbook may be",
                text.len().div_ceil(1024)
            ),
        )
        .with_hint("split it into several files, or move bulk rows into a CSV calendar");
        return (Vec::new(), vec![diagnostic]);
    }
    let mut builder = Builder {
        source,
        file,
        documents: Vec::new(),
        diagnostics: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((event, marker)) => {
                if let Err(diagnostic) = builder.on_event(event, marker) {
                    builder.diagnostics.push(diagnostic);
                    break;
                }
            }
            Err(error) => {
                let diagnostic = match error.info() {
                    "recursion limit exceeded" => Diagnostic::error(
                        source,
                        builder.position(error.marker(), 1),
                        format!("nesting is deeper than {MAX_DEPTH} levels"),
                    ),
                    info => {
                        let mark = builder.mark(error.marker());
                        let explained = explain(text, info, mark.line, mark.column);
                        let position =
                            Position::new(explained.line, explained.column, explained.len);
                        Diagnostic::error(source, position, explained.message)
                            .with_optional_hint(explained.hint)
                    }
                };
                builder.diagnostics.push(diagnostic);
                break;
            }
        }
    }
    (builder.documents, builder.diagnostics)
}

struct Builder<'a> {
    source: &'a SourceFile,
    file: usize,
    documents: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
}

impl Builder<'_> {
    fn mark(&self, marker: &Marker) -> Mark {
        Mark {
            file: self.file,
            line: marker.line(),
            column: marker.col() + 1,
            offset: marker.index(),
        }
    }

    fn position(&self, marker: &Marker, len: usize) -> Position {
        let mark = self.mark(marker);
        Position::new(mark.line, mark.column, len)
    }

    fn on_event(&mut self, event: Event, marker: Marker) -> Result<(), Diagnostic> {
        let mark = self.mark(&marker);
        match event {
            Event::DocumentStart => {
                self.stack.clear();
                self.anchors.clear();
                self.root = None;
                self.nodes = 0;
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take()
                    && !root.is_null()
                {
                    self.documents.push(root);
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    TScalarStyle::Plain if tag.is_some_and(|t| t.suffix == "str") => {
                        ScalarStyle::DoubleQuoted
                    }
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    TScalarStyle::Literal => ScalarStyle::Literal,
                    TScalarStyle::Folded => ScalarStyle::Folded,
                };
                let width = match style {
                    ScalarStyle::Plain => value.lines().next().unwrap_or("").chars().count(),
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        value.lines().next().unwrap_or("").chars().count() + 2
                    }
                    ScalarStyle::Literal | ScalarStyle::Folded => 1,
                };
                let node = Node {
                    mark,
                    width: width.max(1),
                    kind: NodeKind::Scalar { value, style },
                };
                self.finish(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Sequence {
                    mark,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Mapping {
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        mark,
                        anchor,
                        items,
                    }) => (
                        Node {
                            mark,
                            width: 1,
                            kind: NodeKind::Sequence(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => {
                        let entries = self.check_duplicate_keys(entries);
                        // A block mapping is best pointed at by its first key.
                        let mark = entries.first().map_or(mark, |(key, _)| key.mark.min(mark));
                        (
                            Node {
                                mark,
                                width: 1,
                                kind: NodeKind::Mapping(entries),
                            },
                            anchor,
                        )
                    }
                    None => return Ok(()),
                };
                self.finish(node, anchor)?;
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map(Node::count);
                let node = match size {
                    Some(size) => {
                        self.charge(size, mark)?;
                        let mut copy = self.anchors[&id].clone();
                        copy.mark = mark;
                        copy
                    }
                    None => {
                        return Err(Diagnostic::error(
                            self.source,
                            Position::new(mark.line, mark.column, 1),
                            "alias refers to an unknown anchor",
                        ));
                    }
                };
                self.finish(node, 0)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&mut self, mark: Mark) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                self.source,
                Position::new(mark.line, mark.column, 1),
                format!("nesting is deeper than {MAX_DEPTH} levels"),
            )
            .with_hint("playbooks never nest this deep; check the indentation"));
        }
        Ok(())
    }

    fn charge(&mut self, nodes: usize, mark: Mark) -> Result<(), Diagnostic> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                self.source,
                Position::new(mark.line, mark.column, 1),
                format!("document expands to more than {MAX_NODES} values"),
            )
            .with_hint(
                "YAML aliases (`*name`) that repeat each other multiply; expand them by hand",
            ));
        }
        Ok(())
    }

    /// Places a completed node into its parent (or as the document's root).
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        self.charge(1, node.mark)?;
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }

    /// Reports every repeated key and keeps only its first entry, so that nothing later
    /// reports the same mistake again.
    fn check_duplicate_keys(&mut self, entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
        let mut seen: HashMap<String, Mark> = HashMap::new();
        let mut kept = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = key.as_str().map(str::to_owned) else {
                kept.push((key, value));
                continue;
            };
            if let Some(first) = seen.get(&name) {
                let diagnostic = Diagnostic::error(
                    self.source,
                    key.position(),
                    format!("duplicate key `{name}`"),
                )
                .with_hint(format!(
                    "`{name}` is already set on line {}; keep one of them",
                    first.line
                ));
                self.diagnostics.push(diagnostic);
            } else {
                seen.insert(name, key.mark);
                kept.push((key, value));
            }
        }
        kept
    }
}
