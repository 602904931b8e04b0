//! The `telegram` network: a bot posting to a channel or group through the Telegram Bot API.
//!
//! Set up: create a bot with @BotFather, add it to the channel as an administrator allowed
//! to post (or to the group as a member), then in `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   brand_telegram:
//!     network: telegram
//!     token: env:TELEGRAM_BOT_TOKEN   # the bot token (a secret)
//!     chat: '@brand_channel'          # or a numeric chat id such as '-1001234567890'
//!     server: https://api.telegram.org  # optional: a self-hosted Bot API server
//! ```
//!
//! Requests go to `{server}/bot{token}/{method}`: the token is part of every URL, so no URL
//! ever appears in an error or a `Debug` (reqwest errors are stripped of theirs).
//!
//! Endpoints: `sendMessage` (text, up to 4096 characters), `sendPhoto` (one image, caption
//! up to 1024 characters), `sendMediaGroup` (2 to 10 images, the text as the first one's
//! caption), `deleteMessage`, `getUpdates` (mentions), `getMe` and `getChat` (health).
//! Telegram counts characters after parsing entities, in UTF-16 units; crier sends plain
//! text and counts the same way (an emoji outside the Basic Multilingual Plane counts twice),
//! so a text Telegram would refuse is refused before it is sent.
//!
//! A post with several images gets the remote id `12,13,14` (one message per image); replies
//! go to the first, deletion removes all. Replies use `reply_parameters`.
//!
//! Direct messages go to a person's numeric user id, and only once that person has started a
//! conversation with the bot: Telegram lets no bot write first, and `@username` names only
//! channels and groups.
//!
//! Mentions come from `getUpdates` (the cursor is the next `update_id` to ask for; asking with
//! it tells Telegram the earlier ones were read): new messages and channel posts that reply to
//! the bot's or the chat's own messages, or mention the bot's `@username`. Telegram keeps
//! undelivered updates for 24 hours. For webhook mode see [`updates`].
//!
//! What Telegram cannot do: it has no idempotency key and no way for a bot to search or list
//! its own messages, so `lookup` is `Unsupported` and a resend after an outcome-unknown
//! failure (a timeout, a dropped connection) may post twice. It gives bots no follower or
//! reaction counts, so there are no metrics.

pub mod api;
pub mod updates;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use self::api::{Context, Message, Update, User};
use self::updates::{Audience, WebhookError, mention_in};
use super::http;
use super::pacing::{Limits, Pacer, Slot};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, OutgoingPost, PushedUpdateError, SendError,
};
use crate::network::Network;

pub use updates::{SECRET_TOKEN_HEADER, parse_webhook_update, verify_secret_token};

/// Telegram's public Bot API server.
pub const DEFAULT_SERVER: &str = "https://api.telegram.org";
/// The longest message text, in characters.
const TEXT_LIMIT: usize = Network::Telegram
    .profile()
    .text
    .max
    .expect("Telegram has a limit");
/// The longest photo caption, in characters.
const CAPTION_LIMIT: usize = Network::Telegram
    .profile()
    .text
    .caption_max
    .expect("Telegram has a caption limit");
/// The most images in one media group.
const MEDIA_GROUP_LIMIT: usize = Network::Telegram
    .profile()
    .max_images
    .expect("Telegram has a limit");
/// The most updates one `getUpdates` call returns (Telegram's own maximum).
const UPDATES_PER_PAGE: u32 = 100;

#[derive(Debug)]
pub struct TelegramConnector {
    account: String,
    server: Url,
    token: Secret,
    chat: String,
    client: reqwest::Client,
    /// `getMe`, asked once, to recognise mentions of the bot.
    bot: OnceCell<User>,
    /// `updates: webhook`: where Telegram pushes the bot's updates, with which secret token;
    /// registered (`setWebhook`) once, when updates are first asked for.
    webhook: Option<Webhook>,
    webhook_registered: std::sync::atomic::AtomicBool,
    /// Sends per chat within Telegram's limits for a bot ([`PACE`]).
    pacer: Pacer,
}

/// Webhook mode: the public URL of crier's server for this account, and the secret token
/// Telegram sends with each update.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Url,
    pub secret: Secret,
}

/// Telegram asks bots for at most about 20 messages a minute to one group or channel (and
/// one a second to any chat): sends to one chat go one at a time, at most 20 a minute, so a
/// burst goes out at that pace instead of being refused with `429`.
pub const PACE: Limits = Limits {
    in_flight: 1,
    rate: Some((20, std::time::Duration::from_secs(60))),
};

impl TelegramConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: Secret,
        chat: impl Into<String>,
        client: reqwest::Client,
    ) -> Self {
        TelegramConnector {
            account: account.into(),
            server,
            token,
            chat: chat.into(),
            client,
            bot: OnceCell::new(),
            webhook: None,
            webhook_registered: Default::default(),
            pacer: Pacer::new(PACE),
        }
    }

    /// Takes the bot's updates from Telegram's pushes to `webhook` instead of `getUpdates`.
    pub fn with_webhook(mut self, webhook: Webhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// The connector of a `telegram` account: `token`, `chat`, and optionally `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let chat = setup.required(Network::Telegram, "chat", &setup.config.chat)?;
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(DEFAULT_SERVER).expect("the default server is a URL"),
        };
        let chat = chat.to_owned();
        let token = setup.required_secret(Network::Telegram, "token")?;
        let webhook = match setup.config.updates.as_ref().map(|u| u.trim()) {
            Some("webhook") => {
                let url = setup.required(Network::Telegram, "url", &setup.config.url)?;
                let url = setup.http_url("url", url)?;
                let secret = setup.required_secret(Network::Telegram, "secret")?;
                Some(Webhook { url, secret })
            }
            _ => None,
        };
        let connector =
            TelegramConnector::new(setup.name, server, token, chat, setup.client.clone());
        Ok(match webhook {
            Some(webhook) => connector.with_webhook(webhook),
            None => connector,
        })
    }

    /// `{server}/bot{token}/{method}`.
    fn method_url(&self, method: &str) -> Url {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .push(&format!("bot{}", self.token.expose()))
            .push(method);
        url
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        body: RequestBody,
        context: Context<'_>,
    ) -> Result<T, SendError> {
        let request = self.client.post(self.method_url(method));
        let request = match body {
            RequestBody::Json(json) => request.json(&json),
            RequestBody::Form(form) => request.multipart(form),
        };
        let reply = http::fetch(request).await?;
        api::result(&reply, context)
    }

    async fn bot(&self) -> Result<&User, SendError> {
        self.bot
            .get_or_try_init(|| async {
                let context = Context {
                    action: "the check of the bot token",
                    chat: None,
                };
                self.call::<User>("getMe", RequestBody::Json(json!({})), context)
                    .await
            })
            .await
    }

    /// Sends `post` to `chat`: a message, a photo, or a media group.
    async fn send_to(&self, chat: &str, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let reply_to = post.reply_to.as_deref().map(reply_target).transpose()?;
        let chat_id = chat_id(chat);
        let context = Context {
            action: "the post",
            chat: Some(chat),
        };
        match post.media.as_slice() {
            [] => {
                check_length(&post.text, TEXT_LIMIT, "a message")?;
                if post.text.trim().is_empty() {
                    return Err(SendError::Permanent {
                        reason: "the post has no text and no image".into(),
                    });
                }
                let mut body = json!({ "chat_id": chat_id, "text": post.text });
                if let Some(message_id) = reply_to {
                    body["reply_parameters"] = json!({ "message_id": message_id });
                }
                let sent: Message = self
                    .call("sendMessage", RequestBody::Json(body), context)
                    .await?;
                Ok(delivered(&[sent]))
            }
            [image] => {
                check_length(&post.text, CAPTION_LIMIT, "a photo caption")?;
                let photo = crate::connectors::upload::image_part(image).await?;
                let mut form = Form::new()
                    .text("chat_id", chat.trim().to_owned())
                    .part("photo", photo);
                if !post.text.is_empty() {
                    form = form.text("caption", post.text.clone());
                }
                if let Some(message_id) = reply_to {
                    form = form.text(
                        "reply_parameters",
                        json!({ "message_id": message_id }).to_string(),
                    );
                }
                let sent: Message = self
                    .call("sendPhoto", RequestBody::Form(form), context)
                    .await?;
                Ok(delivered(&[sent]))
            }
            images => {
                if images.len() > MEDIA_GROUP_LIMIT {
                    return Err(SendError::Permanent {
                        reason: format!(
                            "the post has {} images and Telegram takes at most {MEDIA_GROUP_LIMIT} in one post",
                            images.len()
                        ),
                    });
                }
                check_length(&post.text, CAPTION_LIMIT, "a photo caption")?;
                let mut form = Form::new().text("chat_id", chat.trim().to_owned());
                let mut media = Vec::new();
                for (n, image) in images.iter().enumerate() {
                    let name = format!("photo{n}");
                    let mut item = json!({ "type": "photo", "media": format!("attach://{name}") });
                    if n == 0 && !post.text.is_empty() {
                        item["caption"] = Value::String(post.text.clone());
                    }
                    media.push(item);
                    form = form.part(name, crate::connectors::upload::image_part(image).await?);
                }
                form = form.text("media", Value::Array(media).to_string());
                if let Some(message_id) = reply_to {
                    form = form.text(
                        "reply_parameters",
                        json!({ "message_id": message_id }).to_string(),
                    );
                }
                let sent: Vec<Message> = self
                    .call("sendMediaGroup", RequestBody::Form(form), context)
                    .await?;
                if sent.is_empty() {
                    return Err(SendError::OutcomeUnknown {
                        reason: "Telegram accepted the images but named no message".into(),
                    });
                }
                Ok(delivered(&sent))
            }
        }
    }
}

enum RequestBody {
    Json(Value),
    Form(Form),
}

/// A numeric chat id as a JSON number, anything else (`@name`) as a string.
fn chat_id(chat: &str) -> Value {
    match chat.trim().parse::<i64>() {
        Ok(id) => Value::from(id),
        Err(_) => Value::String(chat.trim().to_owned()),
    }
}

/// The message to reply to: a message id, or the first of a media group's ids.
fn reply_target(remote_id: &str) -> Result<i64, SendError> {
    message_ids(remote_id)?
        .first()
        .copied()
        .ok_or_else(|| not_a_message_id(remote_id))
}

fn message_ids(remote_id: &str) -> Result<Vec<i64>, SendError> {
    remote_id
        .split(',')
        .map(|id| {
            id.trim()
                .parse::<i64>()
                .map_err(|_| not_a_message_id(remote_id))
        })
        .collect()
}

fn not_a_message_id(remote_id: &str) -> SendError {
    SendError::Permanent {
        reason: format!("`{remote_id}` is not the id of a Telegram message"),
    }
}

fn delivered(messages: &[Message]) -> Delivered {
    let ids: Vec<String> = messages.iter().map(|m| m.message_id.to_string()).collect();
    Delivered {
        remote_id: ids.join(","),
        url: messages.first().and_then(Message::link),
    }
}

/// Refuses text over `limit` characters before anything is sent.
fn check_length(text: &str, limit: usize, what: &str) -> Result<(), SendError> {
    let count = Network::Telegram.count(text);
    if count > limit {
        return Err(SendError::Permanent {
            reason: format!(
                "the text has {count} {} and Telegram allows {limit} in {what}",
                Network::Telegram.profile().text.counting.unit()
            ),
        });
    }
    Ok(())
}

#[async_trait]
impl Connector for TelegramConnector {
    fn network(&self) -> Network {
        Network::Telegram
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.send_to(&self.chat, post).await
    }

    async fn pace(&self, post: &OutgoingPost) -> Slot {
        self.pacer
            .slot(post.direct_to.as_deref().unwrap_or(&self.chat))
            .await
    }

    /// Telegram keeps no idempotency key and lets no bot list its messages.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Lookup, SendError> {
        Ok(Lookup::Unsupported)
    }

    /// `getMe` checks the token, `getChat` that the chat exists and the bot can see it.
    async fn health(&self) -> Result<(), SendError> {
        self.bot().await?;
        let context = Context {
            action: "the check of the chat",
            chat: Some(&self.chat),
        };
        let _: Value = self
            .call(
                "getChat",
                RequestBody::Json(json!({ "chat_id": chat_id(&self.chat) })),
                context,
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        for message_id in message_ids(remote_id)? {
            let context = Context {
                action: "the deletion",
                chat: Some(&self.chat),
            };
            let body = json!({ "chat_id": chat_id(&self.chat), "message_id": message_id });
            match self
                .call::<bool>("deleteMessage", RequestBody::Json(body), context)
                .await
            {
                Ok(_) => {}
                Err(SendError::Permanent { reason })
                    if reason.contains("message to delete not found") => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        if recipient.trim().parse::<i64>().is_err() {
            return Err(SendError::Permanent {
                reason: format!(
                    "Telegram bots can write to a person only by their numeric user id, not `{recipient}`"
                ),
            });
        }
        self.send_to(recipient.trim(), message).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
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
        let offset = match cursor {
            Some(cursor) => {
                Some(
                    cursor
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| SendError::Permanent {
                            reason: format!("`{cursor}` is not a Telegram update cursor"),
                        })?,
                )
            }
            None => None,
        };
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

    async fn pushed_update(
        &self,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Mention>, PushedUpdateError> {
        let Some(webhook) = &self.webhook else {
            return Err(PushedUpdateError::NotPushed);
        };
        let update = super::telegram::parse_webhook_update(webhook.secret.expose(), token, body)
            .map_err(|error| match error {
                WebhookError::BadSecretToken => PushedUpdateError::BadToken,
                WebhookError::NotAnUpdate { reason } => PushedUpdateError::NotAnUpdate { reason },
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
