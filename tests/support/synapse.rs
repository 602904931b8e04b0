//! A real Synapse for the Matrix tests, started by `scripts/synapse.sh start`, which prints
//! `CRIER_TEST_SYNAPSE_URL` and `CRIER_TEST_SYNAPSE_SECRET`. Users are registered with the
//! shared-secret admin API (`/_synapse/admin/v1/register`), each with a fresh name so runs
//! against a kept server never collide.
//!
//! When the variables are not set, [`Synapse::from_env`] says loudly which test is skipped
//! and returns `None`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha1::Sha1;

pub const URL_VAR: &str = "CRIER_TEST_SYNAPSE_URL";
pub const SECRET_VAR: &str = "CRIER_TEST_SYNAPSE_SECRET";

/// The homeserver and its registration secret.
#[derive(Debug, Clone)]
pub struct Synapse {
    pub url: String,
    secret: String,
    client: reqwest::Client,
}

/// A registered user and its access token.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub access_token: String,
    url: String,
    client: reqwest::Client,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A name no earlier run used: the clock, the process and a counter.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!(
        "{prefix}{now}p{}n{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

impl Synapse {
    /// The server from the environment, or `None` after saying on stderr that `test` is
    /// skipped and how to run it.
    pub fn from_env(test: &str) -> Option<Synapse> {
        match (std::env::var(URL_VAR), std::env::var(SECRET_VAR)) {
            (Ok(url), Ok(secret)) if !url.is_empty() && !secret.is_empty() => Some(Synapse {
                url: url.trim_end_matches('/').to_owned(),
                secret,
                client: client(),
            }),
            _ => {
                let message = format!(
                    "\n!!! SKIPPED {test}: {URL_VAR} and {SECRET_VAR} are not set, so there is no \
                     Synapse to test against.\n!!! Run `eval \"$(scripts/synapse.sh start)\"` \
                     first (CI does).\n"
                );
                // Straight to the process's stderr: the test harness would swallow `eprintln!`
                // of a passing test.
                let _ = std::io::stderr().write_all(message.as_bytes());
                None
            }
        }
    }

    /// Registers a new user named `<prefix><unique>` and logs it in.
    pub async fn register(&self, prefix: &str) -> User {
        let username = unique(prefix);
        let password = "crier-test-password";
        let url = format!("{}/_synapse/admin/v1/register", self.url);
        let nonce: Value = self
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let nonce = nonce["nonce"].as_str().expect("a registration nonce");
        let mac = registration_mac(&self.secret, nonce, &username, password, false);
        let response = self
            .client
            .post(&url)
            .json(&json!({
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": false,
                "mac": mac,
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "registering {username}: {answer}");
        User {
            user_id: answer["user_id"].as_str().unwrap().to_owned(),
            access_token: answer["access_token"].as_str().unwrap().to_owned(),
            url: self.url.clone(),
            client: self.client.clone(),
        }
    }
}

/// The shared-secret registration MAC: HMAC-SHA1 of `nonce\0user\0password\0admin|notadmin`.
pub fn registration_mac(
    secret: &str,
    nonce: &str,
    username: &str,
    password: &str,
    admin: bool,
) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    for (n, part) in [
        nonce,
        username,
        password,
        if admin { "admin" } else { "notadmin" },
    ]
    .iter()
    .enumerate()
    {
        if n > 0 {
            mac.update(b"\0");
        }
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

fn escape(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~!$:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl User {
    /// Calls the client API (`path` after `/_matrix/client/v3`, segments already escaped)
    /// and returns the status and JSON answer.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/_matrix/client/v3{path}", self.url))
            .bearer_auth(&self.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{} {path}: {status} {answer}",
            self.user_id
        );
        answer
    }

    /// Creates a room (`createRoom` body) and returns its id.
    pub async fn create_room(&self, body: Value) -> String {
        let answer = self.ok(Method::POST, "/createRoom", Some(body)).await;
        answer["room_id"].as_str().unwrap().to_owned()
    }

    /// A public room with an alias `#<alias_name>:localhost`; returns its id.
    pub async fn create_public_room(&self, alias_name: &str) -> String {
        self.create_room(json!({ "preset": "public_chat", "room_alias_name": alias_name }))
            .await
    }

    pub async fn join(&self, room: &str) {
        self.ok(
            Method::POST,
            &format!("/join/{}", escape(room)),
            Some(json!({})),
        )
        .await;
    }

    pub async fn set_display_name(&self, name: &str) {
        self.ok(
            Method::PUT,
            &format!("/profile/{}/displayname", escape(&self.user_id)),
            Some(json!({ "displayname": name })),
        )
        .await;
    }

    /// Sends an event of `event_type` and returns its id.
    pub async fn send(&self, room: &str, event_type: &str, content: Value) -> String {
        let txn = unique("t");
        let answer = self
            .ok(
                Method::PUT,
                &format!("/rooms/{}/send/{event_type}/{txn}", escape(room)),
                Some(content),
            )
            .await;
        answer["event_id"].as_str().unwrap().to_owned()
    }

    /// Redacts (deletes) one of this user's events.
    pub async fn redact(&self, room: &str, event_id: &str) {
        let txn = unique("redact");
        self.ok(
            Method::PUT,
            &format!("/rooms/{}/redact/{}/{txn}", escape(room), escape(event_id)),
            Some(json!({})),
        )
        .await;
    }

    pub async fn say(&self, room: &str, body: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": body }),
        )
        .await
    }

    pub async fn reply(&self, room: &str, to: &str, body: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": body,
                    "m.relates_to": { "m.in_reply_to": { "event_id": to } } }),
        )
        .await
    }

    pub async fn react(&self, room: &str, to: &str, key: &str) -> String {
        self.send(
            room,
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": to, "key": key } }),
        )
        .await
    }

    /// One event of `room`, as the user sees it.
    pub async fn event(&self, room: &str, event_id: &str) -> Value {
        self.ok(
            Method::GET,
            &format!("/rooms/{}/event/{}", escape(room), escape(event_id)),
            None,
        )
        .await
    }

    /// The room's latest `limit` events, newest first.
    pub async fn latest(&self, room: &str, limit: u32) -> Vec<Value> {
        let answer = self
            .ok(
                Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit={limit}", escape(room)),
                None,
            )
            .await;
        answer["chunk"].as_array().cloned().unwrap_or_default()
    }

    /// Rooms the user is invited to, from one sync.
    pub async fn invites(&self) -> Vec<String> {
        let answer = self.ok(Method::GET, "/sync?timeout=0", None).await;
        answer["rooms"]["invite"]
            .as_object()
            .map(|rooms| rooms.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The user's account data of `event_type`, if any.
    pub async fn account_data(&self, event_type: &str) -> Option<Value> {
        let (status, answer) = self
            .call(
                Method::GET,
                &format!("/user/{}/account_data/{event_type}", escape(&self.user_id)),
                None,
            )
            .await;
        (status == 200).then_some(answer)
    }
}
