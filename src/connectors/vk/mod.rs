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
mod metrics;
mod post;
mod read;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Url;

use self::api::{ACCESS_DENIED, Groups, INVALID_PARAMETER};
use super::http;
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
};
use crate::network::Network;

pub use self::post::guid;

/// VK's API server.
pub const DEFAULT_SERVER: &str = "https://api.vk.com";
/// The API version every call asks for: answers keep this shape whatever VK adds later.
pub const API_VERSION: &str = "5.199";

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
        self.create_post(post).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.find_sent(post).await
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
        self.delete_post(remote_id).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_comments(cursor).await
    }

    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_comment(id).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}
