//! A fake Matrix homeserver on `127.0.0.1:0`, for what a real Synapse will not do on demand:
//! rate limits (`M_LIMIT_EXCEEDED` with `retry_after_ms` and/or `Retry-After`), failures,
//! refusals, and answers that never arrive after the event was created.
//!
//! It knows one bot (`@crier:fake.test`, token [`FakeMatrix::TOKEN`]), one room
//! ([`FakeMatrix::ROOM_ID`], alias [`FakeMatrix::alias`]), and answers what the connector
//! uses for posting in Synapse's shapes: `whoami`, the alias directory, `send` (deduplicated
//! by transaction id per token and room, as homeservers do), `redact`, `messages` (newest
//! first), `joined_members` and media `upload`. Like the webhook fake it runs on its own
//! thread, so it also serves a child `crier` process; dropping it shuts it down.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::chat_server::{Conn, KillableListener};

/// A way to misbehave, for the next request (whatever it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `429 M_LIMIT_EXCEEDED`, with `retry_after_ms` in the body and/or a `Retry-After`
    /// header, as given.
    LimitExceeded {
        retry_after_ms: Option<u64>,
        retry_after_header: Option<String>,
    },
    /// `500 M_UNKNOWN`.
    ServerError,
    /// `502` with an HTML page, as a proxy in front of the homeserver answers.
    BadGateway,
    /// `403 M_FORBIDDEN` (the bot may not post).
    Forbidden,
    /// `413 M_TOO_LARGE`.
    TooLarge,
    /// `401 M_UNKNOWN_TOKEN`, whatever the token.
    UnknownToken,
    /// Creates the event, then answers after this long (past the client's timeout).
    Slow(Duration),
    /// Creates the event, then closes the connection without an answer.
    AcceptThenDrop,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// As sent (still percent-encoded).
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: String,
    pub fault: Option<Fault>,
}

/// One event in the room.
#[derive(Debug, Clone)]
pub struct FakeEvent {
    pub event_id: String,
    pub event_type: String,
    pub sender: String,
    pub content: Value,
    pub txn_id: String,
    pub origin_server_ts: i64,
    pub redacted: bool,
}

struct Inner {
    token: String,
    requests: Vec<Received>,
    events: Vec<FakeEvent>,
    /// (token, room, txn id) → event id.
    transactions: BTreeMap<(String, String, String), String>,
    faults: VecDeque<Fault>,
    uploads: Vec<(String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeMatrix {
    addr: SocketAddr,
    inner: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeMatrix {
    pub const TOKEN: &'static str = "syt_fake_token";
    pub const USER_ID: &'static str = "@crier:fake.test";
    pub const ROOM_ID: &'static str = "!room:fake.test";
    pub const FAN: &'static str = "@fan:fake.test";

    /// Listens on `127.0.0.1:0` before returning.
    pub fn start() -> FakeMatrix {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token: Self::TOKEN.into(),
            requests: Vec::new(),
            events: Vec::new(),
            transactions: BTreeMap::new(),
            faults: VecDeque::new(),
            uploads: Vec::new(),
        }));
        let (shutdown, stop) = oneshot::channel();
        let state = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-matrix-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake matrix runtime");
                runtime.block_on(async move {
                    let listener =
                        KillableListener(TcpListener::from_std(listener).expect("tokio listener"));
                    let app = Router::new().fallback(receive).with_state(state);
                    let serve =
                        axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
            })
            .expect("fake matrix thread");
        FakeMatrix {
            addr,
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The homeserver URL to give a `matrix` account.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The room's alias.
    pub fn alias(&self) -> String {
        "#announcements:fake.test".into()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The only token accepted from now on.
    pub fn set_token(&self, token: &str) {
        self.lock().token = token.into();
    }

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// The room's events, oldest first.
    pub fn events(&self) -> Vec<FakeEvent> {
        self.lock().events.clone()
    }

    /// Adds a message from someone else (a fan), as if they had written it.
    pub fn add_message(&self, sender: &str, content: Value) -> String {
        let mut inner = self.lock();
        let event_id = format!("$event{}", inner.events.len() + 1);
        push_event(&mut inner, &event_id, "m.room.message", sender, content, "");
        event_id
    }

    /// Files uploaded to the media repository: (content type, bytes).
    pub fn uploads(&self) -> Vec<(String, Vec<u8>)> {
        self.lock().uploads.clone()
    }
}

impl Drop for FakeMatrix {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn push_event(
    inner: &mut Inner,
    event_id: &str,
    event_type: &str,
    sender: &str,
    content: Value,
    txn_id: &str,
) {
    let origin_server_ts = 1_700_000_000_000 + inner.events.len() as i64 * 1000;
    inner.events.push(FakeEvent {
        event_id: event_id.into(),
        event_type: event_type.into(),
        sender: sender.into(),
        content,
        txn_id: txn_id.into(),
        origin_server_ts,
        redacted: false,
    });
}

fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errcode": errcode, "error": error })),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && at + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&segment[at + 1..at + 3], 16)
        {
            out.push(byte);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| decode(&value.replace('+', " ")))
    })
}

async fn receive(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = String::from_utf8_lossy(&body).into_owned();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();

    let (fault, response, delay) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = inner.faults.pop_front();
        inner.requests.push(Received {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            authorization: authorization.clone(),
            body: text.clone(),
            fault: fault.clone(),
        });
        let refused = match &fault {
            Some(Fault::LimitExceeded {
                retry_after_ms,
                retry_after_header,
            }) => {
                let mut body =
                    json!({ "errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests" });
                if let Some(ms) = retry_after_ms {
                    body["retry_after_ms"] = json!(ms);
                }
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
                if let Some(value) = retry_after_header {
                    response
                        .headers_mut()
                        .insert("retry-after", value.parse().unwrap());
                }
                Some(response)
            }
            Some(Fault::ServerError) => Some(matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "Internal server error",
            )),
            Some(Fault::BadGateway) => Some(
                (
                    StatusCode::BAD_GATEWAY,
                    "<html><body>502 Bad Gateway</body></html>",
                )
                    .into_response(),
            ),
            Some(Fault::Forbidden) => Some(matrix_error(
                StatusCode::FORBIDDEN,
                "M_FORBIDDEN",
                "You don't have permission to post that to the room. user_level (0) < send_level (50)",
            )),
            Some(Fault::TooLarge) => Some(matrix_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "M_TOO_LARGE",
                "event too large",
            )),
            Some(Fault::UnknownToken) => Some(unknown_token()),
            _ => None,
        };
        match refused {
            Some(response) => (fault, response, None),
            None => {
                let response = answer(
                    &mut inner,
                    &method,
                    &segments,
                    &query,
                    authorization.as_deref(),
                    &headers,
                    &body,
                );
                let delay = match &fault {
                    Some(Fault::Slow(delay)) => Some(*delay),
                    _ => None,
                };
                (fault, response, delay)
            }
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if fault == Some(Fault::AcceptThenDrop) {
        conn.drop_connection();
    }
    response
}

fn unknown_token() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": false })),
    )
        .into_response()
}

fn answer(
    inner: &mut Inner,
    method: &Method,
    segments: &[&str],
    query: &str,
    authorization: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if segments == ["_matrix", "client", "versions"] {
        return ok(json!({ "versions": ["v1.11", "v1.12"] }));
    }
    let token = match authorization.and_then(|value| value.strip_prefix("Bearer ")) {
        Some(token) => token.to_owned(),
        None => {
            return matrix_error(
                StatusCode::UNAUTHORIZED,
                "M_MISSING_TOKEN",
                "Missing access token.",
            );
        }
    };
    if token != inner.token {
        return unknown_token();
    }
    let room_check = |room: &str| -> Option<Response> {
        (room != FakeMatrix::ROOM_ID).then(|| {
            matrix_error(
                StatusCode::FORBIDDEN,
                "M_FORBIDDEN",
                &format!(
                    "User {} not in room {room}, and room previews are disabled",
                    FakeMatrix::USER_ID
                ),
            )
        })
    };
    match (method.as_str(), segments) {
        ("GET", ["_matrix", "client", "v3", "account", "whoami"]) => ok(
            json!({ "user_id": FakeMatrix::USER_ID, "device_id": "FAKEDEVICE", "is_guest": false }),
        ),
        ("GET", ["_matrix", "client", "v3", "directory", "room", alias]) => {
            if *alias == "#announcements:fake.test" {
                ok(json!({ "room_id": FakeMatrix::ROOM_ID, "servers": ["fake.test"] }))
            } else {
                matrix_error(
                    StatusCode::NOT_FOUND,
                    "M_NOT_FOUND",
                    &format!("Room alias {alias} not found"),
                )
            }
        }
        (
            "PUT",
            [
                "_matrix",
                "client",
                "v3",
                "rooms",
                room,
                "send",
                event_type,
                txn_id,
            ],
        ) => {
            if let Some(refused) = room_check(room) {
                return refused;
            }
            let key = (token.clone(), room.to_string(), txn_id.to_string());
            if let Some(event_id) = inner.transactions.get(&key) {
                return ok(json!({ "event_id": event_id }));
            }
            let Ok(content) = serde_json::from_slice::<Value>(body) else {
                return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON.");
            };
            let event_id = format!("$event{}", inner.events.len() + 1);
            push_event(
                inner,
                &event_id,
                event_type,
                FakeMatrix::USER_ID,
                content,
                txn_id,
            );
            inner.transactions.insert(key, event_id.clone());
            ok(json!({ "event_id": event_id }))
        }
        (
            "PUT",
            [
                "_matrix",
                "client",
                "v3",
                "rooms",
                room,
                "redact",
                event_id,
                txn_id,
            ],
        ) => {
            if let Some(refused) = room_check(room) {
                return refused;
            }
            let key = (token.clone(), room.to_string(), format!("redact/{txn_id}"));
            if let Some(redaction) = inner.transactions.get(&key) {
                return ok(json!({ "event_id": redaction }));
            }
            if let Some(event) = inner.events.iter_mut().find(|e| e.event_id == *event_id) {
                event.redacted = true;
                event.content = json!({});
            }
            let redaction = format!("$event{}", inner.events.len() + 1);
            push_event(
                inner,
                &redaction,
                "m.room.redaction",
                FakeMatrix::USER_ID,
                json!({ "redacts": event_id }),
                txn_id,
            );
            inner.transactions.insert(key, redaction.clone());
            ok(json!({ "event_id": redaction }))
        }
        ("GET", ["_matrix", "client", "v3", "rooms", room, "messages"]) => {
            if let Some(refused) = room_check(room) {
                return refused;
            }
            let limit: usize = query_value(query, "limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10);
            let filter: Value = query_value(query, "filter")
                .and_then(|f| serde_json::from_str(&f).ok())
                .unwrap_or(Value::Null);
            let chunk: Vec<Value> = inner
                .events
                .iter()
                .rev()
                .filter(|e| {
                    filter["senders"]
                        .as_array()
                        .is_none_or(|s| s.iter().any(|s| s == e.sender.as_str()))
                })
                .filter(|e| {
                    filter["types"]
                        .as_array()
                        .is_none_or(|t| t.iter().any(|t| t == e.event_type.as_str()))
                })
                .take(limit)
                .map(|e| {
                    json!({ "event_id": e.event_id, "type": e.event_type, "sender": e.sender,
                            "content": e.content, "origin_server_ts": e.origin_server_ts,
                            "room_id": FakeMatrix::ROOM_ID })
                })
                .collect();
            ok(json!({ "chunk": chunk, "start": "t0" }))
        }
        ("GET", ["_matrix", "client", "v3", "rooms", room, "joined_members"]) => {
            if let Some(refused) = room_check(room) {
                return refused;
            }
            ok(json!({ "joined": {
                FakeMatrix::USER_ID: { "display_name": "crier" },
                FakeMatrix::FAN: { "display_name": "Fan" },
            } }))
        }
        ("POST", ["_matrix", "media", "v3", "upload"]) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            inner.uploads.push((content_type, body.to_vec()));
            ok(json!({ "content_uri": format!("mxc://fake.test/media{}", inner.uploads.len()) }))
        }
        _ => matrix_error(
            StatusCode::NOT_FOUND,
            "M_UNRECOGNIZED",
            "Unrecognized request",
        ),
    }
}
