//! Posting through the webhook: the text and images checked against Discord's limits, the
//! message sent (JSON, or multipart with its files), and deleting a message.

use std::path::Path;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::DiscordConnector;
use super::wire::{Action, Message, call, refusal};
use crate::connectors::http;
use crate::connectors::{Delivered, OutgoingPost, SendError, unsupported};
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
/// Discord's error code for a message that no longer exists.
const UNKNOWN_MESSAGE: u64 = 10008;

impl DiscordConnector {
    pub(super) async fn send_message(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
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
                    crate::connectors::upload::image_part(path).await?,
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

    pub(super) async fn delete_message(&self, remote_id: &str) -> Result<(), SendError> {
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

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}
