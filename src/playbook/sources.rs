//! The table of loaded files. Nodes and spans name their file by index into it, and
//! diagnostics are made here, where the file's text is at hand.

use std::path::Path;

use super::yaml::{Mark, Node, Spanned, position_inside};
use crate::diagnostic::{Diagnostic, Position, SourceFile};

#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> usize {
        self.files.push(file);
        self.files.len() - 1
    }

    pub fn try_get(&self, file: usize) -> Option<&SourceFile> {
        self.files.get(file)
    }

    pub fn get(&self, file: usize) -> &SourceFile {
        &self.files[file]
    }

    pub fn path(&self, file: usize) -> &Path {
        &self.files[file].path
    }

    pub fn error_at(&self, mark: Mark, width: usize, message: impl Into<String>) -> Diagnostic {
        let position = Position::new(mark.line, mark.column, width);
        Diagnostic::error(self.get(mark.file), position, message)
    }

    pub fn error_node(&self, node: &Node, message: impl Into<String>) -> Diagnostic {
        self.error_at(node.mark, node.width, message)
    }

    pub fn error<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        self.error_at(spanned.mark, spanned.width, message)
    }

    /// An error at a place inside a scalar (1-based line and column within its value), such
    /// as a rhai or template error inside a `when:` block.
    pub fn error_inside(
        &self,
        spanned: &Spanned<String>,
        inner_line: usize,
        inner_column: usize,
        len: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        if inner_line == 0 {
            return self.error(spanned, message);
        }
        let source = self.get(spanned.mark.file);
        let position = position_inside(
            source,
            spanned.mark,
            spanned.style,
            inner_line,
            inner_column,
            len,
        );
        Diagnostic::error(source, position, message)
    }

    /// An error at a character offset inside a scalar that is written on one line.
    pub fn error_at_offset(
        &self,
        spanned: &Spanned<String>,
        byte_offset: usize,
        len: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let prefix = spanned.value.get(..byte_offset).unwrap_or(&spanned.value);
        let line = prefix.matches('\n').count() + 1;
        let column = prefix.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let len = spanned
            .value
            .get(byte_offset..byte_offset + len)
            .map_or(len, |s| s.chars().count());
        self.error_inside(spanned, line, column, len.max(1), message)
    }

    /// "line 12 of playbooks/sale.yaml", for hints that point at a second place.
    pub fn describe(&self, mark: Mark) -> String {
        format!(
            "{}:{}:{}",
            self.path(mark.file).display(),
            mark.line,
            mark.column
        )
    }
}
