//! A fake VK API on `127.0.0.1:0`: `POST /method/<method>` with form parameters
//! (`access_token`, `v` and the method's own), answered HTTP 200 with `{"response": …}` or
//! `{"error": {"error_code": N, "error_msg": "…", "request_params": […]}}` as VK does, and
//! `POST /upload` standing in for the photo upload server.
//!
//! It knows one community (`GROUP_ID`) whose administrator's token is the one it is started
//! with; it keeps the wall's posts and comments, deduplicates `wall.post` and
//! `wall.createComment` by `guid` as VK does, counts text in characters (16,384 a post), and
//! refuses more than 10 attachments. Faults are taken from a queue.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn, parse_multipart};

pub const GROUP_ID: i64 = 212_345_678;
pub const GROUP_NAME: &str = "Brand";
pub const MEMBERS: u64 = 1_234;
/// A person who comments.
pub const FAN_ID: i64 = 4242;

/// A way to misbehave, for one method call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// VK's error envelope with this code and message, HTTP 200; nothing done.
    Error(i64, &'static str),
    /// A proxy's `502` page; nothing done.
    BadGateway,
    /// Does the call, then answers after this long.
    Slow(Duration),
    /// Does the call, then closes the connection without answering.
    AcceptThenDrop,
}

/// One call as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePost {
    pub id: i64,
    pub text: String,
    pub attachments: Vec<String>,
    pub guid: Option<String>,
    pub from_group: bool,
    pub date: i64,
    pub likes: u64,
    pub reposts: u64,
    pub views: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: i64,
    pub post_id: i64,
    pub from_id: i64,
    pub text: String,
    pub reply_to_comment: Option<i64>,
    pub guid: Option<String>,
    pub date: i64,
}

struct Inner {
    token: String,
    addr: String,
    faults: VecDeque<Fault>,
    requests: Vec<Received>,
    posts: Vec<FakePost>,
    comments: Vec<FakeComment>,
    /// Photos uploaded but not yet saved: upload `photo` field → file name.
    uploads: Vec<String>,
    photos: Vec<String>,
    next_id: i64,
    is_admin: bool,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeVk {
    server: ChatServer,
    inner: Shared,
}

impl FakeVk {
    /// A server whose one valid token is `token`.
    pub fn start(token: &str) -> FakeVk {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.into(),
            addr: String::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            posts: Vec::new(),
            comments: Vec::new(),
            uploads: Vec::new(),
            photos: Vec::new(),
            next_id: 100,
            is_admin: true,
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-vk", move || {
            Router::new()
                .route("/method/{method}", post(method))
                .route("/upload", post(upload))
                .with_state(state)
        });
        let fake = FakeVk { server, inner };
        fake.lock().addr = fake.url();
        fake
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

    pub fn calls(&self, method: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method)
            .collect()
    }

    pub fn posts(&self) -> Vec<FakePost> {
        self.lock().posts.clone()
    }

    pub fn comments(&self) -> Vec<FakeComment> {
        self.lock().comments.clone()
    }

    /// The token's user no longer administers the community.
    pub fn revoke_admin(&self) {
        self.lock().is_admin = false;
    }

    /// A post on the wall as if published elsewhere; returns its id.
    pub fn add_post(&self, text: &str, date: i64) -> i64 {
        let mut inner = self.lock();
        let id = next_id(&mut inner);
        inner.posts.push(FakePost {
            id,
            text: text.into(),
            attachments: vec![],
            guid: None,
            from_group: true,
            date,
            likes: 0,
            reposts: 0,
            views: 0,
        });
        id
    }

    /// A comment by `from_id` under `post_id`; returns its id.
    pub fn add_comment(
        &self,
        post_id: i64,
        from_id: i64,
        text: &str,
        reply_to: Option<i64>,
    ) -> i64 {
        let mut inner = self.lock();
        let id = next_id(&mut inner);
        inner.comments.push(FakeComment {
            id,
            post_id,
            from_id,
            text: text.into(),
            reply_to_comment: reply_to,
            guid: None,
            date: chrono::Utc::now().timestamp(),
        });
        id
    }

    /// A comment edited by its author.
    pub fn edit_comment(&self, id: i64, text: &str) {
        let mut inner = self.lock();
        if let Some(comment) = inner.comments.iter_mut().find(|c| c.id == id) {
            comment.text = text.into();
        }
    }

    /// A comment deleted by its author.
    pub fn delete_comment(&self, id: i64) {
        self.lock().comments.retain(|c| c.id != id);
    }

    /// Sets a post's counts.
    pub fn set_counts(&self, post_id: i64, likes: u64, reposts: u64, views: u64) {
        let mut inner = self.lock();
        if let Some(post) = inner.posts.iter_mut().find(|p| p.id == post_id) {
            post.likes = likes;
            post.reposts = reposts;
            post.views = views;
        }
    }
}

fn next_id(inner: &mut Inner) -> i64 {
    inner.next_id += 1;
    inner.next_id
}

fn ok(response: Value) -> Response {
    axum::Json(json!({ "response": response })).into_response()
}

fn error(code: i64, message: &str, params: &BTreeMap<String, String>) -> Response {
    let request_params: Vec<Value> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "access_token")
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect();
    axum::Json(json!({
        "error": { "error_code": code, "error_msg": message, "request_params": request_params }
    }))
    .into_response()
}

async fn method(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path(method): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let params: BTreeMap<String, String> = form.into_iter().collect();
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.clone(),
            params: params.clone(),
        });
        if params.get("v").map(String::as_str) != Some("5.199") {
            return error(8, "Invalid request: v (version) is required", &params);
        }
        if params.get("access_token") != Some(&inner.token) {
            return error(
                5,
                "User authorization failed: invalid access_token (4).",
                &params,
            );
        }
        let fault = inner.faults.pop_front();
        match &fault {
            Some(Fault::Error(code, message)) => return error(*code, message, &params),
            Some(Fault::BadGateway) => {
                return (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response();
            }
            _ => {}
        }
        (fault, handle(&mut inner, &method, &params))
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

async fn upload(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = parse_multipart(content_type, &body).unwrap_or_default();
    let Some(photo) = form
        .iter()
        .find(|f| f.name == "photo" && f.file_name.is_some())
    else {
        // VK's upload server answers an empty `photo` list for a request without one.
        return axum::Json(json!({ "server": 1, "photo": "[]", "hash": "" })).into_response();
    };
    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("uploaded-{}", inner.uploads.len());
    inner
        .uploads
        .push(photo.file_name.clone().unwrap_or_default());
    axum::Json(json!({
        "server": 830_001,
        "photo": json!([{ "photo": key }]).to_string(),
        "hash": "5e1f00d",
    }))
    .into_response()
}

fn int(params: &BTreeMap<String, String>, name: &str) -> Option<i64> {
    params.get(name).and_then(|v| v.parse().ok())
}

fn post_json(post: &FakePost, comments: usize) -> Value {
    json!({
        "id": post.id,
        "owner_id": -GROUP_ID,
        "from_id": -GROUP_ID,
        "date": post.date,
        "text": post.text,
        "attachments": post.attachments.iter().map(|a| json!({ "type": "photo", "photo": { "id": a } })).collect::<Vec<_>>(),
        "likes": { "count": post.likes },
        "reposts": { "count": post.reposts },
        "comments": { "count": comments },
        "views": { "count": post.views },
    })
}

fn comment_json(comment: &FakeComment) -> Value {
    let mut json = json!({
        "id": comment.id,
        "from_id": comment.from_id,
        "post_id": comment.post_id,
        "owner_id": -GROUP_ID,
        "date": comment.date,
        "text": comment.text,
    });
    if let Some(parent) = comment.reply_to_comment {
        json["reply_to_comment"] = json!(parent);
    }
    json
}

fn handle(inner: &mut Inner, method: &str, params: &BTreeMap<String, String>) -> Response {
    let owner = int(params, "owner_id");
    let wrong_wall = || owner != Some(-GROUP_ID);
    match method {
        "groups.getById" => {
            if int(params, "group_id") != Some(GROUP_ID) {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: group_ids is undefined",
                    params,
                );
            }
            ok(json!({ "groups": [{
                "id": GROUP_ID, "name": GROUP_NAME, "screen_name": "brand", "type": "page",
                "is_admin": u8::from(inner.is_admin), "members_count": MEMBERS,
            }], "profiles": [] }))
        }
        "photos.getWallUploadServer" => ok(json!({
            "album_id": -14, "user_id": 1,
            "upload_url": format!("{}/upload", inner.addr),
        })),
        "photos.saveWallPhoto" => {
            let photo = params.get("photo").cloned().unwrap_or_default();
            if !photo.contains("uploaded-")
                || params.get("hash").map(String::as_str) != Some("5e1f00d")
            {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: photos_list is invalid",
                    params,
                );
            }
            let id = next_id(inner);
            inner.photos.push(format!("photo{}_{id}", -GROUP_ID));
            ok(json!([{ "id": id, "owner_id": -GROUP_ID, "album_id": -14 }]))
        }
        "wall.post" => {
            if wrong_wall() {
                return error(214, "Access to adding post denied", params);
            }
            let text = params.get("message").cloned().unwrap_or_default();
            let attachments: Vec<String> = params
                .get("attachments")
                .map(|a| a.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            if text.is_empty() && attachments.is_empty() {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: message is empty or invalid",
                    params,
                );
            }
            if text.chars().count() > 16_384 {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: message is too long",
                    params,
                );
            }
            if attachments.len() > 10 {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: too many attachments",
                    params,
                );
            }
            if attachments.iter().any(|a| !inner.photos.contains(a)) {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: attachments is invalid",
                    params,
                );
            }
            let guid = params.get("guid").cloned();
            if let Some(existing) = guid
                .as_ref()
                .and_then(|g| inner.posts.iter().find(|p| p.guid.as_ref() == Some(g)))
            {
                return ok(json!({ "post_id": existing.id }));
            }
            let id = next_id(inner);
            inner.posts.push(FakePost {
                id,
                text,
                attachments,
                guid,
                from_group: params.get("from_group").map(String::as_str) == Some("1"),
                date: chrono::Utc::now().timestamp(),
                likes: 0,
                reposts: 0,
                views: 0,
            });
            ok(json!({ "post_id": id }))
        }
        "wall.createComment" => {
            let Some(post_id) =
                int(params, "post_id").filter(|id| inner.posts.iter().any(|p| p.id == *id))
            else {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: post_id is undefined",
                    params,
                );
            };
            if wrong_wall() {
                return error(15, "Access denied", params);
            }
            let guid = params.get("guid").cloned();
            if let Some(existing) = guid
                .as_ref()
                .and_then(|g| inner.comments.iter().find(|c| c.guid.as_ref() == Some(g)))
            {
                return ok(json!({ "comment_id": existing.id, "parents_stack": [] }));
            }
            let from_id = match int(params, "from_group") {
                Some(group) if group == GROUP_ID => -GROUP_ID,
                _ => 1,
            };
            let id = next_id(inner);
            inner.comments.push(FakeComment {
                id,
                post_id,
                from_id,
                text: params.get("message").cloned().unwrap_or_default(),
                reply_to_comment: int(params, "reply_to_comment"),
                guid,
                date: chrono::Utc::now().timestamp(),
            });
            ok(json!({ "comment_id": id, "parents_stack": [] }))
        }
        "wall.delete" => {
            let id = int(params, "post_id");
            let before = inner.posts.len();
            inner.posts.retain(|p| Some(p.id) != id);
            if inner.posts.len() == before {
                return error(15, "Access denied: post was already deleted", params);
            }
            ok(json!(1))
        }
        "wall.deleteComment" => {
            let id = int(params, "comment_id");
            let before = inner.comments.len();
            inner.comments.retain(|c| Some(c.id) != id);
            if inner.comments.len() == before {
                return error(15, "Access denied: comment was already deleted", params);
            }
            ok(json!(1))
        }
        "wall.get" => {
            if wrong_wall() {
                return error(15, "Access denied", params);
            }
            let count = int(params, "count").unwrap_or(20) as usize;
            let items: Vec<Value> = inner
                .posts
                .iter()
                .rev()
                .take(count)
                .map(|p| {
                    post_json(
                        p,
                        inner.comments.iter().filter(|c| c.post_id == p.id).count(),
                    )
                })
                .collect();
            ok(json!({ "count": inner.posts.len(), "items": items }))
        }
        "wall.getById" => {
            let wanted: Vec<String> = params
                .get("posts")
                .map(|p| p.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            let items: Vec<Value> = inner
                .posts
                .iter()
                .filter(|p| wanted.contains(&format!("-{GROUP_ID}_{}", p.id)))
                .map(|p| {
                    post_json(
                        p,
                        inner.comments.iter().filter(|c| c.post_id == p.id).count(),
                    )
                })
                .collect();
            ok(json!({ "items": items, "profiles": [], "groups": [] }))
        }
        "wall.getComments" => {
            let post_id = int(params, "post_id");
            let offset = int(params, "offset").unwrap_or(0) as usize;
            let count = int(params, "count").unwrap_or(10) as usize;
            // Top-level comments page; replies come inside their thread.
            let top: Vec<&FakeComment> = inner
                .comments
                .iter()
                .filter(|c| Some(c.post_id) == post_id && c.reply_to_comment.is_none())
                .collect();
            let items: Vec<Value> = top
                .iter()
                .skip(offset)
                .take(count)
                .map(|c| {
                    let replies: Vec<Value> = inner
                        .comments
                        .iter()
                        .filter(|r| r.reply_to_comment == Some(c.id))
                        .map(comment_json)
                        .collect();
                    let mut json = comment_json(c);
                    json["thread"] = json!({ "count": replies.len(), "items": replies });
                    json
                })
                .collect();
            let profiles = json!([{ "id": FAN_ID, "first_name": "Olena", "last_name": "Fan", "screen_name": "olena_fan" }]);
            ok(
                json!({ "count": top.len(), "current_level_count": top.len(), "items": items, "profiles": profiles, "groups": [] }),
            )
        }
        "wall.getComment" => {
            let id = int(params, "comment_id");
            let Some(comment) = inner.comments.iter().find(|c| Some(c.id) == id) else {
                return error(
                    100,
                    "One of the parameters specified was missing or invalid: comment not found",
                    params,
                );
            };
            let profiles = json!([{ "id": FAN_ID, "first_name": "Olena", "last_name": "Fan", "screen_name": "olena_fan" }]);
            ok(json!({ "items": [comment_json(comment)], "profiles": profiles, "groups": [] }))
        }
        _ => error(3, "Unknown method passed", params),
    }
}
