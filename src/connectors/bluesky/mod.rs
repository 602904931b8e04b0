//! The `bluesky` network: posts, replies, images, deletes, mentions, hashtag searches and
//! metrics of one Bluesky account, through the XRPC API of its PDS (its personal data server).
//!
//! ```yaml
//! accounts:
//!   brand_bluesky:
//!     network: bluesky
//!     handle: brand.bsky.social            # the account's handle (or its DID)
//!     app_password: env:BSKY_APP_PASSWORD  # an app password, never the account password
//!     service: https://bsky.social         # the PDS; this is the default
//! ```
//!
//! Create the app password in the Bluesky app (Settings → Privacy and security → App
//! passwords); it needs no access to direct messages.
//!
//! Endpoints used:
//! - `com.atproto.server.createSession`, `refreshSession`, `getSession`: signing in, keeping
//!   the session fresh, health (see [`session`]);
//! - `com.atproto.repo.createRecord` (collection `app.bsky.feed.post`), `getRecord`,
//!   `deleteRecord`, `uploadBlob`: posting, looking a post up, deleting, images;
//! - `com.atproto.identity.resolveHandle`: mentions in posts, and replies to app addresses;
//! - `app.bsky.feed.getPosts`: the post to reply to (its CID and thread root), and metrics;
//! - `app.bsky.notification.listNotifications`, `app.bsky.actor.getProfiles`: mentions and
//!   replies with their authors' facts;
//! - `app.bsky.feed.searchPosts` (`q=#tag`, `sort=latest`, `since`): posts carrying a
//!   hashtag, whoever wrote them;
//! - `app.bsky.actor.getProfile`: followers.
//!
//! Posts are refused before sending when their text is over 300 graphemes (or 3000 bytes), or
//! they have more than 4 images, or an image is over 1,000,000 bytes or not JPEG, PNG, GIF or
//! WebP. An image's alt text is read from a file beside it, named like the image plus
//! `.alt.txt` (`media/jacket.jpg.alt.txt`); without one the alt text is empty.
//!
//! Bluesky takes no idempotency key. crier derives each post's record key from its
//! idempotency key instead (see [`rkey`]), so sending a post twice cannot create two, and
//! `lookup` asks the PDS for the record under that key.
//!
//! The remote id of a post is its `at://` URI (`at://did:plc:…/app.bsky.feed.post/3k…`);
//! replies and deletes also take a post's address in the Bluesky app
//! (`https://bsky.app/profile/ann.bsky.social/post/3k…`). Metrics leave out posts that no
//! longer exist.
//!
//! Mentions are the `mention` and `reply` notifications, read newest first a page at a time
//! until the previous check; crier's cursor is the `indexedAt` time of the newest notification
//! seen (at most 1000 notifications are read in one check).
//!
//! A hashtag search asks `searchPosts` for `#tag`, newest first, `since` ten minutes before
//! the newest post of the previous check (`since` compares a post's `sortAt`, which is
//! earlier than its `indexedAt` when it was indexed late), and pages back with the search's
//! cursor to there (at most 1000 posts in one check). crier's cursor is the `indexedAt` time
//! of the newest post seen; the overlap is read again and each post is stored once. Without a
//! cursor only the most recent page is read. The account's own posts are left out.
//!
//! What it cannot do: direct messages (Bluesky chat is a separate service, reached through a
//! proxy header and only with an app password allowed to use chats), post languages (`langs`
//! is not sent), quote posts, link cards and video.

pub mod facets;
pub mod rkey;
mod session;
mod xrpc;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

use self::facets::Feature;
use self::rkey::{AtUri, POST_COLLECTION, record_key};
use self::session::{Session, Sessions};
use self::xrpc::{Call, Failure, Xrpc};
use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{
    Author, Connector, Delivered, Lookup, Mention, MentionPage, MetricsSnapshot, OutgoingPost,
    PostMetrics, SendError,
};
use crate::network::Network;

/// The PDS of accounts hosted by Bluesky itself.
pub const DEFAULT_SERVICE: &str = "https://bsky.social";
/// Bluesky's limit on a post's text, in graphemes (what people see as characters).
const MAX_GRAPHEMES: usize = Network::Bluesky
    .profile()
    .text
    .max
    .expect("Bluesky has a limit");
/// The record's limit on a post's text, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 3000;
const MAX_IMAGES: usize = Network::Bluesky
    .profile()
    .max_images
    .expect("Bluesky has a limit");
/// The largest image `app.bsky.embed.images` takes.
pub const MAX_IMAGE_BYTES: usize = 1_000_000;
/// Posts per `getPosts` and actors per `getProfiles`.
const BATCH: usize = 25;
/// Notifications per page, and the most pages read in one `mentions` call.
const NOTIFICATION_PAGE: u32 = 50;
const MAX_NOTIFICATION_PAGES: usize = 20;
/// Posts per page of a hashtag search (the most `searchPosts` gives), and the most pages
/// read in one `search_hashtag` call.
const SEARCH_PAGE: u32 = 100;
const MAX_SEARCH_PAGES: usize = 10;
/// How far before the newest post seen a hashtag search starts again: `since` filters on a
/// post's `sortAt` (the earlier of its `createdAt` and `indexedAt`), so a post indexed late
/// sorts before posts crier has already seen. The overlap is read again and deduplicated.
const SEARCH_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

pub struct BlueskyConnector {
    account: String,
    handle: String,
    xrpc: Xrpc,
    sessions: Sessions,
}

impl fmt::Debug for BlueskyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlueskyConnector")
            .field("account", &self.account)
            .field("handle", &self.handle)
            .field("service", &self.xrpc.service().as_str())
            .field("sessions", &self.sessions)
            .finish()
    }
}

/// An image read from disk, ready to upload.
struct Image {
    bytes: Vec<u8>,
    mime: &'static str,
    alt: String,
}

impl BlueskyConnector {
    /// `handle` signs in (a DID works too), `app_password` is the secret, `service` the PDS.
    pub fn new(
        account: impl Into<String>,
        handle: impl Into<String>,
        app_password: Secret,
        service: Url,
        client: reqwest::Client,
    ) -> Self {
        let handle = handle.into().trim().trim_start_matches('@').to_owned();
        BlueskyConnector {
            account: account.into(),
            sessions: Sessions::new(handle.clone(), app_password),
            handle,
            xrpc: Xrpc::new(service, client),
        }
    }

    /// The connector of a `bluesky` account: `handle`, `app_password`, optional `service`.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let config = setup.config;
        let handle = setup
            .required(Network::Bluesky, "handle", &config.handle)?
            .to_owned();
        let service = match &config.service {
            Some(service) if !service.value.trim().is_empty() => {
                setup.http_url("service", &service.value)?
            }
            _ => Url::parse(DEFAULT_SERVICE).expect("the default service is a URL"),
        };
        let app_password = setup.required_secret(Network::Bluesky, "app_password")?;
        Ok(BlueskyConnector::new(
            setup.name,
            handle,
            app_password,
            service,
            setup.client.clone(),
        ))
    }

    async fn session(&self) -> Result<Session, SendError> {
        self.sessions.current(&self.xrpc).await
    }

    /// Sends `call` signed in; after an `ExpiredToken` answer, refreshes and sends it once more.
    async fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Failure> {
        let session = self.session().await.map_err(Failure::from_error)?;
        match self.xrpc.send(call, Some(session.access.expose())).await {
            Err(failure) if failure.is_expired_token() => {
                let session = self
                    .sessions
                    .renew(&self.xrpc, &session)
                    .await
                    .map_err(Failure::from_error)?;
                self.xrpc.send(call, Some(session.access.expose())).await
            }
            answer => answer,
        }
    }

    /// The post under `rkey` in the account's repository, if there is one.
    async fn find(&self, session: &Session, rkey: &str) -> Result<Option<Delivered>, SendError> {
        let call = Call::get("com.atproto.repo.getRecord", "the post lookup")
            .param("repo", &session.did)
            .param("collection", POST_COLLECTION)
            .param("rkey", rkey);
        match self.call::<RecordAnswer>(&call).await {
            Ok(record) => {
                let uri = AtUri::parse(&record.uri).unwrap_or(AtUri::post(&session.did, rkey));
                Ok(Some(Delivered {
                    remote_id: uri.to_string(),
                    url: Some(uri.web_url(&session.handle)),
                }))
            }
            Err(failure) if failure.is_code("RecordNotFound") => Ok(None),
            Err(failure) if failure.status.is_some_and(|s| s.as_u16() == 404) => Ok(None),
            Err(failure) => Err(failure.error),
        }
    }

    /// The DID of `handle`, or `None` when it does not resolve.
    async fn resolve_handle(&self, handle: &str) -> Result<Option<String>, SendError> {
        let call = Call::get("com.atproto.identity.resolveHandle", "the handle lookup")
            .param("handle", handle);
        match self.xrpc.send::<ResolveAnswer>(&call, None).await {
            Ok(answer) => Ok(Some(answer.did)),
            // The PDS answers 400 "Unable to resolve handle"; only a rate limit is not a "no".
            Err(failure)
                if failure
                    .status
                    .is_some_and(|s| s.is_client_error() && s.as_u16() != 429) =>
            {
                Ok(None)
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// The facets of `text`, mentions resolved; unresolvable mentions are left out.
    async fn facets(&self, text: &str) -> Result<Vec<Value>, SendError> {
        let mut resolved: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut facets = Vec::new();
        for detected in facets::detect(text) {
            let feature = match detected.feature {
                Feature::Mention(handle) => {
                    let did = match resolved.get(&handle) {
                        Some(did) => did.clone(),
                        None => {
                            let did = self.resolve_handle(&handle).await?;
                            resolved.insert(handle, did.clone());
                            did
                        }
                    };
                    let Some(did) = did else { continue };
                    json!({ "$type": "app.bsky.richtext.facet#mention", "did": did })
                }
                Feature::Link(uri) => {
                    json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
                }
                Feature::Tag(tag) => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
            };
            facets.push(json!({
                "index": { "byteStart": detected.byte_start, "byteEnd": detected.byte_end },
                "features": [feature],
            }));
        }
        Ok(facets)
    }

    /// `{root, parent}` of a reply to `reply_to`.
    async fn reply_refs(&self, reply_to: &str) -> Result<Value, SendError> {
        let not_a_post = || SendError::Permanent {
            reason: format!(
                "`{reply_to}` is not a Bluesky post to reply to (expected an at:// URI or a bsky.app post address)"
            ),
        };
        let mut target = AtUri::parse(reply_to).ok_or_else(not_a_post)?;
        if target.collection != POST_COLLECTION {
            return Err(not_a_post());
        }
        if !target.repo.starts_with("did:") {
            target.repo =
                self.resolve_handle(&target.repo)
                    .await?
                    .ok_or_else(|| SendError::Permanent {
                        reason: format!(
                            "cannot reply to `{reply_to}`: Bluesky does not know the handle `{}`",
                            target.repo
                        ),
                    })?;
        }
        let call = Call::get("app.bsky.feed.getPosts", "the post to reply to")
            .param("uris", target.to_string());
        let answer: PostsAnswer = self.call(&call).await?;
        let parent = answer
            .posts
            .into_iter()
            .next()
            .ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "cannot reply to `{reply_to}`: the post does not exist (it may have been deleted)"
                ),
            })?;
        let parent_ref = json!({ "uri": parent.uri, "cid": parent.cid });
        let root = parent
            .record
            .pointer("/reply/root")
            .filter(|root| root.get("uri").is_some() && root.get("cid").is_some())
            .cloned()
            .unwrap_or_else(|| parent_ref.clone());
        Ok(json!({ "root": root, "parent": parent_ref }))
    }

    async fn upload(&self, image: Image) -> Result<Value, SendError> {
        let call = Call::upload(
            "com.atproto.repo.uploadBlob",
            "the image upload",
            image.bytes,
            image.mime,
        );
        let answer: BlobAnswer = self.call(&call).await?;
        Ok(json!({ "alt": image.alt, "image": answer.blob }))
    }

    /// Everything up to `createRecord`; nothing here can create the post.
    async fn record(&self, post: &OutgoingPost, images: Vec<Image>) -> Result<Value, SendError> {
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let facets = self.facets(&post.text).await?;
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if let Some(reply_to) = &post.reply_to {
            record["reply"] = self.reply_refs(reply_to).await?;
        }
        if !images.is_empty() {
            let mut embedded = Vec::with_capacity(images.len());
            for image in images {
                embedded.push(self.upload(image).await?);
            }
            record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": embedded });
        }
        Ok(record)
    }

    async fn create(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check_text(&post.text)?;
        let images = read_images(&post.media)?;
        let session = self.session().await.map_err(not_created)?;
        let record = self.record(post, images).await.map_err(not_created)?;
        let rkey = record_key(&post.idempotency_key);
        let call = Call::post(
            "com.atproto.repo.createRecord",
            "the post",
            json!({
                "repo": session.did,
                "collection": POST_COLLECTION,
                "rkey": rkey,
                "record": record,
            }),
        );
        match self.call::<CreatedAnswer>(&call).await {
            Ok(created) => {
                let uri = AtUri::parse(&created.uri).unwrap_or(AtUri::post(&session.did, &rkey));
                Ok(Delivered {
                    remote_id: uri.to_string(),
                    url: Some(uri.web_url(&session.handle)),
                })
            }
            Err(failure) => {
                // A record under this key may exist from an earlier try: the PDS refuses the
                // repeat (today with a 500, soon with an explicit error), and that refusal means
                // the post is out.
                let maybe_repeat = matches!(failure.error, SendError::Transient { .. })
                    || failure
                        .error
                        .reason()
                        .to_lowercase()
                        .contains("already exist");
                if maybe_repeat && let Ok(Some(existing)) = self.find(&session, &rkey).await {
                    return Ok(existing);
                }
                Err(failure.error)
            }
        }
    }

    /// The mentions and replies in pages of notifications newer than `since`, newest first,
    /// and the time of the newest notification seen.
    async fn notifications_since(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Vec<Notification>, Option<DateTime<Utc>>), SendError> {
        let mut found = Vec::new();
        let mut newest: Option<DateTime<Utc>> = None;
        let mut page_cursor: Option<String> = None;
        for page in 1..=MAX_NOTIFICATION_PAGES {
            let mut call = Call::get("app.bsky.notification.listNotifications", "the mentions")
                .param("limit", NOTIFICATION_PAGE.to_string())
                .param("reasons", "mention")
                .param("reasons", "reply");
            if let Some(cursor) = &page_cursor {
                call = call.param("cursor", cursor.clone());
            }
            let answer: NotificationsAnswer = self.call(&call).await?;
            let mut reached_since = false;
            let count = answer.notifications.len();
            for notification in answer.notifications {
                let Some(indexed_at) = parse_time(&notification.indexed_at) else {
                    continue;
                };
                if since.is_some_and(|since| indexed_at <= since) {
                    reached_since = true;
                    break;
                }
                newest = newest.max(Some(indexed_at));
                if matches!(notification.reason.as_str(), "mention" | "reply") {
                    found.push(notification);
                }
            }
            // Without a cursor, the most recent page is where crier starts.
            if reached_since || since.is_none() || count == 0 {
                break;
            }
            match answer.cursor {
                Some(next) if !next.is_empty() => page_cursor = Some(next),
                _ => break,
            }
            if page == MAX_NOTIFICATION_PAGES {
                tracing::warn!(
                    account = %self.account,
                    "more than {} Bluesky notifications since the last check; older ones are skipped",
                    MAX_NOTIFICATION_PAGES * NOTIFICATION_PAGE as usize
                );
            }
        }
        Ok((found, newest))
    }

    /// The posts carrying `#tag`, newest first, from `since` less the overlap (only the
    /// most recent page without `since`), each once, and the newest `indexedAt` among them.
    async fn search_since(
        &self,
        tag: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Vec<SearchedPost>, Option<DateTime<Utc>>), SendError> {
        let mut found: Vec<SearchedPost> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut newest: Option<DateTime<Utc>> = None;
        let mut page_cursor: Option<String> = None;
        for page in 1..=MAX_SEARCH_PAGES {
            let mut call = Call::get("app.bsky.feed.searchPosts", "the hashtag search")
                .param("q", format!("#{tag}"))
                .param("sort", "latest")
                .param("limit", SEARCH_PAGE.to_string());
            if let Some(since) = since {
                call = call.param(
                    "since",
                    (since - SEARCH_OVERLAP).to_rfc3339_opts(SecondsFormat::Millis, true),
                );
            }
            if let Some(cursor) = &page_cursor {
                call = call.param("cursor", cursor.clone());
            }
            let answer: SearchAnswer = self.call(&call).await?;
            let count = answer.posts.len();
            for post in answer.posts {
                newest = newest.max(parse_time(&post.indexed_at));
                if seen.insert(post.uri.clone()) {
                    found.push(post);
                }
            }
            // Without a cursor, the most recent page is where crier starts.
            if since.is_none() || count < SEARCH_PAGE as usize {
                break;
            }
            match answer.cursor {
                Some(next) if !next.is_empty() => page_cursor = Some(next),
                _ => break,
            }
            if page == MAX_SEARCH_PAGES {
                tracing::warn!(
                    account = %self.account,
                    "more than {} Bluesky posts with #{tag} since the last check; older ones are skipped",
                    MAX_SEARCH_PAGES * SEARCH_PAGE as usize
                );
            }
        }
        Ok((found, newest))
    }

    /// Followers, account age and follow state of `dids`, where Bluesky tells them.
    async fn profiles(&self, dids: &[String]) -> BTreeMap<String, Profile> {
        let mut profiles = BTreeMap::new();
        for chunk in dids.chunks(BATCH) {
            let mut call = Call::get("app.bsky.actor.getProfiles", "the profiles of mentioners");
            for did in chunk {
                call = call.param("actors", did.clone());
            }
            match self.call::<ProfilesAnswer>(&call).await {
                Ok(answer) => {
                    profiles.extend(answer.profiles.into_iter().map(|p| (p.did.clone(), p)))
                }
                Err(failure) => tracing::warn!(
                    account = %self.account,
                    "could not read the profiles of mentioners: {}",
                    failure.error
                ),
            }
        }
        profiles
    }
}

#[async_trait]
impl Connector for BlueskyConnector {
    fn network(&self) -> Network {
        Network::Bluesky
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.create(post).await
    }

    async fn lookup(&self, post: &OutgoingPost) -> Result<Lookup, SendError> {
        let session = self.session().await?;
        Ok(
            match self
                .find(&session, &record_key(&post.idempotency_key))
                .await?
            {
                Some(found) => Lookup::Found(found),
                None => Lookup::NotFound,
            },
        )
    }

    async fn health(&self) -> Result<(), SendError> {
        let call = Call::get("com.atproto.server.getSession", "the session check");
        self.call::<Value>(&call).await?;
        Ok(())
    }

    async fn delete(&self, remote_id: &str) -> Result<(), SendError> {
        let session = self.session().await?;
        let target = AtUri::parse(remote_id)
            .filter(|uri| uri.collection == POST_COLLECTION)
            .ok_or_else(|| SendError::Permanent {
                reason: format!("`{remote_id}` is not a Bluesky post id"),
            })?;
        let own = [
            session.did.as_str(),
            session.handle.as_str(),
            self.handle.as_str(),
        ];
        if !own.contains(&target.repo.as_str()) {
            return Err(SendError::Permanent {
                reason: format!(
                    "`{remote_id}` is not a post of `{}`; crier deletes only the account's own posts",
                    session.handle
                ),
            });
        }
        let call = Call::post(
            "com.atproto.repo.deleteRecord",
            "the delete",
            json!({ "repo": session.did, "collection": POST_COLLECTION, "rkey": target.rkey }),
        );
        self.call::<Value>(&call).await?;
        Ok(())
    }

    async fn mentions(&self, cursor: Option<&str>) -> Result<MentionPage, SendError> {
        let since = match cursor {
            Some(cursor) => match parse_time(cursor) {
                Some(at) => Some(at),
                None => {
                    tracing::warn!(account = %self.account, cursor, "unreadable mentions cursor; starting from the latest");
                    None
                }
            },
            None => None,
        };
        let (mut found, newest) = self.notifications_since(since).await?;
        found.reverse();
        let mut dids: Vec<String> = found.iter().map(|n| n.author.did.clone()).collect();
        dids.sort();
        dids.dedup();
        let profiles = if dids.is_empty() {
            BTreeMap::new()
        } else {
            self.profiles(&dids).await
        };
        let mentions = found
            .into_iter()
            .map(|n| to_mention(n, &profiles))
            .collect();
        Ok(MentionPage {
            mentions,
            cursor: newest.map(|at| at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        })
    }

    async fn search_hashtag(
        &self,
        tag: &str,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let tag = tag.trim().trim_start_matches('#');
        if tag.is_empty() {
            return Err(SendError::Permanent {
                reason: "an empty hashtag cannot be searched".into(),
            });
        }
        let since = cursor.and_then(|cursor| {
            let at = parse_time(cursor);
            if at.is_none() {
                tracing::warn!(account = %self.account, cursor, "unreadable hashtag cursor; starting from the latest");
            }
            at
        });
        let session = self.session().await?;
        let (found, newest) = self.search_since(tag, since).await?;
        let mut found: Vec<SearchedPost> = found
            .into_iter()
            .filter(|post| post.author.did != session.did)
            .collect();
        // Newest first on the wire; crier takes them oldest first.
        found.reverse();
        let mut dids: Vec<String> = found.iter().map(|p| p.author.did.clone()).collect();
        dids.sort();
        dids.dedup();
        let profiles = if dids.is_empty() {
            BTreeMap::new()
        } else {
            self.profiles(&dids).await
        };
        let mentions = found
            .into_iter()
            .map(|post| {
                mention_of(
                    post.uri,
                    post.author,
                    &post.record,
                    &post.indexed_at,
                    &profiles,
                )
            })
            .collect();
        let newest = newest.filter(|newest| since.is_none_or(|since| *newest > since));
        Ok(MentionPage {
            mentions,
            cursor: newest.map(|at| at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        })
    }

    /// `app.bsky.feed.getPosts` with the post's URI; a deleted post is missing from the answer.
    async fn fetch_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        if AtUri::parse(id).is_none_or(|uri| uri.collection != POST_COLLECTION) {
            return Err(SendError::Permanent {
                reason: format!("`{id}` is not a Bluesky post id"),
            });
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            posts: Vec<SearchedPost>,
        }
        let call = Call::get("app.bsky.feed.getPosts", "reading a post again").param("uris", id);
        let answer: Answer = self.call(&call).await?;
        let Some(post) = answer.posts.into_iter().find(|p| p.uri == id) else {
            return Ok(None);
        };
        let profiles = self.profiles(std::slice::from_ref(&post.author.did)).await;
        Ok(Some(mention_of(
            post.uri,
            post.author,
            &post.record,
            &post.indexed_at,
            &profiles,
        )))
    }

    async fn metrics(&self, posts: &[String]) -> Result<MetricsSnapshot, SendError> {
        let session = self.session().await?;
        let call = Call::get("app.bsky.actor.getProfile", "the follower count")
            .param("actor", &session.did);
        let profile: Profile = self.call(&call).await?;
        let mut uris = Vec::with_capacity(posts.len());
        for id in posts {
            let mut uri = AtUri::parse(id)
                .filter(|uri| uri.collection == POST_COLLECTION)
                .ok_or_else(|| SendError::Permanent {
                    reason: format!("`{id}` is not a Bluesky post id"),
                })?;
            if uri.repo == session.handle || uri.repo == self.handle {
                uri.repo = session.did.clone();
            }
            uris.push((id.clone(), uri.to_string()));
        }
        let mut counts = BTreeMap::new();
        for chunk in uris.chunks(BATCH) {
            let mut call = Call::get("app.bsky.feed.getPosts", "the post metrics");
            for (_, uri) in chunk {
                call = call.param("uris", uri.clone());
            }
            let answer: PostsAnswer = self.call(&call).await?;
            counts.extend(answer.posts.into_iter().map(|p| (p.uri.clone(), p)));
        }
        let posts = uris
            .into_iter()
            .filter_map(|(id, uri)| {
                counts.get(&uri).map(|post| PostMetrics {
                    remote_id: id,
                    likes: post.like_count.unwrap_or(0),
                    reposts: post.repost_count.unwrap_or(0),
                    replies: post.reply_count.unwrap_or(0),
                    views: None,
                })
            })
            .collect();
        Ok(MetricsSnapshot {
            followers: profile.followers_count,
            posts,
        })
    }
}

/// Before `createRecord` nothing can have created the post: an unknown outcome there (a
/// timeout while uploading an image) is only worth a retry.
fn not_created(error: SendError) -> SendError {
    match error {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// Refuses text Bluesky would refuse, before anything is sent.
fn check_text(text: &str) -> Result<(), SendError> {
    let graphemes = text.graphemes(true).count();
    if graphemes > MAX_GRAPHEMES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post is {graphemes} characters long; Bluesky allows {MAX_GRAPHEMES}"
            ),
        });
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post is {} bytes long; Bluesky allows {MAX_TEXT_BYTES} bytes of text",
                text.len()
            ),
        });
    }
    Ok(())
}

/// Reads the images of a post, refusing what Bluesky would refuse.
fn read_images(paths: &[PathBuf]) -> Result<Vec<Image>, SendError> {
    if paths.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images; Bluesky allows {MAX_IMAGES}",
                paths.len()
            ),
        });
    }
    paths
        .iter()
        .map(|path| {
            let shown = path.display();
            let mime = super::upload::image_type(path).ok_or_else(|| SendError::Permanent {
                reason: format!(
                    "`{shown}` is not an image Bluesky takes (JPEG, PNG, GIF or WebP)"
                ),
            })?;
            let bytes = std::fs::read(path).map_err(|err| SendError::Permanent {
                reason: format!("cannot read the image `{shown}`: {err}"),
            })?;
            if bytes.len() > MAX_IMAGE_BYTES {
                return Err(SendError::Permanent {
                    reason: format!(
                        "the image `{shown}` is {} bytes; Bluesky takes images up to {MAX_IMAGE_BYTES} bytes",
                        bytes.len()
                    ),
                });
            }
            let mut alt_path = path.clone().into_os_string();
            alt_path.push(".alt.txt");
            let alt = std::fs::read_to_string(&alt_path)
                .map(|alt| alt.trim().to_owned())
                .unwrap_or_default();
            Ok(Image { bytes, mime, alt })
        })
        .collect()
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

fn to_mention(notification: Notification, profiles: &BTreeMap<String, Profile>) -> Mention {
    mention_of(
        notification.uri,
        notification.author,
        &notification.record,
        &notification.indexed_at,
        profiles,
    )
}

/// A post (its `at://` URI, author, record and `indexedAt`) as a mention, with the facts of
/// `profiles` about its author where they are known.
fn mention_of(
    uri: String,
    author: AuthorView,
    record: &Value,
    indexed_at: &str,
    profiles: &BTreeMap<String, Profile>,
) -> Mention {
    let profile = profiles.get(&author.did);
    let text = record
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let created_at = record
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .or_else(|| parse_time(indexed_at))
        .unwrap_or_else(Utc::now);
    let in_reply_to = record
        .pointer("/reply/parent/uri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let url = AtUri::parse(&uri).map(|at| at.web_url(&author.handle));
    let followed_by =
        |viewer: &Option<Viewer>| viewer.as_ref().map(|viewer| viewer.followed_by.is_some());
    Mention {
        id: uri,
        author: Author {
            followers: profile.and_then(|p| p.followers_count),
            created_at: profile
                .and_then(|p| p.created_at.as_deref())
                .or(author.created_at.as_deref())
                .and_then(parse_time),
            follows_account: profile
                .and_then(|p| followed_by(&p.viewer))
                .or_else(|| followed_by(&author.viewer)),
            bot: None,
            display_name: author.display_name.filter(|name| !name.trim().is_empty()),
            id: author.did,
            handle: author.handle,
        },
        text,
        created_at,
        in_reply_to,
        url,
        edited_at: None,
    }
}

#[derive(serde::Deserialize)]
struct CreatedAnswer {
    uri: String,
}

#[derive(serde::Deserialize)]
struct RecordAnswer {
    uri: String,
}

#[derive(serde::Deserialize)]
struct ResolveAnswer {
    did: String,
}

#[derive(serde::Deserialize)]
struct BlobAnswer {
    blob: Value,
}

#[derive(serde::Deserialize)]
struct PostsAnswer {
    posts: Vec<PostView>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    cid: String,
    #[serde(default)]
    record: Value,
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    repost_count: Option<u64>,
    #[serde(default)]
    reply_count: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Viewer {
    #[serde(default)]
    followed_by: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    did: String,
    #[serde(default)]
    followers_count: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    viewer: Option<Viewer>,
}

#[derive(serde::Deserialize)]
struct ProfilesAnswer {
    profiles: Vec<Profile>,
}

/// The author of a notification or of a post in search results (a `profileViewBasic`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorView {
    did: String,
    handle: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    viewer: Option<Viewer>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    uri: String,
    author: AuthorView,
    reason: String,
    #[serde(default)]
    record: Value,
    indexed_at: String,
}

/// A `postView` of search results.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchedPost {
    uri: String,
    author: AuthorView,
    #[serde(default)]
    record: Value,
    indexed_at: String,
}

#[derive(serde::Deserialize)]
struct SearchAnswer {
    posts: Vec<SearchedPost>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(serde::Deserialize)]
struct NotificationsAnswer {
    notifications: Vec<Notification>,
    #[serde(default)]
    cursor: Option<String>,
}
