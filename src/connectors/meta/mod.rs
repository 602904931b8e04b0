//! Meta's networks on one Graph client (`graph.rs`): `facebook` (a Page, `facebook.rs`), and
//! here `instagram` (a professional account, through `graph.facebook.com`) and `threads`
//! (through `graph.threads.net`). These two publish in
//! two steps: a media container is created (`POST /{user}/media`, `POST /{user}/threads`),
//! then published (`…/media_publish`, `…/threads_publish` with `creation_id`); several images
//! make a carousel of item containers.
//!
//! ```yaml
//! accounts:
//!   brand_instagram:
//!     network: instagram
//!     user: '17841400000000000'         # the Instagram professional account's id
//!     token: env:INSTAGRAM_TOKEN        # a long-lived token with instagram_content_publish
//!     media_url: https://cdn.example.com/crier/  # where the post's image files are public
//!   brand_threads:
//!     network: threads
//!     user: '27100000000000000'         # the Threads user id
//!     token: env:THREADS_TOKEN          # threads_basic, threads_content_publish, threads_manage_insights
//!     media_url: https://cdn.example.com/crier/  # needed only for images
//! ```
//!
//! Meta fetches images itself, so an image `img/launch.png` goes out as
//! `{media_url}launch.png`: the account's `media_url` must serve crier's image files by name.
//!
//! Exactly once: the container's id is kept per idempotency key, so a send retried after an
//! unknown outcome asks the container's status first (`status_code` on Instagram, `status` on
//! Threads): `PUBLISHED` means the post exists and it is found among the account's recent
//! posts; `FINISHED` means it was not published and the same container is published now,
//! never a second one. A process that never saw the container looks among the account's
//! posts since the first attempt for the same text.

pub mod facebook;
pub mod graph;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, Url};
use serde::Deserialize;

use self::graph::Graph;
use super::registry::{AccountSetup, ConnectorError};
use super::{Connector, Delivered, Lookup, MetricsSnapshot, OutgoingPost, PostMetrics, SendError};
use crate::network::Network;

/// The Graph API version every Instagram call pins.
pub const INSTAGRAM_SERVER: &str = "https://graph.facebook.com/v21.0";
/// The Threads API and its version.
pub const THREADS_SERVER: &str = "https://graph.threads.net/v1.0";
/// Instagram refuses a caption with more hashtags than this.
pub const MAX_HASHTAGS: usize = 30;
/// How far back a lookup reads when the first attempt's time is not known.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// How much earlier than the first attempt a lookup starts, for clocks that differ.
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);
/// Recent posts read by a lookup.
const RECENT: u32 = 25;

/// The two of Meta's networks that publish through containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Instagram,
    Threads,
}

impl Flavor {
    fn network(self) -> Network {
        match self {
            Flavor::Instagram => Network::Instagram,
            Flavor::Threads => Network::Threads,
        }
    }

    fn title(self) -> &'static str {
        self.network().profile().title
    }

    fn help(self) -> &'static str {
        match self {
            Flavor::Instagram => "see \"Instagram\" under Networks in crier's README",
            Flavor::Threads => "see \"Threads\" under Networks in crier's README",
        }
    }

    /// The edge containers are created on, and the one that publishes them.
    fn edges(self) -> (&'static str, &'static str) {
        match self {
            Flavor::Instagram => ("media", "media_publish"),
            Flavor::Threads => ("threads", "threads_publish"),
        }
    }

    /// The field of a post's text.
    fn text_field(self) -> &'static str {
        match self {
            Flavor::Instagram => "caption",
            Flavor::Threads => "text",
        }
    }

    /// The field of a container's status.
    fn status_field(self) -> &'static str {
        match self {
            Flavor::Instagram => "status_code",
            Flavor::Threads => "status",
        }
    }
}

#[derive(Debug)]
pub struct MetaConnector {
    account: String,
    flavor: Flavor,
    graph: Graph,
    user: String,
    /// Where the account's image files are public, ending in `/`.
    media_url: Option<Url>,
    /// Idempotency key → the container made for it.
    containers: Mutex<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default)]
    status_code: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct Recent {
    id: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Counts {
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    comments_count: Option<u64>,
    #[serde(default)]
    followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Insight {
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
    #[serde(default)]
    total_value: Option<InsightValue>,
}

#[derive(Debug, Deserialize)]
struct InsightValue {
    #[serde(default)]
    value: u64,
}

impl MetaConnector {
    pub fn new(
        account: impl Into<String>,
        flavor: Flavor,
        graph: Graph,
        user: impl Into<String>,
        media_url: Option<Url>,
    ) -> Self {
        MetaConnector {
            account: account.into(),
            flavor,
            graph,
            user: user.into(),
            media_url: media_url.map(media_base),
            containers: Mutex::new(HashMap::new()),
        }
    }

    /// The Graph client of an account on `flavor`'s network, `server` defaulting to Meta's.
    pub fn graph(
        flavor: Flavor,
        server: Url,
        token: super::Secret,
        client: reqwest::Client,
    ) -> Graph {
        Graph::new(server, token, client, flavor.title(), flavor.help())
    }

    /// The connector of an `instagram` or `threads` account: `user`, `token`, `media_url`
    /// (Instagram: required), and optionally `server`.
    pub fn from_config(
        setup: &mut AccountSetup<'_>,
        flavor: Flavor,
    ) -> Result<Self, ConnectorError> {
        let network = flavor.network();
        let user = setup
            .required(network, "user", &setup.config.user)?
            .to_owned();
        let server = match &setup.config.server {
            Some(server) => setup.http_url("server", &server.value)?,
            None => Url::parse(match flavor {
                Flavor::Instagram => INSTAGRAM_SERVER,
                Flavor::Threads => THREADS_SERVER,
            })
            .expect("the default server is a URL"),
        };
        let media_url = match (&setup.config.media_url, flavor) {
            (Some(url), _) => Some(setup.http_url("media_url", &url.value)?),
            (None, Flavor::Instagram) => return Err(setup.missing(network, "media_url")),
            (None, Flavor::Threads) => None,
        };
        let token = setup.required_secret(network, "token")?;
        let graph = Self::graph(flavor, server, token, setup.client.clone());
        Ok(MetaConnector::new(
            setup.name, flavor, graph, user, media_url,
        ))
    }

    fn title(&self) -> &'static str {
        self.flavor.title()
    }

    /// The public URL of an image file.
    fn image_url(&self, path: &Path) -> Result<String, SendError> {
        let base = self
            .media_url
            .as_ref()
            .ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "{} fetches images from a public address, and account `{}` has no `media_url`",
                    self.title(),
                    self.account
                ),
            })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| SendError::Permanent {
                reason: format!("`{}` is not an image file", path.display()),
            })?;
        base.join(&name)
            .map(String::from)
            .map_err(|err| SendError::Permanent {
                reason: format!("`{name}` cannot be put after `media_url`: {err}"),
            })
    }

    /// Refuses what the network would refuse, before anything is sent.
    fn check(&self, post: &OutgoingPost) -> Result<(), SendError> {
        let network = self.flavor.network();
        let profile = network.profile();
        let title = self.title();
        let count = network.count(&post.text);
        if let Some(max) = profile.text.max
            && count > max
        {
            return Err(SendError::Permanent {
                reason: format!("the text has {count} characters and {title} allows {max}"),
            });
        }
        if self.flavor == Flavor::Instagram {
            let hashtags = post
                .text
                .split_whitespace()
                .filter(|w| w.starts_with('#') && w.len() > 1)
                .count();
            if hashtags > MAX_HASHTAGS {
                return Err(SendError::Permanent {
                    reason: format!(
                        "the caption has {hashtags} hashtags and Instagram allows {MAX_HASHTAGS}"
                    ),
                });
            }
        }
        if profile.media_required && post.media.is_empty() {
            return Err(SendError::Permanent {
                reason: format!("{title} posts need an image, and this one has none"),
            });
        }
        if let Some(max) = profile.max_images
            && post.media.len() > max
        {
            return Err(SendError::Permanent {
                reason: format!(
                    "the post has {} images and {title} takes at most {max} in one post",
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

    /// Creates the container of `post` (with its carousel items); its id.
    async fn create_container(&self, post: &OutgoingPost) -> Result<String, SendError> {
        let (edge, _) = self.flavor.edges();
        let threads = self.flavor == Flavor::Threads;
        let mut params: Vec<(&str, String)> = Vec::new();
        if !post.text.is_empty() {
            params.push((self.flavor.text_field(), post.text.clone()));
        }
        if let Some(parent) = &post.reply_to {
            params.push(("reply_to_id", parent.clone()));
        }
        match post.media.as_slice() {
            [] => params.push(("media_type", "TEXT".into())),
            [image] => {
                if threads {
                    params.push(("media_type", "IMAGE".into()));
                }
                params.push(("image_url", self.image_url(image)?));
            }
            images => {
                let mut children = Vec::new();
                for image in images {
                    let mut item = vec![
                        ("image_url", self.image_url(image)?),
                        ("is_carousel_item", "true".to_owned()),
                    ];
                    if threads {
                        item.push(("media_type", "IMAGE".into()));
                    }
                    let child: Id = self
                        .graph
                        .call(Method::POST, &[&self.user, edge], &item, "a carousel image")
                        .await
                        .map_err(before_publish)?;
                    children.push(child.id);
                }
                params.push(("media_type", "CAROUSEL".into()));
                params.push(("children", children.join(",")));
            }
        }
        let container: Id = self
            .graph
            .call(
                Method::POST,
                &[&self.user, edge],
                &params,
                "the post's container",
            )
            .await
            .map_err(before_publish)?;
        Ok(container.id)
    }

    /// The status of a container: `FINISHED`, `PUBLISHED`, `IN_PROGRESS`, `ERROR`, `EXPIRED`.
    async fn status(&self, container: &str) -> Result<(String, Option<String>), SendError> {
        let field = self.flavor.status_field();
        let status: Status = self
            .graph
            .call(
                Method::GET,
                &[container],
                &[("fields", format!("{field},error_message"))],
                "reading the container's status",
            )
            .await?;
        let value = status
            .status_code
            .or(status.status)
            .unwrap_or_default()
            .to_ascii_uppercase();
        Ok((value, status.error_message))
    }

    /// The account's posts from `since` on, newest first.
    async fn recent(&self, since: DateTime<Utc>) -> Result<Vec<Recent>, SendError> {
        let (edge, _) = self.flavor.edges();
        let fields = format!("id,{},timestamp,permalink", self.flavor.text_field());
        let mut params = vec![("fields", fields), ("limit", RECENT.to_string())];
        if self.flavor == Flavor::Threads {
            params.push(("since", since.timestamp().to_string()));
        }
        let page: Page<Recent> = self
            .graph
            .call(
                Method::GET,
                &[&self.user, edge],
                &params,
                "looking the post up",
            )
            .await?;
        Ok(page
            .data
            .into_iter()
            .filter(|p| {
                p.timestamp
                    .as_deref()
                    .and_then(parse_time)
                    .is_none_or(|at| at >= since)
            })
            .collect())
    }

    /// The post among the recent ones with `post`'s text.
    async fn find(
        &self,
        post: &OutgoingPost,
        since: DateTime<Utc>,
    ) -> Result<Option<Delivered>, SendError> {
        let wanted = comparable(&post.text);
        Ok(self
            .recent(since)
            .await?
            .into_iter()
            .find(|p| {
                comparable(p.caption.as_deref().or(p.text.as_deref()).unwrap_or("")) == wanted
            })
            .map(|p| Delivered {
                remote_id: p.id,
                url: p.permalink,
            }))
    }

    fn container_of(&self, key: &str) -> Option<String> {
        self.containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn remember(&self, key: &str, container: Option<String>) {
        let mut containers = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        match container {
            Some(container) => containers.insert(key.to_owned(), container),
            None => containers.remove(key),
        };
    }

    /// Publishes `container`; the post.
    async fn publish(&self, container: &str) -> Result<Delivered, SendError> {
        let (_, publish) = self.flavor.edges();
        let published: Id = self
            .graph
            .call(
                Method::POST,
                &[&self.user, publish],
                &[("creation_id", container.to_owned())],
                "the post",
            )
            .await?;
        let permalink = self
            .graph
            .call::<Recent>(
                Method::GET,
                &[&published.id],
                &[("fields", "id,permalink".into())],
                "reading the post's address",
            )
            .await
            .ok()
            .and_then(|p| p.permalink);
        Ok(Delivered {
            remote_id: published.id,
            url: permalink,
        })
    }
}

/// `url` as a base other paths join onto: ending in `/`.
fn media_base(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// A failure before the publish call cannot have published anything.
fn before_publish(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

fn comparable(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[async_trait]
impl Connector for MetaConnector {
    fn network(&self) -> Network {
        self.flavor.network()
    }

    fn account(&self) -> &str {
        &self.account
    }

    /// Creates the container (or takes the one made for this key before, when it is ready
    /// and unpublished) and publishes it.
    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.check(post)?;
        if let Some(container) = self.container_of(&post.idempotency_key) {
            let (status, _) = self.status(&container).await?;
            match status.as_str() {
                "PUBLISHED" => {
                    return self
                        .find(post, Utc::now() - LOOKUP_WINDOW)
                        .await?
                        .ok_or_else(|| SendError::Transient {
                            reason: format!(
                                "{} published the post but does not list it yet",
                                self.title()
                            ),
                        });
                }
                "FINISHED" | "IN_PROGRESS" => return self.publish(&container).await,
                _ => self.remember(&post.idempotency_key, None),
            }
        }
        let container = self.create_container(post).await?;
        self.remember(&post.idempotency_key, Some(container.clone()));
        let delivered = self.publish(&container).await?;
        self.remember(&post.idempotency_key, None);
        Ok(delivered)
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    /// The container's status when this process made it; otherwise (or once it says
    /// `PUBLISHED`) the account's posts since the first attempt.
    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        if let Some(container) = self.container_of(&post.idempotency_key) {
            let (status, error) = self.status(&container).await?;
            match status.as_str() {
                "PUBLISHED" => {}
                "FINISHED" | "IN_PROGRESS" => return Ok(Lookup::NotFound),
                other => {
                    self.remember(&post.idempotency_key, None);
                    if other == "ERROR" {
                        return Err(SendError::Permanent {
                            reason: format!(
                                "{} could not prepare the post ({})",
                                self.title(),
                                error.unwrap_or_else(|| "no reason given".into())
                            ),
                        });
                    }
                    return Ok(Lookup::NotFound);
                }
            }
        }
        Ok(match self.find(post, since).await? {
            Some(found) => Lookup::Found(found),
            None => Lookup::NotFound,
        })
    }

    /// Reads the account (`GET /{user}`): the token works and the id is the account's.
    async fn health(&self) -> Result<(), SendError> {
        self.graph
            .call::<Id>(
                Method::GET,
                &[&self.user],
                &[("fields", "id,username".into())],
                "the check of the account",
            )
            .await
            .map(|_| ())
    }

    fn health_limits(&self) -> Option<&'static str> {
        match self.flavor {
            Flavor::Instagram => Some("that `media_url` serves the images is not checked"),
            Flavor::Threads => None,
        }
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        if self.flavor == Flavor::Instagram {
            return Err(super::unsupported(self.network(), "delete posts"));
        }
        match self
            .graph
            .call::<serde_json::Value>(Method::DELETE, &[remote_id], &[], "the deletion")
            .await
        {
            Ok(_) => Ok(()),
            // Already gone: the Graph API answers code 100 for an object that does not exist.
            Err(SendError::Permanent { reason }) if reason.contains("(code 100:") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Instagram: likes and comments of each post, and the followers. Threads: views, likes,
    /// replies, reposts and quotes from each post's insights, and the followers.
    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let mut metrics = Vec::new();
        match self.flavor {
            Flavor::Instagram => {
                let account: Counts = self
                    .graph
                    .call(
                        Method::GET,
                        &[&self.user],
                        &[("fields", "followers_count".into())],
                        "reading the followers",
                    )
                    .await?;
                for id in posts {
                    let counts: Counts = self
                        .graph
                        .call(
                            Method::GET,
                            &[id],
                            &[("fields", "like_count,comments_count".into())],
                            "reading the post's counts",
                        )
                        .await?;
                    metrics.push(PostMetrics {
                        remote_id: id.clone(),
                        likes: counts.like_count.unwrap_or(0),
                        reposts: 0,
                        replies: counts.comments_count.unwrap_or(0),
                        views: None,
                    });
                }
                Ok(MetricsSnapshot {
                    followers: account.followers_count,
                    posts: metrics,
                })
            }
            Flavor::Threads => {
                let followers: Page<Insight> = self
                    .graph
                    .call(
                        Method::GET,
                        &[&self.user, "threads_insights"],
                        &[("metric", "followers_count".into())],
                        "reading the followers",
                    )
                    .await?;
                let followers = followers
                    .data
                    .iter()
                    .find(|i| i.name == "followers_count")
                    .and_then(|i| i.total_value.as_ref().or(i.values.first()))
                    .map(|v| v.value);
                for id in posts {
                    let insights: Page<Insight> = self
                        .graph
                        .call(
                            Method::GET,
                            &[id, "insights"],
                            &[("metric", "views,likes,replies,reposts,quotes".into())],
                            "reading the post's counts",
                        )
                        .await?;
                    let value = |name: &str| {
                        insights
                            .data
                            .iter()
                            .find(|i| i.name == name)
                            .and_then(|i| i.values.first().or(i.total_value.as_ref()))
                            .map(|v| v.value)
                    };
                    metrics.push(PostMetrics {
                        remote_id: id.clone(),
                        likes: value("likes").unwrap_or(0),
                        reposts: value("reposts").unwrap_or(0) + value("quotes").unwrap_or(0),
                        replies: value("replies").unwrap_or(0),
                        views: value("views"),
                    });
                }
                Ok(MetricsSnapshot {
                    followers,
                    posts: metrics,
                })
            }
        }
    }
}
