//! The one HTTP client every connector shares, and the one way an HTTP result becomes a
//! `SendError`: 2xx is delivered; 429 waits as long as the network asks; 408, 425 and 5xx
//! are transient; any other 4xx is permanent. A request that never left (connect error) is
//! transient; one that may have arrived (timeout, connection dropped after writing) has an
//! unknown outcome.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::SendError;
pub use crate::playbook::plan::HttpOptions;

/// `crier/<version>`, sent with every request.
pub const USER_AGENT: &str = concat!("crier/", env!("CARGO_PKG_VERSION"));
/// How long to wait when a 429 carries no hint.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The longest wait a network's hint can ask for; longer hints are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);
/// The longest part of a response body quoted in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// `server` with `segments` appended to its path (each one percent-encoded as a segment).
pub fn with_path(server: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = server.clone();
    url.path_segments_mut()
        .expect("an http(s) URL has path segments")
        .pop_if_empty()
        .extend(segments);
    url
}

/// Builds the client every connector shares (clone it: clones share one connection pool).
pub fn client(options: &HttpOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .build()
}

/// A response, read in full (`execute` gives only 2xx ones; `fetch` any).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// Sends `request` and reads the reply; anything but a 2xx comes back classified.
pub async fn execute(request: reqwest::RequestBuilder) -> Result<Reply, SendError> {
    let reply = fetch(request).await?;
    classify_status(reply.status, &reply.headers, &reply.body, Utc::now())?;
    Ok(reply)
}

/// Sends `request` and reads the reply whatever its status, for connectors that read a
/// network's own error bodies before classifying; only transport failures come back as errors.
pub async fn fetch(request: reqwest::RequestBuilder) -> Result<Reply, SendError> {
    let response = request.send().await.map_err(classify_error)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = match response.text().await {
        Ok(body) => body,
        // The network answered, so the request arrived; what it said is lost.
        Err(err) if status.is_success() => {
            return Err(SendError::OutcomeUnknown {
                reason: format!(
                    "the network answered {} but its reply was cut off: {}",
                    status_text(status),
                    error_text(err)
                ),
            });
        }
        Err(_) => String::new(),
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Classifies a response: `Ok` for 2xx, the error class for anything else.
pub fn classify_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let code = status_text(status);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let hint = retry_hint(headers, now);
        return Err(SendError::RetryAfter {
            after: hint.unwrap_or(DEFAULT_RETRY_AFTER),
            reason: format!("the network is rate limiting ({code})"),
        });
    }
    if status == StatusCode::SERVICE_UNAVAILABLE
        && let Some(after) = retry_hint(headers, now)
    {
        return Err(SendError::RetryAfter {
            after,
            reason: format!("the network is unavailable ({code})"),
        });
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status.as_u16() == 425
    // Too Early
    {
        return Err(SendError::Transient {
            reason: format!("the network failed ({code})"),
        });
    }
    let reason = match body_message(body) {
        Some(message) => format!("the network refused the post ({code}): {message}"),
        None => format!("the network refused the post ({code})"),
    };
    if status.is_client_error() {
        return Err(SendError::Permanent { reason });
    }
    // 1xx or 3xx after redirects were followed: nothing says the post exists.
    Err(SendError::Permanent {
        reason: format!("unexpected answer from the network ({code})"),
    })
}

/// `err` with `reason` in place of its own, keeping its class (and wait): how a connector
/// says in its network's words what `classify_status` classified.
pub fn reworded(err: SendError, reason: String) -> SendError {
    match err {
        SendError::Permanent { .. } => SendError::Permanent { reason },
        SendError::RetryAfter { after, .. } => SendError::RetryAfter { after, reason },
        SendError::Transient { .. } => SendError::Transient { reason },
        SendError::OutcomeUnknown { .. } => SendError::OutcomeUnknown { reason },
    }
}

/// Classifies a failure to get any response.
pub fn classify_error(err: reqwest::Error) -> SendError {
    if err.is_builder() {
        return SendError::Permanent {
            reason: format!("the request could not be built: {}", error_text(err)),
        };
    }
    // Host and port only: a URL's path or query may carry a token.
    let place = err
        .url()
        .and_then(|url| {
            Some(format!(
                " at {}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        })
        .unwrap_or_default();
    if err.is_connect() {
        return SendError::Transient {
            reason: format!(
                "could not connect to the network{place}: {}",
                error_text(err)
            ),
        };
    }
    if err.is_timeout() {
        return SendError::OutcomeUnknown {
            reason: format!(
                "the network{place} did not answer in time: {}",
                error_text(err)
            ),
        };
    }
    SendError::OutcomeUnknown {
        reason: format!(
            "the connection failed after the post was sent: {}",
            error_text(err)
        ),
    }
}

/// How long the network asks to wait: `Retry-After` (seconds or an HTTP date), then
/// `RateLimit-Reset` (seconds as in the IETF draft, or epoch seconds as Bluesky sends), then
/// `X-RateLimit-Reset` (epoch seconds or ISO 8601).
/// Capped at `MAX_RETRY_AFTER`; `None` when no header gives a usable hint.
pub fn retry_hint(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    header("retry-after")
        .and_then(|value| parse_retry_after(value, now))
        .or_else(|| header("ratelimit-reset").and_then(|value| parse_reset(value, now)))
        .or_else(|| header("x-ratelimit-reset").and_then(|value| parse_reset(value, now)))
        .map(|after| after.min(MAX_RETRY_AFTER))
}

/// `Retry-After`: a number of seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    parse_seconds(value).or_else(|| parse_http_date(value).map(|at| until(at, now)))
}

/// `X-RateLimit-Reset`: when the limit resets, as epoch seconds (fractions allowed) or an
/// ISO 8601 time. Small numbers (under a billion) are read as seconds from now, as some
/// networks send them. Not capped (a daily limit's reset is hours away): a caller that
/// waits on it bounds it.
pub fn parse_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(number) = value.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        if number < 1e9 {
            return Some(Duration::from_secs_f64(
                number.min(MAX_RETRY_AFTER.as_secs_f64()),
            ));
        }
        let at = DateTime::from_timestamp_millis((number * 1000.0) as i64)?;
        return Some(until(at, now));
    }
    parse_iso8601(value).map(|at| until(at, now))
}

/// A non-negative number of seconds (fractions allowed).
pub fn parse_seconds(value: &str) -> Option<Duration> {
    let number = value.trim().parse::<f64>().ok()?;
    (number.is_finite() && number >= 0.0)
        .then(|| Duration::from_secs_f64(number.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// An HTTP date (RFC 9110): IMF-fixdate, or the obsolete RFC 850 and asctime forms.
pub fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|at| at.and_utc())
}

/// An ISO 8601 time with an offset, or without one (read as UTC).
pub fn parse_iso8601(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|at| at.and_utc())
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// The message a response body carries, in plain words: a JSON body's `error`, `message`,
/// `error_description`, `detail` or first of `errors`; otherwise the text itself. Whitespace
/// is collapsed and long messages are cut.
pub fn body_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => json_message(&json).unwrap_or_else(|| body.to_owned()),
        Err(_) => body.to_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(truncate(&text, MAX_MESSAGE_CHARS))
}

fn json_message(json: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match json {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Object(map) => [
            "error_description",
            "message",
            "error",
            "detail",
            "errors",
            "description",
        ]
        .iter()
        .find_map(|key| map.get(*key).and_then(json_message)),
        Value::Array(items) => items.first().and_then(json_message),
        _ => None,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `HTTP 404 Not Found`: a status as errors quote it.
pub fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// An error and its causes, without the URL (a webhook URL can be a secret).
fn error_text(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(
            parse_retry_after("30", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Sunday, 01-Mar-26 12:00:10 GMT", now()),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Mar  1 12:00:05 2026", now()),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-5", now()), None);
    }

    #[test]
    fn reset_as_epoch_iso8601_or_seconds() {
        let epoch = now().timestamp() + 42;
        assert_eq!(
            parse_reset(&epoch.to_string(), now()),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            parse_reset(&format!("{epoch}.500"), now()),
            Some(Duration::from_millis(42_500))
        );
        assert_eq!(
            parse_reset("2026-03-01T12:05:00.000Z", now()),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_reset("2026-03-01T14:05:00+02:00", now()),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_reset("2026-03-01T12:00:20", now()),
            Some(Duration::from_secs(20))
        );
        assert_eq!(parse_reset("17", now()), Some(Duration::from_secs(17)));
        assert_eq!(parse_reset("next tuesday", now()), None);
    }

    #[test]
    fn hints_in_order_and_capped() {
        let both = headers(&[("retry-after", "7"), ("x-ratelimit-reset", "99")]);
        assert_eq!(retry_hint(&both, now()), Some(Duration::from_secs(7)));
        let draft = headers(&[("ratelimit-reset", "12")]);
        assert_eq!(retry_hint(&draft, now()), Some(Duration::from_secs(12)));
        let epoch = (now().timestamp() + 25).to_string();
        let bluesky = headers(&[("ratelimit-reset", &epoch)]);
        assert_eq!(retry_hint(&bluesky, now()), Some(Duration::from_secs(25)));
        let far = headers(&[("retry-after", "86400")]);
        assert_eq!(retry_hint(&far, now()), Some(MAX_RETRY_AFTER));
        let unusable = headers(&[("retry-after", "later")]);
        assert_eq!(retry_hint(&unusable, now()), None);
    }

    #[test]
    fn statuses_classified() {
        let none = HeaderMap::new();
        let classify = |code: u16, headers: &HeaderMap, body: &str| {
            classify_status(StatusCode::from_u16(code).unwrap(), headers, body, now())
        };
        assert_eq!(classify(201, &none, ""), Ok(()));
        assert!(matches!(
            classify(429, &none, ""),
            Err(SendError::RetryAfter { after, .. }) if after == DEFAULT_RETRY_AFTER
        ));
        for code in [408, 425, 500, 502, 503, 504] {
            assert!(
                matches!(classify(code, &none, ""), Err(SendError::Transient { .. })),
                "{code}"
            );
        }
        let hinted = headers(&[("retry-after", "20")]);
        assert!(matches!(
            classify(503, &hinted, ""),
            Err(SendError::RetryAfter { after, .. }) if after == Duration::from_secs(20)
        ));
        assert_eq!(
            classify(401, &none, r#"{"error": "The access token is invalid"}"#),
            Err(SendError::Permanent {
                reason: "the network refused the post (HTTP 401 Unauthorized): The access token is invalid".into()
            })
        );
    }

    #[test]
    fn body_messages_in_plain_words() {
        assert_eq!(
            body_message(r#"{"error": {"code": 7, "message": "text too long"}}"#).as_deref(),
            Some("text too long")
        );
        assert_eq!(
            body_message(r#"{"errors": [{"message": "chat not found"}]}"#).as_deref(),
            Some("chat not found")
        );
        assert_eq!(
            body_message("  bad\n\n request ").as_deref(),
            Some("bad request")
        );
        assert_eq!(body_message(""), None);
        let long = body_message(&"é".repeat(1000)).unwrap();
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
