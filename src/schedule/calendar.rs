//! Spreadsheet calendars for bulk scheduling (as Buffer or Postcron export them): a CSV
//! file with the columns `at`, `to`, `text` and optionally `media`, one post per row.
//!
//! This module reads the rows and reports every malformed cell at its `file:line:column`;
//! it does not parse `at` or check account names (the caller does, with the positions).

use crate::diagnostic::{Diagnostic, Position, SourceFile};

use super::calendar_cells::LineIndex;
use super::calendar_reader::Reader;

/// A value and where it was written: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

/// One post of the calendar. `to` and `media` are `;`-separated lists in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRow {
    pub line: usize,
    pub at: Located<String>,
    pub to: Vec<Located<String>>,
    pub text: Located<String>,
    pub media: Vec<Located<String>>,
}

/// A calendar file's bytes as a source file, or a diagnostic where they stop being UTF-8
/// (as a list, like [`read_calendar`]'s errors).
pub fn calendar_source(
    path: impl Into<std::path::PathBuf>,
    bytes: &[u8],
) -> Result<SourceFile, Vec<Diagnostic>> {
    let path = path.into();
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(e) => {
            let lossy = String::from_utf8_lossy(bytes);
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let (line, column) = LineIndex::new(good).locate(good.len());
            let source = SourceFile::new(path, lossy.as_ref());
            let position = Position::new(line, column, 1);
            let error = Diagnostic::error(&source, position, "calendar is not valid UTF-8")
                .with_hint("save the spreadsheet as \"CSV UTF-8\"");
            Err(vec![error])
        }
    }
}

/// The rows of a calendar, or every problem found in it.
pub fn read_calendar(source: &SourceFile) -> Result<Vec<CalendarRow>, Vec<Diagnostic>> {
    Reader::new(source).read()
}
