//! `kind: rules`: the brand's guardrails, enforced on every post.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, OneOrMany};
use crate::playbook::yaml::Spanned;

/// A set of posting rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Always `rules`.
    pub kind: String,
    /// Unique name across all loaded playbooks.
    pub name: Name,
    /// What the rules are for.
    #[serde(default)]
    pub description: Option<String>,
    /// IANA time zone of quiet hours and blackouts; `crier.yaml`'s if absent.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// `all`, or the accounts and campaigns these rules apply to.
    pub applies_to: OneOrMany<Name>,
    /// Rate limits and minimum gaps.
    #[serde(default)]
    pub limits: Vec<Spanned<Limit>>,
    /// No posts in these hours of each day; `from` may be after `to` (across midnight).
    #[serde(default)]
    pub quiet_hours: Option<Spanned<QuietHours>>,
    /// Windows with no posts, `2026-12-31 18:00 .. 2027-01-01 12:00`.
    #[serde(default)]
    pub blackout: Vec<Spanned<String>>,
    /// What a post's text must and must not hold.
    #[serde(default)]
    pub content: Option<Content>,
}

/// A rate limit (`max` per `per`) or a minimum gap between posts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// At most this many posts...
    #[serde(default)]
    pub max: Option<Spanned<u32>>,
    /// ...in this window, e.g. `1h`.
    #[serde(default)]
    pub per: Option<Spanned<String>>,
    /// At least this long between two posts, e.g. `20m`.
    #[serde(default)]
    pub min_gap: Option<Spanned<String>>,
    /// Count per `account` (default), `campaign` or `network`.
    #[serde(default)]
    pub each: Option<LimitScope>,
}

/// What a limit counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LimitScope {
    Account,
    Campaign,
    Network,
}

/// Daily quiet hours.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `23:00`.
    pub from: Spanned<String>,
    /// End, `08:00`.
    pub to: Spanned<String>,
    /// `delay` posts to the end of the window, or `skip` them.
    #[serde(default)]
    pub then: Option<Then>,
}

/// What happens to a post inside quiet hours or a blackout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    Delay,
    Skip,
}

/// Content rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// Words a post may not contain (whole words, any case, any script).
    #[serde(default)]
    pub deny_words: Vec<Spanned<String>>,
    /// Named rhai conditions every post must meet.
    #[serde(default)]
    pub require: BTreeMap<String, Spanned<String>>,
    /// Text added to the end of every post.
    #[serde(default)]
    pub append: Option<Spanned<String>>,
    /// UTM parameters added to every link: `source`, `medium`, `campaign`, `term`, `content`
    /// (templates seeing `network`, `account`, `campaign`).
    #[serde(default)]
    pub utm: BTreeMap<String, Spanned<String>>,
}
