//! The `console` network: each post printed as one line on stdout (or any writer), for
//! trying crier out and for local setups. It deduplicates by idempotency key and answers
//! `lookup` from what it printed, like a network that supports both.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Capabilities, Connector, Delivered, Lookup, OutgoingPost, SendError};
use crate::playbook::raw::Network;

pub struct ConsoleConnector {
    account: String,
    out: Mutex<Box<dyn Write + Send>>,
    sent: Mutex<Sent>,
}

impl ConsoleConnector {
    /// Prints to stdout.
    pub fn new(account: impl Into<String>) -> Self {
        Self::with_writer(account, std::io::stdout())
    }

    /// Prints to `out` (a buffer in tests).
    pub fn with_writer(account: impl Into<String>, out: impl Write + Send + 'static) -> Self {
        ConsoleConnector {
            account: account.into(),
            out: Mutex::new(Box::new(out)),
            sent: Mutex::new(Sent::default()),
        }
    }

    /// The posts printed so far, in order.
    pub fn sent(&self) -> Vec<(OutgoingPost, Delivered)> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .posts
            .clone()
    }
}

impl fmt::Debug for ConsoleConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleConnector")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// `[console] ACCOUNT ← playbook/item: text`, line breaks shown as `⏎`, then any reply
/// target and media.
pub fn format_line(account: &str, post: &OutgoingPost) -> String {
    let text = post.text.replace("\r\n", "\n").replace(['\n', '\r'], " ⏎ ");
    let mut line = format!(
        "[console] {account} ← {}/{}: {text}",
        post.playbook, post.item
    );
    if let Some(reply_to) = &post.reply_to {
        line.push_str(&format!(" (reply to {reply_to})"));
    }
    if !post.media.is_empty() {
        let media: Vec<String> = post.media.iter().map(|p| p.display().to_string()).collect();
        line.push_str(&format!(" [media: {}]", media.join(", ")));
    }
    line
}

/// What a console printed, and an index by idempotency key for lookups.
#[derive(Debug, Default)]
struct Sent {
    posts: Vec<(OutgoingPost, Delivered)>,
    by_key: std::collections::HashMap<String, Delivered>,
}

#[async_trait]
impl Connector for ConsoleConnector {
    fn network(&self) -> Network {
        Network::Console
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            post: true,
            reply: true,
            media: true,
            direct_message: true,
            delete: true,
            read_mentions: false,
            metrics: false,
            lookup: true,
            idempotency_key: true,
        }
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delivered) = sent.by_key.get(&post.idempotency_key) {
            return Ok(delivered.clone());
        }
        let line = format_line(&self.account, post);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|err| SendError::Transient {
                reason: format!("could not print the post: {err}"),
            })?;
        // Named after the idempotency key: unique across restarts, as a network's ids are.
        let delivered = Delivered {
            remote_id: format!("console-{}", post.idempotency_key),
            url: None,
        };
        sent.by_key
            .insert(post.idempotency_key.clone(), delivered.clone());
        sent.posts.push((post.clone(), delivered.clone()));
        Ok(delivered)
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        Ok(sent
            .by_key
            .get(&post.idempotency_key)
            .map_or(Lookup::NotFound, |delivered| {
                Lookup::Found(delivered.clone())
            }))
    }

    async fn health(&self) -> Result<(), SendError> {
        Ok(())
    }
}
