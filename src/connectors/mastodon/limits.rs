//! The server's own limits on a status (`GET /api/v2/instance`: characters, a link's weight,
//! images per post, its users' domain), read once, and the check of a post against them.

use super::api::Instance;
use super::{MastodonConnector, SERVERS, http, lock};
use crate::connectors::SendError;
use crate::network::Network;
use crate::network::text::{MASTODON_CHARACTERS_PER_URL, count_mastodon};

/// The text limit of a server that does not say (Mastodon's own default, from the table).
const DEFAULT_MAX_CHARACTERS: usize = Network::Mastodon
    .profile()
    .text
    .max
    .expect("Mastodon has a limit");
/// How many images a post takes when the server does not say.
const DEFAULT_MAX_IMAGES: usize = Network::Mastodon
    .profile()
    .max_images
    .expect("Mastodon has a limit");

/// What limits a status on this server, from `GET /api/v2/instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ServerLimits {
    pub(super) max_characters: usize,
    pub(super) characters_per_url: usize,
    pub(super) max_images: usize,
    /// The domain in its users' handles (may differ from the server's host name).
    pub(super) domain: Option<String>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_characters: DEFAULT_MAX_CHARACTERS,
            characters_per_url: MASTODON_CHARACTERS_PER_URL,
            max_images: DEFAULT_MAX_IMAGES,
            domain: None,
        }
    }
}

/// The limits to check a post against, and whether the server gave them.
pub(super) struct Checked {
    pub(super) limits: ServerLimits,
    unknown_because: Option<SendError>,
}

impl MastodonConnector {
    /// The server's limits, read once (a server without `/api/v2/instance` gets the
    /// defaults). Not cached when the server could not be asked.
    pub(super) async fn server_limits(&self) -> Checked {
        if let Some(limits) = lock(&self.limits).clone() {
            return Checked {
                limits,
                unknown_because: None,
            };
        }
        let request = self.client.get(self.endpoint("/api/v2/instance"));
        let place = SERVERS.slot(&self.server_key()).await;
        let limits = http::execute(request).await;
        drop(place);
        let limits = match limits {
            Ok(reply) => {
                let instance: Instance = serde_json::from_str(&reply.body).unwrap_or_default();
                #[derive(serde::Deserialize)]
                struct Domain {
                    #[serde(default)]
                    domain: Option<String>,
                }
                let domain = serde_json::from_str::<Domain>(&reply.body)
                    .ok()
                    .and_then(|d| d.domain);
                let statuses = instance
                    .configuration
                    .and_then(|c| c.statuses)
                    .unwrap_or_default();
                ServerLimits {
                    max_characters: statuses.max_characters.unwrap_or(DEFAULT_MAX_CHARACTERS),
                    characters_per_url: statuses
                        .characters_reserved_per_url
                        .unwrap_or(MASTODON_CHARACTERS_PER_URL),
                    max_images: statuses.max_media_attachments.unwrap_or(DEFAULT_MAX_IMAGES),
                    domain,
                }
            }
            Err(SendError::Permanent { .. }) => ServerLimits::default(),
            Err(err) => {
                return Checked {
                    limits: ServerLimits::default(),
                    unknown_because: Some(err),
                };
            }
        };
        *lock(&self.limits) = Some(limits.clone());
        Checked {
            limits,
            unknown_because: None,
        }
    }

    /// Refuses a text or image count over the server's limits before anything is sent.
    pub(super) async fn check_limits(
        &self,
        text: &str,
        images: usize,
        what: &str,
    ) -> Result<(), SendError> {
        let Checked {
            limits,
            unknown_because,
        } = self.server_limits().await;
        let count = count_mastodon(text, limits.characters_per_url);
        let over = if count > limits.max_characters {
            Some(format!(
                "{what} is too long for Mastodon: {count} characters (a link counts as {}), \
                 {} the limit is {}",
                limits.characters_per_url,
                if unknown_because.is_some() {
                    "and usually"
                } else {
                    "and"
                },
                limits.max_characters
            ))
        } else if images > limits.max_images {
            Some(format!(
                "{what} has too many images for Mastodon: {images}, {} the limit is {} per post",
                if unknown_because.is_some() {
                    "and usually"
                } else {
                    "and"
                },
                limits.max_images
            ))
        } else {
            None
        };
        match (over, unknown_because) {
            (None, _) => Ok(()),
            (Some(reason), None) => Err(SendError::Permanent { reason }),
            // This server's limits may be higher than the usual ones: wait rather than
            // refuse for good.
            (Some(over), Some(SendError::RetryAfter { after, reason })) => {
                Err(SendError::RetryAfter {
                    after,
                    reason: format!("{over}; the server's own limit could not be read: {reason}"),
                })
            }
            (Some(over), Some(err)) => Err(SendError::Transient {
                reason: format!(
                    "{over}; the server's own limit could not be read: {}",
                    err.reason()
                ),
            }),
        }
    }
}
