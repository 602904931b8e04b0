//! A fake LinkedIn REST API on `127.0.0.1:0`, as LinkedIn documents it: every `/rest` call
//! wants `Linkedin-Version` and `X-Restli-Protocol-Version: 2.0.0` and a bearer token;
//! `POST /rest/posts` answers 201 with the post's URN in `x-restli-id` and no body;
//! `POST /rest/images?action=initializeUpload` names an upload URL (`PUT /upload/<n>`) and an
//! image URN; comments under `/rest/socialActions/{urn}/comments`; `GET /rest/posts?q=author`;
//! `GET /rest/socialActions/{urn}`; `GET /rest/networkSizes/{urn}`; names through `GET
//! /rest/people/(id:{id})` (403 for a member the app may not read) and `GET
//! /rest/organizations/{id}`; `DELETE
//! /rest/posts/{urn}`; comments read page by page (`start`, `count`, `paging.total`); tokens
//! granted for an authorization code and renewed at `POST /oauth/v2/accessToken` (client id
//! and secret in the form). URNs in paths come percent-encoded. Refusals are
//! `{"message", "status", "serviceErrorCode"}`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::chat_server::{ChatServer, Conn};

pub const ORG: &str = "urn:li:organization:2414183";
pub const FOLLOWERS: u64 = 3_100;
pub const CLIENT_ID: &str = "86linkedinapp";
pub const CLIENT_SECRET: &str = "li-secret";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with no hint, as LinkedIn answers a daily limit.
    TooMany,
    /// 500; nothing done.
    ServerError,
    /// Does the request, then closes the connection without answering.
    AcceptThenDrop,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Decoded path.
    pub path: String,
    pub raw_path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakePost {
    pub urn: String,
    pub body: Value,
    pub created_at: i64,
    pub likes: u64,
    pub comments: u64,
}

struct Inner {
    /// Authorization codes handed out, with the redirect they were sent to.
    codes: Vec<(String, String)>,
    access: Vec<String>,
    refresh: String,
    faults: VecDeque<(String, Fault)>,
    requests: Vec<Received>,
    posts: Vec<FakePost>,
    comments: Vec<(String, String, Value)>,
    uploads: Vec<String>,
    images: Vec<String>,
    next: u64,
    addr: String,
    /// Members whose names the app may read (`GET /rest/people/(id:…)`), by id; any other
    /// member's lookup is refused with 403, as without the permission.
    people: BTreeMap<String, (String, String)>,
    /// Organizations' names (`GET /rest/organizations/{id}`), by id.
    organizations: BTreeMap<String, String>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeLinkedin {
    server: ChatServer,
    inner: Shared,
}

impl FakeLinkedin {
    pub fn start(access: &str, refresh: &str) -> FakeLinkedin {
        let inner = Arc::new(Mutex::new(Inner {
            codes: Vec::new(),
            access: vec![access.into()],
            refresh: refresh.into(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            posts: Vec::new(),
            comments: Vec::new(),
            uploads: Vec::new(),
            images: Vec::new(),
            next: 7_100_000_000_000_000_000,
            addr: String::new(),
            people: BTreeMap::new(),
            organizations: BTreeMap::new(),
        }));
        let state = inner.clone();
        let server = ChatServer::start("fake-linkedin", move || {
            Router::new().fallback(handle).with_state(state)
        });
        let fake = FakeLinkedin { server, inner };
        fake.lock().addr = fake.url();
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `fault` for the next request whose decoded path ends with `suffix`.
    pub fn push_fault(&self, suffix: &str, fault: Fault) {
        self.lock().faults.push_back((suffix.into(), fault));
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    pub fn calls(&self, method: &str, suffix: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    pub fn posts(&self) -> Vec<FakePost> {
        self.lock().posts.clone()
    }

    pub fn comments(&self) -> Vec<(String, String, Value)> {
        self.lock().comments.clone()
    }

    pub fn uploads(&self) -> Vec<String> {
        self.lock().uploads.clone()
    }

    /// What LinkedIn's authorization page does once the member approves: a code for
    /// `redirect`, valid once.
    pub fn authorize(&self, redirect: &str) -> String {
        let mut inner = self.lock();
        let code = format!("AQT-code-{}", inner.codes.len() + 1);
        inner.codes.push((code.clone(), redirect.into()));
        code
    }

    /// The member `urn:li:person:{id}` is named `first last` to the app.
    pub fn name_person(&self, id: &str, first: &str, last: &str) {
        self.lock()
            .people
            .insert(id.into(), (first.into(), last.into()));
    }

    /// The organization `urn:li:organization:{id}` is named `name`.
    pub fn name_organization(&self, id: &str, name: &str) {
        self.lock().organizations.insert(id.into(), name.into());
    }

    /// A comment by `actor` on the post `urn` at `time` (Unix milliseconds); its URN.
    pub fn add_comment(&self, urn: &str, actor: &str, text: &str, time: i64) -> String {
        let mut inner = self.lock();
        inner.next += 1;
        let id = format!("urn:li:comment:({urn},{})", inner.next);
        let body = json!({ "actor": actor, "object": urn, "message": { "text": text }, "created": { "time": time } });
        inner.comments.push((id.clone(), urn.to_owned(), body));
        id
    }

    pub fn remove_comment(&self, id: &str) {
        self.lock().comments.retain(|(c, _, _)| c != id);
    }

    pub fn revoke_access(&self) {
        self.lock().access.clear();
    }

    pub fn set_counts(&self, urn: &str, likes: u64, comments: u64) {
        if let Some(p) = self.lock().posts.iter_mut().find(|p| p.urn == urn) {
            p.likes = likes;
            p.comments = comments;
        }
    }
}

fn error(status: StatusCode, message: &str, code: i64) -> Response {
    (
        status,
        axum::Json(
            json!({ "message": message, "status": status.as_u16(), "serviceErrorCode": code }),
        ),
    )
        .into_response()
}

fn pairs(encoded: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn handle(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path().to_owned();
    let path = raw_path.replace("%3A", ":");
    let query = uri.query().map(pairs).unwrap_or_default();
    let header_map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (fault, answer) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.push(Received {
            method: method.to_string(),
            path: path.clone(),
            raw_path: raw_path.clone(),
            query: query.clone(),
            headers: header_map.clone(),
            body: json_body.clone(),
        });
        if path == "/oauth/v2/accessToken" {
            let form = pairs(&String::from_utf8_lossy(&body));
            // The authorization-code grant: the code, the same redirect, the app's id and secret.
            if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
                let code = form.get("code").cloned().unwrap_or_default();
                let redirect = form.get("redirect_uri").cloned().unwrap_or_default();
                let Some(index) = inner
                    .codes
                    .iter()
                    .position(|c| *c == (code.clone(), redirect.clone()))
                else {
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({ "error": "invalid_request", "error_description": "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists" })),
                    )
                        .into_response();
                };
                if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                    || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({ "error": "invalid_client", "error_description": "Client authentication failed" })),
                    )
                        .into_response();
                }
                inner.codes.remove(index);
                inner.next += 1;
                let access = format!("li-granted-{}", inner.next);
                inner.access.push(access.clone());
                return axum::Json(json!({ "access_token": access, "expires_in": 5_184_000, "refresh_token": inner.refresh, "refresh_token_expires_in": 31_536_000, "scope": "r_organization_social,rw_organization_admin,w_organization_social" })).into_response();
            }
            if form.get("grant_type").map(String::as_str) != Some("refresh_token")
                || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                || form.get("refresh_token") != Some(&inner.refresh)
            {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({ "error": "invalid_request", "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked" })),
                )
                    .into_response();
            }
            inner.next += 1;
            let access = format!("li-renewed-{}", inner.next);
            inner.access.push(access.clone());
            // LinkedIn keeps the refresh token (its own lifetime counts on).
            return axum::Json(json!({ "access_token": access, "expires_in": 5_184_000, "refresh_token": inner.refresh, "refresh_token_expires_in": 31_000_000, "scope": "w_organization_social,r_organization_social" })).into_response();
        }
        let bearer = header_map
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        if !inner.access.iter().any(|a| a == bearer) {
            return error(StatusCode::UNAUTHORIZED, "Invalid access token", 65600);
        }
        if path.starts_with("/upload/") {
            inner.uploads.push(path.clone());
            inner.images.push(format!(
                "urn:li:image:{}",
                path.trim_start_matches("/upload/")
            ));
            return StatusCode::CREATED.into_response();
        }
        if header_map.get("linkedin-version").map(String::as_str) != Some("202411")
            || header_map
                .get("x-restli-protocol-version")
                .map(String::as_str)
                != Some("2.0.0")
        {
            return error(
                StatusCode::BAD_REQUEST,
                "Linkedin-Version header is missing or not active",
                20,
            );
        }
        let fault = inner
            .faults
            .iter()
            .position(|(suffix, _)| path.ends_with(suffix.as_str()))
            .and_then(|i| inner.faults.remove(i))
            .map(|(_, f)| f);
        match fault {
            Some(Fault::TooMany) => {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                    101,
                );
            }
            Some(Fault::ServerError) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    0,
                );
            }
            _ => {}
        }
        (fault, api(&mut inner, &method, &path, &query, &json_body))
    };
    if fault == Some(Fault::AcceptThenDrop) {
        conn.drop_connection();
    }
    answer
}

fn api(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Response {
    let rest: Vec<&str> = path.trim_start_matches("/rest/").split('/').collect();
    match (method.as_str(), rest.as_slice()) {
        ("POST", ["images"]) if query.get("action").map(String::as_str) == Some("initializeUpload") => {
            inner.next += 1;
            let n = inner.next;
            axum::Json(json!({ "value": {
                "uploadUrlExpiresAt": Utc::now().timestamp_millis() + 3_600_000,
                "uploadUrl": format!("{}/upload/{n}", inner.addr),
                "image": format!("urn:li:image:{n}"),
            }}))
            .into_response()
        }
        ("POST", ["posts"]) => {
            let commentary = body["commentary"].as_str().unwrap_or("");
            if body["author"] != ORG || body["lifecycleState"] != "PUBLISHED" {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "ERROR :: /author :: is not a permitted author", 100);
            }
            if commentary.chars().count() > 3000 {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "ERROR :: /commentary :: length exceeds 3000", 100);
            }
            let mut media: Vec<&str> = Vec::new();
            if let Some(id) = body["content"]["media"]["id"].as_str() {
                media.push(id);
            }
            if let Some(list) = body["content"]["multiImage"]["images"].as_array() {
                media.extend(list.iter().filter_map(|i| i["id"].as_str()));
            }
            if media.iter().any(|m| !inner.images.iter().any(|i| i == m)) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "ERROR :: /content :: image is not uploaded", 100);
            }
            inner.next += 1;
            let urn = format!("urn:li:share:{}", inner.next);
            inner.posts.push(FakePost {
                urn: urn.clone(),
                body: body.clone(),
                created_at: Utc::now().timestamp_millis(),
                likes: 0,
                comments: 0,
            });
            let mut response = StatusCode::CREATED.into_response();
            response.headers_mut().insert("x-restli-id", urn.parse().unwrap());
            response
        }
        ("GET", ["posts"]) if query.get("q").map(String::as_str) == Some("author") => {
            let elements: Vec<Value> = inner
                .posts
                .iter()
                .rev()
                .filter(|p| Some(p.body["author"].as_str().unwrap_or("")) == query.get("author").map(String::as_str))
                .map(|p| json!({ "id": p.urn, "author": p.body["author"], "commentary": p.body["commentary"], "createdAt": p.created_at, "lifecycleState": "PUBLISHED" }))
                .collect();
            axum::Json(json!({ "elements": elements, "paging": { "start": 0, "count": 20 } })).into_response()
        }
        ("DELETE", ["posts", urn]) => {
            let before = inner.posts.len();
            inner.posts.retain(|p| p.urn != *urn);
            if before == inner.posts.len() {
                return error(StatusCode::NOT_FOUND, "Not Found", 404);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["socialActions", urn, "comments"]) => {
            if !inner.posts.iter().any(|p| p.urn == *urn) {
                return error(StatusCode::NOT_FOUND, "Not Found", 404);
            }
            inner.next += 1;
            let id = format!("urn:li:comment:({urn},{})", inner.next);
            let mut body = body.clone();
            body["created"] = json!({ "time": Utc::now().timestamp_millis() });
            inner.comments.push((id.clone(), (*urn).to_owned(), body));
            let mut response = StatusCode::CREATED.into_response();
            response.headers_mut().insert("x-restli-id", id.parse().unwrap());
            response
        }
        ("GET", ["socialActions", urn, "comments", number]) => {
            let id = format!("urn:li:comment:({urn},{number})");
            match inner.comments.iter().find(|(c, _, _)| *c == id) {
                Some((_, _, body)) => axum::Json(json!({
                    "actor": body["actor"], "commentUrn": id, "id": number, "object": urn,
                    "message": body["message"], "created": body["created"],
                }))
                .into_response(),
                None => error(StatusCode::NOT_FOUND, "Not Found", 404),
            }
        }
        // Comments newest last, in pages of `count` from `start`, with Rest.li's paging.
        ("GET", ["socialActions", urn, "comments"]) => {
            if !inner.posts.iter().any(|p| p.urn == *urn) {
                return error(StatusCode::NOT_FOUND, "Not Found", 404);
            }
            let start: usize = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
            let count: usize = query.get("count").and_then(|s| s.parse().ok()).unwrap_or(10);
            let all: Vec<&(String, String, Value)> = inner.comments.iter().filter(|(_, on, _)| on == urn).collect();
            let elements: Vec<Value> = all
                .iter()
                .skip(start)
                .take(count)
                .map(|(id, on, body)| {
                    let number = id.rsplit(',').next().unwrap_or("").trim_end_matches(')');
                    let time = body["created"]["time"].as_i64().unwrap_or(0);
                    let mut comment = json!({
                        "actor": body["actor"], "commentUrn": id, "$URN": id, "id": number,
                        "object": on, "message": body["message"],
                        "created": { "actor": body["actor"], "time": time },
                        "lastModified": { "actor": body["actor"], "time": time },
                    });
                    if let Some(parent) = body.get("parentComment") {
                        comment["parentComment"] = parent.clone();
                    }
                    comment
                })
                .collect();
            axum::Json(json!({ "elements": elements, "paging": { "start": start, "count": count, "total": all.len(), "links": [] } })).into_response()
        }
        ("GET", ["socialActions", urn]) => match inner.posts.iter().find(|p| p.urn == *urn) {
            Some(p) => axum::Json(json!({
                "likesSummary": { "totalLikes": p.likes, "likedByCurrentUser": false },
                "commentsSummary": { "aggregatedTotalComments": p.comments, "totalFirstLevelComments": p.comments },
                "target": urn,
            }))
            .into_response(),
            None => error(StatusCode::NOT_FOUND, "Not Found", 404),
        },
        ("GET", ["networkSizes", urn]) if *urn == ORG => axum::Json(json!({ "firstDegreeSize": FOLLOWERS })).into_response(),
        ("GET", ["people", key]) => {
            let id = key.strip_prefix("(id:").and_then(|k| k.strip_suffix(')'));
            match id.and_then(|id| inner.people.get(id)) {
                Some((first, last)) => axum::Json(json!({
                    "id": id, "localizedFirstName": first, "localizedLastName": last,
                    "vanityName": format!("{}-{}", first.to_lowercase(), last.to_lowercase()),
                }))
                .into_response(),
                None => error(
                    StatusCode::FORBIDDEN,
                    "Not enough permissions to access: partnerApiPeople.GET.20241101",
                    100,
                ),
            }
        }
        ("GET", ["organizations", id]) => match inner.organizations.get(*id) {
            Some(name) => axum::Json(json!({ "id": id.parse::<u64>().unwrap_or(0), "localizedName": name, "vanityName": name.to_lowercase().replace(' ', "-") })).into_response(),
            None => error(StatusCode::NOT_FOUND, "Not Found", 404),
        },
        _ => error(StatusCode::NOT_FOUND, "Not Found", 404),
    }
}
