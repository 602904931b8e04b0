//! `crier accounts connect` for Meta's networks: the person signs in through Meta's own
//! authorization page and crier turns the code into the long-lived token file `token.rs`
//! reads (with `expires_at`), so renewals take over from there.
//!
//! - Facebook and Instagram (Facebook Login): `/dialog/oauth` → code → a short-lived user
//!   token (`GET /oauth/access_token` with the app's id and secret) → a long-lived one
//!   (`grant_type=fb_exchange_token`) → the person's Pages (`GET /me/accounts`): a Facebook
//!   account keeps its Page's token beside the user token; an Instagram account is the
//!   professional account linked to one of those Pages (`instagram_business_account`).
//! - Threads: `threads.net/oauth/authorize` → code → a short-lived token (`POST
//!   /oauth/access_token`) → a long-lived one (`GET /access_token?grant_type=th_exchange_token`).
//!
//! Meta's pages ask for no PKCE; `state` guards the redirect as for the other networks.

use chrono::{TimeDelta, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::token::LongLived;
use crate::connectors::http;
use crate::connectors::secret::Secret;
use crate::network::Network;

/// Facebook Login's authorization page (the Graph version crier pins).
pub const FACEBOOK_AUTHORIZE_URL: &str = "https://www.facebook.com/v21.0/dialog/oauth";
/// Threads' authorization page.
pub const THREADS_AUTHORIZE_URL: &str = "https://threads.net/oauth/authorize";

/// What a Facebook Page account asks for: posting, reading its comments and engagement, and
/// listing the person's Pages (to find the Page's token).
pub const FACEBOOK_SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_read_user_content",
];
/// What an Instagram account asks for: publishing, its comments, and the Pages list through
/// which its professional account is found.
pub const INSTAGRAM_SCOPES: &[&str] = &[
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "pages_show_list",
    "pages_read_engagement",
];
/// What a Threads account asks for: posting, insights, and reading replies.
pub const THREADS_SCOPES: &[&str] = &[
    "threads_basic",
    "threads_content_publish",
    "threads_manage_insights",
    "threads_read_replies",
];

/// The most pages of `GET /me/accounts` read (100 Pages each).
const MAX_PAGE_LISTS: usize = 10;

/// Which of the person's things the account is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Facebook Page, by its id (`page:`).
    Page(String),
    /// An Instagram professional account, by its id (`user:`).
    Instagram(String),
    /// A Threads profile, by its user id (`user:`).
    Threads(String),
}

/// How crier signs in to Meta for one account.
#[derive(Debug, Clone)]
pub struct MetaLogin {
    pub account: String,
    /// Facebook and Instagram: the versioned Graph server; Threads: `graph.threads.net/v1.0`.
    pub server: Url,
    pub authorize_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub target: Target,
}

/// A token endpoint's answer.
#[derive(Debug, Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    /// Threads: the profile the token is for.
    #[serde(default)]
    user_id: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct PageList {
    #[serde(default = "Vec::new")]
    data: Vec<ManagedPage>,
    #[serde(default)]
    paging: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ManagedPage {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    instagram_business_account: Option<LinkedInstagram>,
}

#[derive(Debug, Deserialize)]
struct LinkedInstagram {
    id: String,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: super::graph::GraphError,
}

impl MetaLogin {
    /// The login of `account` on `network` (`facebook`, `instagram` or `threads`); `server` is
    /// the account's Graph server (Meta's unless the account names another, whose
    /// authorization page is then `{server}/dialog/oauth` or, for Threads, `/oauth/authorize`
    /// at its root). `id` is the account's `page:` or `user:`.
    pub fn new(
        account: &str,
        network: Network,
        server: Url,
        default_server: bool,
        id: &str,
        client_id: String,
        client_secret: Secret,
    ) -> Result<MetaLogin, String> {
        let target = match network {
            Network::Facebook => Target::Page(id.to_owned()),
            Network::Instagram => Target::Instagram(id.to_owned()),
            Network::Threads => Target::Threads(id.to_owned()),
            other => {
                return Err(format!(
                    "account `{account}`: `{}` does not sign in through Meta",
                    other.name()
                ));
            }
        };
        let authorize_url = match (&target, default_server) {
            (Target::Threads(_), true) => Url::parse(THREADS_AUTHORIZE_URL),
            (_, true) => Url::parse(FACEBOOK_AUTHORIZE_URL),
            (Target::Threads(_), false) => root(&server).join("oauth/authorize"),
            (_, false) => Ok(http::with_path(&server, &["dialog", "oauth"])),
        }
        .map_err(|err| format!("account `{account}`: no authorization page: {err}"))?;
        Ok(MetaLogin {
            account: account.to_owned(),
            server,
            authorize_url,
            client_id,
            client_secret,
            target,
        })
    }

    /// The network as messages name it.
    pub fn title(&self) -> &'static str {
        match self.target {
            Target::Page(_) => "Facebook",
            Target::Instagram(_) => "Instagram",
            Target::Threads(_) => "Threads",
        }
    }

    pub fn scopes(&self) -> &'static [&'static str] {
        match self.target {
            Target::Page(_) => FACEBOOK_SCOPES,
            Target::Instagram(_) => INSTAGRAM_SCOPES,
            Target::Threads(_) => THREADS_SCOPES,
        }
    }

    /// The address the person opens.
    pub fn url(&self, redirect: &str, state: &str) -> Url {
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &self.scopes().join(","))
            .append_pair("response_type", "code")
            .append_pair("state", state);
        url
    }

    /// The authorization `code` made into the long-lived token file, and what it connected
    /// (`the Page "Brand" (104…)`), for the person to read.
    pub async fn connect(
        &self,
        client: &reqwest::Client,
        code: &str,
        redirect: &str,
    ) -> Result<(LongLived, String), String> {
        let account = &self.account;
        match &self.target {
            Target::Threads(user) => self.threads(client, code, redirect, user).await,
            Target::Page(page) => {
                let (mut file, pages) = self.facebook(client, code, redirect).await?;
                let Some(found) = pages.iter().find(|p| &p.id == page) else {
                    return Err(format!(
                        "account `{account}`: the Page `{page}` is not among the Pages the person who signed in manages ({}); put one of these ids in the account's `page:`, or sign in as an administrator of that Page, and run `crier accounts connect {account}` again",
                        listed(&pages, |p| Some(format!("{} \"{}\"", p.id, p.name)))
                    ));
                };
                let page_token = found.access_token.clone().ok_or_else(|| {
                    format!(
                        "account `{account}`: Facebook lists the Page `{page}` without its token: the person who signed in needs a role on it that lets them post, and crier needs `pages_show_list` and `pages_manage_posts` (allow them when asked); run `crier accounts connect {account}` again"
                    )
                })?;
                file.page_token = Some(page_token);
                Ok((file, format!("the Page \"{}\" ({page})", found.name)))
            }
            Target::Instagram(user) => {
                let (file, pages) = self.facebook(client, code, redirect).await?;
                let linked = pages
                    .iter()
                    .filter_map(|p| Some((p, p.instagram_business_account.as_ref()?)))
                    .find(|(_, ig)| &ig.id == user);
                let Some((page, ig)) = linked else {
                    return Err(format!(
                        "account `{account}`: the Instagram account `{user}` is not linked to any Page the person who signed in manages ({}); put one of these ids in the account's `user:`, or link the Instagram professional account to a Page they manage, and run `crier accounts connect {account}` again",
                        listed(&pages, |p| {
                            let ig = p.instagram_business_account.as_ref()?;
                            Some(format!(
                                "{} @{} through the Page \"{}\"",
                                ig.id,
                                ig.username.as_deref().unwrap_or("?"),
                                p.name
                            ))
                        })
                    ));
                };
                let name = ig.username.as_deref().unwrap_or(user);
                Ok((
                    file,
                    format!(
                        "the Instagram account @{name} ({user}) through the Page \"{}\"",
                        page.name
                    ),
                ))
            }
        }
    }

    /// Facebook Login's code made into a long-lived user token (the file, with its expiry),
    /// and the Pages the person manages.
    async fn facebook(
        &self,
        client: &reqwest::Client,
        code: &str,
        redirect: &str,
    ) -> Result<(LongLived, Vec<ManagedPage>), String> {
        let token_url = http::with_path(&self.server, &["oauth", "access_token"]);
        let short: Granted = self
            .call(
                client.get(token_url.clone()).query(&[
                    ("client_id", self.client_id.as_str()),
                    ("redirect_uri", redirect),
                    ("client_secret", self.client_secret.expose()),
                    ("code", code),
                ]),
                "the authorization code",
            )
            .await?;
        let long: Granted = self
            .call(
                client.get(token_url).query(&[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.client_secret.expose()),
                    ("fb_exchange_token", short.access_token.as_str()),
                ]),
                "the exchange for a long-lived token",
            )
            .await?;
        let pages = self.pages(client, &long.access_token).await?;
        let mut file = LongLived::new(long.access_token);
        file.expires_at = long
            .expires_in
            .map(|seconds| Utc::now() + TimeDelta::seconds(seconds));
        Ok((file, pages))
    }

    /// Every Page the person manages, with its token and linked Instagram account.
    async fn pages(
        &self,
        client: &reqwest::Client,
        user_token: &str,
    ) -> Result<Vec<ManagedPage>, String> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGE_LISTS {
            let mut query = vec![
                (
                    "fields",
                    "id,name,access_token,instagram_business_account{id,username}".to_owned(),
                ),
                ("limit", "100".to_owned()),
            ];
            if let Some(after) = &after {
                query.push(("after", after.clone()));
            }
            let list: PageList = self
                .call(
                    client
                        .get(http::with_path(&self.server, &["me", "accounts"]))
                        .query(&query)
                        .bearer_auth(user_token),
                    "listing the Pages",
                )
                .await?;
            pages.extend(list.data);
            after = list
                .paging
                .as_ref()
                .filter(|p| p.get("next").is_some())
                .and_then(|p| p["cursors"]["after"].as_str().map(str::to_owned));
            if after.is_none() {
                break;
            }
        }
        Ok(pages)
    }

    async fn threads(
        &self,
        client: &reqwest::Client,
        code: &str,
        redirect: &str,
        user: &str,
    ) -> Result<(LongLived, String), String> {
        let root = root(&self.server);
        let short: Granted = self
            .call(
                client
                    .post(http::with_path(&root, &["oauth", "access_token"]))
                    .form(&[
                        ("client_id", self.client_id.as_str()),
                        ("client_secret", self.client_secret.expose()),
                        ("grant_type", "authorization_code"),
                        ("redirect_uri", redirect),
                        ("code", code),
                    ]),
                "the authorization code",
            )
            .await?;
        let signed_in = match &short.user_id {
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(serde_json::Value::Number(id)) => Some(id.to_string()),
            _ => None,
        };
        let account = &self.account;
        if let Some(signed_in) = signed_in.filter(|id| id != user) {
            return Err(format!(
                "account `{account}`: the person signed in as the Threads user `{signed_in}`, but the account's `user:` is `{user}`; sign in as that profile, or put `{signed_in}` in `user:`, and run `crier accounts connect {account}` again"
            ));
        }
        let long: Granted = self
            .call(
                client
                    .get(http::with_path(&root, &["access_token"]))
                    .query(&[
                        ("grant_type", "th_exchange_token"),
                        ("client_secret", self.client_secret.expose()),
                        ("access_token", short.access_token.as_str()),
                    ]),
                "the exchange for a long-lived token",
            )
            .await?;
        let mut file = LongLived::new(long.access_token);
        file.expires_at = long
            .expires_in
            .map(|seconds| Utc::now() + TimeDelta::seconds(seconds));
        Ok((file, format!("the Threads profile {user}")))
    }

    /// One request of the sign-in; Meta's refusal said with the account and what to do.
    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        action: &str,
    ) -> Result<T, String> {
        let (title, account) = (self.title(), &self.account);
        let reply = http::fetch(request)
            .await
            .map_err(|err| format!("{title} did not answer {action}: {}", err.reason()))?;
        if !reply.status.is_success() {
            let said = serde_json::from_str::<ErrorEnvelope>(&reply.body)
                .map(|e| format!("code {}: {}", e.error.code, e.error.message))
                .unwrap_or_else(|_| http::status_text(reply.status));
            let what = if action == "the authorization code" {
                "an authorization code works once and for a few minutes, and only with the app that asked for it (check `client_id` and `client_secret`)"
            } else {
                "check the app's `client_id` and `client_secret`, and that the person allowed every permission asked for"
            };
            return Err(format!(
                "account `{account}`: {title} refused {action} ({said}); {what}; run `crier accounts connect {account}` again"
            ));
        }
        serde_json::from_str(&reply.body)
            .map_err(|_| format!("{title} answered {action} with something crier cannot read"))
    }
}

/// `server` without its path (Threads' token endpoints are not versioned).
fn root(server: &Url) -> Url {
    let mut url = server.clone();
    url.set_path("/");
    url.set_query(None);
    url
}

/// The Pages `line` says something of, or that there are none.
fn listed(pages: &[ManagedPage], line: impl Fn(&ManagedPage) -> Option<String>) -> String {
    let lines: Vec<String> = pages.iter().filter_map(line).collect();
    if lines.is_empty() {
        "they manage none that crier can use".to_owned()
    } else {
        format!("they manage: {}", lines.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_pages_are_asked_for_the_networks_scopes_with_state_and_no_pkce() {
        let server: Url = super::super::INSTAGRAM_SERVER.parse().unwrap();
        let login = MetaLogin::new(
            "brand_facebook",
            Network::Facebook,
            server.clone(),
            true,
            "104",
            "app".into(),
            Secret::new("s"),
        )
        .unwrap();
        let url = login.url("http://127.0.0.1:8910/callback", "st");
        assert!(url.as_str().starts_with(FACEBOOK_AUTHORIZE_URL), "{url}");
        let query: std::collections::BTreeMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["scope"], FACEBOOK_SCOPES.join(","));
        assert_eq!(query["state"], "st");
        assert!(!query.contains_key("code_challenge"));
        let threads: Url = "http://127.0.0.1:9/v1.0".parse().unwrap();
        let login = MetaLogin::new(
            "brand_threads",
            Network::Threads,
            threads,
            false,
            "27",
            "app".into(),
            Secret::new("s"),
        )
        .unwrap();
        assert_eq!(
            login.authorize_url.as_str(),
            "http://127.0.0.1:9/oauth/authorize"
        );
        assert!(
            MetaLogin::new(
                "x",
                Network::X,
                server,
                true,
                "1",
                "a".into(),
                Secret::new("s")
            )
            .is_err()
        );
    }
}
