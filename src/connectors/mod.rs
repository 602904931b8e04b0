//! Connectors: how crier speaks to a network. One trait, one folder per network, one shared
//! HTTP client. A connector classifies every failure at the edge (`SendError`); the
//! dispatcher decides what to do with it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use crate::network::Capabilities;
use crate::network::Network;

/// One post (or direct message, or notification) to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingPost {
    /// Stable for (run, step, account): passed to the network where it supports one, and
    /// used to look the post up after an outcome-unknown failure.
    pub idempotency_key: String,
    pub text: String,
    /// Image files to attach.
    #[serde(default)]
    pub media: Vec<PathBuf>,
    /// The network's id of the post to reply to.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Where the post comes from, for receivers that want it (webhooks) and for logs.
    pub playbook: String,
    pub item: String,
    /// Sent as a direct message to this person (the network's handle or id) instead of a
    /// public post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_to: Option<String>,
    /// A notice to the brand's own people (an alert, an approval request), not a post:
    /// the posting rules' limits do not count it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice: bool,
}

/// What the network said a sent post is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivered {
    pub remote_id: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// The answer to "does this post already exist?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Delivered),
    NotFound,
    /// The network cannot say; a resend must rely on its own idempotency (the key is sent).
    Unsupported,
}

/// Why a send failed, classified by what the dispatcher should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Retrying cannot help (bad token, text too long, unknown chat): give up, record why.
    Permanent { reason: String },
    /// The network asked to wait this long.
    RetryAfter { after: Duration, reason: String },
    /// Worth retrying with backoff; the request certainly did not create the post.
    Transient { reason: String },
    /// The request may have reached the network (timeout, connection dropped after
    /// sending): ask `lookup` before any retry.
    OutcomeUnknown { reason: String },
}

impl SendError {
    pub fn reason(&self) -> &str {
        match self {
            SendError::Permanent { reason }
            | SendError::RetryAfter { reason, .. }
            | SendError::Transient { reason }
            | SendError::OutcomeUnknown { reason } => reason,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Permanent { reason } => write!(f, "rejected: {reason}"),
            SendError::RetryAfter { after, reason } => {
                write!(
                    f,
                    "{reason} (the network asked to wait {}s)",
                    after.as_secs_f64()
                )
            }
            SendError::Transient { reason } => write!(f, "{reason} (will retry)"),
            SendError::OutcomeUnknown { reason } => {
                write!(
                    f,
                    "{reason} (the post may have gone out; checking before retrying)"
                )
            }
        }
    }
}

impl std::error::Error for SendError {}

/// Someone who wrote a mention (or a post found by its hashtag), with the facts the network gives about them (contests'
/// eligibility rules read these; `None` where the network does not say).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Author {
    /// The network's stable id of the account (a Mastodon account id, a Bluesky DID, a
    /// Matrix user id, a Telegram user id).
    pub id: String,
    /// How people address them: `@name@server`, `name.bsky.social`, `@user:server`.
    pub handle: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub followers: Option<u64>,
    /// When their account was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Whether they follow the account crier posts as.
    #[serde(default)]
    pub follows_account: Option<bool>,
    #[serde(default)]
    pub bot: Option<bool>,
}

/// A post that mentions or replies to the account, or one found by its hashtag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mention {
    /// The network's id of the post (unique per network: the same post read as a mention
    /// and found by its hashtag has the same id).
    pub id: String,
    pub author: Author,
    /// Plain text (HTML removed where the network sends HTML).
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// The network's id of the post it replies to, if it is a reply.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// When its author last edited it, where the network says (Mastodon).
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
}

/// Mentions since a cursor, oldest first, and the cursor to ask from next time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MentionPage {
    pub mentions: Vec<Mention>,
    /// Opaque to crier; stored and passed back as is. `None` keeps the previous cursor.
    pub cursor: Option<String>,
}

/// A page of a feed several accounts read together ([`Connector::shared_feed`]): its items
/// as the network sent them, oldest first, each with a key unique in the feed, and the
/// network's cursor to ask from next time (`None` keeps the previous one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    pub cursor: Option<String>,
}

/// One item of a shared feed: its key (a Telegram `update_id`) and the item itself (the
/// update's JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub key: String,
    pub item: String,
}

/// The counts of one of the account's own posts.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PostMetrics {
    pub remote_id: String,
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
    /// How many times it was seen, where the network says (views, impressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<u64>,
}

/// A snapshot of the account: its followers and the counts of the posts asked about.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MetricsSnapshot {
    #[serde(default)]
    pub followers: Option<u64>,
    #[serde(default)]
    pub posts: Vec<PostMetrics>,
}

/// The error of an operation the network does not offer. Validation refuses playbooks
/// that need one (see `Capabilities`), so reaching this is a bug or a direct API call.
pub fn unsupported(network: Network, what: &str) -> SendError {
    SendError::Permanent {
        reason: format!("the `{}` network cannot {what}", network.name()),
    }
}

/// How crier speaks to one account on one network. Only `post`, `lookup` and `health` are
/// required; the other operations answer `unsupported` unless the network offers them, in
/// which case `capabilities` says so.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    fn network(&self) -> Network;
    /// The account name from `crier.yaml`.
    fn account(&self) -> &str;
    /// What this connector can do: its network's entry in the table (`network`), unless it
    /// says otherwise (test doubles).
    fn capabilities(&self) -> Capabilities {
        self.network().capabilities()
    }
    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError>;
    /// Whether a post with this idempotency key (or content) already exists.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError>;
    /// `lookup` for a post whose first request left at `first_attempt` (stored with the
    /// send, so it holds in any process): a network searched by content looks no earlier.
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let _ = first_attempt;
        self.lookup(post).await
    }
    /// `post` for a send whose handle `resume` keeps (see [`resume`]): a network that makes
    /// a post in several requests (a media container, then its publication) keeps its
    /// handle there before the request that publishes, and continues from a kept one.
    /// Others post as `post` does.
    async fn post_resuming(
        &self,
        post: &OutgoingPost,
        resume: &dyn resume::Resume,
    ) -> Result<Delivered, SendError> {
        let _ = resume;
        self.post(post).await
    }
    /// `lookup_since` for a send whose handle `resume` keeps: the kept handle, when there is
    /// one, says whether the post went out.
    async fn lookup_resuming(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
        resume: &dyn resume::Resume,
    ) -> Result<Lookup, SendError> {
        let _ = resume;
        self.lookup_since(post, first_attempt).await
    }
    /// Checks the account can be used (token valid, chat or room reachable) without posting.
    async fn health(&self) -> Result<(), SendError>;
    /// Waits until the network's documented limits let `post` be sent, and holds its place
    /// while it is (see [`pacing`]). The dispatcher asks before a send is marked in flight
    /// and keeps the slot through the send's lookups and request.
    async fn pace(&self, post: &OutgoingPost) -> pacing::Slot {
        let _ = post;
        pacing::Slot::none()
    }

    /// What `health` cannot check on this network, said beside a passing check ("a Slack
    /// webhook cannot be checked without posting"); `None` when it checks everything.
    fn health_limits(&self) -> Option<&'static str> {
        None
    }

    /// When the account's token stops reading people's data (comments, insights) even while
    /// it is valid, if the network has such a date (Meta's `data_access_expires_at`): only
    /// signing in again moves it. Asked by accounts check after a passing health check.
    async fn data_access_expires_at(&self) -> Result<Option<DateTime<Utc>>, SendError> {
        Ok(None)
    }

    /// Deletes one of the account's posts by the id the network gave it. Deleting a post that
    /// is already gone succeeds.
    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let _ = remote_id;
        Err(unsupported(self.network(), "delete posts"))
    }

    /// Sends `message` privately to `recipient` (a handle or user id on this network).
    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let _ = (recipient, message);
        Err(unsupported(self.network(), "send direct messages"))
    }

    /// Mentions of and replies to the account after `cursor` (from the most recent page
    /// when `None`), oldest first. A cursor that is a time may give the mentions of its own
    /// second again (see [`paging::read_before`]): callers keep each mention once by its id.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let _ = cursor;
        Err(unsupported(self.network(), "read mentions"))
    }

    /// The feed the account's mentions come from when reading it takes what was read away
    /// from the next reader, and other accounts may read the same feed (a Telegram bot
    /// polled with `getUpdates`: Telegram forgets the updates below the offset it is asked
    /// from): its key, the same for every account reading it. Readers then go through
    /// `store::shared_feed`, which reads the feed once for all of them. `None` (the
    /// default): reading the account's mentions takes nothing from anyone.
    fn shared_feed(&self) -> Option<String> {
        None
    }

    /// The items of [`Connector::shared_feed`] after `cursor` (from the first one the network
    /// still keeps when `None`), whoever they are meant for.
    async fn read_shared_feed(&self, cursor: Option<&str>) -> Result<FeedPage, SendError> {
        let _ = cursor;
        Err(unsupported(self.network(), "read a shared feed"))
    }

    /// The mentions of and replies to this account among `items` of its shared feed, in
    /// their order.
    async fn mentions_in_feed(&self, items: &[String]) -> Result<Vec<Mention>, SendError> {
        let _ = items;
        Err(unsupported(self.network(), "read a shared feed"))
    }

    /// Public posts carrying the hashtag `tag` (written without `#`) after `cursor` (from
    /// the most recent page when `None`), oldest first, whoever wrote them (they need not
    /// mention the account); the account's own posts are left out.
    async fn search_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let _ = (tag, cursor);
        Err(unsupported(self.network(), "search posts by hashtag"))
    }

    /// A post read earlier through `mentions` or `search_hashtag` (its `Mention::id`) as it
    /// is now: its current text, or `None` once its author deleted it.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let _ = id;
        Err(unsupported(self.network(), "read a post again"))
    }

    /// The account's followers and the counts of `posts` (remote ids of its own posts).
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let _ = posts;
        Err(unsupported(self.network(), "report metrics"))
    }

    /// An update the network pushed to crier's server (Telegram's webhook mode), proven by
    /// `token` (the header the network sends with it): the mention it is, `None` for an
    /// update addressed to nobody crier watches. An account that takes no pushed updates
    /// refuses.
    async fn pushed_update(
        &self,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Mention>, PushedUpdateError> {
        let _ = (token, body);
        Err(PushedUpdateError::NotPushed)
    }
}

/// Why a pushed update was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PushedUpdateError {
    #[error("this account does not take pushed updates")]
    NotPushed,
    #[error("the update does not carry the account's secret token")]
    BadToken,
    #[error("the body is not an update: {reason}")]
    NotAnUpdate { reason: String },
    #[error(transparent)]
    Network(SendError),
}

pub mod bluesky;
pub mod console;
pub mod discord;
pub mod email;
pub mod http;
pub mod linkedin;
pub mod mastodon;
pub mod matrix;
pub mod meta;
pub mod oauth;
pub mod pacing;
pub mod paging;
pub mod recording;
pub mod registry;
pub mod resume;
pub mod secret;
pub mod slack;
pub mod telegram;
pub(crate) mod upload;
pub mod vk;
pub mod webhook;
pub mod x;
pub mod youtube;

pub use registry::{ConnectorError, Connectors};
pub use secret::{Secret, SecretError};
