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

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::resume::{LocalHandles, Resume};
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

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
pub const TITLE_LIMIT: usize = 100;
pub const DESCRIPTION_LIMIT: usize = 5000;
/// How many times one `post` resumes a broken upload before giving up for now.
const RESUMES: usize = 3;
/// Google takes upload chunks in multiples of this.
const CHUNK_UNIT: u64 = 256 * 1024;
/// Bytes sent per upload request: a video is read and sent a chunk at a time, so neither its
/// size nor the request timeout bounds what can be uploaded.
pub const CHUNK: u64 = 32 * CHUNK_UNIT;
const COMMENTS_PAGE: u32 = 100;
const MAX_PAGES: usize = 10;
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

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

#[derive(Debug, Deserialize)]
struct Video {
    id: String,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    #[serde(default)]
    view_count: Option<String>,
    #[serde(default)]
    like_count: Option<String>,
    #[serde(default)]
    comment_count: Option<String>,
    #[serde(default)]
    subscriber_count: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct List<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Debug, Deserialize)]
struct Thread {
    id: String,
    snippet: ThreadSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    #[serde(default)]
    video_id: Option<String>,
    top_level_comment: TopLevel,
}

#[derive(Debug, Deserialize)]
struct TopLevel {
    snippet: CommentSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentSnippet {
    #[serde(default)]
    author_display_name: String,
    #[serde(default)]
    author_channel_id: Option<ChannelRef>,
    #[serde(default)]
    text_original: String,
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct ChannelRef {
    value: String,
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    id: SearchId,
    snippet: SearchSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchId {
    #[serde(default)]
    video_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchSnippet {
    #[serde(default)]
    title: String,
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

/// Where an upload stands.
enum Progress {
    Done(String),
    /// The bytes the server holds.
    Partial(u64),
    /// The session is gone (expired or never known): start again.
    Lost,
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
            endpoint(server, &["token"])
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
        let url = endpoint(&self.server, &["youtube", "v3", resource]);
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

    /// Opens an upload session for `video` with the post's title and description.
    async fn open_session(
        &self,
        post: &OutgoingPost,
        video: &Path,
        size: u64,
    ) -> Result<Url, SendError> {
        let (title, description) = title_and_description(&post.text);
        let url = endpoint(&self.server, &["upload", "youtube", "v3", "videos"]);
        let body = json!({
            "snippet": { "title": title, "description": description, "categoryId": "22" },
            "status": { "privacyStatus": self.privacy, "selfDeclaredMadeForKids": false },
        });
        let reply = self
            .send(|| {
                self.client
                    .post(url.clone())
                    .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
                    .header("X-Upload-Content-Length", size.to_string())
                    .header("X-Upload-Content-Type", video_type(video))
                    .json(&body)
            })
            .await
            .map_err(before_upload)?;
        if !reply.status.is_success() {
            return Err(refusal(&reply, "the upload", Utc::now()));
        }
        reply
            .headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .ok_or_else(|| SendError::Transient {
                reason: "YouTube opened no upload session".into(),
            })
    }

    /// How far the session got.
    async fn progress(&self, session: &Url, size: u64) -> Result<Progress, SendError> {
        let reply = self
            .send(|| {
                self.client
                    .put(session.clone())
                    .header("Content-Range", format!("bytes */{size}"))
                    .header("Content-Length", "0")
            })
            .await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(Progress::Done(video_id(&reply)?)),
            308 => Ok(Progress::Partial(held(&reply).unwrap_or(0))),
            404 | 410 => Ok(Progress::Lost),
            _ => Err(refusal(&reply, "the upload", Utc::now())),
        }
    }

    /// Sends the file from byte `from` on, a chunk per request; the video's id once the
    /// server has them all.
    async fn send_from(
        &self,
        session: &Url,
        video: &Path,
        size: u64,
        mut from: u64,
    ) -> Result<String, SendError> {
        // Each pass sends one chunk and the server's answer moves `from` forward; one that
        // does not is an error, so the loop ends.
        for _ in 0..=size.div_ceil(self.chunk) {
            let end = (from + self.chunk).min(size);
            let bytes = read_range(video, from, end).await?;
            let range = if size == 0 {
                "bytes */0".to_owned()
            } else {
                format!("bytes {from}-{}/{size}", end - 1)
            };
            let reply = self
                .send(|| {
                    self.client
                        .put(session.clone())
                        .header("Content-Range", range.clone())
                        .body(bytes.clone())
                })
                .await?;
            match reply.status.as_u16() {
                200 | 201 => return video_id(&reply),
                308 => {
                    let held = held(&reply).unwrap_or(end);
                    if held <= from {
                        break;
                    }
                    from = held;
                }
                _ => return Err(refusal(&reply, "the upload", Utc::now())),
            }
        }
        Err(SendError::OutcomeUnknown {
            reason: "YouTube holds part of the video; the upload continues".into(),
        })
    }

    /// Uploads through `session`, resuming after a broken connection a few times.
    async fn upload(
        &self,
        session: &Url,
        video: &Path,
        size: u64,
        mut from: u64,
    ) -> Result<String, SendError> {
        let mut last = None;
        for _ in 0..=RESUMES {
            match self.send_from(session, video, size, from).await {
                Ok(id) => return Ok(id),
                Err(err @ SendError::OutcomeUnknown { .. }) => {
                    last = Some(err);
                    match self.progress(session, size).await? {
                        Progress::Done(id) => return Ok(id),
                        Progress::Partial(held) => from = held.min(size),
                        Progress::Lost => {
                            return Err(SendError::Transient {
                                reason: "YouTube dropped the upload session; it starts again"
                                    .into(),
                            });
                        }
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or(SendError::OutcomeUnknown {
            reason: "the upload did not finish".into(),
        }))
    }

    /// The upload session an earlier attempt kept, if it is still an address.
    async fn kept_session(&self, resume: &dyn Resume) -> Result<Option<Url>, SendError> {
        Ok(resume.kept().await?.and_then(|kept| Url::parse(&kept).ok()))
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

    async fn reply(&self, post: &OutgoingPost, parent: &str) -> Result<Delivered, SendError> {
        let (resource, body) = if is_video_id(parent) {
            (
                "commentThreads",
                json!({ "snippet": { "videoId": parent, "topLevelComment": { "snippet": { "textOriginal": post.text } } } }),
            )
        } else {
            (
                "comments",
                json!({ "snippet": { "parentId": parent, "textOriginal": post.text } }),
            )
        };
        let created: Created = self
            .call(
                Method::POST,
                resource,
                &[("part", "snippet".into())],
                Some(&body),
                "the reply",
            )
            .await?;
        Ok(Delivered {
            remote_id: created.id,
            url: None,
        })
    }
}

/// One past the last byte a 308 answer's `Range: bytes=0-N` says the server holds.
fn held(reply: &Reply) -> Option<u64> {
    reply
        .headers
        .get("range")
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.rsplit('-').next())
        .and_then(|last| last.trim().parse::<u64>().ok())
        .map(|last| last + 1)
}

/// Bytes `start..end` of the video file.
async fn read_range(video: &Path, start: u64, end: u64) -> Result<Vec<u8>, SendError> {
    use std::io::{Read as _, Seek as _};
    let owned = video.to_owned();
    let failed = |err: String| SendError::Permanent {
        reason: format!("could not read the video `{}`: {err}", video.display()),
    };
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(owned)?;
        file.seek(std::io::SeekFrom::Start(start))?;
        let mut bytes = vec![0; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    })
    .await
    .map_err(|err| failed(err.to_string()))?
    .map_err(|err| failed(err.to_string()))
}

fn endpoint(server: &Url, segments: &[&str]) -> Url {
    let mut url = server.clone();
    url.path_segments_mut()
        .expect("an http(s) URL has path segments")
        .pop_if_empty()
        .extend(segments);
    url
}

fn video_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// A video id is 11 characters of `A–Z a–z 0–9 - _`; comment ids are longer.
fn is_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn video_id(reply: &Reply) -> Result<String, SendError> {
    serde_json::from_str::<Video>(&reply.body)
        .map(|v| v.id)
        .map_err(|_| SendError::OutcomeUnknown {
            reason: "YouTube finished the upload but named no video id".into(),
        })
}

fn video_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        _ => "video/*",
    }
}

/// The post's first line is the title; the rest, trimmed, the description.
pub fn title_and_description(text: &str) -> (String, String) {
    let text = text.trim();
    match text.split_once('\n') {
        Some((title, rest)) => (title.trim().to_owned(), rest.trim().to_owned()),
        None => (text.to_owned(), String::new()),
    }
}

fn before_upload(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// Classifies a Google API error: `{"error": {"code", "message", "errors": [{"reason",
/// "domain"}]}}`.
fn refusal(reply: &Reply, action: &str, now: DateTime<Utc>) -> SendError {
    #[derive(Deserialize, Default)]
    struct Envelope {
        #[serde(default)]
        error: Inner,
    }
    #[derive(Deserialize, Default)]
    struct Inner {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(Deserialize, Default)]
    struct Item {
        #[serde(default)]
        reason: String,
    }
    let envelope: Envelope = serde_json::from_str(&reply.body).unwrap_or_default();
    let reason = envelope
        .error
        .errors
        .first()
        .map(|e| e.reason.clone())
        .unwrap_or_default();
    let code = http::status_text(reply.status);
    let said = if envelope.error.message.is_empty() {
        code.clone()
    } else {
        format!("{code}: {}", envelope.error.message)
    };
    match reason.as_str() {
        "quotaExceeded" | "dailyLimitExceeded" => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the Google Cloud project has used up its YouTube API quota for today (an upload costs 1,600 of the usual 10,000 units; {said}); it resets at midnight Pacific time, and crier tries again hourly until then"
            ),
        },
        "uploadLimitExceeded" => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the channel has uploaded as many videos as YouTube allows for now ({said}); crier tries again hourly"
            ),
        },
        "rateLimitExceeded" | "userRateLimitExceeded" => SendError::RetryAfter {
            after: http::retry_hint(&reply.headers, now).unwrap_or(Duration::from_secs(60)),
            reason: format!("YouTube is rate limiting ({said})"),
        },
        _ => match reply.status {
            StatusCode::UNAUTHORIZED => SendError::Permanent {
                reason: format!(
                    "YouTube refused the access token ({said}): authorize crier again ({HELP})"
                ),
            },
            StatusCode::TOO_MANY_REQUESTS => SendError::RetryAfter {
                after: http::retry_hint(&reply.headers, now).unwrap_or(Duration::from_secs(60)),
                reason: format!("YouTube is rate limiting ({said})"),
            },
            status if status.is_server_error() => SendError::Transient {
                reason: format!("YouTube failed ({said})"),
            },
            _ => SendError::Permanent {
                reason: format!("YouTube refused {action} ({said})"),
            },
        },
    }
}

fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let (title, description) = title_and_description(&post.text);
    let title_len = title.chars().count();
    if title.is_empty() {
        return Err(SendError::Permanent {
            reason: "a YouTube video needs a title: the post's first line".into(),
        });
    }
    if title_len > TITLE_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the title (the post's first line) has {title_len} characters and YouTube allows {TITLE_LIMIT}"
            ),
        });
    }
    let description_len = description.chars().count();
    if description_len > DESCRIPTION_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the description has {description_len} characters and YouTube allows {DESCRIPTION_LIMIT}"
            ),
        });
    }
    if title.contains(['<', '>']) || description.contains(['<', '>']) {
        return Err(SendError::Permanent {
            reason: "YouTube refuses `<` and `>` in a title or description".into(),
        });
    }
    if post.reply_to.is_none() && post.media.len() != 1 {
        return Err(SendError::Permanent {
            reason: format!(
                "a YouTube post is one video, and this post has {} files",
                post.media.len()
            ),
        });
    }
    Ok(())
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

    /// Opens an upload session (or continues the one an earlier attempt kept), keeps it in
    /// `resume` before the first byte leaves, and uploads the video through it.
    async fn post_resuming(
        &self,
        post: &OutgoingPost,
        resume: &dyn Resume,
    ) -> Result<Delivered, SendError> {
        if let Some(parent) = &post.reply_to {
            if post.text.trim().is_empty() {
                return Err(SendError::Permanent {
                    reason: "the reply has no text".into(),
                });
            }
            return self.reply(post, parent).await;
        }
        check(post)?;
        let video = &post.media[0];
        let size = std::fs::metadata(video)
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read the video `{}`: {err}", video.display()),
            })?
            .len();
        let kept = self.kept_session(resume).await.map_err(before_upload)?;
        let (session, from) = match kept {
            Some(session) => match self.progress(&session, size).await? {
                Progress::Done(id) => {
                    let _ = resume.keep(None).await;
                    return Ok(Delivered {
                        url: Some(video_url(&id)),
                        remote_id: id,
                    });
                }
                Progress::Partial(held) => (session, held),
                Progress::Lost => {
                    let session = self.open_session(post, video, size).await?;
                    (session, 0)
                }
            },
            None => (self.open_session(post, video, size).await?, 0),
        };
        resume
            .keep(Some(session.as_str()))
            .await
            .map_err(before_upload)?;
        let id = self.upload(&session, video, size, from.min(size)).await?;
        // The video exists whatever happens now: a session not forgotten only says so again.
        let _ = resume.keep(None).await;
        Ok(Delivered {
            url: Some(video_url(&id)),
            remote_id: id,
        })
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

    /// The kept upload session's state, when an earlier attempt kept one; otherwise the
    /// channel's videos since the first attempt with the same title.
    async fn lookup_resuming(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
        resume: &dyn Resume,
    ) -> Result<Lookup, SendError> {
        if post.reply_to.is_some() {
            return Ok(Lookup::Unsupported);
        }
        if let Some(session) = self.kept_session(resume).await? {
            let size = match post.media.first().map(std::fs::metadata) {
                Some(Ok(meta)) => meta.len(),
                _ => 0,
            };
            return Ok(match self.progress(&session, size).await? {
                Progress::Done(id) => Lookup::Found(Delivered {
                    url: Some(video_url(&id)),
                    remote_id: id,
                }),
                Progress::Partial(_) | Progress::Lost => Lookup::NotFound,
            });
        }
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let (title, _) = title_and_description(&post.text);
        let found: List<SearchResult> = self
            .call(
                Method::GET,
                "search",
                &[
                    ("part", "snippet".into()),
                    ("forMine", "true".into()),
                    ("type", "video".into()),
                    ("order", "date".into()),
                    ("maxResults", "25".into()),
                ],
                None,
                "looking the video up",
            )
            .await?;
        Ok(found
            .items
            .into_iter()
            .find(|r| {
                r.snippet.title == title && r.snippet.published_at.is_none_or(|at| at >= since)
            })
            .and_then(|r| r.id.video_id)
            .map_or(Lookup::NotFound, |id| {
                Lookup::Found(Delivered {
                    url: Some(video_url(&id)),
                    remote_id: id,
                })
            }))
    }

    /// `channels.list?mine=true`: the token works (renewed when due) and has a channel.
    async fn health(&self) -> Result<(), SendError> {
        self.channel().await.map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let resource = if is_video_id(remote_id) {
            "videos"
        } else {
            "comments"
        };
        match self
            .call::<Value>(
                Method::DELETE,
                resource,
                &[("id", remote_id.to_owned())],
                None,
                "the deletion",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(SendError::Permanent { reason }) if reason.contains("HTTP 404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Comments on the channel's videos after `cursor` (the newest comment time read, RFC
    /// 3339), oldest first; the channel's own left out.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        // YouTube gives times in whole seconds: the cursor keeps, besides the newest time
        // read, the comments read at that second (`2026-12-04T10:00:00Z Ugx1 Ugx2`), so one
        // written later in the same second is not lost.
        let (after, seen_then) = match cursor {
            Some(cursor) => {
                let mut parts = cursor.split_whitespace();
                let time = parts
                    .next()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .ok_or_else(|| SendError::Permanent {
                        reason: format!("`{cursor}` is not a YouTube comments cursor"),
                    })?
                    .with_timezone(&Utc);
                (Some(time), parts.map(str::to_owned).collect::<Vec<_>>())
            }
            None => (None, Vec::new()),
        };
        let channel = self.channel().await?.id;
        let mut mentions = Vec::new();
        let mut newest: Option<(DateTime<Utc>, Vec<String>)> =
            after.map(|t| (t, seen_then.clone()));
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("part", "snippet".to_owned()),
                ("allThreadsRelatedToChannelId", channel.clone()),
                ("maxResults", COMMENTS_PAGE.to_string()),
                ("order", "time".into()),
                ("textFormat", "plainText".into()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let page: List<Thread> = self
                .call(
                    Method::GET,
                    "commentThreads",
                    &query,
                    None,
                    "reading comments",
                )
                .await?;
            let mut older = false;
            for thread in page.items {
                let snippet = thread.snippet.top_level_comment.snippet;
                let at = snippet.published_at.unwrap_or_default();
                if after.is_some_and(|after| {
                    at < after || (at == after && seen_then.contains(&thread.id))
                }) {
                    older = true;
                    continue;
                }
                match &mut newest {
                    Some((time, ids)) if *time == at => ids.push(thread.id.clone()),
                    Some((time, _)) if *time > at => {}
                    _ => newest = Some((at, vec![thread.id.clone()])),
                }
                let author = snippet
                    .author_channel_id
                    .map(|c| c.value)
                    .unwrap_or_default();
                if author == channel {
                    continue;
                }
                mentions.push(Mention {
                    author: Author {
                        id: author,
                        handle: snippet.author_display_name.clone(),
                        display_name: Some(snippet.author_display_name),
                        ..Author::default()
                    },
                    in_reply_to: thread.snippet.video_id.clone(),
                    url: thread
                        .snippet
                        .video_id
                        .as_ref()
                        .map(|v| format!("{}&lc={}", video_url(v), thread.id)),
                    created_at: at,
                    text: snippet.text_original,
                    id: thread.id,
                    edited_at: None,
                });
            }
            page_token = page.next_page_token;
            // Newest first: a page reaching back past the cursor is the last one needed.
            if page_token.is_none() || older || after.is_none() {
                break;
            }
        }
        mentions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(MentionPage {
            mentions,
            cursor: newest
                .filter(|(time, ids)| Some(*time) != after || *ids != seen_then)
                .map(|(time, ids)| {
                    let mut cursor = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                    for id in ids {
                        cursor.push(' ');
                        cursor.push_str(&id);
                    }
                    cursor
                }),
        })
    }

    /// Views, likes and comments of `posts` (videos), and the channel's subscribers.
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let channel = self.channel().await?;
        let number = |s: &Option<String>| s.as_deref().and_then(|s| s.parse::<u64>().ok());
        let followers = channel
            .statistics
            .as_ref()
            .and_then(|s| number(&s.subscriber_count));
        let mut metrics = Vec::new();
        for chunk in posts.chunks(50) {
            let list: List<Video> = self
                .call(
                    Method::GET,
                    "videos",
                    &[("part", "statistics".into()), ("id", chunk.join(","))],
                    None,
                    "reading the videos' counts",
                )
                .await?;
            for video in list.items {
                let stats = video.statistics.unwrap_or_default();
                metrics.push(PostMetrics {
                    remote_id: video.id,
                    likes: number(&stats.like_count).unwrap_or(0),
                    reposts: 0,
                    replies: number(&stats.comment_count).unwrap_or(0),
                    views: number(&stats.view_count),
                });
            }
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}
