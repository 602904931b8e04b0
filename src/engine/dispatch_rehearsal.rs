//! The dispatcher's path in a rehearsal: the sends due at the virtual clock's time go
//! through the same gate (pauses, limits), the same connectors' calls and the same outcome
//! rules as under `crier run`, in the order a claim takes them, but without the claim,
//! lease and in-flight mark the service commits around each request to survive a crash: a
//! rehearsal is one process on a store in memory, where nothing can happen between a send
//! and its result. A batch's results are written in one store call.

use chrono::{DateTime, Utc};

use super::dispatch::{Dispatcher, send};
use super::gate;
use crate::connectors::SendError;
use crate::connectors::resume::LocalHandles;
use crate::store::{SqliteStore, StoreResult, to_millis};

/// Sends read and sent per batch, as many as a claim of the service's dispatcher takes.
const BATCH: usize = 256;

/// Sends every row due at `now` through `dispatcher`'s gate, connectors and outcome rules,
/// and records the results in `store` (the rehearsal's, in memory); returns when none is
/// due, with how many attempts were made.
pub(super) async fn dispatch_due(
    dispatcher: &Dispatcher,
    store: &SqliteStore,
    handles: &LocalHandles,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let at = to_millis(now);
    let connectors = dispatcher.connectors();
    let plan = dispatcher.plan();
    let mut attempts = 0;
    loop {
        let rows = store.rehearsal_due(at, BATCH)?;
        if rows.is_empty() {
            return Ok(attempts);
        }
        let rows = match &plan {
            Some(plan) => {
                let gate::Checked { go, stopped } =
                    gate::check(plan, dispatcher.store().as_ref(), rows, now)?;
                store.record_rehearsal_outcomes(&stopped, false, at)?;
                go
            }
            None => rows,
        };
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let result = match connectors.get(&row.account) {
                Some(connector) => {
                    let _slot = connector.pace(&row.post).await;
                    let handle = handles.of(&row.post.idempotency_key);
                    send(connector.as_ref(), &row, &handle).await
                }
                None => Err(SendError::Permanent {
                    reason: format!("no connector for account `{}`", row.account),
                }),
            };
            let outcome = dispatcher.outcome(&row, result, now);
            outcomes.push((row.id, outcome));
        }
        attempts += outcomes.len();
        store.record_rehearsal_outcomes(&outcomes, true, at)?;
    }
}
