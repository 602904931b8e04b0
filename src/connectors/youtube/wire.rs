//! The YouTube Data API's answers crier reads (only the fields it uses), and Google's error
//! answers classified and said in plain words.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use super::HELP;
use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

#[derive(Debug, Deserialize)]
pub(super) struct Video {
    pub(super) id: String,
    #[serde(default)]
    pub(super) statistics: Option<Statistics>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Statistics {
    #[serde(default)]
    pub(super) view_count: Option<String>,
    #[serde(default)]
    pub(super) like_count: Option<String>,
    #[serde(default)]
    pub(super) comment_count: Option<String>,
    #[serde(default)]
    pub(super) subscriber_count: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct List<T> {
    #[serde(default = "Vec::new")]
    pub(super) items: Vec<T>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Channel {
    pub(super) id: String,
    #[serde(default)]
    pub(super) statistics: Option<Statistics>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Thread {
    pub(super) id: String,
    pub(super) snippet: ThreadSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ThreadSnippet {
    #[serde(default)]
    pub(super) video_id: Option<String>,
    pub(super) top_level_comment: TopLevel,
}

#[derive(Debug, Deserialize)]
pub(super) struct TopLevel {
    pub(super) snippet: CommentSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CommentSnippet {
    #[serde(default)]
    pub(super) author_display_name: String,
    #[serde(default)]
    pub(super) author_channel_id: Option<ChannelRef>,
    #[serde(default)]
    pub(super) text_original: String,
    #[serde(default)]
    pub(super) published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChannelRef {
    pub(super) value: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct SearchResult {
    pub(super) id: SearchId,
    pub(super) snippet: SearchSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchId {
    #[serde(default)]
    pub(super) video_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchSnippet {
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Created {
    pub(super) id: String,
}

/// Classifies a Google API error: `{"error": {"code", "message", "errors": [{"reason",
/// "domain"}]}}`.
pub(super) fn refusal(reply: &Reply, action: &str, now: DateTime<Utc>) -> SendError {
    #[derive(Deserialize, Default)]
    struct Envelope {
        #[serde(default)]
        error: Inner,
    }
    #[derive(Deserialize, Default)]
    struct Inner {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(Deserialize, Default)]
    struct Item {
        #[serde(default)]
        reason: String,
    }
    let envelope: Envelope = serde_json::from_str(&reply.body).unwrap_or_default();
    let reason = envelope
        .error
        .errors
        .first()
        .map(|e| e.reason.clone())
        .unwrap_or_default();
    let code = http::status_text(reply.status);
    let said = if envelope.error.message.is_empty() {
        code.clone()
    } else {
        format!("{code}: {}", envelope.error.message)
    };
    match reason.as_str() {
        "quotaExceeded" | "dailyLimitExceeded" => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the Google Cloud project has used up its YouTube API quota for today (an upload costs 1,600 of the usual 10,000 units; {said}); it resets at midnight Pacific time, and crier tries again hourly until then"
            ),
        },
        "uploadLimitExceeded" => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the channel has uploaded as many videos as YouTube allows for now ({said}); crier tries again hourly"
            ),
        },
        "rateLimitExceeded" | "userRateLimitExceeded" => SendError::RetryAfter {
            after: http::retry_hint(&reply.headers, now).unwrap_or(Duration::from_secs(60)),
            reason: format!("YouTube is rate limiting ({said})"),
        },
        _ => match reply.status {
            StatusCode::UNAUTHORIZED => SendError::Permanent {
                reason: format!(
                    "YouTube refused the access token ({said}): authorize crier again ({HELP})"
                ),
            },
            StatusCode::TOO_MANY_REQUESTS => SendError::RetryAfter {
                after: http::retry_hint(&reply.headers, now).unwrap_or(Duration::from_secs(60)),
                reason: format!("YouTube is rate limiting ({said})"),
            },
            status if status.is_server_error() => SendError::Transient {
                reason: format!("YouTube failed ({said})"),
            },
            _ => SendError::Permanent {
                reason: format!("YouTube refused {action} ({said})"),
            },
        },
    }
}
