//! A fake Graph API on `127.0.0.1:0` for Instagram (`/v21.0/…`) and Threads (`/v1.0/…`):
//! media containers (`POST /{user}/media`, `POST /{user}/threads`, carousel items with
//! `is_carousel_item`), publishing (`…/media_publish`, `…/threads_publish` with
//! `creation_id`), a container's status (`status_code` on Instagram, `status` on Threads),
//! the account's recent posts, a post's permalink, counts and insights, the followers, and
//! deletion on Threads. The token comes as a bearer; refusals are Meta's error envelope
//! (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`).
//!
//! Threads replies are read through `GET /{post}/conversation`. Long-lived tokens are renewed
//! at `GET /v21.0/oauth/access_token` (`fb_exchange_token`, with the app's id and secret) and
//! `GET /refresh_access_token` (`th_refresh_token`); a Page's token is read with
//! `GET /{page}?fields=access_token`.
//!
//! Faults are queued for a request whose path ends with a given edge (`media_publish`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn, parse_multipart};

pub const IG_USER: &str = "17841400000000001";
pub const PAGE_ID: &str = "104000000000001";
pub const PAGE_FOLLOWERS: u64 = 12_000;
/// Someone who comments on the Page.
pub const FAN_ID: &str = "7100000000000042";
pub const THREADS_USER: &str = "27100000000000001";
pub const IG_FOLLOWERS: u64 = 8_800;
/// The Meta app's id and secret, for the renewal of long-lived tokens.
pub const APP_ID: &str = "1234567890123456";
pub const APP_SECRET: &str = "meta-app-secret";
pub const THREADS_FOLLOWERS: u64 = 640;
/// A second Page the signed-in person manages, with no Instagram account linked.
pub const OTHER_PAGE_ID: &str = "104000000000002";
/// The Instagram professional account's username.
pub const IG_USERNAME: &str = "brand";

/// A way to misbehave, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Meta's error envelope with HTTP `status`, `code`, `subcode` and `message`; nothing done.
    Error {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: &'static str,
    },
    /// As `Error`, with `X-Business-Use-Case-Usage` saying access returns in `minutes`.
    Throttled { code: i64, minutes: u64 },
    /// Does the request and answers with `X-App-Usage` at `percent`.
    AppUsage(u64),
    /// Does the request, then answers after this long.
    Slow(Duration),
    /// Does the request, then closes the connection without answering.
    AcceptThenDrop,
    /// Does nothing and answers nothing for this long (a request that never arrived, as
    /// far as anyone can tell), then a 503.
    Stall(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub bearer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub user: String,
    pub params: BTreeMap<String, String>,
    /// `FINISHED`, `PUBLISHED`, `IN_PROGRESS`, `ERROR`, `EXPIRED`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub id: String,
    pub user: String,
    pub container: String,
    pub text: String,
    pub timestamp: DateTime<Utc>,
    pub likes: u64,
    pub comments: u64,
    pub views: u64,
    /// Facebook: how many times it was shared.
    pub shares: u64,
}

/// A comment on a Page post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FbComment {
    pub id: String,
    pub post: String,
    pub from: String,
    pub message: String,
    pub parent: Option<String>,
    pub created_time: DateTime<Utc>,
}

struct Inner {
    token: String,
    /// Tokens handed out by renewals (and Page tokens), accepted as well as `token`.
    renewed: Vec<String>,
    /// Tokens that no longer work (expired or revoked).
    revoked: Vec<String>,
    comments: Vec<FbComment>,
    faults: Vec<(String, Fault)>,
    requests: Vec<Received>,
    containers: Vec<Container>,
    published: Vec<Published>,
    /// Threads posts published through the API today besides the ones kept here.
    threads_used: u64,
    /// Facebook photos uploaded unpublished, to attach to a feed post.
    media_photos: Vec<String>,
    next_id: u64,
    /// Authorization codes handed to a browser: the code, the redirect it was made for, and
    /// whether it was spent.
    codes: Vec<(String, String, bool)>,
    /// What `debug_token` says of a token: its type and `expires_at` (0: never).
    token_info: BTreeMap<String, (&'static str, i64)>,
    /// What `debug_token` says of a token's `data_access_expires_at` (90 days on if not set).
    data_access: BTreeMap<String, i64>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeMeta {
    server: ChatServer,
    inner: Shared,
}

impl FakeMeta {
    pub fn start(token: &str) -> FakeMeta {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            renewed: Vec::new(),
            revoked: Vec::new(),
            comments: Vec::new(),
            faults: Vec::new(),
            requests: Vec::new(),
            containers: Vec::new(),
            published: Vec::new(),
            media_photos: Vec::new(),
            threads_used: 0,
            next_id: 17_900_000_000_000_000,
            codes: Vec::new(),
            token_info: BTreeMap::new(),
            data_access: BTreeMap::new(),
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-meta", move || {
            Router::new().fallback(handle).with_state(state)
        });
        FakeMeta { server, inner }
    }

    /// The Instagram `server` (with its version).
    pub fn instagram_url(&self) -> String {
        format!("http://{}/v21.0", self.server.addr())
    }

    pub fn threads_url(&self) -> String {
        format!("http://{}/v1.0", self.server.addr())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `fault` for the next request whose path ends with `edge`.
    pub fn push_fault(&self, edge: &str, fault: Fault) {
        self.lock().faults.push((edge.into(), fault));
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// Requests whose path ends with `edge`.
    pub fn calls(&self, method: &str, edge: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(edge))
            .collect()
    }

    pub fn containers(&self) -> Vec<Container> {
        self.lock().containers.clone()
    }

    pub fn published(&self) -> Vec<Published> {
        self.lock().published.clone()
    }

    /// A post published before (elsewhere), with `text` at `timestamp`; its id.
    pub fn add_published(&self, user: &str, text: &str, timestamp: DateTime<Utc>) -> String {
        let mut inner = self.lock();
        let id = next_id(&mut inner);
        inner.published.push(Published {
            id: id.clone(),
            user: user.into(),
            container: String::new(),
            text: text.into(),
            timestamp,
            likes: 0,
            comments: 0,
            views: 0,
            shares: 0,
        });
        id
    }

    /// The person signs in and allows crier (Facebook Login or Threads): the code the
    /// authorization page sends the browser back to `redirect` with.
    pub fn authorize(&self, redirect: &str) -> String {
        let mut inner = self.lock();
        let code = format!("meta-code-{}", next_id(&mut inner));
        inner.codes.push((code.clone(), redirect.into(), false));
        code
    }

    /// What `debug_token` says of `token`: `kind` (`USER`, `PAGE`) and when it expires (0:
    /// never). A valid token not set here is a Page token that never expires.
    pub fn set_token_info(&self, token: &str, kind: &'static str, expires_at: i64) {
        self.lock()
            .token_info
            .insert(token.into(), (kind, expires_at));
    }

    /// What `debug_token` says of when `token` stops reading people's data (Unix seconds).
    pub fn set_data_access(&self, token: &str, expires_at: i64) {
        self.lock().data_access.insert(token.into(), expires_at);
    }

    /// `token` works as well as the one the fake started with.
    pub fn add_token(&self, token: &str) {
        self.lock().renewed.push(token.into());
    }

    /// `token` no longer works: it expired or its person revoked crier's access.
    pub fn revoke(&self, token: &str) {
        self.lock().revoked.push(token.into());
    }

    /// The tokens renewals handed out, in order.
    pub fn renewed_tokens(&self) -> Vec<String> {
        self.lock().renewed.clone()
    }

    /// The Threads profile has published `count` more posts through the API today.
    pub fn use_threads_quota(&self, count: u64) {
        self.lock().threads_used += count;
    }

    pub fn edit_comment(&self, id: &str, message: &str) {
        if let Some(c) = self.lock().comments.iter_mut().find(|c| c.id == id) {
            c.message = message.into();
        }
    }

    pub fn remove_comment(&self, id: &str) {
        self.lock().comments.retain(|c| c.id != id);
    }

    pub fn set_shares(&self, id: &str, shares: u64) {
        if let Some(p) = self.lock().published.iter_mut().find(|p| p.id == id) {
            p.shares = shares;
        }
    }

    pub fn comments(&self) -> Vec<FbComment> {
        self.lock().comments.clone()
    }

    /// A comment by `from` under `post` (or under the comment `parent`) at `at`; its id
    /// (Facebook's form, `{post}_{n}`; Instagram's comment ids are numbers of their own).
    pub fn add_comment(
        &self,
        post: &str,
        from: &str,
        message: &str,
        parent: Option<&str>,
        at: DateTime<Utc>,
    ) -> String {
        let mut inner = self.lock();
        let n = next_id(&mut inner);
        let id = if post.starts_with(PAGE_ID) {
            format!("{post}_{n}")
        } else {
            n
        };
        inner.comments.push(FbComment {
            id: id.clone(),
            post: post.into(),
            from: from.into(),
            message: message.into(),
            parent: parent.map(str::to_owned),
            created_time: at,
        });
        id
    }

    pub fn set_counts(&self, id: &str, likes: u64, comments: u64, views: u64) {
        if let Some(p) = self.lock().published.iter_mut().find(|p| p.id == id) {
            p.likes = likes;
            p.comments = comments;
            p.views = views;
        }
    }
}

fn next_id(inner: &mut Inner) -> String {
    inner.next_id += 1;
    inner.next_id.to_string()
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
        error["is_transient"] = json!(false);
    }
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    graph_error(400, 100, None, message)
}

fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

async fn handle(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut params = uri.query().map(pairs).unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("multipart/form-data") {
        for field in parse_multipart(content_type, &body).unwrap_or_default() {
            let value = match &field.file_name {
                Some(name) => format!("file:{name}"),
                None => field.text(),
            };
            params.insert(field.name, value);
        }
    } else {
        params.extend(pairs(&String::from_utf8_lossy(&body)));
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.to_string(),
            path: path.clone(),
            params: params.clone(),
            bearer: bearer.clone(),
        });
        if let Some(answer) = login(&mut inner, &path, &params, bearer.as_deref()) {
            return answer;
        }
        if let Some(answer) = renewal(&mut inner, &path, &params, bearer.as_deref()) {
            return answer;
        }
        let known = bearer.as_deref().is_some_and(|b| {
            (b == inner.token || inner.renewed.iter().any(|r| r == b))
                && !inner.revoked.iter().any(|r| r == b)
        });
        if !known || params.contains_key("access_token") {
            return graph_error(
                400,
                190,
                Some(463),
                "Error validating access token: Session has expired on Friday, 04-Dec-26 10:00:00 PST.",
            );
        }
        let fault = inner
            .faults
            .iter()
            .position(|(edge, _)| path.ends_with(edge.as_str()))
            .map(|index| inner.faults.remove(index).1);
        match &fault {
            Some(Fault::Error {
                status,
                code,
                subcode,
                message,
            }) => return graph_error(*status, *code, *subcode, message),
            Some(Fault::Throttled { code, minutes }) => {
                let mut response = graph_error(
                    400,
                    *code,
                    None,
                    "There have been too many calls from this account. Wait a bit and try again.",
                );
                let usage = json!({ IG_USER: [{ "type": "instagram", "call_count": 100, "total_cputime": 30, "total_time": 41, "estimated_time_to_regain_access": minutes }] });
                response.headers_mut().insert(
                    "x-business-use-case-usage",
                    usage.to_string().parse().unwrap(),
                );
                return response;
            }
            _ => {}
        }
        let answer = if matches!(fault, Some(Fault::Stall(_))) {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            let segments: Vec<String> = path
                .trim_start_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect();
            api(&mut inner, &method, &segments, &params)
        };
        (fault, answer)
    };
    match fault {
        Some(Fault::AppUsage(percent)) => {
            let mut answer = answer;
            answer.headers_mut().insert(
                "x-app-usage",
                json!({ "call_count": percent, "total_time": 20, "total_cputime": 18 })
                    .to_string()
                    .parse()
                    .unwrap(),
            );
            answer
        }
        Some(Fault::Slow(delay) | Fault::Stall(delay)) => {
            tokio::time::sleep(delay).await;
            answer
        }
        Some(Fault::AcceptThenDrop) => {
            conn.drop_connection();
            answer
        }
        _ => answer,
    }
}

/// The renewal of long-lived tokens: `GET /{version}/oauth/access_token` with
/// `grant_type=fb_exchange_token` (the app's id and secret, and the token to exchange), `GET
/// /refresh_access_token` with `grant_type=th_refresh_token` (Threads), and a Page's token
/// (`GET /{page}?fields=access_token` with a user token); `None` for any other request.
fn valid_token(inner: &Inner, token: &str) -> bool {
    (token == inner.token || inner.renewed.iter().any(|r| r == token))
        && !inner.revoked.iter().any(|r| r == token)
}

/// Spends `code` if it was made for `redirect` and not spent yet.
fn spend_code(inner: &mut Inner, code: &str, redirect: &str) -> bool {
    match inner
        .codes
        .iter_mut()
        .find(|(c, r, spent)| c == code && r == redirect && !spent)
    {
        Some(found) => {
            found.2 = true;
            true
        }
        None => false,
    }
}

/// Signing in: Facebook Login's code exchange and the person's Pages, Threads' code and
/// long-lived exchanges, and `debug_token`.
fn login(
    inner: &mut Inner,
    path: &str,
    params: &BTreeMap<String, String>,
    bearer: Option<&str>,
) -> Option<Response> {
    let app = |params: &BTreeMap<String, String>, id: bool| {
        (!id || params.get("client_id").map(String::as_str) == Some(APP_ID))
            && params.get("client_secret").map(String::as_str) == Some(APP_SECRET)
    };
    let bad_code = || graph_error(400, 100, Some(36007), "Invalid verification code format.");
    let bad_secret = || graph_error(400, 1, None, "Error validating client secret.");
    let issue = |inner: &mut Inner, prefix: &str| {
        let token = format!("{prefix}-{}", next_id(inner));
        inner.renewed.push(token.clone());
        token
    };
    let grant = params.get("grant_type").map(String::as_str);
    match (path, grant) {
        ("/v21.0/oauth/access_token", None) if params.contains_key("code") => {
            if !app(params, true) {
                return Some(bad_secret());
            }
            let redirect = params.get("redirect_uri").cloned().unwrap_or_default();
            if !spend_code(inner, &params["code"], &redirect) {
                return Some(bad_code());
            }
            let token = issue(inner, "EAAG-short");
            Some(
                axum::Json(
                    json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_108 }),
                )
                .into_response(),
            )
        }
        ("/v21.0/me/accounts", _) => {
            if !bearer.is_some_and(|b| valid_token(inner, b)) {
                return Some(graph_error(400, 190, None, "Invalid OAuth access token."));
            }
            let brand = issue(inner, "EAAG-page");
            let outlet = issue(inner, "EAAG-page");
            Some(
                axum::Json(json!({
                    "data": [
                        { "id": PAGE_ID, "name": "Brand", "access_token": brand, "category": "Brand",
                          "instagram_business_account": { "id": IG_USER, "username": IG_USERNAME } },
                        { "id": OTHER_PAGE_ID, "name": "Brand Outlet", "access_token": outlet, "category": "Shopping" },
                    ],
                    "paging": { "cursors": { "before": "QVFIb", "after": "QVFIa" } }
                }))
                .into_response(),
            )
        }
        ("/oauth/access_token", Some("authorization_code")) => {
            if !app(params, true) {
                return Some(bad_secret());
            }
            let redirect = params.get("redirect_uri").cloned().unwrap_or_default();
            if !spend_code(
                inner,
                params.get("code").map_or("", String::as_str),
                &redirect,
            ) {
                return Some(graph_error(400, 100, None, "Invalid authorization code"));
            }
            let token = issue(inner, "THAA-short");
            let user: u64 = THREADS_USER.parse().unwrap();
            Some(axum::Json(json!({ "access_token": token, "user_id": user })).into_response())
        }
        ("/access_token", Some("th_exchange_token")) => {
            if !app(params, false) {
                return Some(bad_secret());
            }
            let short = params.get("access_token").cloned().unwrap_or_default();
            if !valid_token(inner, &short) {
                return Some(graph_error(400, 190, None, "Invalid OAuth access token."));
            }
            let token = issue(inner, "THAA-long");
            Some(
                axum::Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_183_944 }))
                    .into_response(),
            )
        }
        ("/v21.0/debug_token", _) => {
            if bearer != Some(format!("{APP_ID}|{APP_SECRET}").as_str()) {
                return Some(graph_error(
                    400,
                    190,
                    None,
                    "Invalid OAuth access token signature.",
                ));
            }
            let input = params.get("input_token").cloned().unwrap_or_default();
            if !valid_token(inner, &input) {
                return Some(
                    axum::Json(json!({ "data": { "is_valid": false, "error": { "code": 190, "message": "Error validating access token: Session has expired" } } }))
                        .into_response(),
                );
            }
            let (kind, expires_at) = inner.token_info.get(&input).copied().unwrap_or(("PAGE", 0));
            let data_access = inner
                .data_access
                .get(&input)
                .copied()
                .unwrap_or_else(|| Utc::now().timestamp() + 90 * 86_400);
            Some(
                axum::Json(json!({ "data": {
                    "app_id": APP_ID, "type": kind, "application": "crier", "is_valid": true,
                    "expires_at": expires_at, "data_access_expires_at": data_access,
                    "scopes": ["pages_manage_posts", "pages_show_list"], "user_id": FAN_ID
                } }))
                .into_response(),
            )
        }
        _ => None,
    }
}

fn renewal(
    inner: &mut Inner,
    path: &str,
    params: &BTreeMap<String, String>,
    bearer: Option<&str>,
) -> Option<Response> {
    let valid = |inner: &Inner, token: &str| {
        (token == inner.token || inner.renewed.iter().any(|r| r == token))
            && !inner.revoked.iter().any(|r| r == token)
    };
    let expired = || {
        graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired on Friday, 04-Dec-26 10:00:00 PST.",
        )
    };
    let grant = params.get("grant_type").map(String::as_str);
    let prefix = match (path, grant) {
        ("/v21.0/oauth/access_token", Some("fb_exchange_token")) => {
            if params.get("client_id").map(String::as_str) != Some(APP_ID)
                || params.get("client_secret").map(String::as_str) != Some(APP_SECRET)
            {
                return Some(graph_error(400, 1, None, "Error validating client secret."));
            }
            let old = params.get("fb_exchange_token").cloned().unwrap_or_default();
            if !valid(inner, &old) {
                return Some(expired());
            }
            "EAAG-renewed"
        }
        ("/refresh_access_token", Some("th_refresh_token")) => {
            let old = params.get("access_token").cloned().unwrap_or_default();
            if !valid(inner, &old) {
                return Some(expired());
            }
            "THAA-renewed"
        }
        _ => {
            if path == format!("/v21.0/{PAGE_ID}")
                && params.get("fields").map(String::as_str) == Some("access_token")
            {
                if !bearer.is_some_and(|b| valid(inner, b)) {
                    return Some(expired());
                }
                let page = format!("EAAG-page-{}", next_id(inner));
                inner.renewed.push(page.clone());
                return Some(
                    axum::Json(json!({ "access_token": page, "id": PAGE_ID })).into_response(),
                );
            }
            return None;
        }
    };
    let token = format!("{prefix}-{}", next_id(inner));
    inner.renewed.push(token.clone());
    Some(
        axum::Json(
            json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_183_944 }),
        )
        .into_response(),
    )
}

fn api(
    inner: &mut Inner,
    method: &Method,
    segments: &[String],
    params: &BTreeMap<String, String>,
) -> Response {
    let Some((version, rest)) = segments.split_first() else {
        return invalid("Unknown path components");
    };
    let threads = version == "v1.0";
    if !threads && version != "v21.0" {
        return invalid("Unknown path components: the version is not pinned");
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let text_field = if threads { "text" } else { "caption" };
    if !threads && let Some(answer) = facebook(inner, method, &rest, params) {
        return answer;
    }
    match (method.as_str(), rest.as_slice()) {
        ("GET", [media, "comments"]) if !threads => {
            let limit: usize = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let offset: usize = params
                .get("after")
                .and_then(|a| a.strip_prefix("c-"))
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            let top: Vec<&FbComment> = inner
                .comments
                .iter()
                .filter(|c| c.post == *media && c.parent.is_none())
                .collect();
            let json_of = |c: &FbComment| {
                json!({ "id": c.id, "text": c.message, "timestamp": time(c.created_time),
                        "username": if c.from == IG_USER { "brand" } else { "olena_fan" },
                        "from": { "id": c.from, "username": if c.from == IG_USER { "brand" } else { "olena_fan" } } })
            };
            let data: Vec<Value> = top
                .iter()
                .skip(offset)
                .take(limit)
                .map(|c| {
                    let replies: Vec<Value> = inner
                        .comments
                        .iter()
                        .filter(|r| r.parent.as_deref() == Some(c.id.as_str()))
                        .map(json_of)
                        .collect();
                    let mut json = json_of(c);
                    if !replies.is_empty() {
                        json["replies"] = json!({ "data": replies });
                    }
                    json
                })
                .collect();
            let end = offset + data.len();
            let mut paging = json!({ "cursors": { "before": format!("c-{offset}"), "after": format!("c-{end}") } });
            if end < top.len() {
                paging["next"] = json!(format!("https://graph.facebook.com/v21.0/{media}/comments?after=c-{end}"));
            }
            axum::Json(json!({ "data": data, "paging": paging })).into_response()
        }
        // Threads: every reply under a post, at any depth, oldest first (`reverse=false`).
        ("GET", [media, "conversation"]) if threads => {
            let limit: usize = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            let offset: usize = params
                .get("after")
                .and_then(|a| a.strip_prefix("r-"))
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            let all: Vec<&FbComment> = inner.comments.iter().filter(|c| c.post == *media).collect();
            let data: Vec<Value> = all.iter().skip(offset).take(limit).map(|c| thread_reply(c)).collect();
            let end = offset + data.len();
            let mut paging = json!({ "cursors": { "before": format!("r-{offset}"), "after": format!("r-{end}") } });
            if end < all.len() {
                paging["next"] = json!(format!("https://graph.threads.net/v1.0/{media}/conversation?after=r-{end}"));
            }
            axum::Json(json!({ "data": data, "paging": paging })).into_response()
        }
        ("POST", [target, edge @ ("comments" | "replies")]) if !threads => {
            let (post, parent) = if *edge == "replies" {
                match inner.comments.iter().find(|c| c.id == *target) {
                    Some(c) => (c.post.clone(), Some((*target).to_owned())),
                    None => return invalid(&format!("Unsupported post request. Object with ID '{target}' does not exist")),
                }
            } else if inner.published.iter().any(|p| p.id == *target) {
                ((*target).to_owned(), None)
            } else {
                return invalid(&format!("Unsupported post request. Object with ID '{target}' does not exist"));
            };
            let id = next_id(inner);
            inner.comments.push(FbComment {
                id: id.clone(),
                post,
                from: IG_USER.into(),
                message: params.get("message").cloned().unwrap_or_default(),
                parent,
                created_time: Utc::now(),
            });
            axum::Json(json!({ "id": id })).into_response()
        }
        ("POST", [user, "media" | "threads"]) => {
            let media_type = params.get("media_type").map(String::as_str);
            let carousel_item = params.get("is_carousel_item").map(String::as_str) == Some("true");
            let image = params.get("image_url");
            if let Some(url) = image
                && !url.starts_with("https://cdn.example.com/crier/")
            {
                return graph_error(400, 9004, Some(2_207_052), "The media could not be fetched from this uri");
            }
            let text = params.get(text_field).cloned().unwrap_or_default();
            if !threads {
                if text.chars().count() > 2200 {
                    return invalid("The caption is too long");
                }
                if text.split_whitespace().filter(|w| w.starts_with('#')).count() > 30 {
                    return invalid("The caption has more than 30 hashtags");
                }
                if media_type != Some("CAROUSEL") && image.is_none() {
                    return invalid("The parameter image_url is required");
                }
            } else if text.chars().count() > 500 {
                return invalid("The text is longer than 500 characters");
            }
            if media_type == Some("CAROUSEL") {
                let children: Vec<&str> = params
                    .get("children")
                    .map(|c| c.split(',').collect())
                    .unwrap_or_default();
                let known = children.iter().all(|c| {
                    inner
                        .containers
                        .iter()
                        .any(|k| k.id == *c && k.params.get("is_carousel_item").map(String::as_str) == Some("true"))
                });
                if children.len() < 2 || !known {
                    return invalid("The carousel's children are invalid");
                }
            }
            if carousel_item && image.is_none() {
                return invalid("A carousel item needs image_url");
            }
            let id = next_id(inner);
            inner.containers.push(Container {
                id: id.clone(),
                user: (*user).to_owned(),
                params: params.clone(),
                status: "FINISHED".into(),
            });
            axum::Json(json!({ "id": id })).into_response()
        }
        ("POST", [user, "media_publish" | "threads_publish"]) => {
            let creation = params.get("creation_id").cloned().unwrap_or_default();
            let Some(container) = inner.containers.iter_mut().find(|c| c.id == creation) else {
                return invalid("The parameter creation_id is invalid");
            };
            if container.status != "FINISHED" {
                return graph_error(400, 9007, Some(2_207_027), "The media is not ready for publishing, please wait for a moment");
            }
            container.status = "PUBLISHED".into();
            let text = container.params.get(text_field).cloned().unwrap_or_default();
            let id = next_id(inner);
            inner.published.push(Published {
                id: id.clone(),
                user: (*user).to_owned(),
                container: creation,
                text,
                timestamp: Utc::now(),
                likes: 0,
                comments: 0,
                views: 0,
                shares: 0,
            });
            axum::Json(json!({ "id": id })).into_response()
        }
        ("GET", [user, "media" | "threads"]) => {
            let since = params.get("since").and_then(|s| s.parse::<i64>().ok());
            let data: Vec<Value> = inner
                .published
                .iter()
                .rev()
                .filter(|p| p.user == *user && since.is_none_or(|s| p.timestamp.timestamp() >= s))
                .map(|p| {
                    json!({ "id": p.id, text_field: p.text, "timestamp": time(p.timestamp),
                            "permalink": format!("https://www.example.com/p/{}", p.id) })
                })
                .collect();
            axum::Json(json!({ "data": data, "paging": { "cursors": { "before": "b", "after": "a" } } })).into_response()
        }
        ("GET", [user, "threads_publishing_limit"]) if *user == THREADS_USER => {
            let used = inner.published.iter().filter(|p| p.user == THREADS_USER).count() as u64 + inner.threads_used;
            axum::Json(json!({ "data": [{ "quota_usage": used, "config": { "quota_total": 250, "quota_duration": 86400 } }] })).into_response()
        }
        ("GET", [user, "threads_insights"]) if *user == THREADS_USER => axum::Json(json!({ "data": [{
            "name": "followers_count", "period": "day", "title": "followers_count",
            "description": "The number of followers", "total_value": { "value": THREADS_FOLLOWERS },
            "id": format!("{user}/insights/followers_count/day"),
        }]}))
        .into_response(),
        ("GET", [id, "insights"]) => {
            let Some(p) = inner.published.iter().find(|p| p.id == *id) else {
                return invalid("Object does not exist");
            };
            let metric = |name: &str, value: u64| json!({ "name": name, "period": "lifetime", "values": [{ "value": value }], "title": name, "id": format!("{id}/insights/{name}/lifetime") });
            axum::Json(json!({ "data": [
                metric("views", p.views), metric("likes", p.likes), metric("replies", p.comments),
                metric("reposts", 2), metric("quotes", 1),
            ]}))
            .into_response()
        }
        ("GET", [id]) => {
            let fields = params.get("fields").cloned().unwrap_or_default();
            if *id == IG_USER || *id == THREADS_USER {
                return axum::Json(json!({ "id": id, "username": "brand", "followers_count": IG_FOLLOWERS })).into_response();
            }
            if let Some(c) = inner.comments.iter().find(|c| c.id == *id) {
                if threads {
                    return axum::Json(thread_reply(c)).into_response();
                }
                return axum::Json(json!({ "id": c.id, "text": c.message, "timestamp": time(c.created_time),
                    "username": "olena_fan", "from": { "id": c.from, "username": "olena_fan" } }))
                .into_response();
            }
            if let Some(c) = inner.containers.iter().find(|c| c.id == *id) {
                let field = if threads { "status" } else { "status_code" };
                if !fields.contains(field) {
                    return invalid("Tried accessing nonexisting field");
                }
                return axum::Json(json!({ field: c.status, "id": c.id })).into_response();
            }
            match inner.published.iter().find(|p| p.id == *id) {
                Some(p) => axum::Json(json!({
                    "id": p.id, "permalink": format!("https://www.example.com/p/{}", p.id),
                    "like_count": p.likes, "comments_count": p.comments,
                }))
                .into_response(),
                None => invalid(&format!("Unsupported get request. Object with ID '{id}' does not exist")),
            }
        }
        ("DELETE", [id]) if threads => {
            let before = inner.published.len();
            inner.published.retain(|p| p.id != *id);
            if inner.published.len() == before {
                return invalid(&format!("Unsupported delete request. Object with ID '{id}' does not exist"));
            }
            axum::Json(json!({ "success": true, "deleted_id": id })).into_response()
        }
        _ => invalid("Unknown path components"),
    }
}

/// A reply as Threads shows it (`id,text,username,permalink,timestamp,replied_to,root_post,
/// is_reply_owned_by_me`).
fn thread_reply(c: &FbComment) -> Value {
    let own = c.from == THREADS_USER;
    json!({
        "id": c.id, "text": c.message, "username": if own { "brand" } else { "olena_fan" },
        "permalink": format!("https://www.threads.net/@olena_fan/post/{}", c.id),
        "timestamp": time(c.created_time),
        "replied_to": { "id": c.parent.clone().unwrap_or_else(|| c.post.clone()) },
        "root_post": { "id": c.post },
        "is_reply_owned_by_me": own,
    })
}

/// Sets a container's status, as Meta moves it along.
pub fn set_status(fake: &FakeMeta, container: &str, status: &str) {
    if let Some(c) = fake
        .lock()
        .containers
        .iter_mut()
        .find(|c| c.id == container)
    {
        c.status = status.into();
    }
}

/// The Facebook Page routes; `None` for a request that is not about the Page.
fn facebook(
    inner: &mut Inner,
    method: &Method,
    rest: &[&str],
    params: &BTreeMap<String, String>,
) -> Option<Response> {
    let page_post =
        |id: &str| id.starts_with(&format!("{PAGE_ID}_")) && id.matches('_').count() == 1;
    let answer = match (method.as_str(), rest) {
        ("GET", [page]) if *page == PAGE_ID => axum::Json(json!({
            "id": PAGE_ID, "name": "Brand", "followers_count": PAGE_FOLLOWERS,
        }))
        .into_response(),
        ("POST", [page, "photos"]) if *page == PAGE_ID => {
            if !params.get("source").is_some_and(|s| s.starts_with("file:")) {
                return Some(invalid("(#324) Requires upload file"));
            }
            let photo = next_id(inner);
            if params.get("published").map(String::as_str) == Some("false") {
                inner.media_photos.push(photo.clone());
                return Some(axum::Json(json!({ "id": photo })).into_response());
            }
            let post = format!("{PAGE_ID}_{}", next_id(inner));
            push_post(
                inner,
                &post,
                params.get("caption").cloned().unwrap_or_default(),
                photo.clone(),
            );
            axum::Json(json!({ "id": photo, "post_id": post })).into_response()
        }
        ("POST", [page, "feed"]) if *page == PAGE_ID => {
            let message = params.get("message").cloned().unwrap_or_default();
            let attached: Vec<String> = params
                .iter()
                .filter(|(k, _)| k.starts_with("attached_media["))
                .filter_map(|(_, v)| serde_json::from_str::<Value>(v).ok())
                .filter_map(|v| v["media_fbid"].as_str().map(str::to_owned))
                .collect();
            if attached.iter().any(|a| !inner.media_photos.contains(a)) {
                return Some(invalid("(#100) attached_media is invalid"));
            }
            if message.is_empty() && attached.is_empty() {
                return Some(invalid("(#100) The message is empty"));
            }
            let post = format!("{PAGE_ID}_{}", next_id(inner));
            push_post(inner, &post, message, attached.join(","));
            axum::Json(json!({ "id": post })).into_response()
        }
        ("POST", [object, "comments"]) if object.starts_with(&format!("{PAGE_ID}_")) => {
            let post = object.split('_').take(2).collect::<Vec<_>>().join("_");
            if !inner.published.iter().any(|p| p.id == post) {
                return Some(invalid(&format!(
                    "Unsupported post request. Object with ID '{object}' does not exist"
                )));
            }
            let parent = (*object != post).then(|| (*object).to_owned());
            let id = format!("{post}_{}", next_id(inner));
            inner.comments.push(FbComment {
                id: id.clone(),
                post,
                from: PAGE_ID.into(),
                message: params.get("message").cloned().unwrap_or_default(),
                parent,
                created_time: Utc::now(),
            });
            axum::Json(json!({ "id": id })).into_response()
        }
        ("GET", [page, "posts"]) if *page == PAGE_ID => {
            let since = params.get("since").and_then(|s| s.parse::<i64>().ok());
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(25);
            let data: Vec<Value> = inner
                .published
                .iter()
                .rev()
                .filter(|p| p.user == PAGE_ID && since.is_none_or(|s| p.timestamp.timestamp() >= s))
                .take(limit)
                .map(|p| {
                    json!({ "id": p.id, "message": p.text, "created_time": time(p.timestamp),
                                 "permalink_url": format!("https://www.facebook.com/{}", p.id) })
                })
                .collect();
            axum::Json(json!({ "data": data })).into_response()
        }
        ("GET", [post, "comments"]) if page_post(post) => {
            let offset: usize = params
                .get("after")
                .and_then(|a| a.strip_prefix("cursor-"))
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(25);
            let all: Vec<&FbComment> = inner.comments.iter().filter(|c| c.post == *post).collect();
            let data: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(limit)
                .map(|c| {
                    let mut json = json!({
                        "id": c.id, "message": c.message, "created_time": time(c.created_time),
                        "from": { "id": c.from, "name": if c.from == PAGE_ID { "Brand" } else { "Olena Fan" } },
                        "permalink_url": format!("https://www.facebook.com/{}", c.id),
                    });
                    if let Some(parent) = &c.parent {
                        json["parent"] = json!({ "id": parent });
                    }
                    json
                })
                .collect();
            let end = offset + data.len();
            let mut paging = json!({ "cursors": { "before": format!("cursor-{offset}"), "after": format!("cursor-{end}") } });
            if end < all.len() {
                paging["next"] = json!(format!(
                    "https://graph.facebook.com/v21.0/{post}/comments?after=cursor-{end}"
                ));
            }
            axum::Json(json!({ "data": data, "paging": paging })).into_response()
        }
        ("GET", [post, "insights"]) if page_post(post) => {
            let p = inner.published.iter().find(|p| p.id == *post)?;
            axum::Json(
                json!({ "data": [{ "name": "post_impressions", "period": "lifetime",
                "values": [{ "value": p.views }], "title": "Lifetime Post Total Impressions",
                "id": format!("{post}/insights/post_impressions/lifetime") }] }),
            )
            .into_response()
        }
        ("GET", [post]) if page_post(post) => {
            let p = inner.published.iter().find(|p| p.id == *post)?;
            let comments = inner.comments.iter().filter(|c| c.post == *post).count();
            axum::Json(json!({
                "id": p.id, "permalink_url": format!("https://www.facebook.com/{}", p.id),
                "likes": { "data": [], "summary": { "total_count": p.likes, "can_like": true, "has_liked": false } },
                "comments": { "data": [], "summary": { "order": "ranked", "total_count": comments, "can_comment": true } },
                "shares": { "count": p.shares },
            }))
            .into_response()
        }
        ("DELETE", [id]) if id.starts_with(&format!("{PAGE_ID}_")) => {
            let before = inner.published.len() + inner.comments.len();
            inner.published.retain(|p| p.id != *id);
            inner.comments.retain(|c| c.id != *id);
            if inner.published.len() + inner.comments.len() == before {
                return Some(invalid(&format!(
                    "Unsupported delete request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
                )));
            }
            axum::Json(json!({ "success": true })).into_response()
        }
        _ => return None,
    };
    Some(answer)
}

fn push_post(inner: &mut Inner, id: &str, text: String, container: String) {
    inner.published.push(Published {
        id: id.to_owned(),
        user: PAGE_ID.into(),
        container,
        text,
        timestamp: Utc::now(),
        likes: 0,
        comments: 0,
        views: 0,
        shares: 0,
    });
}
