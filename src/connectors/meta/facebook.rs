//! The `facebook` network: posts on a Facebook Page, as the Page, through the Graph client.
//!
//! ```yaml
//! accounts:
//!   brand_facebook:
//!     network: facebook
//!     page: '104000000000001'          # the Page's id
//!     token: env:FACEBOOK_PAGE_TOKEN   # a Page access token, or in a `file:` a token set
//!     # client_id: '1234567890123456'  # with client_secret: renews a long-lived user token
//!     # client_secret: env:META_APP_SECRET   # and reads the Page's token with it (`token.rs`)
//! ```
//!
//! Endpoints: `POST /{page}/feed` (`message`), one image through `POST /{page}/photos`
//! (`source` and `caption`), several as unpublished photos attached to the feed post
//! (`attached_media`); replies are comments (`POST /{post-or-comment}/comments`); `DELETE
//! /{id}`; comments read through `GET /{page}/posts` and `GET /{post}/comments` (paged with
//! `after` cursors); counts through the post's `likes`, `comments` and `shares` summaries and
//! its `post_impressions` insight, followers through `GET /{page}?fields=followers_count`.
//!
//! Exactly once: a Page post takes no idempotency key, so after an unknown outcome `lookup`
//! reads the Page's posts since the first attempt (`since`) for the same text.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use reqwest::multipart::Form;
use serde::Deserialize;
use serde_json::json;

use super::graph::Graph;
use super::metrics::{Counts, Insight};
use super::parse_time;
use crate::connectors::paging::{numeric_cursor, oldest_first, read_before};
use crate::connectors::registry::{AccountSetup, ConnectorError};
use crate::connectors::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

/// The Graph API version every Facebook call pins.
pub const SERVER: &str = "https://graph.facebook.com/v21.0";
const HELP: &str = "see \"Facebook\" under Networks in crier's README";
/// The Page's recent posts read for comments and for `lookup`.
const RECENT: u32 = 10;
/// Comments asked for per page.
const COMMENTS_PAGE: u32 = 100;
/// The most pages of one post's comments read in one call.
const MAX_PAGES: usize = 10;
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

#[derive(Debug)]
pub struct FacebookConnector {
    account: String,
    graph: Graph,
    page: String,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    #[serde(default)]
    post_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Post {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    parent: Option<Parent>,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct From {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Parent {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct Summary {
    #[serde(default)]
    total_count: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Summarised {
    #[serde(default)]
    summary: Summary,
}

#[derive(Debug, Default, Deserialize)]
struct Shares {
    #[serde(default)]
    count: u64,
}

/// A Page post's counts: its `likes`, `comments` and `shares` summaries.
#[derive(Debug, Deserialize)]
struct Summaries {
    #[serde(default)]
    likes: Option<Summarised>,
    #[serde(default)]
    comments: Option<Summarised>,
    #[serde(default)]
    shares: Option<Shares>,
}

impl FacebookConnector {
    pub fn new(account: impl Into<String>, graph: Graph, page: impl Into<String>) -> Self {
        FacebookConnector {
            account: account.into(),
            graph,
            page: page.into(),
        }
    }

    /// The Graph client of a Facebook Page account.
    pub fn graph(
        server: reqwest::Url,
        token: crate::connectors::Secret,
        client: reqwest::Client,
    ) -> Graph {
        Graph::new(server, token, client, "Facebook", HELP)
    }

    /// The connector of a `facebook` account: `page`, `token`, and optionally `server`, and
    /// `client_id` and `client_secret` to renew a long-lived token (`meta::token`).
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let page = setup
            .required(Network::Facebook, "page", &setup.config.page)?
            .to_owned();
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => reqwest::Url::parse(SERVER).expect("the default server is a URL"),
        };
        let token = super::graph_token(setup, Network::Facebook, Some(&page))?;
        let graph = Graph::with_token(server, token, setup.client.clone(), "Facebook", HELP);
        Ok(FacebookConnector::new(setup.name, graph, page))
    }

    /// Uploads `path` as a photo of the Page: published with `caption`, or not published
    /// (to attach to a feed post) without.
    async fn photo(&self, path: &Path, caption: Option<&str>) -> Result<Created, SendError> {
        let part = crate::connectors::upload::image_part(path).await?;
        let mut form = Form::new().part("source", part);
        match caption {
            Some(caption) => form = form.text("caption", caption.to_owned()),
            None => form = form.text("published", "false"),
        }
        self.graph
            .upload(&[&self.page, "photos"], form, "the photo")
            .await
    }

    async fn recent(
        &self,
        since: Option<DateTime<Utc>>,
        action: &str,
    ) -> Result<Vec<Post>, SendError> {
        let mut params = vec![
            ("fields", "id,message,created_time,permalink_url".to_owned()),
            ("limit", RECENT.to_string()),
        ];
        if let Some(since) = since {
            params.push(("since", since.timestamp().to_string()));
        }
        let page: Page<Post> = self
            .graph
            .call(Method::GET, &[&self.page, "posts"], &params, action)
            .await?;
        Ok(page.data)
    }

    /// Every comment under `post` (replies included), oldest first.
    async fn comments(&self, post: &str) -> Result<Vec<Comment>, SendError> {
        let mut comments = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = vec![
                (
                    "fields",
                    "id,message,created_time,from{id,name},parent{id},permalink_url".to_owned(),
                ),
                ("filter", "stream".into()),
                ("order", "chronological".into()),
                ("limit", COMMENTS_PAGE.to_string()),
            ];
            if let Some(after) = &after {
                params.push(("after", after.clone()));
            }
            let page: Page<Comment> = self
                .graph
                .call(
                    Method::GET,
                    &[post, "comments"],
                    &params,
                    "reading comments",
                )
                .await?;
            comments.extend(page.data);
            let paging = page.paging.unwrap_or(Paging {
                cursors: None,
                next: None,
            });
            match (paging.next, paging.cursors.and_then(|c| c.after)) {
                (Some(_), Some(cursor)) => after = Some(cursor),
                _ => break,
            }
        }
        Ok(comments)
    }

    fn mention(&self, post: &str, comment: Comment) -> Mention {
        let from = comment.from;
        Mention {
            author: Author {
                id: from.as_ref().map(|f| f.id.clone()).unwrap_or_default(),
                handle: from
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .unwrap_or_default(),
                display_name: from.and_then(|f| f.name),
                ..Author::default()
            },
            in_reply_to: Some(
                comment
                    .parent
                    .map(|p| p.id)
                    .unwrap_or_else(|| post.to_owned()),
            ),
            url: comment.permalink_url,
            created_at: comment
                .created_time
                .as_deref()
                .and_then(parse_time)
                .unwrap_or_default(),
            text: comment.message,
            id: comment.id,
            edited_at: None,
        }
    }
}

fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A failure before the post itself was sent cannot have published anything.
fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let count = Network::Facebook.count(&post.text);
    let max = Network::Facebook
        .profile()
        .text
        .max
        .expect("Facebook has a limit");
    if count > max {
        return Err(SendError::Permanent {
            reason: format!("the text has {count} characters and Facebook allows {max} in a post"),
        });
    }
    if post.media.len() > ATTACHED.len() {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and crier attaches at most {} to a Facebook post",
                post.media.len(),
                ATTACHED.len()
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

#[async_trait]
impl Connector for FacebookConnector {
    fn network(&self) -> Network {
        Network::Facebook
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        if let Some(parent) = &post.reply_to {
            if post.media.len() > 1 {
                return Err(SendError::Permanent {
                    reason: "a Facebook comment takes one image".into(),
                });
            }
            let mut params = vec![("message", post.text.clone())];
            if let Some(image) = post.media.first() {
                let photo = self.photo(image, None).await.map_err(before_post)?;
                params.push(("attachment_id", photo.id));
            }
            let created: Created = self
                .graph
                .call(Method::POST, &[parent, "comments"], &params, "the reply")
                .await?;
            return Ok(Delivered {
                remote_id: created.id,
                url: None,
            });
        }
        let created = match post.media.as_slice() {
            [image] => {
                let photo = self.photo(image, Some(&post.text)).await?;
                Created {
                    id: photo.post_id.unwrap_or(photo.id),
                    post_id: None,
                }
            }
            images => {
                let mut params = vec![("message", post.text.clone())];
                let mut attached = Vec::new();
                for image in images {
                    let photo = self.photo(image, None).await.map_err(before_post)?;
                    attached.push(photo.id);
                }
                for (index, id) in attached.iter().enumerate() {
                    params.push((ATTACHED[index], json!({ "media_fbid": id }).to_string()));
                }
                self.graph
                    .call(Method::POST, &[&self.page, "feed"], &params, "the post")
                    .await?
            }
        };
        let permalink = self
            .graph
            .call::<Post>(
                Method::GET,
                &[&created.id],
                &[("fields", "id,permalink_url".into())],
                "reading the post's address",
            )
            .await
            .ok()
            .and_then(|p| p.permalink_url);
        Ok(Delivered {
            remote_id: created.id,
            url: permalink,
        })
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    /// The Page's posts since the first attempt with the same text (a reply: the parent's
    /// comments by the Page).
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let wanted = comparable(&post.text);
        if let Some(parent) = &post.reply_to {
            let found = self.comments(parent).await?.into_iter().find(|c| {
                c.from.as_ref().is_some_and(|f| f.id == self.page)
                    && comparable(&c.message) == wanted
                    && c.created_time
                        .as_deref()
                        .and_then(parse_time)
                        .is_none_or(|at| at >= since)
            });
            return Ok(match found {
                Some(c) => Lookup::Found(Delivered {
                    remote_id: c.id,
                    url: None,
                }),
                None => Lookup::NotFound,
            });
        }
        let found = self
            .recent(Some(since), "looking the post up")
            .await?
            .into_iter()
            .find(|p| {
                comparable(p.message.as_deref().unwrap_or("")) == wanted
                    && p.created_time
                        .as_deref()
                        .and_then(parse_time)
                        .is_none_or(|at| at >= since)
            });
        Ok(match found {
            Some(p) => Lookup::Found(Delivered {
                remote_id: p.id,
                url: p.permalink_url,
            }),
            None => Lookup::NotFound,
        })
    }

    /// Reads the Page with the token: the token works and names a Page it may read.
    async fn health(&self) -> Result<(), SendError> {
        self.graph
            .call::<serde_json::Value>(
                Method::GET,
                &[&self.page],
                &[("fields", "id,name".into())],
                "the check of the Page",
            )
            .await
            .map(|_| ())
    }

    async fn data_access_expires_at(&self) -> Result<Option<DateTime<Utc>>, SendError> {
        self.graph.data_access_expires_at().await
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        match self
            .graph
            .call::<serde_json::Value>(Method::DELETE, &[remote_id], &[], "the deletion")
            .await
        {
            Ok(_) => Ok(()),
            Err(SendError::Permanent { reason }) if reason.contains("(code 100:") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Comments on the Page's recent posts after `cursor` (the newest comment time read, in
    /// Unix seconds), oldest first, the Page's own left out.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let after = numeric_cursor(cursor, "a Facebook comments cursor")?;
        let mut mentions = Vec::new();
        let mut newest = after;
        for post in self.recent(None, "reading comments").await? {
            for comment in self.comments(&post.id).await? {
                let at = comment
                    .created_time
                    .as_deref()
                    .and_then(parse_time)
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                newest = Some(newest.map_or(at, |n| n.max(at)));
                let own = comment.from.as_ref().is_some_and(|f| f.id == self.page);
                if own || read_before(at, after) {
                    continue;
                }
                mentions.push(self.mention(&post.id, comment));
            }
        }
        Ok(oldest_first(mentions, newest, after))
    }

    /// Likes, shares, comments and impressions of `posts`, and the Page's followers.
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let page: Counts = self
            .graph
            .call(
                Method::GET,
                &[&self.page],
                &[("fields", "followers_count".into())],
                "reading the followers",
            )
            .await?;
        let mut metrics = Vec::new();
        for id in posts {
            let counts: Summaries = self
                .graph
                .call(
                    Method::GET,
                    &[id],
                    &[(
                        "fields",
                        "likes.summary(true).limit(0),comments.summary(true).limit(0),shares"
                            .into(),
                    )],
                    "reading the post's counts",
                )
                .await?;
            let insights: Page<Insight> = self
                .graph
                .call(
                    Method::GET,
                    &[id, "insights"],
                    &[("metric", "post_impressions".into())],
                    "reading the post's impressions",
                )
                .await?;
            let views = Insight::first_value(&insights.data, "post_impressions");
            metrics.push(PostMetrics {
                remote_id: id.clone(),
                likes: counts.likes.map_or(0, |l| l.summary.total_count),
                reposts: counts.shares.map_or(0, |s| s.count),
                replies: counts.comments.map_or(0, |c| c.summary.total_count),
                views,
            });
        }
        Ok(MetricsSnapshot {
            followers: page.followers_count,
            posts: metrics,
        })
    }
}

/// `attached_media[0]`, `attached_media[1]`, …: the form keys of a feed post's photos.
const ATTACHED: [&str; 10] = [
    "attached_media[0]",
    "attached_media[1]",
    "attached_media[2]",
    "attached_media[3]",
    "attached_media[4]",
    "attached_media[5]",
    "attached_media[6]",
    "attached_media[7]",
    "attached_media[8]",
    "attached_media[9]",
];
