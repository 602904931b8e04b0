//! People's actions on the open incident: acknowledge, decide its approval, resolve.

use super::{Action, ActionRefused, OpenIncident, PlanRunner, entry};
use crate::crisis::report::ApprovalRecord;

impl PlanRunner<'_> {
    /// A person's action on the open incident at `at`. Refused (and, for a decision by
    /// someone who may not decide, recorded as ignored) with the reason.
    pub fn act(&mut self, at: i64, action: &Action) -> Result<(), String> {
        self.changed = true;
        let Some(open) = self.state.open.as_mut() else {
            return Err(format!("{} has no open incident", self.plan.name));
        };
        let by = action.by().to_string();
        if let Err(refused) = open.check(action) {
            if let ActionRefused::NotAnApprover { .. } = refused {
                open.report.timeline.push(entry(
                    at,
                    &by,
                    "approval",
                    format!("ignored: {by} is not an approver"),
                ));
            }
            return Err(refused.to_string());
        }
        match action {
            Action::Ack { .. } => {
                acknowledge(open, at, &by);
                Ok(())
            }
            Action::Decide { approve, note, .. } => {
                let Some(pending) = open.pending.clone() else {
                    let id = open.report.id;
                    return Err(ActionRefused::NoApprovalWaiting { id }.to_string());
                };
                if open.acknowledged_by().is_none() {
                    acknowledge(open, at, &by);
                }
                let decision = if *approve { "approved" } else { "rejected" };
                open.report.approvals.push(ApprovalRecord {
                    at,
                    step: "approve".into(),
                    decision: decision.into(),
                    by: by.clone(),
                    note: note.clone(),
                });
                let detail = match note {
                    Some(note) => format!("{decision}: {note}"),
                    None => decision.to_string(),
                };
                open.report
                    .timeline
                    .push(entry(at, &by, "approval", detail));
                let level = pending.level;
                open.pending = None;
                open.ready_at = open.ready_at.max(at);
                if !approve {
                    // The rest of the approval's level is dropped; higher levels go on.
                    open.queue.retain(|(l, _)| *l != level);
                }
                Ok(())
            }
            Action::Resolve { note, .. } => {
                if let Some(note) = note {
                    open.report
                        .timeline
                        .push(entry(at, &by, "note", note.clone()));
                }
                self.machine.resolve_by_hand(at);
                self.state.machine = self.machine.state.clone();
                self.close(at, Some(&by));
                Ok(())
            }
        }
    }
}

/// `by` takes the incident at its current level (the report keeps the first acknowledgement:
/// the time to acknowledge); reminders for it stop.
pub(super) fn acknowledge(open: &mut OpenIncident, at: i64, by: &str) {
    let detail = if open.report.acknowledged_at.is_none() {
        open.report.acknowledged_at = Some(at);
        open.report.acknowledged_by = Some(by.to_string());
        "acknowledged".to_string()
    } else {
        format!("acknowledged at {}", open.report.level)
    };
    open.report.timeline.push(entry(at, by, "ack", detail));
    open.acked = Some((open.report.level.clone(), by.to_string()));
    open.ack = None;
}
