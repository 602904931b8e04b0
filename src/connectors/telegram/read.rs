//! Reading the bot's updates: `getUpdates` from the stored offset, or in webhook mode the
//! webhook registered once and each pushed update taken; which updates count as mentions is
//! `updates.rs`.

use serde_json::{Value, json};

use super::api::{Context, Update};
use super::updates::{Audience, WebhookError, mention_in};
use super::{RequestBody, TelegramConnector};
use crate::connectors::{Mention, MentionPage, PushedUpdateError, SendError};

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
        let offset = crate::connectors::paging::numeric_cursor(cursor, "a Telegram update cursor")?;
        let audience = Audience {
            bot: self.bot().await?.clone(),
            chat: self.chat.clone(),
        };
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
        let mut updates: Vec<Update> = self
            .call("getUpdates", RequestBody::Json(body), context)
            .await?;
        updates.sort_by_key(|update| update.update_id);
        Ok(MentionPage {
            mentions: updates
                .iter()
                .filter_map(|update| mention_in(update, &audience))
                .collect(),
            cursor: updates
                .last()
                .map(|update| (update.update_id + 1).to_string()),
        })
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
