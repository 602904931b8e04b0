//! Where the cells of a CSV text are: the `csv` crate gives values and where each record
//! starts; this finds each cell's place from there, so errors and values can point at
//! `file:line:column` even after quoted cells that span lines.

/// Maps byte offsets in a text to 1-based lines and character columns.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// Bytes of a leading byte-order mark, which takes no column.
    bom: usize,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        LineIndex { text, starts, bom }
    }

    /// Line and column of byte `offset` of the text.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1].max(if line == 1 { self.bom } else { 0 });
        let start = start.min(offset);
        (line, self.text[start..offset].chars().count() + 1)
    }

    /// Characters from `offset` to the end of its line (at least one).
    pub fn rest_of_line(&self, offset: usize) -> usize {
        let rest = &self.text[offset..];
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        rest[..end].chars().count().max(1)
    }
}

/// One cell as written: where it starts, and whether it is quoted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawCell {
    pub start: usize,
    pub end: usize,
    pub quoted: bool,
}

impl RawCell {
    /// The byte offset in the text of byte `value_offset` of the cell's value (its
    /// content with quotes removed and `""` read as `"`).
    pub fn offset_of(&self, text: &str, value_offset: usize) -> usize {
        if !self.quoted {
            return self.start + value_offset;
        }
        let bytes = text.as_bytes();
        let (mut raw, mut value) = (self.start + 1, 0);
        while value < value_offset && raw < self.end {
            raw += if bytes[raw] == b'"' { 2 } else { 1 };
            value += 1;
        }
        raw
    }
}

/// The `count` cells of the record starting at byte `start`, scanned like `csv` does with
/// its default settings (comma-separated, `"` quotes, `""` escapes). Blank lines before the
/// record (which `csv` skips, and may count as the record's start) are skipped.
pub(crate) fn cells_of_record(text: &str, start: usize, count: usize) -> Vec<RawCell> {
    let bytes = text.as_bytes();
    let mut cells = Vec::new();
    let mut pos = start;
    while matches!(bytes.get(pos), Some(b'\r' | b'\n')) {
        pos += 1;
    }
    loop {
        let cell_start = pos;
        let quoted = bytes.get(pos) == Some(&b'"');
        if quoted {
            pos += 1;
            while pos < bytes.len() {
                if bytes[pos] == b'"' {
                    if bytes.get(pos + 1) == Some(&b'"') {
                        pos += 2;
                        continue;
                    }
                    pos += 1;
                    break;
                }
                pos += 1;
            }
        }
        while pos < bytes.len() && !matches!(bytes[pos], b',' | b'\n' | b'\r') {
            pos += 1;
        }
        cells.push(RawCell {
            start: cell_start,
            end: pos,
            quoted,
        });
        if bytes.get(pos) != Some(&b',') || cells.len() == count {
            // Never fewer cells than `csv` found, should the scans ever disagree.
            let end = cells[cells.len() - 1].end;
            let missing = RawCell {
                start: end,
                end,
                quoted: false,
            };
            cells.resize(count.max(cells.len()), missing);
            return cells;
        }
        pos += 1;
    }
}
