//! The answers of the XRPC calls crier makes, as serde reads them (only the fields it uses).

use serde_json::Value;

#[derive(serde::Deserialize)]
pub(super) struct CreatedAnswer {
    pub(super) uri: String,
}

#[derive(serde::Deserialize)]
pub(super) struct RecordAnswer {
    pub(super) uri: String,
}

#[derive(serde::Deserialize)]
pub(super) struct ResolveAnswer {
    pub(super) did: String,
}

#[derive(serde::Deserialize)]
pub(super) struct BlobAnswer {
    pub(super) blob: Value,
}

#[derive(serde::Deserialize)]
pub(super) struct PostsAnswer {
    pub(super) posts: Vec<PostView>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PostView {
    pub(super) uri: String,
    pub(super) cid: String,
    #[serde(default)]
    pub(super) record: Value,
    #[serde(default)]
    pub(super) like_count: Option<u64>,
    #[serde(default)]
    pub(super) repost_count: Option<u64>,
    #[serde(default)]
    pub(super) reply_count: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Viewer {
    #[serde(default)]
    pub(super) followed_by: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Profile {
    pub(super) did: String,
    #[serde(default)]
    pub(super) followers_count: Option<u64>,
    #[serde(default)]
    pub(super) created_at: Option<String>,
    #[serde(default)]
    pub(super) viewer: Option<Viewer>,
}

#[derive(serde::Deserialize)]
pub(super) struct ProfilesAnswer {
    pub(super) profiles: Vec<Profile>,
}

/// The author of a notification or of a post in search results (a `profileViewBasic`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AuthorView {
    pub(super) did: String,
    pub(super) handle: String,
    #[serde(default)]
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) created_at: Option<String>,
    #[serde(default)]
    pub(super) viewer: Option<Viewer>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Notification {
    pub(super) uri: String,
    pub(super) author: AuthorView,
    pub(super) reason: String,
    #[serde(default)]
    pub(super) record: Value,
    pub(super) indexed_at: String,
}

/// A `postView` of search results.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchedPost {
    pub(super) uri: String,
    pub(super) author: AuthorView,
    #[serde(default)]
    pub(super) record: Value,
    pub(super) indexed_at: String,
}

#[derive(serde::Deserialize)]
pub(super) struct SearchAnswer {
    pub(super) posts: Vec<SearchedPost>,
    #[serde(default)]
    pub(super) cursor: Option<String>,
}

#[derive(serde::Deserialize)]
pub(super) struct NotificationsAnswer {
    pub(super) notifications: Vec<Notification>,
    #[serde(default)]
    pub(super) cursor: Option<String>,
}
