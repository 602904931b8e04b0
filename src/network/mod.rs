//! The networks crier knows, one entry each: what crier can do there ([`Capabilities`]),
//! how long a post may be and how the network counts its text ([`TextRules`]), and how many
//! images one post takes. Validation, the posting rules and the connectors all read this
//! table, so a playbook is refused for exactly what the network would refuse.
//!
//! This layer imports nothing of crier's but `diagnostic`: everything above may read it.

use schemars::JsonSchema;
use serde::Deserialize;

mod capabilities;
pub mod text;

pub use capabilities::Capabilities;
pub use text::{Counting, TextLimit, TextRules};

/// The networks crier speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mastodon,
    Bluesky,
    Telegram,
    Matrix,
    Discord,
    Slack,
    Webhook,
    Email,
    Console,
    Vk,
    X,
    Facebook,
    Instagram,
    Threads,
    Linkedin,
    Youtube,
}

/// One network's entry in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// How people write the network's name: `Mastodon`.
    pub title: &'static str,
    pub capabilities: Capabilities,
    pub text: TextRules,
    /// The most images one post takes, where the network fixes it (a Mastodon server says
    /// its own; this is the usual value).
    pub max_images: Option<usize>,
    /// Every post needs media (Instagram an image, YouTube a video: `required_media`).
    pub media_required: bool,
}

impl Network {
    /// Every network, in the order the docs list them.
    pub const ALL: [Network; 16] = [
        Network::Mastodon,
        Network::Bluesky,
        Network::Telegram,
        Network::Matrix,
        Network::Vk,
        Network::X,
        Network::Facebook,
        Network::Instagram,
        Network::Threads,
        Network::Linkedin,
        Network::Youtube,
        Network::Discord,
        Network::Slack,
        Network::Webhook,
        Network::Email,
        Network::Console,
    ];

    /// The name `crier.yaml` writes: `mastodon`.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mastodon => "mastodon",
            Network::Bluesky => "bluesky",
            Network::Telegram => "telegram",
            Network::Matrix => "matrix",
            Network::Discord => "discord",
            Network::Slack => "slack",
            Network::Webhook => "webhook",
            Network::Email => "email",
            Network::Console => "console",
            Network::Vk => "vk",
            Network::X => "x",
            Network::Facebook => "facebook",
            Network::Instagram => "instagram",
            Network::Threads => "threads",
            Network::Linkedin => "linkedin",
            Network::Youtube => "youtube",
        }
    }

    /// The network's entry in the table.
    pub const fn profile(self) -> Profile {
        const Y: bool = true;
        const N: bool = false;
        use Counting::{Characters, Graphemes, Mastodon, Utf16, XWeighted};
        let (title, capabilities, text, max_images) = match self {
            //                                           post reply media DM delete   mentions hashtags metrics lookup key
            Network::Mastodon => (
                "Mastodon",
                caps([Y, Y, Y, Y, Y], [Y, Y, Y, Y, Y]),
                TextRules::limited(Mastodon, 500),
                Some(4),
            ),
            Network::Bluesky => (
                "Bluesky",
                caps([Y, Y, Y, N, Y], [Y, Y, Y, Y, N]),
                TextRules::limited(Graphemes, 300),
                Some(4),
            ),
            Network::Telegram => (
                "Telegram",
                caps([Y, Y, Y, Y, Y], [Y, N, N, N, N]),
                TextRules::limited(Utf16, 4096).with_caption(1024),
                Some(10),
            ),
            Network::Matrix => (
                "Matrix",
                caps([Y, Y, Y, Y, Y], [Y, N, Y, Y, Y]),
                TextRules::unlimited(Characters),
                None,
            ),
            Network::Discord => (
                "Discord",
                caps([Y, N, Y, N, Y], [N, N, N, N, N]),
                TextRules::limited(Characters, 2000),
                Some(10),
            ),
            Network::Slack => (
                "Slack",
                caps([Y, N, N, N, N], [N, N, N, N, N]),
                TextRules::limited(Characters, 40_000),
                None,
            ),
            Network::Webhook => (
                "a webhook",
                caps([Y, N, N, N, N], [N, N, N, N, Y]),
                TextRules::unlimited(Characters),
                None,
            ),
            Network::Email => (
                "email",
                caps([Y, Y, Y, Y, N], [N, N, N, N, N]),
                TextRules::unlimited(Characters),
                None,
            ),
            Network::Console => (
                "the console",
                caps([Y, Y, Y, Y, Y], [Y, Y, N, Y, Y]),
                TextRules::unlimited(Characters),
                None,
            ),
            Network::Vk => (
                "VK",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, Y]),
                TextRules::limited(Characters, 16_384),
                Some(10),
            ),
            Network::X => (
                "X",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, N]),
                TextRules::limited(XWeighted, 280),
                Some(4),
            ),
            Network::Facebook => (
                "Facebook",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, N]),
                TextRules::limited(Characters, 63_206),
                Some(10),
            ),
            Network::Instagram => (
                "Instagram",
                caps([Y, Y, Y, N, N], [Y, N, Y, Y, N]),
                TextRules::limited(Characters, 2200),
                Some(10),
            ),
            Network::Threads => (
                "Threads",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, N]),
                TextRules::limited(Characters, 500),
                Some(20),
            ),
            Network::Linkedin => (
                "LinkedIn",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, N]),
                TextRules::limited(Characters, 3000),
                Some(20),
            ),
            // The first line is the title (100), the rest the description (5,000).
            Network::Youtube => (
                "YouTube",
                caps([Y, Y, Y, N, Y], [Y, N, Y, Y, N]),
                TextRules::limited(Characters, 100 + 1 + 5000),
                Some(1),
            ),
        };
        Profile {
            title,
            capabilities,
            text,
            max_images,
            media_required: self.required_media().is_some(),
        }
    }

    /// What every post on this network must carry, in words: "an image" (Instagram), "a
    /// video" (YouTube).
    pub const fn required_media(self) -> Option<&'static str> {
        match self {
            Network::Instagram => Some("an image"),
            Network::Youtube => Some("a video"),
            _ => None,
        }
    }

    /// What crier can do on this network.
    pub const fn capabilities(self) -> Capabilities {
        self.profile().capabilities
    }

    /// The longest post, and the unit it is counted in; `None` where the network sets none.
    pub const fn text_limit(self) -> Option<TextLimit> {
        self.profile().text.limit()
    }

    /// The length of `text` as this network counts it.
    pub fn count(self, text: &str) -> usize {
        self.profile().text.counting.count(text)
    }
}

/// A row of the table: `[post, reply, media, direct message, delete]`,
/// `[read mentions, search hashtags, metrics, lookup, idempotency key]`.
const fn caps(
    [post, reply, media, direct_message, delete]: [bool; 5],
    [
        read_mentions,
        search_hashtags,
        metrics,
        lookup,
        idempotency_key,
    ]: [bool; 5],
) -> Capabilities {
    Capabilities {
        post,
        reply,
        media,
        direct_message,
        delete,
        read_mentions,
        search_hashtags,
        metrics,
        lookup,
        idempotency_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_network_has_an_entry_that_can_post() {
        for network in Network::ALL {
            let profile = network.profile();
            assert!(profile.capabilities.post, "{}", network.name());
            assert!(!profile.title.is_empty());
        }
    }

    #[test]
    fn limits_come_with_their_unit() {
        let bluesky = Network::Bluesky.text_limit().unwrap();
        assert_eq!((bluesky.max, bluesky.unit), (300, "graphemes"));
        assert_eq!(Network::Matrix.text_limit(), None);
        assert_eq!(Network::Telegram.profile().text.caption_max, Some(1024));
    }
}
