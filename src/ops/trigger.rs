//! Firing one campaign post now, whatever its schedule, and sending it: loaded as the
//! service loads (so the run is pinned to the same revision), passing the kill switch and
//! the limits like any other send.

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
