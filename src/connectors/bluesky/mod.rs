//! The `bluesky` network: posts, replies, images, deletes, mentions, hashtag searches and
//! metrics of one Bluesky account, through the XRPC API of its PDS (its personal data server).
//!
//! ```yaml
//! accounts:
//!   brand_bluesky:
//!     network: bluesky
//!     handle: brand.bsky.social            # the account's handle (or its DID)
//!     app_password: env:BSKY_APP_PASSWORD  # an app password, never the account password
//!     service: https://bsky.social         # the PDS; this is the default
//! ```
//!
//! Create the app password in the Bluesky app (Settings → Privacy and security → App
//! passwords); it needs no access to direct messages.
//!
//! Endpoints used:
//! - `com.atproto.server.createSession`, `refreshSession`, `getSession`: signing in, keeping
//!   the session fresh, health (see [`session`]);
//! - `com.atproto.repo.createRecord` (collection `app.bsky.feed.post`), `getRecord`,
//!   `deleteRecord`, `uploadBlob`: posting, looking a post up, deleting, images;
//! - `com.atproto.identity.resolveHandle`: mentions in posts, and replies to app addresses;
//! - `app.bsky.feed.getPosts`: the post to reply to (its CID and thread root), and metrics;
//! - `app.bsky.notification.listNotifications`, `app.bsky.actor.getProfiles`: mentions and
//!   replies with their authors' facts;
//! - `app.bsky.feed.searchPosts` (`q=#tag`, `sort=latest`, `since`): posts carrying a
//!   hashtag, whoever wrote them;
//! - `app.bsky.actor.getProfile`: followers.
//!
//! Posts are refused before sending when their text is over 300 graphemes (or 3000 bytes), or
//! they have more than 4 images, or an image is over 1,000,000 bytes or not JPEG, PNG, GIF or
//! WebP. An image's alt text is read from a file beside it, named like the image plus
//! `.alt.txt` (`media/jacket.jpg.alt.txt`); without one the alt text is empty.
//!
//! Bluesky takes no idempotency key. crier derives each post's record key from its
//! idempotency key instead (see [`rkey`]), so sending a post twice cannot create two, and
//! `lookup` asks the PDS for the record under that key.
//!
//! The remote id of a post is its `at://` URI (`at://did:plc:…/app.bsky.feed.post/3k…`);
//! replies and deletes also take a post's address in the Bluesky app
//! (`https://bsky.app/profile/ann.bsky.social/post/3k…`). Metrics leave out posts that no
//! longer exist.
//!
//! Mentions are the `mention` and `reply` notifications, read newest first a page at a time
//! until the previous check; crier's cursor is the `indexedAt` time of the newest notification
//! seen (at most 1000 notifications are read in one check).
//!
//! A hashtag search asks `searchPosts` for `#tag`, newest first, `since` ten minutes before
//! the newest post of the previous check (`since` compares a post's `sortAt`, which is
//! earlier than its `indexedAt` when it was indexed late), and pages back with the search's
//! cursor to there (at most 1000 posts in one check). crier's cursor is the `indexedAt` time
//! of the newest post seen; the overlap is read again and each post is stored once. Without a
//! cursor only the most recent page is read. The account's own posts are left out.
//!
//! What it cannot do: direct messages (Bluesky chat is a separate service, reached through a
//! proxy header and only with an app password allowed to use chats), post languages (`langs`
//! is not sent), quote posts, link cards and video.

pub mod facets;
mod metrics;
mod post;
mod read;
pub mod rkey;
mod session;
mod wire;
mod xrpc;

use std::fmt;

use async_trait::async_trait;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::session::{Session, Sessions};
use self::xrpc::{Call, Failure, Xrpc};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
use crate::network::Network;

/// The PDS of accounts hosted by Bluesky itself.
pub const DEFAULT_SERVICE: &str = "https://bsky.social";
/// Posts per `getPosts` and actors per `getProfiles`.
const BATCH: usize = 25;

pub struct BlueskyConnector {
    account: String,
    handle: String,
    xrpc: Xrpc,
    sessions: Sessions,
}

impl fmt::Debug for BlueskyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlueskyConnector")
            .field("account", &self.account)
            .field("handle", &self.handle)
            .field("service", &self.xrpc.service().as_str())
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl BlueskyConnector {
    /// `handle` signs in (a DID works too), `app_password` is the secret, `service` the PDS.
    pub fn new(
        account: impl Into<String>,
        handle: impl Into<String>,
        app_password: Secret,
        service: Url,
        client: reqwest::Client,
    ) -> Self {
        let handle = handle.into().trim().trim_start_matches('@').to_owned();
        BlueskyConnector {
            account: account.into(),
            sessions: Sessions::new(handle.clone(), app_password),
            handle,
            xrpc: Xrpc::new(service, client),
        }
    }

    /// The connector of a `bluesky` account: `handle`, `app_password`, optional `service`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let config = setup.config;
        let handle = setup
            .required(Network::Bluesky, "handle", &config.handle)?
            .to_owned();
        let service = match &config.service {
            Some(service) if !service.value.trim().is_empty() => {
                setup.http_url("service", &service.value)?
            }
            _ => Url::parse(DEFAULT_SERVICE).expect("the default service is a URL"),
        };
        let app_password = setup.required_secret(Network::Bluesky, "app_password")?;
        Ok(BlueskyConnector::new(
            setup.name,
            handle,
            app_password,
            service,
            setup.client.clone(),
        ))
    }

    async fn session(&self) -> Result<Session, SendError> {
        self.sessions.current(&self.xrpc).await
    }

    /// Sends `call` signed in; after an `ExpiredToken` answer, refreshes and sends it once more.
    async fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Failure> {
        let session = self.session().await.map_err(Failure::from_error)?;
        match self.xrpc.send(call, Some(session.access.expose())).await {
            Err(failure) if failure.is_expired_token() => {
                let session = self
                    .sessions
                    .renew(&self.xrpc, &session)
                    .await
                    .map_err(Failure::from_error)?;
                self.xrpc.send(call, Some(session.access.expose())).await
            }
            answer => answer,
        }
    }
}

#[async_trait]
impl Connector for BlueskyConnector {
    fn network(&self) -> Network {
        Network::Bluesky
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.create(post).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.find_sent(post).await
    }

    async fn health(&self) -> Result<(), SendError> {
        let call = Call::get("com.atproto.server.getSession", "the session check");
        self.call::<Value>(&call).await?;
        Ok(())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.delete_post(remote_id).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_mentions(cursor).await
    }

    async fn search_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        self.read_hashtag(tag, cursor).await
    }

    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_post(id).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}
