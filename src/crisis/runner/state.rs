//! What a plan's runner keeps between calls (`RunnerState`, which serialises), the open
//! incident and its timers, the effects it asks its caller for, and people's actions on it
//! with the one check of who may act.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::crisis::IncidentReport;
use crate::crisis::incident::IncidentState;
use crate::crisis::report::MinuteCount;
use crate::playbook::raw::OnTimeout;

/// What a plan's runner keeps between calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunnerState {
    pub machine: IncidentState,
    /// When the signal started: the start of the first minute whose counts met a level's
    /// condition (the incident's signal time, which the time to detect measures from).
    pub first_signal: Option<i64>,
    /// Matching mentions per minute, from an hour before the open incident's signal (or the
    /// last two hours when none is open): what the report's chart draws.
    pub series: Vec<MinuteCount>,
    pub open: Option<OpenIncident>,
    /// When the levels were last evaluated.
    pub evaluated_at: Option<i64>,
    /// The signal at the last evaluation; texts render with it.
    #[serde(default)]
    pub signal: serde_json::Value,
    /// How far the stored mention stream has been read (the service's intake sequence).
    #[serde(default)]
    pub mentions_read: i64,
    /// The conditions could not be evaluated at the last evaluations (none while they can).
    #[serde(default)]
    pub condition_failure: Option<ConditionFailure>,
}

/// Conditions that failed to evaluate, in a row: never taken for "false". While they fail
/// the incident state stays as it was; after `CONDITION_FAILURES_TO_ALERT` the plan's people
/// are told (once per streak).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionFailure {
    /// The first failed evaluation of the streak.
    pub since: i64,
    pub failures: u32,
    /// The last error, with the condition it came from.
    pub error: String,
    pub notified: bool,
}

/// Failed evaluations in a row before the plan's people are told.
pub const CONDITION_FAILURES_TO_ALERT: u32 = 3;

/// The open incident and what it still has to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub report: IncidentReport,
    /// Steps still to run, as (level, step) indexes into the plan.
    pub queue: VecDeque<(usize, usize)>,
    /// The next step may not run before this (a `wait`).
    pub ready_at: i64,
    pub pending: Option<PendingApproval>,
    pub ack: Option<AckTimer>,
    /// Everyone notified so far, in order.
    pub notified: Vec<String>,
    /// Effects so far; numbers the next one, so each has a stable identity.
    pub effects: u32,
    /// The level last acknowledged, and by whom.
    #[serde(default)]
    pub acked: Option<(String, String)>,
    /// The plan's levels and their steps when the queue was made (see `levels_shape`).
    #[serde(default)]
    pub plan_shape: Option<String>,
}

/// An approval step waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub by: Vec<String>,
    pub deadline: Option<i64>,
    pub on_timeout: OnTimeout,
    /// Already widened to more people after a timeout.
    pub escalated: bool,
    /// The level whose remaining steps wait for the decision.
    #[serde(default)]
    pub level: usize,
}

/// Notifications nobody has acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckTimer {
    pub people: Vec<String>,
    pub due: i64,
    pub reminders_sent: u32,
}

/// Why people are notified (the service adds the matching instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// A level's `notify` step.
    Alert,
    /// An approval step asks its approvers.
    Approval,
    /// Nobody acknowledged: the same people again.
    Reminder,
    /// Nobody acknowledged after the reminders: the plan's other people.
    Escalation,
    /// The incident resolved.
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectKind {
    Notify {
        people: Vec<String>,
        text: String,
        purpose: Purpose,
    },
    Post {
        to: Vec<String>,
        text: String,
        media: Vec<String>,
    },
    Pause {
        targets: Vec<String>,
    },
    Resume {
        targets: Vec<String>,
    },
}

/// Something the caller must do, numbered within its incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub incident: i64,
    pub seq: u32,
    pub at: i64,
    pub level: String,
    pub kind: EffectKind,
}

/// What a person does to the open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Ack {
        by: String,
    },
    Decide {
        by: String,
        approve: bool,
        note: Option<String>,
    },
    Resolve {
        by: String,
        note: Option<String>,
    },
}

impl Action {
    pub fn by(&self) -> &str {
        match self {
            Action::Ack { by } | Action::Decide { by, .. } | Action::Resolve { by, .. } => by,
        }
    }
}

/// Why a person's action cannot be applied to the open incident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionRefused {
    #[error("incident {id} is already acknowledged at {level} by {by}")]
    AlreadyAcknowledged { id: i64, level: String, by: String },
    #[error("incident {id} has no approval waiting")]
    NoApprovalWaiting { id: i64 },
    #[error("{by} may not decide incident {id}'s approval; the approvers are {}", approvers.join(", "))]
    NotAnApprover {
        id: i64,
        by: String,
        approvers: Vec<String>,
    },
}

impl OpenIncident {
    /// Whether `action` may be applied now: the one check of who may act on an incident,
    /// made when a person asks and again when the service applies it.
    pub fn check(&self, action: &Action) -> Result<(), ActionRefused> {
        let id = self.report.id;
        match action {
            Action::Ack { .. } => match self.acknowledged_by() {
                Some(by) => Err(ActionRefused::AlreadyAcknowledged {
                    id,
                    level: self.report.level.clone(),
                    by: by.to_string(),
                }),
                None => Ok(()),
            },
            Action::Decide { by, .. } => match &self.pending {
                None => Err(ActionRefused::NoApprovalWaiting { id }),
                Some(pending) if !pending.by.contains(by) => Err(ActionRefused::NotAnApprover {
                    id,
                    by: by.clone(),
                    approvers: pending.by.clone(),
                }),
                Some(_) => Ok(()),
            },
            Action::Resolve { .. } => Ok(()),
        }
    }

    /// Who acknowledged the incident at its current level, if anyone did: a higher level's
    /// notifications need acknowledging again.
    pub fn acknowledged_by(&self) -> Option<&str> {
        self.acked
            .as_ref()
            .filter(|(level, _)| *level == self.report.level)
            .map(|(_, by)| by.as_str())
    }
}
