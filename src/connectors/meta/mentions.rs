//! Reading Instagram comments and Threads replies as mentions, page by page after a cursor,
//! and one of them again as it is now: the wire types of both and the methods the
//! connector's `mentions` and `fetch_post` call.

use reqwest::Method;
use serde::Deserialize;

use super::{COMMENT_MEDIA, Flavor, MAX_COMMENT_PAGES, MetaConnector, Page, Recent, parse_time};
use crate::connectors::paging::{numeric_cursor, oldest_first, read_before};
use crate::connectors::{Author, Connector as _, Mention, MentionPage, SendError, unsupported};

/// A comment on Instagram media, with its replies.
#[derive(Debug, Deserialize)]
struct IgComment {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    from: Option<IgFrom>,
    #[serde(default)]
    replies: Option<Page<IgComment>>,
}

#[derive(Debug, Deserialize)]
struct IgFrom {
    id: String,
}

/// The fields of a Threads reply.
const THREAD_REPLY_FIELDS: &str =
    "id,text,username,permalink,timestamp,replied_to,root_post,is_reply_owned_by_me";

/// A reply in a Threads conversation.
#[derive(Debug, Deserialize)]
struct ThreadReply {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    replied_to: Option<IdOnly>,
    #[serde(default)]
    root_post: Option<IdOnly>,
    #[serde(default)]
    is_reply_owned_by_me: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

impl ThreadReply {
    /// The reply as a mention; `post` is the post whose conversation it is in.
    fn mention(&self, post: &str) -> Mention {
        let username = self.username.clone().unwrap_or_default();
        Mention {
            id: self.id.clone(),
            // Threads names a reply's author by username only.
            author: Author {
                id: username.clone(),
                handle: format!("@{username}"),
                ..Author::default()
            },
            text: self.text.clone().unwrap_or_default(),
            created_at: self
                .timestamp
                .as_deref()
                .and_then(parse_time)
                .unwrap_or_default(),
            in_reply_to: Some(
                self.replied_to
                    .as_ref()
                    .map_or_else(|| post.to_owned(), |r| r.id.clone()),
            ),
            url: self.permalink.clone(),
            edited_at: None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Cursored<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<serde_json::Value>,
}

impl<T> Cursored<T> {
    /// The cursor of the page after this one, if the network says there is one.
    fn next_cursor(&self) -> Option<String> {
        self.paging
            .as_ref()
            .filter(|p| p.get("next").is_some())
            .and_then(|p| p["cursors"]["after"].as_str().map(str::to_owned))
    }
}

impl MetaConnector {
    /// Threads: the replies to the profile's recent posts after `cursor` (Unix seconds of the
    /// newest reply read), each post's conversation read page by page (`after` cursors).
    pub(super) async fn thread_replies(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let after = numeric_cursor(cursor, "a Threads replies cursor")?;
        let posts: Page<Recent> = self
            .graph
            .call(
                Method::GET,
                &[&self.user, "threads"],
                &[
                    ("fields", "id".into()),
                    ("limit", COMMENT_MEDIA.to_string()),
                ],
                "reading replies",
            )
            .await?;
        let mut mentions = Vec::new();
        let mut newest = after;
        for post in posts.data {
            let mut next: Option<String> = None;
            for _ in 0..MAX_COMMENT_PAGES {
                let mut params = vec![
                    ("fields", THREAD_REPLY_FIELDS.to_owned()),
                    ("reverse", "false".to_owned()),
                    ("limit", "50".to_owned()),
                ];
                if let Some(after) = &next {
                    params.push(("after", after.clone()));
                }
                let page: Cursored<ThreadReply> = self
                    .graph
                    .call(
                        Method::GET,
                        &[&post.id, "conversation"],
                        &params,
                        "reading replies",
                    )
                    .await?;
                next = page.next_cursor();
                for reply in page.data {
                    let mention = reply.mention(&post.id);
                    let at = mention.created_at.timestamp();
                    newest = Some(newest.map_or(at, |n| n.max(at)));
                    if reply.is_reply_owned_by_me == Some(true) || read_before(at, after) {
                        continue;
                    }
                    mentions.push(mention);
                }
                if next.is_none() {
                    break;
                }
            }
        }
        Ok(oldest_first(mentions, newest, after))
    }

    /// Threads: a reply read earlier, as it is now; `None` once deleted.
    pub(super) async fn thread_reply(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let read = self
            .graph
            .call::<ThreadReply>(
                Method::GET,
                &[id],
                &[("fields", THREAD_REPLY_FIELDS.into())],
                "reading a reply again",
            )
            .await;
        match read {
            Ok(reply) => {
                let root = reply.root_post.as_ref().map(|r| r.id.clone());
                Ok(Some(reply.mention(root.as_deref().unwrap_or(id))))
            }
            // The Graph API answers code 100 for an object that no longer exists.
            Err(SendError::Permanent { reason }) if reason.contains("(code 100:") => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `Connector::mentions` (its documentation is in `mod.rs`).
    pub(super) async fn read_mentions(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        if self.flavor == Flavor::Threads {
            return self.thread_replies(cursor).await;
        }
        let after = numeric_cursor(cursor, "an Instagram comments cursor")?;
        let media: Page<Recent> = self
            .graph
            .call(
                Method::GET,
                &[&self.user, "media"],
                &[
                    ("fields", "id".into()),
                    ("limit", COMMENT_MEDIA.to_string()),
                ],
                "reading comments",
            )
            .await?;
        let mut mentions = Vec::new();
        let mut newest = after;
        for item in media.data {
            let mut next: Option<String> = None;
            for _ in 0..MAX_COMMENT_PAGES {
                let mut params = vec![
                    (
                        "fields",
                        "id,text,timestamp,username,from,replies{id,text,timestamp,username,from}"
                            .to_owned(),
                    ),
                    ("limit", "50".to_owned()),
                ];
                if let Some(after) = &next {
                    params.push(("after", after.clone()));
                }
                let page: Cursored<IgComment> = self
                    .graph
                    .call(
                        Method::GET,
                        &[&item.id, "comments"],
                        &params,
                        "reading comments",
                    )
                    .await?;
                next = page.next_cursor();
                for comment in page.data {
                    let replies = comment
                        .replies
                        .as_ref()
                        .map(|r| r.data.iter().collect::<Vec<_>>())
                        .unwrap_or_default();
                    let parent = comment.id.clone();
                    for (found, in_reply_to) in std::iter::once((&comment, item.id.clone())).chain(
                        replies
                            .into_iter()
                            .map(|r| (r, format!("{}_{parent}", item.id))),
                    ) {
                        let at = found
                            .timestamp
                            .as_deref()
                            .and_then(parse_time)
                            .unwrap_or_default();
                        newest = Some(newest.map_or(at.timestamp(), |n| n.max(at.timestamp())));
                        let author = found
                            .from
                            .as_ref()
                            .map(|f| f.id.clone())
                            .unwrap_or_default();
                        if author == self.user || read_before(at.timestamp(), after) {
                            continue;
                        }
                        let handle = found.username.clone().unwrap_or_default();
                        mentions.push(Mention {
                            id: format!("{}_{}", item.id, found.id),
                            author: Author {
                                id: author,
                                handle: format!("@{handle}"),
                                ..Author::default()
                            },
                            text: found.text.clone(),
                            created_at: at,
                            in_reply_to: Some(in_reply_to),
                            url: None,
                            edited_at: None,
                        });
                    }
                }
                if next.is_none() {
                    break;
                }
            }
        }
        Ok(oldest_first(mentions, newest, after))
    }

    /// `Connector::fetch_post` (its documentation is in `mod.rs`).
    pub(super) async fn read_again(&self, id: &str) -> Result<Option<Mention>, SendError> {
        if self.flavor == Flavor::Threads {
            return self.thread_reply(id).await;
        }
        let (Flavor::Instagram, Some((media, comment))) = (self.flavor, id.split_once('_')) else {
            return Err(unsupported(self.network(), "read a post again"));
        };
        let read = self
            .graph
            .call::<IgComment>(
                Method::GET,
                &[comment],
                &[("fields", "id,text,timestamp,username,from".into())],
                "reading a comment again",
            )
            .await;
        let found = match read {
            Ok(found) => found,
            // The Graph API answers code 100 for an object that no longer exists.
            Err(SendError::Permanent { reason }) if reason.contains("(code 100:") => {
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        Ok(Some(Mention {
            id: id.to_owned(),
            author: Author {
                id: found.from.map(|f| f.id).unwrap_or_default(),
                handle: format!("@{}", found.username.unwrap_or_default()),
                ..Author::default()
            },
            text: found.text,
            created_at: found
                .timestamp
                .as_deref()
                .and_then(parse_time)
                .unwrap_or_default(),
            in_reply_to: Some(media.to_owned()),
            url: None,
            edited_at: None,
        }))
    }
}
