//! The error a cron expression can have, pointing at the faulty field or token.

/// A cron expression that cannot be parsed: what is wrong, how to fix it, and where
/// (`offset` and `len` in bytes, within the expression).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    pub message: String,
    pub hint: Option<String>,
    pub offset: usize,
    pub len: usize,
}

impl CronError {
    pub(crate) fn new(message: impl Into<String>, offset: usize, len: usize) -> Self {
        CronError {
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
}
