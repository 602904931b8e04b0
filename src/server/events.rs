//! `GET /api/v1/events`: what happens in the service, as server-sent events. Every event of
//! `ServiceHandle::subscribe` gets an id and is kept in a bounded ring of the latest
//! `KEPT`, so a client that reconnects with `Last-Event-ID` gets what it missed. Ids count
//! from the server's start time in milliseconds times a million, so they only grow across
//! restarts; when what a client missed is no longer kept (or it fell behind), it gets a
//! `reset` event: read the state again.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

use super::AppState;
use super::auth::{Caller, ToRead};
use crate::engine::events::ServiceEvent;
use crate::engine::service::ServiceView;

/// How many recent events are kept for clients that reconnect.
pub const KEPT: usize = 1024;

#[derive(Debug, Clone)]
struct Numbered {
    id: u64,
    event: ServiceEvent,
}

struct Ring {
    next: u64,
    recent: VecDeque<Numbered>,
}

/// The numbered events of a running server, the latest `KEPT` of them kept.
pub struct EventLog {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Numbered>,
    first: u64,
}

impl EventLog {
    /// Numbers the events of the service `view` shows until it stops.
    pub fn start(view: &ServiceView) -> Arc<EventLog> {
        let started = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let first = started.saturating_mul(1_000_000);
        let log = Arc::new(EventLog {
            ring: Mutex::new(Ring {
                next: first,
                recent: VecDeque::with_capacity(KEPT),
            }),
            live: broadcast::channel(KEPT).0,
            first,
        });
        let mut events = view.subscribe();
        let view = view.clone();
        let keeper = log.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    received = events.recv() => match received {
                        Ok(event) => keeper.push(event),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!("the event stream fell {missed} event(s) behind the service");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = view.stopping() => return,
                }
            }
        });
        log
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, event: ServiceEvent) {
        let mut ring = self.lock();
        let numbered = Numbered {
            id: ring.next,
            event,
        };
        ring.next += 1;
        if ring.recent.len() == KEPT {
            ring.recent.pop_front();
        }
        ring.recent.push_back(numbered.clone());
        // Under the lock: a subscriber takes its snapshot and its receiver together.
        let _ = self.live.send(numbered);
    }

    /// The events after `last` still kept, the live ones after them, and whether some
    /// after `last` are lost.
    fn after(&self, last: Option<u64>) -> (Vec<Numbered>, broadcast::Receiver<Numbered>, bool) {
        let ring = self.lock();
        let live = self.live.subscribe();
        let Some(last) = last else {
            return (Vec::new(), live, false);
        };
        let oldest = ring.recent.front().map_or(ring.next, |n| n.id);
        // From an earlier run of the server, older than the ring keeps, or never given.
        let lost = last < self.first || last + 1 < oldest || last >= ring.next;
        let kept = ring
            .recent
            .iter()
            .filter(|n| n.id > last)
            .cloned()
            .collect();
        (kept, live, lost)
    }
}

fn event_name(event: &ServiceEvent) -> String {
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(object)) => object
            .get("event")
            .and_then(|e| e.as_str())
            .unwrap_or("event")
            .to_string(),
        _ => "event".into(),
    }
}

fn sse(numbered: &Numbered) -> Event {
    Event::default()
        .id(numbered.id.to_string())
        .event(event_name(&numbered.event))
        .data(serde_json::to_string(&numbered.event).unwrap_or_default())
}

fn reset() -> Event {
    Event::default()
        .event("reset")
        .data(r#"{"event":"reset","detail":"some events were missed: read the state again"}"#)
}

struct Streaming {
    backlog: VecDeque<Event>,
    live: broadcast::Receiver<Numbered>,
    /// The id of the last event sent, so none is sent twice.
    sent: Option<u64>,
    view: ServiceView,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "views",
    params(("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received: the events after it that are still kept come first")),
    description = "Server-sent events, each with an `id`: the service's `runs_created`, `approvals_requested`, `incident_changed`, `sent`, `failed`, `reloaded`, and people's actions taken through the API: `approval_decided`, `paused`, `resumed`, `triggered`, `incident_action`, `disqualified`; `reset` when some were missed. The data is the event as JSON.",
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn stream(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    serve(&state, &headers)
}

/// The stream for a caller already authenticated (by token, or by the dashboard's session).
pub(super) fn serve(
    state: &AppState,
    headers: &HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (kept, live, lost) = state.events.after(last);
    let mut backlog: VecDeque<Event> = VecDeque::new();
    if lost {
        backlog.push_back(reset());
    }
    let sent = kept.last().map(|n| n.id).or(last);
    backlog.extend(kept.iter().map(sse));
    let streaming = Streaming {
        backlog,
        live,
        sent,
        view: state.view.clone(),
    };
    let events = futures_util::stream::unfold(streaming, |mut s| async move {
        if let Some(event) = s.backlog.pop_front() {
            return Some((Ok(event), s));
        }
        loop {
            tokio::select! {
                received = s.live.recv() => match received {
                    Ok(numbered) if s.sent.is_some_and(|sent| numbered.id <= sent) => continue,
                    Ok(numbered) => {
                        s.sent = Some(numbered.id);
                        let event = sse(&numbered);
                        return Some((Ok(event), s));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return Some((Ok(reset()), s)),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                // Open streams end with the service, so a graceful stop is not held up.
                _ = s.view.stopping() => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
