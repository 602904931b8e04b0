//! Incoming Telegram updates: which of them mention or answer the bot, and the webhook mode
//! helper.
//!
//! In webhook mode (`setWebhook` with a `secret_token`), Telegram sends each update as a JSON
//! `POST` with the header `X-Telegram-Bot-Api-Secret-Token: <secret_token>`. A receiver calls
//! [`parse_webhook_update`] with that header and the raw body: it checks the header in
//! constant time before reading the body, then [`mention_in`] turns the update into a
//! `Mention` the same way `getUpdates` polling does. Telegram delivers updates to a webhook
//! or to `getUpdates`, never both: an account uses one mode.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::api::{Chat, Message, Update, User};
use crate::connectors::{Author, Mention};

/// The header Telegram sends with each webhook request.
pub const SECRET_TOKEN_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Why a webhook request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the request has no valid `X-Telegram-Bot-Api-Secret-Token` header")]
    BadSecretToken,
    #[error("the request body is not a Telegram update: {reason}")]
    NotAnUpdate { reason: String },
}

/// Whether `header` (the `X-Telegram-Bot-Api-Secret-Token` value, if any) is `expected`.
/// Compares SHA-256 digests so the time taken says nothing about the secret, not even its
/// length.
pub fn verify_secret_token(expected: &str, header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    let expected = Sha256::digest(expected.as_bytes());
    let given = Sha256::digest(header.as_bytes());
    let difference = expected
        .iter()
        .zip(given.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// The update in a webhook request, once its secret token header checks out.
pub fn parse_webhook_update(
    expected_secret: &str,
    header: Option<&str>,
    body: &[u8],
) -> Result<Update, WebhookError> {
    if !verify_secret_token(expected_secret, header) {
        return Err(WebhookError::BadSecretToken);
    }
    serde_json::from_slice(body).map_err(|err| WebhookError::NotAnUpdate {
        reason: err.to_string(),
    })
}

/// Who the bot is and which chat it posts to, to recognise what is addressed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub bot: User,
    /// The account's `chat`: `@name` or a numeric id. Replies to the chat's own posts (a
    /// channel's discussion group) count as replies to the bot.
    pub chat: String,
}

impl Audience {
    fn is_account_chat(&self, chat: &Chat) -> bool {
        match self.chat.strip_prefix('@') {
            Some(name) => chat
                .username
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(name)),
            None => self.chat == chat.id.to_string(),
        }
    }

    fn is_bot(&self, user: Option<&User>) -> bool {
        user.is_some_and(|user| user.id == self.bot.id)
    }

    /// Whether `message` replies to the bot's (or the chat's own) message, or mentions the
    /// bot by `@username` or by a text mention.
    pub fn is_addressed(&self, message: &Message) -> bool {
        if self.is_bot(message.from.as_ref()) {
            return false;
        }
        if let Some(replied) = &message.reply_to_message
            && (self.is_bot(replied.from.as_ref())
                || replied
                    .sender_chat
                    .as_ref()
                    .is_some_and(|chat| self.is_account_chat(chat)))
        {
            return true;
        }
        let handle = self.bot.username.as_deref().map(|u| format!("@{u}"));
        message
            .body_entities()
            .iter()
            .any(|entity| match entity.kind.as_str() {
                "mention" => handle.as_deref().is_some_and(|handle| {
                    utf16_slice(message.body(), entity.offset, entity.length)
                        .is_some_and(|text| text.eq_ignore_ascii_case(handle))
                }),
                "text_mention" => self.is_bot(entity.user.as_ref()),
                _ => false,
            })
    }
}

/// The mention `update` carries for the bot, if it carries one.
pub fn mention_in(update: &Update, audience: &Audience) -> Option<Mention> {
    let message = update.new_message()?;
    audience.is_addressed(message).then(|| mention(message))
}

fn mention(message: &Message) -> Mention {
    let author = match (&message.from, &message.sender_chat) {
        // A post on behalf of a chat (a channel, an anonymous admin) is that chat's.
        (_, Some(chat)) => Author {
            id: chat.id.to_string(),
            handle: chat
                .username
                .as_ref()
                .map(|u| format!("@{u}"))
                .unwrap_or_else(|| chat.id.to_string()),
            display_name: chat.title.clone(),
            ..Author::default()
        },
        (Some(user), None) => Author {
            id: user.id.to_string(),
            handle: user
                .username
                .as_ref()
                .map(|u| format!("@{u}"))
                .unwrap_or_else(|| user.id.to_string()),
            display_name: user.full_name(),
            bot: Some(user.is_bot),
            ..Author::default()
        },
        (None, None) => Author {
            id: message.chat.id.to_string(),
            handle: message.chat.id.to_string(),
            display_name: message.chat.title.clone(),
            ..Author::default()
        },
    };
    Mention {
        // Message ids count per chat; the chat id makes them unique.
        id: format!("{}:{}", message.chat.id, message.message_id),
        author,
        text: message.body().to_owned(),
        created_at: DateTime::<Utc>::from_timestamp(message.date, 0).unwrap_or_default(),
        in_reply_to: message
            .reply_to_message
            .as_ref()
            .map(|replied| replied.message_id.to_string()),
        url: message.link(),
        edited_at: None,
    }
}

/// The part of `text` at `offset` and `length` in UTF-16 code units (how Telegram counts).
fn utf16_slice(text: &str, offset: usize, length: usize) -> Option<String> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let part = units.get(offset..offset.checked_add(length)?)?;
    String::from_utf16(part).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_token_compared_whole() {
        assert!(verify_secret_token("s3cret-token", Some("s3cret-token")));
        assert!(!verify_secret_token("s3cret-token", Some("s3cret-toke")));
        assert!(!verify_secret_token("s3cret-token", Some("s3cret-token ")));
        assert!(!verify_secret_token("s3cret-token", Some("")));
        assert!(!verify_secret_token("s3cret-token", None));
    }

    #[test]
    fn mention_offsets_count_utf16_units() {
        // "🎉" is two UTF-16 units: the mention starts at unit 3, char 2.
        assert_eq!(
            utf16_slice("🎉 @brand_bot hi", 3, 10).as_deref(),
            Some("@brand_bot")
        );
        assert_eq!(utf16_slice("short", 3, 10), None);
    }
}
