//! A fake Bluesky PDS on `127.0.0.1:0`, for the Bluesky connector's tests.
//!
//! It answers the XRPC endpoints the connector uses with the shapes the real PDS and app view
//! send: sessions with short-lived access JWTs (`exp` in the payload) and rotating refresh
//! tokens, `400 ExpiredToken` for an expired access token, `401 AuthenticationRequired` for a
//! wrong password; `createRecord` that validates the post (300 graphemes, facets inside the
//! text, mention DIDs, uploaded blobs) and refuses a second record under the same key the way
//! the PDS does today (`500 InternalServerError`); `getRecord` (`400 RecordNotFound`),
//! `deleteRecord` (absent records are fine), `uploadBlob`, `resolveHandle`, `getPosts`,
//! `getProfile(s)`, `listNotifications` newest first with a cursor to older pages, and
//! `searchPosts` (`q` with `#tag` terms, `sort`, `since` inclusive and `until` exclusive on a
//! post's `sortAt`, `limit` 1–100, default 25, and a cursor to older pages). Every
//! answer carries `RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) and `-Policy`.
//!
//! Faults are queued per NSID: 500, 429 with or without `RateLimit-*` hints, any XRPC error, a
//! slow answer, or a connection dropped after the work is done. Every request is recorded.
//! It runs on its own thread with its own runtime, like [`super::fake_network`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use unicode_segmentation::UnicodeSegmentation;

use super::chat_server::{Conn, KillableListener};

pub const HANDLE: &str = "brand.bsky.social";
pub const DID: &str = "did:plc:brandaaaaaaaaaaaaaaaaaaa";
pub const PASSWORD: &str = "abcd-efgh-ijkl-mnop";
pub const POST: &str = "app.bsky.feed.post";

/// A way to misbehave, for one request to one NSID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `500 {"error":"InternalServerError"}`, nothing done.
    ServerError,
    /// `429 {"error":"RateLimitExceeded"}` with `RateLimit-Remaining: 0` and a
    /// `RateLimit-Reset` this far ahead (epoch seconds), nothing done.
    RateLimited { reset_in: Duration },
    /// `429` with the error body and no rate-limit headers, nothing done.
    RateLimitedNoHint,
    /// Any XRPC error, nothing done.
    Xrpc {
        status: u16,
        error: String,
        message: String,
    },
    /// Does the work, then answers this late.
    Slow(Duration),
    /// Does the work, then closes the connection without answering.
    AcceptThenDrop,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub nsid: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub fault: Option<Fault>,
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of query parameter `name`.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// A post anywhere on the fake network (the account's own and others').
#[derive(Debug, Clone)]
pub struct FakePost {
    pub uri: String,
    pub cid: String,
    pub author: String,
    pub record: Value,
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
}

/// Another account the fake knows.
#[derive(Debug, Clone)]
pub struct FakeProfile {
    pub did: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub followers: u64,
    pub created_at: String,
    /// Whether they follow the account.
    pub follows_account: bool,
}

#[derive(Debug, Clone)]
struct FakeNotification {
    uri: String,
    author: String,
    reason: String,
    indexed_at: DateTime<Utc>,
}

struct Inner {
    access_ttl: Duration,
    /// Access token → its expiry.
    access_tokens: BTreeMap<String, DateTime<Utc>>,
    refresh_tokens: BTreeSet<String>,
    issued: u64,
    /// The account's posts by record key.
    repo: BTreeMap<String, String>,
    posts: BTreeMap<String, FakePost>,
    blobs: BTreeMap<String, (String, usize)>,
    profiles: BTreeMap<String, FakeProfile>,
    notifications: Vec<FakeNotification>,
    duplicate_answer: (u16, &'static str, &'static str),
    requests: Vec<Received>,
    faults: BTreeMap<String, VecDeque<Fault>>,
    created: usize,
    next_rkey: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeBluesky {
    addr: SocketAddr,
    inner: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeBluesky {
    /// A PDS with the account `HANDLE` / `DID` / `PASSWORD`, listening before it returns.
    pub fn start() -> FakeBluesky {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let mut profiles = BTreeMap::new();
        profiles.insert(
            DID.to_owned(),
            FakeProfile {
                did: DID.into(),
                handle: HANDLE.into(),
                display_name: Some("Brand".into()),
                followers: 0,
                created_at: "2024-01-10T09:00:00.000Z".into(),
                follows_account: false,
            },
        );
        let inner = Arc::new(Mutex::new(Inner {
            access_ttl: Duration::from_secs(2 * 60 * 60),
            access_tokens: BTreeMap::new(),
            refresh_tokens: BTreeSet::new(),
            issued: 0,
            repo: BTreeMap::new(),
            posts: BTreeMap::new(),
            blobs: BTreeMap::new(),
            profiles,
            notifications: Vec::new(),
            duplicate_answer: (500, "InternalServerError", "Internal Server Error"),
            requests: Vec::new(),
            faults: BTreeMap::new(),
            created: 0,
            next_rkey: 0,
        }));
        let (shutdown, stop) = oneshot::channel();
        let state = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-bluesky-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake bluesky runtime");
                runtime.block_on(async move {
                    let listener =
                        KillableListener(TcpListener::from_std(listener).expect("tokio listener"));
                    let app = Router::new()
                        .route("/xrpc/{nsid}", any(receive))
                        .with_state(state);
                    let serve =
                        axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("fake bluesky thread");
        FakeBluesky {
            addr,
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The PDS URL to give the account as `service`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long new access tokens live (2 hours, as on bsky.social, by default).
    pub fn set_access_ttl(&self, ttl: Duration) {
        self.lock().access_ttl = ttl;
    }

    /// Makes every access token issued so far expired.
    pub fn expire_access_tokens(&self) {
        let past = Utc::now() - chrono::TimeDelta::seconds(1);
        for expiry in self.lock().access_tokens.values_mut() {
            *expiry = past;
        }
    }

    /// Makes every refresh token issued so far unusable.
    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh_tokens.clear();
    }

    /// Every access and refresh token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        let inner = self.lock();
        inner
            .access_tokens
            .keys()
            .chain(inner.refresh_tokens.iter())
            .cloned()
            .collect()
    }

    /// Answers the next request to `nsid` with `fault` (after those already queued).
    pub fn push_fault(&self, nsid: &str, fault: Fault) {
        self.lock()
            .faults
            .entry(nsid.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// How a second record under an existing key is refused (`500 InternalServerError` by
    /// default, as the PDS does today).
    pub fn set_duplicate_answer(&self, status: u16, error: &'static str, message: &'static str) {
        self.lock().duplicate_answer = (status, error, message);
    }

    /// Another account, resolvable by handle, with its profile facts.
    pub fn add_profile(&self, profile: FakeProfile) {
        self.lock().profiles.insert(profile.did.clone(), profile);
    }

    /// Sets the account's own follower count.
    pub fn set_followers(&self, followers: u64) {
        self.lock().profiles.get_mut(DID).unwrap().followers = followers;
    }

    /// A post by `author` (a DID) with `record`; returns its URI and CID.
    pub fn add_post(&self, author: &str, record: Value) -> (String, String) {
        let mut inner = self.lock();
        let rkey = next_rkey(&mut inner);
        let uri = format!("at://{author}/{POST}/{rkey}");
        let cid = cid_of(&record);
        inner.posts.insert(
            uri.clone(),
            FakePost {
                uri: uri.clone(),
                cid: cid.clone(),
                author: author.into(),
                record,
                likes: 0,
                reposts: 0,
                replies: 0,
            },
        );
        (uri, cid)
    }

    /// The author of post `uri` deletes it.
    pub fn author_deletes(&self, uri: &str) {
        self.lock().posts.remove(uri);
    }

    /// The author of post `uri` edits its text (the record changes; Bluesky clients do not
    /// edit, but a record can be rewritten with `putRecord`).
    pub fn author_edits(&self, uri: &str, text: &str) {
        let mut inner = self.lock();
        if let Some(post) = inner.posts.get_mut(uri) {
            post.record["text"] = Value::String(text.to_string());
        }
    }

    pub fn set_counts(&self, uri: &str, likes: u64, reposts: u64, replies: u64) {
        let mut inner = self.lock();
        let post = inner.posts.get_mut(uri).expect("a known post");
        (post.likes, post.reposts, post.replies) = (likes, reposts, replies);
    }

    /// A notification about the post `uri` (its author is the notification's author).
    pub fn add_notification(&self, uri: &str, reason: &str, indexed_at: DateTime<Utc>) {
        let mut inner = self.lock();
        let author = inner.posts.get(uri).expect("a known post").author.clone();
        inner.notifications.push(FakeNotification {
            uri: uri.into(),
            author,
            reason: reason.into(),
            indexed_at,
        });
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// The requests to `nsid`, in order.
    pub fn requests_to(&self, nsid: &str) -> Vec<Received> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.nsid == nsid)
            .cloned()
            .collect()
    }

    /// The NSIDs requested, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock()
            .requests
            .iter()
            .map(|r| r.nsid.clone())
            .collect()
    }

    /// The account's posts, by record key.
    pub fn own_posts(&self) -> BTreeMap<String, FakePost> {
        let inner = self.lock();
        inner
            .repo
            .iter()
            .map(|(rkey, uri)| (rkey.clone(), inner.posts[uri].clone()))
            .collect()
    }

    /// Posts created by `createRecord` (deleted ones included).
    pub fn created_count(&self) -> usize {
        self.lock().created
    }

    /// Uploaded blobs: CID → (MIME type, size).
    pub fn blobs(&self) -> BTreeMap<String, (String, usize)> {
        self.lock().blobs.clone()
    }
}

impl Drop for FakeBluesky {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An XRPC answer before faults.
struct Answer {
    status: u16,
    body: Value,
}

fn ok(body: Value) -> Answer {
    Answer { status: 200, body }
}

fn error(status: u16, error: &str, message: &str) -> Answer {
    Answer {
        status,
        body: json!({ "error": error, "message": message }),
    }
}

async fn receive(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path(nsid): Path<String>,
    method: Method,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = raw_query
        .map(|q| {
            reqwest::Url::parse(&format!("http://x/?{q}"))
                .unwrap()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = inner
            .faults
            .get_mut(&nsid)
            .and_then(|queue| queue.pop_front());
        let answer = match &fault {
            Some(Fault::ServerError) => error(500, "InternalServerError", "Internal Server Error"),
            Some(Fault::RateLimited { .. } | Fault::RateLimitedNoHint) => {
                error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            }
            Some(Fault::Xrpc {
                status,
                error: name,
                message,
            }) => error(*status, name, message),
            _ => handle(&mut inner, &nsid, &method, &query, &headers, &body),
        };
        inner.requests.push(Received {
            method,
            nsid,
            query,
            headers,
            body,
            fault: fault.clone(),
            status: answer.status,
        });
        (fault, answer)
    };
    let reset = Utc::now().timestamp() + 300;
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        axum::Json(answer.body),
    )
        .into_response();
    let limit_headers: Vec<(&str, String)> = match &fault {
        Some(Fault::RateLimitedNoHint) => vec![],
        Some(Fault::RateLimited { reset_in }) => vec![
            ("ratelimit-limit", "3000".into()),
            ("ratelimit-remaining", "0".into()),
            (
                "ratelimit-reset",
                (Utc::now().timestamp() + reset_in.as_secs() as i64).to_string(),
            ),
            ("ratelimit-policy", "3000;w=300".into()),
        ],
        _ => vec![
            ("ratelimit-limit", "3000".into()),
            ("ratelimit-remaining", "2999".into()),
            ("ratelimit-reset", reset.to_string()),
            ("ratelimit-policy", "3000;w=300".into()),
        ],
    };
    for (name, value) in limit_headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    match fault {
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::AcceptThenDrop) => {
            conn.drop_connection();
            StatusCode::OK.into_response()
        }
        _ => response,
    }
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn params<'q>(query: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    query
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

fn handle(
    inner: &mut Inner,
    nsid: &str,
    method: &Method,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let procedure = matches!(
        nsid,
        "com.atproto.server.createSession"
            | "com.atproto.server.refreshSession"
            | "com.atproto.repo.createRecord"
            | "com.atproto.repo.deleteRecord"
            | "com.atproto.repo.uploadBlob"
    );
    if procedure != (method == Method::POST) {
        return error(
            400,
            "InvalidRequest",
            &format!(
                "Incorrect HTTP method ({method}) expected {}",
                if procedure { "POST" } else { "GET" }
            ),
        );
    }
    match nsid {
        "com.atproto.server.createSession" => {
            let identifier = json["identifier"].as_str().unwrap_or_default();
            if (identifier != HANDLE && identifier != DID) || json["password"] != PASSWORD {
                return error(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                );
            }
            ok(new_session(inner))
        }
        "com.atproto.server.refreshSession" => match bearer {
            Some(token) if inner.refresh_tokens.remove(&token) => ok(new_session(inner)),
            Some(_) => error(400, "ExpiredToken", "Token has been revoked"),
            None => error(401, "AuthenticationRequired", "Authentication Required"),
        },
        "com.atproto.identity.resolveHandle" => {
            let handle = param(query, "handle").unwrap_or_default();
            match inner.profiles.values().find(|p| p.handle == handle) {
                Some(profile) => ok(json!({ "did": profile.did })),
                None => error(400, "InvalidRequest", "Unable to resolve handle"),
            }
        }
        "com.atproto.repo.getRecord" => {
            let (repo, collection, rkey) = (
                param(query, "repo").unwrap_or_default(),
                param(query, "collection").unwrap_or_default(),
                param(query, "rkey").unwrap_or_default(),
            );
            let uri = format!("at://{repo}/{collection}/{rkey}");
            let found = (repo == DID || repo == HANDLE) && collection == POST;
            match inner.repo.get(rkey).filter(|_| found) {
                Some(uri) => {
                    let post = &inner.posts[uri];
                    ok(json!({ "uri": post.uri, "cid": post.cid, "value": post.record }))
                }
                None => error(
                    400,
                    "RecordNotFound",
                    &format!("Could not locate record: {uri}"),
                ),
            }
        }
        _ => {
            if let Err(refused) = check_access(inner, bearer.as_deref()) {
                return refused;
            }
            authenticated(inner, nsid, query, headers, body, &json)
        }
    }
}

fn check_access(inner: &Inner, bearer: Option<&str>) -> Result<(), Answer> {
    let Some(token) = bearer else {
        return Err(error(
            401,
            "AuthenticationRequired",
            "Authentication Required",
        ));
    };
    match inner.access_tokens.get(token) {
        None => Err(error(401, "InvalidToken", "Malformed token")),
        Some(expiry) if *expiry <= Utc::now() => {
            Err(error(400, "ExpiredToken", "Token has expired"))
        }
        Some(_) => Ok(()),
    }
}

fn authenticated(
    inner: &mut Inner,
    nsid: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
    json: &Value,
) -> Answer {
    match nsid {
        "com.atproto.server.getSession" => {
            ok(json!({ "handle": HANDLE, "did": DID, "active": true }))
        }
        "com.atproto.repo.createRecord" => create_record(inner, json),
        "com.atproto.repo.deleteRecord" => {
            let repo = json["repo"].as_str().unwrap_or_default();
            if repo != DID && repo != HANDLE {
                return error(400, "InvalidRequest", "Could not find repo");
            }
            let rkey = json["rkey"].as_str().unwrap_or_default();
            match inner.repo.remove(rkey) {
                Some(uri) => {
                    inner.posts.remove(&uri);
                    ok(json!({ "commit": { "cid": "bafyreicommit", "rev": "3l2222222222a" } }))
                }
                None => ok(json!({})),
            }
        }
        "com.atproto.repo.uploadBlob" => {
            let Some(mime) = headers.get("content-type").and_then(|v| v.to_str().ok()) else {
                return error(400, "InvalidRequest", "Missing content-type");
            };
            let cid = format!("bafkrei{}", &hex::encode(Sha256::digest(body))[..40]);
            inner
                .blobs
                .insert(cid.clone(), (mime.to_owned(), body.len()));
            ok(json!({ "blob": {
                "$type": "blob", "ref": { "$link": cid }, "mimeType": mime, "size": body.len()
            }}))
        }
        "app.bsky.feed.getPosts" => {
            let uris = params(query, "uris");
            if uris.len() > 25 {
                return error(400, "InvalidRequest", "Array too long: uris");
            }
            let posts: Vec<Value> = uris
                .iter()
                .filter_map(|uri| inner.posts.get(*uri))
                .map(|post| post_view(inner, post))
                .collect();
            ok(json!({ "posts": posts }))
        }
        "app.bsky.actor.getProfile" => {
            let actor = param(query, "actor").unwrap_or_default();
            match find_profile(inner, actor) {
                Some(profile) => ok(profile_view(profile, true)),
                None => error(400, "InvalidRequest", "Profile not found"),
            }
        }
        "app.bsky.actor.getProfiles" => {
            let actors = params(query, "actors");
            if actors.len() > 25 {
                return error(400, "InvalidRequest", "Array too long: actors");
            }
            let profiles: Vec<Value> = actors
                .iter()
                .filter_map(|actor| find_profile(inner, actor))
                .map(|profile| profile_view(profile, true))
                .collect();
            ok(json!({ "profiles": profiles }))
        }
        "app.bsky.notification.listNotifications" => list_notifications(inner, query),
        "app.bsky.feed.searchPosts" => search_posts(inner, query),
        _ => error(404, "MethodNotImplemented", "Method Not Implemented"),
    }
}

fn create_record(inner: &mut Inner, json: &Value) -> Answer {
    let repo = json["repo"].as_str().unwrap_or_default();
    if repo != DID && repo != HANDLE {
        return error(400, "InvalidRequest", "Could not find repo");
    }
    if json["collection"] != POST {
        return error(400, "InvalidRequest", "Only posts in this fake");
    }
    let record = &json["record"];
    if record["$type"] != POST {
        return error(
            400,
            "InvalidRequest",
            "Invalid $type: must be app.bsky.feed.post",
        );
    }
    let Some(text) = record["text"].as_str() else {
        return error(
            400,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record: Record must have the property \"text\"",
        );
    };
    if record["createdAt"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_none()
    {
        return error(
            400,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime",
        );
    }
    if text.graphemes(true).count() > 300 {
        return error(
            400,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
        );
    }
    for (n, facet) in record["facets"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let start = facet["index"]["byteStart"].as_u64().unwrap_or(u64::MAX) as usize;
        let end = facet["index"]["byteEnd"].as_u64().unwrap_or(u64::MAX) as usize;
        if start >= end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return error(
                400,
                "InvalidRequest",
                &format!(
                    "Invalid app.bsky.feed.post record: Record/facets/{n}/index is out of the text"
                ),
            );
        }
        for feature in facet["features"].as_array().into_iter().flatten() {
            if feature["$type"] == "app.bsky.richtext.facet#mention"
                && !feature["did"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("did:")
            {
                return error(
                    400,
                    "InvalidRequest",
                    &format!(
                        "Invalid app.bsky.feed.post record: Record/facets/{n}/features/0/did must be a valid did"
                    ),
                );
            }
        }
    }
    if let Some(embed) = record.get("embed") {
        let images = embed["images"].as_array().cloned().unwrap_or_default();
        if embed["$type"] != "app.bsky.embed.images" || images.len() > 4 {
            return error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/embed/images must not have more than 4 elements",
            );
        }
        for image in &images {
            let cid = image["image"]["ref"]["$link"].as_str().unwrap_or_default();
            if !inner.blobs.contains_key(cid) || image["alt"].as_str().is_none() {
                return error(
                    400,
                    "InvalidRequest",
                    &format!("Could not find blob: {cid}"),
                );
            }
        }
    }
    let rkey = match json["rkey"].as_str() {
        Some(rkey) => {
            let valid = !rkey.is_empty()
                && rkey.len() <= 512
                && rkey != "."
                && rkey != ".."
                && rkey
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b));
            if !valid {
                return error(400, "InvalidRequest", "Invalid record key");
            }
            rkey.to_owned()
        }
        None => next_rkey(inner),
    };
    if inner.repo.contains_key(&rkey) {
        let (status, name, message) = inner.duplicate_answer;
        return error(status, name, message);
    }
    let uri = format!("at://{DID}/{POST}/{rkey}");
    let cid = cid_of(record);
    inner.posts.insert(
        uri.clone(),
        FakePost {
            uri: uri.clone(),
            cid: cid.clone(),
            author: DID.into(),
            record: record.clone(),
            likes: 0,
            reposts: 0,
            replies: 0,
        },
    );
    inner.repo.insert(rkey, uri.clone());
    inner.created += 1;
    ok(json!({
        "uri": uri,
        "cid": cid,
        "commit": { "cid": "bafyreicommit", "rev": "3l2222222222a" },
        "validationStatus": "valid",
    }))
}

fn list_notifications(inner: &Inner, query: &[(String, String)]) -> Answer {
    let limit: usize = param(query, "limit")
        .map(|l| l.parse().unwrap_or(0))
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return error(400, "InvalidRequest", "limit must be between 1 and 100");
    }
    let reasons = params(query, "reasons");
    let before = param(query, "cursor").map(|c| {
        DateTime::parse_from_rfc3339(c)
            .expect("the fake's own cursor")
            .with_timezone(&Utc)
    });
    let mut all: Vec<&FakeNotification> = inner
        .notifications
        .iter()
        .filter(|n| reasons.is_empty() || reasons.contains(&n.reason.as_str()))
        .filter(|n| before.is_none_or(|before| n.indexed_at < before))
        .collect();
    all.sort_by_key(|n| std::cmp::Reverse(n.indexed_at));
    let page: Vec<&FakeNotification> = all.into_iter().take(limit).collect();
    let cursor = page
        .last()
        .map(|n| n.indexed_at.to_rfc3339_opts(SecondsFormat::Millis, true));
    let notifications: Vec<Value> = page
        .iter()
        .map(|n| {
            let post = &inner.posts[&n.uri];
            let author = &inner.profiles[&n.author];
            json!({
                "uri": n.uri,
                "cid": post.cid,
                "author": profile_view(author, false),
                "reason": n.reason,
                "record": post.record,
                "isRead": false,
                "indexedAt": n.indexed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "labels": [],
            })
        })
        .collect();
    ok(json!({ "notifications": notifications, "cursor": cursor }))
}

/// `searchPosts`: the posts whose text carries every `#tag` of `q` and contains its other
/// words (any case), newest first (`sort=top` is ordered the same here), as `postView`s.
/// A post's `sortAt` is its `createdAt` (the fake indexes at once). The cursor is the offset
/// of the next page.
fn search_posts(inner: &Inner, query: &[(String, String)]) -> Answer {
    let Some(q) = param(query, "q").filter(|q| !q.trim().is_empty()) else {
        return error(
            400,
            "InvalidRequest",
            "Error: Params must have the property \"q\"",
        );
    };
    let limit: usize = param(query, "limit")
        .map(|l| l.parse().unwrap_or(0))
        .unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return error(400, "InvalidRequest", "limit must be between 1 and 100");
    }
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, Answer> {
        match param(query, name) {
            None => Ok(None),
            Some(value) => DateTime::parse_from_rfc3339(value)
                .map(|at| Some(at.with_timezone(&Utc)))
                .map_err(|_| error(400, "BadQueryString", &format!("invalid {name}: {value}"))),
        }
    };
    let (since, until) = match (time("since"), time("until")) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(refused), _) | (_, Err(refused)) => return refused,
    };
    let offset: usize = match param(query, "cursor").map(str::parse) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return error(400, "BadQueryString", "invalid cursor"),
    };
    let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    let sort_at = |post: &FakePost| {
        post.record["createdAt"]
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc))
    };
    let mut matching: Vec<(DateTime<Utc>, &FakePost)> = inner
        .posts
        .values()
        .filter_map(|post| Some((sort_at(post)?, post)))
        .filter(|(at, _)| since.is_none_or(|since| *at >= since))
        .filter(|(at, _)| until.is_none_or(|until| *at < until))
        .filter(|(_, post)| {
            let text = post.record["text"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let tags: Vec<String> = text
                .split_whitespace()
                .filter_map(|word| word.strip_prefix('#'))
                .map(|tag| {
                    tag.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_')
                        .to_owned()
                })
                .collect();
            terms.iter().all(|term| match term.strip_prefix('#') {
                Some(tag) => tags.iter().any(|t| t == tag),
                None => text.contains(term.as_str()),
            })
        })
        .collect();
    matching.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.uri.cmp(&a.1.uri)));
    let total = matching.len();
    let posts: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, post)| post_view(inner, post))
        .collect();
    let next = offset + posts.len();
    let mut body = json!({ "posts": posts, "hitsTotal": total });
    if next < total {
        body["cursor"] = json!(next.to_string());
    }
    ok(body)
}

fn find_profile<'i>(inner: &'i Inner, actor: &str) -> Option<&'i FakeProfile> {
    inner
        .profiles
        .values()
        .find(|p| p.did == actor || p.handle == actor)
}

/// A `ProfileView` (as in notifications), or a `ProfileViewDetailed` with counts.
fn profile_view(profile: &FakeProfile, detailed: bool) -> Value {
    let mut view = json!({
        "did": profile.did,
        "handle": profile.handle,
        "createdAt": profile.created_at,
        "indexedAt": profile.created_at,
        "labels": [],
        "viewer": { "muted": false, "blockedBy": false },
    });
    if let Some(name) = &profile.display_name {
        view["displayName"] = json!(name);
    }
    if profile.follows_account {
        view["viewer"]["followedBy"] = json!(format!(
            "at://{}/app.bsky.graph.follow/3kfollow",
            profile.did
        ));
    }
    if detailed {
        view["followersCount"] = json!(profile.followers);
        view["followsCount"] = json!(10);
        view["postsCount"] = json!(42);
    }
    view
}

fn post_view(inner: &Inner, post: &FakePost) -> Value {
    let author = &inner.profiles[&post.author];
    json!({
        "uri": post.uri,
        "cid": post.cid,
        "author": profile_view(author, false),
        "record": post.record,
        "replyCount": post.replies,
        "repostCount": post.reposts,
        "likeCount": post.likes,
        "quoteCount": 0,
        "indexedAt": post.record["createdAt"],
        "labels": [],
    })
}

fn new_session(inner: &mut Inner) -> Value {
    inner.issued += 1;
    let now = Utc::now();
    let exp = now + chrono::TimeDelta::from_std(inner.access_ttl).unwrap();
    let jwt = |scope: &str, exp: i64, n: u64| {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"at+jwt","alg":"HS256"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            json!({ "scope": scope, "sub": DID, "iat": now.timestamp(), "exp": exp, "jti": n })
                .to_string(),
        );
        format!("{header}.{payload}.fakesig{n}")
    };
    let access = jwt("com.atproto.access", exp.timestamp(), inner.issued);
    let refresh = jwt(
        "com.atproto.refresh",
        now.timestamp() + 90 * 24 * 3600,
        inner.issued,
    );
    inner.access_tokens.insert(access.clone(), exp);
    inner.refresh_tokens.insert(refresh.clone());
    json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": HANDLE,
        "did": DID,
        "active": true,
    })
}

fn next_rkey(inner: &mut Inner) -> String {
    inner.next_rkey += 1;
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let value = (1_700_000_000_000_000u64 + inner.next_rkey) << 10;
    (0..13)
        .rev()
        .map(|digit| ALPHABET[((value >> (5 * digit)) & 0x1f) as usize] as char)
        .collect()
}

fn cid_of(record: &Value) -> String {
    format!(
        "bafyrei{}",
        &hex::encode(Sha256::digest(record.to_string().as_bytes()))[..40]
    )
}
