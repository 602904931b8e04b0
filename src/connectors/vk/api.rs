//! The VK API's envelope and the shapes crier reads, and how its errors become `SendError`s.
//!
//! Every method answers HTTP 200 with `{"response": …}` or
//! `{"error": {"error_code": 6, "error_msg": "Too many requests per second", …}}`; the HTTP
//! status only matters when something in front of VK (a proxy) answers instead.

use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

/// "Too many requests per second": VK allows a user token 3 calls a second.
pub const TOO_MANY_REQUESTS: i64 = 6;
/// "Flood control": too many identical actions in a short time.
pub const FLOOD_CONTROL: i64 = 9;
/// "Rate limit reached": the method's daily quota for this token is used up.
pub const RATE_LIMIT_REACHED: i64 = 29;
/// "User authorization failed": the token is invalid, expired or revoked.
pub const AUTHORIZATION_FAILED: i64 = 5;
/// "Group authorization failed": a community token asked for a method it cannot call.
pub const GROUP_AUTHORIZATION: i64 = 27;
/// "Access denied", also what VK answers for a post or comment already deleted.
pub const ACCESS_DENIED: i64 = 15;
/// "Access to adding post denied": the wall's 50-posts-a-day limit, or posting is closed.
pub const POST_LIMIT: i64 = 214;
/// "One of the parameters specified was missing or invalid".
pub const INVALID_PARAMETER: i64 = 100;

/// How long to wait after error 6: the per-second window has passed by then.
const PER_SECOND_WAIT: Duration = Duration::from_secs(1);
/// How long to wait after flood control, which VK does not time.
const FLOOD_WAIT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(default = "Option::default")]
    response: Option<T>,
    #[serde(default)]
    error: Option<ApiError>,
}

/// The `error` object of a refusal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    pub error_code: i64,
    #[serde(default)]
    pub error_msg: String,
}

#[derive(Debug, Deserialize)]
struct ErrorOnly {
    error: ApiError,
}

/// What crier was doing, for messages: "the post", "reading comments".
pub type Action<'a> = &'a str;

/// The `response` of a successful call, or the classified error.
pub fn response<T: DeserializeOwned>(reply: &Reply, action: Action<'_>) -> Result<T, SendError> {
    if !reply.status.is_success() {
        return Err(match serde_json::from_str::<ErrorOnly>(&reply.body) {
            Ok(ErrorOnly { error }) => classify(&error, action),
            Err(_) => {
                let classified =
                    http::classify_status(reply.status, &reply.headers, &reply.body, Utc::now())
                        .err()
                        .unwrap_or(SendError::Transient {
                            reason: String::new(),
                        });
                let said = http::status_text(reply.status);
                let reason = match &classified {
                    SendError::RetryAfter { .. } => format!("VK is rate limiting ({said})"),
                    SendError::Transient { .. } => format!("VK failed ({said})"),
                    _ => format!("VK refused {action} ({said})"),
                };
                http::reworded(classified, reason)
            }
        });
    }
    match serde_json::from_str::<Envelope<T>>(&reply.body) {
        Ok(Envelope {
            error: Some(error), ..
        }) => Err(classify(&error, action)),
        Ok(Envelope {
            response: Some(response),
            ..
        }) => Ok(response),
        _ => Err(SendError::OutcomeUnknown {
            reason: format!("VK accepted {action} but its answer could not be read"),
        }),
    }
}

/// Classifies a VK error by its code.
pub fn classify(error: &ApiError, action: Action<'_>) -> SendError {
    let code = error.error_code;
    let said = format!("error {code}: {}", error.error_msg);
    match code {
        TOO_MANY_REQUESTS => SendError::RetryAfter {
            after: PER_SECOND_WAIT,
            reason: format!("VK is rate limiting the token ({said})"),
        },
        FLOOD_CONTROL => SendError::RetryAfter {
            after: FLOOD_WAIT,
            reason: format!("VK's flood control stopped {action} ({said})"),
        },
        RATE_LIMIT_REACHED => SendError::RetryAfter {
            after: http::MAX_RETRY_AFTER,
            reason: format!(
                "the token has used up VK's daily quota for this method ({said}); crier tries again in an hour, and VK resets the quota within a day"
            ),
        },
        AUTHORIZATION_FAILED => SendError::Permanent {
            reason: format!(
                "VK refused the token ({said}): it was revoked or has expired; get a new one with the `offline` scope and update `token` in crier.yaml"
            ),
        },
        GROUP_AUTHORIZATION => SendError::Permanent {
            reason: format!(
                "VK does not let a community token do {action} ({said}): use the token of a user who administers the community"
            ),
        },
        POST_LIMIT => SendError::Permanent {
            reason: format!(
                "VK refused {action} ({said}): a community may publish 50 posts a day, or its wall is closed"
            ),
        },
        // "Unknown error", "Internal server error", "Server is unavailable" (10, 1, 603?).
        1 | 10 => SendError::Transient {
            reason: format!("VK failed ({said})"),
        },
        _ => SendError::Permanent {
            reason: format!("VK refused {action} ({said})"),
        },
    }
}

/// `wall.post`'s and `wall.createComment`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    #[serde(default)]
    pub post_id: Option<i64>,
    #[serde(default)]
    pub comment_id: Option<i64>,
}

/// A count VK wraps in an object: `{"count": 5}`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Count {
    #[serde(default)]
    pub count: u64,
}

/// A post on the wall (`wall.get`, `wall.getById`).
#[derive(Debug, Clone, Deserialize)]
pub struct WallPost {
    pub id: i64,
    /// Unix seconds.
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<serde_json::Value>,
    #[serde(default)]
    pub likes: Count,
    #[serde(default)]
    pub reposts: Count,
    #[serde(default)]
    pub comments: Count,
    #[serde(default)]
    pub views: Count,
}

/// `{"count": N, "items": […], "profiles": […], "groups": […]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Items<T> {
    #[serde(default)]
    pub count: u64,
    pub items: Vec<T>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

/// A comment on a post (`wall.getComments`).
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: i64,
    /// Positive for a person, negative for a community.
    pub from_id: i64,
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub reply_to_comment: Option<i64>,
    #[serde(default)]
    pub thread: Option<Thread>,
    /// A comment its author deleted while replies under it remain.
    #[serde(default)]
    pub deleted: bool,
}

/// The replies under a comment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Thread {
    #[serde(default)]
    pub items: Vec<Comment>,
}

/// A person, as `extended=1` lists them.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub id: i64,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub screen_name: Option<String>,
}

/// `photos.getWallUploadServer`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadServer {
    pub upload_url: String,
}

/// What the upload server answers (not in VK's envelope).
#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    pub server: i64,
    pub photo: String,
    pub hash: String,
}

/// `photos.saveWallPhoto`.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedPhoto {
    pub id: i64,
    pub owner_id: i64,
}

/// `groups.getById` (API 5.199 wraps the list in `groups`).
#[derive(Debug, Clone, Deserialize)]
pub struct Groups {
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub members_count: Option<u64>,
    /// 1 when the token's user administers the community.
    #[serde(default)]
    pub is_admin: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    #[test]
    fn errors_come_with_http_200_and_are_classified_by_code() {
        let err = response::<Created>(
            &reply(
                200,
                r#"{"error":{"error_code":6,"error_msg":"Too many requests per second"}}"#,
            ),
            "the post",
        )
        .unwrap_err();
        assert!(matches!(err, SendError::RetryAfter { after, .. } if after == PER_SECOND_WAIT));
        let err = response::<Created>(
            &reply(200, r#"{"error":{"error_code":100,"error_msg":"One of the parameters specified was missing or invalid"}}"#),
            "the post",
        )
        .unwrap_err();
        assert_eq!(
            err.reason(),
            "VK refused the post (error 100: One of the parameters specified was missing or invalid)"
        );
    }

    #[test]
    fn a_proxy_page_is_classified_by_status_and_an_unreadable_success_is_unknown() {
        let err = response::<Created>(&reply(502, "<html>bad gateway</html>"), "the post");
        assert!(matches!(err, Err(SendError::Transient { .. })), "{err:?}");
        let err = response::<Created>(&reply(200, "{\"response\": 5}"), "the post");
        assert!(
            matches!(err, Err(SendError::OutcomeUnknown { .. })),
            "{err:?}"
        );
    }
}
