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
pub mod media;
pub mod text;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{RequestBuilder, StatusCode, Url};

use super::http;
use super::pacing::{Limits, Pacer, Slot};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;
use crate::network::text::{MASTODON_CHARACTERS_PER_URL, count_mastodon};
use api::{Account, Instance, MediaAttachment, Notification, Relationship, Status};
use media::MultipartFile;

/// The text limit of a server that does not say (Mastodon's own default, from the table).
const DEFAULT_MAX_CHARACTERS: usize = Network::Mastodon
    .profile()
    .text
    .max
    .expect("Mastodon has a limit");
/// How many images a post takes when the server does not say.
const DEFAULT_MAX_IMAGES: usize = Network::Mastodon
    .profile()
    .max_images
    .expect("Mastodon has a limit");
/// Notifications asked for per page (Mastodon's default page size).
const PAGE_SIZE: usize = 40;
/// The most pages of mentions read in one call; the cursor lets the next call go on.
const MAX_MENTION_PAGES: usize = 10;
/// How far back `lookup` looks when this process did not send the post itself.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// Allowance for the server's clock differing from ours.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(2);

/// What limits a status on this server, from `GET /api/v2/instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_characters: usize,
    pub characters_per_url: usize,
    pub max_images: usize,
    /// The domain in its users' handles (may differ from the server's host name).
    pub domain: Option<String>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_characters: DEFAULT_MAX_CHARACTERS,
            characters_per_url: MASTODON_CHARACTERS_PER_URL,
            max_images: DEFAULT_MAX_IMAGES,
            domain: None,
        }
    }
}

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

/// The limits to check a post against, and whether the server gave them.
struct Checked {
    limits: ServerLimits,
    unknown_because: Option<SendError>,
}

#[derive(Debug, serde::Serialize)]
struct NewStatus<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<&'a str>,
}

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

    /// The server's limits, read once (a server without `/api/v2/instance` gets the
    /// defaults). Not cached when the server could not be asked.
    async fn server_limits(&self) -> Checked {
        if let Some(limits) = lock(&self.limits).clone() {
            return Checked {
                limits,
                unknown_because: None,
            };
        }
        let request = self.client.get(self.endpoint("/api/v2/instance"));
        let place = SERVERS.slot(&self.server_key()).await;
        let limits = http::execute(request).await;
        drop(place);
        let limits = match limits {
            Ok(reply) => {
                let instance: Instance = serde_json::from_str(&reply.body).unwrap_or_default();
                #[derive(serde::Deserialize)]
                struct Domain {
                    #[serde(default)]
                    domain: Option<String>,
                }
                let domain = serde_json::from_str::<Domain>(&reply.body)
                    .ok()
                    .and_then(|d| d.domain);
                let statuses = instance
                    .configuration
                    .and_then(|c| c.statuses)
                    .unwrap_or_default();
                ServerLimits {
                    max_characters: statuses.max_characters.unwrap_or(DEFAULT_MAX_CHARACTERS),
                    characters_per_url: statuses
                        .characters_reserved_per_url
                        .unwrap_or(MASTODON_CHARACTERS_PER_URL),
                    max_images: statuses.max_media_attachments.unwrap_or(DEFAULT_MAX_IMAGES),
                    domain,
                }
            }
            Err(SendError::Permanent { .. }) => ServerLimits::default(),
            Err(err) => {
                return Checked {
                    limits: ServerLimits::default(),
                    unknown_because: Some(err),
                };
            }
        };
        *lock(&self.limits) = Some(limits.clone());
        Checked {
            limits,
            unknown_because: None,
        }
    }

    /// Refuses a text or image count over the server's limits before anything is sent.
    async fn check_limits(&self, text: &str, images: usize, what: &str) -> Result<(), SendError> {
        let Checked {
            limits,
            unknown_because,
        } = self.server_limits().await;
        let count = count_mastodon(text, limits.characters_per_url);
        let over = if count > limits.max_characters {
            Some(format!(
                "{what} is too long for Mastodon: {count} characters (a link counts as {}), \
                 {} the limit is {}",
                limits.characters_per_url,
                if unknown_because.is_some() {
                    "and usually"
                } else {
                    "and"
                },
                limits.max_characters
            ))
        } else if images > limits.max_images {
            Some(format!(
                "{what} has too many images for Mastodon: {images}, {} the limit is {} per post",
                if unknown_because.is_some() {
                    "and usually"
                } else {
                    "and"
                },
                limits.max_images
            ))
        } else {
            None
        };
        match (over, unknown_because) {
            (None, _) => Ok(()),
            (Some(reason), None) => Err(SendError::Permanent { reason }),
            // This server's limits may be higher than the usual ones: wait rather than
            // refuse for good.
            (Some(over), Some(SendError::RetryAfter { after, reason })) => {
                Err(SendError::RetryAfter {
                    after,
                    reason: format!("{over}; the server's own limit could not be read: {reason}"),
                })
            }
            (Some(over), Some(err)) => Err(SendError::Transient {
                reason: format!(
                    "{over}; the server's own limit could not be read: {}",
                    err.reason()
                ),
            }),
        }
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

    /// Uploads each image and waits until Mastodon has processed it.
    async fn upload_images(&self, paths: &[std::path::PathBuf]) -> Result<Vec<String>, SendError> {
        let mut ids = Vec::with_capacity(paths.len());
        for path in paths {
            ids.push(self.upload_image(path).await?);
        }
        Ok(ids)
    }

    async fn upload_image(&self, path: &Path) -> Result<String, SendError> {
        let what = format!("the image `{}`", path.display());
        let owned = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| SendError::Transient {
                reason: format!("could not read {what}: {err}"),
            })?
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read {what}: {err}"),
            })?;
        let file = MultipartFile::new(path, &bytes);
        let request = self
            .client
            .post(self.endpoint("/api/v2/media"))
            .header("content-type", file.content_type)
            .body(file.body);
        let (mut attachment, reply): (MediaAttachment, _) = self.call_json(request, &what).await?;
        if reply.status != StatusCode::ACCEPTED && attachment.url.is_some() {
            return Ok(attachment.id);
        }
        let started = tokio::time::Instant::now();
        while attachment.url.is_none() {
            if started.elapsed() >= self.media_polling.timeout {
                return Err(SendError::Transient {
                    reason: format!(
                        "Mastodon was still processing {what} after {}s",
                        self.media_polling.timeout.as_secs_f64()
                    ),
                });
            }
            tokio::time::sleep(self.media_polling.interval).await;
            let request = self.get(&format!("/api/v1/media/{}", attachment.id));
            // 206 Partial Content: still processing.
            (attachment, _) = self.call_json(request, &what).await?;
        }
        Ok(attachment.id)
    }

    /// Creates a status; `post.text` is sent as is.
    async fn create_status(
        &self,
        post: &OutgoingPost,
        text: &str,
        visibility: Option<&str>,
        what: &str,
    ) -> Result<Delivered, SendError> {
        self.check_limits(text, post.media.len(), what).await?;
        let media_ids = self.upload_images(&post.media).await?;
        let body = NewStatus {
            status: text,
            in_reply_to_id: post.reply_to.as_deref(),
            media_ids,
            visibility,
        };
        lock(&self.first_sent)
            .entry(post.idempotency_key.clone())
            .or_insert_with(Utc::now);
        let request = self
            .client
            .post(self.endpoint("/api/v1/statuses"))
            .header("idempotency-key", &post.idempotency_key)
            .json(&body);
        let reply = self.send_inner(request, what).await?;
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
        // The status exists even if its answer cannot be read.
        let status: Status = parse(&reply.body, what).map_err(|err| SendError::OutcomeUnknown {
            reason: err.reason().to_owned(),
        })?;
        Ok(delivered(&status))
    }

    /// A recipient as a handle `@user` or `@user@domain`; a numeric account id is looked up.
    async fn recipient_handle(&self, recipient: &str) -> Result<String, SendError> {
        let recipient = recipient.trim();
        if !recipient.is_empty() && recipient.chars().all(|c| c.is_ascii_digit()) {
            let (account, _): (Account, _) = self
                .call_json(
                    self.get(&format!("/api/v1/accounts/{recipient}")),
                    "the recipient's account",
                )
                .await?;
            return Ok(format!("@{}", account.acct));
        }
        let handle = recipient.trim_start_matches('@');
        let valid = !handle.is_empty()
            && handle.split('@').count() <= 2
            && handle.split('@').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_alphanumeric() || "_.-".contains(c))
            });
        if !valid {
            return Err(SendError::Permanent {
                reason: format!(
                    "`{recipient}` is not a Mastodon handle (like `@name@server.example`)"
                ),
            });
        }
        Ok(format!("@{handle}"))
    }

    /// The handle of `account` with its domain (a local account's `acct` has none).
    fn qualified_handle(&self, acct: &str, domain: Option<&str>) -> String {
        if acct.contains('@') {
            return format!("@{acct}");
        }
        match domain.or(self.server.host_str()) {
            Some(domain) => format!("@{acct}@{domain}"),
            None => format!("@{acct}"),
        }
    }

    /// Which of `ids` follow the account.
    async fn followers_among(&self, ids: &[String]) -> Result<HashMap<String, bool>, SendError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let query: Vec<(&str, &str)> = ids.iter().map(|id| ("id[]", id.as_str())).collect();
        let request = self.get("/api/v1/accounts/relationships").query(&query);
        let relationships: Vec<Relationship> = match self
            .call_json(request, "the request for who follows the account")
            .await
        {
            Ok((relationships, _)) => relationships,
            // A token without `read:follows` still reads mentions; who follows stays unknown.
            Err(SendError::Permanent { .. }) => return Ok(HashMap::new()),
            Err(err) => return Err(err),
        };
        Ok(relationships
            .into_iter()
            .filter_map(|r| r.followed_by.map(|follows| (r.id, follows)))
            .collect())
    }

    /// The items of a paged list (notifications, a timeline) after `cursor`, oldest first,
    /// and the id of the newest. Mastodon answers newest first; `min_id` gives the page just
    /// after an id. Without a cursor only the most recent page is read; with one, up to
    /// `MAX_MENTION_PAGES` pages (the next call goes on from the newest).
    async fn read_after<T: serde::de::DeserializeOwned>(
        &self,
        request: RequestBuilder,
        cursor: Option<&str>,
        id_of: fn(&T) -> &String,
        what: &str,
    ) -> Result<(Vec<T>, Option<String>), SendError> {
        let mut items: Vec<T> = Vec::new();
        let mut after = cursor.map(str::to_owned);
        let mut newest = cursor.map(str::to_owned);
        for _ in 0..MAX_MENTION_PAGES {
            let mut request = request
                .try_clone()
                .expect("a GET without a streamed body clones")
                .query(&[("limit", &PAGE_SIZE.to_string())]);
            if let Some(after) = &after {
                request = request.query(&[("min_id", after)]);
            }
            let (mut page, reply): (Vec<T>, _) = self.call_json(request, what).await?;
            page.sort_by(|a, b| compare_ids(id_of(a), id_of(b)));
            let full = page.len() >= PAGE_SIZE;
            let Some(last) = page.last() else { break };
            let last = id_of(last).clone();
            let next = reply
                .headers
                .get("link")
                .and_then(|link| link.to_str().ok())
                .and_then(api::link_min_id)
                .unwrap_or_else(|| last.clone());
            newest = Some(last);
            items.extend(page);
            if cursor.is_none() || !full {
                break;
            }
            after = Some(next);
        }
        Ok((items, newest))
    }

    /// `statuses` as mentions, with whether their authors follow the account; the cursor
    /// moves to `newest` when it is not `cursor`.
    async fn mention_page(
        &self,
        statuses: Vec<Status>,
        cursor: Option<&str>,
        newest: Option<String>,
    ) -> Result<MentionPage, SendError> {
        let domain = self.server_limits().await.limits.domain;
        let mut author_ids: Vec<String> = statuses.iter().map(|s| s.account.id.clone()).collect();
        author_ids.sort();
        author_ids.dedup();
        let follows = self.followers_among(&author_ids).await?;
        let mentions = statuses
            .into_iter()
            .map(|status| self.mention_of(status, domain.as_deref(), &follows))
            .collect();
        Ok(MentionPage {
            mentions,
            cursor: newest.filter(|newest| Some(newest.as_str()) != cursor),
        })
    }

    fn mention_of(
        &self,
        status: Status,
        domain: Option<&str>,
        follows: &HashMap<String, bool>,
    ) -> Mention {
        let account = status.account;
        let author = Author {
            handle: self.qualified_handle(&account.acct, domain),
            display_name: account.display_name.filter(|name| !name.trim().is_empty()),
            followers: account.followers_count,
            created_at: account.created_at.as_deref().and_then(http::parse_iso8601),
            follows_account: follows.get(&account.id).copied(),
            bot: account.bot,
            id: account.id,
        };
        Mention {
            id: status.id,
            author,
            text: text::html_to_text(&status.content),
            created_at: status.created_at,
            in_reply_to: status.in_reply_to_id,
            url: status.url.or(status.uri),
            edited_at: status.edited_at,
        }
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

    /// Scans the account's recent statuses for one with the same text and reply target,
    /// made after the first attempt (as stored with the send, else as this process
    /// remembers it, else within the last hours).
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = first_attempt
            .or_else(|| lock(&self.first_sent).get(&post.idempotency_key).copied())
            .map_or_else(|| Utc::now() - LOOKUP_WINDOW, |at| at - CLOCK_SKEW);
        let id = self.own_account_id().await?;
        let request = self
            .get(&format!("/api/v1/accounts/{id}/statuses"))
            .query(&[("limit", "40"), ("exclude_reblogs", "true")]);
        let (statuses, _): (Vec<Status>, _) =
            self.call_json(request, "the search for the post").await?;
        let wanted = text::comparable(&post.text);
        let found = statuses.iter().find(|status| {
            status.created_at >= since
                && status.in_reply_to_id == post.reply_to
                && same_text(status, &wanted)
        });
        Ok(match found {
            Some(status) => Lookup::Found(delivered(status)),
            None => Lookup::NotFound,
        })
    }

    async fn health(&self) -> Result<(), SendError> {
        self.verify_credentials("the token check").await.map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let request = self
            .client
            .delete(self.endpoint(&format!("/api/v1/statuses/{}", path_segment(remote_id))));
        let what = "deleting the post";
        let reply = self.send(request, what).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))
    }

    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let handle = self.recipient_handle(recipient).await?;
        let first_word = message.text.split_whitespace().next().unwrap_or("");
        let text = if first_word.eq_ignore_ascii_case(&handle) {
            message.text.clone()
        } else {
            format!("{handle} {}", message.text)
        };
        self.create_status(message, &text, Some("direct"), "the direct message")
            .await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let request = self
            .get("/api/v1/notifications")
            .query(&[("types[]", "mention")]);
        let (notifications, newest): (Vec<Notification>, _) = self
            .read_after(
                request,
                cursor,
                |n: &Notification| &n.id,
                "the request for mentions",
            )
            .await?;
        let statuses = notifications
            .into_iter()
            .filter(|n| n.kind == "mention")
            .filter_map(|n| n.status)
            .collect();
        self.mention_page(statuses, cursor, newest).await
    }

    /// The public statuses of `#tag` this server knows (its own and those federated to it),
    /// from `GET /api/v1/timelines/tag/:hashtag`, paged forward with `min_id` like mentions.
    async fn search_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let tag = tag.trim().trim_start_matches('#');
        if tag.is_empty() {
            return Err(SendError::Permanent {
                reason: "an empty hashtag cannot be searched".into(),
            });
        }
        let own = self.own_account_id().await?;
        let request = self.get(&format!("/api/v1/timelines/tag/{}", path_segment(tag)));
        let (statuses, newest): (Vec<Status>, _) = self
            .read_after(request, cursor, |s: &Status| &s.id, "the hashtag search")
            .await?;
        let others = statuses
            .into_iter()
            .filter(|status| status.account.id != own)
            .collect();
        self.mention_page(others, cursor, newest).await
    }

    /// `GET /api/v1/statuses/:id`; a 404 means the status was deleted.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let what = "reading a post again";
        let request = self.get(&format!("/api/v1/statuses/{}", path_segment(id)));
        let reply = self.send(request, what).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
        let status: Status = parse(&reply.body, what)?;
        let page = self.mention_page(vec![status], None, None).await?;
        Ok(page.mentions.into_iter().next())
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let account = self.verify_credentials("the request for metrics").await?;
        let mut snapshot = MetricsSnapshot {
            followers: account.followers_count,
            posts: Vec::with_capacity(posts.len()),
        };
        for remote_id in posts {
            let what = "the request for a post's counts";
            let request = self.get(&format!("/api/v1/statuses/{}", path_segment(remote_id)));
            let reply = self.send(request, what).await?;
            // Deleted since: nothing to count.
            if reply.status == StatusCode::NOT_FOUND {
                continue;
            }
            http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
                .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
            let status: Status = parse(&reply.body, what)?;
            snapshot.posts.push(PostMetrics {
                remote_id: remote_id.clone(),
                likes: status.favourites_count,
                reposts: status.reblogs_count,
                replies: status.replies_count,
                views: None,
            });
        }
        Ok(snapshot)
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, SendError> {
    serde_json::from_str(body).map_err(|err| SendError::Transient {
        reason: format!("{what}: Mastodon's answer could not be read: {err}"),
    })
}

fn delivered(status: &Status) -> Delivered {
    Delivered {
        remote_id: status.id.clone(),
        url: status.url.clone().or_else(|| status.uri.clone()),
    }
}

/// Whether a status's text is `wanted` (already `comparable`); a direct message may carry
/// the recipient's mention in front.
fn same_text(status: &Status, wanted: &str) -> bool {
    let have = text::comparable(&text::html_to_text(&status.content));
    if have == wanted {
        return true;
    }
    status.visibility.as_deref() == Some("direct")
        && without_leading_mentions(&have) == without_leading_mentions(wanted)
}

fn without_leading_mentions(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, after)| after);
    }
    rest
}

/// Mastodon's ids are numbers in strings: longer is newer.
fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
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

fn code(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A failure to get any answer, in Mastodon's words.
fn transport_error(err: SendError, what: &str) -> SendError {
    let reason = format!(
        "{what}: {}",
        err.reason()
            .replacen("the network", "Mastodon", 1)
            .replacen("after the post was sent", "after the request was sent", 1)
    );
    match err {
        SendError::Permanent { .. } => SendError::Permanent { reason },
        SendError::RetryAfter { after, .. } => SendError::RetryAfter { after, reason },
        SendError::Transient { .. } => SendError::Transient { reason },
        SendError::OutcomeUnknown { .. } => SendError::OutcomeUnknown { reason },
    }
}

/// An error answer, classified by `http::classify_status`, reworded for a person.
fn reworded(class: SendError, status: StatusCode, body: &str, what: &str) -> SendError {
    let code = code(status);
    let message = http::body_message(body);
    let with_message = |prefix: String| match &message {
        Some(message) => format!("{prefix}: {message}"),
        None => prefix,
    };
    let detailed = |code: &str| match &message {
        Some(message) => format!("{code}: {message}"),
        None => code.to_owned(),
    };
    match class {
        SendError::RetryAfter { after, .. } if status == StatusCode::TOO_MANY_REQUESTS => {
            SendError::RetryAfter {
                after,
                reason: format!("Mastodon is rate limiting the account ({code})"),
            }
        }
        SendError::RetryAfter { after, .. } => SendError::RetryAfter {
            after,
            reason: format!("Mastodon is unavailable ({code})"),
        },
        SendError::Transient { .. } => SendError::Transient {
            reason: format!("Mastodon failed ({code}) on {what}"),
        },
        SendError::OutcomeUnknown { reason } => SendError::OutcomeUnknown { reason },
        SendError::Permanent { .. } => {
            let reason = match status {
                StatusCode::UNAUTHORIZED => format!(
                    "Mastodon refused the access token ({}); check the account's `token`",
                    detailed(&code)
                ),
                StatusCode::FORBIDDEN => format!(
                    "Mastodon did not allow {what} ({}); the token may lack the `read` or \
                     `write` scope",
                    detailed(&code)
                ),
                StatusCode::UNPROCESSABLE_ENTITY => {
                    let message = message
                        .as_deref()
                        .map(|m| m.trim_start_matches("Validation failed: "))
                        .unwrap_or("the server gave no reason");
                    format!("Mastodon refused {what}: {message}")
                }
                StatusCode::NOT_FOUND => {
                    with_message(format!("Mastodon could not find {what} ({code})"))
                }
                _ => with_message(format!("Mastodon refused {what} ({code})")),
            };
            SendError::Permanent { reason }
        }
    }
}
