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
mod metrics;
mod post;
mod read;

use async_trait::async_trait;
use reqwest::{Method, Url};
use tokio::sync::{Mutex, OnceCell};

use self::api::{Api, Failure};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
use crate::network::Network;

pub use self::api::MatrixError;

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
        self.find_sent(post).await
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
        self.delete_post(remote_id).await
    }

    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        self.send_direct(recipient, message).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_mentions(cursor).await
    }

    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_event(id).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
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
