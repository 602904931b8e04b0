//! One XRPC call to the account's PDS (`GET|POST {service}/xrpc/{nsid}`), and what its
//! failures mean in plain words. The class of a failure comes from the shared
//! [`crate::connectors::http`] rules; this module only reads the XRPC error body
//! (`{"error": "ExpiredToken", "message": "Token has expired"}`) and rewords the reason so it
//! names Bluesky and what was being done.

use chrono::Utc;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::connectors::SendError;
use crate::connectors::http;

/// Where the account's PDS is, and the shared client to reach it with.
#[derive(Debug, Clone)]
pub(super) struct Xrpc {
    base: Url,
    client: reqwest::Client,
}

/// What a call sends.
pub(super) enum Payload {
    None,
    Json(serde_json::Value),
    Bytes { bytes: Vec<u8>, mime: &'static str },
}

/// One call: a method, its NSID, query parameters (repeated names allowed) and a payload.
pub(super) struct Call {
    pub method: Method,
    pub nsid: &'static str,
    pub query: Vec<(&'static str, String)>,
    pub payload: Payload,
    /// What the call does, for error messages: "the post", "the sign-in", …
    pub what: &'static str,
}

impl Call {
    pub fn get(nsid: &'static str, what: &'static str) -> Call {
        Call {
            method: Method::GET,
            nsid,
            query: Vec::new(),
            payload: Payload::None,
            what,
        }
    }

    pub fn post(nsid: &'static str, what: &'static str, body: serde_json::Value) -> Call {
        Call {
            method: Method::POST,
            nsid,
            query: Vec::new(),
            payload: Payload::Json(body),
            what,
        }
    }

    /// A procedure without input (`refreshSession`).
    pub fn post_empty(nsid: &'static str, what: &'static str) -> Call {
        Call {
            payload: Payload::None,
            ..Call::post(nsid, what, serde_json::Value::Null)
        }
    }

    /// A procedure whose input is raw bytes of type `mime` (`uploadBlob`).
    pub fn upload(
        nsid: &'static str,
        what: &'static str,
        bytes: Vec<u8>,
        mime: &'static str,
    ) -> Call {
        Call {
            payload: Payload::Bytes { bytes, mime },
            ..Call::post(nsid, what, serde_json::Value::Null)
        }
    }

    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.query.push((name, value.into()));
        self
    }
}

/// A failed call: its class (with the reason in plain words) and the XRPC error name, if the
/// PDS sent one.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub error: SendError,
    pub code: Option<String>,
    pub status: Option<StatusCode>,
}

impl Failure {
    /// Whether the access token was refused as expired or invalid (a refresh may help).
    pub fn is_expired_token(&self) -> bool {
        matches!(
            (self.status.map(|s| s.as_u16()), self.code.as_deref()),
            (Some(400 | 401), Some("ExpiredToken" | "InvalidToken"))
        )
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl Failure {
    /// A failure that did not come from an XRPC answer (signing in, reading a file).
    pub fn from_error(error: SendError) -> Failure {
        Failure {
            error,
            code: None,
            status: None,
        }
    }
}

impl From<Failure> for SendError {
    fn from(failure: Failure) -> SendError {
        failure.error
    }
}

/// The JSON body of an XRPC error.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
}

impl Xrpc {
    /// `service` is the PDS's base URL; a path in it is kept (`https://host/pds` calls
    /// `https://host/pds/xrpc/…`).
    pub fn new(mut service: Url, client: reqwest::Client) -> Xrpc {
        if !service.path().ends_with('/') {
            let path = format!("{}/", service.path());
            service.set_path(&path);
        }
        service.set_query(None);
        service.set_fragment(None);
        Xrpc {
            base: service,
            client,
        }
    }

    pub fn service(&self) -> &Url {
        &self.base
    }

    /// Sends `call` with `bearer` (an access or refresh token) and reads the JSON answer.
    pub async fn send<T: DeserializeOwned>(
        &self,
        call: &Call,
        bearer: Option<&str>,
    ) -> Result<T, Failure> {
        let body = self.send_raw(call, bearer).await?;
        serde_json::from_str(&body).map_err(|err| Failure {
            error: SendError::Transient {
                reason: format!(
                    "Bluesky answered {} with something crier could not read: {err}",
                    call.what
                ),
            },
            code: None,
            status: None,
        })
    }

    /// Sends `call` and returns the body of a 2xx answer.
    pub async fn send_raw(&self, call: &Call, bearer: Option<&str>) -> Result<String, Failure> {
        let url = self
            .base
            .join(&format!("xrpc/{}", call.nsid))
            .map_err(|err| Failure {
                error: SendError::Permanent {
                    reason: format!("the Bluesky service URL cannot be used: {err}"),
                },
                code: None,
                status: None,
            })?;
        let mut request = self.client.request(call.method.clone(), url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request = match &call.payload {
            Payload::None => request,
            Payload::Json(json) => request.json(json),
            Payload::Bytes { bytes, mime } => {
                request.header("content-type", *mime).body(bytes.clone())
            }
        };
        let http::Reply {
            status,
            headers,
            body,
        } = http::fetch(request).await.map_err(|err| Failure {
            error: reword(err, call.what),
            code: None,
            status: None,
        })?;
        if status.is_success() {
            return Ok(body);
        }
        let parsed: ErrorBody = serde_json::from_str(&body).unwrap_or_default();
        let class = match http::classify_status(status, &headers, &body, Utc::now()) {
            Ok(()) => unreachable!("a 2xx answer was handled above"),
            Err(class) => class,
        };
        let mut error = reword(class, call.what);
        if let Some(hint) = parsed.error.as_deref().and_then(hint) {
            error = with_reason(&error, format!("{}; {hint}", error.reason()));
        }
        Err(Failure {
            error,
            code: parsed.error,
            status: Some(status),
        })
    }
}

/// The shared classifier speaks of "the network" and "the post"; say Bluesky and what the call
/// was doing instead.
fn reword(error: SendError, what: &str) -> SendError {
    let reason = error
        .reason()
        .replace(
            "the network refused the post",
            &format!("Bluesky refused {what}"),
        )
        .replace(
            "the connection failed after the post was sent",
            &format!("the connection failed after {what} was sent"),
        )
        .replace("the network", "Bluesky");
    with_reason(&error, reason)
}

pub(super) fn with_reason(error: &SendError, reason: String) -> SendError {
    match error {
        SendError::Permanent { .. } => SendError::Permanent { reason },
        SendError::RetryAfter { after, .. } => SendError::RetryAfter {
            after: *after,
            reason,
        },
        SendError::Transient { .. } => SendError::Transient { reason },
        SendError::OutcomeUnknown { .. } => SendError::OutcomeUnknown { reason },
    }
}

/// What an XRPC error name means for the person running crier, where the PDS's own message
/// does not say it.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "AuthenticationRequired" => "check the account's `handle` and `app_password` in crier.yaml",
        "AuthFactorTokenRequired" => {
            "the account asks for an emailed sign-in code: use an app password instead (Bluesky settings → Privacy and security → App passwords)"
        }
        "AccountTakedown" => "the account has been taken down by Bluesky moderation",
        "AccountDeactivated" => "the account is deactivated; reactivate it in the Bluesky app",
        "ExpiredToken" | "InvalidToken" => "the sign-in expired and could not be renewed",
        "RateLimitExceeded" => "too many requests for this account; Bluesky asks to wait",
        "BlobTooLarge" => "the image is too large for Bluesky",
        _ => return None,
    })
}
