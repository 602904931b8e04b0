//! The `slack` network: posts to one channel through a Slack incoming webhook (a Slack app's
//! "Incoming Webhooks" feature; each webhook is tied to the channel chosen when it was made).
//!
//! Set up: create a Slack app, turn on Incoming Webhooks, "Add New Webhook to Workspace",
//! pick the channel, copy the URL (`https://hooks.slack.com/services/T…/B…/…`), then in
//! `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   team_slack:
//!     network: slack
//!     webhook: env:SLACK_WEBHOOK_URL   # the webhook URL is a secret: anyone with it can post
//! ```
//!
//! Each post is a JSON `POST {"text": "…"}` to the webhook URL; Slack renders its mrkdwn
//! (`*bold*`, `<https://…|links>`). Blocks are not sent: a section block holds only 3000
//! characters, and the text alone renders the same. Slack answers `200 ok`, or a status with
//! a plain-text code (`invalid_payload`, `channel_is_archived`, …) that crier explains in
//! words. Text is limited to 40,000 characters (Slack cuts longer messages; crier refuses them).
//!
//! What a webhook cannot do: Slack returns no message id (the remote id is the idempotency
//! key), so crier cannot delete, reply, look a post up or count reactions; it cannot send
//! direct messages, read mentions, attach images or be checked without posting. `health`
//! only confirms the URL is well formed (checked when the account is loaded); the first post
//! shows whether Slack takes it. With no idempotency key and no lookup, a resend after an
//! outcome-unknown failure may post twice.

use async_trait::async_trait;
use chrono::Utc;
use reqwest::{StatusCode, Url};
use serde_json::json;

use super::http::{self, Reply};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{Connector, Delivered, Lookup, OutgoingPost, SendError, unsupported};
use crate::network::Network;

/// The longest text Slack keeps whole, in characters.
const TEXT_LIMIT: usize = Network::Slack
    .profile()
    .text
    .max
    .expect("Slack has a limit");

#[derive(Debug, Clone)]
pub struct SlackConnector {
    account: String,
    /// The webhook URL: it is the credential, so it stays a `Secret`.
    webhook: Secret,
    client: reqwest::Client,
}

impl SlackConnector {
    pub fn new(account: impl Into<String>, webhook: Secret, client: reqwest::Client) -> Self {
        SlackConnector {
            account: account.into(),
            webhook,
            client,
        }
    }

    /// The connector of a `slack` account: its `webhook` URL.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let webhook = setup.required_secret(Network::Slack, "webhook")?;
        setup.http_url("webhook", webhook.expose())?;
        Ok(SlackConnector::new(
            setup.name,
            Secret::new(webhook.expose().trim()),
            setup.client.clone(),
        ))
    }
}

/// Slack's answer codes, in words a social-media manager can act on.
fn explain(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_payload" => "Slack could not read the message crier sent",
        "no_text" => "Slack refused a message without text",
        "too_many_attachments" => "the message has more attachments than Slack allows",
        "invalid_token" => {
            "the webhook URL is not valid any more: create a new webhook and update `webhook` in crier.yaml"
        }
        "action_prohibited" => "a workspace admin has restricted posting to this channel",
        "posting_to_general_channel_denied" => {
            "only some members may post in the workspace's general channel, and the webhook's app is not one of them"
        }
        "channel_not_found" => "the webhook's channel no longer exists",
        "channel_is_archived" => "the webhook's channel is archived",
        "no_service" => {
            "the webhook was removed or its app uninstalled: create a new webhook and update `webhook` in crier.yaml"
        }
        "no_service_id" | "no_team" => "the webhook URL is incomplete: copy it again from Slack",
        "no_active_hooks" => "the webhook's app has no active incoming webhooks any more",
        "team_disabled" => "the Slack workspace has been disabled",
        "user_not_found" => "the user named in the message does not exist",
        _ => return None,
    })
}

fn refusal(reply: &Reply) -> SendError {
    let code = reply.body.trim();
    if reply.status == StatusCode::TOO_MANY_REQUESTS {
        return SendError::RetryAfter {
            after: http::retry_hint(&reply.headers, Utc::now())
                .unwrap_or(http::DEFAULT_RETRY_AFTER),
            reason: "Slack is rate limiting this webhook (about one message per second is allowed)"
                .into(),
        };
    }
    let classified = http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
        .err()
        .unwrap_or(SendError::Permanent {
            reason: String::new(),
        });
    let reason = match (explain(code), &classified) {
        (Some(words), _) => format!("Slack refused the post: {words} ({code})"),
        (None, SendError::Transient { .. } | SendError::RetryAfter { .. }) => {
            format!("Slack failed ({})", http::status_text(reply.status))
        }
        (None, _) => match http::body_message(&reply.body) {
            Some(message) => format!(
                "Slack refused the post ({}): {message}",
                http::status_text(reply.status)
            ),
            None => format!(
                "Slack refused the post ({})",
                http::status_text(reply.status)
            ),
        },
    };
    http::reworded(classified, reason)
}

#[async_trait]
impl Connector for SlackConnector {
    fn network(&self) -> Network {
        Network::Slack
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        if post.reply_to.is_some() {
            return Err(unsupported(
                Network::Slack,
                "reply to posts (webhooks cannot)",
            ));
        }
        if !post.media.is_empty() {
            return Err(unsupported(
                Network::Slack,
                "attach images (webhooks cannot)",
            ));
        }
        let count = post.text.chars().count();
        if count > TEXT_LIMIT {
            return Err(SendError::Permanent {
                reason: format!(
                    "the text has {count} characters and Slack allows {TEXT_LIMIT} in a message"
                ),
            });
        }
        if post.text.trim().is_empty() {
            return Err(SendError::Permanent {
                reason: "the post has no text".into(),
            });
        }
        let url = Url::parse(self.webhook.expose()).map_err(|_| SendError::Permanent {
            reason: "the Slack webhook URL is not a valid URL".into(),
        })?;
        let request = self.client.post(url).json(&json!({ "text": post.text }));
        let reply = http::fetch(request).await?;
        if !reply.status.is_success() {
            return Err(refusal(&reply));
        }
        Ok(Delivered {
            remote_id: post.idempotency_key.clone(),
            url: None,
        })
    }

    /// Slack webhooks keep no key and give no id to look up.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Lookup, SendError> {
        Ok(Lookup::Unsupported)
    }

    /// A webhook cannot be checked without posting: only its URL's form is checked, when the
    /// account is loaded.
    async fn health(&self) -> Result<(), SendError> {
        Ok(())
    }
}
