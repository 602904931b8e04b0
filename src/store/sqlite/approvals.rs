//! Approvals of posts and the decisions on them.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, from_json};
use crate::store::model::*;
use crate::store::{ApprovalStore, StoreError, StoreResult};

impl ApprovalStore for SqliteStore {
    fn approval_for(&self, key: &ItemKey, fire_at: Millis) -> StoreResult<Option<ApprovalView>> {
        let connection = self.lock();
        let id: Option<i64> = connection
            .prepare_cached(sql!("approvals/approval_id_of_fire"))?
            .query_row(params![key.playbook, key.item, fire_at], |row| row.get(0))
            .optional()?;
        id.map(|id| approval_view(&connection, id)).transpose()
    }

    fn approval(&self, id: i64) -> StoreResult<Option<ApprovalView>> {
        let connection = self.lock();
        let exists: Option<i64> = connection
            .prepare_cached(sql!("approvals/approval_exists"))?
            .query_row([id], |row| row.get(0))
            .optional()?;
        exists.map(|id| approval_view(&connection, id)).transpose()
    }

    fn approvals(&self, pending_only: bool) -> StoreResult<Vec<ApprovalView>> {
        let connection = self.lock();
        let ids: Vec<i64> = connection
            .prepare_cached(sql!("approvals/approval_ids"))?
            .query_map([pending_only], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        ids.into_iter()
            .map(|id| approval_view(&connection, id))
            .collect()
    }

    fn decide(
        &self,
        id: i64,
        by: &str,
        decision: Decision,
        note: Option<&str>,
        now: Millis,
    ) -> StoreResult<ApprovalView> {
        self.transaction(|tx| {
            tx.prepare_cached(sql!("approvals/insert_decision"))?
                .execute(params![id, by, decision.as_str(), note, now])?;
            let mut view = approval_view(tx, id)?;
            let state = view.state_from_decisions();
            if state != view.state {
                view.state = state;
                tx.prepare_cached(sql!("approvals/set_approval_state"))?
                    .execute(params![id, state.as_str(), now])?;
                // A run held at this approval wakes now.
                tx.prepare_cached(sql!("approvals/wake_approval_step"))?
                    .execute(params![view.playbook, view.item, view.fire_at, now])?;
            }
            Ok(view)
        })
    }
}

/// One approval with its decisions, oldest first.
pub(super) fn approval_view(connection: &Connection, id: i64) -> StoreResult<ApprovalView> {
    let row = connection
        .prepare_cached(sql!("approvals/approval"))?
        .query_row([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, String>(9)?,
                row.get::<_, i64>(10)?,
            ))
        })?;
    let (
        playbook,
        item,
        fire_at,
        approvers,
        need,
        deadline,
        on_timeout,
        text,
        accounts,
        state,
        created_at,
    ) = row;
    let decisions = connection
        .prepare_cached(sql!("approvals/decisions"))?
        .query_map([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|(by, decision, note, at)| {
            Ok(DecisionView {
                by,
                decision: Decision::parse(&decision)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown decision `{decision}`")))?,
                note,
                at,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(ApprovalView {
        id,
        playbook,
        item,
        fire_at,
        approvers: from_json(&approvers)?,
        need,
        deadline,
        on_timeout,
        text,
        accounts: from_json(&accounts)?,
        state: ApprovalState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown approval state `{state}`")))?,
        created_at,
        decisions,
    })
}
