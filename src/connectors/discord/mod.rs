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

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::multipart::{Form, Part};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use super::http::{self, Reply};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{Connector, Delivered, Lookup, OutgoingPost, SendError, unsupported};
use crate::network::Network;

/// The longest message content, in characters (from the network table).
const TEXT_LIMIT: usize = Network::Discord
    .profile()
    .text
    .max
    .expect("Discord has a limit");
/// The most files on one message.
const FILE_LIMIT: usize = Network::Discord
    .profile()
    .max_images
    .expect("Discord has a limit");

/// Discord's error code for a webhook that no longer exists.
const UNKNOWN_WEBHOOK: u64 = 10015;
/// Discord's error code for a message that no longer exists.
const UNKNOWN_MESSAGE: u64 = 10008;

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

/// A message as Discord returns it; crier reads its id and where it is.
#[derive(Debug, serde::Deserialize)]
struct Message {
    id: String,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    guild_id: Option<String>,
}

/// Refuses what Discord would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    if post.reply_to.is_some() {
        return Err(unsupported(
            Network::Discord,
            "reply to posts (webhooks cannot)",
        ));
    }
    let count = post.text.chars().count();
    if count > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the text has {count} characters and Discord allows {TEXT_LIMIT} in a message"
            ),
        });
    }
    if post.media.len() > FILE_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and Discord takes at most {FILE_LIMIT} on one message",
                post.media.len()
            ),
        });
    }
    if post.text.trim().is_empty() && post.media.is_empty() {
        return Err(SendError::Permanent {
            reason: "the post has no text and no image".into(),
        });
    }
    Ok(())
}

/// What crier was doing, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Post,
    Delete,
    Check,
}

impl Action {
    fn what(self) -> &'static str {
        match self {
            Action::Post => "the post",
            Action::Delete => "the deletion",
            Action::Check => "the check of the webhook",
        }
    }
}

/// Classifies a Discord answer: its own `retry_after`, error codes and form errors first,
/// then the status, as every network.
fn refusal(reply: &Reply, action: Action) -> SendError {
    let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    let status = reply.status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        let after = body["retry_after"]
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(http::MAX_RETRY_AFTER.as_secs_f64())))
            .or_else(|| header_seconds(reply, "x-ratelimit-reset-after"))
            .or_else(|| http::retry_hint(&reply.headers, Utc::now()))
            .unwrap_or(http::DEFAULT_RETRY_AFTER);
        let global = body["global"].as_bool().unwrap_or(false)
            || reply
                .headers
                .get("x-ratelimit-global")
                .is_some_and(|v| v.as_bytes() == b"true");
        let reason = if global {
            "Discord is rate limiting all of crier's requests (global limit)"
        } else {
            "Discord is rate limiting this webhook"
        };
        return SendError::RetryAfter {
            after,
            reason: reason.into(),
        };
    }
    let code = body["code"].as_u64();
    let message = discord_message(&body)
        .or_else(|| http::body_message(&reply.body))
        .unwrap_or_else(|| http::status_text(status));
    if status == StatusCode::UNAUTHORIZED
        || code == Some(UNKNOWN_WEBHOOK)
        || (status == StatusCode::NOT_FOUND && action == Action::Check)
    {
        return SendError::Permanent {
            reason: format!(
                "the webhook URL is not valid any more (Discord answered {message}): create a new webhook and update `webhook` in crier.yaml"
            ),
        };
    }
    let classified = http::classify_status(status, &reply.headers, &reply.body, Utc::now())
        .err()
        .unwrap_or(SendError::Permanent {
            reason: String::new(),
        });
    let reason = match &classified {
        SendError::RetryAfter { .. } | SendError::Transient { .. } => {
            format!("Discord failed ({})", http::status_text(status))
        }
        _ => format!("Discord refused {}: {message}", action.what()),
    };
    http::reworded(classified, reason)
}

/// `message`, with the first field error of an "Invalid Form Body":
/// `Invalid Form Body (content: Must be 2000 or fewer in length.)`.
fn discord_message(body: &Value) -> Option<String> {
    let message = body["message"].as_str()?.to_owned();
    match first_field_error(&body["errors"], "") {
        Some((field, detail)) => Some(format!("{message} ({field}: {detail})")),
        None => Some(message),
    }
}

fn first_field_error(errors: &Value, path: &str) -> Option<(String, String)> {
    let map = errors.as_object()?;
    if let Some(detail) = map
        .get("_errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e["message"].as_str())
    {
        return Some((path.to_owned(), detail.to_owned()));
    }
    map.iter().find_map(|(key, value)| {
        let path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        first_field_error(value, &path)
    })
}

fn header_seconds(reply: &Reply, name: &str) -> Option<Duration> {
    let value = reply.headers.get(name)?.to_str().ok()?;
    http::parse_seconds(value)
}

async fn call(request: reqwest::RequestBuilder, action: Action) -> Result<Reply, SendError> {
    let reply = http::fetch(request).await?;
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(refusal(&reply, action))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
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
        check(post)?;
        let mut url = self.url(&[])?;
        url.query_pairs_mut().append_pair("wait", "true");
        let mut payload = json!({
            "content": post.text,
            "allowed_mentions": { "parse": [] },
        });
        let request = if post.media.is_empty() {
            self.client.post(url).json(&payload)
        } else {
            let mut form = Form::new();
            let mut attachments = Vec::new();
            for (n, path) in post.media.iter().enumerate() {
                attachments.push(json!({ "id": n, "filename": file_name(path) }));
                form = form.part(
                    format!("files[{n}]"),
                    super::upload::image_part(path).await?,
                );
            }
            payload["attachments"] = Value::Array(attachments);
            let form = form.part(
                "payload_json",
                Part::text(payload.to_string())
                    .mime_str("application/json")
                    .expect("a valid MIME type"),
            );
            self.client.post(url).multipart(form)
        };
        let reply = call(request, Action::Post).await?;
        let message: Message =
            serde_json::from_str(&reply.body).map_err(|_| SendError::OutcomeUnknown {
                reason: "Discord accepted the post but its answer could not be read".into(),
            })?;
        let url = match (&message.guild_id, &message.channel_id) {
            (Some(guild), Some(channel)) => Some(format!(
                "https://discord.com/channels/{guild}/{channel}/{}",
                message.id
            )),
            _ => None,
        };
        Ok(Delivered {
            remote_id: message.id,
            url,
        })
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
        if remote_id.is_empty() || !remote_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SendError::Permanent {
                reason: format!("`{remote_id}` is not the id of a Discord message"),
            });
        }
        let url = self.url(&["messages", remote_id])?;
        let reply = http::fetch(self.client.delete(url)).await?;
        if reply.status.is_success() {
            return Ok(());
        }
        let code = serde_json::from_str::<Value>(&reply.body)
            .ok()
            .and_then(|body| body["code"].as_u64());
        if code == Some(UNKNOWN_MESSAGE) {
            return Ok(());
        }
        Err(refusal(&reply, Action::Delete))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_string(),
        }
    }

    #[test]
    fn form_errors_name_the_field() {
        let body = json!({ "message": "Invalid Form Body", "code": 50035, "errors": {
            "attachments": { "0": { "filename": { "_errors": [
                { "code": "BASE_TYPE_REQUIRED", "message": "This field is required" }
            ] } } }
        } });
        assert_eq!(
            refusal(&reply(400, body), Action::Post),
            SendError::Permanent {
                reason: "Discord refused the post: Invalid Form Body (attachments.0.filename: This field is required)".into()
            }
        );
        assert_eq!(
            refusal(
                &reply(
                    403,
                    json!({ "message": "Missing Permissions", "code": 50013 })
                ),
                Action::Post
            ),
            SendError::Permanent {
                reason: "Discord refused the post: Missing Permissions".into()
            }
        );
    }
}
