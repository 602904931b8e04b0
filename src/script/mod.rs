//! Conditions: the one sandboxed rhai engine, compiled conditions, and the context each
//! playbook field sees.
//!
//! `when:`, `eligible:` and `require:` are rhai expressions returning a bool. They are
//! compiled once at load by [`ScriptEngine::compile`] (unknown variables and functions are
//! errors with positions inside the expression) and evaluated many times by
//! [`ScriptEngine::evaluate`] against a [`ConditionInput`].

mod check;
mod context;
mod engine;
mod error;
mod functions;
mod input;
mod limits;
mod scope;
mod sources;
mod window;

pub use context::ConditionContext;
pub use engine::{Condition, ScriptEngine};
pub use error::ScriptError;
pub use input::{ConditionInput, json_to_dynamic, now_map};
pub use sources::{AccountMetrics, MentionCounts, MetricsSource, NoData, Sentiment, SignalSource};
pub use window::parse_window;
