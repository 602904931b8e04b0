//! Reading comments on the channel's videos (`commentThreads.list`), newest first back to
//! the cursor, which keeps the newest time read and the comments read at that second.

use chrono::{DateTime, Utc};
use reqwest::Method;

use super::wire::{List, Thread};
use super::{YoutubeConnector, video_url};
use crate::connectors::{Author, Mention, MentionPage, SendError};

const COMMENTS_PAGE: u32 = 100;
const MAX_PAGES: usize = 10;

impl YoutubeConnector {
    /// Comments on the channel's videos after `cursor` (the newest comment time read, RFC
    /// 3339), oldest first; the channel's own left out.
    pub(super) async fn read_comments(
        &self,
        cursor: Option<&str>,
    ) -> Result<MentionPage, SendError> {
        // YouTube gives times in whole seconds: the cursor keeps, besides the newest time
        // read, the comments read at that second (`2026-12-04T10:00:00Z Ugx1 Ugx2`), so one
        // written later in the same second is not lost.
        let (after, seen_then) = match cursor {
            Some(cursor) => {
                let mut parts = cursor.split_whitespace();
                let time = parts
                    .next()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .ok_or_else(|| SendError::Permanent {
                        reason: format!("`{cursor}` is not a YouTube comments cursor"),
                    })?
                    .with_timezone(&Utc);
                (Some(time), parts.map(str::to_owned).collect::<Vec<_>>())
            }
            None => (None, Vec::new()),
        };
        let channel = self.channel().await?.id;
        let mut mentions = Vec::new();
        let mut newest: Option<(DateTime<Utc>, Vec<String>)> =
            after.map(|t| (t, seen_then.clone()));
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("part", "snippet".to_owned()),
                ("allThreadsRelatedToChannelId", channel.clone()),
                ("maxResults", COMMENTS_PAGE.to_string()),
                ("order", "time".into()),
                ("textFormat", "plainText".into()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let page: List<Thread> = self
                .call(
                    Method::GET,
                    "commentThreads",
                    &query,
                    None,
                    "reading comments",
                )
                .await?;
            let mut older = false;
            for thread in page.items {
                let snippet = thread.snippet.top_level_comment.snippet;
                let at = snippet.published_at.unwrap_or_default();
                if after.is_some_and(|after| {
                    at < after || (at == after && seen_then.contains(&thread.id))
                }) {
                    older = true;
                    continue;
                }
                match &mut newest {
                    Some((time, ids)) if *time == at => ids.push(thread.id.clone()),
                    Some((time, _)) if *time > at => {}
                    _ => newest = Some((at, vec![thread.id.clone()])),
                }
                let author = snippet
                    .author_channel_id
                    .map(|c| c.value)
                    .unwrap_or_default();
                if author == channel {
                    continue;
                }
                mentions.push(Mention {
                    author: Author {
                        id: author,
                        handle: snippet.author_display_name.clone(),
                        display_name: Some(snippet.author_display_name),
                        ..Author::default()
                    },
                    in_reply_to: thread.snippet.video_id.clone(),
                    url: thread
                        .snippet
                        .video_id
                        .as_ref()
                        .map(|v| format!("{}&lc={}", video_url(v), thread.id)),
                    created_at: at,
                    text: snippet.text_original,
                    id: thread.id,
                    edited_at: None,
                });
            }
            page_token = page.next_page_token;
            // Newest first: a page reaching back past the cursor is the last one needed.
            if page_token.is_none() || older || after.is_none() {
                break;
            }
        }
        mentions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(MentionPage {
            mentions,
            cursor: newest
                .filter(|(time, ids)| Some(*time) != after || *ids != seen_then)
                .map(|(time, ids)| {
                    let mut cursor = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                    for id in ids {
                        cursor.push(' ');
                        cursor.push_str(&id);
                    }
                    cursor
                }),
        })
    }
}
