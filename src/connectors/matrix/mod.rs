//! The `matrix` network: a bot account posting into one room through the client-server
//! API of its homeserver (Synapse, Dendrite, Conduit, …).
//!
//! In `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   community_room:
//!     network: matrix
//!     homeserver: https://matrix.example.org   # the client API base URL
//!     room: "#announcements:example.org"       # or a room id, "!abc123:example.org"
//!     token: env:MATRIX_TOKEN                  # the bot's access token
//! ```
//!
//! The bot must already be joined to the room (invite it, and accept the invite as the bot).
//!
//! Endpoints (all under `/_matrix/client/v3` unless said otherwise):
//! - post: `PUT /rooms/{room}/send/m.room.message/{txnId}` — an `m.text`, or for images
//!   `POST /_matrix/media/v3/upload` then one `m.image` per image, the first carrying the text
//!   as its caption. Replies set `m.relates_to.m.in_reply_to`. The transaction id is derived
//!   from crier's idempotency key ([`content::transaction_id`]), so the homeserver answers a
//!   repeat with the first event's id; the key also goes into the content as
//!   `dev.crier.idempotency_key`. A post's remote id is its event id (event ids joined by
//!   `,` when a post with several images took several events).
//! - lookup: `GET /rooms/{room}/messages?dir=b&limit=50`, the bot's latest messages, searched
//!   for the key (homeservers keep transaction ids for a limited time, so lookup does not rely
//!   on them).
//! - delete: `PUT /rooms/{room}/redact/{eventId}/{txnId}`.
//! - direct messages: the room listed for the user in the bot's `m.direct` account data
//!   (`GET`/`PUT /user/{me}/account_data/m.direct`), or a new one from `POST /createRoom`
//!   (`is_direct`, `preset: trusted_private_chat`), then a post there.
//! - mentions: `GET /sync?filter=…&since=…&timeout=0` limited to the room's messages (gaps
//!   paged in with `/messages`), keeping those that name the bot or reply to it; the cursor is
//!   `next_batch`. Display names come from the room's member events.
//! - metrics: followers = the room's joined members other than the bot
//!   (`GET /rooms/{room}/joined_members`); likes = reactions (`m.annotation` relations from
//!   `GET /_matrix/client/v1/rooms/{room}/relations/{eventId}/m.annotation`); replies = thread
//!   replies (`…/relations/{eventId}/m.thread`) plus replies among the room's latest 100
//!   messages; reposts are always 0 (Matrix has none).
//! - health: `GET /account/whoami`, the alias resolved (`GET /directory/room/{alias}`), and
//!   `GET /rooms/{room}/joined_members` to check the bot is in the room.
//!
//! What Matrix cannot do: there is no hard text limit, but an event is capped at 65,536
//! bytes, so texts whose event would not fit are refused before sending. Encrypted rooms are
//! not supported (crier sends unencrypted events). Author facts other than the id and display
//! name (followers, account age) are not exposed by Matrix. Lookup finds only posts in the
//! account's room among its latest 50 messages; a direct message relies on the transaction id
//! alone.

mod api;
pub mod content;
pub mod mentions;

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, OnceCell};

use self::api::{Api, Failure};
use self::content::{KEY_FIELD, PART_FIELD, UploadedImage};
use self::mentions::Me;
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, MentionPage, MetricsSnapshot, OutgoingPost, PostMetrics,
    SendError,
};
use crate::network::Network;

pub use self::api::MatrixError;

/// How many of the room's latest messages `lookup` searches.
const LOOKUP_WINDOW: u32 = 50;
/// How many of the room's latest messages metrics search for replies.
const REPLY_WINDOW: u32 = 100;
/// The most pages read from one paged endpoint in one call.
const MAX_PAGES: usize = 10;

#[derive(Debug)]
pub struct MatrixConnector {
    account: String,
    api: Api,
    /// As configured: a room id or an alias.
    room: String,
    room_id: OnceCell<String>,
    user_id: OnceCell<String>,
    display_name: OnceCell<Option<String>>,
    /// Held while finding or creating a direct-message room, so two messages to one person
    /// do not make two rooms.
    direct_rooms: Mutex<()>,
}

impl MatrixConnector {
    /// A connector for `room` (`!id:server` or `#alias:server`) on `homeserver`.
    pub fn new(
        account: impl Into<String>,
        homeserver: Url,
        room: impl Into<String>,
        token: Secret,
        client: reqwest::Client,
    ) -> Self {
        MatrixConnector {
            account: account.into(),
            api: Api::new(homeserver, token, client),
            room: room.into(),
            room_id: OnceCell::new(),
            user_id: OnceCell::new(),
            display_name: OnceCell::new(),
            direct_rooms: Mutex::new(()),
        }
    }

    /// The connector of a `matrix` account: `homeserver`, `room` and `token`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let homeserver = setup.required(Network::Matrix, "homeserver", &setup.config.homeserver)?;
        let homeserver = setup.http_url("homeserver", homeserver)?;
        let room = setup
            .required(Network::Matrix, "room", &setup.config.room)?
            .to_owned();
        let token = setup.required_secret(Network::Matrix, "token")?;
        Ok(MatrixConnector::new(
            setup.name,
            homeserver,
            room,
            token,
            setup.client.clone(),
        ))
    }

    /// The room's id, the alias resolved once.
    pub async fn room_id(&self) -> Result<&str, SendError> {
        self.room_id
            .get_or_try_init(|| async {
                let room = self.room.trim();
                if room.starts_with('!') {
                    return Ok(room.to_owned());
                }
                if !room.starts_with('#') {
                    return Err(SendError::Permanent {
                        reason: format!(
                            "`{room}` is neither a Matrix room id (`!id:server`) nor an alias \
                             (`#name:server`)"
                        ),
                    });
                }
                let url = self.api.client_v3(&["directory", "room", room], &[]);
                match self
                    .api
                    .json(Method::GET, url, None, "the room alias lookup")
                    .await
                {
                    Ok(answer) => answer["room_id"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| SendError::Transient {
                            reason: format!("the homeserver did not say which room {room} is"),
                        }),
                    Err(failure) if failure.errcode() == Some("M_NOT_FOUND") => {
                        Err(SendError::Permanent {
                            reason: format!("the room alias {room} does not exist"),
                        })
                    }
                    Err(failure) => Err(failure.into()),
                }
            })
            .await
            .map(String::as_str)
    }

    /// The bot's user id, from `whoami`, asked once.
    pub async fn user_id(&self) -> Result<&str, SendError> {
        self.user_id
            .get_or_try_init(|| async {
                let url = self.api.client_v3(&["account", "whoami"], &[]);
                let answer = self
                    .api
                    .json(Method::GET, url, None, "the account check")
                    .await?;
                answer["user_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SendError::Transient {
                        reason: "the homeserver did not say who the token belongs to".into(),
                    })
            })
            .await
            .map(String::as_str)
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

    /// Posts into `room_id`: one `m.text`, or one `m.image` per image with the text as the
    /// first one's caption.
    async fn post_in(&self, room_id: &str, post: &OutgoingPost) -> Result<Delivered, SendError> {
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

    /// All pages of one relation type of an event, counted (bounded by `MAX_PAGES`).
    async fn count_relations(
        &self,
        room_id: &str,
        event_id: &str,
        rel_type: &str,
    ) -> Result<u64, SendError> {
        let mut count = 0;
        let mut from: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", "100")];
            if let Some(from) = &from {
                query.push(("from", from));
            }
            let url = self.api.url(
                &[
                    "_matrix",
                    "client",
                    "v1",
                    "rooms",
                    room_id,
                    "relations",
                    event_id,
                    rel_type,
                ],
                &query,
            );
            let answer = self
                .api
                .json(Method::GET, url, None, "the reactions count")
                .await?;
            count += answer["chunk"].as_array().map_or(0, Vec::len) as u64;
            match answer["next_batch"].as_str() {
                Some(next) => from = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(count)
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

#[async_trait]
impl Connector for MatrixConnector {
    fn network(&self) -> Network {
        Network::Matrix
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        let room_id = self.room_id().await?;
        self.post_in(room_id, post).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
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

    async fn health(&self) -> Result<(), SendError> {
        let me = self.user_id().await?.to_owned();
        let room_id = self.room_id().await?;
        let url = self
            .api
            .client_v3(&["rooms", room_id, "joined_members"], &[]);
        let not_in_room = || SendError::Permanent {
            reason: format!("the bot {me} is not in room {}", self.room),
        };
        match self
            .api
            .json(Method::GET, url, None, "the room check")
            .await
        {
            Ok(answer) if answer["joined"].get(&me).is_some() => Ok(()),
            Ok(_) => Err(not_in_room()),
            Err(failure) if failure.errcode() == Some("M_FORBIDDEN") => Err(not_in_room()),
            Err(failure) => Err(failure.into()),
        }
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
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

    async fn direct_message(
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

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
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
    async fn fetch_post(&self, id: &str) -> Result<Option<super::Mention>, SendError> {
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
        Ok(Some(super::Mention {
            id: id.to_owned(),
            author: super::Author {
                id: sender.to_owned(),
                handle: sender.to_owned(),
                ..super::Author::default()
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

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let room_id = self.room_id().await?;
        let me = self.user_id().await?;
        let url = self
            .api
            .client_v3(&["rooms", room_id, "joined_members"], &[]);
        let members = self
            .api
            .json(Method::GET, url, None, "the member count")
            .await?;
        let followers = members["joined"]
            .as_object()
            .map(|joined| joined.keys().filter(|user| *user != me).count() as u64);
        let mut snapshot = MetricsSnapshot {
            followers,
            posts: Vec::new(),
        };
        if posts.is_empty() {
            return Ok(snapshot);
        }
        let limit = REPLY_WINDOW.to_string();
        let filter = mentions::messages_filter().to_string();
        let url = self.api.client_v3(
            &["rooms", room_id, "messages"],
            &[("dir", "b"), ("limit", &limit), ("filter", &filter)],
        );
        let recent = self
            .api
            .json(Method::GET, url, None, "the replies count")
            .await?;
        let recent = recent["chunk"].as_array().cloned().unwrap_or_default();
        for remote_id in posts {
            let event_id = first_event_id(remote_id);
            let likes = self
                .count_relations(room_id, event_id, "m.annotation")
                .await?;
            let in_thread = self.count_relations(room_id, event_id, "m.thread").await?;
            let direct_replies = recent
                .iter()
                .filter(|event| {
                    let relates = &event["content"]["m.relates_to"];
                    relates["rel_type"] != "m.thread"
                        && relates["m.in_reply_to"]["event_id"] == event_id
                })
                .count() as u64;
            snapshot.posts.push(PostMetrics {
                remote_id: remote_id.clone(),
                likes,
                reposts: 0,
                replies: in_thread + direct_replies,
                views: None,
            });
        }
        Ok(snapshot)
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

/// The first event of a remote id (a post with several images has several).
fn first_event_id(remote_id: &str) -> &str {
    remote_id.split(',').next().unwrap_or(remote_id).trim()
}

/// A redaction of an event the homeserver does not know: the post is already gone.
fn is_gone(failure: &Failure) -> bool {
    failure.errcode() == Some("M_NOT_FOUND")
}
