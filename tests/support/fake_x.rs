//! A fake X API v2 on `127.0.0.1:0`, answering as X documents: `POST /2/tweets` (201 with
//! `{"data": {"id", "text", "edit_history_tweet_ids"}}`), `POST /2/media/upload` (multipart
//! `media` and `media_category`), `DELETE /2/tweets/:id`, `GET /2/users/me`,
//! `GET /2/users/:id/tweets` (`start_time`), `GET /2/users/:id/mentions` (`since_id`,
//! `max_results`, `pagination_token`; `includes.users`), `GET /2/tweets/:id`,
//! `GET /2/tweets?ids=` and `POST /2/oauth2/token` (the refresh-token grant; each refresh
//! rotates the refresh token). Refusals are problem documents; rate limits carry
//! `x-rate-limit-limit`, `-remaining` and `-reset`.
//!
//! As X does, a stored text shows links as `t.co` links and `&` as `&amp;`, a reply starts
//! with the `@handle` of the author replied to, and a post with images ends with a link to
//! them. Faults are taken from a queue, one per API request (token requests excepted).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn, parse_multipart};

/// The account crier posts as.
pub const ME_ID: &str = "1500000000000000001";
pub const ME_HANDLE: &str = "brand";
pub const FOLLOWERS: u64 = 5_321;
/// Someone who mentions the account.
pub const FAN_ID: &str = "1500000000000000042";
pub const FAN_HANDLE: &str = "olena_fan";
pub const CLIENT_ID: &str = "Y3JpZXItdGVzdA";

/// A way to misbehave, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `x-rate-limit-reset` this many seconds ahead; nothing done.
    RateLimited(i64),
    /// 429 `UsageCapExceeded`: the app's monthly cap.
    UsageCap,
    /// 429 with the 24-hour post limit's headers, reset this many seconds ahead.
    DailyLimit(i64),
    /// 503 Service Unavailable; nothing done.
    Unavailable,
    /// Does the request, then answers after this long.
    Slow(Duration),
    /// Does the request, then closes the connection without answering.
    AcceptThenDrop,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub bearer: Option<String>,
    pub body: Value,
    pub form: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeTweet {
    pub id: String,
    pub author_id: String,
    /// As X shows it (links as `t.co`, entities escaped).
    pub text: String,
    pub media_keys: Vec<String>,
    pub reply_to: Option<String>,
    pub created_at: DateTime<Utc>,
    pub likes: u64,
    pub retweets: u64,
    pub quotes: u64,
    pub replies: u64,
    pub impressions: u64,
}

struct Inner {
    /// Authorization codes given out, with the PKCE challenge each was asked with.
    codes: Vec<(String, String)>,
    access_tokens: Vec<String>,
    refresh_token: String,
    client_secret: Option<String>,
    issued: u64,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    tweets: Vec<FakeTweet>,
    media: Vec<String>,
    next_id: u64,
    mentions_allowed: bool,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeX {
    server: ChatServer,
    inner: Shared,
}

impl FakeX {
    /// A server that accepts the access token `access` and renews with `refresh`.
    pub fn start(access: &str, refresh: &str) -> FakeX {
        let inner = Arc::new(Mutex::new(Inner {
            codes: Vec::new(),
            access_tokens: vec![access.into()],
            refresh_token: refresh.into(),
            client_secret: None,
            issued: 0,
            faults: VecDeque::new(),
            requests: Vec::new(),
            tweets: Vec::new(),
            media: Vec::new(),
            next_id: 1_800_000_000_000_000_000,
            mentions_allowed: true,
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-x", move || {
            Router::new().fallback(handle).with_state(state)
        });
        FakeX { server, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// The requests to `path` with `method`.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// The account's own posts, oldest first.
    pub fn posts(&self) -> Vec<FakeTweet> {
        self.lock()
            .tweets
            .iter()
            .filter(|t| t.author_id == ME_ID)
            .cloned()
            .collect()
    }

    /// What X's authorization page does once the person approves: a code for `challenge`.
    pub fn authorize(&self, challenge: &str) -> String {
        let mut inner = self.lock();
        let code = format!("code-{}", inner.codes.len() + 1);
        inner.codes.push((code.clone(), challenge.into()));
        code
    }

    /// The access token stops working (revoked or expired early).
    pub fn revoke_access_tokens(&self) {
        self.lock().access_tokens.clear();
    }

    /// The refresh token stops working too: the person removed the app's access.
    pub fn revoke_refresh_token(&self) {
        self.lock().refresh_token = "revoked".into();
    }

    /// A confidential client: token requests must carry Basic auth with this secret.
    pub fn require_client_secret(&self, secret: &str) {
        self.lock().client_secret = Some(secret.into());
    }

    /// The current refresh token (rotated on each refresh).
    pub fn refresh_token(&self) -> String {
        self.lock().refresh_token.clone()
    }

    /// The app's plan has no mentions endpoint (X's Free plan).
    pub fn forbid_mentions(&self) {
        self.lock().mentions_allowed = false;
    }

    /// A post by `author_id`, shown as `text`, at `created_at`; its id.
    pub fn add_tweet(
        &self,
        author_id: &str,
        text: &str,
        reply_to: Option<&str>,
        created_at: DateTime<Utc>,
    ) -> String {
        let mut inner = self.lock();
        let id = next_id(&mut inner);
        inner.tweets.push(FakeTweet {
            id: id.clone(),
            author_id: author_id.into(),
            text: text.into(),
            media_keys: vec![],
            reply_to: reply_to.map(str::to_owned),
            created_at,
            likes: 0,
            retweets: 0,
            quotes: 0,
            replies: 0,
            impressions: 0,
        });
        id
    }

    /// A mention of the account by the fan; its id.
    pub fn add_mention(&self, text: &str) -> String {
        self.add_tweet(FAN_ID, &format!("@{ME_HANDLE} {text}"), None, Utc::now())
    }

    pub fn edit_text(&self, id: &str, text: &str) {
        if let Some(t) = self.lock().tweets.iter_mut().find(|t| t.id == id) {
            t.text = text.into();
        }
    }

    pub fn remove(&self, id: &str) {
        self.lock().tweets.retain(|t| t.id != id);
    }

    pub fn set_counts(&self, id: &str, likes: u64, retweets: u64, quotes: u64, impressions: u64) {
        if let Some(t) = self.lock().tweets.iter_mut().find(|t| t.id == id) {
            t.likes = likes;
            t.retweets = retweets;
            t.quotes = quotes;
            t.impressions = impressions;
        }
    }
}

fn next_id(inner: &mut Inner) -> String {
    inner.next_id += 1;
    inner.next_id.to_string()
}

fn problem(status: StatusCode, title: &str, detail: &str, kind: &str) -> Response {
    (
        status,
        axum::Json(
            json!({ "title": title, "detail": detail, "type": kind, "status": status.as_u16() }),
        ),
    )
        .into_response()
}

fn unauthorized() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Unauthorized",
        "about:blank",
    )
}

fn invalid(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errors": [{ "message": message }],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        })),
    )
        .into_response()
}

fn rate_limited(reset_in: i64, extra: &[(&str, String)], body: Value) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    let reset = (Utc::now().timestamp() + reset_in).to_string();
    headers.insert("x-rate-limit-limit", "100".parse().unwrap());
    headers.insert("x-rate-limit-remaining", "0".parse().unwrap());
    headers.insert("x-rate-limit-reset", reset.parse().unwrap());
    for (name, value) in extra {
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// `a=1&b=2`, percent-decoded.
fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn tweet_json(t: &FakeTweet) -> Value {
    let mut json = json!({
        "id": t.id,
        "text": t.text,
        "author_id": t.author_id,
        "created_at": time(t.created_at),
        "edit_history_tweet_ids": [t.id],
        "public_metrics": {
            "retweet_count": t.retweets, "reply_count": t.replies, "like_count": t.likes,
            "quote_count": t.quotes, "bookmark_count": 0, "impression_count": t.impressions,
        },
    });
    if let Some(parent) = &t.reply_to {
        json["referenced_tweets"] = json!([{ "type": "replied_to", "id": parent }]);
    }
    if !t.media_keys.is_empty() {
        json["attachments"] = json!({ "media_keys": t.media_keys });
    }
    json
}

fn user_json(id: &str) -> Value {
    if id == ME_ID {
        json!({ "id": ME_ID, "name": "Brand", "username": ME_HANDLE,
                "created_at": "2015-03-01T09:00:00.000Z",
                "public_metrics": { "followers_count": FOLLOWERS, "following_count": 10, "tweet_count": 900, "listed_count": 3 } })
    } else {
        json!({ "id": id, "name": "Olena Fan", "username": FAN_HANDLE,
                "created_at": "2019-06-01T12:00:00.000Z",
                "public_metrics": { "followers_count": 87, "following_count": 200, "tweet_count": 40, "listed_count": 0 } })
    }
}

/// A text as X shows it: links as `t.co` links, `&`, `<`, `>` escaped.
fn shown(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .enumerate()
        .map(|(n, w)| {
            if w.starts_with("http://") || w.starts_with("https://") {
                format!("https://t.co/L{n}k")
            } else {
                w.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            }
        })
        .collect();
    words.join(" ")
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
    let query: BTreeMap<String, String> = uri.query().map(pairs).unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut form = BTreeMap::new();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        form = pairs(&String::from_utf8_lossy(&body));
    } else if content_type.starts_with("multipart/form-data") {
        for field in parse_multipart(&content_type, &body).unwrap_or_default() {
            let value = match field.file_name {
                Some(name) => format!("file:{name}"),
                None => field.text(),
            };
            form.insert(field.name, value);
        }
    }
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            bearer: authorization.strip_prefix("Bearer ").map(str::to_owned),
            body: json_body.clone(),
            form: form.clone(),
        });
        if path == "/2/oauth2/token" {
            return token(&mut inner, &form, &authorization);
        }
        let Some(bearer) = authorization.strip_prefix("Bearer ") else {
            return unauthorized();
        };
        if !inner.access_tokens.iter().any(|t| t == bearer) {
            return unauthorized();
        }
        let fault = inner.faults.pop_front();
        match &fault {
            Some(Fault::RateLimited(reset_in)) => {
                return rate_limited(
                    *reset_in,
                    &[],
                    json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 }),
                );
            }
            Some(Fault::UsageCap) => {
                return rate_limited(
                    3600,
                    &[],
                    json!({ "title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap", "type": "https://api.twitter.com/2/problems/usage-capped", "period": "Monthly", "scope": "Product" }),
                );
            }
            Some(Fault::DailyLimit(reset_in)) => {
                let reset = (Utc::now().timestamp() + reset_in).to_string();
                return rate_limited(
                    60,
                    &[
                        ("x-user-limit-24hour-limit", "17".into()),
                        ("x-user-limit-24hour-remaining", "0".into()),
                        ("x-user-limit-24hour-reset", reset),
                    ],
                    json!({ "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429 }),
                );
            }
            Some(Fault::Unavailable) => {
                return problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "Service Unavailable",
                    "about:blank",
                );
            }
            _ => {}
        }
        let answer = api(&mut inner, &method, &path, &query, &json_body, &form);
        (fault, answer)
    };
    match fault {
        Some(Fault::Slow(delay)) => {
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

fn token(inner: &mut Inner, form: &BTreeMap<String, String>, authorization: &str) -> Response {
    let invalid_token = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_request", "error_description": "Value passed for the token was invalid." })),
        )
            .into_response()
    };
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return invalid_token();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {}
        Some("authorization_code") => {
            use base64::Engine as _;
            use sha2::Digest as _;
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(index) = inner
                .codes
                .iter()
                .position(|(c, ch)| *c == code && *ch == challenge)
            else {
                return invalid_token();
            };
            if !form
                .get("redirect_uri")
                .is_some_and(|r| r.starts_with("http://127.0.0.1:"))
            {
                return invalid_token();
            }
            inner.codes.remove(index);
            inner.refresh_token = "retired".into();
        }
        _ => return invalid_token(),
    }
    if let Some(secret) = &inner.client_secret {
        use base64::Engine as _;
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{secret}"));
        if authorization != format!("Basic {expected}") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({ "error": "unauthorized_client", "error_description": "Missing valid authorization header" })),
            )
                .into_response();
        }
    }
    if form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token") != Some(&inner.refresh_token)
    {
        return invalid_token();
    }
    inner.issued += 1;
    let access = format!("xat-renewed-{}", inner.issued);
    let refresh = format!("xrt-renewed-{}", inner.issued);
    inner.access_tokens.push(access.clone());
    inner.refresh_token = refresh.clone();
    axum::Json(json!({
        "token_type": "bearer", "expires_in": 7200, "access_token": access,
        "scope": "tweet.read tweet.write users.read media.write offline.access",
        "refresh_token": refresh,
    }))
    .into_response()
}

fn api(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
    form: &BTreeMap<String, String>,
) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["2", "users", "me"]) => axum::Json(json!({ "data": user_json(ME_ID) })).into_response(),
        ("POST", ["2", "media", "upload"]) => {
            if form.get("media_category").map(String::as_str) != Some("tweet_image")
                || !form.get("media").is_some_and(|m| m.starts_with("file:"))
            {
                return invalid("media and media_category are required");
            }
            let id = next_id(inner);
            inner.media.push(id.clone());
            axum::Json(json!({ "data": {
                "id": id, "media_key": format!("3_{id}"), "size": 9,
                "expires_after_secs": 86400, "image": { "image_type": "image/png", "w": 1, "h": 1 },
            }}))
            .into_response()
        }
        ("POST", ["2", "tweets"]) => {
            let text = body["text"].as_str().unwrap_or("").to_owned();
            let media: Vec<String> = body["media"]["media_ids"]
                .as_array()
                .map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if text.is_empty() && media.is_empty() {
                return invalid("Post text or media is required.");
            }
            if media.len() > 4 || media.iter().any(|m| !inner.media.contains(m)) {
                return invalid("Your media IDs are invalid.");
            }
            let reply_to = body["reply"]["in_reply_to_tweet_id"].as_str().map(str::to_owned);
            let mut shown_text = shown(&text);
            if let Some(parent) = &reply_to {
                let Some(parent) = inner.tweets.iter().find(|t| &t.id == parent) else {
                    return invalid("The post you are replying to has been deleted or is not visible to you.");
                };
                if parent.author_id != ME_ID {
                    shown_text = format!("@{FAN_HANDLE} {shown_text}");
                }
            } else if inner
                .tweets
                .iter()
                .any(|t| t.author_id == ME_ID && t.reply_to.is_none() && t.text == shown_text)
            {
                return problem(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                    "about:blank",
                );
            }
            let id = next_id(inner);
            if !media.is_empty() {
                shown_text = format!("{shown_text} https://t.co/M{id}").trim().to_owned();
            }
            inner.tweets.push(FakeTweet {
                id: id.clone(),
                author_id: ME_ID.into(),
                text: shown_text.clone(),
                media_keys: media.iter().map(|m| format!("3_{m}")).collect(),
                reply_to,
                created_at: Utc::now(),
                likes: 0,
                retweets: 0,
                quotes: 0,
                replies: 0,
                impressions: 0,
            });
            (
                StatusCode::CREATED,
                axum::Json(json!({ "data": { "id": id, "text": shown_text, "edit_history_tweet_ids": [id] } })),
            )
                .into_response()
        }
        ("DELETE", ["2", "tweets", id]) => {
            let before = inner.tweets.len();
            inner.tweets.retain(|t| t.id != *id);
            if inner.tweets.len() == before {
                return problem(
                    StatusCode::NOT_FOUND,
                    "Not Found Error",
                    &format!("Could not find tweet with id: [{id}]."),
                    "https://api.twitter.com/2/problems/resource-not-found",
                );
            }
            axum::Json(json!({ "data": { "deleted": true } })).into_response()
        }
        ("GET", ["2", "users", user, "tweets"]) => {
            if *user != ME_ID {
                return invalid("The `id` query parameter value is not valid");
            }
            let since = query
                .get("start_time")
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|s| s.with_timezone(&Utc));
            let max: usize = query.get("max_results").and_then(|m| m.parse().ok()).unwrap_or(10);
            let data: Vec<Value> = inner
                .tweets
                .iter()
                .rev()
                .filter(|t| t.author_id == ME_ID && since.is_none_or(|s| t.created_at >= s))
                .take(max)
                .map(tweet_json)
                .collect();
            timeline(data, None, vec![])
        }
        ("GET", ["2", "users", user, "mentions"]) => {
            if !inner.mentions_allowed {
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({
                        "client_id": "30240000", "reason": "client-not-enrolled",
                        "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
                        "registration_url": "https://developer.x.com/en/portal/product",
                        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
                        "type": "https://api.twitter.com/2/problems/client-forbidden",
                    })),
                )
                    .into_response();
            }
            if *user != ME_ID {
                return invalid("The `id` query parameter value is not valid");
            }
            let since: u64 = query.get("since_id").and_then(|s| s.parse().ok()).unwrap_or(0);
            let max: usize = query.get("max_results").and_then(|m| m.parse().ok()).unwrap_or(10);
            let offset: usize = query
                .get("pagination_token")
                .and_then(|p| p.strip_prefix("page-"))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let all: Vec<&FakeTweet> = inner
                .tweets
                .iter()
                .rev()
                .filter(|t| t.author_id != ME_ID || t.text.contains(&format!("@{ME_HANDLE}")))
                .filter(|t| t.text.contains(&format!("@{ME_HANDLE}")) || t.reply_to.is_some())
                .filter(|t| t.id.parse::<u64>().unwrap_or(0) > since)
                .collect();
            let page: Vec<Value> = all.iter().skip(offset).take(max).map(|t| tweet_json(t)).collect();
            let next = (offset + max < all.len()).then(|| format!("page-{}", offset + max));
            let users = if page.is_empty() { vec![] } else { vec![user_json(FAN_ID)] };
            timeline(page, next, users)
        }
        ("GET", ["2", "tweets", id]) => match inner.tweets.iter().find(|t| t.id == *id) {
            Some(t) => axum::Json(json!({ "data": tweet_json(t), "includes": { "users": [user_json(&t.author_id)] } })).into_response(),
            None => axum::Json(json!({ "errors": [{
                "value": id, "detail": format!("Could not find tweet with id: [{id}]."),
                "title": "Not Found Error", "resource_type": "tweet", "parameter": "id", "resource_id": id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }]}))
            .into_response(),
        },
        ("GET", ["2", "tweets"]) => {
            let ids: Vec<&str> = query.get("ids").map(|i| i.split(',').collect()).unwrap_or_default();
            if ids.is_empty() || ids.len() > 100 {
                return invalid("The `ids` query parameter value is not valid");
            }
            let data: Vec<Value> = inner
                .tweets
                .iter()
                .filter(|t| ids.contains(&t.id.as_str()))
                .map(tweet_json)
                .collect();
            axum::Json(json!({ "data": data })).into_response()
        }
        _ => problem(StatusCode::NOT_FOUND, "Not Found", "Sorry, that page does not exist", "about:blank"),
    }
}

/// A timeline page: newest first, `meta` with `newest_id` and `next_token`.
fn timeline(data: Vec<Value>, next: Option<String>, users: Vec<Value>) -> Response {
    let mut meta = json!({ "result_count": data.len() });
    if let Some(first) = data.first() {
        meta["newest_id"] = first["id"].clone();
        meta["oldest_id"] = data.last().unwrap()["id"].clone();
    }
    if let Some(next) = next {
        meta["next_token"] = json!(next);
    }
    let mut answer = json!({ "meta": meta });
    if !data.is_empty() {
        answer["data"] = json!(data);
        answer["includes"] = json!({ "users": users });
    }
    axum::Json(answer).into_response()
}
