//! Sending into a chat: a message, a photo with its caption or a media group, each checked
//! against Telegram's limits first; replies to a message; direct messages to a user id; and
//! deleting the messages of a post.

use reqwest::multipart::Form;
use serde_json::{Value, json};

use super::api::{Context, Message};
use super::{RequestBody, TelegramConnector, chat_id};
use crate::connectors::{Delivered, OutgoingPost, SendError};
use crate::network::Network;

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

impl TelegramConnector {
    pub(super) async fn delete_messages(&self, remote_id: &str) -> Result<(), SendError> {
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

    pub(super) async fn send_direct(
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

    /// Sends `post` to `chat`: a message, a photo, or a media group.
    pub(super) async fn send_to(
        &self,
        chat: &str,
        post: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
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
