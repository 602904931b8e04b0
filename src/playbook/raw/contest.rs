//! `kind: contest`: announce a giveaway, collect entries, check them, draw verifiable winners.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, OneOrMany};
use crate::playbook::yaml::Spanned;

/// A giveaway from announcement to winners.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contest {
    /// Always `contest`.
    pub kind: String,
    /// Unique name across all loaded playbooks.
    pub name: Name,
    /// What the contest is for.
    #[serde(default)]
    pub description: Option<String>,
    /// IANA time zone its times are in; `crier.yaml`'s if absent.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// The account that announces and reads entries.
    pub account: Name,
    /// The person to tell when winners cannot be sent a direct message.
    #[serde(default)]
    pub owner: Option<Name>,
    /// Variables its texts can use.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// The announcement post.
    pub announce: Announce,
    /// How entries are collected and checked.
    pub entries: Entries,
    /// When and how winners are drawn.
    pub draw: Draw,
    /// What winners are told.
    #[serde(default)]
    pub winners: Option<WinnerMessages>,
}

/// The announcement.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    /// When to announce.
    pub at: Spanned<String>,
    /// The announcement's text (a template).
    pub text: Spanned<String>,
    /// Images to attach.
    #[serde(default)]
    pub media: OneOrMany<Spanned<String>>,
}

/// Where entries come from and what makes one eligible.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entries {
    /// `replies` to the announcement, `mentions` of the account, or posts with the `hashtag`.
    pub from: Spanned<EntrySource>,
    /// The hashtag entries must carry (required for `from: hashtag`).
    #[serde(default)]
    pub hashtag: Option<Spanned<String>>,
    /// When entries close.
    pub closes: Spanned<String>,
    /// `author`: one entry per author (per network); later ones are excluded.
    #[serde(default)]
    pub one_per: Option<OnePer>,
    /// Named rhai rules an entry must pass: `not_new: 'entry.author.age_days >= 30'`.
    #[serde(default)]
    pub eligible: BTreeMap<String, Spanned<String>>,
    /// Accounts whose entries never count (the brand's staff).
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// An entry must mention at least this many other accounts ("tag two friends").
    #[serde(default)]
    pub min_mentions: Option<u32>,
    /// Entries containing any of these words (whole words, any case) are excluded.
    #[serde(default)]
    pub deny_words: Vec<String>,
}

/// Where entries are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntrySource {
    Replies,
    Mentions,
    Hashtag,
}

/// What "one entry per" counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnePer {
    Author,
}

/// The draw.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Draw {
    /// When to draw; after `entries.closes`.
    pub at: Spanned<String>,
    /// How many winners.
    pub winners: Spanned<u32>,
    /// How many reserves, in order, for disqualified winners.
    #[serde(default)]
    pub reserves: u32,
    /// `commit-reveal`: the commitment is published when entries close, the seed at the draw.
    #[serde(default)]
    pub proof: Option<Spanned<String>>,
    /// `post` the commitment on the contest's account, or only `record` it.
    #[serde(default)]
    pub commitment: Option<Commitment>,
}

/// Where the draw's commitment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    Post,
    Record,
}

/// Messages to the winners (templates that see `winners`, `contest`, `vars`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WinnerMessages {
    /// A public reply to the announcement: `Congratulations {{ winners | mentions }}!`.
    #[serde(default)]
    pub reply: Option<Spanned<String>>,
    /// A direct message to each winner, where the network allows.
    #[serde(default)]
    pub dm: Option<Spanned<String>>,
}
