//! The `youtube` network: a post is a video uploaded to the channel (`videos.insert`, the
//! resumable protocol), with the post's first line as its title and the rest as its
//! description. Google's OAuth tokens are renewed with their refresh token
//! (`connectors::oauth`).
//!
//! ```yaml
//! accounts:
//!   brand_youtube:
//!     network: youtube
//!     token: file:secrets/youtube.json   # the token set; renewed tokens are written back
//!     client_id: 1234.apps.googleusercontent.com
//!     client_secret: env:GOOGLE_CLIENT_SECRET
//!     privacy: public                    # or unlisted, private (optional)
//! ```
//!
//! Endpoints: `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` opens
//! an upload session (its address in `Location`), `PUT`s of 8 MiB chunks read from the file
//! (each with its `Content-Range`, answered `308` with `Range` until the last) complete it; after a
//! broken connection `Content-Range: bytes */TOTAL` asks how far it got (`308` with `Range`)
//! and the rest is sent. Comments: `commentThreads.list` (`allThreadsRelatedToChannelId`,
//! paged with `pageToken`), replies through `comments.insert` (under a comment) or
//! `commentThreads.insert` (on a video); `videos.delete`; counts through `videos.list`
//! (`statistics`), subscribers through `channels.list`.
//!
//! Exactly once: the upload session's address is kept with the send (in the store's outbox
//! row, through `post_resuming`; see `connectors::resume`) before the first byte leaves, so
//! after an unknown outcome, even after a crash and in another process, the session says
//! whether the video was created, and a retry finishes the same upload instead of starting a
//! second; a send with no session kept looks among the channel's videos since the first
//! attempt for the same title.
//!
//! Quota: YouTube's errors `quotaExceeded` (the project's daily units) and
//! `uploadLimitExceeded` (the channel's uploads) are said in plain words and retried hourly;
//! `rateLimitExceeded` waits a minute. Community posts have no API.

mod metrics;
mod post;
mod read;
mod upload;
mod wire;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::resume::{LocalHandles, Resume};
use super::{Connector, Delivered, Lookup, MentionPage, MetricsSnapshot, OutgoingPost, SendError};
use crate::network::Network;
use wire::{Channel, List, refusal};

pub const DEFAULT_SERVER: &str = "https://www.googleapis.com";
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's consent page; `access_type=offline` and `prompt=consent` make Google hand out a
/// refresh token every time the person approves.
pub const AUTHORIZE_URL: &str =
    "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent";
/// Upload videos, and manage the channel's videos and comments.
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.force-ssl",
];
const HELP: &str = "see \"YouTube\" under Networks in crier's README";
/// Google takes upload chunks in multiples of this.
const CHUNK_UNIT: u64 = 256 * 1024;
/// Bytes sent per upload request: a video is read and sent a chunk at a time, so neither its
/// size nor the request timeout bounds what can be uploaded.
pub const CHUNK: u64 = 32 * CHUNK_UNIT;

#[derive(Debug)]
pub struct YoutubeConnector {
    account: String,
    server: Url,
    token: UserToken,
    privacy: String,
    client: reqwest::Client,
    /// The upload sessions of sends made through `post` (the dispatcher keeps its sends' in
    /// the store, through `post_resuming`).
    sessions: LocalHandles,
    /// Bytes sent per upload request (a multiple of 256 KiB, as Google asks).
    chunk: u64,
}

impl YoutubeConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: UserToken,
        privacy: impl Into<String>,
        client: reqwest::Client,
    ) -> Self {
        YoutubeConnector {
            account: account.into(),
            server,
            token,
            privacy: privacy.into(),
            client,
            sessions: LocalHandles::default(),
            chunk: CHUNK,
        }
    }

    /// Uploads in requests of `bytes` (rounded up to a multiple of 256 KiB) instead of 8 MiB.
    pub fn with_chunk_size(mut self, bytes: u64) -> Self {
        self.chunk = bytes.div_ceil(CHUNK_UNIT).max(1) * CHUNK_UNIT;
        self
    }

    /// Google's token endpoint, or `{server}/token` for another server.
    pub fn token_endpoint(
        server: &Url,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> TokenEndpoint {
        let url = if server.as_str().trim_end_matches('/') == DEFAULT_SERVER {
            Url::parse(TOKEN_URL).expect("Google's token endpoint is a URL")
        } else {
            http::with_path(server, &["token"])
        };
        TokenEndpoint {
            url,
            client_id: client_id.to_owned(),
            client_secret,
            auth: ClientAuth::Body,
            title: "YouTube",
            help: HELP,
        }
    }

    /// How `crier accounts connect` authorizes crier for an account on `server`.
    pub fn authorization(
        server: &Url,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> Authorization {
        Authorization {
            authorize_url: Url::parse(AUTHORIZE_URL).expect("Google's consent page is a URL"),
            endpoint: Self::token_endpoint(server, client_id, client_secret),
            scopes: SCOPES,
        }
    }

    /// The connector of a `youtube` account: `token`, `client_id`, `client_secret`, and
    /// optionally `privacy` and `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let client_id = setup
            .required(Network::Youtube, "client_id", &setup.config.client_id)?
            .to_owned();
        let privacy = match &setup.config.privacy {
            Some(p) => p.value.trim().to_owned(),
            None => "public".to_owned(),
        };
        if !["public", "unlisted", "private"].contains(&privacy.as_str()) {
            return Err(ConnectorError::InvalidField {
                account: setup.name.into(),
                field: "privacy",
                reason: format!("`{privacy}` is not `public`, `unlisted` or `private`"),
            });
        }
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(DEFAULT_SERVER).expect("the default server is a URL"),
        };
        let value = setup.required_secret(Network::Youtube, "token")?;
        let reference = setup
            .config
            .token
            .as_ref()
            .map(|t| t.value.clone())
            .unwrap_or_default();
        let (tokens, file) = UserToken::read_secret(&reference, &value).map_err(|reason| {
            ConnectorError::InvalidField {
                account: setup.name.into(),
                field: "token",
                reason,
            }
        })?;
        let endpoint = Self::token_endpoint(&server, &client_id, setup.secret("client_secret"));
        let token = UserToken::new(setup.name, tokens, file, endpoint, setup.client.clone());
        Ok(YoutubeConnector::new(
            setup.name,
            server,
            token,
            privacy,
            setup.client.clone(),
        ))
    }

    async fn send(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Reply, SendError> {
        let bearer = self.token.bearer().await?;
        let reply = http::fetch(build().bearer_auth(bearer.expose())).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let renewed = self.token.refresh_after_refusal(&bearer).await?;
        http::fetch(build().bearer_auth(renewed.expose())).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        resource: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<T, SendError> {
        let url = http::with_path(&self.server, &["youtube", "v3", resource]);
        let reply = self
            .send(|| {
                let request = self
                    .client
                    .request(method.clone(), url.clone())
                    .query(query);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        if !reply.status.is_success() {
            return Err(refusal(&reply, action, Utc::now()));
        }
        let text = if reply.body.trim().is_empty() {
            "null"
        } else {
            reply.body.as_str()
        };
        serde_json::from_str(text).map_err(|_| SendError::Transient {
            reason: format!("YouTube answered {action} with something crier cannot read"),
        })
    }

    async fn channel(&self) -> Result<Channel, SendError> {
        let list: List<Channel> = self
            .call(
                Method::GET,
                "channels",
                &[("part", "id,statistics".into()), ("mine", "true".into())],
                None,
                "reading the channel",
            )
            .await?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| SendError::Permanent {
                reason: "the token's Google account has no YouTube channel".into(),
            })
    }
}

fn video_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

#[async_trait]
impl Connector for YoutubeConnector {
    fn network(&self) -> Network {
        Network::Youtube
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.post_resuming(post, &self.sessions.of(&post.idempotency_key))
            .await
    }

    async fn post_resuming(
        &self,
        post: &OutgoingPost,
        resume: &dyn Resume,
    ) -> Result<Delivered, SendError> {
        self.post_through(post, resume).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        self.lookup_resuming(
            post,
            first_attempt,
            &self.sessions.of(&post.idempotency_key),
        )
        .await
    }

    async fn lookup_resuming(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
        resume: &dyn Resume,
    ) -> Result<Lookup, SendError> {
        self.find_sent(post, first_attempt, resume).await
    }

    /// `channels.list?mine=true`: the token works (renewed when due) and has a channel.
    async fn health(&self) -> Result<(), SendError> {
        self.channel().await.map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.delete_post(remote_id).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_comments(cursor).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}
