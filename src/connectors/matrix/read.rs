//! Reading mentions of the bot in the room from `/sync` (a gap after a limited sync read
//! back with `/messages`), and a message read again; which messages count is `mentions.rs`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use super::mentions::{self, Me};
use super::{MAX_PAGES, MatrixConnector, content, is_gone};
use crate::connectors::{Author, Mention, MentionPage, SendError};

impl MatrixConnector {
    pub(super) async fn read_mentions(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let room_id = self.room_id().await?;
        let user_id = self.user_id().await?;
        let display_name = self.display_name(user_id).await;
        let filter = mentions::sync_filter(room_id).to_string();
        let mut query = vec![("timeout", "0"), ("filter", filter.as_str())];
        if let Some(since) = cursor {
            query.push(("since", since));
        }
        let url = self.api.client_v3(&["sync"], &query);
        let answer = self
            .api
            .json(Method::GET, url, None, "the reading of mentions")
            .await?;
        let next_batch = answer["next_batch"].as_str().map(str::to_owned);
        let room = mentions::room_sync(&answer, room_id);
        let mut events = room.events;
        if let (true, Some(prev_batch), Some(since)) = (room.limited, &room.prev_batch, cursor) {
            let mut earlier = self.gap(room_id, prev_batch, since).await?;
            earlier.append(&mut events);
            events = earlier;
        }
        let senders = self.parent_senders(room_id, &events).await?;
        let me = Me {
            user_id,
            display_name,
        };
        Ok(MentionPage {
            mentions: mentions::mentions(&events, &me, room_id, &senders, &room.display_names),
            cursor: next_batch,
        })
    }

    /// `GET /rooms/{room}/event/{id}`: a redacted message (no `body` left) or one the
    /// server no longer has is `None`. An edit (`m.replace`) is a separate event in Matrix,
    /// so the text is the message as first sent.
    pub(super) async fn read_event(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let room_id = self.room_id().await?;
        let url = self.api.client_v3(&["rooms", room_id, "event", id], &[]);
        let event = match self
            .api
            .json(Method::GET, url, None, "reading a message again")
            .await
        {
            Ok(event) => event,
            Err(failure) if is_gone(&failure) => return Ok(None),
            Err(failure) => return Err(failure.into()),
        };
        let (Some(body), Some(sender)) =
            (event["content"]["body"].as_str(), event["sender"].as_str())
        else {
            return Ok(None);
        };
        Ok(Some(Mention {
            id: id.to_owned(),
            author: Author {
                id: sender.to_owned(),
                handle: sender.to_owned(),
                ..Author::default()
            },
            text: content::strip_reply_fallback(body).to_owned(),
            created_at: event["origin_server_ts"]
                .as_i64()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .unwrap_or_else(chrono::Utc::now),
            in_reply_to: mentions::replied_to(&event).map(str::to_owned),
            url: Some(content::event_link(room_id, id)),
            edited_at: None,
        }))
    }

    /// The bot's display name, if it has one and the homeserver tells.
    async fn display_name(&self, user_id: &str) -> Option<&str> {
        self.display_name
            .get_or_init(|| async {
                let url = self.api.client_v3(&["profile", user_id], &[]);
                let answer = self
                    .api
                    .json(Method::GET, url, None, "the profile lookup")
                    .await
                    .ok()?;
                answer["displayname"].as_str().map(str::to_owned)
            })
            .await
            .as_deref()
    }

    /// The room's messages after a sync gap: from `prev_batch` back to `since`, oldest first.
    async fn gap(
        &self,
        room_id: &str,
        prev_batch: &str,
        since: &str,
    ) -> Result<Vec<Value>, SendError> {
        let filter = mentions::messages_filter().to_string();
        let mut newest_first = Vec::new();
        let mut from = prev_batch.to_owned();
        for _ in 0..MAX_PAGES {
            let url = self.api.client_v3(
                &["rooms", room_id, "messages"],
                &[
                    ("dir", "b"),
                    ("from", &from),
                    ("to", since),
                    ("limit", "100"),
                    ("filter", &filter),
                ],
            );
            let answer = self
                .api
                .json(Method::GET, url, None, "the reading of mentions")
                .await?;
            let chunk = answer["chunk"].as_array().cloned().unwrap_or_default();
            let end = answer["end"].as_str().map(str::to_owned);
            if chunk.is_empty() {
                break;
            }
            newest_first.extend(chunk);
            match end {
                Some(end) if end != from => from = end,
                _ => break,
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }

    /// Who sent each event that `events` reply to (those not among `events` are fetched).
    async fn parent_senders(
        &self,
        room_id: &str,
        events: &[Value],
    ) -> Result<BTreeMap<String, String>, SendError> {
        let mut senders: BTreeMap<String, String> = events
            .iter()
            .filter_map(|e| Some((e["event_id"].as_str()?.into(), e["sender"].as_str()?.into())))
            .collect();
        for event in events {
            let Some(parent) = mentions::replied_to(event) else {
                continue;
            };
            if senders.contains_key(parent) {
                continue;
            }
            let url = self
                .api
                .client_v3(&["rooms", room_id, "event", parent], &[]);
            match self
                .api
                .json(Method::GET, url, None, "the reading of mentions")
                .await
            {
                Ok(parent_event) => {
                    if let Some(sender) = parent_event["sender"].as_str() {
                        senders.insert(parent.to_owned(), sender.to_owned());
                    }
                }
                // A parent the bot cannot see (too old, before it joined) is not its own.
                Err(failure)
                    if matches!(failure.errcode(), Some("M_NOT_FOUND" | "M_FORBIDDEN")) =>
                {
                    senders.insert(parent.to_owned(), String::new());
                }
                Err(failure) => return Err(failure.into()),
            }
        }
        Ok(senders)
    }
}
