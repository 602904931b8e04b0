//! The Telegram Bot API's shapes crier reads, and how its answers become `SendError`s.
//!
//! Every answer is `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code": 400, "description": "Bad Request: chat not found",
//! "parameters": {"retry_after": 35, "migrate_to_chat_id": -100…}}`, with the HTTP status
//! equal to `error_code`.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

/// The envelope of every Bot API answer.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    ok: bool,
    #[serde(default = "Option::default")]
    result: Option<T>,
}

/// The fields of a refusal.
#[derive(Debug, Default, Deserialize)]
struct Failure {
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

#[derive(Debug, Default, Deserialize)]
struct ResponseParameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

/// A Telegram user or bot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

impl User {
    /// "First Last", or `None` when both are empty.
    pub fn full_name(&self) -> Option<String> {
        let name = match &self.last_name {
            Some(last) if !last.is_empty() => format!("{} {last}", self.first_name),
            _ => self.first_name.clone(),
        };
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }
}

/// A chat: a private conversation, a group, a supergroup or a channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// A special part of a message's text; crier reads mentions of the bot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageEntity {
    #[serde(rename = "type")]
    pub kind: String,
    /// In UTF-16 code units, as Telegram counts them.
    pub offset: usize,
    pub length: usize,
    /// For `text_mention` (a person without a username).
    #[serde(default)]
    pub user: Option<User>,
}

/// A message or channel post.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    /// The chat a message was sent on behalf of (channel posts, anonymous admins).
    #[serde(default)]
    pub sender_chat: Option<Chat>,
    pub chat: Chat,
    /// Unix seconds.
    pub date: i64,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub entities: Vec<MessageEntity>,
    #[serde(default)]
    pub caption_entities: Vec<MessageEntity>,
    #[serde(default)]
    pub reply_to_message: Option<Box<Message>>,
}

impl Message {
    /// The text, or the caption of a photo.
    pub fn body(&self) -> &str {
        self.text
            .as_deref()
            .or(self.caption.as_deref())
            .unwrap_or("")
    }

    /// The entities of `body`.
    pub fn body_entities(&self) -> &[MessageEntity] {
        if self.text.is_some() {
            &self.entities
        } else {
            &self.caption_entities
        }
    }

    /// `https://t.me/<username>/<id>` for public chats, `https://t.me/c/<id>/<id>` for
    /// private supergroups and channels (members only); `None` for private chats and groups.
    pub fn link(&self) -> Option<String> {
        if let Some(username) = self.chat.username.as_deref().filter(|u| !u.is_empty()) {
            return Some(format!("https://t.me/{username}/{}", self.message_id));
        }
        let internal = self.chat.id.to_string();
        let internal = internal.strip_prefix("-100")?;
        Some(format!("https://t.me/c/{internal}/{}", self.message_id))
    }
}

/// One incoming update (`getUpdates`, or a webhook request's body).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub channel_post: Option<Message>,
}

impl Update {
    /// The new message or channel post this update carries, if any.
    pub fn new_message(&self) -> Option<&Message> {
        self.message.as_ref().or(self.channel_post.as_ref())
    }
}

/// What crier was doing, for error messages: "the post", "the check of the chat".
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub action: &'a str,
    /// The chat the request was about, as the account (or the recipient) names it.
    pub chat: Option<&'a str>,
}

/// The `result` of a 2xx answer, or the classified error of any other.
pub fn result<T: DeserializeOwned>(reply: &Reply, context: Context<'_>) -> Result<T, SendError> {
    let envelope = serde_json::from_str::<Envelope<T>>(&reply.body);
    match envelope {
        Ok(Envelope {
            ok: true,
            result: Some(result),
        }) if reply.status.is_success() => Ok(result),
        Ok(Envelope { ok: false, .. }) => Err(refusal(reply, context)),
        _ if !reply.status.is_success() => Err(refusal(reply, context)),
        // A 2xx whose result cannot be read: Telegram did it, crier cannot tell what it made.
        _ => Err(SendError::OutcomeUnknown {
            reason: format!(
                "Telegram accepted {} but its answer could not be read",
                context.action
            ),
        }),
    }
}

/// Classifies a refusal by Telegram's own signals first (`retry_after`, `migrate_to_chat_id`,
/// the description), then by status like every network.
fn refusal(reply: &Reply, context: Context<'_>) -> SendError {
    let failure = serde_json::from_str::<Failure>(&reply.body).unwrap_or_default();
    let code = failure.error_code;
    let description = failure
        .description
        // A proxy's error page says nothing a person can use; a plain 4xx text might.
        .or_else(|| {
            http::body_message(&reply.body)
                .filter(|_| code.is_none() && reply.status.is_client_error())
        })
        .unwrap_or_default();
    let parameters = failure.parameters.unwrap_or_default();
    let status = code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .filter(|code| !code.is_success())
        .unwrap_or(reply.status);
    let action = context.action;
    let said = if description.is_empty() {
        http::status_text(status)
    } else {
        description.clone()
    };
    if let Some(seconds) = parameters.retry_after {
        return SendError::RetryAfter {
            after: Duration::from_secs(seconds).min(http::MAX_RETRY_AFTER),
            reason: format!("Telegram is rate limiting the bot ({said})"),
        };
    }
    if let Some(new_id) = parameters.migrate_to_chat_id {
        let chat = context.chat.unwrap_or("the chat");
        return SendError::Permanent {
            reason: format!(
                "the group `{chat}` became a supergroup whose id is {new_id}: set `chat: '{new_id}'` in crier.yaml"
            ),
        };
    }
    let lowered = description.to_lowercase();
    let permanent = |reason: String| SendError::Permanent { reason };
    match status.as_u16() {
        401 => {
            return permanent(format!(
                "the bot token was refused (Telegram answered {said}): check `token` in crier.yaml"
            ));
        }
        404 => {
            return permanent(format!(
                "Telegram did not recognise the bot token ({said}): check `token` in crier.yaml"
            ));
        }
        _ => {}
    }
    if lowered.contains("bot was blocked by the user")
        || lowered.contains("user is deactivated")
        || lowered.contains("bot can't initiate conversation")
    {
        let chat = context.chat.unwrap_or("the person");
        return permanent(format!(
            "Telegram will not deliver to `{chat}`: {said} (a person must start a conversation with the bot, and not block it, before it can write to them)"
        ));
    }
    if lowered.contains("chat not found") {
        let chat = context.chat.unwrap_or("the chat");
        return permanent(format!(
            "Telegram does not know the chat `{chat}` or the bot is not in it ({said}): check `chat` in crier.yaml and add the bot to the chat"
        ));
    }
    if lowered.contains("not a member") || lowered.contains("not enough rights") {
        let chat = context.chat.unwrap_or("the chat");
        return permanent(format!(
            "the bot may not post in `{chat}` ({said}): make it a member, or an administrator of a channel, allowed to post"
        ));
    }
    if lowered.contains("message is too long") {
        return permanent(format!(
            "Telegram refused {action}: the text is too long ({said})"
        ));
    }
    if lowered.contains("terminated by other getupdates") || lowered.contains("webhook is active") {
        return permanent(format!(
            "Telegram refused {action}: {said} (only one program may read the bot's updates, and not while a webhook is set)"
        ));
    }
    let classified = http::classify_status(status, &reply.headers, &reply.body, Utc::now())
        .err()
        .unwrap_or(SendError::Permanent {
            reason: String::new(),
        });
    let reason = match &classified {
        SendError::RetryAfter { .. } => format!("Telegram is rate limiting the bot ({said})"),
        SendError::Transient { .. } => format!("Telegram failed ({said})"),
        _ => format!("Telegram refused {action}: {said}"),
    };
    http::reworded(classified, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use serde_json::Value;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    const POST: Context<'static> = Context {
        action: "the post",
        chat: Some("@brand_channel"),
    };

    #[test]
    fn a_proxy_error_page_is_transient_without_its_html() {
        let err = result::<Value>(
            &reply(502, "<html><body>502 Bad Gateway</body></html>"),
            POST,
        );
        assert_eq!(
            err,
            Err(SendError::Transient {
                reason: "Telegram failed (HTTP 502 Bad Gateway)".into()
            })
        );
    }

    #[test]
    fn telegrams_own_length_refusal_is_permanent() {
        let err = result::<Value>(
            &reply(
                400,
                r#"{"ok": false, "error_code": 400, "description": "Bad Request: message is too long"}"#,
            ),
            POST,
        );
        assert_eq!(
            err,
            Err(SendError::Permanent {
                reason:
                    "Telegram refused the post: the text is too long (Bad Request: message is too long)"
                        .into()
            })
        );
    }

    #[test]
    fn a_success_without_a_readable_result_is_outcome_unknown() {
        let err = result::<Message>(&reply(200, r#"{"ok": true, "result": 5}"#), POST);
        assert!(
            matches!(err, Err(SendError::OutcomeUnknown { .. })),
            "{err:?}"
        );
        let err = result::<Value>(
            &reply(
                200,
                r#"{"ok": false, "error_code": 400, "description": "Bad Request: x"}"#,
            ),
            POST,
        );
        assert_eq!(
            err,
            Err(SendError::Permanent {
                reason: "Telegram refused the post: Bad Request: x".into()
            })
        );
    }
}
