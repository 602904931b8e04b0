//! Deciding on posts that wait for a person's approval. The decision rules (one of the
//! post's approvers, once, while it is still open) live in `engine::approvals`, which
//! rehearsals share; this adds who is acting and where the request comes from.

use chrono::{DateTime, Utc};

use super::{Actor, Desk};
use crate::engine::approvals::{self, DecideError, FindError};
use crate::store::{ApprovalView, Decision};

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The reference names no request that may be decided.
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Decide(#[from] DecideError),
}

/// Records `by`'s decision on the request `reference` names (its id, or `PLAYBOOK/ITEM`).
pub fn decide(
    desk: &Desk,
    by: &Actor,
    reference: &str,
    decision: Decision,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ApprovalView, ApprovalError> {
    let approval = approvals::find(desk.store.as_ref(), reference, now)?;
    Ok(approvals::decide(
        desk.store.as_ref(),
        &approval,
        by.name(),
        decision,
        note,
        now,
        desk.plan.timezone,
    )?)
}
