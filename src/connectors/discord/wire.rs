//! Discord's answers as crier reads them (the message it returns, its error bodies), what
//! crier was doing, and a refusal classified and said in plain words.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::Value;

use crate::connectors::SendError;
use crate::connectors::http::{self, Reply};

/// Discord's error code for a webhook that no longer exists.
const UNKNOWN_WEBHOOK: u64 = 10015;

/// A message as Discord returns it; crier reads its id and where it is.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Message {
    pub(super) id: String,
    #[serde(default)]
    pub(super) channel_id: Option<String>,
    #[serde(default)]
    pub(super) guild_id: Option<String>,
}

/// What crier was doing, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Post,
    Delete,
    Check,
}

impl Action {
    fn what(self) -> &'static str {
        match self {
            Action::Post => "the post",
            Action::Delete => "the deletion",
            Action::Check => "the check of the webhook",
        }
    }
}

/// Classifies a Discord answer: its own `retry_after`, error codes and form errors first,
/// then the status, as every network.
pub(super) fn refusal(reply: &Reply, action: Action) -> SendError {
    let body: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    let status = reply.status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        let after = body["retry_after"]
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(http::MAX_RETRY_AFTER.as_secs_f64())))
            .or_else(|| header_seconds(reply, "x-ratelimit-reset-after"))
            .or_else(|| http::retry_hint(&reply.headers, Utc::now()))
            .unwrap_or(http::DEFAULT_RETRY_AFTER);
        let global = body["global"].as_bool().unwrap_or(false)
            || reply
                .headers
                .get("x-ratelimit-global")
                .is_some_and(|v| v.as_bytes() == b"true");
        let reason = if global {
            "Discord is rate limiting all of crier's requests (global limit)"
        } else {
            "Discord is rate limiting this webhook"
        };
        return SendError::RetryAfter {
            after,
            reason: reason.into(),
        };
    }
    let code = body["code"].as_u64();
    let message = discord_message(&body)
        .or_else(|| http::body_message(&reply.body))
        .unwrap_or_else(|| http::status_text(status));
    if status == StatusCode::UNAUTHORIZED
        || code == Some(UNKNOWN_WEBHOOK)
        || (status == StatusCode::NOT_FOUND && action == Action::Check)
    {
        return SendError::Permanent {
            reason: format!(
                "the webhook URL is not valid any more (Discord answered {message}): create a new webhook and update `webhook` in crier.yaml"
            ),
        };
    }
    let classified = http::classify_status(status, &reply.headers, &reply.body, Utc::now())
        .err()
        .unwrap_or(SendError::Permanent {
            reason: String::new(),
        });
    let reason = match &classified {
        SendError::RetryAfter { .. } | SendError::Transient { .. } => {
            format!("Discord failed ({})", http::status_text(status))
        }
        _ => format!("Discord refused {}: {message}", action.what()),
    };
    http::reworded(classified, reason)
}

/// `message`, with the first field error of an "Invalid Form Body":
/// `Invalid Form Body (content: Must be 2000 or fewer in length.)`.
fn discord_message(body: &Value) -> Option<String> {
    let message = body["message"].as_str()?.to_owned();
    match first_field_error(&body["errors"], "") {
        Some((field, detail)) => Some(format!("{message} ({field}: {detail})")),
        None => Some(message),
    }
}

fn first_field_error(errors: &Value, path: &str) -> Option<(String, String)> {
    let map = errors.as_object()?;
    if let Some(detail) = map
        .get("_errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e["message"].as_str())
    {
        return Some((path.to_owned(), detail.to_owned()));
    }
    map.iter().find_map(|(key, value)| {
        let path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        first_field_error(value, &path)
    })
}

fn header_seconds(reply: &Reply, name: &str) -> Option<Duration> {
    let value = reply.headers.get(name)?.to_str().ok()?;
    http::parse_seconds(value)
}

pub(super) async fn call(
    request: reqwest::RequestBuilder,
    action: Action,
) -> Result<Reply, SendError> {
    let reply = http::fetch(request).await?;
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(refusal(&reply, action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use serde_json::json;

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_string(),
        }
    }

    #[test]
    fn form_errors_name_the_field() {
        let body = json!({ "message": "Invalid Form Body", "code": 50035, "errors": {
            "attachments": { "0": { "filename": { "_errors": [
                { "code": "BASE_TYPE_REQUIRED", "message": "This field is required" }
            ] } } }
        } });
        assert_eq!(
            refusal(&reply(400, body), Action::Post),
            SendError::Permanent {
                reason: "Discord refused the post: Invalid Form Body (attachments.0.filename: This field is required)".into()
            }
        );
        assert_eq!(
            refusal(
                &reply(
                    403,
                    json!({ "message": "Missing Permissions", "code": 50013 })
                ),
                Action::Post
            ),
            SendError::Permanent {
                reason: "Discord refused the post: Missing Permissions".into()
            }
        );
    }
}
