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
//! Exactly once: the container's id is kept with the send (in the store's outbox row, through
//! `post_resuming`; see `connectors::resume`) before it is published, so a send retried after
//! an unknown outcome, even after a crash and in another process, asks the container's status
//! first (`status_code` on Instagram, `status` on Threads): `PUBLISHED` means the post exists
//! and it is found among the account's recent posts; `FINISHED` means it was not published
//! and the same container is published now, never a second one. A send with no container
//! kept looks among the account's posts since the first attempt for the same text.
//!
//! Mentions: Instagram's are the comments on the account's recent posts, Threads' the replies
//! to the profile's recent posts (`GET /{post}/conversation`), read in `mentions.rs`; counts
//! and insights in `metrics.rs`. A token written as a token set is renewed before it expires
//! (`token.rs`); `crier accounts connect` signs in through Meta (`connect.rs`).

pub mod connect;
pub mod facebook;
pub mod graph;
mod mentions;
mod metrics;
pub mod token;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, Url};
use serde::Deserialize;

use self::graph::Graph;
use self::token::{GraphToken, Renewal};
use super::registry::{AccountSetup, ConnectorError};
use super::resume::{LocalHandles, Resume};
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
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
/// Instagram: the recent posts whose comments are read.
const COMMENT_MEDIA: u32 = 10;
/// The most pages of one post's comments read in one call.
const MAX_COMMENT_PAGES: usize = 10;

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
    /// The containers of sends made through `post` (the dispatcher keeps its sends' in the
    /// store, through `post_resuming`).
    containers: LocalHandles,
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

/// `GET /{user}/threads_publishing_limit`.
#[derive(Debug, Deserialize)]
struct PublishingLimit {
    #[serde(default)]
    quota_usage: u64,
    #[serde(default)]
    config: Option<QuotaConfig>,
}

#[derive(Debug, Deserialize)]
struct QuotaConfig {
    #[serde(default)]
    quota_total: u64,
    #[serde(default)]
    quota_duration: u64,
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
            containers: LocalHandles::default(),
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
        let token = graph_token(setup, network, None)?;
        let graph = Graph::with_token(
            server,
            token,
            setup.client.clone(),
            flavor.title(),
            flavor.help(),
        );
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

    /// Instagram: a comment on a post (`{media}`), or a reply under a comment
    /// (`{media}_{comment}`, as mentions name them).
    async fn comment(&self, post: &OutgoingPost, parent: &str) -> Result<Delivered, SendError> {
        if post.text.trim().is_empty() {
            return Err(SendError::Permanent {
                reason: "the reply has no text".into(),
            });
        }
        let (media, target, edge) = match parent.split_once('_') {
            Some((media, comment)) => (media, comment, "replies"),
            None => (parent, parent, "comments"),
        };
        let created: Id = self
            .graph
            .call(
                Method::POST,
                &[target, edge],
                &[("message", post.text.clone())],
                "the reply",
            )
            .await?;
        Ok(Delivered {
            remote_id: format!("{media}_{}", created.id),
            url: None,
        })
    }

    /// Threads: refuses to publish, as a wait, once the profile has used its posts for the
    /// last 24 hours (`threads_publishing_limit`).
    async fn within_publishing_limit(&self) -> Result<(), SendError> {
        if self.flavor != Flavor::Threads {
            return Ok(());
        }
        let limit: Page<PublishingLimit> = self
            .graph
            .call(
                Method::GET,
                &[&self.user, "threads_publishing_limit"],
                &[("fields", "quota_usage,config".into())],
                "reading the publishing limit",
            )
            .await?;
        let Some(limit) = limit.data.first() else {
            return Ok(());
        };
        if let Some(config) = &limit.config
            && config.quota_total > 0
            && limit.quota_usage >= config.quota_total
        {
            return Err(SendError::RetryAfter {
                after: crate::connectors::http::MAX_RETRY_AFTER,
                reason: format!(
                    "the profile has published {} of the {} posts Threads allows through the API in {} hours; crier tries again hourly",
                    limit.quota_usage,
                    config.quota_total,
                    (config.quota_duration / 3600).max(1)
                ),
            });
        }
        Ok(())
    }

    /// Publishes `container`; the post. The container is forgotten once published.
    async fn publish(&self, container: &str, resume: &dyn Resume) -> Result<Delivered, SendError> {
        self.within_publishing_limit().await?;
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
        // The post exists whatever happens now: a handle not forgotten is only read again
        // if the send is retried, and it says `PUBLISHED`.
        let _ = resume.keep(None).await;
        Ok(Delivered {
            remote_id: published.id,
            url: permalink,
        })
    }
}

/// The Graph token of the account `setup` builds, from its `token` secret: one written as a
/// token set with an expiry is renewed (`token.rs`), on Threads with itself, on Facebook and
/// Instagram with the app's `client_id` and `client_secret`; `page` is a Facebook Page, whose
/// token is read again with each renewed user token.
pub(crate) fn graph_token(
    setup: &mut AccountSetup<'_>,
    network: Network,
    page: Option<&str>,
) -> Result<GraphToken, ConnectorError> {
    let value = setup.required_secret(network, "token")?;
    let reference = setup
        .config
        .token
        .as_ref()
        .map(|t| t.value.clone())
        .unwrap_or_default();
    let renewal = match network {
        Network::Threads => Ok(Renewal::Threads),
        _ => {
            let client_id = setup
                .config
                .client_id
                .as_ref()
                .map(|c| c.value.trim().to_owned())
                .filter(|c| !c.is_empty());
            match (client_id, setup.secret("client_secret")) {
                (Some(client_id), Some(client_secret)) => Ok(Renewal::Exchange {
                    client_id,
                    client_secret,
                    page: page.map(str::to_owned),
                }),
                _ => Err(
                    "a long-lived token with an expiry is renewed with the app's id and secret: add `client_id` and `client_secret` to the account".to_owned(),
                ),
            }
        }
    };
    GraphToken::from_secret(setup.name, &reference, &value, renewal).map_err(|reason| {
        ConnectorError::InvalidField {
            account: setup.name.into(),
            field: "token",
            reason,
        }
    })
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

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.post_resuming(post, &self.containers.of(&post.idempotency_key))
            .await
    }

    /// Creates the container (or takes the one an earlier attempt kept, when it is ready and
    /// unpublished), keeps it in `resume`, and publishes it.
    async fn post_resuming(
        &self,
        post: &OutgoingPost,
        resume: &dyn Resume,
    ) -> Result<Delivered, SendError> {
        if self.flavor == Flavor::Instagram
            && let Some(parent) = &post.reply_to
        {
            return self.comment(post, parent).await;
        }
        self.check(post)?;
        if let Some(container) = resume.kept().await.map_err(before_publish)? {
            let (status, _) = self.status(&container).await.map_err(before_publish)?;
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
                "FINISHED" | "IN_PROGRESS" => return self.publish(&container, resume).await,
                _ => resume.keep(None).await.map_err(before_publish)?,
            }
        }
        let container = self.create_container(post).await?;
        resume
            .keep(Some(&container))
            .await
            .map_err(before_publish)?;
        self.publish(&container, resume).await
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
            &self.containers.of(&post.idempotency_key),
        )
        .await
    }

    /// The kept container's status, when an earlier attempt kept one; otherwise (or once it
    /// says `PUBLISHED`) the account's posts since the first attempt.
    async fn lookup_resuming(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
        resume: &dyn Resume,
    ) -> Result<Lookup, SendError> {
        if self.flavor == Flavor::Instagram && post.reply_to.is_some() {
            // A comment has no container and no key: its outcome stays unconfirmed.
            return Ok(Lookup::Unsupported);
        }
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        if let Some(container) = resume.kept().await? {
            let (status, error) = self.status(&container).await?;
            match status.as_str() {
                "PUBLISHED" => {}
                "FINISHED" | "IN_PROGRESS" => return Ok(Lookup::NotFound),
                other => {
                    resume.keep(None).await?;
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

    async fn data_access_expires_at(&self) -> Result<Option<DateTime<Utc>>, SendError> {
        self.graph.data_access_expires_at().await
    }

    fn health_limits(&self) -> Option<&'static str> {
        match self.flavor {
            Flavor::Instagram => Some("that `media_url` serves the images is not checked"),
            Flavor::Threads => None,
        }
    }

    /// Instagram: the comments (and their replies) on the account's 10 most recent posts after
    /// `cursor` (the newest comment time read, Unix seconds), oldest first, the account's own
    /// left out. Threads: the replies (at any depth) to the profile's 10 most recent posts,
    /// the same way.
    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_mentions(cursor).await
    }

    /// Instagram: a comment read earlier as a mention, as it is now; `None` once deleted.
    /// Threads: a reply, the same way.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_again(id).await
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
        self.read_metrics(posts).await
    }
}
