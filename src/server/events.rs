//! `GET /api/v1/events`: what happens in the service, as server-sent events. Every event of
//! `ServiceHandle::subscribe` gets an id and is kept in a bounded ring of the latest
//! `KEPT`, so a client that reconnects with `Last-Event-ID` gets what it missed. Ids count
//! from the server's start time in milliseconds times a million, so they only grow across
//! restarts; when what a client missed is no longer kept (or it fell behind), it gets a
//! `reset` event: read the state again.
//!
//! People's actions (approvals decided, pauses, resumes, incident actions, posts fired by
//! hand, contest winners disqualified) come from the store's journal of actions, whichever process took them: `crier
//! approve` in a terminal shows on the stream as the API's own actions do. The journal is
//! read every `POLL`, and at once after an action taken through this server (`nudge`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::{Notify, broadcast};

use super::AppState;
use super::auth::{Caller, ToRead};
use crate::crisis::runner::Action;
use crate::engine::core::TRIGGERED_BY_HAND;
use crate::engine::events::ServiceEvent;
use crate::engine::service::ServiceView;
use crate::store::{ActionRecord, RecordedAction};

/// How many recent events are kept for clients that reconnect.
pub const KEPT: usize = 1024;
/// How often the store's journal of people's actions is read.
pub const POLL: Duration = Duration::from_millis(300);
/// The most journal rows read at once.
const JOURNAL_PAGE: usize = 256;

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
    /// Wakes the journal reader (an action was just stored).
    journal: Notify,
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
            journal: Notify::new(),
        });
        tokio::spawn(read_journal(log.clone(), view.clone()));
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

    /// An action was just stored: read the journal now rather than at the next `POLL`.
    pub fn nudge(&self) {
        self.journal.notify_one();
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

/// Tells the stream of the people's actions stored after the server started, until the
/// service stops. A journal that cannot be read is logged and read again later.
async fn read_journal(log: Arc<EventLog>, view: ServiceView) {
    let store = view.store();
    let reading = store.clone();
    let mut last = match tokio::task::spawn_blocking(move || reading.latest_action()).await {
        Ok(Ok(last)) => last,
        Ok(Err(error)) => {
            tracing::warn!("cannot read the journal of people's actions: {error}");
            0
        }
        Err(_) => return,
    };
    let mut warned = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = log.journal.notified() => {}
            _ = view.stopping() => return,
        }
        loop {
            let reading = store.clone();
            let after = last;
            let records = match tokio::task::spawn_blocking(move || {
                reading.actions_after(after, JOURNAL_PAGE)
            })
            .await
            {
                Ok(Ok(records)) => records,
                Ok(Err(error)) => {
                    if !warned {
                        tracing::warn!("cannot read the journal of people's actions: {error}");
                        warned = true;
                    }
                    break;
                }
                Err(_) => return,
            };
            warned = false;
            let full = records.len() == JOURNAL_PAGE;
            if let Some(record) = records.last() {
                last = record.id;
            }
            for event in journal_events(records) {
                log.push(event);
            }
            if !full {
                break;
            }
        }
    }
}

/// The events of journal rows: pauses lifted together (same time, same person) are one
/// `resumed`.
fn journal_events(records: Vec<ActionRecord>) -> Vec<ServiceEvent> {
    let mut events: Vec<ServiceEvent> = Vec::with_capacity(records.len());
    let mut last_lift: Option<(i64, Option<String>)> = None;
    for record in records {
        let event = match record.action {
            RecordedAction::Resumed { by, .. } => {
                let lift = (record.at, by.clone());
                if last_lift.as_ref() == Some(&lift)
                    && let Some(ServiceEvent::Resumed { lifted, .. }) = events.last_mut()
                {
                    *lifted += 1;
                    continue;
                }
                last_lift = Some(lift);
                events.push(ServiceEvent::Resumed {
                    lifted: 1,
                    by: by.unwrap_or_default(),
                });
                continue;
            }
            RecordedAction::Decided {
                approval,
                playbook,
                item,
                by,
                decision,
                state,
            } => ServiceEvent::ApprovalDecided {
                approval,
                playbook,
                item,
                by,
                decision,
                state,
            },
            RecordedAction::Paused { pause, scope, by } => ServiceEvent::Paused {
                pause,
                scope: scope.to_string(),
                by,
            },
            RecordedAction::Incident { incident, action } => {
                let (action, by) = match serde_json::from_str::<Action>(&action) {
                    Ok(Action::Ack { by }) => ("ack", by),
                    Ok(Action::Decide { by, approve, .. }) => {
                        (if approve { "approve" } else { "reject" }, by)
                    }
                    Ok(Action::Resolve { by, .. }) => ("resolve", by),
                    Err(_) => ("unknown", String::new()),
                };
                ServiceEvent::IncidentAction {
                    incident,
                    action: action.into(),
                    by,
                }
            }
            RecordedAction::Triggered {
                run,
                playbook,
                item,
                reason,
            } => ServiceEvent::Triggered {
                run,
                playbook,
                item,
                by: reason
                    .strip_prefix(TRIGGERED_BY_HAND)
                    .and_then(|rest| rest.strip_prefix(" by "))
                    .unwrap_or_default()
                    .to_string(),
            },
            RecordedAction::Disqualified {
                contest,
                out,
                replacement,
                by,
            } => ServiceEvent::Disqualified {
                contest,
                out,
                replacement,
                by: by.unwrap_or_default(),
            },
        };
        last_lift = None;
        events.push(event);
    }
    events
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
    description = "Server-sent events, each with an `id`: the service's `runs_created`, `approvals_requested`, `incident_changed`, `sent`, `failed`, `reloaded`, and people's actions, taken through the API or the CLI (read from the store's journal): `approval_decided`, `paused`, `resumed`, `triggered`, `incident_action`, and `disqualified` (through the API); `reset` when some were missed. The data is the event as JSON.",
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
