//! Reading the bot's updates: `getUpdates` from the stored offset, or in webhook mode the
//! webhook registered once and each pushed update taken; which updates count as mentions is
//! `updates.rs`. Polled updates are one feed per bot (`Connector::shared_feed`): every
//! account on the bot reads them through `store::shared_feed`, each picking its own
//! mentions out of the same updates.

use serde_json::{Value, json};

use super::api::{Context, Update};
use super::updates::{Audience, WebhookError, mention_in};
use super::{RequestBody, TelegramConnector};
use crate::connectors::{FeedItem, FeedPage, Mention, MentionPage, PushedUpdateError, SendError};

/// The most updates one `getUpdates` call returns (Telegram's own maximum).
const UPDATES_PER_PAGE: u32 = 100;

impl TelegramConnector {
    pub(super) async fn read_updates(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        // Telegram answers `getUpdates` with an error while a webhook is set: in webhook
        // mode updates arrive through `pushed_update`, once the webhook is registered.
        if let Some(webhook) = &self.webhook {
            use std::sync::atomic::Ordering;
            if !self.webhook_registered.load(Ordering::SeqCst) {
                let body = json!({
                    "url": webhook.url.as_str(),
                    "secret_token": webhook.secret.expose(),
                    "allowed_updates": ["message", "channel_post"],
                });
                let context = Context {
                    action: "registering the bot's webhook",
                    chat: None,
                };
                let _: bool = self
                    .call("setWebhook", RequestBody::Json(body), context)
                    .await?;
                self.webhook_registered.store(true, Ordering::SeqCst);
            }
            return Ok(MentionPage {
                mentions: Vec::new(),
                cursor: cursor.map(str::to_owned),
            });
        }
        let page = self.read_update_page(cursor).await?;
        let items: Vec<String> = page.items.into_iter().map(|item| item.item).collect();
        Ok(MentionPage {
            mentions: self.mentions_in_updates(&items).await?,
            cursor: page.cursor,
        })
    }

    /// One `getUpdates` page from `cursor` (asking from it confirms the updates below it),
    /// every update as Telegram sent it, keyed by its `update_id`.
    pub(super) async fn read_update_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<FeedPage, SendError> {
        let offset = crate::connectors::paging::numeric_cursor(cursor, "a Telegram update cursor")?;
        let mut body = json!({
            "limit": UPDATES_PER_PAGE,
            "timeout": 0,
            "allowed_updates": ["message", "channel_post"],
        });
        if let Some(offset) = offset {
            body["offset"] = Value::from(offset);
        }
        let context = Context {
            action: "reading the bot's updates",
            chat: None,
        };
        let updates: Vec<Value> = self
            .call("getUpdates", RequestBody::Json(body), context)
            .await?;
        let mut keyed = Vec::with_capacity(updates.len());
        for update in updates {
            let Some(id) = update.get("update_id").and_then(Value::as_i64) else {
                return Err(SendError::Permanent {
                    reason: "Telegram answered an update without an `update_id`".into(),
                });
            };
            keyed.push((id, update));
        }
        keyed.sort_by_key(|(id, _)| *id);
        Ok(FeedPage {
            cursor: keyed.last().map(|(id, _)| (id + 1).to_string()),
            items: keyed
                .into_iter()
                .map(|(id, update)| FeedItem {
                    key: id.to_string(),
                    item: update.to_string(),
                })
                .collect(),
        })
    }

    /// The mentions of the bot, addressed the way this account's chat is, among `updates`
    /// (each an update's JSON); an update crier cannot read is nobody's mention.
    pub(super) async fn mentions_in_updates(
        &self,
        updates: &[String],
    ) -> Result<Vec<Mention>, SendError> {
        let audience = Audience {
            bot: self.bot().await?.clone(),
            chat: self.chat.clone(),
        };
        Ok(updates
            .iter()
            .filter_map(|update| match serde_json::from_str::<Update>(update) {
                Ok(update) => mention_in(&update, &audience),
                Err(error) => {
                    tracing::warn!(account = %self.account, "an update crier cannot read is skipped: {error}");
                    None
                }
            })
            .collect())
    }

    /// The bot's updates are one feed whoever reads them: keyed by the bot's id (the part of
    /// the token before `:`), which names no secret.
    pub(super) fn update_feed(&self) -> Option<String> {
        if self.webhook.is_some() {
            return None;
        }
        let token = self.token.expose();
        let id = token.split(':').next().unwrap_or_default();
        Some(
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                format!("telegram:{id}")
            } else {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes());
                format!("telegram:{}", hex::encode(&digest[..8]))
            },
        )
    }

    pub(super) async fn take_pushed(
        &self,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Mention>, PushedUpdateError> {
        let Some(webhook) = &self.webhook else {
            return Err(PushedUpdateError::NotPushed);
        };
        let update =
            super::parse_webhook_update(webhook.secret.expose(), token, body).map_err(|error| {
                match error {
                    WebhookError::BadSecretToken => PushedUpdateError::BadToken,
                    WebhookError::NotAnUpdate { reason } => {
                        PushedUpdateError::NotAnUpdate { reason }
                    }
                }
            })?;
        let audience = Audience {
            bot: self
                .bot()
                .await
                .map_err(PushedUpdateError::Network)?
                .clone(),
            chat: self.chat.clone(),
        };
        Ok(mention_in(&update, &audience))
    }
}
