//! Reading what others post: mentions and replies from the notifications, posts carrying a
//! hashtag from `searchPosts`, a post read again, with their authors' profiles; the cursor is
//! the `indexedAt` time of the newest seen.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::rkey::{AtUri, POST_COLLECTION};
use super::wire::{
    AuthorView, Notification, NotificationsAnswer, Profile, ProfilesAnswer, SearchAnswer,
    SearchedPost, Viewer,
};
use super::xrpc::Call;
use super::{BATCH, BlueskyConnector};
use crate::connectors::{Author, Mention, MentionPage, SendError};

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

impl BlueskyConnector {
    pub(super) async fn read_mentions(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
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

    pub(super) async fn read_hashtag(
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
    pub(super) async fn read_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
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

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}
