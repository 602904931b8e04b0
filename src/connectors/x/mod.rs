//! The `x` network: posts as one X account through the X API v2 with an OAuth 2.0 user
//! token, renewed with its refresh token before it expires (`connectors::oauth`).
//!
//! ```yaml
//! accounts:
//!   brand_x:
//!     network: x
//!     token: file:secrets/x.json    # the token set; crier writes renewed tokens back here
//!     client_id: Tm9QcmVzc3VyZQ     # the app's OAuth 2.0 client id
//!     client_secret: env:X_SECRET   # only for a confidential client (optional)
//!     server: https://api.x.com     # optional
//! ```
//!
//! Endpoints: `POST /2/tweets` (text weighed as X does, 280, every link 23; `media.media_ids`
//! up to 4; `reply.in_reply_to_tweet_id`), images through `POST /2/media/upload`
//! (`media_category=tweet_image`), `DELETE /2/tweets/:id`, mentions through
//! `GET /2/users/:id/mentions` (paged with `next_token`, after `since_id`; X's Basic plan or
//! above), a post read again through `GET /2/tweets/:id`, counts through `GET /2/tweets?ids=`
//! (`public_metrics`) and followers through `GET /2/users/me`; tokens are renewed at
//! `POST /2/oauth2/token`.
//!
//! Exactly once: X takes no idempotency key, so after an outcome-unknown failure `lookup`
//! reads the account's own posts since the first attempt (`GET /2/users/:id/tweets` with
//! `start_time`) for the same text (links compared as links: X shows them as `t.co`), the
//! same number of images and the same post replied to.
//!
//! Rate limits: a 429 waits until `x-rate-limit-reset` (or, for the 24-hour limit on posts,
//! `x-user-limit-24hour-reset`); a used-up monthly cap of the app's plan is said in plain words.

pub mod api;

use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::multipart::Form;
use reqwest::{Method, StatusCode, Url};
use serde_json::json;

use self::api::{Created, Envelope, HELP, Tweet, Uploaded, User};
use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

/// X's API server.
pub const DEFAULT_SERVER: &str = "https://api.x.com";
/// Where a person authorizes an app.
pub const AUTHORIZE_URL: &str = "https://x.com/i/oauth2/authorize";
/// What crier asks to do: read and write posts, upload images, read the account, and stay
/// authorized (`offline.access` gives the refresh token).
pub const SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "offline.access",
];
/// The longest post, in X's weighted count.
const TEXT_LIMIT: usize = Network::X.profile().text.max.expect("X has a limit");
/// The most images on one post.
const MAX_IMAGES: usize = Network::X.profile().max_images.expect("X has a limit");
/// Posts asked for per page (X's maximum for timelines).
const PAGE: u32 = 100;
/// The most pages of mentions read in one call.
const MAX_PAGES: usize = 5;
/// How far back `lookup` looks when the first attempt's time is not known.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// How much earlier than the first attempt `lookup` starts, for clocks that differ.
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);
/// The fields asked for with every post read.
const TWEET_FIELDS: &str = "created_at,author_id,referenced_tweets,attachments,public_metrics";
const USER_FIELDS: &str = "username,name,created_at,public_metrics";

#[derive(Debug)]
pub struct XConnector {
    account: String,
    server: Url,
    token: UserToken,
    client: reqwest::Client,
    /// The account's user id, read once from `GET /2/users/me`.
    me: Mutex<Option<String>>,
}

impl XConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: UserToken,
        client: reqwest::Client,
    ) -> Self {
        XConnector {
            account: account.into(),
            server,
            token,
            client,
            me: Mutex::new(None),
        }
    }

    /// Where `server`'s tokens are renewed, for the app `client_id`.
    pub fn token_endpoint(
        server: &Url,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> TokenEndpoint {
        TokenEndpoint {
            url: endpoint(server, &["2", "oauth2", "token"]),
            client_id: client_id.to_owned(),
            client_secret,
            auth: ClientAuth::Basic,
            title: "X",
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
            authorize_url: Url::parse(AUTHORIZE_URL).expect("X's authorization page is a URL"),
            endpoint: Self::token_endpoint(server, client_id, client_secret),
            scopes: SCOPES,
        }
    }

    /// The connector of an `x` account: `token`, `client_id`, and optionally
    /// `client_secret` and `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let client_id = setup
            .required(Network::X, "client_id", &setup.config.client_id)?
            .to_owned();
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(DEFAULT_SERVER).expect("the default server is a URL"),
        };
        let value = setup.required_secret(Network::X, "token")?;
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
        Ok(XConnector::new(
            setup.name,
            server,
            token,
            setup.client.clone(),
        ))
    }

    /// Sends the request `build` makes with the current access token; after a 401, renews
    /// the token once and sends again (a refused request did nothing). Any status comes back.
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

    /// A JSON call: the `data` of a 2xx answer, or the classified refusal.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        action: &str,
    ) -> Result<(Envelope<T>, Reply), SendError> {
        let url = endpoint(&self.server, path);
        let reply = self
            .send(|token| {
                let mut request = self
                    .client
                    .request(method.clone(), url.clone())
                    .bearer_auth(token)
                    .query(query);
                if let Some(body) = body {
                    request = request.json(body);
                }
                request
            })
            .await?;
        if !reply.status.is_success() {
            return Err(api::refusal(&reply, action, Utc::now()));
        }
        Ok((api::data(&reply, action)?, reply))
    }

    /// The account's own user: id, handle and followers.
    async fn user(&self) -> Result<User, SendError> {
        let (me, _) = self
            .call::<User>(
                Method::GET,
                &["2", "users", "me"],
                &[("user.fields", USER_FIELDS.into())],
                None,
                "reading the account",
            )
            .await?;
        let user = me.data.ok_or_else(|| SendError::Transient {
            reason: "X did not say which account the token belongs to".into(),
        })?;
        *self.me.lock().unwrap_or_else(|e| e.into_inner()) = Some(user.id.clone());
        Ok(user)
    }

    async fn user_id(&self) -> Result<String, SendError> {
        let known = self.me.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match known {
            Some(id) => Ok(id),
            None => Ok(self.user().await?.id),
        }
    }

    /// Uploads one image; its media id.
    async fn upload(&self, path: &Path) -> Result<String, SendError> {
        let url = endpoint(&self.server, &["2", "media", "upload"]);
        // The form is rebuilt for a resend after a renewed token, so the file is read once.
        let owned = path.to_owned();
        let unreadable = |err: String| SendError::Permanent {
            reason: format!("could not read the image `{}`: {err}", path.display()),
        };
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| unreadable(err.to_string()))?
            .map_err(|err| unreadable(err.to_string()))?;
        let reply = self
            .send(|token| {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "image".into()),
                    )
                    .mime_str(super::upload::image_type(path).unwrap_or("application/octet-stream"))
                    .expect("a valid MIME type");
                let form = Form::new()
                    .text("media_category", "tweet_image")
                    .part("media", part);
                self.client
                    .post(url.clone())
                    .bearer_auth(token)
                    .multipart(form)
            })
            .await
            .map_err(before_post)?;
        if !reply.status.is_success() {
            return Err(api::refusal(&reply, "the image", Utc::now()));
        }
        let uploaded: Envelope<Uploaded> = api::data(&reply, "the image upload")?;
        uploaded
            .data
            .map(|u| u.id)
            .ok_or_else(|| SendError::Transient {
                reason: format!("X named no media id for `{}`", path.display()),
            })
    }

    /// The account's posts created from `since` on, newest first.
    async fn own_posts_since(&self, since: DateTime<Utc>) -> Result<Vec<Tweet>, SendError> {
        let user = self.user_id().await?;
        let (page, _) = self
            .call::<Vec<Tweet>>(
                Method::GET,
                &["2", "users", &user, "tweets"],
                &[
                    ("max_results", PAGE.to_string()),
                    (
                        "start_time",
                        since.to_rfc3339_opts(SecondsFormat::Secs, true),
                    ),
                    ("tweet.fields", TWEET_FIELDS.into()),
                ],
                None,
                "looking the post up",
            )
            .await?;
        Ok(page.data.unwrap_or_default())
    }

    fn mention(tweet: Tweet, users: &[User]) -> Mention {
        let author_id = tweet.author_id.clone().unwrap_or_default();
        let user = users.iter().find(|u| u.id == author_id);
        Mention {
            author: Author {
                id: author_id.clone(),
                handle: user
                    .map(|u| format!("@{}", u.username))
                    .unwrap_or_else(|| author_id.clone()),
                display_name: user.and_then(|u| u.name.clone()),
                followers: user
                    .and_then(|u| u.public_metrics.as_ref())
                    .map(|m| m.followers_count),
                created_at: user.and_then(|u| u.created_at),
                ..Author::default()
            },
            in_reply_to: tweet.replied_to().map(str::to_owned),
            url: Some(post_url(&tweet.id)),
            created_at: tweet.created_at.unwrap_or_default(),
            text: unescape(&tweet.text),
            id: tweet.id,
            edited_at: None,
        }
    }
}

/// `server` with `segments` as its path.
fn endpoint(server: &Url, segments: &[&str]) -> Url {
    let mut url = server.clone();
    url.path_segments_mut()
        .expect("an http(s) URL has path segments")
        .pop_if_empty()
        .extend(segments);
    url
}

fn post_url(id: &str) -> String {
    format!("https://x.com/i/status/{id}")
}

/// A failure before `POST /2/tweets` was sent cannot have published anything.
fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// Refuses what X would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let weight = Network::X.count(&post.text);
    if weight > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the text weighs {weight} as X counts it (links 23, emoji and CJK 2) and X allows {TEXT_LIMIT}"
            ),
        });
    }
    if post.media.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and X takes at most {MAX_IMAGES} in one post",
                post.media.len()
            ),
        });
    }
    if post.text.trim().is_empty() && post.media.is_empty() {
        return Err(SendError::Permanent {
            reason: "the post has no text and no image".into(),
        });
    }
    Ok(())
}

/// X's text escapes `&`, `<` and `>` as HTML entities.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A text as X shows it, made comparable with what crier sent: entities undone, whitespace
/// collapsed, every link one token (X shows them as `t.co` links), and for a reply the
/// `@handles` X puts in front dropped.
fn comparable(text: &str, media: usize, reply: bool) -> Vec<String> {
    let text = unescape(text);
    let mut words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            if word.starts_with("http://") || word.starts_with("https://") {
                "<link>".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    if reply {
        let leading = words.iter().take_while(|w| w.starts_with('@')).count();
        words.drain(..leading);
    }
    // X ends the text of a post with images with a link to them.
    if media > 0 && words.last().is_some_and(|w| w == "<link>") {
        words.pop();
    }
    words
}

fn same_post(tweet: &Tweet, post: &OutgoingPost) -> bool {
    let reply = post.reply_to.is_some();
    tweet.replied_to() == post.reply_to.as_deref()
        && tweet.media_count() == post.media.len()
        && comparable(&tweet.text, tweet.media_count(), reply) == comparable(&post.text, 0, reply)
}

#[async_trait]
impl Connector for XConnector {
    fn network(&self) -> Network {
        Network::X
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        let mut media_ids = Vec::new();
        for image in &post.media {
            media_ids.push(self.upload(image).await?);
        }
        let mut body = json!({ "text": post.text });
        if !media_ids.is_empty() {
            body["media"] = json!({ "media_ids": media_ids });
        }
        if let Some(parent) = &post.reply_to {
            body["reply"] = json!({ "in_reply_to_tweet_id": parent });
        }
        let action = if post.reply_to.is_some() {
            "the reply"
        } else {
            "the post"
        };
        let (created, _) = self
            .call::<Created>(Method::POST, &["2", "tweets"], &[], Some(&body), action)
            .await
            .map_err(|err| match err {
                SendError::Transient { reason } if reason.contains("cannot read") => {
                    SendError::OutcomeUnknown { reason }
                }
                other => other,
            })?;
        let created = created.data.ok_or_else(|| SendError::OutcomeUnknown {
            reason: format!("X accepted {action} but named no post id"),
        })?;
        Ok(Delivered {
            url: Some(post_url(&created.id)),
            remote_id: created.id,
        })
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    /// The account's posts since the first attempt: one with the same text, images and
    /// parent is the post.
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let found = self
            .own_posts_since(since)
            .await?
            .into_iter()
            .find(|tweet| same_post(tweet, post));
        Ok(match found {
            Some(tweet) => Lookup::Found(Delivered {
                url: Some(post_url(&tweet.id)),
                remote_id: tweet.id,
            }),
            None => Lookup::NotFound,
        })
    }

    /// `GET /2/users/me`: the token works (renewed first when due or refused).
    async fn health(&self) -> Result<(), SendError> {
        self.user().await.map(|_| ())
    }

    fn health_limits(&self) -> Option<&'static str> {
        Some("reading mentions needs X's Basic plan or above, which the check does not test")
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let result = self
            .call::<serde_json::Value>(
                Method::DELETE,
                &["2", "tweets", remote_id],
                &[],
                None,
                "the deletion",
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already gone.
            Err(SendError::Permanent { reason }) if reason.contains("HTTP 404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Mentions after `cursor` (the newest post id read), oldest first; without a cursor, the
    /// most recent page.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        if let Some(cursor) = cursor
            && cursor.parse::<u64>().is_err()
        {
            return Err(SendError::Permanent {
                reason: format!("`{cursor}` is not an X mentions cursor"),
            });
        }
        let user = self.user_id().await?;
        let mut tweets = Vec::new();
        let mut users = Vec::new();
        let mut newest = cursor.map(str::to_owned);
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("max_results", PAGE.to_string()),
                ("tweet.fields", TWEET_FIELDS.into()),
                ("expansions", "author_id".into()),
                ("user.fields", USER_FIELDS.into()),
            ];
            if let Some(cursor) = cursor {
                query.push(("since_id", cursor.to_owned()));
            }
            if let Some(token) = &next {
                query.push(("pagination_token", token.clone()));
            }
            let (page, _) = self
                .call::<Vec<Tweet>>(
                    Method::GET,
                    &["2", "users", &user, "mentions"],
                    &query,
                    None,
                    "reading mentions",
                )
                .await?;
            if let Some(id) = page.meta.newest_id
                && newest.as_deref().is_none_or(|known| id_after(&id, known))
            {
                newest = Some(id);
            }
            tweets.extend(page.data.unwrap_or_default());
            users.extend(page.includes.users);
            next = page.meta.next_token;
            if next.is_none() || cursor.is_none() {
                break;
            }
        }
        let mut mentions: Vec<Mention> = tweets
            .into_iter()
            .filter(|t| t.author_id.as_deref() != Some(user.as_str()))
            .map(|t| Self::mention(t, &users))
            .collect();
        mentions.sort_by(|a, b| a.id.len().cmp(&b.id.len()).then_with(|| a.id.cmp(&b.id)));
        mentions.dedup_by(|a, b| a.id == b.id);
        Ok(MentionPage {
            mentions,
            cursor: newest.filter(|n| Some(n.as_str()) != cursor),
        })
    }

    /// A post read earlier as a mention, as it is now; `None` once it is deleted.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let (read, _) = self
            .call::<Tweet>(
                Method::GET,
                &["2", "tweets", id],
                &[
                    ("tweet.fields", TWEET_FIELDS.into()),
                    ("expansions", "author_id".into()),
                    ("user.fields", USER_FIELDS.into()),
                ],
                None,
                "reading a post again",
            )
            .await?;
        Ok(read
            .data
            .map(|tweet| Self::mention(tweet, &read.includes.users)))
    }

    /// Likes, reposts (and quotes), replies and impressions of `posts`; the followers.
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let followers = self.user().await?.public_metrics.map(|m| m.followers_count);
        let mut metrics = Vec::new();
        for chunk in posts.chunks(PAGE as usize) {
            let (read, _) = self
                .call::<Vec<Tweet>>(
                    Method::GET,
                    &["2", "tweets"],
                    &[
                        ("ids", chunk.join(",")),
                        ("tweet.fields", "public_metrics".into()),
                    ],
                    None,
                    "reading the posts' counts",
                )
                .await?;
            metrics.extend(read.data.unwrap_or_default().into_iter().map(|t| {
                let counts = t.public_metrics.unwrap_or_default();
                PostMetrics {
                    remote_id: t.id,
                    likes: counts.like_count,
                    reposts: counts.retweet_count + counts.quote_count,
                    replies: counts.reply_count,
                    views: counts.impression_count,
                }
            }));
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}

/// Whether post id `a` is newer than `b` (ids grow with time; compared as numbers).
fn id_after(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_compare_with_links_as_links_and_reply_handles_dropped() {
        assert_eq!(
            comparable("@fan Thanks https://t.co/abc &amp; more", 0, true),
            comparable("Thanks https://shop.example/x?y=1 & more", 0, true)
        );
        assert_eq!(
            comparable("New look https://t.co/pic", 1, false),
            comparable("New look", 0, false)
        );
        assert!(id_after("1800000000000000001", "999"));
        assert!(!id_after("100", "101"));
    }
}
