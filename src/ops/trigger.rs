//! Firing one campaign post now, whatever its schedule, and sending it: loaded as the
//! service loads (so the run is pinned to the same revision), passing the kill switch and
//! the limits like any other send. Sending again a send crier could not confirm (`send_again`)
//! is a trigger of its item, once a person has checked it did not go out. The load and the
//! render run on the blocking pool; beside a running service, its stop cuts the render short
//! and nothing is fired.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Actor;
use crate::connectors::http;
use crate::connectors::registry::Connectors;
use crate::engine::service::{self, Report, ServiceError};
use crate::engine::{Dispatcher, Engine, EngineParts, RetryPolicy, TriggerError};
use crate::playbook::plan::Plan;
use crate::store::{
    self, HistoryFilter, OutboxState, RunId, RunView, Store, StoreError, to_millis,
};
use crate::text::StopFlag;

#[derive(Debug, thiserror::Error)]
pub enum TriggerRefused {
    /// The playbooks could not be loaded (invalid ones have had their diagnostics reported).
    #[error(transparent)]
    Load(#[from] ServiceError),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("{}", .0.join("\n"))]
    Connectors(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The service beside it was asked to stop before the run was committed: nothing was
    /// fired, and asking again once it is back fires the post once.
    #[error("crier is stopping: nothing was fired; ask again once it is back")]
    Stopped,
}

/// The run a trigger made, as stored after its sends were tried.
#[derive(Debug, Clone, Serialize)]
pub struct Triggered {
    pub run: Option<RunView>,
    /// Some of its sends still wait (a pause, a limit, a retry, or a stop that came once
    /// the run was committed): a running service sends them.
    pub waiting: bool,
    #[serde(skip)]
    pub plan: Arc<Plan>,
}

/// A run committed by [`fire`], not sent yet.
struct Fired {
    run: RunId,
    plan: Arc<Plan>,
    store: Arc<dyn Store>,
    connectors: Connectors,
    at: DateTime<Utc>,
}

/// Fires `playbook`'s post `item` now, as `by`'s act (the run notes who), and sends what it
/// commits. Loading and rendering run on the blocking pool. With `stop` (the flag of the
/// service it runs beside), a stop cuts the render short and nothing is committed
/// ([`TriggerRefused::Stopped`]); a stop once the run is committed leaves its sends to the
/// service (`waiting`).
pub async fn trigger(
    path: &Path,
    report: Report,
    by: &Actor,
    playbook: &str,
    item: &str,
    stop: Option<&StopFlag>,
) -> Result<Triggered, TriggerRefused> {
    let fired = {
        let (path, by) = (path.to_path_buf(), by.clone());
        let (playbook, item) = (playbook.to_owned(), item.to_owned());
        let stop = stop.cloned();
        tokio::task::spawn_blocking(move || {
            fire(&path, report, &by, &playbook, &item, stop.as_ref())
        })
        .await
    };
    let fired = match fired {
        Ok(fired) => fired?,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // The runtime is shutting down.
        Err(_) => return Err(TriggerRefused::Stopped),
    };
    let Fired {
        run: run_id,
        plan,
        store,
        connectors,
        at,
    } = fired;
    if !stop.is_some_and(StopFlag::requested) {
        let dispatcher =
            Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
        dispatcher.set_plan(plan.clone());
        dispatcher.dispatch_due(Utc::now, Some(run_id)).await?;
    }
    let run = store
        .history(&HistoryFilter {
            playbook: Some(playbook.to_string()),
            since: Some(to_millis(at)),
            limit: None,
        })?
        .into_iter()
        .find(|r| r.id == run_id);
    let waiting = run.as_ref().is_some_and(|run| {
        run.outbox
            .iter()
            .any(|o| matches!(o.state, OutboxState::Pending | OutboxState::Held))
    });
    Ok(Triggered { run, waiting, plan })
}

/// Loads `path` and commits the run of `playbook`'s post `item`, its text rendered through
/// `stop` when given: blocking work, for the blocking pool.
fn fire(
    path: &Path,
    report: Report,
    by: &Actor,
    playbook: &str,
    item: &str,
    stop: Option<&StopFlag>,
) -> Result<Fired, TriggerRefused> {
    if stop.is_some_and(StopFlag::requested) {
        return Err(TriggerRefused::Stopped);
    }
    let mut parts = EngineParts::new(Arc::new(store::SqliteStore::in_memory()?));
    let loaded = service::load_anchored(path, &parts, report.as_ref())?;
    let plan = loaded.plan;
    let store = store::open(&plan.store, &plan.root)?;
    parts.store = store.clone();
    let client = http::client(&plan.http).map_err(|e| TriggerRefused::Client(e.to_string()))?;
    let connectors = Connectors::build(&plan.accounts, &client).map_err(|errors| {
        TriggerRefused::Connectors(errors.iter().map(|e| e.to_string()).collect())
    })?;
    let now = Utc::now();
    let mut engine = Engine::new(plan.clone(), &loaded.digest, parts, now)?;
    if let Some(stop) = stop {
        engine.interrupt_on(stop.clone());
    }
    let run = match engine.trigger_by(playbook, item, by.name(), now) {
        Ok(run) => run,
        Err(TriggerError::Store(StoreError::Interrupted)) => return Err(TriggerRefused::Stopped),
        Err(error) => return Err(error.into()),
    };
    Ok(Fired {
        run,
        plan,
        store,
        connectors,
        at: now,
    })
}

/// Why a send cannot be sent again from its run.
#[derive(Debug, thiserror::Error)]
pub enum SendAgainRefused {
    #[error("there is no run {run}")]
    UnknownRun { run: i64 },
    #[error("run {run} has no send to `{account}`")]
    NoSend { run: i64, account: String },
    #[error(
        "the send of run {run} to `{account}` is {state}: only a send crier could not confirm is sent again"
    )]
    NotUnconfirmed {
        run: i64,
        account: String,
        state: String,
    },
    #[error(
        "run {run} went out on {sent} already: sending it again would post there twice (`crier trigger` sends the whole post)"
    )]
    SentElsewhere { run: i64, sent: String },
    #[error(transparent)]
    Trigger(#[from] TriggerRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A send that failed with its outcome unknown on a network that cannot be asked: it may
/// or may not have gone out, and crier did not resend it.
pub fn unconfirmed(send: &crate::store::OutboxView) -> bool {
    send.state == OutboxState::Failed
        && send
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("unconfirmed:"))
}

/// Sends run `run`'s post again, as `by`'s act, after a person checked that its send to
/// `account` did not go out: a new run of the same item, fired now as `trigger` fires it
/// (a stop cutting it short likewise). Refused unless that send is unconfirmed, and when
/// another account of the run has the post already (it would appear there twice).
pub async fn send_again(
    desk: &super::Desk,
    report: Report,
    by: &Actor,
    run: i64,
    account: &str,
    stop: Option<&StopFlag>,
) -> Result<Triggered, SendAgainRefused> {
    let Some(found) = super::views::run(Some(&desk.store), run)? else {
        return Err(SendAgainRefused::UnknownRun { run });
    };
    let Some(send) = found.outbox.iter().find(|s| s.account == account) else {
        return Err(SendAgainRefused::NoSend {
            run,
            account: account.to_string(),
        });
    };
    if !unconfirmed(send) {
        return Err(SendAgainRefused::NotUnconfirmed {
            run,
            account: account.to_string(),
            state: send.state.as_str().to_string(),
        });
    }
    let sent: Vec<&str> = found
        .outbox
        .iter()
        .filter(|s| s.account != account && s.state == OutboxState::Sent)
        .map(|s| s.account.as_str())
        .collect();
    if !sent.is_empty() {
        return Err(SendAgainRefused::SentElsewhere {
            run,
            sent: sent.join(", "),
        });
    }
    Ok(trigger(
        &desk.plan.root,
        report,
        by,
        &found.playbook,
        &found.item,
        stop,
    )
    .await?)
}
