//! Posting as the account: statuses (replies and direct messages too) with their images
//! uploaded first, deleting, and `lookup`'s search of the account's recent statuses.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;

use super::api::{Account, MediaAttachment, Status, parse, reworded};
use super::media::MultipartFile;
use super::{MastodonConnector, http, lock, path_segment, text};
use crate::connectors::{Delivered, Lookup, OutgoingPost, SendError};

/// How far back `lookup` looks when this process did not send the post itself.
const LOOKUP_WINDOW: TimeDelta = TimeDelta::hours(6);
/// Allowance for the server's clock differing from ours.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(2);

#[derive(Debug, serde::Serialize)]
struct NewStatus<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<&'a str>,
}

impl MastodonConnector {
    /// Scans the account's recent statuses for one with the same text and reply target,
    /// made after the first attempt (as stored with the send, else as this process
    /// remembers it, else within the last hours).
    pub(super) async fn find_sent(
        &self,
        post: &OutgoingPost,
        first_attempt: Option<DateTime<Utc>>,
    ) -> Result<Lookup, SendError> {
        let since = first_attempt
            .or_else(|| lock(&self.first_sent).get(&post.idempotency_key).copied())
            .map_or_else(|| Utc::now() - LOOKUP_WINDOW, |at| at - CLOCK_SKEW);
        let id = self.own_account_id().await?;
        let request = self
            .get(&format!("/api/v1/accounts/{id}/statuses"))
            .query(&[("limit", "40"), ("exclude_reblogs", "true")]);
        let (statuses, _): (Vec<Status>, _) =
            self.call_json(request, "the search for the post").await?;
        let wanted = text::comparable(&post.text);
        let found = statuses.iter().find(|status| {
            status.created_at >= since
                && status.in_reply_to_id == post.reply_to
                && same_text(status, &wanted)
        });
        Ok(match found {
            Some(status) => Lookup::Found(delivered(status)),
            None => Lookup::NotFound,
        })
    }

    pub(super) async fn delete_status(&self, remote_id: &str) -> Result<(), SendError> {
        let request = self
            .client
            .delete(self.endpoint(&format!("/api/v1/statuses/{}", path_segment(remote_id))));
        let what = "deleting the post";
        let reply = self.send(request, what).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))
    }

    pub(super) async fn send_direct(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let handle = self.recipient_handle(recipient).await?;
        let first_word = message.text.split_whitespace().next().unwrap_or("");
        let text = if first_word.eq_ignore_ascii_case(&handle) {
            message.text.clone()
        } else {
            format!("{handle} {}", message.text)
        };
        self.create_status(message, &text, Some("direct"), "the direct message")
            .await
    }
}

impl MastodonConnector {
    /// Creates a status; `post.text` is sent as is.
    pub(super) async fn create_status(
        &self,
        post: &OutgoingPost,
        text: &str,
        visibility: Option<&str>,
        what: &str,
    ) -> Result<Delivered, SendError> {
        self.check_limits(text, post.media.len(), what).await?;
        let media_ids = self.upload_images(&post.media).await?;
        let body = NewStatus {
            status: text,
            in_reply_to_id: post.reply_to.as_deref(),
            media_ids,
            visibility,
        };
        lock(&self.first_sent)
            .entry(post.idempotency_key.clone())
            .or_insert_with(Utc::now);
        let request = self
            .client
            .post(self.endpoint("/api/v1/statuses"))
            .header("idempotency-key", &post.idempotency_key)
            .json(&body);
        let reply = self.send_inner(request, what).await?;
        http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
            .map_err(|class| reworded(class, reply.status, &reply.body, what))?;
        // The status exists even if its answer cannot be read.
        let status: Status = parse(&reply.body, what).map_err(|err| SendError::OutcomeUnknown {
            reason: err.reason().to_owned(),
        })?;
        Ok(delivered(&status))
    }

    /// Uploads each image and waits until Mastodon has processed it.
    async fn upload_images(&self, paths: &[std::path::PathBuf]) -> Result<Vec<String>, SendError> {
        let mut ids = Vec::with_capacity(paths.len());
        for path in paths {
            ids.push(self.upload_image(path).await?);
        }
        Ok(ids)
    }

    async fn upload_image(&self, path: &Path) -> Result<String, SendError> {
        let what = format!("the image `{}`", path.display());
        let owned = path.to_owned();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(owned))
            .await
            .map_err(|err| SendError::Transient {
                reason: format!("could not read {what}: {err}"),
            })?
            .map_err(|err| SendError::Permanent {
                reason: format!("could not read {what}: {err}"),
            })?;
        let file = MultipartFile::new(path, &bytes);
        let request = self
            .client
            .post(self.endpoint("/api/v2/media"))
            .header("content-type", file.content_type)
            .body(file.body);
        let (mut attachment, reply): (MediaAttachment, _) = self.call_json(request, &what).await?;
        if reply.status != StatusCode::ACCEPTED && attachment.url.is_some() {
            return Ok(attachment.id);
        }
        let started = tokio::time::Instant::now();
        while attachment.url.is_none() {
            if started.elapsed() >= self.media_polling.timeout {
                return Err(SendError::Transient {
                    reason: format!(
                        "Mastodon was still processing {what} after {}s",
                        self.media_polling.timeout.as_secs_f64()
                    ),
                });
            }
            tokio::time::sleep(self.media_polling.interval).await;
            let request = self.get(&format!("/api/v1/media/{}", attachment.id));
            // 206 Partial Content: still processing.
            (attachment, _) = self.call_json(request, &what).await?;
        }
        Ok(attachment.id)
    }

    /// A recipient as a handle `@user` or `@user@domain`; a numeric account id is looked up.
    async fn recipient_handle(&self, recipient: &str) -> Result<String, SendError> {
        let recipient = recipient.trim();
        if !recipient.is_empty() && recipient.chars().all(|c| c.is_ascii_digit()) {
            let (account, _): (Account, _) = self
                .call_json(
                    self.get(&format!("/api/v1/accounts/{recipient}")),
                    "the recipient's account",
                )
                .await?;
            return Ok(format!("@{}", account.acct));
        }
        let handle = recipient.trim_start_matches('@');
        let valid = !handle.is_empty()
            && handle.split('@').count() <= 2
            && handle.split('@').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_alphanumeric() || "_.-".contains(c))
            });
        if !valid {
            return Err(SendError::Permanent {
                reason: format!(
                    "`{recipient}` is not a Mastodon handle (like `@name@server.example`)"
                ),
            });
        }
        Ok(format!("@{handle}"))
    }
}

fn delivered(status: &Status) -> Delivered {
    Delivered {
        remote_id: status.id.clone(),
        url: status.url.clone().or_else(|| status.uri.clone()),
    }
}

/// Whether a status's text is `wanted` (already `comparable`); a direct message may carry
/// the recipient's mention in front.
fn same_text(status: &Status, wanted: &str) -> bool {
    let have = text::comparable(&text::html_to_text(&status.content));
    if have == wanted {
        return true;
    }
    status.visibility.as_deref() == Some("direct")
        && without_leading_mentions(&have) == without_leading_mentions(wanted)
}

fn without_leading_mentions(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, after)| after);
    }
    rest
}
