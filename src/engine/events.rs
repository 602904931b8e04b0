//! What a running service tells its subscribers (a server's live view, a test): each event is
//! sent after what it reports is committed to the store, so a subscriber that reads the
//! store on an event finds it there. Subscribers that fall behind miss events, never block
//! the service. Besides the engine's own events, a front end running inside the service
//! (the server) tells of the people's actions it takes (`ServiceView::emit`).

use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::{OutboxId, OutboxOutcome, OutboxRow, RunId};

/// How many events a slow subscriber may fall behind before it misses some.
pub const EVENTS_BUFFERED: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServiceEvent {
    /// Due items fired (or a hook's event): these runs were committed. A burst commits in
    /// chunks, one event each.
    RunsCreated { count: usize, runs: Vec<RunId> },
    /// Posts reached the point where they wait for a person: this many approval requests.
    ApprovalsRequested { count: usize },
    /// The crisis plans moved: an incident opened, rose, was acted on or resolved, and
    /// committed this many sends.
    IncidentChanged { sends: usize },
    Sent {
        outbox: OutboxId,
        run: RunId,
        account: String,
        playbook: String,
        item: String,
        remote_id: String,
    },
    /// A send failed; `retry` says whether it is tried again.
    Failed {
        outbox: OutboxId,
        run: RunId,
        account: String,
        playbook: String,
        item: String,
        error: String,
        retry: bool,
    },
    /// The playbooks were read again: `applied` is false when the running revision was
    /// kept (an invalid edit, an account that could not be built).
    Reloaded { applied: bool },
    /// A person decided on a post's approval; `state` is where the approval stands now.
    ApprovalDecided {
        approval: i64,
        playbook: String,
        item: String,
        by: String,
        decision: String,
        state: String,
    },
    /// A person paused what `scope` names.
    Paused {
        pause: i64,
        scope: String,
        by: String,
    },
    /// A person lifted this many pauses.
    Resumed { lifted: usize, by: String },
    /// A person fired a post by hand.
    Triggered {
        run: RunId,
        playbook: String,
        item: String,
        by: String,
    },
    /// A person's action on an incident was recorded for the service to apply.
    IncidentAction {
        incident: i64,
        action: String,
        by: String,
    },
    /// A person disqualified a contest winner; `replacement` wins instead.
    Disqualified {
        contest: String,
        out: String,
        replacement: Option<String>,
        by: String,
    },
}

impl ServiceEvent {
    /// The event a send's recorded outcome makes, if any (held and deferred sends make none).
    pub fn of_send(row: &OutboxRow, outcome: &OutboxOutcome) -> Option<ServiceEvent> {
        let (account, playbook, item) = (
            row.account.clone(),
            row.post.playbook.clone(),
            row.post.item.clone(),
        );
        match outcome {
            OutboxOutcome::Sent { remote_id } => Some(ServiceEvent::Sent {
                outbox: row.id,
                run: row.run_id,
                account,
                playbook,
                item,
                remote_id: remote_id.clone(),
            }),
            OutboxOutcome::Failed { error } | OutboxOutcome::Retry { error, .. } => {
                Some(ServiceEvent::Failed {
                    outbox: row.id,
                    run: row.run_id,
                    account,
                    playbook,
                    item,
                    error: error.clone(),
                    retry: matches!(outcome, OutboxOutcome::Retry { .. }),
                })
            }
            OutboxOutcome::Held { .. } | OutboxOutcome::Deferred { .. } => None,
        }
    }
}

/// The sending side every part of a service shares.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<ServiceEvent>);

impl Events {
    pub fn new() -> Self {
        Events(broadcast::channel(EVENTS_BUFFERED).0)
    }

    /// Tells every subscriber; nobody listening is not an error.
    pub fn emit(&self, event: ServiceEvent) {
        let _ = self.0.send(event);
    }

    /// Whether anyone subscribes: an event nobody would hear need not be built.
    pub fn listened(&self) -> bool {
        self.0.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.0.subscribe()
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}
