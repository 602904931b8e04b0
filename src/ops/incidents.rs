//! People's actions on crisis incidents: acknowledge, decide the waiting approval, resolve.
//! Each is checked against the stored incident and the service's view of it (the same check
//! the crisis runner applies, `OpenIncident::check`) and recorded in the store; the running
//! service, the only writer of incidents, applies it in order and puts it on the timeline.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Actor, Desk};
use crate::crisis::IncidentReport;
use crate::crisis::runner::{Action, ActionRefused, RunnerState};
use crate::store::{IncidentRow, StoreError, to_millis};

/// A person's action on an incident, before it names who takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentAction {
    Ack,
    Decide { approve: bool, note: Option<String> },
    Resolve { note: Option<String> },
}

impl IncidentAction {
    fn by(self, actor: &Actor) -> Action {
        let by = actor.name().to_string();
        match self {
            IncidentAction::Ack => Action::Ack { by },
            IncidentAction::Decide { approve, note } => Action::Decide { by, approve, note },
            IncidentAction::Resolve { note } => Action::Resolve { by, note },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("there is no incident {id}")]
    Unknown {
        id: i64,
        /// The latest incidents' ids, newest first (at most five).
        latest: Vec<i64>,
    },
    #[error("incident {id} is stored unreadably: {reason}")]
    Unreadable { id: i64, reason: String },
    #[error("incident {id} was resolved; it takes no more actions")]
    Resolved { id: i64, at: DateTime<Utc> },
    #[error(transparent)]
    Refused(#[from] ActionRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An action recorded for the service to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub incident: i64,
    pub action_id: i64,
    pub at: DateTime<Utc>,
}

/// What the service made of a recorded action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "lowercase")]
pub enum Applied {
    Done,
    /// The incident changed before the service applied it (taken by someone else, resolved).
    Refused(String),
}

/// The incident `id`, or the refusal naming the latest ones.
pub fn find(desk: &Desk, id: i64) -> Result<IncidentRow, IncidentError> {
    if let Some(row) = desk.store.incident(id)? {
        return Ok(row);
    }
    let latest = desk
        .store
        .incidents()?
        .iter()
        .take(5)
        .map(|r| r.id)
        .collect();
    Err(IncidentError::Unknown { id, latest })
}

/// The report stored with an incident.
pub fn report_of(row: &IncidentRow) -> Result<IncidentReport, IncidentError> {
    serde_json::from_str(&row.report).map_err(|e| IncidentError::Unreadable {
        id: row.id,
        reason: e.to_string(),
    })
}

/// The report of incident `id`.
pub fn report(desk: &Desk, id: i64) -> Result<IncidentReport, IncidentError> {
    report_of(&find(desk, id)?)
}

/// Checks `action` by `by` against incident `id` and records it for the service.
pub fn act(
    desk: &Desk,
    by: &Actor,
    id: i64,
    action: IncidentAction,
    now: DateTime<Utc>,
) -> Result<Recorded, IncidentError> {
    let row = find(desk, id)?;
    let report = report_of(&row)?;
    if let Some(resolved) = report.resolved_at {
        return Err(IncidentError::Resolved {
            id,
            at: crate::store::from_millis(resolved),
        });
    }
    let action = action.by(by);
    // The service's view of the open incident: its level, who took it, what waits.
    let saved = match desk.store.crisis_state(&row.plan)? {
        Some(json) => Some(serde_json::from_str::<RunnerState>(&json).map_err(|e| {
            StoreError::Corrupt(format!(
                "the saved state of crisis plan `{}`: {e}",
                row.plan
            ))
        })?),
        None => None,
    };
    let open = saved.and_then(|s| s.open).filter(|o| o.report.id == id);
    match &open {
        Some(open) => open.check(&action)?,
        // Before the service saved its view, only an approval is known not to wait.
        None if matches!(action, Action::Decide { .. }) => {
            return Err(ActionRefused::NoApprovalWaiting { id }.into());
        }
        None => {}
    }
    let json = serde_json::to_string(&action).expect("actions serialise");
    let action_id = desk.store.add_incident_action(id, &json, to_millis(now))?;
    Ok(Recorded {
        incident: id,
        action_id,
        at: now,
    })
}

/// Whether the service has applied a recorded action yet, and how.
pub fn applied(desk: &Desk, recorded: &Recorded) -> Result<Option<Applied>, IncidentError> {
    Ok(desk
        .store
        .incident_action(recorded.action_id)?
        .filter(|a| a.applied_at.is_some())
        .map(|a| match a.outcome {
            None => Applied::Done,
            Some(reason) => Applied::Refused(reason),
        }))
}
