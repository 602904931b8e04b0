//! YAML syntax errors in a beginner's words: the parser's message ("did not find expected
//! key") says what it wanted, not what the author did. Here the source around the error is
//! read for the usual causes (a tab, a missing space after a colon, an unclosed quote, a line
//! or list item at the wrong indentation) and the error is placed on the line that went wrong,
//! with a hint on how to fix it. An error with no recognised cause keeps the parser's words.

/// A syntax error: where (1-based line and column, length in characters), what, and a hint.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Explained {
    pub line: usize,
    pub column: usize,
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Explains the parser's error `info` reported at 1-based `line`, `column` of `text`.
pub(super) fn explain(text: &str, info: &str, line: usize, column: usize) -> Explained {
    let lines: Vec<&str> = text.lines().collect();
    let upto = line.min(lines.len());
    tab(&lines, upto)
        .or_else(|| unclosed_quote(&lines, info, line, column))
        .or_else(|| missing_space(&lines, upto))
        .or_else(|| wrong_indentation(&lines, upto))
        .or_else(|| value_with_colon(&lines, info, line))
        .unwrap_or_else(|| Explained {
            line,
            column,
            len: 1,
            message: format!("invalid YAML: {info}"),
            hint: None,
        })
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// A tab in the indentation of a line up to the error's.
fn tab(lines: &[&str], upto: usize) -> Option<Explained> {
    lines.iter().take(upto + 1).enumerate().find_map(|(i, text)| {
        let lead = text.len() - text.trim_start_matches([' ', '\t']).len();
        let at = text[..lead].find('\t')?;
        Some(Explained {
            line: i + 1,
            column: at + 1,
            len: 1,
            message: "a tab in the indentation".into(),
            hint: Some(
                "YAML indents with spaces only: replace the tab with spaces (most editors have a setting to insert spaces for tabs)".into(),
            ),
        })
    })
}

fn unclosed_quote(lines: &[&str], info: &str, line: usize, column: usize) -> Option<Explained> {
    if !info.contains("quoted scalar") {
        return None;
    }
    let text = lines.get(line.checked_sub(1)?)?;
    let quote = text.chars().nth(column.checked_sub(1)?)?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    Some(Explained {
        line,
        column,
        len: 1,
        message: format!("unclosed quote: this `{quote}` starts a text that never ends"),
        hint: Some(format!(
            "end the text with `{quote}` on the same line; for text over several lines write `text: |` and indent the lines below it"
        )),
    })
}

/// `name:sale`: a key with no space after its colon, on a line up to the error's.
fn missing_space(lines: &[&str], upto: usize) -> Option<Explained> {
    lines.iter().take(upto).enumerate().find_map(|(i, text)| {
        if !is_content(text) {
            return None;
        }
        let start = indent(text);
        let body = &text[start..];
        let body_start = if let Some(rest) = body.strip_prefix("- ") {
            start + 2 + (rest.len() - rest.trim_start().len())
        } else {
            start
        };
        let entry = &text[body_start..];
        let key_len = entry
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .filter(|&n| n > 0)?;
        let after = entry[key_len..].strip_prefix(':')?;
        let next = after.chars().next()?;
        if next.is_whitespace() || next == ':' || after.starts_with("//") {
            return None;
        }
        let key = &entry[..key_len];
        let value = after.trim_end();
        Some(Explained {
            line: i + 1,
            column: body_start + key_len + 1,
            len: 1,
            message: format!("missing space after `{key}:`"),
            hint: Some(format!(
                "write `{key}: {value}`: without the space, YAML reads `{key}:{value}` as one word, not a key and its value"
            )),
        })
    })
}

/// The error's line (or the line just before it) starts at a column no enclosing map or
/// list uses.
fn wrong_indentation(lines: &[&str], upto: usize) -> Option<Explained> {
    let line = upto.checked_sub(1)?;
    let text = lines.get(line)?;
    if !is_content(text) {
        return None;
    }
    let column = indent(text);
    let above: Vec<&str> = lines[..line]
        .iter()
        .copied()
        .filter(|l| is_content(l))
        .collect();
    let previous = above.last()?;
    let is_item = text.trim_start().starts_with("- ") || text.trim() == "-";
    if is_item {
        // The closest list above whose items start further right than this one.
        let items = above.iter().rev().find(|l| {
            let t = l.trim_start();
            (t.starts_with("- ") || t == "-") && indent(l) > column
        })?;
        let expected = indent(items);
        if column >= expected {
            return None;
        }
        return Some(Explained {
            line: line + 1,
            column: column + 1,
            len: 1,
            message: format!(
                "wrong indentation: this list item starts at column {}, the items above it at column {}",
                column + 1,
                expected + 1
            ),
            hint: Some(
                "items of one list start with `-` in the same column; move this line right".into(),
            ),
        });
    }
    let expected = key_column(previous);
    if column == expected || column > expected && !previous.trim_end().ends_with(':') {
        return None;
    }
    let outer = above.iter().any(|l| key_column(l) == column);
    if outer && column < expected {
        return None;
    }
    let width = text
        .trim()
        .split(':')
        .next()
        .map_or(1, |k| k.chars().count());
    Some(Explained {
        line: line + 1,
        column: column + 1,
        len: width.max(1),
        message: format!(
            "wrong indentation: this line starts at column {}, the line above it at column {}",
            column + 1,
            expected + 1
        ),
        hint: Some(
            "keys of one map start in the same column; indent with spaces, the same number for each level".into(),
        ),
    })
}

/// The column a line's key starts at: after `- ` for a list item.
fn key_column(line: &str) -> usize {
    let start = indent(line);
    match line[start..].strip_prefix("- ") {
        Some(rest) => start + 2 + (rest.len() - rest.trim_start().len()),
        None => start,
    }
}

/// `text: Sale: 50% off`: a colon and space inside an unquoted value.
fn value_with_colon(lines: &[&str], info: &str, line: usize) -> Option<Explained> {
    if !info.contains("mapping values are not allowed") {
        return None;
    }
    let text = lines.get(line.checked_sub(1)?)?;
    let key_end = text.find(": ")?;
    let value_start =
        key_end + 2 + (text[key_end + 2..].len() - text[key_end + 2..].trim_start().len());
    Some(Explained {
        line,
        column: value_start + 1,
        len: text[value_start..].trim_end().chars().count().max(1),
        message: "a value with `: ` in it needs quotes".into(),
        hint: Some(format!(
            "write it in quotes: `{}: \"{}\"`",
            text[..key_end].trim(),
            text[value_start..].trim_end()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unrecognised_error_keeps_the_parser_words() {
        let explained = explain("a: b\n", "something odd", 1, 3);
        assert_eq!(explained.message, "invalid YAML: something odd");
        assert_eq!((explained.line, explained.column), (1, 3));
    }

    #[test]
    fn urls_and_times_are_not_missing_spaces() {
        let text = "url: https://example.org\nat: 10:00\nnext\n";
        assert_eq!(missing_space(&text.lines().collect::<Vec<_>>(), 3), None);
    }
}
