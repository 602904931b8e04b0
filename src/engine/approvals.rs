//! Deciding on posts that need approval: finding a request by id or by `PLAYBOOK/ITEM`, and
//! checking that a decision may be made (by one of its approvers, once, while it is still
//! open) before the store records it. `crier approve`/`reject` and rehearsal events use it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::store::{ApprovalState, ApprovalView, Decision, Store, from_millis, to_millis};

/// The request `reference` names: its id, or `PLAYBOOK/ITEM` for that post's earliest
/// request still waiting for a decision.
pub fn find(store: &dyn Store, reference: &str) -> Result<ApprovalView, String> {
    if let Ok(id) = reference.parse::<i64>() {
        return store
            .approval(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no approval {id}; `crier approvals` lists them"));
    }
    let Some((playbook, item)) = reference.split_once('/') else {
        return Err(format!(
            "`{reference}` is neither an approval id nor PLAYBOOK/ITEM"
        ));
    };
    let pending = store.approvals(true).map_err(|e| e.to_string())?;
    pending
        .into_iter()
        .find(|a| a.playbook == playbook && a.item == item)
        .ok_or_else(|| {
            format!(
                "nothing of `{reference}` waits for approval; `crier approvals` lists what does"
            )
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
) -> Result<ApprovalView, String> {
    let name = format!(
        "{}/{} at {}",
        approval.playbook,
        approval.item,
        local(approval.fire_at, tz)
    );
    if !approval.approvers.iter().any(|a| a == by) {
        return Err(format!(
            "{by} cannot decide on {name}: its approvers are {}",
            approval.approvers.join(", ")
        ));
    }
    if approval.state != ApprovalState::Pending {
        return Err(format!("{name} is already decided: {}", approval.summary()));
    }
    if approval.decisions.iter().any(|d| d.by == by) {
        return Err(format!("{by} has already decided on {name}"));
    }
    if to_millis(now) >= approval.deadline && approval.on_timeout != "hold" {
        return Err(format!(
            "too late: the decision on {name} was due by {} (on_timeout: {})",
            local(approval.deadline, tz),
            approval.on_timeout
        ));
    }
    if decision == Decision::Reject && note.is_none_or(|n| n.trim().is_empty()) {
        return Err("a rejection needs --note saying why".into());
    }
    store
        .decide(approval.id, by, decision, note, to_millis(now))
        .map_err(|e| e.to_string())
}

pub fn local(at: i64, tz: Tz) -> String {
    from_millis(at)
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}
