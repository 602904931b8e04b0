//! A fake Mastodon server on `127.0.0.1:0`, for the connector's tests and end-to-end runs.
//!
//! It answers the endpoints crier uses with Mastodon's shapes: statuses created with
//! `Idempotency-Key` deduplication (a repeated key gets the first status back, `200`),
//! HTML `content` with linked mentions and links, the `202`-then-ready media flow
//! (`GET /api/v1/media/:id` answers `206` until processed), `/api/v2/instance` with a
//! configurable `max_characters` (or without it, or missing as on old servers),
//! notifications with `types[]`, `since_id`, `min_id`, `max_id`, `limit` and a `Link`
//! header, the hashtag timeline (`/api/v1/timelines/tag/:hashtag`: public statuses carrying
//! the tag, any case, with the same paging, readable without a token), relationships, verify_credentials, statuses of the account, and deletes. It
//! checks the Bearer token (`401 {"error": "The access token is invalid"}`), counts texts the
//! way Mastodon does (`422 Validation failed: Text character limit of N exceeded`), refuses
//! media still processing, and sends `X-RateLimit-*` headers on every answer.
//!
//! Faults are queued per endpoint: 500, 429 with `Retry-After`, 429 with only
//! `X-RateLimit-Reset` (ISO 8601 or epoch), 429 with no hint, 422 with a message, a slow
//! answer, and accept-then-drop (the status is created, then the connection closes).
//!
//! Like `fake_network`, it runs on its own thread with its own runtime, so it serves a
//! `#[tokio::test]`, a plain `#[test]` and a child `crier` process alike.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::chat_server::{Conn, KillableListener};

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-mastodon-token";
/// The fake's domain in handles.
pub const DOMAIN: &str = "fake.example";

/// The endpoints of the fake, to aim faults and to filter requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    PostStatus,
    GetStatus,
    DeleteStatus,
    UploadMedia,
    GetMedia,
    Instance,
    Notifications,
    TagTimeline,
    VerifyCredentials,
    Relationships,
    AccountStatuses,
    GetAccount,
    Unknown,
}

/// A way to misbehave, for one request to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `500`, nothing created.
    ServerError,
    /// `429` with `Retry-After: <value>`.
    RateLimited { retry_after: String },
    /// `429` with `X-RateLimit-Reset: <value>` (ISO 8601 or epoch) and no `Retry-After`.
    RateLimitedUntil { reset: String },
    /// `429` with no hint at all.
    RateLimitedNoHint,
    /// `422` with `{"error": message}`.
    Unprocessable { message: String },
    /// Does the work (creates the status), then waits this long before answering.
    Slow(Duration),
    /// Does the work (creates the status), then closes the connection without an answer.
    AcceptThenDrop,
}

impl Fault {
    fn does_the_work(&self) -> bool {
        matches!(self, Fault::Slow(_) | Fault::AcceptThenDrop)
    }
}

/// What `/api/v2/instance` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceMode {
    /// The full entity with `configuration.statuses`.
    Full,
    /// The entity without `configuration` (a server that does not say its limits).
    NoConfiguration,
    /// `404`, as a server older than Mastodon 4.0.
    Missing,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    /// Query pairs, percent-decoded, in order (`types[]` may repeat).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub endpoint: Endpoint,
    pub fault: Option<Fault>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// An account the fake knows (the token's own, or someone who mentions it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAccount {
    pub id: String,
    /// `user` on this server, `user@domain` elsewhere.
    pub acct: String,
    pub display_name: String,
    pub followers_count: u64,
    pub created_at: DateTime<Utc>,
    pub bot: bool,
    /// Whether they follow the token's account.
    pub follows_us: bool,
}

impl FakeAccount {
    pub fn new(id: &str, acct: &str) -> FakeAccount {
        FakeAccount {
            id: id.into(),
            acct: acct.into(),
            display_name: String::new(),
            followers_count: 0,
            created_at: "2020-01-01T00:00:00Z".parse().unwrap(),
            bot: false,
            follows_us: false,
        }
    }
}

/// A status on the fake server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    pub id: String,
    pub account_id: String,
    /// The text as sent.
    pub text: String,
    pub visibility: String,
    pub in_reply_to_id: Option<String>,
    pub media_ids: Vec<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub favourites_count: u64,
    pub reblogs_count: u64,
    pub replies_count: u64,
    /// How many later requests repeated its idempotency key.
    pub repeats: usize,
    pub deleted: bool,
    /// When its author last edited it.
    pub edited_at: Option<DateTime<Utc>>,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMedia {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: usize,
    /// `GET /api/v1/media/:id` answers `206` this many more times.
    pub polls_left: usize,
}

#[derive(Debug, Clone)]
struct FakeNotification {
    id: u64,
    kind: String,
    account_id: String,
    status_id: Option<String>,
}

struct Inner {
    token: String,
    own: FakeAccount,
    accounts: BTreeMap<String, FakeAccount>,
    max_characters: usize,
    instance: InstanceMode,
    processing_polls: usize,
    statuses: Vec<FakeStatus>,
    by_key: HashMap<String, String>,
    media: Vec<FakeMedia>,
    notifications: Vec<FakeNotification>,
    next_id: u64,
    faults: VecDeque<(Endpoint, Fault)>,
    requests: Vec<Received>,
    base_url: String,
    /// How long every answer takes (on top of any fault's).
    latency: Duration,
    /// Requests being answered now, the most at once so far, and how many arrived while
    /// `capacity` were already being answered (a small server's database pool running out).
    busy: usize,
    most_busy: usize,
    capacity: usize,
    overloaded: usize,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeMastodon {
    addr: SocketAddr,
    inner: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeMastodon {
    /// Listens on `127.0.0.1:0` before returning. The token's account is `brand` (id `1`).
    pub fn start() -> FakeMastodon {
        FakeMastodon::start_on("127.0.0.1:0").expect("bind 127.0.0.1:0")
    }

    /// Like [`FakeMastodon::start`], on a given address (`127.0.0.1:8181`).
    pub fn start_on(addr: &str) -> io::Result<FakeMastodon> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut own = FakeAccount::new("1", "brand");
        own.display_name = "Brand".into();
        own.followers_count = 1200;
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token: TOKEN.into(),
            accounts: BTreeMap::from([(own.id.clone(), own.clone())]),
            own,
            max_characters: 500,
            instance: InstanceMode::Full,
            processing_polls: 0,
            statuses: Vec::new(),
            by_key: HashMap::new(),
            media: Vec::new(),
            notifications: Vec::new(),
            next_id: 109_000_000_000_000_000,
            faults: VecDeque::new(),
            requests: Vec::new(),
            base_url: format!("http://{addr}"),
            latency: Duration::ZERO,
            busy: 0,
            most_busy: 0,
            capacity: usize::MAX,
            overloaded: 0,
        }));
        let (shutdown, stop) = oneshot::channel();
        let state = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-mastodon-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake mastodon runtime");
                runtime.block_on(async move {
                    let listener =
                        KillableListener(TcpListener::from_std(listener).expect("tokio listener"));
                    let app = Router::new().fallback(handle).with_state(state);
                    let serve =
                        axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("fake mastodon thread");
        Ok(FakeMastodon {
            addr,
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server URL to give a `mastodon` account.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts `token` instead of [`TOKEN`].
    /// Every answer takes `latency`; more than `capacity` requests at once count as an
    /// overload (see [`FakeMastodon::load`]).
    pub fn set_load(&self, latency: Duration, capacity: usize) {
        let mut inner = self.lock();
        inner.latency = latency;
        inner.capacity = capacity;
    }

    /// (the most requests answered at once, requests that arrived over capacity).
    pub fn load(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.most_busy, inner.overloaded)
    }

    pub fn set_token(&self, token: &str) {
        self.lock().token = token.into();
    }

    /// The text limit the fake enforces and announces.
    pub fn set_max_characters(&self, max: usize) {
        self.lock().max_characters = max;
    }

    pub fn set_instance(&self, mode: InstanceMode) {
        self.lock().instance = mode;
    }

    /// Uploads answer `202` and need this many polls answered `206` before they are ready
    /// (`0`: answered `200`, ready at once).
    pub fn set_media_processing_polls(&self, polls: usize) {
        self.lock().processing_polls = polls;
    }

    pub fn set_followers(&self, followers: u64) {
        let mut inner = self.lock();
        inner.own.followers_count = followers;
    }

    /// Sets the counts of a status.
    pub fn set_counts(&self, status_id: &str, favourites: u64, reblogs: u64, replies: u64) {
        let mut inner = self.lock();
        let status = inner
            .statuses
            .iter_mut()
            .find(|s| s.id == status_id)
            .expect("no such status");
        status.favourites_count = favourites;
        status.reblogs_count = reblogs;
        status.replies_count = replies;
    }

    /// Answers the next request to `endpoint` with `fault`.
    pub fn push_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.lock().faults.push_back((endpoint, fault));
    }

    pub fn add_account(&self, account: FakeAccount) {
        self.lock().accounts.insert(account.id.clone(), account);
    }

    /// `author` (added if new) mentions the account in a status with `text` (HTML is made
    /// from it as Mastodon would), replying to `in_reply_to` if given. Returns the
    /// notification id and the status id.
    pub fn add_mention(
        &self,
        author: &FakeAccount,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> (String, String) {
        let mut inner = self.lock();
        inner
            .accounts
            .entry(author.id.clone())
            .or_insert_with(|| author.clone());
        let status_id = inner.create_status(
            &author.id,
            text,
            "public",
            in_reply_to.map(str::to_owned),
            vec![],
            None,
        );
        let id = inner.new_id();
        inner.notifications.push(FakeNotification {
            id,
            kind: "mention".into(),
            account_id: author.id.clone(),
            status_id: Some(status_id.clone()),
        });
        (id.to_string(), status_id)
    }

    /// `author` (added if new) posts a public status with `text`, replying to `in_reply_to`
    /// if given, without notifying the account (unless the text names it, it does not
    /// know). Returns the status id.
    pub fn add_status(
        &self,
        author: &FakeAccount,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> String {
        let mut inner = self.lock();
        inner
            .accounts
            .entry(author.id.clone())
            .or_insert_with(|| author.clone());
        inner.create_status(
            &author.id,
            text,
            "public",
            in_reply_to.map(str::to_owned),
            vec![],
            None,
        )
    }

    /// Sets when a status was made (a status from before a contest).
    pub fn set_created_at(&self, status_id: &str, at: DateTime<Utc>) {
        let mut inner = self.lock();
        let status = inner
            .statuses
            .iter_mut()
            .find(|s| s.id == status_id)
            .expect("no such status");
        status.created_at = at;
    }

    /// A notification of another type (`favourite`, `follow`, `reblog`) from `author`.
    pub fn add_notification(&self, kind: &str, author: &FakeAccount) -> String {
        let mut inner = self.lock();
        inner
            .accounts
            .entry(author.id.clone())
            .or_insert_with(|| author.clone());
        let id = inner.new_id();
        inner.notifications.push(FakeNotification {
            id,
            kind: kind.into(),
            account_id: author.id.clone(),
            status_id: None,
        });
        id.to_string()
    }

    /// The statuses of the token's account, deleted ones included, oldest first.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        let inner = self.lock();
        let own = inner.own.id.clone();
        inner
            .statuses
            .iter()
            .filter(|s| s.account_id == own)
            .cloned()
            .collect()
    }

    /// The author of status `id` deletes it.
    pub fn author_deletes(&self, id: &str) {
        let mut inner = self.lock();
        if let Some(status) = inner.statuses.iter_mut().find(|s| s.id == id) {
            status.deleted = true;
        }
    }

    /// The author of status `id` edits its text.
    pub fn author_edits(&self, id: &str, text: &str) {
        let mut inner = self.lock();
        if let Some(status) = inner.statuses.iter_mut().find(|s| s.id == id) {
            status.text = text.to_string();
            status.edited_at = Some(Utc::now());
        }
    }

    /// Statuses of the token's account that are not deleted.
    pub fn live_statuses(&self) -> Vec<FakeStatus> {
        self.statuses().into_iter().filter(|s| !s.deleted).collect()
    }

    pub fn media(&self) -> Vec<FakeMedia> {
        self.lock().media.clone()
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }
}

impl Drop for FakeMastodon {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An answer before it becomes a `Response`.
struct Answer {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Value,
    /// Without the usual `X-RateLimit-*` headers.
    bare: bool,
}

impl Answer {
    fn json(status: StatusCode, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body,
            bare: false,
        }
    }

    fn error(status: StatusCode, message: &str) -> Answer {
        Answer::json(status, json!({ "error": message }))
    }

    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        let headers = response.headers_mut();
        if self.bare {
            return response;
        }
        let reset =
            (Utc::now() + chrono::TimeDelta::hours(3)).to_rfc3339_opts(SecondsFormat::Millis, true);
        for (name, value) in [
            ("x-ratelimit-limit", "300".to_owned()),
            ("x-ratelimit-remaining", "299".to_owned()),
            ("x-ratelimit-reset", reset),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        for (name, value) in self.headers {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        response
    }
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
    let query = parse_pairs(uri.query().unwrap_or(""));
    let endpoint = endpoint_of(&method, &path);
    let _busy = Busy::start(&state);
    let latency = state.lock().unwrap_or_else(|e| e.into_inner()).latency;
    tokio::time::sleep(latency).await;
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = inner
            .faults
            .iter()
            .position(|(e, _)| *e == endpoint)
            .and_then(|at| inner.faults.remove(at))
            .map(|(_, fault)| fault);
        inner.requests.push(Received {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            headers: headers.clone(),
            body: body.to_vec(),
            endpoint,
            fault: fault.clone(),
        });
        let answer = match &fault {
            Some(fault) if !fault.does_the_work() => fault_answer(fault),
            _ => inner.answer(endpoint, &path, &query, &headers, &body),
        };
        (fault, answer)
    };
    match fault {
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            answer.into_response()
        }
        Some(Fault::AcceptThenDrop) => {
            conn.drop_connection();
            StatusCode::OK.into_response()
        }
        _ => answer.into_response(),
    }
}

/// One request being answered, counted while it lives (a dropped connection included).
struct Busy(Shared);

impl Busy {
    fn start(state: &Shared) -> Busy {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        if inner.busy >= inner.capacity {
            inner.overloaded += 1;
        }
        inner.busy += 1;
        inner.most_busy = inner.most_busy.max(inner.busy);
        Busy(state.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.busy -= 1;
    }
}

fn fault_answer(fault: &Fault) -> Answer {
    let too_many = |headers: Vec<(&'static str, String)>| Answer {
        bare: headers.is_empty(),
        status: StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: json!({ "error": "Too many requests" }),
    };
    match fault {
        Fault::ServerError => Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "We're sorry, but something went wrong on our end.",
        ),
        Fault::RateLimited { retry_after } => too_many(vec![("retry-after", retry_after.clone())]),
        Fault::RateLimitedUntil { reset } => too_many(vec![
            ("x-ratelimit-reset", reset.clone()),
            ("x-ratelimit-remaining", "0".into()),
        ]),
        Fault::RateLimitedNoHint => too_many(vec![]),
        Fault::Unprocessable { message } => {
            Answer::error(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        Fault::Slow(_) | Fault::AcceptThenDrop => unreachable!("these do the work"),
    }
}

fn endpoint_of(method: &Method, path: &str) -> Endpoint {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["api", "v1", "statuses"]) => Endpoint::PostStatus,
        ("GET", ["api", "v1", "statuses", _]) => Endpoint::GetStatus,
        ("DELETE", ["api", "v1", "statuses", _]) => Endpoint::DeleteStatus,
        ("POST", ["api", "v2", "media"]) => Endpoint::UploadMedia,
        ("GET", ["api", "v1", "media", _]) => Endpoint::GetMedia,
        ("GET", ["api", "v2", "instance"]) => Endpoint::Instance,
        ("GET", ["api", "v1", "notifications"]) => Endpoint::Notifications,
        ("GET", ["api", "v1", "timelines", "tag", _]) => Endpoint::TagTimeline,
        ("GET", ["api", "v1", "accounts", "verify_credentials"]) => Endpoint::VerifyCredentials,
        ("GET", ["api", "v1", "accounts", "relationships"]) => Endpoint::Relationships,
        ("GET", ["api", "v1", "accounts", _, "statuses"]) => Endpoint::AccountStatuses,
        ("GET", ["api", "v1", "accounts", _]) => Endpoint::GetAccount,
        _ => Endpoint::Unknown,
    }
}

impl Inner {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn create_status(
        &mut self,
        account_id: &str,
        text: &str,
        visibility: &str,
        in_reply_to_id: Option<String>,
        media_ids: Vec<String>,
        idempotency_key: Option<String>,
    ) -> String {
        let id = self.new_id().to_string();
        if let Some(parent) = &in_reply_to_id
            && let Some(parent) = self.statuses.iter_mut().find(|s| &s.id == parent)
        {
            parent.replies_count += 1;
        }
        self.statuses.push(FakeStatus {
            id: id.clone(),
            account_id: account_id.into(),
            text: text.into(),
            visibility: visibility.into(),
            in_reply_to_id,
            media_ids,
            idempotency_key,
            created_at: Utc::now(),
            favourites_count: 0,
            reblogs_count: 0,
            replies_count: 0,
            repeats: 0,
            deleted: false,
            edited_at: None,
        });
        id
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| token == self.token)
    }

    fn answer(
        &mut self,
        endpoint: Endpoint,
        path: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Answer {
        if endpoint == Endpoint::Instance {
            return self.instance();
        }
        let segment = |n: usize| path.trim_matches('/').split('/').nth(n).unwrap_or("");
        // A public timeline: readable without a token, but not with a wrong one.
        if endpoint == Endpoint::TagTimeline && !headers.contains_key("authorization") {
            return self.tag_timeline(&percent_decode(segment(4)), query);
        }
        if !self.authorized(headers) {
            return Answer::error(StatusCode::UNAUTHORIZED, "The access token is invalid");
        }
        match endpoint {
            Endpoint::PostStatus => self.post_status(headers, body),
            Endpoint::GetStatus => match self.live(segment(3)) {
                Some(status) => Answer::json(StatusCode::OK, self.status_json(&status)),
                None => Answer::error(StatusCode::NOT_FOUND, "Record not found"),
            },
            Endpoint::DeleteStatus => self.delete_status(segment(3)),
            Endpoint::UploadMedia => self.upload(headers, body),
            Endpoint::GetMedia => self.get_media(segment(3)),
            Endpoint::Notifications => self.notifications(query),
            Endpoint::TagTimeline => self.tag_timeline(&percent_decode(segment(4)), query),
            Endpoint::VerifyCredentials => {
                Answer::json(StatusCode::OK, self.account_json(&self.own.clone()))
            }
            Endpoint::Relationships => {
                let relationships: Vec<Value> = query
                    .iter()
                    .filter(|(name, _)| name == "id[]")
                    .filter_map(|(_, id)| self.accounts.get(id))
                    .map(|a| json!({ "id": a.id, "following": false, "followed_by": a.follows_us }))
                    .collect();
                Answer::json(StatusCode::OK, Value::Array(relationships))
            }
            Endpoint::AccountStatuses => self.account_statuses(segment(3), query),
            Endpoint::GetAccount => match self.accounts.get(segment(3)).cloned() {
                Some(account) => Answer::json(StatusCode::OK, self.account_json(&account)),
                None => Answer::error(StatusCode::NOT_FOUND, "Record not found"),
            },
            Endpoint::Instance => unreachable!(),
            Endpoint::Unknown => Answer::error(StatusCode::NOT_FOUND, "Not found"),
        }
    }

    fn instance(&self) -> Answer {
        let mut body = json!({
            "domain": DOMAIN,
            "title": "Fake Mastodon",
            "version": "4.3.0",
        });
        match self.instance {
            InstanceMode::Missing => return Answer::error(StatusCode::NOT_FOUND, "Not found"),
            InstanceMode::NoConfiguration => {}
            InstanceMode::Full => {
                body["configuration"] = json!({
                    "urls": { "streaming": "wss://fake.example" },
                    "accounts": { "max_featured_tags": 10 },
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23
                    },
                    "media_attachments": { "image_size_limit": 16_777_216 }
                });
            }
        }
        Answer::json(StatusCode::OK, body)
    }

    fn post_status(&mut self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(id) = key.as_ref().and_then(|k| self.by_key.get(k)).cloned() {
            let status = self.statuses.iter_mut().find(|s| s.id == id).unwrap();
            status.repeats += 1;
            let status = status.clone();
            return Answer::json(StatusCode::OK, self.status_json(&status));
        }
        let json_body = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        let (text, in_reply_to_id, media_ids, visibility) = if json_body {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let field = |name: &str| value[name].as_str().map(str::to_owned);
            let media: Vec<String> = value["media_ids"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| id.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (
                field("status").unwrap_or_default(),
                field("in_reply_to_id"),
                media,
                field("visibility"),
            )
        } else {
            let pairs = parse_pairs(&String::from_utf8_lossy(body));
            let field = |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            let media = pairs
                .iter()
                .filter(|(n, _)| n == "media_ids[]")
                .map(|(_, v)| v.clone())
                .collect();
            (
                field("status").unwrap_or_default(),
                field("in_reply_to_id"),
                media,
                field("visibility"),
            )
        };
        if text.trim().is_empty() && media_ids.is_empty() {
            return Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed: Text can't be blank",
            );
        }
        if mastodon_length(&text) > self.max_characters {
            return Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Validation failed: Text character limit of {} exceeded",
                    self.max_characters
                ),
            );
        }
        if media_ids.len() > 4 {
            return Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed: Media attachments Too many attachments",
            );
        }
        for id in &media_ids {
            match self.media.iter().find(|m| &m.id == id) {
                None => return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, "Record not found"),
                Some(media) if media.polls_left > 0 => {
                    return Answer::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Cannot attach files that have not finished processing. Try again in a moment!",
                    );
                }
                Some(_) => {}
            }
        }
        if let Some(parent) = &in_reply_to_id
            && self.live(parent).is_none()
        {
            return Answer::error(
                StatusCode::NOT_FOUND,
                "The post you are trying to reply to does not appear to exist.",
            );
        }
        let visibility = visibility.unwrap_or_else(|| "public".into());
        let own = self.own.id.clone();
        let id = self.create_status(
            &own,
            &text,
            &visibility,
            in_reply_to_id,
            media_ids,
            key.clone(),
        );
        if let Some(key) = key {
            self.by_key.insert(key, id.clone());
        }
        let status = self.live(&id).unwrap();
        Answer::json(StatusCode::OK, self.status_json(&status))
    }

    fn delete_status(&mut self, id: &str) -> Answer {
        let own = self.own.id.clone();
        match self
            .statuses
            .iter_mut()
            .find(|s| s.id == id && !s.deleted && s.account_id == own)
        {
            Some(status) => {
                status.deleted = true;
                let status = status.clone();
                let mut body = self.status_json(&status);
                body["text"] = Value::String(status.text.clone());
                Answer::json(StatusCode::OK, body)
            }
            None => Answer::error(StatusCode::NOT_FOUND, "Record not found"),
        }
    }

    fn upload(&mut self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(file) = multipart_file(content_type, body) else {
            return Answer::error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed: File can't be blank",
            );
        };
        let id = self.new_id().to_string();
        let media = FakeMedia {
            id,
            file_name: file.0,
            content_type: file.1,
            size: file.2,
            polls_left: self.processing_polls,
        };
        let status = if media.polls_left > 0 {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        let body = self.media_json(&media);
        self.media.push(media);
        Answer::json(status, body)
    }

    fn get_media(&mut self, id: &str) -> Answer {
        let Some(media) = self.media.iter_mut().find(|m| m.id == id) else {
            return Answer::error(StatusCode::NOT_FOUND, "Record not found");
        };
        let still_processing = media.polls_left > 0;
        media.polls_left = media.polls_left.saturating_sub(1);
        // The poll that finds it processing still shows it unprocessed.
        let mut shown = media.clone();
        if still_processing {
            shown.polls_left = shown.polls_left.max(1);
        }
        let status = if still_processing {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        Answer::json(status, self.media_json(&shown))
    }

    fn media_json(&self, media: &FakeMedia) -> Value {
        let url = (media.polls_left == 0).then(|| {
            format!(
                "{}/system/media_attachments/files/{}/original/{}",
                self.base_url, media.id, media.file_name
            )
        });
        json!({
            "id": media.id,
            "type": "image",
            "url": url,
            "preview_url": format!("{}/system/media_attachments/files/{}/small/{}", self.base_url, media.id, media.file_name),
            "remote_url": null,
            "description": null,
            "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
        })
    }

    fn notifications(&self, query: &[(String, String)]) -> Answer {
        let values = |name: &str| -> Vec<&str> {
            query
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let number = |name: &str| values(name).first().and_then(|v| v.parse::<u64>().ok());
        let types = values("types[]");
        let limit = number("limit").unwrap_or(40).clamp(1, 80) as usize;
        let mut matching: Vec<&FakeNotification> = self
            .notifications
            .iter()
            .filter(|n| types.is_empty() || types.contains(&n.kind.as_str()))
            .filter(|n| number("max_id").is_none_or(|max| n.id < max))
            .filter(|n| number("since_id").is_none_or(|since| n.id > since))
            .filter(|n| number("min_id").is_none_or(|min| n.id > min))
            .collect();
        matching.sort_by_key(|n| n.id);
        // `min_id` pages forward from the cursor; otherwise the newest come first.
        let page: Vec<&FakeNotification> = if number("min_id").is_some() {
            matching.into_iter().take(limit).rev().collect()
        } else {
            matching.into_iter().rev().take(limit).collect()
        };
        let body: Vec<Value> = page.iter().map(|n| self.notification_json(n)).collect();
        let mut answer = Answer::json(StatusCode::OK, Value::Array(body));
        if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
            let base = format!("{}/api/v1/notifications", self.base_url);
            let types: String = types.iter().map(|t| format!("&types[]={t}")).collect();
            answer.headers.push((
                "link",
                format!(
                    "<{base}?limit={limit}{types}&max_id={}>; rel=\"next\", <{base}?limit={limit}{types}&min_id={}>; rel=\"prev\"",
                    oldest.id, newest.id
                ),
            ));
        }
        answer
    }

    /// Public statuses carrying `#tag`, paged like notifications: newest first, `min_id`
    /// pages forward from an id, `max_id` back, `since_id` is newer than an id; `limit`
    /// is 20 by default and 40 at most, as on Mastodon.
    fn tag_timeline(&self, tag: &str, query: &[(String, String)]) -> Answer {
        let number = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.parse::<u64>().ok())
        };
        let limit = number("limit").unwrap_or(20).clamp(1, 40) as usize;
        let mut matching: Vec<&FakeStatus> = self
            .statuses
            .iter()
            .filter(|s| !s.deleted && s.visibility == "public")
            .filter(|s| hashtags(&s.text).contains(&tag.to_lowercase()))
            .filter(|s| {
                let id: u64 = s.id.parse().unwrap();
                number("max_id").is_none_or(|max| id < max)
                    && number("since_id").is_none_or(|since| id > since)
                    && number("min_id").is_none_or(|min| id > min)
            })
            .collect();
        matching.sort_by_key(|s| s.id.parse::<u64>().unwrap());
        let page: Vec<&FakeStatus> = if number("min_id").is_some() {
            matching.into_iter().take(limit).rev().collect()
        } else {
            matching.into_iter().rev().take(limit).collect()
        };
        let body: Vec<Value> = page.iter().map(|s| self.status_json(s)).collect();
        let mut answer = Answer::json(StatusCode::OK, Value::Array(body));
        if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
            let base = format!("{}/api/v1/timelines/tag/{tag}", self.base_url);
            answer.headers.push((
                "link",
                format!(
                    "<{base}?limit={limit}&max_id={}>; rel=\"next\", <{base}?limit={limit}&min_id={}>; rel=\"prev\"",
                    oldest.id, newest.id
                ),
            ));
        }
        answer
    }

    fn notification_json(&self, notification: &FakeNotification) -> Value {
        let account = self.accounts.get(&notification.account_id).unwrap().clone();
        let status = notification
            .status_id
            .as_deref()
            .and_then(|id| self.live(id))
            .map(|s| self.status_json(&s));
        json!({
            "id": notification.id.to_string(),
            "type": notification.kind,
            "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "account": self.account_json(&account),
            "status": status,
        })
    }

    fn account_statuses(&self, account_id: &str, query: &[(String, String)]) -> Answer {
        if !self.accounts.contains_key(account_id) {
            return Answer::error(StatusCode::NOT_FOUND, "Record not found");
        }
        let limit = query
            .iter()
            .find(|(n, _)| n == "limit")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, 40);
        let body: Vec<Value> = self
            .statuses
            .iter()
            .rev()
            .filter(|s| s.account_id == account_id && !s.deleted)
            .take(limit)
            .map(|s| self.status_json(s))
            .collect();
        Answer::json(StatusCode::OK, Value::Array(body))
    }

    fn live(&self, id: &str) -> Option<FakeStatus> {
        self.statuses
            .iter()
            .find(|s| s.id == id && !s.deleted)
            .cloned()
    }

    fn account_json(&self, account: &FakeAccount) -> Value {
        let (username, domain) = account
            .acct
            .split_once('@')
            .unwrap_or((&account.acct, DOMAIN));
        json!({
            "id": account.id,
            "username": username,
            "acct": account.acct,
            "display_name": account.display_name,
            "locked": false,
            "bot": account.bot,
            "created_at": account.created_at.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
            "note": "<p></p>",
            "url": format!("https://{domain}/@{username}"),
            "followers_count": account.followers_count,
            "following_count": 10,
            "statuses_count": 5,
        })
    }

    fn status_json(&self, status: &FakeStatus) -> Value {
        let account = self.accounts.get(&status.account_id).unwrap().clone();
        let media: Vec<Value> = status
            .media_ids
            .iter()
            .filter_map(|id| self.media.iter().find(|m| &m.id == id))
            .map(|m| self.media_json(m))
            .collect();
        let username = account.acct.split('@').next().unwrap_or("");
        json!({
            "id": status.id,
            "created_at": status.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": null,
            "sensitive": false,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": "en",
            "uri": format!("https://{DOMAIN}/users/{username}/statuses/{}", status.id),
            "url": format!("https://{DOMAIN}/@{username}/{}", status.id),
            "replies_count": status.replies_count,
            "reblogs_count": status.reblogs_count,
            "favourites_count": status.favourites_count,
            "content": to_html(&status.text),
            "edited_at": status.edited_at.map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            "account": self.account_json(&account),
            "media_attachments": media,
            "mentions": [],
            "tags": hashtags(&status.text)
                .into_iter()
                .map(|name| json!({ "name": name, "url": format!("https://{DOMAIN}/tags/{name}") }))
                .collect::<Vec<_>>(),
        })
    }
}

/// A text as Mastodon's formatter renders it: paragraphs, line breaks, links with their
/// scheme hidden, mentions linked and shown without their domain, everything escaped.
pub fn to_html(text: &str) -> String {
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|paragraph| {
            let lines: Vec<String> = paragraph
                .split('\n')
                .map(|line| {
                    line.split(' ')
                        .map(render_word)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!("<p>{}</p>", lines.join("<br />"))
        })
        .collect();
    paragraphs.concat()
}

/// The hashtags of a text, lowercased, as Mastodon normalises them (letters, digits, `_`).
pub fn hashtags(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix('#'))
        .map(|tag| {
            tag.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|tag| !tag.is_empty())
        .collect()
}

fn render_word(word: &str) -> String {
    if let Some(rest) = word
        .strip_prefix("https://")
        .or_else(|| word.strip_prefix("http://"))
    {
        let scheme = &word[..word.len() - rest.len()];
        let (shown, hidden) = rest.split_at(rest.len().min(30));
        return format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener\"><span class=\"invisible\">{scheme}</span><span class=\"ellipsis\">{}</span><span class=\"invisible\">{}</span></a>",
            escape(word),
            escape(shown),
            escape(hidden)
        );
    }
    if let Some(tag) = word.strip_prefix('#') {
        let name: String = tag
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            return format!(
                "<a href=\"https://{DOMAIN}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>{}",
                escape(&name.to_lowercase()),
                escape(&name),
                escape(&tag[name.len()..])
            );
        }
    }
    if let Some(handle) = word.strip_prefix('@') {
        let (user, domain) = handle.split_once('@').unwrap_or((handle, DOMAIN));
        if !user.is_empty() {
            return format!(
                "<span class=\"h-card\" translate=\"no\"><a href=\"https://{}/@{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
                escape(domain),
                escape(user),
                escape(user)
            );
        }
    }
    escape(word)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Mastodon's count, written independently of crier's: a link is 23, a mention
/// `@user@domain` counts as `@user`, anything else one per character.
pub fn mastodon_length(text: &str) -> usize {
    let mut count = 0;
    for (index, word) in text.split(' ').enumerate() {
        if index > 0 {
            count += 1;
        }
        for (line_index, part) in word.split('\n').enumerate() {
            if line_index > 0 {
                count += 1;
            }
            count += if part.starts_with("https://") || part.starts_with("http://") {
                23
            } else if let Some(handle) = part.strip_prefix('@') {
                1 + handle.split('@').next().unwrap_or("").chars().count()
            } else {
                part.chars().count()
            };
        }
    }
    count
}

/// The `file` part of a multipart body: its file name, content type and size.
fn multipart_file(content_type: &str, body: &[u8]) -> Option<(String, String, usize)> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut start = 0;
    while let Some(at) = find(&text[start..], delimiter.as_bytes()) {
        parts.push(&text[start..start + at]);
        start += at + delimiter.len();
    }
    for part in parts {
        let Some(header_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..header_end]);
        if !head.contains("name=\"file\"") {
            continue;
        }
        let file_name = head
            .split("filename=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_owned();
        let part_type = head
            .lines()
            .find_map(|line| {
                line.strip_prefix("Content-Type: ")
                    .or_else(|| line.strip_prefix("content-type: "))
            })
            .unwrap_or("application/octet-stream")
            .trim()
            .to_owned();
        let data = &part[header_end + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        return Some((file_name, part_type, data.len()));
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `a=1&types%5B%5D=mention` as decoded pairs.
fn parse_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 2;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
