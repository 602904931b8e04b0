//! Reading what others post: mentions of the account, paged back to the newest id read, and
//! a post read again, with their authors.

use reqwest::Method;

use super::api::{Tweet, User, unescape};
use super::{PAGE, TWEET_FIELDS, USER_FIELDS, XConnector, post_url};
use crate::connectors::{Author, Mention, MentionPage, SendError};

/// The most pages of mentions read in one call.
const MAX_PAGES: usize = 5;

impl XConnector {
    /// Mentions after `cursor` (the newest post id read), oldest first; without a cursor, the
    /// most recent page.
    pub(super) async fn read_mentions(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        if let Some(cursor) = cursor
            && cursor.parse::<u64>().is_err()
        {
            return Err(SendError::Permanent {
                reason: format!("`{cursor}` is not an X mentions cursor"),
            });
        }
        let user = self.user_id().await?;
        let mut tweets = Vec::new();
        let mut users = Vec::new();
        let mut newest = cursor.map(str::to_owned);
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("max_results", PAGE.to_string()),
                ("tweet.fields", TWEET_FIELDS.into()),
                ("expansions", "author_id".into()),
                ("user.fields", USER_FIELDS.into()),
            ];
            if let Some(cursor) = cursor {
                query.push(("since_id", cursor.to_owned()));
            }
            if let Some(token) = &next {
                query.push(("pagination_token", token.clone()));
            }
            let (page, _) = self
                .call::<Vec<Tweet>>(
                    Method::GET,
                    &["2", "users", &user, "mentions"],
                    &query,
                    None,
                    "reading mentions",
                )
                .await?;
            if let Some(id) = page.meta.newest_id
                && newest.as_deref().is_none_or(|known| id_after(&id, known))
            {
                newest = Some(id);
            }
            tweets.extend(page.data.unwrap_or_default());
            users.extend(page.includes.users);
            next = page.meta.next_token;
            if next.is_none() || cursor.is_none() {
                break;
            }
        }
        let mut mentions: Vec<Mention> = tweets
            .into_iter()
            .filter(|t| t.author_id.as_deref() != Some(user.as_str()))
            .map(|t| Self::mention(t, &users))
            .collect();
        mentions.sort_by(|a, b| a.id.len().cmp(&b.id.len()).then_with(|| a.id.cmp(&b.id)));
        mentions.dedup_by(|a, b| a.id == b.id);
        Ok(MentionPage {
            mentions,
            cursor: newest.filter(|n| Some(n.as_str()) != cursor),
        })
    }

    /// A post read earlier as a mention, as it is now; `None` once it is deleted.
    pub(super) async fn read_post(&self, id: &str) -> Result<Option<Mention>, SendError> {
        let (read, _) = self
            .call::<Tweet>(
                Method::GET,
                &["2", "tweets", id],
                &[
                    ("tweet.fields", TWEET_FIELDS.into()),
                    ("expansions", "author_id".into()),
                    ("user.fields", USER_FIELDS.into()),
                ],
                None,
                "reading a post again",
            )
            .await?;
        Ok(read
            .data
            .map(|tweet| Self::mention(tweet, &read.includes.users)))
    }

    fn mention(tweet: Tweet, users: &[User]) -> Mention {
        let author_id = tweet.author_id.clone().unwrap_or_default();
        let user = users.iter().find(|u| u.id == author_id);
        Mention {
            author: Author {
                id: author_id.clone(),
                handle: user
                    .map(|u| format!("@{}", u.username))
                    .unwrap_or_else(|| author_id.clone()),
                display_name: user.and_then(|u| u.name.clone()),
                followers: user
                    .and_then(|u| u.public_metrics.as_ref())
                    .map(|m| m.followers_count),
                created_at: user.and_then(|u| u.created_at),
                ..Author::default()
            },
            in_reply_to: tweet.replied_to().map(str::to_owned),
            url: Some(post_url(&tweet.id)),
            created_at: tweet.created_at.unwrap_or_default(),
            text: unescape(&tweet.text),
            id: tweet.id,
            edited_at: None,
        }
    }
}

/// Whether post id `a` is newer than `b` (ids grow with time; compared as numbers).
fn id_after(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_ids_are_larger_numbers() {
        assert!(id_after("1800000000000000001", "999"));
        assert!(!id_after("100", "101"));
    }
}
