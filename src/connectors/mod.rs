//! Connectors: how crier speaks to a network. One trait, one folder per network, one shared
//! HTTP client. A connector classifies every failure at the edge (`SendError`); the
//! dispatcher decides what to do with it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::playbook::raw::Network;

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

/// What a connector can do, so validation can refuse what a network cannot (a DM to a
/// Slack webhook) and the dispatcher knows whether `lookup` means anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub post: bool,
    pub reply: bool,
    pub media: bool,
    pub direct_message: bool,
    pub delete: bool,
    pub read_mentions: bool,
    pub metrics: bool,
    pub lookup: bool,
    /// The network deduplicates by the idempotency key itself.
    pub idempotency_key: bool,
}

#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    fn network(&self) -> Network;
    /// The account name from `crier.yaml`.
    fn account(&self) -> &str;
    fn capabilities(&self) -> Capabilities;
    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError>;
    /// Whether a post with this idempotency key (or content) already exists.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError>;
    async fn health(&self) -> Result<(), SendError>;
}

pub mod console;
pub mod http;
pub mod recording;
pub mod registry;
pub mod secret;
pub mod webhook;

pub use registry::{ConnectorError, Connectors};
pub use secret::{Secret, SecretError};
