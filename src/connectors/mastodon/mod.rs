//! The `mastodon` network: posts, replies, images, direct messages, deletes, mentions,
//! hashtag searches and metrics of one account on one Mastodon server, through its REST API
//! with an access token.
//!
//! Set an account up in `crier.yaml` with the server's URL and a token (created under
//! Preferences → Development → New application, with the scopes `read` and `write`):
//!
//! ```yaml
//! accounts:
//!   brand_mastodon: { network: mastodon, server: https://mastodon.social, token: env:MASTODON_TOKEN }
//! ```
//!
//! Endpoints used:
//! - `POST /api/v1/statuses` (JSON `status`, `in_reply_to_id`, `media_ids`, `visibility`)
//!   with an `Idempotency-Key` header: Mastodon answers a repeated key (kept about an hour)
//!   with the status it already created, so resending after a lost answer is safe.
//! - `POST /api/v2/media` (one multipart `file`), then `GET /api/v1/media/:id` until the
//!   attachment has a `url` when the upload was answered `202 Accepted`.
//! - `DELETE /api/v1/statuses/:id` (a `404` counts as already deleted).
//! - `GET /api/v1/notifications?types[]=mention` with `min_id`, for mentions and replies;
//!   `GET /api/v1/timelines/tag/:hashtag` with `min_id`, for public posts carrying a
//!   hashtag (those the server knows: its own users' and those federated to it; the
//!   account's own are left out); `GET /api/v1/accounts/relationships` for whether their
//!   authors follow the account.
//! - `GET /api/v1/accounts/verify_credentials` (health, followers, the account's id),
//!   `GET /api/v1/statuses/:id` (likes, boosts, replies of a post),
//!   `GET /api/v1/accounts/:id/statuses` (looking a post up by its text),
//!   `GET /api/v1/accounts/:id` (a direct message to a numeric account id).
//! - `GET /api/v2/instance` for the server's text limit, images per post and link weight.
//!
//! Texts are counted the way Mastodon counts them (see [`text`]) and refused before sending
//! when over the server's limit; if the server cannot be asked its limit, a text over the
//! usual 500 waits (transient) rather than being refused for good. Rate limits (`429`,
//! `X-RateLimit-Reset` as ISO 8601 or epoch) are read by [`super::http`]. Only the request
//! that creates a status can end `OutcomeUnknown`; a lost answer elsewhere is transient.
//!
//! After an unknown outcome, `lookup` scans the account's 40 most recent statuses for the
//! same text (compared after Mastodon's formatting) and reply target, made since the first
//! attempt (stored with the send; in the last 6 hours when it is not known), so a text
//! repeated hourly is not mistaken for this hour's.
//!
//! What it cannot do: image descriptions (alt text), polls, content warnings, scheduled
//! statuses or choosing a post's visibility (posts take the account's default; direct
//! messages are `direct`). A direct message is a status only its mentioned recipients see,
//! not an end-to-end encrypted message. Whether a mention's author follows the account is
//! left unknown when the token may not read relationships.

pub mod api;
mod limits;
pub mod media;
mod metrics;
mod post;
mod read;
pub mod text;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, Url};

use super::http;
use super::pacing::{Limits, Pacer, Slot};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
use crate::network::Network;
use api::{Account, parse, reworded, transport_error};
use limits::ServerLimits;

/// How long to wait for an uploaded image to be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPolling {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for MediaPolling {
    fn default() -> Self {
        MediaPolling {
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct MastodonConnector {
    account: String,
    server: Url,
    token: Secret,
    client: reqwest::Client,
    media_polling: MediaPolling,
    limits: Mutex<Option<ServerLimits>>,
    own_account_id: Mutex<Option<String>>,
    /// When each idempotency key was first sent by this process, to bound `lookup`.
    first_sent: Mutex<HashMap<String, DateTime<Utc>>>,
    /// The account's quota as the server last told it (`X-RateLimit-Remaining`, `-Reset`).
    quota: Pacer,
}

/// Requests in flight to one Mastodon server at once, over every account on it and every
/// kind of request (posts, lookups, uploads, reads): a small server is never asked a hundred
/// things at the same moment (after a restart with many sends in doubt, say).
pub const PER_SERVER: usize = 4;

/// One lane per server (`host:port`), shared by every Mastodon account of the process.
static SERVERS: std::sync::LazyLock<Pacer> = std::sync::LazyLock::new(|| {
    Pacer::new(Limits {
        in_flight: PER_SERVER,
        rate: None,
    })
});

/// The account's lane: no rate of its own, the server's count believed.
const QUOTA: Limits = Limits {
    in_flight: PER_SERVER,
    rate: None,
};

impl MastodonConnector {
    /// `server` is the instance's base URL, e.g. `https://mastodon.social`.
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: Secret,
        client: reqwest::Client,
    ) -> Self {
        MastodonConnector {
            account: account.into(),
            server,
            token,
            client,
            media_polling: MediaPolling::default(),
            limits: Mutex::new(None),
            own_account_id: Mutex::new(None),
            first_sent: Mutex::new(HashMap::new()),
            quota: Pacer::new(QUOTA),
        }
    }

    fn server_key(&self) -> String {
        format!(
            "{}:{}",
            self.server.host_str().unwrap_or_default(),
            self.server.port_or_known_default().unwrap_or_default()
        )
    }

    /// Believes the server's `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
    fn observe_quota(&self, headers: &reqwest::header::HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let remaining = text("x-ratelimit-remaining").and_then(|v| v.trim().parse::<u64>().ok());
        // A reset far in the future (a server's bug) must not stop the account for good.
        let reset = text("x-ratelimit-reset")
            .and_then(|v| http::parse_reset(v, Utc::now()))
            .map(|reset| reset.min(http::MAX_RETRY_AFTER));
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            self.quota.observe("account", remaining, reset);
        }
    }

    /// The connector of a `mastodon` account: `server` and `token`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let server = setup.required(Network::Mastodon, "server", &setup.config.server)?;
        let server = setup.http_url("server", server)?;
        let token = setup.required_secret(Network::Mastodon, "token")?;
        Ok(MastodonConnector::new(
            setup.name,
            server,
            token,
            setup.client.clone(),
        ))
    }

    /// Waits for uploaded images as `polling` says (tests use short intervals).
    pub fn with_media_polling(mut self, polling: MediaPolling) -> Self {
        self.media_polling = polling;
        self
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.server.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url.set_query(None);
        url
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.endpoint(path))
    }

    /// Sends `request` with the token and reads the answer, whatever its status; only a
    /// failure to get one is an error.
    async fn send(&self, request: RequestBuilder, what: &str) -> Result<http::Reply, SendError> {
        self.send_inner(request, what)
            .await
            .map_err(|err| match err {
                // Only creating a status can leave a post behind.
                SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
                other => other,
            })
    }

    /// `send` for the request that creates a status: a lost answer is `OutcomeUnknown`.
    async fn send_inner(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<http::Reply, SendError> {
        let request = request.bearer_auth(self.token.expose());
        let _place = SERVERS.slot(&self.server_key()).await;
        let reply = http::fetch(request)
            .await
            .map_err(|err| transport_error(err, what))?;
        self.observe_quota(&reply.headers);
        Ok(reply)
    }

    /// Sends `request`; anything but a 2xx comes back classified by `http::classify_status`
    /// and worded for a person. `what` names the request ("the post").
    async fn call(&self, request: RequestBuilder, what: &str) -> Result<http::Reply, SendError> {
        let reply = self.send(request, what).await?;
        match http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now()) {
            Ok(()) => Ok(reply),
            Err(class) => Err(reworded(class, reply.status, &reply.body, what)),
        }
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<(T, http::Reply), SendError> {
        let reply = self.call(request, what).await?;
        Ok((parse(&reply.body, what)?, reply))
    }

    async fn own_account_id(&self) -> Result<String, SendError> {
        if let Some(id) = lock(&self.own_account_id).clone() {
            return Ok(id);
        }
        Ok(self.verify_credentials("the token check").await?.id)
    }

    async fn verify_credentials(&self, what: &str) -> Result<Account, SendError> {
        let (account, _): (Account, _) = self
            .call_json(self.get("/api/v1/accounts/verify_credentials"), what)
            .await?;
        *lock(&self.own_account_id) = Some(account.id.clone());
        Ok(account)
    }
}

#[async_trait]
impl Connector for MastodonConnector {
    fn network(&self) -> Network {
        Network::Mastodon
    }

    fn account(&self) -> &str {
        &self.account
    }

    /// The account's quota, as the server last told it. (Each request takes one of the
    /// server's places in flight as it leaves.)
    async fn pace(&self, _post: &OutgoingPost) -> Slot {
        self.quota.slot("account").await
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.create_status(post, &post.text, None, "the post").await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        self.find_sent(post, first_attempt).await
    }

    async fn health(&self) -> Result<(), SendError> {
        self.verify_credentials("the token check").await.map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.delete_status(remote_id).await
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

    async fn search_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        self.read_hashtag(tag, cursor).await
    }

    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_status(id).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}

/// An id as one URL path segment (ids are digits; anything else is escaped, not trusted).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
