//! Reading the comments on an organization's posts as mentions, page by page after a
//! cursor, and one again as it is now; commenters named where LinkedIn allows. The wire
//! types of comments and the methods the connector's `mentions` and `fetch_post` call.

use chrono::DateTime;
use reqwest::{Method, Url};
use serde::Deserialize;

use super::{LinkedinConnector, post_url};
use crate::connectors::paging::{numeric_cursor, oldest_first, read_before};
use crate::connectors::{Author, Mention, MentionPage, SendError};

/// The recent posts whose comments are read.
const COMMENTED_POSTS: usize = 10;
/// Commenters' names kept; the cache starts over beyond this.
const MAX_NAMES: usize = 10_000;
/// Comments asked for per page.
const COMMENTS_PAGE: u64 = 50;
/// The most pages of one post's comments read in one call.
const MAX_COMMENT_PAGES: usize = 10;

/// A comment under a post (`GET /rest/socialActions/{post}/comments`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    comment_urn: Option<String>,
    #[serde(default, rename = "$URN")]
    urn: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    message: Option<CommentText>,
    #[serde(default)]
    created: Option<Stamp>,
    #[serde(default)]
    parent_comment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CommentText {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct Stamp {
    #[serde(default)]
    time: i64,
}

/// A page of a Rest.li collection with its offset paging.
#[derive(Debug, Deserialize)]
struct Paged<T> {
    #[serde(default = "Vec::new")]
    elements: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    total: Option<u64>,
}

impl LinkedinConnector {
    /// The commenter `actor` as a mention names them: the URN as the id, their name (where
    /// LinkedIn says it) as the handle.
    pub(super) async fn commenter(&self, actor: &str) -> Author {
        let name = self.name_of(actor).await;
        Author {
            id: actor.to_owned(),
            handle: name.clone().unwrap_or_else(|| actor.to_owned()),
            display_name: name,
            ..Author::default()
        }
    }

    /// The readable name of `actor`, a member's or an organization's URN; `None` where
    /// LinkedIn refuses to say (remembered) or could not answer now (asked again next time).
    pub(super) async fn name_of(&self, actor: &str) -> Option<String> {
        if let Some(known) = self
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(actor)
        {
            return known.clone();
        }
        let base = self.server.as_str().trim_end_matches('/');
        // Rest.li keys keep their `(`, `:` and `)` unencoded.
        let (url, person) = if let Some(id) = actor.strip_prefix("urn:li:person:") {
            (format!("{base}/rest/people/(id:{id})"), true)
        } else if let Some(id) = actor.strip_prefix("urn:li:organization:") {
            (format!("{base}/rest/organizations/{id}"), false)
        } else {
            return None;
        };
        let url = Url::parse(&url).ok()?;
        let name = match self
            .call_url(Method::GET, url, &[], None, "reading a commenter's name")
            .await
        {
            Ok(reply) => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Named {
                    #[serde(default)]
                    localized_first_name: Option<String>,
                    #[serde(default)]
                    localized_last_name: Option<String>,
                    #[serde(default)]
                    localized_name: Option<String>,
                }
                let named: Named = serde_json::from_str(&reply.body).ok()?;
                let name = if person {
                    [named.localized_first_name, named.localized_last_name]
                        .into_iter()
                        .flatten()
                        .filter(|part| !part.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                } else {
                    named.localized_name.unwrap_or_default()
                };
                Some(name.trim().to_owned()).filter(|name| !name.is_empty())
            }
            Err(SendError::Permanent { .. }) => None,
            Err(_) => return None,
        };
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        names.insert(actor.to_owned(), name.clone());
        name
    }

    /// `Connector::mentions` (its documentation is in `mod.rs`).
    pub(super) async fn read_comments(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        if self.author.starts_with("urn:li:person:") {
            return Err(SendError::Permanent {
                reason: format!(
                    "LinkedIn lets only approved partners read the comments on a member's posts (r_member_social); account `{}` posts as a member",
                    self.account
                ),
            });
        }
        let after = numeric_cursor(cursor, "a LinkedIn comments cursor")?;
        let mut mentions = Vec::new();
        let mut newest = after;
        for post in self.recent().await?.into_iter().take(COMMENTED_POSTS) {
            let mut start = 0u64;
            for _ in 0..MAX_COMMENT_PAGES {
                let reply = self
                    .call(
                        Method::GET,
                        &["socialActions", &post.id, "comments"],
                        &[
                            ("start", start.to_string()),
                            ("count", COMMENTS_PAGE.to_string()),
                        ],
                        None,
                        "reading comments",
                    )
                    .await?;
                let page: Paged<Comment> =
                    serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                        reason: "LinkedIn answered the comments with something crier cannot read"
                            .into(),
                    })?;
                let read = page.elements.len() as u64;
                for comment in page.elements {
                    let at = comment.created.as_ref().map_or(0, |c| c.time);
                    newest = Some(newest.map_or(at, |n| n.max(at)));
                    if comment.actor == self.author || read_before(at, after) {
                        continue;
                    }
                    let Some(id) =
                        comment
                            .comment_urn
                            .clone()
                            .or(comment.urn.clone())
                            .or_else(|| {
                                comment
                                    .id
                                    .as_ref()
                                    .map(|id| format!("urn:li:comment:({},{id})", post.id))
                            })
                    else {
                        continue;
                    };
                    mentions.push(Mention {
                        id,
                        author: self.commenter(&comment.actor).await,
                        text: comment.message.map(|m| m.text).unwrap_or_default(),
                        created_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
                        in_reply_to: Some(comment.parent_comment.unwrap_or(post.id.clone())),
                        url: Some(post_url(&post.id)),
                        edited_at: None,
                    });
                }
                start += read;
                let total = page.paging.and_then(|p| p.total).unwrap_or(0);
                if read == 0 || start >= total {
                    break;
                }
            }
        }
        Ok(oldest_first(mentions, newest, after))
    }

    /// `Connector::fetch_post` (its documentation is in `mod.rs`).
    pub(super) async fn read_comment_again(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let Some((post, number)) = id
            .strip_prefix("urn:li:comment:(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|rest| rest.rsplit_once(','))
        else {
            return Err(SendError::Permanent {
                reason: format!("`{id}` is not a LinkedIn comment"),
            });
        };
        let reply = match self
            .call(
                Method::GET,
                &["socialActions", post, "comments", number],
                &[],
                None,
                "reading a comment again",
            )
            .await
        {
            Ok(reply) => reply,
            Err(SendError::Permanent { reason }) if reason.contains("404") => return Ok(None),
            Err(err) => return Err(err),
        };
        let comment: Comment =
            serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
                reason: "LinkedIn answered the comment with something crier cannot read".into(),
            })?;
        let at = comment.created.as_ref().map_or(0, |c| c.time);
        Ok(Some(Mention {
            id: id.to_owned(),
            author: self.commenter(&comment.actor).await,
            text: comment.message.map(|m| m.text).unwrap_or_default(),
            created_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
            in_reply_to: Some(comment.parent_comment.unwrap_or(post.to_owned())),
            url: Some(post_url(post)),
            edited_at: None,
        }))
    }
}
