//! The X API v2's answers crier reads, and how its refusals become `SendError`s.
//!
//! Successes are `{"data": …, "includes": …, "meta": …}` (a read may add `errors` for the
//! ids it could not find); refusals are problem documents, `{"title": "Forbidden", "detail":
//! "…", "type": "https://api.twitter.com/2/problems/…"}`, sometimes with `errors: [{message}]`.
//! Rate limits say when they end in `x-rate-limit-reset` (epoch seconds); the 24-hour limit
//! on posts in `x-user-limit-24hour-reset`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

/// Where the README tells how to authorize crier again.
pub const HELP: &str =
    "`crier accounts connect` does it; see \"X\" under Networks in crier's README";
/// How long to wait on a 429 that names no reset.
const DEFAULT_WAIT: Duration = Duration::from_secs(15 * 60);

/// A problem document, as X sends with a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

/// One entry of `errors`: in a refusal, what was wrong; in a read, an id not found.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl Problem {
    /// The most specific words X gave.
    fn said(&self) -> String {
        let first = self
            .errors
            .first()
            .and_then(|e| e.message.clone().or(e.detail.clone()));
        first
            .or_else(|| (!self.detail.is_empty()).then(|| self.detail.clone()))
            .or_else(|| (!self.title.is_empty()).then(|| self.title.clone()))
            .unwrap_or_default()
    }
}

/// What crier was doing, for messages: "the post", "reading mentions".
pub type Action<'a> = &'a str;

/// Classifies a reply that is not a 2xx (a 401 only after the token could not be renewed).
pub fn refusal(reply: &Reply, action: Action<'_>, now: DateTime<Utc>) -> SendError {
    let problem: Problem = serde_json::from_str(&reply.body).unwrap_or_default();
    let said = problem.said();
    let code = http::status_text(reply.status);
    let with_words = |text: &str| match said.is_empty() {
        true => format!("{text} ({code})"),
        false => format!("{text} ({code}: {said})"),
    };
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    match reply.status {
        StatusCode::TOO_MANY_REQUESTS => {
            if problem.kind.ends_with("/usage-capped") || problem.title == "UsageCapExceeded" {
                return SendError::RetryAfter {
                    after: http::MAX_RETRY_AFTER,
                    reason: with_words(
                        "the X app has used up the posts its API plan allows this month; crier tries again hourly, and X resets the cap when the app's billing month turns (or upgrade the plan in the developer portal)",
                    ),
                };
            }
            if header("x-user-limit-24hour-remaining") == Some("0")
                && let Some(after) = header("x-user-limit-24hour-reset")
                    .and_then(|reset| http::parse_reset(reset, now))
            {
                return SendError::RetryAfter {
                    after,
                    reason: with_words(
                        "the account has posted as many times as X allows in 24 hours",
                    ),
                };
            }
            let after = header("x-rate-limit-reset")
                .and_then(|reset| http::parse_reset(reset, now))
                .or_else(|| http::retry_hint(&reply.headers, now))
                .unwrap_or(DEFAULT_WAIT)
                .min(http::MAX_RETRY_AFTER);
            SendError::RetryAfter {
                after,
                reason: with_words("X is rate limiting this endpoint"),
            }
        }
        StatusCode::UNAUTHORIZED => SendError::Permanent {
            reason: with_words(&format!(
                "X refused the renewed access token: authorize crier again ({HELP})"
            )),
        },
        StatusCode::FORBIDDEN => {
            let reason = if said.contains("duplicate content") {
                with_words(&format!(
                    "X refused {action}: the account posted the same text recently"
                ))
            } else if problem.kind.ends_with("/client-forbidden")
                || problem.reason.as_deref() == Some("client-not-enrolled")
            {
                with_words(&format!(
                    "the X app's API plan does not include {action}; a higher plan (Basic or above) in the developer portal does"
                ))
            } else {
                with_words(&format!("X refused {action}"))
            };
            SendError::Permanent { reason }
        }
        status if status.is_server_error() => match http::retry_hint(&reply.headers, now) {
            Some(after) if status == StatusCode::SERVICE_UNAVAILABLE => SendError::RetryAfter {
                after,
                reason: with_words("X is unavailable"),
            },
            _ => SendError::Transient {
                reason: with_words("X failed"),
            },
        },
        StatusCode::REQUEST_TIMEOUT => SendError::Transient {
            reason: with_words("X failed"),
        },
        _ => SendError::Permanent {
            reason: with_words(&format!("X refused {action}")),
        },
    }
}

/// `{"data": …}` read into `T`, or an unknown outcome for a post that X accepted.
pub fn data<T: serde::de::DeserializeOwned>(
    reply: &Reply,
    action: Action<'_>,
) -> Result<Envelope<T>, SendError> {
    serde_json::from_str(&reply.body).map_err(|_| SendError::Transient {
        reason: format!("X answered {action} with something crier cannot read"),
    })
}

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(default = "Option::default")]
    pub data: Option<T>,
    #[serde(default)]
    pub includes: Includes,
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Includes {
    #[serde(default)]
    pub users: Vec<User>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub newest_id: Option<String>,
    #[serde(default)]
    pub next_token: Option<String>,
    #[serde(default)]
    pub result_count: Option<u64>,
}

/// A post (`tweet`), with the fields crier asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct Tweet {
    pub id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub author_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub referenced_tweets: Vec<Referenced>,
    #[serde(default)]
    pub attachments: Option<Attachments>,
    #[serde(default)]
    pub public_metrics: Option<TweetMetrics>,
    #[serde(default)]
    pub edit_history_tweet_ids: Vec<String>,
}

impl Tweet {
    /// The post this one replies to.
    pub fn replied_to(&self) -> Option<&str> {
        self.referenced_tweets
            .iter()
            .find(|r| r.kind == "replied_to")
            .map(|r| r.id.as_str())
    }

    pub fn media_count(&self) -> usize {
        self.attachments.as_ref().map_or(0, |a| a.media_keys.len())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Referenced {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attachments {
    #[serde(default)]
    pub media_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TweetMetrics {
    #[serde(default)]
    pub retweet_count: u64,
    #[serde(default)]
    pub reply_count: u64,
    #[serde(default)]
    pub like_count: u64,
    #[serde(default)]
    pub quote_count: u64,
    #[serde(default)]
    pub impression_count: Option<u64>,
}

/// A person (`users/me`, `includes.users`).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub public_metrics: Option<UserMetrics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserMetrics {
    #[serde(default)]
    pub followers_count: u64,
}

/// `POST /2/tweets`'s `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub id: String,
}

/// `POST /2/media/upload`'s `data`.
#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub id: String,
}

/// X's text escapes `&`, `<` and `>` as HTML entities.
pub(super) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, headers: &[(&'static str, String)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.into(),
        }
    }

    #[test]
    fn the_rate_limit_reset_is_read_from_x_rate_limit_reset() {
        let now = Utc::now();
        let reset = (now.timestamp() + 120).to_string();
        let err = refusal(
            &reply(
                429,
                &[("x-rate-limit-reset", reset)],
                r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
            ),
            "the post",
            now,
        );
        let SendError::RetryAfter { after, .. } = err else {
            panic!("{err:?}")
        };
        assert!((119..=120).contains(&after.as_secs()), "{after:?}");
    }

    #[test]
    fn a_refusal_names_the_first_error_message() {
        let err = refusal(
            &reply(
                400,
                &[],
                r#"{"errors":[{"message":"Your media IDs are invalid."}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
            ),
            "the post",
            Utc::now(),
        );
        assert_eq!(
            err.reason(),
            "X refused the post (HTTP 400 Bad Request: Your media IDs are invalid.)"
        );
    }
}
