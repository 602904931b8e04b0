//! The parts of Mastodon's JSON entities crier reads (Status, Account, Notification,
//! MediaAttachment, Instance, Relationship), unknown fields ignored and ids as strings, and
//! its failures worded for a person (the class comes from `connectors::http`).

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::connectors::{SendError, http};

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    /// `user` for an account on the same server, `user@domain` for a remote one.
    pub acct: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub bot: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub in_reply_to_id: Option<String>,
    /// HTML.
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    /// When it was last edited (Mastodon 3.5+), if ever.
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
    pub account: Account,
    #[serde(default)]
    pub favourites_count: u64,
    #[serde(default)]
    pub reblogs_count: u64,
    #[serde(default)]
    pub replies_count: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Absent when the status was deleted.
    #[serde(default)]
    pub status: Option<Status>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MediaAttachment {
    pub id: String,
    /// `null` while the full-size file is still being processed.
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Relationship {
    pub id: String,
    #[serde(default)]
    pub followed_by: Option<bool>,
}

/// `GET /api/v2/instance`, only what limits a status.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Instance {
    #[serde(default)]
    pub configuration: Option<Configuration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Configuration {
    #[serde(default)]
    pub statuses: Option<StatusLimits>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusLimits {
    #[serde(default)]
    pub max_characters: Option<usize>,
    #[serde(default)]
    pub max_media_attachments: Option<usize>,
    #[serde(default)]
    pub characters_reserved_per_url: Option<usize>,
}

/// The id of the `rel="prev"` (newer) page in a `Link` header, read from its `min_id`.
pub fn link_min_id(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"prev\"")
        {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let query = target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name == "min_id" || name == "since_id").then(|| value.to_owned())
        })
    })
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: &str,
    what: &str,
) -> Result<T, SendError> {
    serde_json::from_str(body).map_err(|err| SendError::Transient {
        reason: format!("{what}: Mastodon's answer could not be read: {err}"),
    })
}

fn code(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A failure to get any answer, in Mastodon's words.
pub(super) fn transport_error(err: SendError, what: &str) -> SendError {
    let reason = format!(
        "{what}: {}",
        err.reason()
            .replacen("the network", "Mastodon", 1)
            .replacen("after the post was sent", "after the request was sent", 1)
    );
    match err {
        SendError::Permanent { .. } => SendError::Permanent { reason },
        SendError::RetryAfter { after, .. } => SendError::RetryAfter { after, reason },
        SendError::Transient { .. } => SendError::Transient { reason },
        SendError::OutcomeUnknown { .. } => SendError::OutcomeUnknown { reason },
    }
}

/// An error answer, classified by `http::classify_status`, reworded for a person.
pub(super) fn reworded(class: SendError, status: StatusCode, body: &str, what: &str) -> SendError {
    let code = code(status);
    let message = http::body_message(body);
    let with_message = |prefix: String| match &message {
        Some(message) => format!("{prefix}: {message}"),
        None => prefix,
    };
    let detailed = |code: &str| match &message {
        Some(message) => format!("{code}: {message}"),
        None => code.to_owned(),
    };
    match class {
        SendError::RetryAfter { after, .. } if status == StatusCode::TOO_MANY_REQUESTS => {
            SendError::RetryAfter {
                after,
                reason: format!("Mastodon is rate limiting the account ({code})"),
            }
        }
        SendError::RetryAfter { after, .. } => SendError::RetryAfter {
            after,
            reason: format!("Mastodon is unavailable ({code})"),
        },
        SendError::Transient { .. } => SendError::Transient {
            reason: format!("Mastodon failed ({code}) on {what}"),
        },
        SendError::OutcomeUnknown { reason } => SendError::OutcomeUnknown { reason },
        SendError::Permanent { .. } => {
            let reason = match status {
                StatusCode::UNAUTHORIZED => format!(
                    "Mastodon refused the access token ({}); check the account's `token`",
                    detailed(&code)
                ),
                StatusCode::FORBIDDEN => format!(
                    "Mastodon did not allow {what} ({}); the token may lack the `read` or \
                     `write` scope",
                    detailed(&code)
                ),
                StatusCode::UNPROCESSABLE_ENTITY => {
                    let message = message
                        .as_deref()
                        .map(|m| m.trim_start_matches("Validation failed: "))
                        .unwrap_or("the server gave no reason");
                    format!("Mastodon refused {what}: {message}")
                }
                StatusCode::NOT_FOUND => {
                    with_message(format!("Mastodon could not find {what} ({code})"))
                }
                _ => with_message(format!("Mastodon refused {what} ({code})")),
            };
            SendError::Permanent { reason }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prev_link_gives_the_min_id() {
        let link = "<https://m.example/api/v1/notifications?max_id=7>; rel=\"next\", \
                    <https://m.example/api/v1/notifications?min_id=12>; rel=\"prev\"";
        assert_eq!(link_min_id(link).as_deref(), Some("12"));
        assert_eq!(
            link_min_id("<https://m.example/x?max_id=7>; rel=\"next\""),
            None
        );
    }
}
