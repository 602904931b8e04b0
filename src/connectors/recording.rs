//! The connector of rehearsals: it records every post in memory and sends nothing. It
//! stands in for an account on any network, so a rehearsal runs the very same engine.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Capabilities, Connector, Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

/// One recorded post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub account: String,
    pub network: Network,
    pub post: OutgoingPost,
    pub delivered: Delivered,
}

/// The posts a rehearsal made, in order, indexed by (account, idempotency key) so a
/// year-long rehearsal stays linear.
#[derive(Debug, Default)]
pub struct RecordingLog {
    records: Vec<Recorded>,
    by_key: HashMap<(String, String), usize>,
    /// Posts recorded since the start, those taken included: the next remote id.
    count: usize,
}

impl RecordingLog {
    /// Takes the posts recorded so far, leaving the log empty (remote ids go on counting):
    /// a long rehearsal keeps only what it has not read yet. A post taken is not found
    /// again by `lookup`, so take only what no retry can ask about (sends finished).
    pub fn take(&mut self) -> Vec<Recorded> {
        self.by_key.clear();
        std::mem::take(&mut self.records)
    }

    fn find(&self, account: &str, key: &str) -> Option<Delivered> {
        self.by_key
            .get(&(account.to_string(), key.to_string()))
            .map(|index| self.records[*index].delivered.clone())
    }
}

impl Deref for RecordingLog {
    type Target = [Recorded];
    fn deref(&self) -> &[Recorded] {
        &self.records
    }
}

/// Shared by every `RecordingConnector` built for one rehearsal.
pub type Recording = Arc<Mutex<RecordingLog>>;

#[derive(Debug, Clone)]
pub struct RecordingConnector {
    account: String,
    network: Network,
    recording: Recording,
    capabilities: Capabilities,
}

impl RecordingConnector {
    /// Records into `recording`. Remote ids are `rehearsal-<n>`, `n` counting from 1 across
    /// the whole recording, so the same rehearsal always yields the same ids.
    pub fn new(account: impl Into<String>, network: Network, recording: Recording) -> Self {
        RecordingConnector {
            account: account.into(),
            network,
            recording,
            capabilities: Capabilities {
                post: true,
                reply: true,
                media: true,
                direct_message: true,
                delete: true,
                read_mentions: false,
                search_hashtags: false,
                metrics: false,
                lookup: true,
                idempotency_key: true,
            },
        }
    }

    /// Claims other capabilities (to rehearse what a real network's connector allows).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    pub fn recording(&self) -> &Recording {
        &self.recording
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    fn network(&self) -> Network {
        self.network
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Always succeeds; a repeated idempotency key returns the first post's answer.
    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let mut records = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delivered) = records.find(&self.account, &post.idempotency_key) {
            return Ok(delivered);
        }
        let delivered = Delivered {
            remote_id: format!("rehearsal-{}", records.count + 1),
            url: None,
        };
        records.count += 1;
        let index = records.records.len();
        records
            .by_key
            .insert((self.account.clone(), post.idempotency_key.clone()), index);
        records.records.push(Recorded {
            account: self.account.clone(),
            network: self.network,
            post: post.clone(),
            delivered: delivered.clone(),
        });
        Ok(delivered)
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let records = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        Ok(match records.find(&self.account, &post.idempotency_key) {
            Some(delivered) => Lookup::Found(delivered),
            None => Lookup::NotFound,
        })
    }

    async fn health(&self) -> Result<(), SendError> {
        Ok(())
    }

    /// Recorded like a post (its `direct_to` names the recipient).
    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let mut message = message.clone();
        message.direct_to = Some(recipient.to_string());
        self.post(&message).await
    }
}
