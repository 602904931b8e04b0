//! A fake Slack incoming webhook on `127.0.0.1:0` at `/services/T000/B000/<secret>`.
//!
//! It answers as Slack does, in plain text: `200 ok`; `400 invalid_payload` (not JSON),
//! `400 no_text`, `400 too_many_attachments` (over 100); `403 invalid_token` (a wrong
//! secret); and, by the webhook's state, `403 action_prohibited`,
//! `403 posting_to_general_channel_denied`, `404 channel_not_found`, `404 no_service`,
//! `410 channel_is_archived`. Text over 40,000 characters is cut, as Slack does. Like
//! Slack, it does not deduplicate and returns no message id. Faults come from a queue.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::chat_server::{ChatServer, Conn};

/// What has become of the webhook's channel or app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookState {
    Active,
    ChannelArchived,
    ChannelNotFound,
    AppRemoved,
    ActionProhibited,
    GeneralChannelDenied,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `500` plain text, nothing posted.
    ServerError,
    /// `429 rate_limited` with `Retry-After: <seconds>`, nothing posted.
    RateLimited { retry_after: u64 },
    /// `429` without any hint.
    RateLimitedNoHint,
    /// Posts, then answers after this long.
    Slow(Duration),
    /// Posts, then closes the connection without answering.
    AcceptThenDrop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: String,
}

struct Inner {
    secret: String,
    state: HookState,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    messages: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeSlack {
    server: ChatServer,
    inner: Shared,
}

impl FakeSlack {
    pub fn start(secret: &str) -> FakeSlack {
        let inner = Arc::new(Mutex::new(Inner {
            secret: secret.into(),
            state: HookState::Active,
            faults: VecDeque::new(),
            requests: Vec::new(),
            messages: Vec::new(),
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-slack", move || {
            Router::new()
                .route("/services/{team}/{hook}/{secret}", post(receive))
                .with_state(state)
        });
        FakeSlack { server, inner }
    }

    pub fn url_with(&self, secret: &str) -> String {
        format!("http://{}/services/T000/B000/{secret}", self.server.addr())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn set_state(&self, state: HookState) {
        self.lock().state = state;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// The texts posted to the channel.
    pub fn messages(&self) -> Vec<String> {
        self.lock().messages.clone()
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (status, [("content-type", "text/html")], body).into_response()
}

async fn receive(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path((team, hook, secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            path: format!("/services/{team}/{hook}/{secret}"),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .into(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if secret != inner.secret {
            return plain(StatusCode::FORBIDDEN, "invalid_token");
        }
        match inner.state {
            HookState::Active => {}
            HookState::ChannelArchived => return plain(StatusCode::GONE, "channel_is_archived"),
            HookState::ChannelNotFound => return plain(StatusCode::NOT_FOUND, "channel_not_found"),
            HookState::AppRemoved => return plain(StatusCode::NOT_FOUND, "no_service"),
            HookState::ActionProhibited => {
                return plain(StatusCode::FORBIDDEN, "action_prohibited");
            }
            HookState::GeneralChannelDenied => {
                return plain(StatusCode::FORBIDDEN, "posting_to_general_channel_denied");
            }
        }
        let fault = inner.faults.pop_front();
        match &fault {
            Some(Fault::ServerError) => {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
            }
            Some(Fault::RateLimited { retry_after }) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", retry_after.to_string())],
                    "rate_limited",
                )
                    .into_response();
            }
            Some(Fault::RateLimitedNoHint) => {
                return plain(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            }
            _ => {}
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
            return plain(StatusCode::BAD_REQUEST, "invalid_payload");
        };
        if payload["attachments"]
            .as_array()
            .is_some_and(|a| a.len() > 100)
        {
            return plain(StatusCode::BAD_REQUEST, "too_many_attachments");
        }
        let text = payload["text"].as_str().unwrap_or("");
        if text.trim().is_empty() && payload.get("blocks").is_none() {
            return plain(StatusCode::BAD_REQUEST, "no_text");
        }
        // Slack cuts what it does not keep.
        let kept: String = text.chars().take(40_000).collect();
        inner.messages.push(kept);
        (fault, plain(StatusCode::OK, "ok"))
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
