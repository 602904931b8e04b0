//! A fake Telegram Bot API server on `127.0.0.1:0`: `POST /bot<token>/<method>` with JSON or
//! multipart parameters, answered in Telegram's envelope (`{"ok": true, "result": …}` or
//! `{"ok": false, "error_code": N, "description": "…", "parameters": {…}}`, the HTTP status
//! equal to `error_code`).
//!
//! It knows one bot (`@brand_bot`), one channel (`@brand_channel`), people who started the
//! bot and people who blocked it; it keeps the messages sent, counts text in UTF-16 units as
//! Telegram does (4096 for text, 1024 for captions), and queues updates for `getUpdates`,
//! which forgets those below the `offset` it is asked with. Like Telegram, it does not
//! deduplicate: a resend is a second message. Faults are taken from a queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn, FormField, parse_multipart};

pub const BOT_ID: i64 = 7_000_001;
pub const BOT_USERNAME: &str = "brand_bot";
pub const CHANNEL: &str = "@brand_channel";
pub const CHANNEL_ID: i64 = -1_001_234_567_890;
/// A person who started the bot.
pub const FAN_ID: i64 = 4242;
/// A person who blocked the bot.
pub const BLOCKER_ID: i64 = 5151;

/// A way to misbehave, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `500` in Telegram's envelope; nothing created.
    ServerError,
    /// `429` with `parameters.retry_after`; nothing created.
    FloodWait { retry_after: u64 },
    /// `429` with no `retry_after`; nothing created.
    TooManyRequestsNoHint,
    /// `400` "group chat was upgraded to a supergroup chat" with `migrate_to_chat_id`.
    Migrated { new_chat_id: i64 },
    /// Does the request (creates the message), then answers after this long.
    Slow(Duration),
    /// Does the request, then closes the connection without answering.
    AcceptThenDrop,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path with the token in it, as sent.
    pub path: String,
    pub content_type: String,
    /// The parameters: the JSON body, or the multipart text fields (JSON-looking values
    /// parsed).
    pub params: Value,
    /// The multipart fields, files included.
    pub form: Vec<FormField>,
}

/// A message the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: Option<String>,
    pub caption: Option<String>,
    /// File names of the photo(s).
    pub photo: Option<String>,
    pub reply_to: Option<i64>,
    pub media_group_id: Option<String>,
}

struct Inner {
    token: String,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    messages: Vec<FakeMessage>,
    /// When each message arrived, in order.
    arrivals: Vec<std::time::Instant>,
    next_message_id: BTreeMap<i64, i64>,
    started: BTreeSet<i64>,
    blocked: BTreeSet<i64>,
    updates: Vec<Value>,
    next_update_id: i64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeTelegram {
    server: ChatServer,
    inner: Shared,
}

impl FakeTelegram {
    /// A server whose one valid bot token is `token`.
    pub fn start(token: &str) -> FakeTelegram {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            messages: Vec::new(),
            arrivals: Vec::new(),
            next_message_id: BTreeMap::new(),
            started: BTreeSet::from([FAN_ID]),
            blocked: BTreeSet::from([BLOCKER_ID]),
            updates: Vec::new(),
            next_update_id: 500_000,
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-telegram", move || {
            Router::new()
                .route("/{bot}/{method}", post(receive))
                .with_state(state)
        });
        FakeTelegram { server, inner }
    }

    /// The `server` to give the account.
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

    /// The requests of one method.
    pub fn calls(&self, method: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method)
            .collect()
    }

    /// The messages in the chats, in the order they were sent.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.lock().messages.clone()
    }

    /// When each message arrived, in order.
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.lock().arrivals.clone()
    }

    /// Queues an update for `getUpdates`: `content` is the update without `update_id`
    /// (`{"message": {…}}`). Returns the id given.
    pub fn push_update(&self, mut content: Value) -> i64 {
        let mut inner = self.lock();
        let id = inner.next_update_id;
        inner.next_update_id += 1;
        content["update_id"] = Value::from(id);
        inner.updates.push(content);
        id
    }

    /// The updates still kept (not yet confirmed by an `offset` above them).
    pub fn pending_updates(&self) -> usize {
        self.lock().updates.len()
    }
}

/// The JSON Telegram gives a chat.
fn chat_json(chat_id: i64) -> Value {
    if chat_id == CHANNEL_ID {
        json!({ "id": CHANNEL_ID, "type": "channel", "title": "Brand", "username": "brand_channel" })
    } else {
        json!({ "id": chat_id, "type": "private", "first_name": "Fan" })
    }
}

fn message_json(message: &FakeMessage) -> Value {
    let mut json = json!({
        "message_id": message.message_id,
        "sender_chat": chat_json(message.chat_id),
        "chat": chat_json(message.chat_id),
        "date": chrono::Utc::now().timestamp(),
    });
    if message.chat_id != CHANNEL_ID {
        json.as_object_mut().unwrap().remove("sender_chat");
        json["from"] = json!({ "id": BOT_ID, "is_bot": true, "first_name": "Brand", "username": BOT_USERNAME });
    }
    if let Some(text) = &message.text {
        json["text"] = Value::from(text.clone());
    }
    if let Some(caption) = &message.caption {
        json["caption"] = Value::from(caption.clone());
    }
    if message.photo.is_some() {
        json["photo"] = json!([{ "file_id": format!("photo-{}", message.message_id), "file_unique_id": "u", "width": 1, "height": 1 }]);
    }
    if let Some(group) = &message.media_group_id {
        json["media_group_id"] = Value::from(group.clone());
    }
    if let Some(reply_to) = message.reply_to {
        json["reply_to_message"] =
            json!({ "message_id": reply_to, "chat": chat_json(message.chat_id), "date": 0 });
    }
    json
}

fn refusal(code: u16, description: &str) -> Response {
    refusal_with(code, description, None)
}

fn refusal_with(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The parameters of a request: its JSON body or its multipart text fields.
fn params_of(content_type: &str, body: &[u8]) -> (Value, Vec<FormField>) {
    if content_type.starts_with("multipart/form-data") {
        let form = parse_multipart(content_type, body).unwrap_or_default();
        let mut params = serde_json::Map::new();
        for field in form.iter().filter(|f| f.file_name.is_none()) {
            let text = field.text();
            let value = match serde_json::from_str::<Value>(&text) {
                Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
                _ => Value::String(text),
            };
            params.insert(field.name.clone(), value);
        }
        (Value::Object(params), form)
    } else {
        (
            serde_json::from_slice(body).unwrap_or(Value::Object(Default::default())),
            Vec::new(),
        )
    }
}

async fn receive(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (params, form) = params_of(&content_type, &body);
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.clone(),
            path: format!("/{bot}/{method}"),
            content_type,
            params: params.clone(),
            form: form.clone(),
        });
        if bot.strip_prefix("bot") != Some(inner.token.as_str()) {
            return refusal(401, "Unauthorized");
        }
        let fault = inner.faults.pop_front();
        match &fault {
            Some(Fault::ServerError) => return refusal(500, "Internal Server Error"),
            Some(Fault::FloodWait { retry_after }) => {
                return refusal_with(
                    429,
                    &format!("Too Many Requests: retry after {retry_after}"),
                    Some(json!({ "retry_after": retry_after })),
                );
            }
            Some(Fault::TooManyRequestsNoHint) => return refusal(429, "Too Many Requests"),
            Some(Fault::Migrated { new_chat_id }) => {
                return refusal_with(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    Some(json!({ "migrate_to_chat_id": new_chat_id })),
                );
            }
            _ => {}
        }
        (fault, handle(&mut inner, &method, &params, &form))
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

/// The chat a `chat_id` parameter names, or the refusal Telegram gives.
/// A refusal: Telegram's error code and description.
type Refused = (u16, &'static str);

fn resolve_chat(inner: &Inner, chat: Option<&Value>) -> Result<i64, Refused> {
    let id = match chat {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.eq_ignore_ascii_case(CHANNEL) => Some(CHANNEL_ID),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => return Err((400, "Bad Request: chat_id is empty")),
    };
    match id {
        Some(CHANNEL_ID) => Ok(CHANNEL_ID),
        Some(user) if inner.blocked.contains(&user) => {
            Err((403, "Forbidden: bot was blocked by the user"))
        }
        Some(user) if inner.started.contains(&user) => Ok(user),
        _ => Err((400, "Bad Request: chat not found")),
    }
}

fn reply_target(inner: &Inner, chat_id: i64, params: &Value) -> Result<Option<i64>, Refused> {
    let Some(id) = params["reply_parameters"]["message_id"]
        .as_i64()
        .or_else(|| params["reply_to_message_id"].as_i64())
    else {
        return Ok(None);
    };
    if inner
        .messages
        .iter()
        .any(|m| m.chat_id == chat_id && m.message_id == id)
    {
        Ok(Some(id))
    } else {
        Err((400, "Bad Request: message to be replied not found"))
    }
}

fn create(inner: &mut Inner, mut message: FakeMessage) -> FakeMessage {
    let next = inner.next_message_id.entry(message.chat_id).or_insert(100);
    *next += 1;
    message.message_id = *next;
    inner.messages.push(message.clone());
    inner.arrivals.push(std::time::Instant::now());
    message
}

fn handle(inner: &mut Inner, method: &str, params: &Value, form: &[FormField]) -> Response {
    match method {
        "setWebhook" => ok(Value::Bool(true)),
        "getMe" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Brand", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
        })),
        "getChat" => match resolve_chat(inner, params.get("chat_id")) {
            Ok(chat) => ok(chat_json(chat)),
            Err((code, description)) => refusal(code, description),
        },
        "sendMessage" => {
            let chat = match resolve_chat(inner, params.get("chat_id")) {
                Ok(chat) => chat,
                Err((code, description)) => return refusal(code, description),
            };
            let text = params["text"].as_str().unwrap_or("");
            if text.trim().is_empty() {
                return refusal(400, "Bad Request: message text is empty");
            }
            if utf16_len(text) > 4096 {
                return refusal(400, "Bad Request: message is too long");
            }
            let reply_to = match reply_target(inner, chat, params) {
                Ok(reply_to) => reply_to,
                Err((code, description)) => return refusal(code, description),
            };
            let message = create(
                inner,
                FakeMessage {
                    chat_id: chat,
                    message_id: 0,
                    text: Some(text.into()),
                    caption: None,
                    photo: None,
                    reply_to,
                    media_group_id: None,
                },
            );
            ok(message_json(&message))
        }
        "sendPhoto" => {
            let chat = match resolve_chat(inner, params.get("chat_id")) {
                Ok(chat) => chat,
                Err((code, description)) => return refusal(code, description),
            };
            let Some(photo) = form
                .iter()
                .find(|f| f.name == "photo" && f.file_name.is_some())
            else {
                return refusal(400, "Bad Request: there is no photo in the request");
            };
            let caption = params["caption"].as_str().map(str::to_owned);
            if caption.as_deref().is_some_and(|c| utf16_len(c) > 1024) {
                return refusal(400, "Bad Request: message caption is too long");
            }
            let reply_to = match reply_target(inner, chat, params) {
                Ok(reply_to) => reply_to,
                Err((code, description)) => return refusal(code, description),
            };
            let message = create(
                inner,
                FakeMessage {
                    chat_id: chat,
                    message_id: 0,
                    text: None,
                    caption,
                    photo: photo.file_name.clone(),
                    reply_to,
                    media_group_id: None,
                },
            );
            ok(message_json(&message))
        }
        "sendMediaGroup" => {
            let chat = match resolve_chat(inner, params.get("chat_id")) {
                Ok(chat) => chat,
                Err((code, description)) => return refusal(code, description),
            };
            let Some(media) = params["media"].as_array() else {
                return refusal(400, "Bad Request: parameter \"media\" is required");
            };
            if !(2..=10).contains(&media.len()) {
                return refusal(400, "Bad Request: wrong number of items in the media group");
            }
            let mut files = Vec::new();
            for item in media {
                let attach = item["media"].as_str().unwrap_or("");
                let Some(file) = attach
                    .strip_prefix("attach://")
                    .and_then(|name| form.iter().find(|f| f.name == name))
                else {
                    return refusal(400, "Bad Request: wrong file identifier/HTTP URL specified");
                };
                if item["caption"]
                    .as_str()
                    .is_some_and(|c| utf16_len(c) > 1024)
                {
                    return refusal(400, "Bad Request: message caption is too long");
                }
                files.push((
                    file.file_name.clone(),
                    item["caption"].as_str().map(str::to_owned),
                ));
            }
            let reply_to = match reply_target(inner, chat, params) {
                Ok(reply_to) => reply_to,
                Err((code, description)) => return refusal(code, description),
            };
            let group = format!("group-{}", inner.messages.len() + 1);
            let sent: Vec<Value> = files
                .into_iter()
                .map(|(file_name, caption)| {
                    let message = create(
                        inner,
                        FakeMessage {
                            chat_id: chat,
                            message_id: 0,
                            text: None,
                            caption,
                            photo: file_name,
                            reply_to,
                            media_group_id: Some(group.clone()),
                        },
                    );
                    message_json(&message)
                })
                .collect();
            ok(Value::Array(sent))
        }
        "deleteMessage" => {
            let chat = match resolve_chat(inner, params.get("chat_id")) {
                Ok(chat) => chat,
                Err((code, description)) => return refusal(code, description),
            };
            let id = params["message_id"].as_i64();
            let before = inner.messages.len();
            inner
                .messages
                .retain(|m| !(m.chat_id == chat && Some(m.message_id) == id));
            if inner.messages.len() == before {
                refusal(400, "Bad Request: message to delete not found")
            } else {
                ok(Value::Bool(true))
            }
        }
        "getUpdates" => {
            if let Some(offset) = params["offset"].as_i64() {
                // Asking from `offset` confirms every update below it.
                inner
                    .updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
            let page: Vec<Value> = inner.updates.iter().take(limit).cloned().collect();
            ok(Value::Array(page))
        }
        _ => refusal(404, "Not Found"),
    }
}
