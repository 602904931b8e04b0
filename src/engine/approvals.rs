//! Deciding on posts that need approval: finding a request by id or by `PLAYBOOK/ITEM`, and
//! checking that a decision may be made (by one of its approvers, once, while it is still
//! open) before the store records it. The operator layer and rehearsal events use it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::store::{
    ApprovalState, ApprovalView, Decision, Store, StoreError, from_millis, to_millis,
};

/// A reference that names no request a person could decide.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no approval {id}")]
    NoSuchId { id: i64 },
    #[error("`{reference}` is neither an approval id nor PLAYBOOK/ITEM")]
    Malformed { reference: String },
    #[error("nothing of `{reference}` waits for approval")]
    NothingWaiting { reference: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A decision that may not be made (the post's name as `PLAYBOOK/ITEM at TIME`).
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{by} cannot decide on {post}: its approvers are {}", approvers.join(", "))]
    NotAnApprover {
        by: String,
        post: String,
        approvers: Vec<String>,
    },
    #[error("{post} is already decided: {summary}")]
    AlreadyDecided { post: String, summary: String },
    #[error("{by} has already decided on {post}")]
    AlreadyDecidedBy { by: String, post: String },
    #[error("too late: the decision on {post} was due by {due} (on_timeout: {on_timeout})")]
    TooLate {
        post: String,
        due: String,
        on_timeout: String,
    },
    #[error("a rejection needs a note saying why")]
    RejectionWithoutNote,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The request `reference` names: its id, or `PLAYBOOK/ITEM` for that post's earliest
/// request still open to a decision at `now`. A request whose deadline has passed but that
/// the engine has not settled yet (it settles timeouts at its next tick) is skipped for a
/// later one of the same post; only when every waiting request is past its deadline is the
/// earliest named, so that deciding it says it is too late.
pub fn find(
    store: &dyn Store,
    reference: &str,
    now: DateTime<Utc>,
) -> Result<ApprovalView, FindError> {
    if let Ok(id) = reference.parse::<i64>() {
        return store.approval(id)?.ok_or(FindError::NoSuchId { id });
    }
    let Some((playbook, item)) = reference.split_once('/') else {
        return Err(FindError::Malformed {
            reference: reference.to_string(),
        });
    };
    let waiting: Vec<ApprovalView> = store
        .approvals(true)?
        .into_iter()
        .filter(|a| a.playbook == playbook && a.item == item)
        .collect();
    let still_open = |a: &ApprovalView| to_millis(now) < a.deadline || a.on_timeout == "hold";
    let earliest_open = waiting.iter().position(still_open);
    waiting
        .into_iter()
        .nth(earliest_open.unwrap_or(0))
        .ok_or_else(|| FindError::NothingWaiting {
            reference: reference.to_string(),
        })
}

/// Records `by`'s decision on `approval` if they may make it now.
pub fn decide(
    store: &dyn Store,
    approval: &ApprovalView,
    by: &str,
    decision: Decision,
    note: Option<&str>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<ApprovalView, DecideError> {
    let post = format!(
        "{}/{} at {}",
        approval.playbook,
        approval.item,
        local(approval.fire_at, tz)
    );
    if !approval.approvers.iter().any(|a| a == by) {
        return Err(DecideError::NotAnApprover {
            by: by.to_string(),
            post,
            approvers: approval.approvers.clone(),
        });
    }
    if approval.state != ApprovalState::Pending {
        return Err(DecideError::AlreadyDecided {
            post,
            summary: approval.summary(),
        });
    }
    if approval.decisions.iter().any(|d| d.by == by) {
        return Err(DecideError::AlreadyDecidedBy {
            by: by.to_string(),
            post,
        });
    }
    if to_millis(now) >= approval.deadline && approval.on_timeout != "hold" {
        return Err(DecideError::TooLate {
            post,
            due: local(approval.deadline, tz),
            on_timeout: approval.on_timeout.clone(),
        });
    }
    if decision == Decision::Reject && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(DecideError::RejectionWithoutNote);
    }
    Ok(store.decide(approval.id, by, decision, note, to_millis(now))?)
}

pub fn local(at: i64, tz: Tz) -> String {
    from_millis(at)
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}
