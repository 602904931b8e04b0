//! Reading a calendar's rows: the header decides which column is which, then each row's
//! cells are checked and located; every problem becomes a diagnostic and reading goes on.

use crate::diagnostic::{Diagnostic, Position, SourceFile, did_you_mean};

use super::calendar::{CalendarRow, Located};
use super::calendar_cells::{LineIndex, RawCell, cells_of_record};

const COLUMNS: [&str; 4] = ["at", "to", "text", "media"];
const HEADER_HINT: &str =
    "the first row names the columns: `at,to,text,media` (`media` is optional)";

const UNCLOSED_HINT: &str =
    "end the cell with another `\"`; inside quotes, write a quote as `\"\"`";

pub(crate) struct Reader<'a> {
    source: &'a SourceFile,
    text: &'a str,
    lines: LineIndex<'a>,
    errors: Vec<Diagnostic>,
}

/// Which column of the file holds each known column, in `COLUMNS` order.
type Layout = [Option<usize>; 4];

impl<'a> Reader<'a> {
    pub fn new(source: &'a SourceFile) -> Self {
        let text: &str = &source.text;
        Reader {
            source,
            text,
            lines: LineIndex::new(text),
            errors: Vec::new(),
        }
    }

    fn error_at(&mut self, offset: usize, len: usize, message: String, hint: Option<String>) {
        let (line, column) = self.lines.locate(offset);
        let position = Position::new(line, column, len);
        self.errors
            .push(Diagnostic::error(self.source, position, message).with_optional_hint(hint));
    }

    pub fn read(mut self) -> Result<Vec<CalendarRow>, Vec<Diagnostic>> {
        let bom = if self.text.starts_with('\u{feff}') {
            3
        } else {
            0
        };
        let body = &self.text[bom..];
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes());
        let mut layout: Option<(Layout, usize)> = None;
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(record) => record,
                Err(e) => {
                    let offset = e.position().map_or(0, |p| p.byte() as usize) + bom;
                    self.error_at(offset, 1, format!("cannot read the calendar: {e}"), None);
                    return Err(self.errors);
                }
            };
            let start = record.position().map_or(0, |p| p.byte() as usize) + bom;
            let cells = cells_of_record(self.text, start, record.len());
            if let Some(open) = cells.iter().find(|cell| self.never_closed(cell)) {
                // `csv` reads an unclosed quote to the end of the file: point at its start.
                self.error_at(
                    open.start,
                    1,
                    "unclosed quote: this `\"` starts a cell that never ends".to_owned(),
                    Some(UNCLOSED_HINT.to_owned()),
                );
                return Err(self.errors);
            }
            match layout {
                None => match self.header(&record, &cells) {
                    Some(found) => layout = Some((found, record.len())),
                    None => return Err(self.errors),
                },
                Some((columns, width)) => {
                    if let Some(row) = self.row(&record, &cells, columns, width) {
                        rows.push(row);
                    }
                }
            }
        }
        if layout.is_none() {
            self.error_at(
                bom,
                1,
                "calendar is empty".to_owned(),
                Some(HEADER_HINT.to_owned()),
            );
        }
        if self.errors.is_empty() {
            Ok(rows)
        } else {
            Err(self.errors)
        }
    }

    /// Whether `cell` opens a quote that no later `"` closes.
    fn never_closed(&self, cell: &RawCell) -> bool {
        if !cell.quoted {
            return false;
        }
        let bytes = self.text.as_bytes();
        let mut pos = cell.start + 1;
        while pos < bytes.len() {
            match (bytes[pos], bytes.get(pos + 1)) {
                (b'"', Some(b'"')) => pos += 2,
                (b'"', _) => return false,
                _ => pos += 1,
            }
        }
        true
    }

    /// Reads the header row; `None` when a required column is missing.
    fn header(&mut self, record: &csv::StringRecord, cells: &[RawCell]) -> Option<Layout> {
        let mut layout: Layout = [None; 4];
        for (i, (name, cell)) in record.iter().zip(cells).enumerate() {
            let name = name.trim();
            let len = self
                .lines
                .rest_of_line(cell.start)
                .min(name.chars().count().max(1));
            match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                Some(known) if layout[known].is_some() => {
                    self.error_at(
                        cell.start,
                        len,
                        format!("column `{name}` appears twice"),
                        None,
                    );
                }
                Some(known) => layout[known] = Some(i),
                None => {
                    let hint =
                        did_you_mean(name, COLUMNS).unwrap_or_else(|| HEADER_HINT.to_owned());
                    self.error_at(
                        cell.start,
                        len,
                        format!("unknown column `{name}`"),
                        Some(hint),
                    );
                }
            }
        }
        let start = cells.first().map_or(0, |c| c.start);
        let width = self.lines.rest_of_line(start);
        let mut complete = true;
        for (known, name) in COLUMNS.iter().enumerate().take(3) {
            if layout[known].is_none() {
                complete = false;
                let message = format!("missing column `{name}`");
                self.error_at(start, width, message, Some(HEADER_HINT.to_owned()));
            }
        }
        complete.then_some(layout)
    }

    fn row(
        &mut self,
        record: &csv::StringRecord,
        cells: &[RawCell],
        columns: Layout,
        width: usize,
    ) -> Option<CalendarRow> {
        let start = cells.first().map_or(0, |c| c.start);
        let line = self.lines.locate(start).0;
        if record.len() != width {
            let (offset, len) = match cells.get(width) {
                Some(extra) => (extra.start, self.lines.rest_of_line(extra.start)),
                None => (cells.last().map_or(start, |c| c.end), 1),
            };
            let found = match record.len() {
                1 => "1 field".to_owned(),
                n => format!("{n} fields"),
            };
            let message = format!("row has {found}, the header has {width}");
            let hint = "put text with commas in double quotes: `\"Hello, world\"`".to_owned();
            self.error_at(offset, len, message, Some(hint));
            return None;
        }
        let cell = |known: usize| columns[known].map(|i| (&record[i], cells[i]));
        let (at_value, at_cell) = cell(0)?;
        let (to_value, to_cell) = cell(1)?;
        let (text_value, text_cell) = cell(2)?;
        let at = self.trimmed(at_value, at_cell);
        let to = self.list(to_value, to_cell);
        let text = self.trimmed(text_value, text_cell);
        let media = cell(3).map_or_else(Vec::new, |(v, c)| self.list(v, c));
        let checks = [
            (
                at.value.is_empty(),
                at_cell,
                "at",
                "write when to post, like `2026-12-01 09:00`",
            ),
            (
                to.is_empty(),
                to_cell,
                "to",
                "name one or more accounts, separated by `;`",
            ),
            (
                text.value.is_empty(),
                text_cell,
                "text",
                "write the text of the post",
            ),
        ];
        let before = self.errors.len();
        for (empty, raw, name, hint) in checks {
            if empty {
                let len = self
                    .lines
                    .rest_of_line(raw.start)
                    .min((raw.end - raw.start).max(1));
                self.error_at(
                    raw.start,
                    len,
                    format!("empty `{name}` cell"),
                    Some(hint.to_owned()),
                );
            }
        }
        (self.errors.len() == before).then_some(CalendarRow {
            line,
            at,
            to,
            text,
            media,
        })
    }

    /// The cell's value without surrounding spaces, located at its first character.
    fn trimmed(&self, value: &str, cell: RawCell) -> Located<String> {
        let lead = value.len() - value.trim_start().len();
        self.located(value.trim(), cell, lead)
    }

    /// The `;`-separated items of a cell, trimmed, empty ones skipped.
    fn list(&self, value: &str, cell: RawCell) -> Vec<Located<String>> {
        let mut items = Vec::new();
        let mut offset = 0;
        for item in value.split(';') {
            let lead = item.len() - item.trim_start().len();
            if !item.trim().is_empty() {
                items.push(self.located(item.trim(), cell, offset + lead));
            }
            offset += item.len() + 1;
        }
        items
    }

    fn located(&self, value: &str, cell: RawCell, value_offset: usize) -> Located<String> {
        let (line, column) = self.lines.locate(cell.offset_of(self.text, value_offset));
        Located {
            value: value.to_owned(),
            line,
            column,
        }
    }
}
