//! `kind: crisis`: watch mentions, detect a spike, escalate by severity, respond, resolve.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, OneOrMany};
use crate::playbook::yaml::Spanned;

/// A crisis plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crisis {
    /// Always `crisis`.
    pub kind: String,
    /// Unique name across all loaded playbooks.
    pub name: Name,
    /// What the plan is for.
    #[serde(default)]
    pub description: Option<String>,
    /// IANA time zone; `crier.yaml`'s if absent.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// What to watch.
    pub watch: Watch,
    /// Words that extend the built-in sentiment lexicon.
    #[serde(default)]
    pub sentiment: Option<Sentiment>,
    /// Severity levels, lowest first; an open incident only goes up.
    pub levels: Vec<Level>,
    /// When and how the incident resolves.
    #[serde(default)]
    pub resolve: Option<Resolve>,
    /// What happens when nobody acknowledges a notification: remind, then escalate.
    #[serde(default)]
    pub ack: Option<Ack>,
    /// Variables its texts can use.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// The mention stream a plan watches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// Accounts whose mentions and replies are read.
    pub accounts: OneOrMany<Name>,
    /// Only mentions containing one of these (any case, whole words or phrases) count.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// How often the levels are evaluated, e.g. `1m`.
    #[serde(default)]
    pub every: Option<Spanned<String>>,
}

/// Extra sentiment words, in any language.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sentiment {
    /// Words that make a mention negative.
    #[serde(default)]
    pub negative: Vec<String>,
    /// Words that make a mention positive.
    #[serde(default)]
    pub positive: Vec<String>,
    /// Replace the built-in lexicon instead of extending it.
    #[serde(default)]
    pub replace_builtin: bool,
}

/// A severity level.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// The level's name, e.g. `elevated`, `critical`.
    pub name: Name,
    /// The rhai condition that opens or raises the incident to this level.
    pub when: Spanned<String>,
    /// The steps to run when the level is reached.
    #[serde(default, rename = "do")]
    pub steps: Vec<Spanned<Step>>,
}

/// How an incident resolves.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// The rhai condition that must hold...
    pub when: Spanned<String>,
    /// ...for this long, e.g. `2h`.
    #[serde(rename = "for")]
    pub hold_for: Spanned<String>,
    /// Steps to run on resolving.
    #[serde(default, rename = "do")]
    pub steps: Vec<Spanned<Step>>,
}

/// One step; exactly one of `notify`, `pause`, `resume`, `approve`, `post`, `wait`, `escalate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Notify these people.
    #[serde(default)]
    pub notify: Option<OneOrMany<Name>>,
    /// The notification's text (a template seeing `signal`, `incident`, `vars`).
    #[serde(default)]
    pub text: Option<Spanned<String>>,
    /// Pause `campaigns` (every campaign post; the plan's own posts still go out), `all`
    /// (every send), or accounts by name.
    #[serde(default)]
    pub pause: Option<OneOrMany<Name>>,
    /// Lift the pauses on these targets (`campaigns`, `all`, or accounts by name); held posts
    /// go on by their `missed:` policy.
    #[serde(default)]
    pub resume: Option<OneOrMany<Name>>,
    /// Wait for a person's approval.
    #[serde(default)]
    pub approve: Option<Approve>,
    /// Publish a post.
    #[serde(default)]
    pub post: Option<PostStep>,
    /// Wait this long, e.g. `15m`.
    #[serde(default)]
    pub wait: Option<Spanned<String>>,
    /// Raise the incident to the next level (`true`) or to the named one.
    #[serde(default)]
    pub escalate: Option<Spanned<String>>,
}

/// Acknowledgement: an incident's notifications that nobody acknowledges (`crier incident
/// ack`) are sent again after `timeout`, `reminders` times, then to the plan's other people.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// How long a notification may go unacknowledged, e.g. `15m` (the default).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// How many reminders go to the same people before escalating (default 1).
    #[serde(default)]
    pub reminders: Option<u32>,
}

/// An approval gate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// Who may approve.
    pub by: OneOrMany<Name>,
    /// How long to wait, e.g. `20m`.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// On timeout: `escalate`, `proceed` or `abort`.
    #[serde(default)]
    pub on_timeout: Option<OnTimeout>,
}

/// What an unanswered approval does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    Escalate,
    Proceed,
    Abort,
}

/// A post published by a crisis step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostStep {
    /// The accounts to post with.
    pub to: OneOrMany<Name>,
    /// The text (a template).
    pub text: Spanned<String>,
    /// Images to attach.
    #[serde(default)]
    pub media: OneOrMany<Spanned<String>>,
}
