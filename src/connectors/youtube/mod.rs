//! The `youtube` network: a post is a video uploaded to the channel of a Google account
//! (`videos.insert`, resumable); replies are comments; mentions are the comments on the
//! channel's videos. The OAuth 2.0 user token is renewed with Google's refresh token before it
//! expires (`connectors::oauth`).
//!
//! ```yaml
//! accounts:
//!   brand_youtube:
//!     network: youtube
//!     token: file:secrets/youtube.json           # the token set; renewed tokens are written back
//!     client_id: 1234-abc.apps.googleusercontent.com
//!     client_secret: env:GOOGLE_CLIENT_SECRET    # the OAuth client's secret
//!     server: https://www.googleapis.com         # optional
//! ```
//!
//! A post's text: the first line is the video's title (100 characters, no `<` or `>`), the rest
//! its description (5,000 bytes); its one media file is the video. The video is public.
//!
//! Endpoints (under `{server}/youtube/v3`): the upload session
//! `POST {server}/upload/youtube/v3/videos?uploadType=resumable`, then the file in chunks
//! (`PUT` with `Content-Range`; a 308 answer's `Range` says what arrived); after a broken
//! connection or a 5xx, `PUT` with `Content-Range: bytes */SIZE` asks what arrived and the upload
//! continues from there. Replies through `commentThreads.insert` (to a video) and
//! `comments.insert` (to a comment), `videos.delete` and `comments.delete`, comments through
//! `commentThreads.list?allThreadsRelatedToChannelId`, counts through `videos.list`
//! (`statistics`) and subscribers through `channels.list?mine=true`. Tokens are renewed at
//! Google's token endpoint (`{server}/token` when `server` is set).
//!
//! Exactly once: YouTube takes no idempotency key; within one upload the session's status says
//! whether the video was created, and after an outcome-unknown failure `lookup` reads the
//! channel's uploads playlist since the first attempt for the same title and description.
//!
//! Rate limits: `quotaExceeded` (the project's daily quota, reset at midnight Pacific time)
//! and `uploadLimitExceeded` are said in plain words and retried later; `rateLimitExceeded`
//! waits for `Retry-After` or a minute.
//!
//! Not done here: community posts (YouTube has no API for them), privacy other than public,
//! scheduled publishing, and searching by hashtag.

pub mod api;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode, Url};
use serde_json::json;

use self::api::{Channel, Comment, List, PlaylistItem, Thread, Video};
use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

/// Google's API server.
pub const DEFAULT_SERVER: &str = "https://www.googleapis.com";
/// Google's token endpoint, where tokens are renewed.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Where a person authorizes an app; `access_type=offline` and `prompt=consent` make Google
/// hand out a refresh token every time.
pub const AUTHORIZE_URL: &str =
    "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent";
/// Upload videos, and manage the channel's videos and comments.
pub const SCOPES: &[&str] = &["https://www.googleapis.com/auth/youtube.force-ssl"];
/// The longest title, in characters.
pub const TITLE_LIMIT: usize = 100;
/// The longest description, in bytes of UTF-8.
pub const DESCRIPTION_LIMIT: usize = 5000;
/// Bytes sent per upload request: a multiple of 256 KiB, as Google asks.
pub const CHUNK: u64 = 8 * 1024 * 1024;
/// Failed upload requests (each followed by a status query) before giving up.
const UPLOAD_FAILURES: u32 = 5;
/// Comment threads asked for per page (the API's maximum).
const PAGE: u32 = 100;
/// The most pages read in one call.
const MAX_PAGES: usize = 5;
/// How far back `lookup` looks when the first attempt's time is not known.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// How much earlier than the first attempt `lookup` starts, for clocks that differ.
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

#[derive(Debug)]
pub struct YoutubeConnector {
    account: String,
    server: Url,
    token: UserToken,
    client: reqwest::Client,
    /// The channel's id and uploads playlist, read once.
    channel: Mutex<Option<(String, String)>>,
}

/// What a remote id names: a video, or a comment under one (`VIDEO/COMMENT`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Video(String),
    Comment { video: String, comment: String },
}

impl Target {
    fn parse(remote_id: &str) -> Result<Target, SendError> {
        let bad = || SendError::Permanent {
            reason: format!("`{remote_id}` is not the id of a YouTube video or comment"),
        };
        let remote_id = remote_id.trim();
        match remote_id.split_once('/') {
            None if !remote_id.is_empty() => Ok(Target::Video(remote_id.into())),
            Some((video, comment)) if !video.is_empty() && !comment.is_empty() => {
                Ok(Target::Comment {
                    video: video.into(),
                    comment: comment.into(),
                })
            }
            _ => Err(bad()),
        }
    }
}

impl YoutubeConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: UserToken,
        client: reqwest::Client,
    ) -> Self {
        YoutubeConnector {
            account: account.into(),
            server,
            token,
            client,
            channel: Mutex::new(None),
        }
    }

    /// Where tokens are renewed: Google's endpoint, or `{server}/token` for another server.
    pub fn token_endpoint(
        server: Option<&Url>,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> TokenEndpoint {
        TokenEndpoint {
            url: match server {
                Some(server) => endpoint(server, &["token"]),
                None => Url::parse(TOKEN_URL).expect("Google's token endpoint is a URL"),
            },
            client_id: client_id.to_owned(),
            client_secret,
            auth: ClientAuth::Body,
            title: "Google",
            help: api::HELP,
        }
    }

    /// How `crier accounts connect` authorizes crier for an account.
    pub fn authorization(
        server: Option<&Url>,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> Authorization {
        Authorization {
            authorize_url: Url::parse(AUTHORIZE_URL).expect("Google's page is a URL"),
            endpoint: Self::token_endpoint(server, client_id, client_secret),
            scopes: SCOPES,
        }
    }

    /// The connector of a `youtube` account: `token`, `client_id`, and optionally
    /// `client_secret` and `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let client_id = setup
            .required(Network::Youtube, "client_id", &setup.config.client_id)?
            .to_owned();
        let custom = match &setup.config.server {
            Some(server) => Some(setup.http_url("server", &server.value)?),
            None => None,
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
        let endpoint =
            Self::token_endpoint(custom.as_ref(), &client_id, setup.secret("client_secret"));
        let token = UserToken::new(setup.name, tokens, file, endpoint, setup.client.clone());
        let server =
            custom.unwrap_or_else(|| Url::parse(DEFAULT_SERVER).expect("the default is a URL"));
        Ok(YoutubeConnector::new(
            setup.name,
            server,
            token,
            setup.client.clone(),
        ))
    }

    /// Sends the request `build` makes with the current access token; after a 401, renews
    /// the token once and sends again. Any status comes back.
    async fn send(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Reply, SendError> {
        let bearer = self.token.bearer().await?;
        let reply = http::fetch(build(bearer.expose())).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let renewed = self.token.refresh_after_refusal(&bearer).await?;
        http::fetch(build(renewed.expose())).await
    }

    /// A call under `/youtube/v3`: the JSON of a 2xx answer (`null` for 204), or the
    /// classified refusal.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        resource: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        action: &str,
    ) -> Result<T, SendError> {
        let url = endpoint(&self.server, &["youtube", "v3", resource]);
        let reply = self
            .send(|token| {
                let request = self
                    .client
                    .request(method.clone(), url.clone())
                    .bearer_auth(token)
                    .query(query);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        if !reply.status.is_success() {
            return Err(api::refusal(&reply, action, Utc::now()));
        }
        let text = if reply.body.trim().is_empty() {
            "null"
        } else {
            &reply.body
        };
        serde_json::from_str(text).map_err(|_| SendError::OutcomeUnknown {
            reason: format!("YouTube accepted {action} but its answer could not be read"),
        })
    }

    /// The channel's id and uploads playlist (`channels.list?mine=true`), read once.
    async fn channel(&self) -> Result<(String, String), SendError> {
        if let Some(known) = self.channel.lock().expect("not poisoned").clone() {
            return Ok(known);
        }
        let channel = self.my_channel("reading the channel").await?;
        let uploads = channel
            .content_details
            .map(|d| d.related_playlists.uploads)
            .unwrap_or_default();
        let known = (channel.id, uploads);
        *self.channel.lock().expect("not poisoned") = Some(known.clone());
        Ok(known)
    }

    async fn my_channel(&self, action: &str) -> Result<Channel, SendError> {
        let list: List<Channel> = self
            .call(
                Method::GET,
                "channels",
                &[
                    ("part", "id,snippet,statistics,contentDetails".into()),
                    ("mine", "true".into()),
                ],
                None,
                action,
            )
            .await?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "the Google account of account `{}` has no YouTube channel: create one, then authorize crier again",
                    self.account
                ),
            })
    }

    /// Uploads `video` with `metadata` through a resumable session, continuing after a
    /// broken connection from what YouTube says it has.
    async fn upload(&self, video: &Path, metadata: &serde_json::Value) -> Result<Video, SendError> {
        let size = std::fs::metadata(video)
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read the video `{}`: {err}", video.display()),
            })?
            .len();
        let mime = video_type(video);
        let url = endpoint(&self.server, &["upload", "youtube", "v3", "videos"]);
        let reply = self
            .send(|token| {
                self.client
                    .post(url.clone())
                    .bearer_auth(token)
                    .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
                    .header("X-Upload-Content-Length", size.to_string())
                    .header("X-Upload-Content-Type", mime)
                    .json(metadata)
            })
            .await
            .map_err(before_upload)?;
        if !reply.status.is_success() {
            return Err(api::refusal(&reply, "the upload", Utc::now()));
        }
        let session = reply
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Url::parse(v).ok())
            .ok_or_else(|| SendError::Transient {
                reason: "YouTube opened no upload session".into(),
            })?;
        let mut offset = 0u64;
        let mut failures = 0u32;
        let mut ask_status = false;
        let mut last_error: Option<SendError> = None;
        // Each pass sends a chunk or asks the status; chunks only move forward, and failures
        // are bounded, so the loop ends.
        while failures <= UPLOAD_FAILURES {
            let result = if ask_status {
                self.send(|token| {
                    self.client
                        .put(session.clone())
                        .bearer_auth(token)
                        .header(CONTENT_RANGE, format!("bytes */{size}"))
                        .body(Vec::new())
                })
                .await
            } else {
                let end = (offset + CHUNK).min(size);
                let bytes = read_range(video.to_owned(), offset, end).await?;
                let range = if size == 0 {
                    "bytes */0".to_owned()
                } else {
                    format!("bytes {offset}-{}/{size}", end - 1)
                };
                self.send(|token| {
                    self.client
                        .put(session.clone())
                        .bearer_auth(token)
                        .header(CONTENT_TYPE, mime)
                        .header(CONTENT_RANGE, range.clone())
                        .body(bytes.clone())
                })
                .await
            };
            let reply = match result {
                Ok(reply) => reply,
                Err(err @ (SendError::OutcomeUnknown { .. } | SendError::Transient { .. })) => {
                    failures += 1;
                    ask_status = true;
                    last_error = Some(err);
                    continue;
                }
                Err(err) => return Err(err),
            };
            match reply.status.as_u16() {
                200 | 201 => {
                    return serde_json::from_str(&reply.body).map_err(|_| {
                        SendError::OutcomeUnknown {
                            reason: "YouTube finished the upload but its answer could not be read"
                                .into(),
                        }
                    });
                }
                308 => {
                    ask_status = false;
                    offset = received(&reply);
                }
                404 | 410 => {
                    return Err(SendError::Transient {
                        reason: "YouTube's upload session expired before the video was complete; crier uploads it again".into(),
                    });
                }
                status if status >= 500 => {
                    failures += 1;
                    ask_status = true;
                    last_error = Some(api::refusal(&reply, "the upload", Utc::now()));
                }
                _ => return Err(api::refusal(&reply, "the upload", Utc::now())),
            }
        }
        Err(SendError::OutcomeUnknown {
            reason: format!(
                "the upload of `{}` kept failing and YouTube did not say whether it completed ({})",
                video.display(),
                last_error
                    .map(|e| e.reason().to_owned())
                    .unwrap_or_default()
            ),
        })
    }

    /// Comment threads on the channel's videos, newest first, up to `MAX_PAGES` pages or
    /// until one older than `after`.
    async fn threads(&self, after: Option<DateTime<Utc>>) -> Result<Vec<Thread>, SendError> {
        let (channel, _) = self.channel().await?;
        let mut threads = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("part", "snippet,replies".to_owned()),
                ("allThreadsRelatedToChannelId", channel.clone()),
                ("order", "time".into()),
                ("maxResults", PAGE.to_string()),
                ("textFormat", "plainText".into()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let list: List<Thread> = self
                .call(
                    Method::GET,
                    "commentThreads",
                    &query,
                    None,
                    "reading comments",
                )
                .await?;
            let reached_old = after.is_some_and(|after| {
                list.items
                    .iter()
                    .any(|t| t.snippet.top_level_comment.snippet.published_at <= after)
            });
            threads.extend(list.items);
            page_token = list.next_page_token;
            if reached_old || page_token.is_none() {
                break;
            }
        }
        Ok(threads)
    }

    fn mention(comment: Comment, video: Option<&str>) -> Mention {
        let snippet = comment.snippet;
        let video = snippet
            .video_id
            .clone()
            .or(video.map(str::to_owned))
            .unwrap_or_default();
        let in_reply_to = match &snippet.parent_id {
            Some(parent) => format!("{video}/{parent}"),
            None => video.clone(),
        };
        let channel = snippet
            .author_channel_id
            .map(|c| c.value)
            .unwrap_or_default();
        Mention {
            id: format!("{video}/{}", comment.id),
            author: Author {
                id: channel.clone(),
                handle: snippet.author_display_name.clone(),
                display_name: Some(snippet.author_display_name).filter(|n| !n.is_empty()),
                ..Author::default()
            },
            text: snippet.text_original,
            created_at: snippet.published_at,
            in_reply_to: Some(in_reply_to),
            url: Some(format!(
                "https://www.youtube.com/watch?v={video}&lc={}",
                comment.id
            )),
            edited_at: snippet.updated_at.filter(|u| *u > snippet.published_at),
        }
    }

    /// A comment by the channel under `video` with `text` since `since`.
    async fn find_comment(
        &self,
        video: &str,
        text: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Comment>, SendError> {
        let (channel, _) = self.channel().await?;
        let list: List<Thread> = self
            .call(
                Method::GET,
                "commentThreads",
                &[
                    ("part", "snippet,replies".into()),
                    ("videoId", video.into()),
                    ("order", "time".into()),
                    ("maxResults", PAGE.to_string()),
                    ("textFormat", "plainText".into()),
                ],
                None,
                "looking the reply up",
            )
            .await?;
        let wanted = comparable(text);
        Ok(list
            .items
            .into_iter()
            .flat_map(|t| {
                std::iter::once(t.snippet.top_level_comment)
                    .chain(t.replies.unwrap_or_default().comments)
            })
            .find(|c| {
                c.snippet
                    .author_channel_id
                    .as_ref()
                    .map(|a| a.value.as_str())
                    == Some(channel.as_str())
                    && c.snippet.published_at >= since
                    && comparable(&c.snippet.text_original) == wanted
            }))
    }
}

fn endpoint(server: &Url, segments: &[&str]) -> Url {
    let mut url = server.clone();
    url.path_segments_mut()
        .expect("an http(s) URL has path segments")
        .pop_if_empty()
        .extend(segments);
    url
}

/// Where the upload continues: one past the last byte of a 308 answer's `Range: bytes=0-N`.
fn received(reply: &Reply) -> u64 {
    reply
        .headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes=0-"))
        .and_then(|last| last.trim().parse::<u64>().ok())
        .map_or(0, |last| last + 1)
}

/// A failure before the upload session opened cannot have created a video.
fn before_upload(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

async fn read_range(path: PathBuf, start: u64, end: u64) -> Result<Vec<u8>, SendError> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0; (end - start) as usize];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    })
    .await
    .map_err(|err| SendError::Permanent {
        reason: format!("could not read the video `{shown}`: {err}"),
    })?
    .map_err(|err| SendError::Permanent {
        reason: format!("could not read the video `{shown}`: {err}"),
    })
}

/// The MIME type of a video file by its extension; `None` for an image.
fn video_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "mpg" | "mpeg" => "video/mpeg",
        _ => "application/octet-stream",
    }
}

fn is_image(path: &Path) -> bool {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(extension.as_str(), "jpg" | "jpeg" | "png" | "gif" | "webp")
}

/// A post's title (its first line) and description (the rest).
pub fn title_and_description(text: &str) -> (&str, &str) {
    match text.trim().split_once('\n') {
        Some((title, rest)) => (title.trim(), rest.trim()),
        None => (text.trim(), ""),
    }
}

/// Refuses what YouTube would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    if post.reply_to.is_some() {
        if post.text.trim().is_empty() {
            return Err(SendError::Permanent {
                reason: "the reply has no text".into(),
            });
        }
        if !post.media.is_empty() {
            return Err(SendError::Permanent {
                reason: "a YouTube comment takes no media".into(),
            });
        }
        return Ok(());
    }
    let video = match post.media.as_slice() {
        [video] => video,
        [] => {
            return Err(SendError::Permanent {
                reason: "a YouTube post is a video: add the video file as its media".into(),
            });
        }
        more => {
            return Err(SendError::Permanent {
                reason: format!(
                    "a YouTube post is one video and this one has {} media files",
                    more.len()
                ),
            });
        }
    };
    if is_image(video) {
        return Err(SendError::Permanent {
            reason: format!(
                "a YouTube post is a video and `{}` is an image",
                video.display()
            ),
        });
    }
    let (title, description) = title_and_description(&post.text);
    let title_length = title.chars().count();
    if title.is_empty() {
        return Err(SendError::Permanent {
            reason: "the text's first line is the video's title, and it is empty".into(),
        });
    }
    if title_length > TITLE_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the title (the text's first line) has {title_length} characters and YouTube allows {TITLE_LIMIT}"
            ),
        });
    }
    if title.contains(['<', '>']) || description.contains(['<', '>']) {
        return Err(SendError::Permanent {
            reason: "YouTube refuses `<` and `>` in a video's title and description".into(),
        });
    }
    if description.len() > DESCRIPTION_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the description has {} bytes in UTF-8 and YouTube allows {DESCRIPTION_LIMIT}",
                description.len()
            ),
        });
    }
    Ok(())
}

/// Whitespace collapsed, to compare a sent text with what YouTube shows.
fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The top-level comment a reply goes under: a reply's id is `PARENT.SUFFIX`.
fn thread_of(comment: &str) -> &str {
    comment
        .split_once('.')
        .map_or(comment, |(parent, _)| parent)
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
        check(post)?;
        match post.reply_to.as_deref().map(Target::parse).transpose()? {
            None => {
                let (title, description) = title_and_description(&post.text);
                let metadata = json!({
                    "snippet": {"title": title, "description": description},
                    "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": false},
                });
                let video = self.upload(&post.media[0], &metadata).await?;
                Ok(Delivered {
                    url: Some(format!("https://www.youtube.com/watch?v={}", video.id)),
                    remote_id: video.id,
                })
            }
            Some(Target::Video(video)) => {
                let body = json!({"snippet": {
                    "videoId": video,
                    "topLevelComment": {"snippet": {"textOriginal": post.text}},
                }});
                let thread: Thread = self
                    .call(
                        Method::POST,
                        "commentThreads",
                        &[("part", "snippet".into())],
                        Some(&body),
                        "the comment",
                    )
                    .await?;
                let id = thread.snippet.top_level_comment.id;
                Ok(Delivered {
                    url: Some(format!("https://www.youtube.com/watch?v={video}&lc={id}")),
                    remote_id: format!("{video}/{id}"),
                })
            }
            Some(Target::Comment { video, comment }) => {
                let body = json!({"snippet": {
                    "parentId": thread_of(&comment),
                    "textOriginal": post.text,
                }});
                let created: Comment = self
                    .call(
                        Method::POST,
                        "comments",
                        &[("part", "snippet".into())],
                        Some(&body),
                        "the reply",
                    )
                    .await?;
                Ok(Delivered {
                    url: Some(format!(
                        "https://www.youtube.com/watch?v={video}&lc={}",
                        created.id
                    )),
                    remote_id: format!("{video}/{}", created.id),
                })
            }
        }
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    /// A video in the channel's uploads (or a comment by the channel) with the same text,
    /// since the first attempt.
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = first_attempt.map_or_else(|| Utc::now() - LOOKUP_WINDOW, |t| t - CLOCK_SLACK);
        match post.reply_to.as_deref().map(Target::parse).transpose()? {
            None => {
                let (_, uploads) = self.channel().await?;
                let list: List<PlaylistItem> = self
                    .call(
                        Method::GET,
                        "playlistItems",
                        &[
                            ("part", "snippet".into()),
                            ("playlistId", uploads),
                            ("maxResults", "50".into()),
                        ],
                        None,
                        "looking the video up",
                    )
                    .await?;
                let (title, description) = title_and_description(&post.text);
                let found = list.items.into_iter().find(|item| {
                    item.snippet.published_at >= since
                        && comparable(&item.snippet.title) == comparable(title)
                        && comparable(&item.snippet.description) == comparable(description)
                });
                Ok(match found {
                    Some(item) => {
                        let id = item.snippet.resource_id.video_id;
                        Lookup::Found(Delivered {
                            url: Some(format!("https://www.youtube.com/watch?v={id}")),
                            remote_id: id,
                        })
                    }
                    None => Lookup::NotFound,
                })
            }
            Some(Target::Video(video) | Target::Comment { video, .. }) => {
                Ok(match self.find_comment(&video, &post.text, since).await? {
                    Some(comment) => Lookup::Found(Delivered {
                        url: Some(format!(
                            "https://www.youtube.com/watch?v={video}&lc={}",
                            comment.id
                        )),
                        remote_id: format!("{video}/{}", comment.id),
                    }),
                    None => Lookup::NotFound,
                })
            }
        }
    }

    /// `channels.list?mine=true`: the token works (renewed if due) and has a channel.
    async fn health(&self) -> Result<(), SendError> {
        self.my_channel("the check of the channel")
            .await
            .map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let (resource, id) = match Target::parse(remote_id)? {
            Target::Video(video) => ("videos", video),
            Target::Comment { comment, .. } => ("comments", comment),
        };
        match self
            .call::<serde_json::Value>(
                Method::DELETE,
                resource,
                &[("id", id)],
                None,
                "the deletion",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(SendError::Permanent { reason }) if reason.contains("404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Comments on the channel's videos published after `cursor`, oldest first; the
    /// channel's own are left out. Replies come as YouTube lists them with their thread (up
    /// to five a thread). The cursor is the newest time read (YouTube gives seconds) and the
    /// ids read at that second: `2026-12-04T10:00:00Z Ugx1 Ugx2`.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let (after, seen_then) = match cursor {
            Some(cursor) => {
                let mut parts = cursor.split_whitespace();
                let time = parts
                    .next()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .ok_or_else(|| SendError::Permanent {
                        reason: format!("`{cursor}` is not a YouTube comment cursor"),
                    })?
                    .with_timezone(&Utc);
                (Some(time), parts.map(str::to_owned).collect::<Vec<_>>())
            }
            None => (None, Vec::new()),
        };
        let (channel, _) = self.channel().await?;
        let mut newest: Option<(DateTime<Utc>, Vec<String>)> =
            after.map(|t| (t, seen_then.clone()));
        let mut mentions = Vec::new();
        for thread in self.threads(after).await? {
            let video = thread.snippet.video_id.clone();
            let comments = std::iter::once(thread.snippet.top_level_comment)
                .chain(thread.replies.unwrap_or_default().comments);
            for comment in comments {
                let published = comment.snippet.published_at;
                let read_before = after.is_some_and(|after| {
                    published < after || (published == after && seen_then.contains(&comment.id))
                });
                if read_before {
                    continue;
                }
                match &mut newest {
                    Some((time, ids)) if *time == published => ids.push(comment.id.clone()),
                    Some((time, _)) if *time > published => {}
                    _ => newest = Some((published, vec![comment.id.clone()])),
                }
                let own = comment
                    .snippet
                    .author_channel_id
                    .as_ref()
                    .map(|a| a.value.as_str())
                    == Some(channel.as_str());
                if !own {
                    mentions.push(Self::mention(comment, video.as_deref()));
                }
            }
        }
        mentions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let cursor = newest
            .filter(|(time, ids)| Some(*time) != after || *ids != seen_then)
            .map(|(time, ids)| {
                let mut cursor = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                for id in ids {
                    cursor.push(' ');
                    cursor.push_str(&id);
                }
                cursor
            });
        Ok(MentionPage { mentions, cursor })
    }

    /// A comment read earlier (`VIDEO/COMMENT`) as it is now; `None` once it is gone.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let Target::Comment { video, comment } = Target::parse(id)? else {
            return Err(SendError::Permanent {
                reason: format!("`{id}` is a video; crier reads comments again, not videos"),
            });
        };
        let list: List<Comment> = self
            .call(
                Method::GET,
                "comments",
                &[
                    ("part", "snippet".into()),
                    ("id", comment),
                    ("textFormat", "plainText".into()),
                ],
                None,
                "reading a comment again",
            )
            .await?;
        Ok(list
            .items
            .into_iter()
            .next()
            .map(|c| Self::mention(c, Some(&video))))
    }

    /// Likes, comments and views of `posts` (`videos.list`), and the channel's subscribers
    /// (`None` where the channel hides them).
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let channel = self.my_channel("reading the channel's subscribers").await?;
        let followers = channel
            .statistics
            .filter(|s| !s.hidden_subscriber_count)
            .and_then(|s| s.subscriber_count);
        let mut videos = Vec::new();
        for remote_id in posts {
            if let Target::Video(id) = Target::parse(remote_id)? {
                videos.push(id);
            }
        }
        let mut metrics = Vec::new();
        // `videos.list` takes up to 50 ids at once.
        for ids in videos.chunks(50) {
            let list: List<Video> = self
                .call(
                    Method::GET,
                    "videos",
                    &[("part", "statistics".into()), ("id", ids.join(","))],
                    None,
                    "reading the videos' counts",
                )
                .await?;
            metrics.extend(list.items.into_iter().map(|v| {
                let stats = v.statistics.unwrap_or_default();
                PostMetrics {
                    remote_id: v.id,
                    likes: stats.like_count.unwrap_or(0),
                    reposts: 0,
                    replies: stats.comment_count.unwrap_or(0),
                    views: stats.view_count,
                }
            }));
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_title_and_the_rest_the_description() {
        assert_eq!(
            title_and_description("Launch day\n\nAll about it.\nMore."),
            ("Launch day", "All about it.\nMore.")
        );
        assert_eq!(title_and_description("Only a title"), ("Only a title", ""));
        assert_eq!(thread_of("Ugx1.AbC"), "Ugx1");
        assert_eq!(
            Target::parse("dQw4w9WgXcQ/Ugx1").unwrap(),
            Target::Comment {
                video: "dQw4w9WgXcQ".into(),
                comment: "Ugx1".into()
            }
        );
    }
}
