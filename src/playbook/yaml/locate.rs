//! Maps a position inside a scalar's value (a rhai error at line 2, column 7 of a `when:`
//! block) back to its line and column in the YAML file, for every scalar style.

use super::node::{Mark, ScalarStyle};
use crate::diagnostic::{Position, SourceFile};

/// `inner_line` and `inner_column` are 1-based within the scalar's value; `len` is how many
/// characters to underline.
pub fn position_inside(
    source: &SourceFile,
    mark: Mark,
    style: ScalarStyle,
    inner_line: usize,
    inner_column: usize,
    len: usize,
) -> Position {
    let inner_line = inner_line.max(1);
    let inner_column = inner_column.max(1);
    let indentation = |line: usize| {
        source
            .line_text(line)
            .map(|text| text.chars().take_while(|c| *c == ' ').count())
            .unwrap_or(0)
    };
    match style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            // The parser marks a block scalar at its first content character, and every
            // content line shares that indentation.
            Position::new(
                mark.line + inner_line - 1,
                mark.column + inner_column - 1,
                len,
            )
        }
        ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = usize::from(style != ScalarStyle::Plain);
            if inner_line == 1 {
                Position::new(mark.line, mark.column + quote + inner_column - 1, len)
            } else {
                let line = mark.line + inner_line - 1;
                Position::new(line, indentation(line) + inner_column, len)
            }
        }
    }
}
