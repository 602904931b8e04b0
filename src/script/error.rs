//! `ScriptError`: what went wrong compiling or evaluating a condition, and where in its source.

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

use super::ConditionContext;
use crate::diagnostic::did_you_mean;

/// A condition that does not compile or could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ScriptError {
    /// Lowercase, names in backticks: "unknown variable `folows_us`".
    pub message: String,
    /// "did you mean `follows_us`?", or how to fix it.
    pub hint: Option<String>,
    /// 1-based line within the expression source; 0 when unknown.
    pub line: usize,
    /// 1-based column within the expression source; 0 when unknown.
    pub column: usize,
    /// How many characters the fault spans (at least 1): a whole unknown name.
    pub len: usize,
}

impl ScriptError {
    pub(crate) fn at(position: Position, message: impl Into<String>) -> Self {
        ScriptError {
            message: message.into(),
            hint: None,
            line: position.line().unwrap_or(0),
            column: position.position().unwrap_or(0),
            len: 1,
        }
    }

    fn spanning(mut self, len: usize) -> Self {
        self.len = len.max(1);
        self
    }

    pub(crate) fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// A compile error from rhai's parser, in crier's words.
    pub(crate) fn from_parse(error: &ParseError, context: ConditionContext) -> Self {
        let position = error.position();
        match error.err_type() {
            ParseErrorType::VariableUndefined(name) => {
                let hint = did_you_mean(name, context.variables().iter().copied())
                    .unwrap_or_else(|| available(context.variables()));
                ScriptError::at(position, format!("unknown variable `{name}`"))
                    .spanning(name.chars().count())
                    .with_hint(Some(hint))
            }
            other => match disabled_name(other) {
                Some(name) => {
                    ScriptError::at(position, format!("`{name}` is not available in conditions"))
                }
                None => ScriptError::at(position, parse_message(other)),
            },
        }
    }

    /// An evaluation error or limit hit, with a plain reason.
    pub(crate) fn from_eval(error: EvalAltResult) -> Self {
        let position = error.position();
        let message = match error {
            EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => return Self::from_eval(*inner),
            EvalAltResult::ErrorTooManyOperations(_) => {
                "condition exceeded the operation limit".to_string()
            }
            EvalAltResult::ErrorStackOverflow(_) => {
                "condition exceeded the call depth limit".into()
            }
            EvalAltResult::ErrorTerminated(reason, _) => {
                if reason.to_string() == super::limits::STOPPED_OPERATIONS {
                    "condition exceeded the operation limit".into()
                } else {
                    "condition exceeded the time limit".into()
                }
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                format!(
                    "condition exceeded the size limit ({})",
                    what.to_lowercase()
                )
            }
            EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
            EvalAltResult::ErrorPropertyNotFound(name, _) => format!("unknown field `{name}`"),
            EvalAltResult::ErrorVariableNotFound(name, _) => {
                format!("variable `{name}` has no value")
            }
            EvalAltResult::ErrorFunctionNotFound(signature, _) => {
                format!(
                    "no function `{}` for these argument types",
                    readable(&signature)
                )
            }
            EvalAltResult::ErrorMismatchDataType(expected, actual, _) if !expected.is_empty() => {
                format!(
                    "expected `{}`, got `{}`",
                    readable(&expected),
                    readable(&actual)
                )
            }
            mut other => {
                let _ = other.take_position();
                lowercase_first(&other.to_string())
            }
        };
        ScriptError::at(position, message)
    }
}

/// "condition must return true or false, got ..." for a value's type.
pub(crate) fn not_bool(position: Position, got: &str) -> ScriptError {
    ScriptError::at(
        position,
        format!("condition must return true or false, got {got}"),
    )
    .with_hint(Some("compare values, e.g. `post.text.len() > 0`".into()))
}

/// How a non-bool value reads in a message: "the number 42", "a string".
pub(crate) fn describe(value: &rhai::Dynamic) -> String {
    match value.type_name() {
        "i64" | "f64" | "decimal" => format!("the number {value}"),
        "string" | "char" => format!("the text {:?}", value.to_string()),
        "()" => "nothing".into(),
        "map" => "a map".into(),
        "array" => "an array".into(),
        other => format!("a value of type `{other}`"),
    }
}

/// rhai's "pad (&str | ImmutableString | String, i64)" as "pad(string, int)".
fn readable(signature: &str) -> String {
    signature
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("i64", "int")
        .replace("f64", "float")
        .replacen(" (", "(", 1)
}

fn available(names: &[&str]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("variables available here: {}", list.join(", "))
}

/// The disabled keyword (`eval`, `print`, ...) a parse error is about, if any.
fn disabled_name(error: &ParseErrorType) -> Option<&'static str> {
    let text = error.to_string();
    super::engine::DISABLED
        .iter()
        .copied()
        .find(|name| text.contains(&format!("'{name}'")))
}

/// rhai's parse message in crier's style: lowercase, names in backticks.
fn parse_message(error: &ParseErrorType) -> String {
    match error {
        ParseErrorType::UnexpectedEOF => "condition is incomplete".into(),
        other => lowercase_first(&other.to_string()).replace('\'', "`"),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
