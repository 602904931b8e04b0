//! A fake Discord webhook on `127.0.0.1:0`, at `/api/webhooks/<id>/<token>`:
//!
//! - `POST` (JSON, or multipart `payload_json` + `files[n]`) creates a message; with
//!   `?wait=true` it answers `200` and the message, otherwise `204`. Content over 2000
//!   characters gets Discord's "Invalid Form Body" (`50035`), an empty message `50006`.
//! - `GET` answers the webhook object; `GET`/`DELETE .../messages/<id>` the message
//!   (`10008 Unknown Message` when gone).
//! - A wrong token answers `401 {"message": "Invalid Webhook Token", "code": 50027}`; a
//!   deleted webhook `404 {"message": "Unknown Webhook", "code": 10015}`.
//!
//! Like Discord, it does not deduplicate. Faults come from a queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn, FormField, parse_multipart};

pub const WEBHOOK_ID: &str = "1234567890";
pub const CHANNEL_ID: &str = "555000111";

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `500`, nothing created.
    ServerError,
    /// `429` with `retry_after` in the body and the `Retry-After` (whole seconds, rounded
    /// up) and `X-RateLimit-Reset-After` headers; nothing created.
    RateLimited { retry_after: f64, global: bool },
    /// `429` with only `X-RateLimit-Reset-After` (as a proxy would pass on); nothing created.
    RateLimitedHeaderOnly { reset_after: String },
    /// `429` with no body and no header.
    RateLimitedNoHint,
    /// Creates the message, then answers after this long.
    Slow(Duration),
    /// Creates the message, then closes the connection without answering.
    AcceptThenDrop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub content_type: String,
    /// The JSON body, or the multipart `payload_json`.
    pub payload: Value,
    pub form: Vec<FormField>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    pub id: String,
    pub content: String,
    pub attachments: Vec<String>,
}

struct Inner {
    token: String,
    deleted: bool,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    messages: BTreeMap<String, FakeMessage>,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeDiscord {
    server: ChatServer,
    inner: Shared,
}

impl FakeDiscord {
    /// A webhook whose token is `token`.
    pub fn start(token: &str) -> FakeDiscord {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            deleted: false,
            faults: VecDeque::new(),
            requests: Vec::new(),
            messages: BTreeMap::new(),
            next_id: 1_300_000_000_000_000_001,
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-discord", move || {
            Router::new()
                .route("/api/webhooks/{id}/{token}", any(webhook))
                .route(
                    "/api/webhooks/{id}/{token}/messages/{message}",
                    get(message).delete(message),
                )
                .with_state(state)
        });
        FakeDiscord { server, inner }
    }

    /// The webhook URL with `token`.
    pub fn url_with(&self, token: &str) -> String {
        format!(
            "http://{}/api/webhooks/{WEBHOOK_ID}/{token}",
            self.server.addr()
        )
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// The webhook is deleted in Discord: every call answers `10015 Unknown Webhook`.
    pub fn delete_webhook(&self) {
        self.lock().deleted = true;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.lock().messages.values().cloned().collect()
    }
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The token check every route makes.
fn authorise(inner: &Inner, id: &str, token: &str) -> Option<Response> {
    if inner.deleted || id != WEBHOOK_ID {
        return Some(error(
            StatusCode::NOT_FOUND,
            json!({ "message": "Unknown Webhook", "code": 10015 }),
        ));
    }
    (token != inner.token).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            json!({ "message": "Invalid Webhook Token", "code": 50027 }),
        )
    })
}

fn message_json(message: &FakeMessage) -> Value {
    json!({
        "id": message.id,
        "type": 0,
        "content": message.content,
        "channel_id": CHANNEL_ID,
        "webhook_id": WEBHOOK_ID,
        "author": { "id": WEBHOOK_ID, "username": "Captain Hook", "bot": true },
        "attachments": message.attachments.iter().enumerate().map(|(n, name)| json!({
            "id": format!("{}{n}", message.id), "filename": name,
        })).collect::<Vec<_>>(),
        "timestamp": "2026-03-01T12:00:00.000000+00:00",
    })
}

async fn webhook(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path((id, token)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (payload, form) = if content_type.starts_with("multipart/form-data") {
        let form = parse_multipart(&content_type, &body).unwrap_or_default();
        let payload = form
            .iter()
            .find(|f| f.name == "payload_json")
            .and_then(|f| serde_json::from_slice(&f.data).ok())
            .unwrap_or(Value::Null);
        (payload, form)
    } else {
        (serde_json::from_slice(&body).unwrap_or(Value::Null), vec![])
    };
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.clone(),
            path: format!("/api/webhooks/{id}/{token}"),
            query: query.clone(),
            content_type,
            payload: payload.clone(),
            form: form.clone(),
        });
        if let Some(refused) = authorise(&inner, &id, &token) {
            return refused;
        }
        if method == Method::GET {
            return axum::Json(json!({
                "id": WEBHOOK_ID, "type": 1, "name": "Captain Hook", "channel_id": CHANNEL_ID,
                "guild_id": "777", "application_id": null, "token": token,
            }))
            .into_response();
        }
        if method != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "message": "405: Method Not Allowed", "code": 0 }),
            );
        }
        let fault = inner.faults.pop_front();
        match &fault {
            Some(Fault::ServerError) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "message": "500: Internal Server Error", "code": 0 }),
                );
            }
            Some(Fault::RateLimited {
                retry_after,
                global,
            }) => {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": global }),
                );
                let headers = response.headers_mut();
                headers.insert(
                    "retry-after",
                    (retry_after.ceil() as u64).to_string().parse().unwrap(),
                );
                headers.insert(
                    "x-ratelimit-reset-after",
                    retry_after.to_string().parse().unwrap(),
                );
                headers.insert(
                    "x-ratelimit-scope",
                    if *global { "global" } else { "user" }.parse().unwrap(),
                );
                if *global {
                    headers.insert("x-ratelimit-global", "true".parse().unwrap());
                }
                return response;
            }
            Some(Fault::RateLimitedHeaderOnly { reset_after }) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("x-ratelimit-reset-after", reset_after.clone())],
                )
                    .into_response();
            }
            Some(Fault::RateLimitedNoHint) => return StatusCode::TOO_MANY_REQUESTS.into_response(),
            _ => {}
        }
        let content = payload["content"].as_str().unwrap_or("").to_owned();
        let attachments: Vec<String> = form
            .iter()
            .filter(|f| f.name.starts_with("files[") && f.file_name.is_some())
            .filter_map(|f| f.file_name.clone())
            .collect();
        if content.chars().count() > 2000 {
            return error(
                StatusCode::BAD_REQUEST,
                json!({ "message": "Invalid Form Body", "code": 50035, "errors": { "content": { "_errors": [
                    { "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length." }
                ] } } }),
            );
        }
        if content.trim().is_empty() && attachments.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                json!({ "message": "Cannot send an empty message", "code": 50006 }),
            );
        }
        let id = inner.next_id.to_string();
        inner.next_id += 1;
        let message = FakeMessage {
            id: id.clone(),
            content,
            attachments,
        };
        inner.messages.insert(id, message.clone());
        let wait = query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|p| p == "wait=true"));
        let answer = if wait {
            axum::Json(message_json(&message)).into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        };
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

async fn message(
    State(state): State<Shared>,
    Path((id, token, message)): Path<(String, String, String)>,
    method: Method,
) -> Response {
    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    inner.requests.push(Received {
        method: method.clone(),
        path: format!("/api/webhooks/{id}/{token}/messages/{message}"),
        query: None,
        content_type: String::new(),
        payload: Value::Null,
        form: vec![],
    });
    if let Some(refused) = authorise(&inner, &id, &token) {
        return refused;
    }
    let unknown = || {
        error(
            StatusCode::NOT_FOUND,
            json!({ "message": "Unknown Message", "code": 10008 }),
        )
    };
    if method == Method::DELETE {
        match inner.messages.remove(&message) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => unknown(),
        }
    } else {
        match inner.messages.get(&message) {
            Some(found) => axum::Json(message_json(found)).into_response(),
            None => unknown(),
        }
    }
}
