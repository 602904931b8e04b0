//! The YAML tree crier reads: every node remembers where it stands in its file, so that
//! any later stage (deserialising, validating, template expansion) can point at it.

use crate::diagnostic::Position;

/// Where a node starts: which loaded file (an index into the loader's file table), 1-based
/// line and column (in characters), byte offset into the file. Template expansion moves
/// nodes between files, so a node carries its file with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Mark {
    pub file: usize,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// How a scalar was written; decides how a plain `10` or `true` resolves, and how a position
/// inside a condition or template maps back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScalarStyle {
    #[default]
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar { value: String, style: ScalarStyle },
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub mark: Mark,
    /// How many characters to underline when pointing at this node.
    pub width: usize,
    pub kind: NodeKind,
}

impl Node {
    pub fn scalar(value: impl Into<String>, mark: Mark) -> Node {
        let value = value.into();
        Node {
            mark,
            width: value.chars().count().max(1),
            kind: NodeKind::Scalar {
                value,
                style: ScalarStyle::DoubleQuoted,
            },
        }
    }

    pub fn position(&self) -> Position {
        Position::new(self.mark.line, self.mark.column, self.width)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn style(&self) -> Option<ScalarStyle> {
        match &self.kind {
            NodeKind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }

    /// A plain `~`, `null` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, style: ScalarStyle::Plain }
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node for `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Mapping(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// What a user would call this kind of value, for "expected a list, found a map".
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar { value, .. } if self.is_null() && value.is_empty() => {
                "nothing".into()
            }
            NodeKind::Scalar { value, .. } => {
                let shown: String = value.chars().take(40).collect();
                let more = if value.chars().count() > 40 {
                    "…"
                } else {
                    ""
                };
                format!("`{shown}{more}`")
            }
            NodeKind::Sequence(_) => "a list".into(),
            NodeKind::Mapping(_) => "a map".into(),
        }
    }

    /// How many nodes this tree holds (the budget that stops alias bombs counts these).
    pub fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Sequence(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}
