//! The `discord` network: posts to one channel through a Discord incoming webhook.
//!
//! Set up: in the channel's settings, Integrations → Webhooks → New Webhook, copy its URL
//! (`https://discord.com/api/webhooks/<id>/<token>`), then in `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   brand_discord:
//!     network: discord
//!     webhook: env:DISCORD_WEBHOOK_URL   # the webhook URL is a secret: anyone with it can post
//! ```
//!
//! Endpoints, all under the webhook URL: `POST ?wait=true` (JSON `{content, allowed_mentions}`,
//! or multipart `payload_json` + `files[n]` with images) returns the message, whose id is the
//! remote id; `DELETE /messages/{id}` deletes; `GET` (the webhook object) is the health check.
//! Mentions in the text are not pinged (`allowed_mentions: {"parse": []}`): a playbook
//! cannot notify @everyone by accident. Text is limited to 2000 characters (counted as
//! Unicode characters), at most 10 images.
//!
//! Rate limits: a 429 carries `{"retry_after": 1.234, "global": false}` (seconds), and the
//! headers `Retry-After` and `X-RateLimit-Reset-After`; the body's value is used first.
//!
//! What a webhook cannot do: reply to a message, send direct messages, read mentions or give
//! counts (those need a bot), and it has no idempotency key. It can fetch a message only by
//! its id, which an outcome-unknown send never learned, so `lookup` is `Unsupported` and a
//! resend after a timeout may post twice.

mod post;
mod wire;

use async_trait::async_trait;
use reqwest::Url;

use self::wire::{Action, call};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{Connector, Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

#[derive(Debug, Clone)]
pub struct DiscordConnector {
    account: String,
    /// The webhook URL: it carries the webhook's token, so it stays a `Secret`.
    webhook: Secret,
    client: reqwest::Client,
}

impl DiscordConnector {
    /// A connector posting to `webhook` (checked to be an http(s) URL by `from_config`).
    pub fn new(account: impl Into<String>, webhook: Secret, client: reqwest::Client) -> Self {
        DiscordConnector {
            account: account.into(),
            webhook,
            client,
        }
    }

    /// The connector of a `discord` account: its `webhook` URL.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let webhook = setup.required_secret(Network::Discord, "webhook")?;
        setup.http_url("webhook", webhook.expose())?;
        Ok(DiscordConnector::new(
            setup.name,
            Secret::new(webhook.expose().trim()),
            setup.client.clone(),
        ))
    }

    /// The webhook URL with `path` appended.
    fn url(&self, path: &[&str]) -> Result<Url, SendError> {
        let mut url = Url::parse(self.webhook.expose()).map_err(|_| SendError::Permanent {
            reason: "the Discord webhook URL is not a valid URL".into(),
        })?;
        if !path.is_empty() {
            url.path_segments_mut()
                .map_err(|_| SendError::Permanent {
                    reason: "the Discord webhook URL is not a valid URL".into(),
                })?
                .pop_if_empty()
                .extend(path);
        }
        Ok(url)
    }
}

#[async_trait]
impl Connector for DiscordConnector {
    fn network(&self) -> Network {
        Network::Discord
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.send_message(post).await
    }

    /// A webhook can fetch a message only by the id an outcome-unknown send never learned.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Lookup, SendError> {
        Ok(Lookup::Unsupported)
    }

    /// `GET` the webhook: Discord answers with the webhook object while it exists.
    async fn health(&self) -> Result<(), SendError> {
        call(self.client.get(self.url(&[])?), Action::Check).await?;
        Ok(())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.delete_message(remote_id).await
    }
}
