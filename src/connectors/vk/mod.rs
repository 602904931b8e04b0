//! The `vk` network: posts on a VK community's wall through the VK API, as the community.
//!
//! Set up: the token is a user access token of an administrator of the community, with the
//! scopes `wall`, `photos`, `groups` and `offline` (`offline` makes it never expire; VK does
//! not let community tokens call `wall.post`). In `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   brand_vk:
//!     network: vk
//!     token: env:VK_TOKEN     # a user token of a community administrator (a secret)
//!     group: '212345678'      # the community's id (the number in vk.com/club212345678)
//!     server: https://api.vk.com  # optional
//! ```
//!
//! Every call is `POST {server}/method/{method}` with the parameters, `access_token` and the
//! pinned API version `v` as a form (the token never appears in a URL).
//!
//! Endpoints: `wall.post` (`owner_id` the community's id made negative, `from_group=1`,
//! `message` up to 16,384 characters, `attachments`, `guid`), images through
//! `photos.getWallUploadServer` → upload → `photos.saveWallPhoto` (up to 10 per post),
//! replies through `wall.createComment` (to a post, or to a comment with
//! `reply_to_comment`), `wall.delete` and `wall.deleteComment`, comments through `wall.get`
//! and `wall.getComments` (and one again, at a contest's close, through `wall.getComment`),
//! metrics through `wall.getById` and `groups.getById`.
//!
//! Exactly once: every post and comment carries `guid`, derived from the idempotency key;
//! VK publishes a second request with the same `guid` as the same post. VK honours a `guid`
//! for about an hour, so after an outcome-unknown failure `lookup` also reads the wall's
//! recent posts (or the post's recent comments) for the same text.
//!
//! Rate limits: error 6 (three calls a second) waits a second, error 9 (flood control)
//! fifteen minutes, error 29 (the method's daily quota) an hour; a community may publish 50
//! posts a day (error 214, permanent).
//!
//! Not done here: searching posts by hashtag (VK's `newsfeed.search` could; crier does not
//! use it yet, so validation refuses a `from: hashtag` contest on VK), and direct messages
//! (community messages need a separate community token and the person's consent).

pub mod api;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Url;
use reqwest::multipart::Form;
use sha2::{Digest, Sha256};

use self::api::{
    ACCESS_DENIED, Comment, Created, Groups, INVALID_PARAMETER, Items, Profile, SavedPhoto,
    UploadServer, Uploaded, WallPost,
};
use super::http;
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

/// VK's API server.
pub const DEFAULT_SERVER: &str = "https://api.vk.com";
/// The API version every call asks for: answers keep this shape whatever VK adds later.
pub const API_VERSION: &str = "5.199";
/// The longest post, in characters.
const TEXT_LIMIT: usize = Network::Vk.profile().text.max.expect("VK has a limit");
/// The most images on one post.
const MAX_IMAGES: usize = Network::Vk.profile().max_images.expect("VK has a limit");
/// Posts read for comments and for `lookup`.
const RECENT_POSTS: u32 = 20;
/// Comments asked for per page (VK's maximum).
const COMMENTS_PAGE: u32 = 100;
/// The most pages of one post's comments read in one call.
const MAX_COMMENT_PAGES: u32 = 10;
/// How far back `lookup` looks.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);

#[derive(Debug)]
pub struct VkConnector {
    account: String,
    server: Url,
    token: Secret,
    /// The community's id (positive); its wall is `-group`.
    group: i64,
    client: reqwest::Client,
}

/// Where a reply goes, or what a remote id names: a post, or a comment under one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Post(i64),
    Comment { post: i64, comment: i64 },
}

impl Target {
    /// `123` is a post, `123_456` comment 456 under post 123.
    fn parse(remote_id: &str) -> Result<Target, SendError> {
        let bad = || SendError::Permanent {
            reason: format!("`{remote_id}` is not the id of a VK post or comment"),
        };
        let number = |s: &str| s.trim().parse::<i64>().map_err(|_| bad());
        match remote_id.split_once('_') {
            None => Ok(Target::Post(number(remote_id)?)),
            Some((post, comment)) => Ok(Target::Comment {
                post: number(post)?,
                comment: number(comment)?,
            }),
        }
    }
}

impl VkConnector {
    pub fn new(
        account: impl Into<String>,
        server: Url,
        token: Secret,
        group: i64,
        client: reqwest::Client,
    ) -> Self {
        VkConnector {
            account: account.into(),
            server,
            token,
            group,
            client,
        }
    }

    /// The connector of a `vk` account: `token`, `group`, and optionally `server`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let group = setup.required(Network::Vk, "group", &setup.config.group)?;
        let group = group
            .strip_prefix("club")
            .or_else(|| group.strip_prefix("public"))
            .unwrap_or(group)
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| ConnectorError::InvalidField {
                account: setup.name.into(),
                field: "group",
                reason: format!(
                    "`{group}` is not a community id: write the number from vk.com/club<number>"
                ),
            })?;
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(DEFAULT_SERVER).expect("the default server is a URL"),
        };
        let token = setup.required_secret(Network::Vk, "token")?;
        Ok(VkConnector::new(
            setup.name,
            server,
            token,
            group,
            setup.client.clone(),
        ))
    }

    fn owner_id(&self) -> String {
        (-self.group).to_string()
    }

    fn post_url(&self, post: i64) -> String {
        format!("https://vk.com/wall-{}_{post}", self.group)
    }

    /// Calls `method` with `params` (plus the token and the API version).
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: &[(&str, String)],
        action: &str,
    ) -> Result<T, SendError> {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .push("method")
            .push(method);
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("access_token", self.token.expose().to_owned()));
        form.push(("v", API_VERSION.to_owned()));
        let reply = http::fetch(self.client.post(url).form(&form)).await?;
        api::response(&reply, action)
    }

    /// Uploads `path` to the wall's upload server; the attachment `photo{owner}_{id}`.
    async fn upload_photo(&self, path: &Path) -> Result<String, SendError> {
        let server: UploadServer = self
            .call(
                "photos.getWallUploadServer",
                &[("group_id", self.group.to_string())],
                "asking where to upload an image",
            )
            .await
            .map_err(before_post)?;
        let upload_url = Url::parse(&server.upload_url).map_err(|_| SendError::Permanent {
            reason: "VK named an upload server that is not a URL".into(),
        })?;
        let form = Form::new().part("photo", crate::connectors::upload::image_part(path).await?);
        let reply = http::execute(self.client.post(upload_url).multipart(form))
            .await
            .map_err(before_post)?;
        let uploaded: Uploaded =
            serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: format!(
                    "VK's upload server did not take the image `{}`",
                    path.display()
                ),
            })?;
        if uploaded.photo.trim().is_empty() || uploaded.photo == "[]" {
            return Err(SendError::Permanent {
                reason: format!("VK did not accept `{}` as an image", path.display()),
            });
        }
        let saved: Vec<SavedPhoto> = self
            .call(
                "photos.saveWallPhoto",
                &[
                    ("group_id", self.group.to_string()),
                    ("server", uploaded.server.to_string()),
                    ("photo", uploaded.photo),
                    ("hash", uploaded.hash),
                ],
                "saving an image",
            )
            .await
            .map_err(before_post)?;
        let photo = saved.first().ok_or_else(|| SendError::Transient {
            reason: "VK saved no image".into(),
        })?;
        Ok(format!("photo{}_{}", photo.owner_id, photo.id))
    }

    /// The wall's most recent posts, newest first.
    async fn recent_posts(&self, action: &str) -> Result<Vec<WallPost>, SendError> {
        let posts: Items<WallPost> = self
            .call(
                "wall.get",
                &[
                    ("owner_id", self.owner_id()),
                    ("count", RECENT_POSTS.to_string()),
                    ("filter", "owner".into()),
                ],
                action,
            )
            .await?;
        Ok(posts.items)
    }

    /// Every comment under `post` (replies in threads included), oldest first, with the
    /// people who wrote them.
    async fn comments(&self, post: i64) -> Result<(Vec<Comment>, Vec<Profile>), SendError> {
        let mut comments = Vec::new();
        let mut profiles = Vec::new();
        for page in 0..MAX_COMMENT_PAGES {
            let items: Items<Comment> = self
                .call(
                    "wall.getComments",
                    &[
                        ("owner_id", self.owner_id()),
                        ("post_id", post.to_string()),
                        ("count", COMMENTS_PAGE.to_string()),
                        ("offset", (page * COMMENTS_PAGE).to_string()),
                        ("sort", "asc".into()),
                        ("thread_items_count", "10".into()),
                        ("extended", "1".into()),
                        ("fields", "screen_name".into()),
                    ],
                    "reading comments",
                )
                .await?;
            let read = items.items.len() as u64;
            profiles.extend(items.profiles);
            for mut comment in items.items {
                let thread = comment.thread.take().unwrap_or_default();
                comments.push(comment);
                comments.extend(thread.items);
            }
            if read < u64::from(COMMENTS_PAGE)
                || u64::from((page + 1) * COMMENTS_PAGE) >= items.count
            {
                break;
            }
        }
        Ok((comments, profiles))
    }
}

impl VkConnector {
    /// A comment under `post` as a mention, its author from `profiles`.
    fn mention(&self, post: i64, comment: Comment, profiles: &[Profile]) -> Mention {
        let profile = profiles.iter().find(|p| p.id == comment.from_id);
        let handle = profile
            .and_then(|p| p.screen_name.clone())
            .unwrap_or_else(|| format!("id{}", comment.from_id));
        let display_name = profile
            .map(|p| {
                format!("{} {}", p.first_name, p.last_name)
                    .trim()
                    .to_owned()
            })
            .filter(|name| !name.is_empty());
        Mention {
            id: format!("{post}_{}", comment.id),
            author: Author {
                id: comment.from_id.to_string(),
                handle,
                display_name,
                ..Author::default()
            },
            in_reply_to: Some(match comment.reply_to_comment {
                Some(parent) => format!("{post}_{parent}"),
                None => post.to_string(),
            }),
            url: Some(format!("{}?reply={}", self.post_url(post), comment.id)),
            created_at: time(comment.date),
            text: comment.text,
            edited_at: None,
        }
    }
}

/// A failure before `wall.post` was sent cannot have published anything.
fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// The `guid` VK deduplicates by: a digest of the idempotency key (VK limits its length).
pub fn guid(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("crier-{}", &hex::encode(digest)[..32])
}

/// Refuses what VK would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let count = Network::Vk.count(&post.text);
    if count > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!("the text has {count} characters and VK allows {TEXT_LIMIT} in a post"),
        });
    }
    if post.media.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and VK takes at most {MAX_IMAGES} in one post",
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

/// Whitespace collapsed, to compare a sent text with what VK shows.
fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn time(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

/// A deletion VK refuses because the post or comment is already gone.
fn already_gone(err: &SendError) -> bool {
    let reason = err.reason();
    [ACCESS_DENIED, INVALID_PARAMETER]
        .iter()
        .any(|code| reason.contains(&format!("(error {code}:")))
        && (reason.contains("deleted") || reason.contains("not found"))
}

#[async_trait]
impl Connector for VkConnector {
    fn network(&self) -> Network {
        Network::Vk
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        let reply_to = post.reply_to.as_deref().map(Target::parse).transpose()?;
        let mut attachments = Vec::new();
        for image in &post.media {
            attachments.push(self.upload_photo(image).await?);
        }
        let mut params = vec![
            ("owner_id", self.owner_id()),
            ("message", post.text.clone()),
            ("guid", guid(&post.idempotency_key)),
        ];
        if !attachments.is_empty() {
            params.push(("attachments", attachments.join(",")));
        }
        match reply_to {
            None => {
                params.push(("from_group", "1".into()));
                let created: Created = self.call("wall.post", &params, "the post").await?;
                let id = created.post_id.ok_or_else(|| SendError::OutcomeUnknown {
                    reason: "VK accepted the post but named no post id".into(),
                })?;
                Ok(Delivered {
                    remote_id: id.to_string(),
                    url: Some(self.post_url(id)),
                })
            }
            Some(target) => {
                let (post_id, comment) = match target {
                    Target::Post(post) => (post, None),
                    Target::Comment { post, comment } => (post, Some(comment)),
                };
                params.push(("post_id", post_id.to_string()));
                params.push(("from_group", self.group.to_string()));
                if let Some(comment) = comment {
                    params.push(("reply_to_comment", comment.to_string()));
                }
                let created: Created = self
                    .call("wall.createComment", &params, "the reply")
                    .await?;
                let id = created
                    .comment_id
                    .ok_or_else(|| SendError::OutcomeUnknown {
                        reason: "VK accepted the reply but named no comment id".into(),
                    })?;
                Ok(Delivered {
                    remote_id: format!("{post_id}_{id}"),
                    url: Some(format!("{}?reply={id}", self.post_url(post_id))),
                })
            }
        }
    }

    /// The same text among the wall's recent posts (or the post's comments by the
    /// community) from the last six hours.
    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let wanted = comparable(&post.text);
        let since = Utc::now() - LOOKUP_WINDOW;
        match post.reply_to.as_deref().map(Target::parse).transpose()? {
            None => {
                let found = self
                    .recent_posts("looking the post up")
                    .await?
                    .into_iter()
                    .find(|p| {
                        time(p.date) >= since
                            && comparable(&p.text) == wanted
                            && p.attachments.len() == post.media.len()
                    });
                Ok(match found {
                    Some(p) => Lookup::Found(Delivered {
                        remote_id: p.id.to_string(),
                        url: Some(self.post_url(p.id)),
                    }),
                    None => Lookup::NotFound,
                })
            }
            Some(Target::Post(post_id) | Target::Comment { post: post_id, .. }) => {
                let (comments, _) = self.comments(post_id).await?;
                let found = comments.into_iter().find(|c| {
                    c.from_id == -self.group
                        && time(c.date) >= since
                        && comparable(&c.text) == wanted
                });
                Ok(match found {
                    Some(c) => Lookup::Found(Delivered {
                        remote_id: format!("{post_id}_{}", c.id),
                        url: Some(format!("{}?reply={}", self.post_url(post_id), c.id)),
                    }),
                    None => Lookup::NotFound,
                })
            }
        }
    }

    /// `groups.getById` checks the token and that its user administers the community.
    async fn health(&self) -> Result<(), SendError> {
        let groups: Groups = self
            .call(
                "groups.getById",
                &[
                    ("group_id", self.group.to_string()),
                    ("fields", "members_count".into()),
                ],
                "the check of the community",
            )
            .await?;
        let group = groups.groups.first().ok_or_else(|| SendError::Permanent {
            reason: format!("VK does not know the community {}", self.group),
        })?;
        if group.is_admin != Some(1) {
            return Err(SendError::Permanent {
                reason: format!(
                    "the token's user does not administer the community `{}` ({}): VK lets only its administrators post as it",
                    group.name, self.group
                ),
            });
        }
        Ok(())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let result = match Target::parse(remote_id)? {
            Target::Post(post) => {
                self.call::<serde_json::Value>(
                    "wall.delete",
                    &[("owner_id", self.owner_id()), ("post_id", post.to_string())],
                    "the deletion",
                )
                .await
            }
            Target::Comment { comment, .. } => {
                self.call::<serde_json::Value>(
                    "wall.deleteComment",
                    &[
                        ("owner_id", self.owner_id()),
                        ("comment_id", comment.to_string()),
                    ],
                    "the deletion",
                )
                .await
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) if already_gone(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Comments on the wall's recent posts after `cursor` (the highest comment id read; VK
    /// numbers a wall's comments in order), oldest first, the community's own left out.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let after = match cursor {
            Some(cursor) => cursor
                .trim()
                .parse::<i64>()
                .map_err(|_| SendError::Permanent {
                    reason: format!("`{cursor}` is not a VK comment cursor"),
                })?,
            None => 0,
        };
        let mut mentions = Vec::new();
        let mut highest = after;
        for post in self.recent_posts("reading comments").await? {
            if post.comments.count == 0 {
                continue;
            }
            let (comments, profiles) = self.comments(post.id).await?;
            for comment in comments {
                highest = highest.max(comment.id);
                if comment.id <= after || comment.from_id == -self.group {
                    continue;
                }
                mentions.push(self.mention(post.id, comment, &profiles));
            }
        }
        mentions.sort_by_key(|m| (m.created_at, m.id.clone()));
        Ok(MentionPage {
            mentions,
            cursor: (highest > after).then(|| highest.to_string()),
        })
    }

    /// A comment read earlier through `mentions` (`post_comment`), as it is now
    /// (`wall.getComment`); `None` once its author deleted it.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let Target::Comment { post, comment } = Target::parse(id)? else {
            return Err(SendError::Permanent {
                reason: format!("`{id}` is a post; crier reads comments again, not posts"),
            });
        };
        let read = self
            .call::<Items<Comment>>(
                "wall.getComment",
                &[
                    ("owner_id", self.owner_id()),
                    ("comment_id", comment.to_string()),
                    ("extended", "1".into()),
                    ("fields", "screen_name".into()),
                ],
                "reading a comment again",
            )
            .await;
        let read = match read {
            Ok(read) => read,
            Err(err) if already_gone(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(read
            .items
            .into_iter()
            .find(|c| c.id == comment && !c.deleted)
            .map(|c| self.mention(post, c, &read.profiles)))
    }

    /// Likes, reposts, comments and views of `posts` (`wall.getById`), and the community's
    /// members (`groups.getById`).
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let groups: Groups = self
            .call(
                "groups.getById",
                &[
                    ("group_id", self.group.to_string()),
                    ("fields", "members_count".into()),
                ],
                "reading the community's members",
            )
            .await?;
        let followers = groups.groups.first().and_then(|g| g.members_count);
        let mut wall_ids = Vec::new();
        for remote_id in posts {
            if let Target::Post(id) = Target::parse(remote_id)? {
                wall_ids.push(format!("-{}_{id}", self.group));
            }
        }
        let mut metrics = Vec::new();
        if !wall_ids.is_empty() {
            let read: Items<WallPost> = self
                .call(
                    "wall.getById",
                    &[("posts", wall_ids.join(",")), ("extended", "1".into())],
                    "reading the posts' counts",
                )
                .await?;
            metrics = read
                .items
                .into_iter()
                .map(|p| PostMetrics {
                    remote_id: p.id.to_string(),
                    likes: p.likes.count,
                    reposts: p.reposts.count,
                    replies: p.comments.count,
                    views: Some(p.views.count),
                })
                .collect();
        }
        Ok(MetricsSnapshot {
            followers,
            posts: metrics,
        })
    }
}
