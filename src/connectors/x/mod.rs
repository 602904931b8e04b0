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
mod metrics;
mod post;
mod read;

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};

use self::api::{Envelope, HELP, User};
use super::http::{self, Reply};
use super::oauth::{Authorization, ClientAuth, TokenEndpoint, UserToken};
use super::registry::{AccountSetup, ConnectorError};
use super::{
    Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost, SendError,
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
/// Posts asked for per page (X's maximum for timelines).
const PAGE: u32 = 100;
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

#[async_trait]
impl Connector for XConnector {
    fn network(&self) -> Network {
        Network::X
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.create_post(post).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        self.lookup_since(post, None).await
    }

    async fn lookup_since(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        self.find_sent(post, first_attempt).await
    }

    /// `GET /2/users/me`: the token works (renewed first when due or refused).
    async fn health(&self) -> Result<(), SendError> {
        self.user().await.map(|_| ())
    }

    fn health_limits(&self) -> Option<&'static str> {
        Some("reading mentions needs X's Basic plan or above, which the check does not test")
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        self.delete_post(remote_id).await
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        self.read_mentions(cursor).await
    }

    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        self.read_post(id).await
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        self.read_metrics(posts).await
    }
}
