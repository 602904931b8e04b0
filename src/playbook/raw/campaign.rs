//! `kind: campaign`: what to post, where and when.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, OneOrMany};
use crate::playbook::yaml::Spanned;

/// A campaign: posts at fixed times, on cron rules, or from a CSV calendar.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Always `campaign`.
    pub kind: String,
    /// Unique name across all loaded playbooks.
    pub name: Name,
    /// What the campaign is for.
    #[serde(default)]
    pub description: Option<String>,
    /// IANA time zone its times are in; `crier.yaml`'s if absent.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Posts fire only within this window (dates or datetimes, inclusive of both days).
    #[serde(default)]
    pub window: Option<Window>,
    /// Variables its texts can use: `{{ product }}`.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Build the posts from this template (`kind: template`).
    #[serde(default)]
    pub uses: Option<Name>,
    /// The template's parameters.
    #[serde(default)]
    pub with: BTreeMap<String, serde_json::Value>,
    /// The posts (a template's are added to these).
    #[serde(default)]
    pub posts: Vec<PostItem>,
    /// Every post of the campaign needs a person's approval (an item's own `approve:`
    /// replaces this).
    #[serde(default)]
    pub approve: Option<Spanned<PostApproval>>,
    /// Inbound events that fire its `on: { hook: NAME }` posts: `POST /hooks/NAME` with a
    /// signed JSON body. Names are unique across all loaded playbooks.
    #[serde(default)]
    pub hooks: BTreeMap<String, Spanned<Hook>>,
}

/// An inbound event: who may send it, and how to tell a retry from a new event.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// The HMAC-SHA256 key requests are signed with, as `env:NAME` or `file:PATH`: the
    /// sender puts `X-Crier-Timestamp` (unix seconds) and `X-Crier-Signature:
    /// sha256=<hex of HMAC(secret, "TIMESTAMP.BODY")>` on each request.
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// A JSON pointer to the event's own id in the body, e.g. `/review/id`: a second event
    /// with the same id fires nothing (the `Idempotency-Key` header does the same, and wins).
    #[serde(default)]
    pub id: Option<Spanned<String>>,
}

/// What fires a post instead of a time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnEvent {
    /// The name of one of the campaign's `hooks:`.
    pub hook: Name,
}

/// When a campaign is active.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First day (or datetime) on which posts may fire.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Last day (or datetime) on which posts may fire.
    #[serde(default)]
    pub until: Option<Spanned<String>>,
}

/// One post: `at` a time, on a `cron` rule, or every row of a `calendar` file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostItem {
    /// Unique within the campaign; names the post in plans, history and triggers.
    #[serde(default)]
    pub id: Option<Name>,
    /// A one-off time, `2026-12-01 10:00` in the campaign's time zone (or RFC 3339).
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// A standard 5-field crontab rule, `0 12 * * MON-FRI`, in the campaign's time zone.
    #[serde(default)]
    pub cron: Option<Spanned<String>>,
    /// A CSV file (`at,to,text,media`), relative to this playbook, each row a post.
    #[serde(default)]
    pub calendar: Option<Spanned<String>>,
    /// Fired by an inbound event instead of a time: `on: { hook: new-review }`. Its `when:`
    /// and text see the event's JSON body as `event`.
    #[serde(default)]
    pub on: Option<Spanned<OnEvent>>,
    /// The accounts to post with (names from `crier.yaml`).
    #[serde(default)]
    pub to: OneOrMany<Name>,
    /// The text, a template: `{{ product }}: -{{ discount }}% today`.
    #[serde(default)]
    pub text: Option<Spanned<String>>,
    /// Images to attach, relative to the playbook.
    #[serde(default)]
    pub media: OneOrMany<Spanned<String>>,
    /// Post only if this rhai condition holds at fire time.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    /// Reply to this post (an item id of this campaign).
    #[serde(default)]
    pub reply_to: Option<Name>,
    /// After downtime: `skip` missed fires, send `once`, or send `all` (within `max_late`).
    #[serde(default)]
    pub missed: Option<Spanned<Missed>>,
    /// How late a missed fire may still be sent, e.g. `2h`.
    #[serde(default)]
    pub max_late: Option<Spanned<String>>,
    /// This post needs a person's approval before it goes out.
    #[serde(default)]
    pub approve: Option<Spanned<PostApproval>>,
}

/// Who approves a post, by when, and what happens without a decision.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostApproval {
    /// The people (from `crier.yaml`'s `people:`) who may decide; they are notified.
    pub by: OneOrMany<Name>,
    /// `any` one of them approving is enough (default), or `all` must.
    #[serde(default)]
    pub need: Option<ApprovalNeed>,
    /// The decision is due this long before the post's time, e.g. `2h` (default: at the
    /// post's time).
    #[serde(default)]
    pub before: Option<Spanned<String>>,
    /// The approvers are asked this long before the decision is due (default `24h`).
    #[serde(default)]
    pub ask: Option<Spanned<String>>,
    /// Without a decision by then: `hold` the post until someone decides (default),
    /// `skip` it, or `send` it anyway.
    #[serde(default)]
    pub on_timeout: Option<PostApprovalTimeout>,
}

/// How many of the named people must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalNeed {
    Any,
    All,
}

impl ApprovalNeed {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalNeed::Any => "any",
            ApprovalNeed::All => "all",
        }
    }
}

/// What a post without a decision does at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostApprovalTimeout {
    Hold,
    Skip,
    Send,
}

impl PostApprovalTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            PostApprovalTimeout::Hold => "hold",
            PostApprovalTimeout::Skip => "skip",
            PostApprovalTimeout::Send => "send",
        }
    }
}

/// What to do with fires missed while crier was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// Record them as missed; send nothing.
    Skip,
    /// Send the latest missed fire once.
    Once,
    /// Send every missed fire, in order.
    All,
}
