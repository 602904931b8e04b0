//! Receiving an inbound event for a hook (`POST /hooks/NAME`), for every front end: the size,
//! the signature (`X-Crier-Timestamp`, `X-Crier-Signature`, signed as crier's own webhook
//! connector signs), the JSON body and the event's idempotency key are checked here, in that
//! order, and the event is accepted only once its runs are committed. Each refusal says why
//! and maps to one HTTP status; nothing is stored for a refused event.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::connectors::webhook::verify_signature;
use crate::engine::hooks::{Current, HookError, HookFired, HookReceiver};
use crate::playbook::plan::HookPlan;
use crate::store::{RunId, StoreError};

/// The largest body a hook takes (1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;
/// How far a request's `X-Crier-Timestamp` may be from the receiver's clock.
pub const SIGNATURE_WINDOW_SECONDS: u64 = 5 * 60;
/// The longest idempotency key taken.
pub const MAX_KEY: usize = 256;

/// One request to a hook, as received: the headers that matter, and the raw body (the
/// signature covers its bytes exactly).
#[derive(Debug, Clone, Copy)]
pub struct HookRequest<'a> {
    /// `X-Crier-Timestamp`: unix seconds.
    pub timestamp: Option<&'a str>,
    /// `X-Crier-Signature`: `sha256=<hex>`.
    pub signature: Option<&'a str>,
    /// `Idempotency-Key`: a retry carries the key of the first attempt.
    pub idempotency_key: Option<&'a str>,
    pub body: &'a [u8],
}

/// An accepted event: its runs are committed (or were, for a retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub hook: String,
    /// The runs it fired, one per post of the hook.
    pub runs: Vec<RunId>,
    /// A retry of an event received before: the first answer, nothing fired again.
    pub replay: bool,
    /// The key that tells a retry from a new event (the `Idempotency-Key`, the body's id at
    /// the hook's `id:` pointer, or one crier made up for an event that has neither).
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HookRefusal {
    #[error("unknown hook `{hook}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownHook { hook: String, hint: Option<String> },
    #[error("the body is {size} bytes; a hook takes at most {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not signed: {reason}")]
    Unsigned { reason: String },
    #[error("the body is not what the hook takes: {reason}")]
    Invalid { reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HookRefusal {
    /// The HTTP status a server answers it with.
    pub fn status(&self) -> u16 {
        match self {
            HookRefusal::UnknownHook { .. } => 404,
            HookRefusal::TooLarge { .. } => 413,
            HookRefusal::Unsigned { .. } => 401,
            HookRefusal::Invalid { .. } => 400,
            HookRefusal::Store(_) => 503,
        }
    }

    /// A short word for it (the `reason` label of the refused-events metric).
    pub fn kind(&self) -> &'static str {
        match self {
            HookRefusal::UnknownHook { .. } => "unknown_hook",
            HookRefusal::TooLarge { .. } => "too_large",
            HookRefusal::Unsigned { .. } => "bad_signature",
            HookRefusal::Invalid { .. } => "invalid_body",
            HookRefusal::Store(_) => "store",
        }
    }
}

/// Receives a signed event for `hook` at `now`: accepted once its runs are committed.
/// Blocks until then: async code calls [`receive_async`].
pub fn receive(
    receiver: &HookReceiver,
    hook: &str,
    request: HookRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Accepted, HookRefusal> {
    let outcome = check_signed(receiver, hook, &request, now)
        .and_then(|(event, key)| answer(hook, receiver.fire(hook, &event, &key, now), key));
    crate::telemetry::hook_event(hook, outcome.as_ref().err().map(HookRefusal::kind));
    outcome
}

/// The same for async code: the checks are made at once, and the answer comes when the
/// event's runs are committed with the other events that arrived meanwhile (one transaction).
pub async fn receive_async(
    receiver: &HookReceiver,
    hook: &str,
    request: HookRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Accepted, HookRefusal> {
    let outcome = match check_signed(receiver, hook, &request, now) {
        Ok((event, key)) => {
            let fired = receiver.submit(hook, event, &key, now).await;
            answer(hook, fired, key)
        }
        Err(refusal) => Err(refusal),
    };
    crate::telemetry::hook_event(hook, outcome.as_ref().err().map(HookRefusal::kind));
    outcome
}

/// Receives an event for `hook` from a sender authenticated otherwise (a person's API token
/// with a role that may trigger posts): everything but the signature is checked. Blocks
/// until its runs are committed.
pub fn receive_authorized(
    receiver: &HookReceiver,
    hook: &str,
    idempotency_key: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, HookRefusal> {
    let outcome = check_authorized(receiver, hook, idempotency_key, body)
        .and_then(|(event, key)| answer(hook, receiver.fire(hook, &event, &key, now), key));
    crate::telemetry::hook_event(hook, outcome.as_ref().err().map(HookRefusal::kind));
    outcome
}

/// [`receive_authorized`] for async code.
pub async fn receive_authorized_async(
    receiver: &HookReceiver,
    hook: &str,
    idempotency_key: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, HookRefusal> {
    let outcome = match check_authorized(receiver, hook, idempotency_key, body) {
        Ok((event, key)) => {
            let fired = receiver.submit(hook, event, &key, now).await;
            answer(hook, fired, key)
        }
        Err(refusal) => Err(refusal),
    };
    crate::telemetry::hook_event(hook, outcome.as_ref().err().map(HookRefusal::kind));
    outcome
}

/// A signed request's event and key, or why it is refused.
fn check_signed(
    receiver: &HookReceiver,
    hook: &str,
    request: &HookRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(serde_json::Value, String), HookRefusal> {
    // One look at the current revision serves every check of the request.
    let current = receiver.current();
    let plan = known(&current, hook)?;
    check_signature(&current, hook, request, now)?;
    event_of(plan, request.idempotency_key, request.body)
}

fn check_authorized(
    receiver: &HookReceiver,
    hook: &str,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Result<(serde_json::Value, String), HookRefusal> {
    let current = receiver.current();
    let plan = known(&current, hook)?;
    size(body)?;
    event_of(plan, idempotency_key, body)
}

/// The hook's plan, or a refusal naming the hooks there are.
fn known<'c>(current: &'c Current, hook: &str) -> Result<&'c HookPlan, HookRefusal> {
    if let Some((_, plan)) = current.plan.hook(hook) {
        return Ok(plan);
    }
    Err(HookRefusal::UnknownHook {
        hook: hook.to_string(),
        hint: crate::diagnostic::did_you_mean(hook, current.plan.hook_names()),
    })
}

fn size(body: &[u8]) -> Result<(), HookRefusal> {
    if body.len() > MAX_BODY {
        return Err(HookRefusal::TooLarge {
            size: body.len(),
            limit: MAX_BODY,
        });
    }
    Ok(())
}

/// The body is not too large, and the signature is the hook's, recent.
fn check_signature(
    current: &Current,
    hook: &str,
    request: &HookRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(), HookRefusal> {
    size(request.body)?;
    let unsigned = |reason: &str| HookRefusal::Unsigned {
        reason: reason.to_string(),
    };
    let Some(secret) = current.secrets.get(hook) else {
        return Err(unsigned("the hook has no key to check signatures with"));
    };
    let timestamp = request
        .timestamp
        .map(str::trim)
        .ok_or_else(|| unsigned("`X-Crier-Timestamp` is missing"))?;
    let signature = request
        .signature
        .ok_or_else(|| unsigned("`X-Crier-Signature` is missing"))?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| unsigned("`X-Crier-Timestamp` is not unix seconds"))?;
    if now.timestamp().abs_diff(seconds) > SIGNATURE_WINDOW_SECONDS {
        return Err(unsigned(
            "`X-Crier-Timestamp` is more than 5 minutes from this server's clock",
        ));
    }
    if !verify_signature(
        secret.expose().as_bytes(),
        timestamp,
        request.body,
        signature,
    ) {
        return Err(unsigned(
            "`X-Crier-Signature` does not match the body and timestamp with the hook's secret",
        ));
    }
    Ok(())
}

/// Parses the body and settles the event's key.
fn event_of(
    hook: &HookPlan,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Result<(serde_json::Value, String), HookRefusal> {
    let invalid = |reason: String| HookRefusal::Invalid { reason };
    let event: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    let key = match idempotency_key.map(str::trim) {
        Some("") => return Err(invalid("`Idempotency-Key` is empty".into())),
        Some(key) => key.to_string(),
        None => match &hook.id_pointer {
            Some(pointer) => match event.pointer(pointer) {
                Some(serde_json::Value::String(id)) if !id.is_empty() => id.clone(),
                Some(serde_json::Value::Number(id)) => id.to_string(),
                Some(_) => {
                    return Err(invalid(format!(
                        "the event's id at `{pointer}` is not a string or a number"
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "the event has no id at `{pointer}` (the hook's `id:`), and no `Idempotency-Key`"
                    )));
                }
            },
            None => format!("unkeyed-{:032x}", rand::random::<u128>()),
        },
    };
    if key.len() > MAX_KEY {
        return Err(invalid(format!(
            "the event's key is {} bytes; at most {MAX_KEY}",
            key.len()
        )));
    }
    Ok((event, key))
}

/// What the receiver's answer means to the sender.
fn answer(
    hook: &str,
    fired: Result<HookFired, HookError>,
    key: String,
) -> Result<Accepted, HookRefusal> {
    match fired {
        Ok(fired) => Ok(Accepted {
            hook: hook.to_string(),
            runs: fired.runs,
            replay: fired.replay,
            key,
        }),
        Err(HookError::Unknown { hook, hint }) => Err(HookRefusal::UnknownHook { hook, hint }),
        Err(HookError::Store(error)) => Err(HookRefusal::Store(error)),
    }
}
