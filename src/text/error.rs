//! `TextError`: a template that does not parse, check or render, and where in its source.

/// A template fault, positioned inside the template source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TextError {
    /// Lowercase, names in backticks: "unknown filter `mention`".
    pub message: String,
    /// "did you mean `mentions`?", or how to fix it.
    pub hint: Option<String>,
    /// 1-based line within the template source; 0 when unknown.
    pub line: usize,
    /// 1-based column (in characters) within the template source; 0 when unknown.
    pub column: usize,
    /// How many characters the fault spans; 0 when unknown.
    pub len: usize,
}

impl TextError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TextError {
            message: message.into(),
            hint: None,
            line: 0,
            column: 0,
            len: 0,
        }
    }

    pub(crate) fn at(mut self, line: usize, column: usize, len: usize) -> Self {
        (self.line, self.column, self.len) = (line, column, len);
        self
    }

    pub(crate) fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Places the error at byte range `range` of `source`.
    pub(crate) fn at_bytes(self, source: &str, range: std::ops::Range<usize>) -> Self {
        let start = floor_char(source, range.start);
        let end = floor_char(source, range.end.max(start));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let len = source[start..end].chars().count();
        self.at(line, column, len)
    }

    /// A text that went over its rendering budget: `reason` says which bound.
    pub(crate) fn over_budget(reason: String) -> Self {
        TextError::new(reason).with_hint(Some(super::budget::OVER_BUDGET_HINT.into()))
    }

    /// A minijinja error (syntax or rendering) in crier's words, positioned in `source`.
    pub(crate) fn from_minijinja(error: &minijinja::Error, source: &str) -> Self {
        use minijinja::ErrorKind;
        let detail = error.detail().unwrap_or_default();
        if error.kind() == ErrorKind::OutOfFuel {
            return TextError::over_budget(super::budget::out_of_steps());
        }
        if super::budget::reasons()
            .iter()
            .any(|reason| reason == detail)
        {
            return TextError::over_budget(detail.to_string());
        }
        let spanned = error
            .range()
            .map(|r| &source[floor_char(source, r.start)..floor_char(source, r.end)]);
        let message = match error.kind() {
            ErrorKind::SyntaxError => format!("syntax error: {}", lowercase_first(detail)),
            ErrorKind::UndefinedError => match spanned {
                Some(expr) if !expr.is_empty() => format!("`{}` has no value", expr.trim()),
                _ => "a value used by the text is undefined".into(),
            },
            kind => {
                let kind = lowercase_first(&kind.to_string());
                if detail.is_empty() {
                    kind
                } else {
                    format!("{kind}: {detail}")
                }
            }
        };
        let error_out = TextError::new(message);
        match (error.range(), error.line()) {
            (Some(range), _) => error_out.at_bytes(source, range),
            (None, Some(line)) => error_out.at(line, 0, 0),
            (None, None) => error_out,
        }
    }
}

fn floor_char(source: &str, mut index: usize) -> usize {
    index = index.min(source.len());
    while !source.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
