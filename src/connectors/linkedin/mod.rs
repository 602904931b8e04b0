//! The `linkedin` network: posts as an organization (a Company Page) or a member through
//! LinkedIn's Posts API, `Linkedin-Version` pinned.
//!
//! ```yaml
//! accounts:
//!   brand_linkedin:
//!     network: linkedin
//!     author: urn:li:organization:2414183   # or urn:li:person:<id>
//!     token: file:secrets/linkedin.json     # a token set, or a bare 60-day access token
//!     client_id: 86abc                      # with client_secret: renews a token set
//!     client_secret: env:LINKEDIN_SECRET
//! ```
//!
//! Endpoints (all under `/rest`, with `Linkedin-Version` and `X-Restli-Protocol-Version:
//! 2.0.0`): `POST /posts` (the post's id comes back in `x-restli-id`), images through
//! `POST /images?action=initializeUpload` and a `PUT` of the bytes to the upload URL (one is
//! `content.media`, several `content.multiImage`), replies as comments
//! (`POST /socialActions/{post}/comments`), `DELETE /posts/{post}`, the account's posts through
//! `GET /posts?q=author`, counts through `GET /socialActions/{post}` and an organization's
//! followers through `GET /networkSizes/{organization}`, an organization's posts' comments
//! through `GET /socialActions/{post}/comments` (one again through `…/comments/{id}`;
//! LinkedIn lets only approved partners read a member's). A commenter is named by their URN,
//! the stable id, and read by their name where LinkedIn allows: a member's first and last
//! name through `GET /people/(id:{id})`, an organization's through `GET
//! /organizations/{id}` (the versioned API has no `actor~` decoration); where LinkedIn
//! refuses (the app lacks the permission), the URN stands for the name. Tokens with a refresh token are
//! renewed at `/oauth/v2/accessToken` (LinkedIn gives refresh tokens to approved apps only);
//! `crier accounts connect` gets them at `/oauth/v2/authorization`.
//!
//! Comments and their authors' names are read in `comments.rs`, counts in `metrics.rs`.
//!
//! Exactly once: the Posts API takes no idempotency key; after an unknown outcome `lookup`
//! reads the author's recent posts for the same text since the first attempt.
//!
//! Rate limits: a 429 waits as `Retry-After` says, or an hour: LinkedIn's limits are per day
//! and reset at midnight UTC, which the message says.

mod comments;
mod metrics;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
use crate::network::Network;

pub const DEFAULT_SERVER: &str = "https://api.linkedin.com";
/// Where LinkedIn renews tokens, for the default server.
pub const TOKEN_URL: &str = "https://www.linkedin.com/oauth/v2/accessToken";
/// LinkedIn's authorization page, where the person `crier accounts connect` sends approves.
pub const AUTHORIZE_URL: &str = "https://www.linkedin.com/oauth/v2/authorization";
/// Posting as an organization, reading its posts' comments, and its follower count: granted
/// by an administrator of the Page (the app needs the Community Management API product).
pub const ORGANIZATION_SCOPES: &[&str] = &[
    "w_organization_social",
    "r_organization_social",
    "rw_organization_admin",
];
/// Posting as the member (the "Share on LinkedIn" product).
pub const MEMBER_SCOPES: &[&str] = &["w_member_social"];
/// The API version every call pins (`YYYYMM`).
pub const API_VERSION: &str = "202411";
const HELP: &str = "see \"LinkedIn\" under Networks in crier's README";
const TEXT_LIMIT: usize = Network::Linkedin
    .profile()
    .text
    .max
    .expect("LinkedIn has a limit");
const MAX_IMAGES: usize = Network::Linkedin
    .profile()
    .max_images
    .expect("LinkedIn has a limit");
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);
const RECENT: u32 = 20;

#[derive(Debug)]
pub struct LinkedinConnector {
    account: String,
    server: Url,
    token: UserToken,
    /// `urn:li:organization:…` or `urn:li:person:…`.
    author: String,
    client: reqwest::Client,
    /// Commenters' names by URN: `None` where LinkedIn would not say.
    names: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
}

#[derive(Debug, Deserialize)]
struct Initialized {
    value: UploadTarget,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadTarget {
    upload_url: String,
    image: String,
}

#[derive(Debug, Deserialize)]
struct Elements<T> {
    #[serde(default = "Vec::new")]
    elements: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostRecord {
    id: String,
    #[serde(default)]
    commentary: String,
    #[serde(default)]
    created_at: Option<i64>,
}

impl LinkedinConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: UserToken,
        author: impl Into<String>,
        client: reqwest::Client,
    ) -> Self {
        LinkedinConnector {
            account: account.into(),
            server,
            token,
            author: author.into(),
            client,
            names: std::sync::Mutex::default(),
        }
    }

    /// What `crier accounts connect` needs for an account posting as `author`: LinkedIn's
    /// authorization page (or `{server}/oauth/v2/authorization` for another server), the token
    /// endpoint, and the scopes an organization or a member needs.
    pub fn authorization(
        server: &Url,
        author: &str,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> Authorization {
        let authorize_url = if server.as_str().trim_end_matches('/') == DEFAULT_SERVER {
            Url::parse(AUTHORIZE_URL).expect("LinkedIn's authorization page is a URL")
        } else {
            http::with_path(server, &["oauth", "v2", "authorization"])
        };
        Authorization {
            authorize_url,
            endpoint: Self::token_endpoint(server, client_id, client_secret),
            scopes: if author.starts_with("urn:li:person:") {
                MEMBER_SCOPES
            } else {
                ORGANIZATION_SCOPES
            },
        }
    }

    /// Where tokens are renewed: LinkedIn's own endpoint, or `{server}/oauth/v2/accessToken`
    /// for another server.
    pub fn token_endpoint(
        server: &Url,
        client_id: &str,
        client_secret: Option<super::Secret>,
    ) -> TokenEndpoint {
        let url = if server.as_str().trim_end_matches('/') == DEFAULT_SERVER {
            Url::parse(TOKEN_URL).expect("LinkedIn's token endpoint is a URL")
        } else {
            http::with_path(server, &["oauth", "v2", "accessToken"])
        };
        TokenEndpoint {
            url,
            client_id: client_id.to_owned(),
            client_secret,
            auth: ClientAuth::Body,
            title: "LinkedIn",
            help: HELP,
        }
    }

    /// The connector of a `linkedin` account: `author`, `token`, optionally `client_id` and
    /// `client_secret` (to renew a token set) and `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let author = setup
            .required(Network::Linkedin, "author", &setup.config.author)?
            .to_owned();
        if !(author.starts_with("urn:li:organization:") || author.starts_with("urn:li:person:")) {
            return Err(ConnectorError::InvalidField {
                account: setup.name.into(),
                field: "author",
                reason: format!(
                    "`{author}` is neither `urn:li:organization:<id>` nor `urn:li:person:<id>`"
                ),
            });
        }
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(DEFAULT_SERVER).expect("the default server is a URL"),
        };
        let value = setup.required_secret(Network::Linkedin, "token")?;
        let reference = setup
            .config
            .token
            .as_ref()
            .map(|t| t.value.clone())
            .unwrap_or_default();
        let invalid = |reason: String| ConnectorError::InvalidField {
            account: setup.name.into(),
            field: "token",
            reason,
        };
        let (tokens, file) = UserToken::read_secret(&reference, &value).map_err(invalid)?;
        let client_id = setup
            .config
            .client_id
            .as_ref()
            .map(|c| c.value.trim().to_owned())
            .unwrap_or_default();
        if tokens.refresh_token.is_some() && client_id.is_empty() {
            return Err(setup.missing(Network::Linkedin, "client_id"));
        }
        let endpoint = Self::token_endpoint(&server, &client_id, setup.secret("client_secret"));
        let token = UserToken::new(setup.name, tokens, file, endpoint, setup.client.clone());
        Ok(LinkedinConnector::new(
            setup.name,
            server,
            token,
            author,
            setup.client.clone(),
        ))
    }

    /// Sends what `build` makes with the token and the pinned headers; after a 401, renews
    /// the token once and sends again.
    async fn send(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Reply, SendError> {
        let with_headers = |token: &str| {
            build(token)
                .bearer_auth(token)
                .header("Linkedin-Version", API_VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
        };
        let bearer = self.token.bearer().await?;
        let reply = http::fetch(with_headers(bearer.expose())).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let renewed = self.token.refresh_after_refusal(&bearer).await?;
        http::fetch(with_headers(renewed.expose())).await
    }

    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<Reply, SendError> {
        let url = rest_url(&self.server, path)?;
        self.call_url(method, url, query, body, action).await
    }

    async fn call_url(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<Reply, SendError> {
        let reply = self
            .send(|_| {
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
        if reply.status.is_success() {
            return Ok(reply);
        }
        Err(refusal(&reply, action, Utc::now()))
    }

    async fn upload(&self, path: &Path) -> Result<String, SendError> {
        let body = json!({ "initializeUploadRequest": { "owner": self.author } });
        let reply = self
            .call(
                Method::POST,
                &["images"],
                &[("action", "initializeUpload".into())],
                Some(&body),
                "the image upload",
            )
            .await?;
        let init: Initialized =
            serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: "LinkedIn answered the image upload with something crier cannot read"
                    .into(),
            })?;
        let target = Url::parse(&init.value.upload_url).map_err(|_| SendError::Permanent {
            reason: "LinkedIn named an upload address that is not a URL".into(),
        })?;
        let owned = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read the image `{}`: {err}", path.display()),
            })?
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read the image `{}`: {err}", path.display()),
            })?;
        let reply = self
            .send(|_| self.client.put(target.clone()).body(bytes.clone()))
            .await?;
        if !reply.status.is_success() {
            return Err(refusal(&reply, "the image", Utc::now()));
        }
        Ok(init.value.image)
    }

    async fn recent(&self) -> Result<Vec<PostRecord>, SendError> {
        let reply = self
            .call(
                Method::GET,
                &["posts"],
                &[
                    ("q", "author".into()),
                    ("author", self.author.clone()),
                    ("count", RECENT.to_string()),
                    ("sortBy", "CREATED".into()),
                ],
                None,
                "looking the post up",
            )
            .await?;
        let page: Elements<PostRecord> =
            serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: "LinkedIn answered the list of posts with something crier cannot read"
                    .into(),
            })?;
        Ok(page.elements)
    }
}

/// `{server}/rest/{path}` with URNs encoded as Rest.li wants them in a path
/// (`urn%3Ali%3Ashare%3A1`).
fn rest_url(server: &Url, path: &[&str]) -> Result<Url, SendError> {
    let encoded: Vec<String> = path.iter().map(|s| s.replace(':', "%3A")).collect();
    let base = server.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/rest/{}", encoded.join("/"))).map_err(|err| SendError::Permanent {
        reason: format!(
            "`{}` does not make a LinkedIn address: {err}",
            path.join("/")
        ),
    })
}

fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// Classifies a LinkedIn refusal: `{"message": "…", "status": 422, "serviceErrorCode": …}`.
fn refusal(reply: &Reply, action: &str, now: DateTime<Utc>) -> SendError {
    let said = http::body_message(&reply.body)
        .map(|m| format!("{}: {m}", http::status_text(reply.status)))
        .unwrap_or_else(|| http::status_text(reply.status));
    match reply.status {
        StatusCode::TOO_MANY_REQUESTS => SendError::RetryAfter {
            after: http::retry_hint(&reply.headers, now).unwrap_or(http::MAX_RETRY_AFTER),
            reason: format!(
                "LinkedIn's daily limit for the app or the member is reached ({said}); it resets at midnight UTC, and crier tries again hourly until then"
            ),
        },
        StatusCode::UNAUTHORIZED => SendError::Permanent {
            reason: format!(
                "LinkedIn refused the access token ({said}): it has expired or was revoked; get a new one ({HELP})"
            ),
        },
        StatusCode::FORBIDDEN => SendError::Permanent {
            reason: format!(
                "LinkedIn refused {action} ({said}): the token lacks a permission (w_organization_social for a Page, w_member_social for a member) or its user is not an administrator of the Page"
            ),
        },
        status if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT => {
            SendError::Transient {
                reason: format!("LinkedIn failed ({said})"),
            }
        }
        _ => SendError::Permanent {
            reason: format!("LinkedIn refused {action} ({said})"),
        },
    }
}

/// `text` in LinkedIn's "little text format": its reserved characters escaped, so they show
/// as written instead of cutting the post short.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '|'
                | '{'
                | '}'
                | '@'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '*'
                | '_'
                | '~'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A commentary as LinkedIn returns it, its escapes undone, whitespace collapsed.
fn comparable(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                plain.push(next);
            }
        } else {
            plain.push(c);
        }
    }
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let count = Network::Linkedin.count(&post.text);
    if count > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!("the text has {count} characters and LinkedIn allows {TEXT_LIMIT}"),
        });
    }
    if post.media.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and LinkedIn takes at most {MAX_IMAGES} in one post",
                post.media.len()
            ),
        });
    }
    if post.text.trim().is_empty() {
        return Err(SendError::Permanent {
            reason: "a LinkedIn post needs text".into(),
        });
    }
    Ok(())
}

#[async_trait]
impl Connector for LinkedinConnector {
    fn network(&self) -> Network {
        Network::Linkedin
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        if let Some(parent) = &post.reply_to {
            let body = json!({
                "actor": self.author,
                "object": parent,
                "message": { "text": post.text },
            });
            let reply = self
                .call(
                    Method::POST,
                    &["socialActions", parent, "comments"],
                    &[],
                    Some(&body),
                    "the reply",
                )
                .await?;
            let id = reply
                .headers
                .get("x-restli-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| SendError::OutcomeUnknown {
                    reason: "LinkedIn accepted the reply but named no comment id".into(),
                })?;
            return Ok(Delivered {
                remote_id: id,
                url: Some(post_url(parent)),
            });
        }
        let mut images = Vec::new();
        for image in &post.media {
            images.push(self.upload(image).await.map_err(before_post)?);
        }
        let mut body = json!({
            "author": self.author,
            "commentary": escape(&post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        match images.as_slice() {
            [] => {}
            [one] => body["content"] = json!({ "media": { "id": one } }),
            many => {
                let list: Vec<Value> = many.iter().map(|id| json!({ "id": id })).collect();
                body["content"] = json!({ "multiImage": { "images": list } });
            }
        }
        let reply = self
            .call(Method::POST, &["posts"], &[], Some(&body), "the post")
            .await?;
        let id = reply
            .headers
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| SendError::OutcomeUnknown {
                reason: "LinkedIn accepted the post but named no post id".into(),
            })?;
        Ok(Delivered {
            url: Some(post_url(&id)),
            remote_id: id,
        })
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    /// The author's recent posts since the first attempt with the same text.
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        if post.reply_to.is_some() {
            return Ok(Lookup::Unsupported);
        }
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let wanted = comparable(&escape(&post.text));
        let found = self.recent().await?.into_iter().find(|p| {
            comparable(&p.commentary) == wanted
                && p.created_at
                    .and_then(DateTime::from_timestamp_millis)
                    .is_none_or(|at| at >= since)
        });
        Ok(match found {
            Some(p) => Lookup::Found(Delivered {
                url: Some(post_url(&p.id)),
                remote_id: p.id,
            }),
            None => Lookup::NotFound,
        })
    }

    /// Reads the author's posts: the token works and may read as the author.
    async fn health(&self) -> Result<(), SendError> {
        self.recent().await.map(|_| ())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        match self
            .call(
                Method::DELETE,
                &["posts", remote_id],
                &[],
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

    /// The comments on the author's recent posts after `cursor` (the newest comment time
    /// read, Unix milliseconds), oldest first, the author's own left out: each post's
    /// comments read page by page (`start`, `count`). An organization's token needs
    /// `r_organization_social`; LinkedIn lets only approved partners read a member's.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_comments(cursor).await
    }

    /// A comment read earlier as a mention (`urn:li:comment:({post},{id})`), as it is now
    /// (`GET /socialActions/{post}/comments/{id}`); `None` once deleted.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_comment_again(id).await
    }

    /// Likes and comments of `posts`; an organization's followers.
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_escaped_and_compared_unescaped() {
        assert_eq!(
            escape("Sale (20%) #new @team"),
            "Sale \\(20%\\) \\#new \\@team"
        );
        assert_eq!(comparable(&escape("a_b  *c*")), "a_b *c*");
    }
}
