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
mod post;
mod read;
pub mod updates;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use self::api::{Context, User};
use super::http;
use super::pacing::{Limits, Pacer, Slot};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, FeedPage, Lookup, Mention, MentionPage, OutgoingPost, PushedUpdateError,
    SendError,
};
use crate::network::Network;

pub use updates::{SECRET_TOKEN_HEADER, parse_webhook_update, verify_secret_token};

/// Telegram's public Bot API server.
pub const DEFAULT_SERVER: &str = "https://api.telegram.org";

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
        self.delete_messages(remote_id).await
    }

    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        self.send_direct(recipient, message).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_updates(cursor).await
    }

    fn shared_feed(&self) -> Option<String> {
        self.update_feed()
    }

    async fn read_shared_feed(&self, cursor: Option<&str>) -> Result<FeedPage, SendError> {
        self.read_update_page(cursor).await
    }

    async fn mentions_in_feed(&self, items: &[String]) -> Result<Vec<Mention>, SendError> {
        self.mentions_in_updates(items).await
    }

    async fn pushed_update(
        &self,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Mention>, PushedUpdateError> {
        self.take_pushed(token, body).await
    }
}
