//! Posting as the channel: a video's title and description checked, the upload through a
//! kept session (see `upload.rs`), replies to comments and videos, `lookup` from the kept
//! session or among the channel's recent videos, and deleting.

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::upload::{Progress, before_upload};
use super::wire::{Created, List, SearchResult};
use super::{YoutubeConnector, video_url};
use crate::connectors::resume::Resume;
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};

const TITLE_LIMIT: usize = 100;
const DESCRIPTION_LIMIT: usize = 5000;
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

impl YoutubeConnector {
    /// Opens an upload session (or continues the one an earlier attempt kept), keeps it in
    /// `resume` before the first byte leaves, and uploads the video through it.
    pub(super) async fn post_through(
        &self,
        post: &OutgoingPost,
        resume: &dyn Resume,
    ) -> Result<Delivered, SendError> {
        if let Some(parent) = &post.reply_to {
            if post.text.trim().is_empty() {
                return Err(SendError::Permanent {
                    reason: "the reply has no text".into(),
                });
            }
            return self.reply(post, parent).await;
        }
        check(post)?;
        let video = &post.media[0];
        let size = std::fs::metadata(video)
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read the video `{}`: {err}", video.display()),
            })?
            .len();
        let kept = self.kept_session(resume).await.map_err(before_upload)?;
        let (session, from) = match kept {
            Some(session) => match self.progress(&session, size).await? {
                Progress::Done(id) => {
                    let _ = resume.keep(None).await;
                    return Ok(Delivered {
                        url: Some(video_url(&id)),
                        remote_id: id,
                    });
                }
                Progress::Partial(held) => (session, held),
                Progress::Lost => {
                    let session = self.open_session(post, video, size).await?;
                    (session, 0)
                }
            },
            None => (self.open_session(post, video, size).await?, 0),
        };
        resume
            .keep(Some(session.as_str()))
            .await
            .map_err(before_upload)?;
        let id = self.upload(&session, video, size, from.min(size)).await?;
        // The video exists whatever happens now: a session not forgotten only says so again.
        let _ = resume.keep(None).await;
        Ok(Delivered {
            url: Some(video_url(&id)),
            remote_id: id,
        })
    }

    /// The kept upload session's state, when an earlier attempt kept one; otherwise the
    /// channel's videos since the first attempt with the same title.
    pub(super) async fn find_sent(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
        resume: &dyn Resume,
    ) -> Result<Lookup, SendError> {
        if post.reply_to.is_some() {
            return Ok(Lookup::Unsupported);
        }
        if let Some(session) = self.kept_session(resume).await? {
            let size = match post.media.first().map(std::fs::metadata) {
                Some(Ok(meta)) => meta.len(),
                _ => 0,
            };
            return Ok(match self.progress(&session, size).await? {
                Progress::Done(id) => Lookup::Found(Delivered {
                    url: Some(video_url(&id)),
                    remote_id: id,
                }),
                Progress::Partial(_) | Progress::Lost => Lookup::NotFound,
            });
        }
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let (title, _) = title_and_description(&post.text);
        let found: List<SearchResult> = self
            .call(
                Method::GET,
                "search",
                &[
                    ("part", "snippet".into()),
                    ("forMine", "true".into()),
                    ("type", "video".into()),
                    ("order", "date".into()),
                    ("maxResults", "25".into()),
                ],
                None,
                "looking the video up",
            )
            .await?;
        Ok(found
            .items
            .into_iter()
            .find(|r| {
                r.snippet.title == title && r.snippet.published_at.is_none_or(|at| at >= since)
            })
            .and_then(|r| r.id.video_id)
            .map_or(Lookup::NotFound, |id| {
                Lookup::Found(Delivered {
                    url: Some(video_url(&id)),
                    remote_id: id,
                })
            }))
    }

    pub(super) async fn delete_post(&self, remote_id: &str) -> Result<(), SendError> {
        let resource = if is_video_id(remote_id) {
            "videos"
        } else {
            "comments"
        };
        match self
            .call::<Value>(
                Method::DELETE,
                resource,
                &[("id", remote_id.to_owned())],
                None,
                "the deletion",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(SendError::Permanent { reason }) if reason.contains("HTTP 404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn reply(&self, post: &OutgoingPost, parent: &str) -> Result<Delivered, SendError> {
        let (resource, body) = if is_video_id(parent) {
            (
                "commentThreads",
                json!({ "snippet": { "videoId": parent, "topLevelComment": { "snippet": { "textOriginal": post.text } } } }),
            )
        } else {
            (
                "comments",
                json!({ "snippet": { "parentId": parent, "textOriginal": post.text } }),
            )
        };
        let created: Created = self
            .call(
                Method::POST,
                resource,
                &[("part", "snippet".into())],
                Some(&body),
                "the reply",
            )
            .await?;
        Ok(Delivered {
            remote_id: created.id,
            url: None,
        })
    }
}

fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let (title, description) = title_and_description(&post.text);
    let title_len = title.chars().count();
    if title.is_empty() {
        return Err(SendError::Permanent {
            reason: "a YouTube video needs a title: the post's first line".into(),
        });
    }
    if title_len > TITLE_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the title (the post's first line) has {title_len} characters and YouTube allows {TITLE_LIMIT}"
            ),
        });
    }
    let description_len = description.chars().count();
    if description_len > DESCRIPTION_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the description has {description_len} characters and YouTube allows {DESCRIPTION_LIMIT}"
            ),
        });
    }
    if title.contains(['<', '>']) || description.contains(['<', '>']) {
        return Err(SendError::Permanent {
            reason: "YouTube refuses `<` and `>` in a title or description".into(),
        });
    }
    if post.reply_to.is_none() && post.media.len() != 1 {
        return Err(SendError::Permanent {
            reason: format!(
                "a YouTube post is one video, and this post has {} files",
                post.media.len()
            ),
        });
    }
    Ok(())
}

/// The post's first line is the title; the rest, trimmed, the description.
pub(super) fn title_and_description(text: &str) -> (String, String) {
    let text = text.trim();
    match text.split_once('\n') {
        Some((title, rest)) => (title.trim().to_owned(), rest.trim().to_owned()),
        None => (text.to_owned(), String::new()),
    }
}

/// A video id is 11 characters of `A–Z a–z 0–9 - _`; comment ids are longer.
fn is_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
