//! The `console` network: each post printed as one line on stdout (or any writer), for
//! trying crier out and for local setups. It deduplicates by idempotency key and answers
//! `lookup` from what it printed, like a network that supports both.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Connector, Delivered, Lookup, MentionPage, OutgoingPost, SendError};
use crate::network::Network;

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

    fn print(&self, line: &str) -> Result<(), SendError> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|err| SendError::Transient {
                reason: format!("could not print: {err}"),
            })
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

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delivered) = sent.by_key.get(&post.idempotency_key) {
            return Ok(delivered.clone());
        }
        self.print(&format_line(&self.account, post))?;
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

    /// A console has no audience, so nobody mentions it: every page is empty. (Rehearsals
    /// feed mentions from their events file instead.)
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        Ok(MentionPage {
            mentions: Vec::new(),
            cursor: cursor.map(str::to_owned),
        })
    }

    /// Nobody posts on a console either: every page is empty, so a `from: hashtag` contest
    /// on a console account can be tried out (and rehearsed) like on a real network.
    async fn search_hashtag(
        &self,
        _tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        Ok(MentionPage {
            mentions: Vec::new(),
            cursor: cursor.map(str::to_owned),
        })
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.print(&format!("[console] {} ✗ deleted {remote_id}", self.account))
    }

    /// Printed as a post to `recipient`; deduplicated by idempotency key like posts.
    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delivered) = sent.by_key.get(&message.idempotency_key) {
            return Ok(delivered.clone());
        }
        let line = format_line(&self.account, message).replacen(
            " ← ",
            &format!(" → {recipient} (direct) ← "),
            1,
        );
        self.print(&line)?;
        let delivered = Delivered {
            remote_id: format!("console-{}", message.idempotency_key),
            url: None,
        };
        sent.by_key
            .insert(message.idempotency_key.clone(), delivered.clone());
        sent.posts.push((message.clone(), delivered.clone()));
        Ok(delivered)
    }
}
