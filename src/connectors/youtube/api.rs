//! The YouTube Data API v3's shapes crier reads, and how Google's errors become `SendError`s.
//!
//! A refusal is `{"error": {"code": 403, "message": "…", "errors": [{"domain":
//! "youtube.quota", "reason": "quotaExceeded", …}]}}`; counts come as strings (`"42"`).

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use serde::Deserialize;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

/// Where the README says how to authorize crier again, for messages.
pub const HELP: &str =
    "run `crier accounts connect ACCOUNT`, or see the README's section on YouTube";

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: GoogleError,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// How long until the daily quota resets: midnight Pacific time.
pub fn until_quota_reset(now: DateTime<Utc>) -> Duration {
    let local = now.with_timezone(&Los_Angeles);
    let tomorrow = local.date_naive().succ_opt().unwrap_or(local.date_naive());
    let midnight = Los_Angeles
        .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 0, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + chrono::TimeDelta::days(1));
    (midnight - now).to_std().unwrap_or_default()
}

/// Classifies a refused request (any status that is not a success).
pub fn refusal(reply: &Reply, action: &str, now: DateTime<Utc>) -> SendError {
    let error = serde_json::from_str::<ErrorBody>(&reply.body)
        .map(|b| b.error)
        .unwrap_or_default();
    let reason = error
        .errors
        .first()
        .map(|e| e.reason.as_str())
        .unwrap_or("");
    let said = if error.message.is_empty() {
        http::status_text(reply.status)
    } else {
        format!(
            "{}: {}",
            http::status_text(reply.status),
            plain(&error.message)
        )
    };
    match reason {
        "quotaExceeded" | "dailyLimitExceeded" => {
            let reset = until_quota_reset(now);
            SendError::RetryAfter {
                after: reset.min(http::MAX_RETRY_AFTER),
                reason: format!(
                    "the Google Cloud project's daily YouTube quota is used up (10,000 units a day unless Google granted more; an upload costs 1,600); it resets at midnight Pacific time, in {}h{:02}m, and crier tries again until then",
                    reset.as_secs() / 3600,
                    reset.as_secs() / 60 % 60
                ),
            }
        }
        "uploadLimitExceeded" => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the channel has uploaded as many videos as YouTube allows for now ({said}); crier tries again in an hour"
            ),
        },
        "rateLimitExceeded" | "userRateLimitExceeded" => SendError::RetryAfter {
            after: http::retry_hint(&reply.headers, now).unwrap_or(http::DEFAULT_RETRY_AFTER),
            reason: format!("YouTube is rate limiting {action} ({said})"),
        },
        _ => {
            let classified = http::classify_status(reply.status, &reply.headers, &reply.body, now)
                .err()
                .unwrap_or(SendError::Transient {
                    reason: String::new(),
                });
            let reason = match &classified {
                SendError::RetryAfter { .. } => format!("YouTube is rate limiting ({said})"),
                SendError::Transient { .. } => format!("YouTube failed ({said})"),
                _ if reply.status.as_u16() == 401 => {
                    format!("YouTube refused the token ({said}); authorize crier again ({HELP})")
                }
                _ => format!("YouTube refused {action} ({said})"),
            };
            http::reworded(classified, reason)
        }
    }
}

/// Google's messages carry HTML links; keep their words.
fn plain(message: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in message.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// A count YouTube sends as a string.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(u64),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::Text(text)) => text.parse().ok(),
        Some(Either::Number(n)) => Some(n),
        None => None,
    })
}

/// `{"items": […], "nextPageToken": …}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub snippet: Option<ChannelSnippet>,
    #[serde(default)]
    pub statistics: Option<ChannelStatistics>,
    #[serde(default)]
    pub content_details: Option<ChannelDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChannelSnippet {
    #[serde(default)]
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatistics {
    #[serde(default, deserialize_with = "count")]
    pub subscriber_count: Option<u64>,
    #[serde(default)]
    pub hidden_subscriber_count: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDetails {
    pub related_playlists: RelatedPlaylists,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RelatedPlaylists {
    pub uploads: String,
}

/// A video resource (`videos.insert`'s answer, `videos.list`).
#[derive(Debug, Clone, Deserialize)]
pub struct Video {
    pub id: String,
    #[serde(default)]
    pub statistics: Option<VideoStatistics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoStatistics {
    #[serde(default, deserialize_with = "count")]
    pub view_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    pub like_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    pub comment_count: Option<u64>,
}

/// An entry of the channel's uploads playlist.
#[derive(Debug, Clone, Deserialize)]
pub struct PlaylistItem {
    pub snippet: PlaylistSnippet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaylistSnippet {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub published_at: DateTime<Utc>,
    pub resource_id: ResourceId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceId {
    pub video_id: String,
}

/// A comment thread: its top-level comment and some of its replies.
#[derive(Debug, Clone, Deserialize)]
pub struct Thread {
    pub snippet: ThreadSnippet,
    #[serde(default)]
    pub replies: Option<Replies>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSnippet {
    #[serde(default)]
    pub video_id: Option<String>,
    pub top_level_comment: Comment,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Replies {
    #[serde(default)]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: String,
    pub snippet: CommentSnippet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentSnippet {
    #[serde(default)]
    pub video_id: Option<String>,
    #[serde(default)]
    pub author_display_name: String,
    #[serde(default)]
    pub author_channel_id: Option<AuthorChannel>,
    #[serde(default)]
    pub text_original: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub published_at: DateTime<Utc>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthorChannel {
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    #[test]
    fn a_used_up_quota_waits_for_midnight_pacific_at_most_an_hour_at_a_time() {
        // 07:30 UTC on a winter day is 23:30 in Los Angeles: half an hour to the reset.
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 7, 30, 0).unwrap();
        assert_eq!(until_quota_reset(now), Duration::from_secs(30 * 60));
        let reply = Reply {
            status: StatusCode::FORBIDDEN,
            headers: HeaderMap::new(),
            body: r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.","errors":[{"domain":"youtube.quota","reason":"quotaExceeded"}]}}"#.into(),
        };
        let err = refusal(&reply, "the upload", now);
        assert!(
            matches!(&err, SendError::RetryAfter { after, reason } if *after == Duration::from_secs(1800) && reason.contains("resets at midnight Pacific time, in 0h30m")),
            "{err:?}"
        );
    }
}
