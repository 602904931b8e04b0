//! What other tools push in, and what Prometheus scrapes: `POST /hooks/{name}` hands a
//! signed event (or one sent with an editor's token) to `ops::hooks`, answering `202` with
//! its runs only once they are committed; `POST /telegram/{account}` takes the updates
//! Telegram pushes to an account with `updates: webhook`; `GET /metrics` is
//! `ops::metrics::render`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::problem::Problem;
use crate::engine::hooks::HookReceiver;
use crate::ops::hooks::{self, HookRefusal, HookRequest};
use crate::ops::{Permission, tokens};

/// An event accepted: the runs it fired are committed.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookAccepted {
    pub hook: String,
    /// The runs it fired, one per post of the hook.
    pub runs: Vec<i64>,
    /// A retry of an event received before: the first answer, nothing fired again.
    pub replay: bool,
    /// What tells a retry from a new event.
    pub key: String,
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(refusal: HookRefusal) -> Problem {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Problem::new(status, refusal.to_string())
}

#[utoipa::path(post, path = "/hooks/{name}", tag = "inbound",
    params(
        ("name" = String, Path, description = "The hook's name, as a campaign's `hooks:` declares it"),
        ("X-Crier-Timestamp" = Option<String>, Header, description = "Unix seconds, within 5 minutes of crier's clock"),
        ("X-Crier-Signature" = Option<String>, Header, description = "`sha256=<hex HMAC-SHA256 of \"timestamp.body\">` with the hook's secret"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry carries the key of the first attempt: it fires once"),
    ),
    request_body(content = Object, description = "The event: what the hook's posts see as `event`"),
    description = "Fires the hook's posts with the event. Signed as crier's webhook connector signs, or sent with `Authorization: Bearer` of an editor or admin. Answered only once its runs are committed.",
    responses((status = 202, body = HookAccepted), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem)))]
pub async fn hook(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<HookAccepted>), Problem> {
    let receiver: Arc<HookReceiver> = state.hooks.clone();
    let now = Utc::now();
    let authorization = header_text(&headers, header::AUTHORIZATION.as_str()).map(str::to_string);
    if let Some(authorization) = &authorization {
        let desk = state.desk()?;
        let actor = tokens::authenticate(&desk, Some(authorization), now)?
            .map_err(|refused| Problem::new(StatusCode::UNAUTHORIZED, refused.to_string()))?;
        actor
            .may(Permission::Trigger)
            .map_err(|forbidden| Problem::new(StatusCode::FORBIDDEN, forbidden.to_string()))?;
    }
    let key = header_text(&headers, "idempotency-key");
    // The store is written by the receiver's writer thread; this waits for its commit.
    let accepted = if authorization.is_some() {
        hooks::receive_authorized_async(&receiver, &name, key, &body, now).await
    } else {
        let request = HookRequest {
            timestamp: header_text(&headers, "x-crier-timestamp"),
            signature: header_text(&headers, "x-crier-signature"),
            idempotency_key: key,
            body: &body,
        };
        hooks::receive_async(&receiver, &name, request, now).await
    }
    .map_err(refused)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(HookAccepted {
            hook: accepted.hook,
            runs: accepted.runs,
            replay: accepted.replay,
            key: accepted.key,
        }),
    ))
}

#[utoipa::path(get, path = "/metrics", tag = "health",
    description = "Prometheus metrics in its text format. No token needed.",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, Problem> {
    let desk = state.desk()?;
    let text = tokio::task::spawn_blocking(move || crate::ops::metrics::render(&desk, Utc::now()))
        .await
        .map_err(Problem::internal)??;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// What a push stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct MentionsPushed {
    /// Mentions in the push.
    pub received: u64,
    /// Mentions new to a crisis plan (one watched by two plans counts twice).
    pub crisis_mentions: u64,
    /// Contest entries new to a contest.
    pub contest_entries: u64,
}

#[utoipa::path(post, path = "/api/v1/mentions", tag = "inbound",
    request_body(content = String, description = "Mentions and replies in the rehearsal events format: a JSON array, or JSON Lines", content_type = "application/json"),
    description = "Mentions and replies from networks crier cannot read, or from a social-listening tool: they feed contests and crisis plans as read ones do, once per (network, id). One bad mention refuses the whole push. Editors and admins.",
    responses((status = 200, body = MentionsPushed), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn mentions(
    _caller: super::auth::Caller<super::auth::ToTrigger>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<axum::Json<MentionsPushed>, Problem> {
    let desk = state.desk()?;
    let pushed = tokio::task::spawn_blocking(move || {
        let mentions = crate::ops::mentions::parse(&body)?;
        crate::ops::mentions::push(&desk, &mentions, Utc::now())
    })
    .await
    .map_err(Problem::internal)?
    .map_err(|refusal| {
        let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Problem::new(status, refusal.to_string())
    })?;
    Ok(axum::Json(MentionsPushed {
        received: pushed.received as u64,
        crisis_mentions: pushed.crisis_mentions as u64,
        contest_entries: pushed.contest_entries as u64,
    }))
}

#[utoipa::path(post, path = "/telegram/{account}", tag = "inbound",
    params(
        ("account" = String, Path, description = "The Telegram account of crier.yaml with `updates: webhook`"),
        ("X-Telegram-Bot-Api-Secret-Token" = Option<String>, Header, description = "The account's webhook `secret`, which Telegram sends with each update"),
    ),
    request_body(content = Object, description = "One Telegram `Update`"),
    description = "Where Telegram pushes the bot's updates for an account with `updates: webhook` (the account's `url:` points here). An update that mentions or answers the bot feeds contests and crisis plans as a read one does, once per message; a reply `approve`, `reject: reason` or `ack` from a person's own user decides as a reply read by polling does.",
    responses((status = 200, body = MentionsPushed), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn telegram(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<MentionsPushed>, Problem> {
    let desk = state.desk()?;
    let connectors = (state.connectors)();
    let token = header_text(&headers, crate::connectors::telegram::SECRET_TOKEN_HEADER);
    let now = Utc::now();
    let (pushed, message) =
        crate::ops::mentions::receive_update_read(&desk, &connectors, &account, token, &body, now)
            .await
            .map_err(|refusal| {
                let status =
                    StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
                Problem::new(status, refusal.to_string())
            })?;
    // Polling never reads an account in webhook mode: its replies to notices arrive here.
    if let Some(message) = message {
        tokio::task::spawn_blocking(move || {
            let network = crate::network::Network::Telegram;
            super::replies::handle(&desk, &account, network, &[message], now)
        })
        .await
        .map_err(Problem::internal)?;
    }
    Ok(axum::Json(MentionsPushed {
        received: pushed.received as u64,
        crisis_mentions: pushed.crisis_mentions as u64,
        contest_entries: pushed.contest_entries as u64,
    }))
}
