//! A fake YouTube Data API v3 on `127.0.0.1:0`: the resumable upload (`POST
//! /upload/youtube/v3/videos?uploadType=resumable` answering a session address in `Location`;
//! `PUT` of the bytes; `Content-Range: bytes */TOTAL` answered `308` with `Range` while bytes
//! are missing), `channels.list`, `search.list` (`forMine`), `commentThreads.list` (newest
//! first, `pageToken`), `comments.insert`, `commentThreads.insert`, `videos.list`
//! (`statistics`, counts as strings), `videos.delete`, and Google's token endpoint (`POST
//! /token`, the refresh-token grant with the client id and secret in the form). Errors are
//! Google's envelope, `{"error": {"code", "message", "errors": [{"reason", "domain"}]}}`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn};

pub const CHANNEL: &str = "UCbrand0000000000000000";
pub const SUBSCRIBERS: u64 = 1_500;
pub const CLIENT_ID: &str = "1234.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test";
pub const FAN_CHANNEL: &str = "UCfan00000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 403 `quotaExceeded`.
    Quota,
    /// The upload `PUT` keeps half the bytes, then the connection breaks.
    DropMidUpload,
    /// The upload `PUT` keeps half the bytes, then answers nothing for a minute (the
    /// uploader's process dies meanwhile).
    HangMidUpload,
    /// The upload `PUT` takes every byte and creates the video, then the connection breaks
    /// (a status query answers, then breaks).
    DropAfterUpload,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeVideo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub privacy: String,
    pub bytes: usize,
    pub published_at: DateTime<Utc>,
    pub views: u64,
    pub likes: u64,
    pub comments: u64,
}

#[derive(Debug, Clone)]
struct Session {
    metadata: Value,
    total: usize,
    received: Vec<u8>,
    video: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: String,
    pub video: String,
    pub author: String,
    pub text: String,
    pub parent: Option<String>,
    pub at: DateTime<Utc>,
}

struct Inner {
    /// Authorization codes given out, with the PKCE challenge each was asked with.
    codes: Vec<(String, String)>,
    access: Vec<String>,
    refresh: String,
    faults: VecDeque<(String, Fault)>,
    requests: Vec<Received>,
    sessions: Vec<Session>,
    videos: Vec<FakeVideo>,
    comments: Vec<FakeComment>,
    next: u64,
    addr: String,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeYoutube {
    server: ChatServer,
    inner: Shared,
}

impl FakeYoutube {
    pub fn start(access: &str, refresh: &str) -> FakeYoutube {
        let inner = Arc::new(Mutex::new(Inner {
            codes: Vec::new(),
            access: vec![access.into()],
            refresh: refresh.into(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            sessions: Vec::new(),
            videos: Vec::new(),
            comments: Vec::new(),
            next: 0,
            addr: String::new(),
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-youtube", move || {
            Router::new().fallback(handle).with_state(state)
        });
        let fake = FakeYoutube { server, inner };
        fake.lock().addr = fake.url();
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `fault` for the next request whose path starts with `prefix`.
    pub fn push_fault(&self, prefix: &str, fault: Fault) {
        self.lock().faults.push_back((prefix.into(), fault));
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    pub fn calls(&self, method: &str, prefix: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }

    pub fn videos(&self) -> Vec<FakeVideo> {
        self.lock().videos.clone()
    }

    pub fn sessions_opened(&self) -> usize {
        self.lock().sessions.len()
    }

    /// The bytes each upload session holds.
    pub fn session_bytes(&self) -> Vec<usize> {
        self.lock()
            .sessions
            .iter()
            .map(|s| s.received.len())
            .collect()
    }

    pub fn comments(&self) -> Vec<FakeComment> {
        self.lock().comments.clone()
    }

    /// What Google's consent page does once the person approves: a code for `challenge`.
    pub fn authorize(&self, challenge: &str) -> String {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let code = format!("4/code-{}", inner.codes.len() + 1);
        inner.codes.push((code.clone(), challenge.into()));
        code
    }

    pub fn revoke_access(&self) {
        self.lock().access.clear();
    }

    /// A top-level comment by a fan on `video` at `at`; its thread id.
    pub fn add_comment(&self, video: &str, text: &str, at: DateTime<Utc>) -> String {
        let mut inner = self.lock();
        inner.next += 1;
        let id = format!("Ugz{:020}", inner.next);
        inner.comments.push(FakeComment {
            id: id.clone(),
            video: video.into(),
            author: FAN_CHANNEL.into(),
            text: text.into(),
            parent: None,
            at,
        });
        id
    }

    pub fn set_counts(&self, id: &str, views: u64, likes: u64, comments: u64) {
        if let Some(v) = self.lock().videos.iter_mut().find(|v| v.id == id) {
            v.views = views;
            v.likes = likes;
            v.comments = comments;
        }
    }
}

fn google_error(status: StatusCode, message: &str, reason: &str, domain: &str) -> Response {
    (
        status,
        axum::Json(
            json!({ "error": { "code": status.as_u16(), "message": message,
            "errors": [{ "message": message, "domain": domain, "reason": reason }] } }),
        ),
    )
        .into_response()
}

fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn video_json(v: &FakeVideo) -> Value {
    json!({ "kind": "youtube#video", "id": v.id,
            "snippet": { "title": v.title, "description": v.description, "channelId": CHANNEL, "publishedAt": v.published_at.to_rfc3339() },
            "status": { "uploadStatus": "uploaded", "privacyStatus": v.privacy } })
}

/// Set by `answer` on a response to hold back for that many seconds.
const HANG: &str = "x-fake-hang";

async fn handle(
    state: State<Shared>,
    conn: ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = answer(state, conn, method, uri, headers, body);
    if let Some(seconds) = response.headers_mut().remove(HANG) {
        let seconds = seconds
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    }
    response
}

fn answer(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().map(pairs).unwrap_or_default();
    let header_map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    inner.requests.push(Received {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: header_map.clone(),
        body: json_body.clone(),
        len: body.len(),
    });
    if path == "/token" {
        let form = pairs(&String::from_utf8_lossy(&body));
        let mut granted = None;
        if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
            use base64::Engine as _;
            use sha2::Digest as _;
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            let code = form.get("code").cloned().unwrap_or_default();
            if let Some(index) = inner
                .codes
                .iter()
                .position(|(c, ch)| *c == code && *ch == challenge)
                && form
                    .get("redirect_uri")
                    .is_some_and(|r| r.starts_with("http://127.0.0.1:"))
            {
                inner.codes.remove(index);
                inner.refresh = format!("1//granted-{}", inner.next + 1);
                granted = Some(inner.refresh.clone());
            }
        }
        if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
            || (granted.is_none() && form.get("refresh_token") != Some(&inner.refresh))
        {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." })),
            )
                .into_response();
        }
        inner.next += 1;
        let access = format!("ya29.renewed-{}", inner.next);
        inner.access.push(access.clone());
        let mut answer = json!({ "access_token": access, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.force-ssl", "token_type": "Bearer" });
        // Google gives a refresh token with a code, and keeps it on a refresh.
        if let Some(refresh) = granted {
            answer["refresh_token"] = json!(refresh);
        }
        return axum::Json(answer).into_response();
    }
    let bearer = header_map
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if !inner.access.iter().any(|a| a == bearer) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials.",
            "authError",
            "global",
        );
    }
    let fault = inner
        .faults
        .iter()
        .position(|(prefix, _)| path.starts_with(prefix.as_str()))
        .and_then(|i| inner.faults.remove(i))
        .map(|(_, f)| f);
    if fault == Some(Fault::Quota) {
        return google_error(
            StatusCode::FORBIDDEN,
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
            "quotaExceeded",
            "youtube.quota",
        );
    }
    if let Some(n) = path.strip_prefix("/upload/session/") {
        let Some(index) = n
            .parse::<usize>()
            .ok()
            .filter(|i| *i < inner.sessions.len())
        else {
            return google_error(StatusCode::NOT_FOUND, "Not Found", "notFound", "global");
        };
        let range = header_map.get("content-range").cloned().unwrap_or_default();
        if range.starts_with("bytes */") {
            if fault.is_some() {
                conn.drop_connection();
            }
            let session = &inner.sessions[index];
            if let Some(id) = &session.video {
                let video = inner.videos.iter().find(|v| &v.id == id).unwrap();
                return axum::Json(video_json(video)).into_response();
            }
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            *response.status_mut() = StatusCode::from_u16(308).unwrap();
            if !session.received.is_empty() {
                response.headers_mut().insert(
                    "range",
                    format!("bytes=0-{}", session.received.len() - 1)
                        .parse()
                        .unwrap(),
                );
            }
            return response;
        }
        let from = range
            .strip_prefix("bytes ")
            .and_then(|r| r.split('-').next())
            .and_then(|f| f.parse::<usize>().ok())
            .unwrap_or(0);
        let held = inner.sessions[index].received.len();
        if from != held {
            return google_error(
                StatusCode::BAD_REQUEST,
                "Invalid Content-Range",
                "badContent",
                "global",
            );
        }
        let take = if matches!(fault, Some(Fault::DropMidUpload | Fault::HangMidUpload)) {
            body.len() / 2
        } else {
            body.len()
        };
        inner.sessions[index]
            .received
            .extend_from_slice(&body[..take]);
        if fault == Some(Fault::DropMidUpload) {
            conn.drop_connection();
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        if fault == Some(Fault::HangMidUpload) {
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response.headers_mut().insert(HANG, "60".parse().unwrap());
            return response;
        }
        let session = inner.sessions[index].clone();
        if session.received.len() < session.total {
            let mut response = StatusCode::OK.into_response();
            *response.status_mut() = StatusCode::from_u16(308).unwrap();
            if !session.received.is_empty() {
                response.headers_mut().insert(
                    "range",
                    format!("bytes=0-{}", session.received.len() - 1)
                        .parse()
                        .unwrap(),
                );
            }
            return response;
        }
        inner.next += 1;
        let id = format!("V{:010}", inner.next);
        let video = FakeVideo {
            id: id.clone(),
            title: session.metadata["snippet"]["title"]
                .as_str()
                .unwrap_or("")
                .into(),
            description: session.metadata["snippet"]["description"]
                .as_str()
                .unwrap_or("")
                .into(),
            privacy: session.metadata["status"]["privacyStatus"]
                .as_str()
                .unwrap_or("")
                .into(),
            bytes: session.received.len(),
            published_at: Utc::now(),
            views: 0,
            likes: 0,
            comments: 0,
        };
        inner.sessions[index].video = Some(id);
        let answer = axum::Json(video_json(&video)).into_response();
        inner.videos.push(video);
        if fault == Some(Fault::DropAfterUpload) {
            conn.drop_connection();
        }
        return answer;
    }
    match (method.as_str(), path.as_str()) {
        ("POST", "/upload/youtube/v3/videos") => {
            if query.get("uploadType").map(String::as_str) != Some("resumable") {
                return google_error(StatusCode::BAD_REQUEST, "Media type not supported", "mediaBodyRequired", "global");
            }
            let title = json_body["snippet"]["title"].as_str().unwrap_or("");
            if title.is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
                return google_error(StatusCode::BAD_REQUEST, "The request metadata specifies an invalid video title.", "invalidTitle", "youtube.video");
            }
            let total = header_map
                .get("x-upload-content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            inner.sessions.push(Session { metadata: json_body.clone(), total, received: Vec::new(), video: None });
            let location = format!("{}/upload/session/{}", inner.addr, inner.sessions.len() - 1);
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert("location", location.parse().unwrap());
            response
        }
        ("GET", "/youtube/v3/channels") => axum::Json(json!({ "items": [{ "id": CHANNEL,
            "statistics": { "viewCount": "90000", "subscriberCount": SUBSCRIBERS.to_string(), "hiddenSubscriberCount": false, "videoCount": "12" } }] }))
        .into_response(),
        ("GET", "/youtube/v3/search") => {
            let items: Vec<Value> = inner
                .videos
                .iter()
                .rev()
                .map(|v| json!({ "kind": "youtube#searchResult", "id": { "kind": "youtube#video", "videoId": v.id },
                                 "snippet": { "title": v.title, "publishedAt": v.published_at.to_rfc3339(), "channelId": CHANNEL } }))
                .collect();
            axum::Json(json!({ "items": items })).into_response()
        }
        ("GET", "/youtube/v3/commentThreads") => {
            let max: usize = query.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(20);
            let offset: usize = query.get("pageToken").and_then(|p| p.strip_prefix("page-")).and_then(|p| p.parse().ok()).unwrap_or(0);
            let mut threads: Vec<&FakeComment> = inner.comments.iter().filter(|c| c.parent.is_none()).collect();
            threads.sort_by_key(|c| std::cmp::Reverse(c.at));
            let items: Vec<Value> = threads.iter().skip(offset).take(max).map(|c| json!({
                "kind": "youtube#commentThread", "id": c.id,
                "snippet": { "channelId": CHANNEL, "videoId": c.video, "totalReplyCount": 0,
                    "topLevelComment": { "kind": "youtube#comment", "id": c.id, "snippet": {
                        "authorDisplayName": if c.author == CHANNEL { "Brand" } else { "Olena Fan" },
                        "authorChannelId": { "value": c.author }, "textOriginal": c.text,
                        "textDisplay": c.text, "publishedAt": c.at.to_rfc3339(), "videoId": c.video } } } })).collect();
            let mut answer = json!({ "items": items });
            if offset + max < threads.len() {
                answer["nextPageToken"] = json!(format!("page-{}", offset + max));
            }
            axum::Json(answer).into_response()
        }
        ("POST", "/youtube/v3/comments") => {
            let parent = json_body["snippet"]["parentId"].as_str().unwrap_or("").to_owned();
            let Some(video) = inner.comments.iter().find(|c| c.id == parent).map(|c| c.video.clone()) else {
                return google_error(StatusCode::NOT_FOUND, "The parent comment could not be found.", "parentCommentNotFound", "youtube.comment");
            };
            inner.next += 1;
            let id = format!("{parent}.reply{}", inner.next);
            inner.comments.push(FakeComment { id: id.clone(), video, author: CHANNEL.into(), text: json_body["snippet"]["textOriginal"].as_str().unwrap_or("").into(), parent: Some(parent), at: Utc::now() });
            axum::Json(json!({ "kind": "youtube#comment", "id": id })).into_response()
        }
        ("POST", "/youtube/v3/commentThreads") => {
            let video = json_body["snippet"]["videoId"].as_str().unwrap_or("").to_owned();
            if !inner.videos.iter().any(|v| v.id == video) {
                return google_error(StatusCode::NOT_FOUND, "The video could not be found.", "videoNotFound", "youtube.commentThread");
            }
            inner.next += 1;
            let id = format!("Ugz{:020}", inner.next);
            inner.comments.push(FakeComment { id: id.clone(), video, author: CHANNEL.into(), text: json_body["snippet"]["topLevelComment"]["snippet"]["textOriginal"].as_str().unwrap_or("").into(), parent: None, at: Utc::now() });
            axum::Json(json!({ "kind": "youtube#commentThread", "id": id })).into_response()
        }
        ("GET", "/youtube/v3/videos") => {
            let ids: Vec<&str> = query.get("id").map(|i| i.split(',').collect()).unwrap_or_default();
            let items: Vec<Value> = inner.videos.iter().filter(|v| ids.contains(&v.id.as_str())).map(|v| json!({
                "id": v.id, "statistics": { "viewCount": v.views.to_string(), "likeCount": v.likes.to_string(), "favoriteCount": "0", "commentCount": v.comments.to_string() } })).collect();
            axum::Json(json!({ "items": items })).into_response()
        }
        ("DELETE", "/youtube/v3/videos") => {
            let id = query.get("id").cloned().unwrap_or_default();
            let before = inner.videos.len();
            inner.videos.retain(|v| v.id != id);
            if inner.videos.len() == before {
                return google_error(StatusCode::NOT_FOUND, "The video identified by the <code>id</code> parameter could not be found.", "videoNotFound", "youtube.video");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => google_error(StatusCode::NOT_FOUND, "Not Found", "notFound", "global"),
    }
}
