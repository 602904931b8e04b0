//! The error a duration, date, time, time zone or window can have, pointing at the fault.

/// Text that is not a valid time value: what is wrong, how to fix it, and where
/// (`offset` and `len` in bytes, within the text given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TimeError {
    pub message: String,
    pub hint: Option<String>,
    pub offset: usize,
    pub len: usize,
}

impl TimeError {
    pub(crate) fn new(message: impl Into<String>, offset: usize, len: usize) -> Self {
        TimeError {
            message: message.into(),
            hint: None,
            offset,
            len,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// The same error, for text that sits at `offset` within a larger text.
    pub(crate) fn shifted(mut self, offset: usize) -> Self {
        self.offset += offset;
        self
    }
}
