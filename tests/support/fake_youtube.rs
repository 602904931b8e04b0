//! A fake YouTube Data API v3 and Google token endpoint on `127.0.0.1:0`, answering as Google
//! documents: the resumable upload (`POST /upload/youtube/v3/videos?uploadType=resumable`
//! answers a session in `Location`; `PUT` on the session with `Content-Range` answers 308 with
//! `Range: bytes=0-N` until the last byte, then the video; `Content-Range: bytes */SIZE` asks
//! the status), `commentThreads` (list by `allThreadsRelatedToChannelId` or `videoId`, newest
//! first, paged with `pageToken`; insert), `comments` (list by `id`, insert), `videos` (list
//! `statistics`, delete), `playlistItems` (the uploads playlist), `channels?mine=true`, and
//! `POST /token` (the refresh-token grant, client secret in the form). Refusals are Google's
//! `{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`; counts are strings.
//!
//! Faults are taken from a queue, one per API request (token requests excepted).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn};

pub const CHANNEL_ID: &str = "UCbrand0000000000000000";
pub const UPLOADS: &str = "UUbrand0000000000000000";
pub const SUBSCRIBERS: u64 = 12_400;
pub const FAN_CHANNEL: &str = "UCfan00000000000000000000";
pub const FAN_NAME: &str = "Olena Fan";
pub const CLIENT_ID: &str = "1234-crier.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test-secret";

/// A way to misbehave, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers as usual (to reach a later request with the next fault).
    Pass,
    /// 403 `quotaExceeded`; nothing done.
    QuotaExceeded,
    /// 403 `rateLimitExceeded` with `Retry-After` in seconds; nothing done.
    RateLimited(u64),
    /// 503 backendError; nothing done.
    Unavailable,
    /// An upload chunk: keeps the first half of its bytes, then answers 503.
    UploadBreaks,
    /// Does the request, then closes the connection without answering.
    AcceptThenDrop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub bearer: Option<String>,
    pub body: Value,
    pub form: BTreeMap<String, String>,
    pub bytes: usize,
}

#[derive(Debug, Clone)]
pub struct FakeVideo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub privacy: String,
    pub bytes: Vec<u8>,
    pub published_at: DateTime<Utc>,
    pub views: u64,
    pub likes: u64,
    pub comments: u64,
}

#[derive(Debug, Clone)]
pub struct FakeComment {
    pub id: String,
    pub video: String,
    pub parent: Option<String>,
    pub channel: String,
    pub author: String,
    pub text: String,
    pub published_at: DateTime<Utc>,
}

struct Session {
    metadata: Value,
    size: usize,
    bytes: Vec<u8>,
}

struct Inner {
    /// Authorization codes given out, with the PKCE challenge each was asked with.
    codes: Vec<(String, String)>,
    access_tokens: Vec<String>,
    refresh_token: String,
    issued: u64,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    sessions: Vec<Session>,
    videos: Vec<FakeVideo>,
    comments: Vec<FakeComment>,
    next_id: u64,
    page_size: usize,
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
            access_tokens: vec![access.into()],
            refresh_token: refresh.into(),
            issued: 0,
            faults: VecDeque::new(),
            requests: Vec::new(),
            sessions: Vec::new(),
            videos: Vec::new(),
            comments: Vec::new(),
            next_id: 0,
            page_size: 100,
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-youtube", move || {
            Router::new().fallback(handle).with_state(state)
        });
        FakeYoutube { server, inner }
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

    pub fn calls(&self, method: &str, path: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    pub fn videos(&self) -> Vec<FakeVideo> {
        self.lock().videos.clone()
    }

    pub fn comments(&self) -> Vec<FakeComment> {
        self.lock().comments.clone()
    }

    /// Comment threads are listed this many to a page (the API's maximum is 100).
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size;
    }

    /// What Google's consent page does once the person approves: a code for `challenge`.
    pub fn authorize(&self, challenge: &str) -> String {
        let mut inner = self.lock();
        let code = format!("4/code-{}", inner.codes.len() + 1);
        inner.codes.push((code.clone(), challenge.into()));
        code
    }

    pub fn revoke_access_tokens(&self) {
        self.lock().access_tokens.clear();
    }

    pub fn revoke_refresh_token(&self) {
        self.lock().refresh_token = "revoked".into();
    }

    pub fn refresh_token(&self) -> String {
        self.lock().refresh_token.clone()
    }

    /// A video already on the channel; its id.
    pub fn add_video(&self, title: &str, description: &str, at: DateTime<Utc>) -> String {
        let mut inner = self.lock();
        let id = video_id(&mut inner);
        inner.videos.push(FakeVideo {
            id: id.clone(),
            title: title.into(),
            description: description.into(),
            privacy: "public".into(),
            bytes: vec![],
            published_at: at,
            views: 0,
            likes: 0,
            comments: 0,
        });
        id
    }

    /// A comment by the fan on `video` (under `parent`, a top-level comment, if given).
    pub fn add_comment(
        &self,
        video: &str,
        parent: Option<&str>,
        text: &str,
        at: DateTime<Utc>,
    ) -> String {
        let mut inner = self.lock();
        add_comment(&mut inner, video, parent, FAN_CHANNEL, FAN_NAME, text, at)
    }

    pub fn remove_comment(&self, id: &str) {
        self.lock().comments.retain(|c| c.id != id);
    }

    pub fn set_counts(&self, video: &str, views: u64, likes: u64, comments: u64) {
        if let Some(v) = self.lock().videos.iter_mut().find(|v| v.id == video) {
            (v.views, v.likes, v.comments) = (views, likes, comments);
        }
    }
}

fn video_id(inner: &mut Inner) -> String {
    inner.next_id += 1;
    format!("vid{:08}", inner.next_id)
}

fn add_comment(
    inner: &mut Inner,
    video: &str,
    parent: Option<&str>,
    channel: &str,
    author: &str,
    text: &str,
    at: DateTime<Utc>,
) -> String {
    inner.next_id += 1;
    let id = match parent {
        Some(parent) => format!("{parent}.r{}", inner.next_id),
        None => format!("Ugx{}", inner.next_id),
    };
    inner.comments.push(FakeComment {
        id: id.clone(),
        video: video.into(),
        parent: parent.map(str::to_owned),
        channel: channel.into(),
        author: author.into(),
        text: text.into(),
        published_at: at,
    });
    id
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"message": message, "domain": "youtube", "reason": reason}],
        }})),
    )
        .into_response()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn comment_json(c: &FakeComment) -> Value {
    let mut snippet = json!({
        "videoId": c.video,
        "authorDisplayName": c.author,
        "authorChannelId": {"value": c.channel},
        "textDisplay": c.text,
        "textOriginal": c.text,
        "canRate": true,
        "likeCount": 0,
        "publishedAt": time(c.published_at),
        "updatedAt": time(c.published_at),
    });
    if let Some(parent) = &c.parent {
        snippet["parentId"] = json!(parent);
    }
    json!({"kind": "youtube#comment", "id": c.id, "snippet": snippet})
}

fn thread_json(inner: &Inner, top: &FakeComment) -> Value {
    let replies: Vec<Value> = inner
        .comments
        .iter()
        .filter(|c| c.parent.as_deref() == Some(top.id.as_str()))
        .take(5)
        .map(comment_json)
        .collect();
    let mut thread = json!({
        "kind": "youtube#commentThread",
        "id": top.id,
        "snippet": {
            "channelId": CHANNEL_ID,
            "videoId": top.video,
            "topLevelComment": comment_json(top),
            "totalReplyCount": replies.len(),
            "isPublic": true,
        },
    });
    if !replies.is_empty() {
        thread["replies"] = json!({"comments": replies});
    }
    thread
}

fn video_json(v: &FakeVideo) -> Value {
    json!({
        "kind": "youtube#video",
        "id": v.id,
        "snippet": {"title": v.title, "description": v.description, "channelId": CHANNEL_ID,
                    "publishedAt": time(v.published_at)},
        "status": {"uploadStatus": "uploaded", "privacyStatus": v.privacy},
        "statistics": {"viewCount": v.views.to_string(), "likeCount": v.likes.to_string(),
                       "favoriteCount": "0", "commentCount": v.comments.to_string()},
    })
}

fn token(inner: &mut Inner, form: &BTreeMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "The OAuth client was not found."})),
        )
            .into_response();
    }
    let invalid_grant = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
        )
            .into_response()
    };
    let mut answer = json!({
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/youtube.force-ssl",
        "token_type": "Bearer",
    });
    match field("grant_type") {
        "refresh_token" if field("refresh_token") == inner.refresh_token => {
            // Google keeps the refresh token: the answer carries none.
        }
        "authorization_code" => {
            use base64::Engine as _;
            use sha2::Digest as _;
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()));
            let Some(index) = inner
                .codes
                .iter()
                .position(|(c, ch)| c == field("code") && *ch == challenge)
            else {
                return invalid_grant();
            };
            if !field("redirect_uri").starts_with("http://127.0.0.1:") {
                return invalid_grant();
            }
            inner.codes.remove(index);
            inner.refresh_token = format!("1//granted-{}", inner.issued + 1);
            answer["refresh_token"] = json!(inner.refresh_token);
        }
        _ => return invalid_grant(),
    }
    inner.issued += 1;
    let access = format!("ya29.renewed-{}", inner.issued);
    inner.access_tokens.push(access.clone());
    answer["access_token"] = json!(access);
    axum::Json(answer).into_response()
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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let authorization = header("authorization");
    let form = if header("content-type").starts_with("application/x-www-form-urlencoded") {
        pairs(&String::from_utf8_lossy(&body))
    } else {
        BTreeMap::new()
    };
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    inner.requests.push(Received {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: [
            "content-range",
            "x-upload-content-length",
            "x-upload-content-type",
        ]
        .iter()
        .map(|name| (name.to_string(), header(name)))
        .filter(|(_, v)| !v.is_empty())
        .collect(),
        bearer: authorization.strip_prefix("Bearer ").map(str::to_owned),
        body: json_body.clone(),
        form: form.clone(),
        bytes: body.len(),
    });
    if path == "/token" {
        return token(&mut inner, &form);
    }
    let bearer = authorization.strip_prefix("Bearer ").unwrap_or("");
    if !inner.access_tokens.iter().any(|t| t == bearer) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "authError",
            "Request had invalid authentication credentials.",
        );
    }
    let fault = inner.faults.pop_front();
    match fault {
        Some(Fault::QuotaExceeded) => {
            return google_error(
                StatusCode::FORBIDDEN,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
            );
        }
        Some(Fault::RateLimited(seconds)) => {
            let mut response = google_error(
                StatusCode::FORBIDDEN,
                "rateLimitExceeded",
                "The request cannot be completed because you have exceeded your rate limit.",
            );
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
            return response;
        }
        Some(Fault::Unavailable) => {
            return google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "backendError",
                "Backend Error",
            );
        }
        _ => {}
    }
    let answer = route(
        &mut inner, &method, &path, &query, &header, &json_body, &body, &fault,
    );
    drop(inner);
    if fault == Some(Fault::AcceptThenDrop) {
        conn.drop_connection();
    }
    answer
}

#[allow(clippy::too_many_arguments)]
fn route(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    header: &dyn Fn(&str) -> String,
    json_body: &Value,
    body: &[u8],
    fault: &Option<Fault>,
) -> Response {
    let q = |name: &str| query.get(name).cloned().unwrap_or_default();
    match (method.as_str(), path) {
        ("POST", "/upload/youtube/v3/videos") => {
            if q("uploadType") != "resumable" || !q("part").contains("snippet") {
                return google_error(StatusCode::BAD_REQUEST, "invalidParameter", "bad upload");
            }
            let Ok(size) = header("x-upload-content-length").parse::<usize>() else {
                return google_error(StatusCode::BAD_REQUEST, "invalidParameter", "no length");
            };
            let title = json_body["snippet"]["title"].as_str().unwrap_or("");
            if title.is_empty() {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "invalidTitle",
                    "The video title is empty.",
                );
            }
            inner.sessions.push(Session {
                metadata: json_body.clone(),
                size,
                bytes: Vec::new(),
            });
            let location = format!(
                "http://{}/upload/youtube/v3/videos?uploadType=resumable&upload_id=s{}",
                header("host"),
                inner.sessions.len()
            );
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert("location", location.parse().unwrap());
            response
        }
        ("PUT", "/upload/youtube/v3/videos") => {
            let Some(n) = q("upload_id")
                .strip_prefix('s')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n >= 1 && *n <= inner.sessions.len())
            else {
                return google_error(StatusCode::NOT_FOUND, "notFound", "No such upload session.");
            };
            let range = header("content-range");
            let session = &mut inner.sessions[n - 1];
            if let Some(start) = range
                .strip_prefix("bytes ")
                .and_then(|r| r.split_once('-'))
                .and_then(|(start, _)| start.parse::<usize>().ok())
            {
                if start != session.bytes.len() {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "badContentRange",
                        "The range does not continue the upload.",
                    );
                }
                let keep = if *fault == Some(Fault::UploadBreaks) {
                    body.len() / 2
                } else {
                    body.len()
                };
                session.bytes.extend_from_slice(&body[..keep]);
                if keep < body.len() {
                    return google_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "backendError",
                        "Backend Error",
                    );
                }
            } else if !range.starts_with("bytes */") {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "badContentRange",
                    "No Content-Range.",
                );
            }
            if session.bytes.len() < session.size {
                let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
                if !session.bytes.is_empty() {
                    response.headers_mut().insert(
                        "range",
                        format!("bytes=0-{}", session.bytes.len() - 1)
                            .parse()
                            .unwrap(),
                    );
                }
                return response;
            }
            let metadata = session.metadata.clone();
            let bytes = session.bytes.clone();
            // Asked again after completing: the same video.
            if let Some(existing) = inner.videos.iter().find(|v| {
                v.bytes == bytes
                    && !bytes.is_empty()
                    && v.title == metadata["snippet"]["title"].as_str().unwrap_or("")
            }) {
                return axum::Json(video_json(existing)).into_response();
            }
            let id = video_id(inner);
            let video = FakeVideo {
                id,
                title: metadata["snippet"]["title"].as_str().unwrap_or("").into(),
                description: metadata["snippet"]["description"]
                    .as_str()
                    .unwrap_or("")
                    .into(),
                privacy: metadata["status"]["privacyStatus"]
                    .as_str()
                    .unwrap_or("private")
                    .into(),
                bytes,
                published_at: Utc::now(),
                views: 0,
                likes: 0,
                comments: 0,
            };
            let answer = (StatusCode::CREATED, axum::Json(video_json(&video))).into_response();
            inner.videos.push(video);
            answer
        }
        ("GET", "/youtube/v3/channels") => {
            if q("mine") != "true" {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "missingRequiredParameter",
                    "No filter selected.",
                );
            }
            axum::Json(json!({"kind": "youtube#channelListResponse", "items": [{
                "id": CHANNEL_ID,
                "snippet": {"title": "Brand"},
                "statistics": {"viewCount": "90000", "subscriberCount": SUBSCRIBERS.to_string(),
                               "hiddenSubscriberCount": false, "videoCount": "12"},
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}},
            }]}))
            .into_response()
        }
        ("GET", "/youtube/v3/playlistItems") => {
            if q("playlistId") != UPLOADS {
                return google_error(
                    StatusCode::NOT_FOUND,
                    "playlistNotFound",
                    "The playlist cannot be found.",
                );
            }
            let mut videos = inner.videos.clone();
            videos.sort_by_key(|v| std::cmp::Reverse(v.published_at));
            let items: Vec<Value> = videos
                .iter()
                .take(q("maxResults").parse().unwrap_or(5))
                .map(|v| {
                    json!({"snippet": {
                        "publishedAt": time(v.published_at), "title": v.title,
                        "description": v.description, "playlistId": UPLOADS,
                        "resourceId": {"kind": "youtube#video", "videoId": v.id},
                    }})
                })
                .collect();
            axum::Json(json!({"items": items})).into_response()
        }
        ("GET", "/youtube/v3/videos") => {
            let ids: Vec<String> = q("id").split(',').map(str::to_owned).collect();
            let items: Vec<Value> = inner
                .videos
                .iter()
                .filter(|v| ids.contains(&v.id))
                .map(video_json)
                .collect();
            axum::Json(json!({"items": items})).into_response()
        }
        ("DELETE", "/youtube/v3/videos") => {
            let before = inner.videos.len();
            inner.videos.retain(|v| v.id != q("id"));
            if inner.videos.len() == before {
                return google_error(
                    StatusCode::NOT_FOUND,
                    "videoNotFound",
                    "The video that you are trying to delete cannot be found.",
                );
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("DELETE", "/youtube/v3/comments") => {
            let id = q("id");
            let before = inner.comments.len();
            inner
                .comments
                .retain(|c| c.id != id && c.parent.as_deref() != Some(id.as_str()));
            if inner.comments.len() == before {
                return google_error(
                    StatusCode::NOT_FOUND,
                    "commentNotFound",
                    "The comment could not be found.",
                );
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/youtube/v3/comments") => {
            let items: Vec<Value> = inner
                .comments
                .iter()
                .filter(|c| c.id == q("id"))
                .map(comment_json)
                .collect();
            axum::Json(json!({"items": items})).into_response()
        }
        ("POST", "/youtube/v3/comments") => {
            let parent = json_body["snippet"]["parentId"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let text = json_body["snippet"]["textOriginal"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let Some(video) = inner
                .comments
                .iter()
                .find(|c| c.id == parent && c.parent.is_none())
                .map(|c| c.video.clone())
            else {
                return google_error(
                    StatusCode::NOT_FOUND,
                    "parentCommentNotFound",
                    "The parent comment cannot be found.",
                );
            };
            let id = add_comment(
                inner,
                &video,
                Some(&parent),
                CHANNEL_ID,
                "Brand",
                &text,
                Utc::now(),
            );
            let created = inner.comments.iter().find(|c| c.id == id).unwrap();
            axum::Json(comment_json(created)).into_response()
        }
        ("POST", "/youtube/v3/commentThreads") => {
            let video = json_body["snippet"]["videoId"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let text = json_body["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if !inner.videos.iter().any(|v| v.id == video) {
                return google_error(
                    StatusCode::NOT_FOUND,
                    "videoNotFound",
                    "The video cannot be found.",
                );
            }
            let id = add_comment(inner, &video, None, CHANNEL_ID, "Brand", &text, Utc::now());
            let top = inner.comments.iter().find(|c| c.id == id).unwrap().clone();
            axum::Json(thread_json(inner, &top)).into_response()
        }
        ("GET", "/youtube/v3/commentThreads") => {
            let mut tops: Vec<FakeComment> = inner
                .comments
                .iter()
                .filter(|c| c.parent.is_none())
                .filter(|c| {
                    if !q("videoId").is_empty() {
                        c.video == q("videoId")
                    } else {
                        q("allThreadsRelatedToChannelId") == CHANNEL_ID
                    }
                })
                .cloned()
                .collect();
            tops.sort_by_key(|c| std::cmp::Reverse(c.published_at));
            let start: usize = q("pageToken")
                .strip_prefix("page-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let size = inner.page_size.min(q("maxResults").parse().unwrap_or(20));
            let items: Vec<Value> = tops
                .iter()
                .skip(start)
                .take(size)
                .map(|top| thread_json(inner, top))
                .collect();
            let mut answer = json!({"kind": "youtube#commentThreadListResponse", "items": items});
            if start + size < tops.len() {
                answer["nextPageToken"] = json!(format!("page-{}", start + size));
            }
            axum::Json(answer).into_response()
        }
        _ => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
    }
}
