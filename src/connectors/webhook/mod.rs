//! The generic `webhook` network, for a CRM or an internal tool: each post is a JSON `POST`
//! to the account's `url`:
//!
//! ```json
//! { "idempotency_key": "…", "playbook": "launch", "item": "teaser", "text": "…",
//!   "media": ["img/teaser.png"], "reply_to": null, "sent_at": "2026-03-01T12:00:00Z" }
//! ```
//!
//! with the headers `Idempotency-Key` (the same key as in the body), `X-Crier-Timestamp`
//! (unix seconds) and, when the account has a `secret`, `X-Crier-Signature` (see
//! [`signature`] for how to verify it). Any 2xx delivers the post; a JSON reply
//! `{"id": "…", "url": "…"}` (both optional) names it, otherwise its id is the idempotency
//! key. Other answers are classified by [`super::http`].
//!
//! crier cannot ask a generic receiver whether a post exists, so `lookup` is `Unsupported`:
//! after an outcome-unknown failure crier resends with the same `Idempotency-Key`, and the
//! receiver is expected to deduplicate by it (answer a repeat as it answered the first).

pub mod signature;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use reqwest::Url;

use super::http;
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{Connector, Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

pub use signature::{sign, verify_signature};

#[derive(Debug, Clone)]
pub struct WebhookConnector {
    account: String,
    url: Url,
    secret: Option<Secret>,
    client: reqwest::Client,
}

/// The JSON body of a webhook post.
#[derive(Debug, serde::Serialize)]
struct Body<'a> {
    idempotency_key: &'a str,
    playbook: &'a str,
    item: &'a str,
    text: &'a str,
    media: Vec<String>,
    reply_to: Option<&'a str>,
    sent_at: String,
}

#[derive(Debug, serde::Deserialize)]
struct Answer {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    url: Option<String>,
}

impl WebhookConnector {
    pub fn new(
        account: impl Into<String>,
        url: Url,
        secret: Option<Secret>,
        client: reqwest::Client,
    ) -> Self {
        WebhookConnector {
            account: account.into(),
            url,
            secret,
            client,
        }
    }

    /// The connector of a `webhook` account: `url`, and `secret` to sign with.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let url = setup.required(Network::Webhook, "url", &setup.config.url)?;
        let url = setup.http_url("url", url)?;
        let secret = setup.secret("secret");
        Ok(WebhookConnector::new(
            setup.name,
            url,
            secret,
            setup.client.clone(),
        ))
    }
}

#[async_trait]
impl Connector for WebhookConnector {
    fn network(&self) -> Network {
        Network::Webhook
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let now = Utc::now();
        let timestamp = now.timestamp().to_string();
        let body = Body {
            idempotency_key: &post.idempotency_key,
            playbook: &post.playbook,
            item: &post.item,
            text: &post.text,
            media: post.media.iter().map(|p| p.display().to_string()).collect(),
            reply_to: post.reply_to.as_deref(),
            sent_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let body = serde_json::to_vec(&body).map_err(|err| SendError::Permanent {
            reason: format!("could not encode the post: {err}"),
        })?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", &post.idempotency_key)
            .header("x-crier-timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header(
                "x-crier-signature",
                sign(secret.expose().as_bytes(), &timestamp, &body),
            );
        }
        let reply = http::execute(request.body(body)).await?;
        let answer = serde_json::from_str::<Answer>(&reply.body).ok();
        let remote_id = match answer.as_ref().and_then(|a| a.id.as_ref()) {
            Some(serde_json::Value::String(id)) if !id.is_empty() => id.clone(),
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => post.idempotency_key.clone(),
        };
        Ok(Delivered {
            remote_id,
            url: answer.and_then(|a| a.url),
        })
    }

    async fn lookup(&self, _post: &OutgoingPost) -> Result<Lookup, SendError> {
        Ok(Lookup::Unsupported)
    }

    /// A generic receiver has no health endpoint, and a test post would be a real post.
    async fn health(&self) -> Result<(), SendError> {
        Ok(())
    }

    fn health_limits(&self) -> Option<&'static str> {
        Some("a generic webhook cannot be checked without posting; its URL and secret were read")
    }
}
