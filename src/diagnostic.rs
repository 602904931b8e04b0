//! Diagnostics: one error or warning about a place in a source file, rendered the way
//! `just` and `rustc` do (`——▶ file:line:col`, the source line, a caret under the fault,
//! a hint), or as JSON for editors and CI. Also the "did you mean" suggestion helper.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A source file as loaded: its path as the user named it, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.text
            .split('\n')
            .nth(line.checked_sub(1)?)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }
}

/// A place in a file: 1-based line and column (columns count characters, not bytes),
/// and how many characters the fault spans (at least one caret is drawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub len: usize,
}

impl Position {
    pub fn new(line: usize, column: usize, len: usize) -> Self {
        Position { line, column, len }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a playbook, with where it is and, when it helps, a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub position: Option<Position>,
    /// Lowercase, names in backticks: "unknown field `tex`".
    pub message: String,
    /// "did you mean `text`?", or how to fix it.
    pub hint: Option<String>,
    /// The source line the position points into, kept so rendering needs no file access.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// An error at a position in a loaded source file.
    pub fn error(source: &SourceFile, position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: source.path.clone(),
            source_line: source.line_text(position.line).map(str::to_owned),
            position: Some(position),
            message: message.into(),
            hint: None,
        }
    }

    /// An error about a whole file (it cannot be read, it is too large).
    pub fn file_error(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.as_ref().to_path_buf(),
            position: None,
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The JSON shape `crier validate --format json` prints, one object per diagnostic.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "severity": self.severity,
            "file": self.file.display().to_string(),
            "line": self.position.map(|p| p.line),
            "column": self.position.map(|p| p.column),
            "message": self.message,
            "hint": self.hint,
        })
    }
}

impl fmt::Display for Diagnostic {
    /// ```text
    /// error: unknown field `tex`
    ///   ——▶ playbooks/sale.yaml:7:5
    ///    |
    ///  7 |     tex: "hello"
    ///    |     ^^^
    ///    = hint: did you mean `text`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", self.message)?;
        let file = self.file.display();
        match (self.position, &self.source_line) {
            (Some(pos), Some(line)) => {
                let number = pos.line.to_string();
                let gutter = " ".repeat(number.len());
                writeln!(f, "{gutter} ——▶ {file}:{}:{}", pos.line, pos.column)?;
                writeln!(f, "{gutter} |")?;
                let shown = line.replace('\t', " ");
                writeln!(f, "{number} | {shown}")?;
                let available = shown.chars().count().saturating_sub(pos.column - 1);
                let carets = pos.len.clamp(1, available.max(1));
                let mut marker = String::new();
                let _ = write!(
                    marker,
                    "{}{}",
                    " ".repeat(pos.column.saturating_sub(1)),
                    "^".repeat(carets)
                );
                writeln!(f, "{gutter} | {marker}")?;
                if let Some(hint) = &self.hint {
                    writeln!(f, "{gutter} = hint: {hint}")?;
                }
            }
            (Some(pos), None) => {
                writeln!(f, "  ——▶ {file}:{}:{}", pos.line, pos.column)?;
                if let Some(hint) = &self.hint {
                    writeln!(f, "  = hint: {hint}")?;
                }
            }
            (None, _) => {
                writeln!(f, "  ——▶ {file}")?;
                if let Some(hint) = &self.hint {
                    writeln!(f, "  = hint: {hint}")?;
                }
            }
        }
        Ok(())
    }
}

/// The closest candidate to `given`, if one is close enough to be a likely typo
/// (Levenshtein distance under 3, and less than half the word), as `just` does.
pub fn suggest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lowered = given.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::levenshtein(&lowered, &candidate.to_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, candidate)| {
            *distance < 3 && *distance * 2 <= given.chars().count().max(candidate.chars().count())
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(given, candidates).map(|s| format!("did you mean `{s}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_fault() {
        let source = SourceFile::new("a.yaml", "kind: campaign\n  tex: hi\n");
        let d = Diagnostic::error(&source, Position::new(2, 3, 3), "unknown field `tex`")
            .with_hint("did you mean `text`?");
        assert_eq!(
            d.to_string(),
            "error: unknown field `tex`\n  ——▶ a.yaml:2:3\n  |\n2 |   tex: hi\n  |   ^^^\n  = hint: did you mean `text`?\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggest("tex", ["text", "to", "id"]), Some("text"));
        assert_eq!(
            suggest("brand_mastadon", ["brand_mastodon", "demo"]),
            Some("brand_mastodon")
        );
        assert_eq!(suggest("zzz", ["text"]), None);
    }
}
