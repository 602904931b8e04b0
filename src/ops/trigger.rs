//! Firing one campaign post now, whatever its schedule, and sending it: loaded as the
//! service loads (so the run is pinned to the same revision), passing the kill switch and
//! the limits like any other send. Sending again a send crier could not confirm (`send_again`)
//! is a trigger of its item, once a person has checked it did not go out.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::Actor;
use crate::connectors::http;
use crate::connectors::registry::Connectors;
use crate::engine::service::{self, ServiceError};
use crate::engine::{Dispatcher, Engine, EngineParts, RetryPolicy, TriggerError};
use crate::playbook::plan::Plan;
use crate::playbook::validate::Validated;
use crate::store::{self, HistoryFilter, OutboxState, RunView, StoreError, to_millis};

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
}

/// The run a trigger made, as stored after its sends were tried.
#[derive(Debug, Clone, Serialize)]
pub struct Triggered {
    pub run: Option<RunView>,
    /// Some of its sends still wait (a pause, a limit, a retry): a running service sends them.
    pub waiting: bool,
    #[serde(skip)]
    pub plan: Arc<Plan>,
}

/// Fires `playbook`'s post `item` now, as `by`'s act (the run notes who), and sends what it
/// commits.
pub async fn trigger(
    path: &Path,
    report: &(dyn Fn(&Validated) + Sync),
    by: &Actor,
    playbook: &str,
    item: &str,
) -> Result<Triggered, TriggerRefused> {
    let mut parts = EngineParts::new(Arc::new(store::SqliteStore::in_memory()?));
    let loaded = service::load_anchored(path, &parts, report)?;
    let plan = loaded.plan;
    let store = store::open(&plan.store, &plan.root)?;
    parts.store = store.clone();
    let client = http::client(&plan.http).map_err(|e| TriggerRefused::Client(e.to_string()))?;
    let connectors = Connectors::build(&plan.accounts, &client).map_err(|errors| {
        TriggerRefused::Connectors(errors.iter().map(|e| e.to_string()).collect())
    })?;
    let now = Utc::now();
    let mut engine = Engine::new(plan.clone(), &loaded.digest, parts, now)?;
    let run_id = engine.trigger_by(playbook, item, by.name(), now)?;
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    dispatcher.dispatch_due(Utc::now, Some(run_id)).await?;
    let run = store
        .history(&HistoryFilter {
            playbook: Some(playbook.to_string()),
            since: Some(to_millis(now)),
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
/// `account` did not go out: a new run of the same item, fired now (as `trigger` fires
/// it). Refused unless that send is unconfirmed, and when another account of the run has
/// the post already (it would appear there twice).
pub async fn send_again(
    desk: &super::Desk,
    report: &(dyn Fn(&Validated) + Sync),
    by: &Actor,
    run: i64,
    account: &str,
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
    Ok(trigger(&desk.plan.root, report, by, &found.playbook, &found.item).await?)
}
