//! The Matrix client-server API as the connector calls it: URLs built from path segments
//! (room ids, aliases and event ids are escaped), the access token as a bearer header, and
//! Matrix's error bodies (`{"errcode": "M_…", "error": "…"}`) read before anything else.
//!
//! `M_LIMIT_EXCEEDED` waits as long as `Retry-After` or `retry_after_ms` asks;
//! `M_UNKNOWN_TOKEN` and `M_MISSING_TOKEN` mean the access token was refused; other 4xx
//! are permanent, in the homeserver's own words. What carries no Matrix error (a 502 from a
//! proxy, a dropped connection) goes to the shared classifier in [`super::super::http`].

use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::connectors::SendError;
use crate::connectors::http;
use crate::connectors::secret::Secret;

/// The homeserver, the token and the shared client.
#[derive(Debug, Clone)]
pub struct Api {
    homeserver: Url,
    token: Secret,
    client: reqwest::Client,
}

/// A Matrix error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub errcode: String,
    pub error: Option<String>,
    pub retry_after_ms: Option<u64>,
}

impl MatrixError {
    pub fn parse(body: &str) -> Option<MatrixError> {
        let json: Value = serde_json::from_str(body).ok()?;
        let errcode = json.get("errcode")?.as_str()?.to_owned();
        Some(MatrixError {
            errcode,
            error: json
                .get("error")
                .and_then(Value::as_str)
                .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|text| !text.is_empty()),
            retry_after_ms: json.get("retry_after_ms").and_then(Value::as_u64),
        })
    }

    /// The homeserver's words, then its code: `User not in room (M_FORBIDDEN)`.
    fn words(&self) -> String {
        match &self.error {
            Some(error) => format!("{error} ({})", self.errcode),
            None => self.errcode.clone(),
        }
    }
}

/// A failed call: the class for the dispatcher, and the Matrix error if the homeserver sent
/// one (callers look at `errcode`: a missing `m.direct` is `M_NOT_FOUND`, not a failure).
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: SendError,
    pub matrix: Option<MatrixError>,
    pub status: Option<StatusCode>,
}

impl Failure {
    pub fn errcode(&self) -> Option<&str> {
        self.matrix.as_ref().map(|m| m.errcode.as_str())
    }
}

impl From<Failure> for SendError {
    fn from(failure: Failure) -> SendError {
        failure.error
    }
}

impl Api {
    pub fn new(homeserver: Url, token: Secret, client: reqwest::Client) -> Api {
        Api {
            homeserver,
            token,
            client,
        }
    }

    /// `<homeserver>/<segments…>`, each segment escaped, and the query pairs.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.homeserver.clone();
        {
            let mut path = url.path_segments_mut().expect("an http(s) URL has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// `/_matrix/client/v3/<segments…>`.
    pub fn client_v3(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut all = vec!["_matrix", "client", "v3"];
        all.extend_from_slice(segments);
        self.url(&all, query)
    }

    pub fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose())
    }

    /// Sends a JSON body (or none) and reads a JSON answer. `what` names the action in
    /// errors: "the post", "the deletion", "the room check".
    pub async fn json(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, Failure> {
        let mut request = self.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request, what).await
    }

    /// Sends `request` and reads its JSON answer; failures classified.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, Failure> {
        let http::Reply {
            status,
            headers,
            body,
        } = http::fetch(request).await.map_err(|error| Failure {
            error,
            matrix: None,
            status: None,
        })?;
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|_| Failure {
                // It said yes, but not in a form that names what it did.
                error: SendError::OutcomeUnknown {
                    reason: format!("the homeserver accepted {what} but its answer was not JSON"),
                },
                matrix: None,
                status: Some(status),
            });
        }
        let matrix = MatrixError::parse(&body);
        Err(Failure {
            error: classify(status, &headers, &body, matrix.as_ref(), what),
            matrix,
            status: Some(status),
        })
    }
}

/// Classifies a non-2xx answer: Matrix's own error codes first, then the shared rules.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    matrix: Option<&MatrixError>,
    what: &str,
) -> SendError {
    let now = Utc::now();
    let Some(matrix) = matrix else {
        return match http::classify_status(status, headers, body, now) {
            Err(SendError::Permanent { .. }) => SendError::Permanent {
                reason: match http::body_message(body) {
                    Some(message) => {
                        format!(
                            "Matrix refused {what} (HTTP {}): {message}",
                            status.as_u16()
                        )
                    }
                    None => format!("Matrix refused {what} (HTTP {})", status.as_u16()),
                },
            },
            Err(other) => other,
            Ok(()) => SendError::Permanent {
                reason: format!("Matrix refused {what}"),
            },
        };
    };
    match matrix.errcode.as_str() {
        "M_LIMIT_EXCEEDED" => SendError::RetryAfter {
            after: http::retry_hint(headers, now)
                .or_else(|| matrix.retry_after_ms.map(Duration::from_millis))
                .unwrap_or(http::DEFAULT_RETRY_AFTER)
                .min(http::MAX_RETRY_AFTER),
            reason: format!("the homeserver is rate limiting: {}", matrix.words()),
        },
        "M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" => SendError::Permanent {
            reason: format!(
                "the access token was refused by the homeserver: {}",
                matrix.words()
            ),
        },
        "M_TOO_LARGE" => SendError::Permanent {
            reason: format!("Matrix refused {what} as too large: {}", matrix.words()),
        },
        _ if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            match http::classify_status(status, headers, body, now) {
                Err(SendError::Transient { .. }) => SendError::Transient {
                    reason: format!("the homeserver failed: {}", matrix.words()),
                },
                Err(SendError::RetryAfter { after, .. }) => SendError::RetryAfter {
                    after,
                    reason: format!("the homeserver is busy: {}", matrix.words()),
                },
                Err(other) => other,
                Ok(()) => SendError::Transient {
                    reason: format!("the homeserver failed: {}", matrix.words()),
                },
            }
        }
        _ => SendError::Permanent {
            reason: format!("Matrix refused {what}: {}", matrix.words()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify_body(code: u16, headers: &HeaderMap, body: &str) -> SendError {
        let status = StatusCode::from_u16(code).unwrap();
        classify(
            status,
            headers,
            body,
            MatrixError::parse(body).as_ref(),
            "the post",
        )
    }

    #[test]
    fn limit_exceeded_reads_header_then_body() {
        let body = r#"{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 2500}"#;
        assert_eq!(
            classify_body(429, &HeaderMap::new(), body),
            SendError::RetryAfter {
                after: Duration::from_millis(2500),
                reason: "the homeserver is rate limiting: Too Many Requests (M_LIMIT_EXCEEDED)"
                    .into()
            }
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert!(matches!(
            classify_body(429, &headers, body),
            SendError::RetryAfter { after, .. } if after == Duration::from_secs(7)
        ));
        let bare = r#"{"errcode": "M_LIMIT_EXCEEDED"}"#;
        assert!(matches!(
            classify_body(429, &HeaderMap::new(), bare),
            SendError::RetryAfter { after, .. } if after == http::DEFAULT_RETRY_AFTER
        ));
    }

    #[test]
    fn matrix_codes_in_plain_words() {
        let none = HeaderMap::new();
        assert_eq!(
            classify_body(
                401,
                &none,
                r#"{"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": false}"#
            )
            .reason(),
            "the access token was refused by the homeserver: Invalid access token passed. (M_UNKNOWN_TOKEN)"
        );
        assert_eq!(
            classify_body(
                403,
                &none,
                r#"{"errcode": "M_FORBIDDEN", "error": "User @bot:x not in room !r:x"}"#
            ),
            SendError::Permanent {
                reason: "Matrix refused the post: User @bot:x not in room !r:x (M_FORBIDDEN)"
                    .into()
            }
        );
        assert!(matches!(
            classify_body(
                413,
                &none,
                r#"{"errcode": "M_TOO_LARGE", "error": "event too large"}"#
            ),
            SendError::Permanent { .. }
        ));
        assert!(matches!(
            classify_body(
                500,
                &none,
                r#"{"errcode": "M_UNKNOWN", "error": "Internal server error"}"#
            ),
            SendError::Transient { .. }
        ));
        assert!(matches!(
            classify_body(502, &none, "<html>Bad Gateway</html>"),
            SendError::Transient { .. }
        ));
        assert_eq!(
            classify_body(400, &none, "nope").reason(),
            "Matrix refused the post (HTTP 400): nope"
        );
    }
}
