//! Posting as the account: the text and images checked against X's limits, images uploaded
//! first, `POST /2/tweets`, `lookup` among the account's posts since the first attempt by
//! text, images and parent, and deleting.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::json;

use super::api::{self, Created, Envelope, Tweet, Uploaded, unescape};
use super::{PAGE, TWEET_FIELDS, XConnector, endpoint, post_url};
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

/// The longest post, in X's weighted count.
const TEXT_LIMIT: usize = Network::X.profile().text.max.expect("X has a limit");
/// The most images on one post.
const MAX_IMAGES: usize = Network::X.profile().max_images.expect("X has a limit");
/// How far back `lookup` looks when the first attempt's time is not known.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// How much earlier than the first attempt `lookup` starts, for clocks that differ.
const CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

impl XConnector {
    pub(super) async fn create_post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        check(post)?;
        let mut media_ids = Vec::new();
        for image in &post.media {
            media_ids.push(self.upload(image).await?);
        }
        let mut body = json!({ "text": post.text });
        if !media_ids.is_empty() {
            body["media"] = json!({ "media_ids": media_ids });
        }
        if let Some(parent) = &post.reply_to {
            body["reply"] = json!({ "in_reply_to_tweet_id": parent });
        }
        let action = if post.reply_to.is_some() {
            "the reply"
        } else {
            "the post"
        };
        let (created, _) = self
            .call::<Created>(Method::POST, &["2", "tweets"], &[], Some(&body), action)
            .await
            .map_err(|err| match err {
                SendError::Transient { reason } if reason.contains("cannot read") => {
                    SendError::OutcomeUnknown { reason }
                }
                other => other,
            })?;
        let created = created.data.ok_or_else(|| SendError::OutcomeUnknown {
            reason: format!("X accepted {action} but named no post id"),
        })?;
        Ok(Delivered {
            url: Some(post_url(&created.id)),
            remote_id: created.id,
        })
    }

    /// The account's posts since the first attempt: one with the same text, images and
    /// parent is the post.
    pub(super) async fn find_sent(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = match first_attempt {
            Some(at) => at - CLOCK_SLACK,
            None => Utc::now() - LOOKUP_WINDOW,
        };
        let found = self
            .own_posts_since(since)
            .await?
            .into_iter()
            .find(|tweet| same_post(tweet, post));
        Ok(match found {
            Some(tweet) => Lookup::Found(Delivered {
                url: Some(post_url(&tweet.id)),
                remote_id: tweet.id,
            }),
            None => Lookup::NotFound,
        })
    }

    pub(super) async fn delete_post(&self, remote_id: &str) -> Result<(), SendError> {
        let result = self
            .call::<serde_json::Value>(
                Method::DELETE,
                &["2", "tweets", remote_id],
                &[],
                None,
                "the deletion",
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already gone.
            Err(SendError::Permanent { reason }) if reason.contains("HTTP 404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Uploads one image; its media id.
    async fn upload(&self, path: &Path) -> Result<String, SendError> {
        let url = endpoint(&self.server, &["2", "media", "upload"]);
        // The form is rebuilt for a resend after a renewed token, so the file is read once.
        let owned = path.to_owned();
        let unreadable = |err: String| SendError::Permanent {
            reason: format!("could not read the image `{}`: {err}", path.display()),
        };
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| unreadable(err.to_string()))?
            .map_err(|err| unreadable(err.to_string()))?;
        let reply = self
            .send(|token| {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "image".into()),
                    )
                    .mime_str(
                        crate::connectors::upload::image_type(path)
                            .unwrap_or("application/octet-stream"),
                    )
                    .expect("a valid MIME type");
                let form = Form::new()
                    .text("media_category", "tweet_image")
                    .part("media", part);
                self.client
                    .post(url.clone())
                    .bearer_auth(token)
                    .multipart(form)
            })
            .await
            .map_err(before_post)?;
        if !reply.status.is_success() {
            return Err(api::refusal(&reply, "the image", Utc::now()));
        }
        let uploaded: Envelope<Uploaded> = api::data(&reply, "the image upload")?;
        uploaded
            .data
            .map(|u| u.id)
            .ok_or_else(|| SendError::Transient {
                reason: format!("X named no media id for `{}`", path.display()),
            })
    }

    /// The account's posts created from `since` on, newest first.
    async fn own_posts_since(&self, since: DateTime<Utc>) -> Result<Vec<Tweet>, SendError> {
        let user = self.user_id().await?;
        let (page, _) = self
            .call::<Vec<Tweet>>(
                Method::GET,
                &["2", "users", &user, "tweets"],
                &[
                    ("max_results", PAGE.to_string()),
                    (
                        "start_time",
                        since.to_rfc3339_opts(SecondsFormat::Secs, true),
                    ),
                    ("tweet.fields", TWEET_FIELDS.into()),
                ],
                None,
                "looking the post up",
            )
            .await?;
        Ok(page.data.unwrap_or_default())
    }
}

/// A failure before `POST /2/tweets` was sent cannot have published anything.
fn before_post(err: SendError) -> SendError {
    match err {
        SendError::OutcomeUnknown { reason } => SendError::Transient { reason },
        other => other,
    }
}

/// Refuses what X would refuse, before anything is sent.
fn check(post: &OutgoingPost) -> Result<(), SendError> {
    let weight = Network::X.count(&post.text);
    if weight > TEXT_LIMIT {
        return Err(SendError::Permanent {
            reason: format!(
                "the text weighs {weight} as X counts it (links 23, emoji and CJK 2) and X allows {TEXT_LIMIT}"
            ),
        });
    }
    if post.media.len() > MAX_IMAGES {
        return Err(SendError::Permanent {
            reason: format!(
                "the post has {} images and X takes at most {MAX_IMAGES} in one post",
                post.media.len()
            ),
        });
    }
    if post.text.trim().is_empty() && post.media.is_empty() {
        return Err(SendError::Permanent {
            reason: "the post has no text and no image".into(),
        });
    }
    Ok(())
}

/// A text as X shows it, made comparable with what crier sent: entities undone, whitespace
/// collapsed, every link one token (X shows them as `t.co` links), and for a reply the
/// `@handles` X puts in front dropped.
fn comparable(text: &str, media: usize, reply: bool) -> Vec<String> {
    let text = unescape(text);
    let mut words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            if word.starts_with("http://") || word.starts_with("https://") {
                "<link>".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    if reply {
        let leading = words.iter().take_while(|w| w.starts_with('@')).count();
        words.drain(..leading);
    }
    // X ends the text of a post with images with a link to them.
    if media > 0 && words.last().is_some_and(|w| w == "<link>") {
        words.pop();
    }
    words
}

fn same_post(tweet: &Tweet, post: &OutgoingPost) -> bool {
    let reply = post.reply_to.is_some();
    tweet.replied_to() == post.reply_to.as_deref()
        && tweet.media_count() == post.media.len()
        && comparable(&tweet.text, tweet.media_count(), reply) == comparable(&post.text, 0, reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_compare_with_links_as_links_and_reply_handles_dropped() {
        assert_eq!(
            comparable("@fan Thanks https://t.co/abc &amp; more", 0, true),
            comparable("Thanks https://shop.example/x?y=1 & more", 0, true)
        );
        assert_eq!(
            comparable("New look https://t.co/pic", 1, false),
            comparable("New look", 0, false)
        );
    }
}
