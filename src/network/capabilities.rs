//! What crier can do on a network: the operations a playbook may ask of an account.

use super::Network;

/// What crier can do on a network, so validation can refuse what a network cannot (a DM to
/// a Slack webhook) and the dispatcher knows whether `lookup` means anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub post: bool,
    pub reply: bool,
    pub media: bool,
    pub direct_message: bool,
    pub delete: bool,
    pub read_mentions: bool,
    /// Reads public posts carrying a hashtag, whoever wrote them (`search_hashtag`).
    pub search_hashtags: bool,
    pub metrics: bool,
    /// After an outcome-unknown send, the network can say whether the post exists.
    pub lookup: bool,
    /// The network deduplicates by the idempotency key itself.
    pub idempotency_key: bool,
}

impl Capabilities {
    /// What crier can do on `network`, from the table.
    pub const fn of(network: Network) -> Capabilities {
        network.capabilities()
    }

    const NONE: Capabilities = Capabilities {
        post: false,
        reply: false,
        media: false,
        direct_message: false,
        delete: false,
        read_mentions: false,
        search_hashtags: false,
        metrics: false,
        lookup: false,
        idempotency_key: false,
    };
    pub const POST: Capabilities = Capabilities {
        post: true,
        ..Self::NONE
    };
    pub const REPLY: Capabilities = Capabilities {
        reply: true,
        ..Self::NONE
    };
    pub const MEDIA: Capabilities = Capabilities {
        media: true,
        ..Self::NONE
    };
    pub const DIRECT_MESSAGE: Capabilities = Capabilities {
        direct_message: true,
        ..Self::NONE
    };
    pub const READ_MENTIONS: Capabilities = Capabilities {
        read_mentions: true,
        ..Self::NONE
    };
    pub const SEARCH_HASHTAGS: Capabilities = Capabilities {
        search_hashtags: true,
        ..Self::NONE
    };

    /// Each operation this cannot do that `needed` asks for, in words ("attach images").
    pub fn missing(self, needed: Capabilities) -> Vec<&'static str> {
        [
            (needed.post && !self.post, "post"),
            (needed.reply && !self.reply, "post replies"),
            (needed.media && !self.media, "attach images"),
            (
                needed.direct_message && !self.direct_message,
                "send direct messages",
            ),
            (needed.delete && !self.delete, "delete posts"),
            (
                needed.read_mentions && !self.read_mentions,
                "read mentions and replies",
            ),
            (
                needed.search_hashtags && !self.search_hashtags,
                "search posts by hashtag",
            ),
            (needed.metrics && !self.metrics, "report metrics"),
        ]
        .into_iter()
        .filter_map(|(lacking, what)| lacking.then_some(what))
        .collect()
    }
}
