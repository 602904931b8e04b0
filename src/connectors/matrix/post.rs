//! Posting into the room: one event per part (the text, each image uploaded first) under a
//! transaction id made from the idempotency key, direct-message rooms found or made,
//! `lookup` among the bot's latest messages, and redactions.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::content::{self, KEY_FIELD, PART_FIELD, UploadedImage};
use super::{MatrixConnector, first_event_id, is_gone};
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};

/// How many of the room's latest messages `lookup` searches.
const LOOKUP_WINDOW: u32 = 50;

impl MatrixConnector {
    pub(super) async fn find_sent(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let room_id = self.room_id().await?;
        let parts = self.parts_with_key(room_id, &post.idempotency_key).await?;
        let expected = post.media.len().max(1) as u64;
        if (0..expected).all(|part| parts.contains_key(&part)) {
            let ids = (0..expected).map(|part| parts[&part].clone()).collect();
            Ok(Lookup::Found(delivered(room_id, ids)))
        } else {
            Ok(Lookup::NotFound)
        }
    }

    pub(super) async fn delete_post(&self, remote_id: &str) -> Result<(), SendError> {
        let room_id = self.room_id().await?;
        for event_id in remote_id
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            let txn_id = content::transaction_id(&format!("redact-{event_id}"));
            let url = self
                .api
                .client_v3(&["rooms", room_id, "redact", event_id, &txn_id], &[]);
            match self
                .api
                .json(Method::PUT, url, Some(&json!({})), "the deletion")
                .await
            {
                Ok(_) => {}
                Err(failure) if is_gone(&failure) => {}
                Err(failure) => return Err(failure.into()),
            }
        }
        Ok(())
    }

    pub(super) async fn send_direct(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let user = recipient.trim();
        if !(user.starts_with('@') && user.contains(':')) {
            return Err(SendError::Permanent {
                reason: format!(
                    "a Matrix direct message needs a user id like @name:example.org, not `{user}`"
                ),
            });
        }
        // Refuse an oversized text before making a room for it.
        let text_only = content::text_content(&message.text, &message.idempotency_key, None);
        content::check_size(&text_only, &message.text)?;
        let room_id = self.direct_room(user).await?;
        self.post_in(&room_id, message).await
    }

    /// Posts into `room_id`: one `m.text`, or one `m.image` per image with the text as the
    /// first one's caption.
    pub(super) async fn post_in(
        &self,
        room_id: &str,
        post: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let key = post.idempotency_key.as_str();
        let reply_to = post.reply_to.as_deref().map(first_event_id);
        // Refuse an oversized text before uploading anything.
        let text_only = content::text_content(&post.text, key, reply_to);
        content::check_size(&text_only, &post.text)?;
        if post.media.is_empty() {
            let id = self
                .send_event(
                    room_id,
                    &content::transaction_id(key),
                    &text_only,
                    "the post",
                )
                .await?;
            return Ok(delivered(room_id, vec![id]));
        }
        let mut ids = Vec::with_capacity(post.media.len());
        for (part, path) in post.media.iter().enumerate() {
            let image = self.upload(path).await?;
            let (caption, reply) = if part == 0 {
                (Some(post.text.as_str()), reply_to)
            } else {
                (None, None)
            };
            let event = content::image_content(&image, caption, key, part, reply);
            content::check_size(&event, &post.text)?;
            let id = self
                .send_event(
                    room_id,
                    &content::part_transaction_id(key, part),
                    &event,
                    "the post",
                )
                .await?;
            ids.push(id);
        }
        Ok(delivered(room_id, ids))
    }

    /// Sends one event and returns its id.
    async fn send_event(
        &self,
        room_id: &str,
        txn_id: &str,
        content: &Map<String, Value>,
        what: &str,
    ) -> Result<String, SendError> {
        let url = self
            .api
            .client_v3(&["rooms", room_id, "send", "m.room.message", txn_id], &[]);
        let answer = self
            .api
            .json(
                Method::PUT,
                url,
                Some(&Value::Object(content.clone())),
                what,
            )
            .await?;
        event_id(&answer, what)
    }

    /// Uploads one image file to the media repository.
    async fn upload(&self, path: &Path) -> Result<UploadedImage, SendError> {
        let shown = path.display();
        let mimetype = content::image_mimetype(path).ok_or_else(|| SendError::Permanent {
            reason: format!(
                "{shown} is not an image Matrix clients show (use .png, .jpg, .gif or .webp)"
            ),
        })?;
        let owned = path.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| SendError::Transient {
                reason: format!("could not read the image {shown}: {err}"),
            })?
            .map_err(|err| SendError::Permanent {
                reason: format!("cannot read the image {shown}: {err}"),
            })?;
        let filename = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let size = bytes.len() as u64;
        let dimensions = content::image_dimensions(&bytes);
        let url = self.api.url(
            &["_matrix", "media", "v3", "upload"],
            &[("filename", &filename)],
        );
        let request = self
            .api
            .request(Method::POST, url)
            .header("content-type", mimetype)
            .body(bytes);
        let what = format!("the image {filename}");
        let answer = self.api.send(request, &what).await.map_err(|failure| {
            // An upload creates nothing a reader sees: resending it is harmless.
            match failure.error {
                SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
                other => other,
            }
        })?;
        let mxc = answer["content_uri"]
            .as_str()
            .filter(|uri| uri.starts_with("mxc://"))
            .ok_or_else(|| SendError::Transient {
                reason: format!("the homeserver did not say where it stored {filename}"),
            })?
            .to_owned();
        Ok(UploadedImage {
            mxc,
            filename,
            mimetype,
            size,
            dimensions,
        })
    }

    /// The room of the direct chat with `user`: the one `m.direct` lists, or a new one.
    async fn direct_room(&self, user: &str) -> Result<String, SendError> {
        let _only_one = self.direct_rooms.lock().await;
        let me = self.user_id().await?;
        let account_data = self
            .api
            .client_v3(&["user", me, "account_data", "m.direct"], &[]);
        let mut direct = match self
            .api
            .json(
                Method::GET,
                account_data.clone(),
                None,
                "the direct chat list",
            )
            .await
        {
            Ok(Value::Object(map)) => map,
            Ok(_) => Map::new(),
            Err(failure) if failure.errcode() == Some("M_NOT_FOUND") => Map::new(),
            Err(failure) => return Err(failure.into()),
        };
        if let Some(room) = direct
            .get(user)
            .and_then(Value::as_array)
            .and_then(|rooms| rooms.iter().rev().find_map(Value::as_str))
        {
            return Ok(room.to_owned());
        }
        // A homeserver invites even an unknown local user; a missing profile says there is
        // nobody to invite.
        let profile = self.api.client_v3(&["profile", user], &[]);
        if let Err(failure) = self
            .api
            .json(Method::GET, profile, None, "the user lookup")
            .await
        {
            // Synapse answers `404 M_UNKNOWN` ("No row found") here, others `M_NOT_FOUND`.
            if failure.status == Some(reqwest::StatusCode::NOT_FOUND) {
                return Err(SendError::Permanent {
                    reason: format!("there is no Matrix user {user}"),
                });
            }
        }
        let create = self.api.client_v3(&["createRoom"], &[]);
        let body = json!({
            "is_direct": true,
            "invite": [user],
            "preset": "trusted_private_chat",
        });
        let answer = self
            .api
            .json(
                Method::POST,
                create,
                Some(&body),
                &format!("the direct chat with {user}"),
            )
            .await
            // Nothing was sent to the person yet: a resend may make a second, empty room.
            .map_err(|failure| match failure.error {
                SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
                other => other,
            })?;
        let room_id = answer["room_id"]
            .as_str()
            .ok_or_else(|| SendError::Transient {
                reason: "the homeserver did not say which room it created".into(),
            })?
            .to_owned();
        let rooms = direct
            .entry(user.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(rooms) = rooms {
            rooms.push(json!(room_id));
        } else {
            *rooms = json!([room_id]);
        }
        self.api
            .json(
                Method::PUT,
                account_data,
                Some(&Value::Object(direct)),
                "the direct chat list",
            )
            .await?;
        Ok(room_id)
    }

    /// The event ids, by their crier part, of the bot's recent messages that carry `key`.
    async fn parts_with_key(
        &self,
        room_id: &str,
        key: &str,
    ) -> Result<BTreeMap<u64, String>, SendError> {
        let me = self.user_id().await?;
        let filter = json!({ "senders": [me], "types": ["m.room.message"] }).to_string();
        let limit = LOOKUP_WINDOW.to_string();
        let url = self.api.client_v3(
            &["rooms", room_id, "messages"],
            &[("dir", "b"), ("limit", &limit), ("filter", &filter)],
        );
        let answer = self
            .api
            .json(Method::GET, url, None, "the search for the post")
            .await?;
        let mut parts = BTreeMap::new();
        for event in answer["chunk"].as_array().into_iter().flatten() {
            let content = &event["content"];
            if event["sender"] != me || content[KEY_FIELD] != key {
                continue;
            }
            if let Some(id) = event["event_id"].as_str() {
                let part = content[PART_FIELD].as_u64().unwrap_or(0);
                parts.entry(part).or_insert_with(|| id.to_owned());
            }
        }
        Ok(parts)
    }
}

fn event_id(answer: &Value, what: &str) -> Result<String, SendError> {
    answer["event_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SendError::OutcomeUnknown {
            reason: format!("the homeserver accepted {what} but did not give its event id"),
        })
}

fn delivered(room_id: &str, ids: Vec<String>) -> Delivered {
    let url = ids.first().map(|first| content::event_link(room_id, first));
    Delivered {
        remote_id: ids.join(","),
        url,
    }
}
