//! Reading comments under the community's recent posts (the mentions of a wall), and a
//! comment read again, with their authors' profiles.

use super::api::{Comment, Items, Profile, WallPost};
use super::{Target, VkConnector, already_gone, time};
use crate::connectors::{Author, Mention, MentionPage, SendError};

/// Posts read for comments and for `lookup`.
const RECENT_POSTS: u32 = 20;
/// Comments asked for per page (VK's maximum).
const COMMENTS_PAGE: u32 = 100;
/// The most pages of one post's comments read in one call.
const MAX_COMMENT_PAGES: u32 = 10;

impl VkConnector {
    /// Comments on the wall's recent posts after `cursor` (the highest comment id read; VK
    /// numbers a wall's comments in order), oldest first, the community's own left out.
    pub(super) async fn read_comments(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        let after = match cursor {
            Some(cursor) => cursor
                .trim()
                .parse::<i64>()
                .map_err(|_| SendError::Permanent {
                    reason: format!("`{cursor}` is not a VK comment cursor"),
                })?,
            None => 0,
        };
        let mut mentions = Vec::new();
        let mut highest = after;
        for post in self.recent_posts("reading comments").await? {
            if post.comments.count == 0 {
                continue;
            }
            let (comments, profiles) = self.comments(post.id).await?;
            for comment in comments {
                highest = highest.max(comment.id);
                if comment.id <= after || comment.from_id == -self.group {
                    continue;
                }
                mentions.push(self.mention(post.id, comment, &profiles));
            }
        }
        mentions.sort_by_key(|m| (m.created_at, m.id.clone()));
        Ok(MentionPage {
            mentions,
            cursor: (highest > after).then(|| highest.to_string()),
        })
    }

    /// A comment read earlier through `mentions` (`post_comment`), as it is now
    /// (`wall.getComment`); `None` once its author deleted it.
    pub(super) async fn read_comment(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let Target::Comment { post, comment } = Target::parse(id)? else {
            return Err(SendError::Permanent {
                reason: format!("`{id}` is a post; crier reads comments again, not posts"),
            });
        };
        let read = self
            .call::<Items<Comment>>(
                "wall.getComment",
                &[
                    ("owner_id", self.owner_id()),
                    ("comment_id", comment.to_string()),
                    ("extended", "1".into()),
                    ("fields", "screen_name".into()),
                ],
                "reading a comment again",
            )
            .await;
        let read = match read {
            Ok(read) => read,
            Err(err) if already_gone(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(read
            .items
            .into_iter()
            .find(|c| c.id == comment && !c.deleted)
            .map(|c| self.mention(post, c, &read.profiles)))
    }

    /// The wall's most recent posts, newest first.
    pub(super) async fn recent_posts(&self, action: &str) -> Result<Vec<WallPost>, SendError> {
        let posts: Items<WallPost> = self
            .call(
                "wall.get",
                &[
                    ("owner_id", self.owner_id()),
                    ("count", RECENT_POSTS.to_string()),
                    ("filter", "owner".into()),
                ],
                action,
            )
            .await?;
        Ok(posts.items)
    }

    /// Every comment under `post` (replies in threads included), oldest first, with the
    /// people who wrote them.
    pub(super) async fn comments(
        &self,
        post: i64,
    ) -> Result<(Vec<Comment>, Vec<Profile>), SendError> {
        let mut comments = Vec::new();
        let mut profiles = Vec::new();
        for page in 0..MAX_COMMENT_PAGES {
            let items: Items<Comment> = self
                .call(
                    "wall.getComments",
                    &[
                        ("owner_id", self.owner_id()),
                        ("post_id", post.to_string()),
                        ("count", COMMENTS_PAGE.to_string()),
                        ("offset", (page * COMMENTS_PAGE).to_string()),
                        ("sort", "asc".into()),
                        ("thread_items_count", "10".into()),
                        ("extended", "1".into()),
                        ("fields", "screen_name".into()),
                    ],
                    "reading comments",
                )
                .await?;
            let read = items.items.len() as u64;
            profiles.extend(items.profiles);
            for mut comment in items.items {
                let thread = comment.thread.take().unwrap_or_default();
                comments.push(comment);
                comments.extend(thread.items);
            }
            if read < u64::from(COMMENTS_PAGE)
                || u64::from((page + 1) * COMMENTS_PAGE) >= items.count
            {
                break;
            }
        }
        Ok((comments, profiles))
    }

    /// A comment under `post` as a mention, its author from `profiles`.
    fn mention(&self, post: i64, comment: Comment, profiles: &[Profile]) -> Mention {
        let profile = profiles.iter().find(|p| p.id == comment.from_id);
        let handle = profile
            .and_then(|p| p.screen_name.clone())
            .unwrap_or_else(|| format!("id{}", comment.from_id));
        let display_name = profile
            .map(|p| {
                format!("{} {}", p.first_name, p.last_name)
                    .trim()
                    .to_owned()
            })
            .filter(|name| !name.is_empty());
        Mention {
            id: format!("{post}_{}", comment.id),
            author: Author {
                id: comment.from_id.to_string(),
                handle,
                display_name,
                ..Author::default()
            },
            in_reply_to: Some(match comment.reply_to_comment {
                Some(parent) => format!("{post}_{parent}"),
                None => post.to_string(),
            }),
            url: Some(format!("{}?reply={}", self.post_url(post), comment.id)),
            created_at: time(comment.date),
            text: comment.text,
            edited_at: None,
        }
    }
}
