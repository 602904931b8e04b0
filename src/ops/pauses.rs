//! The kill switch: pausing and resuming accounts, campaigns or everything. Both only write
//! to the store; a running service holds covered sends from its next claim and lets them go,
//! by each post's `missed:` policy and within the limits, once nothing holds them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Actor, Desk, suggestion};
use crate::store::{NewPause, PauseScope, PauseView, StoreError, to_millis};

/// What a pause or a resume covers, as a person named it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub accounts: Vec<String>,
    pub campaigns: Vec<String>,
    pub all: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    #[error("`all` covers everything: name no account or campaign with it")]
    AllWithOthers,
    #[error("nothing named: name accounts, campaigns, or all")]
    NothingNamed,
    #[error("unknown account `{name}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownAccount { name: String, hint: Option<String> },
    #[error("unknown campaign `{name}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownCampaign { name: String, hint: Option<String> },
    #[error("a pause needs a reason (it is shown to everyone who looks)")]
    NoReason,
    #[error("the pause would end at {until}, which is in the past")]
    UntilInPast { until: DateTime<Utc> },
    #[error("no pause in force to lift")]
    NothingToResume {
        /// The scopes named that had no pause.
        idle: Vec<PauseScope>,
        /// The pauses still in force.
        remaining: Vec<PauseView>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One pause made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paused {
    pub id: i64,
    pub scope: PauseScope,
}

/// What a resume lifted, and what still holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resumed {
    pub lifted: usize,
    /// The scopes named that had no pause.
    pub idle: Vec<PauseScope>,
    pub still_paused: Vec<PauseView>,
}

/// The scopes `selection` names, each checked against the playbooks.
pub fn scopes(desk: &Desk, selection: &Selection) -> Result<Vec<PauseScope>, PauseError> {
    let plan = &desk.plan;
    if selection.all {
        if !selection.accounts.is_empty() || !selection.campaigns.is_empty() {
            return Err(PauseError::AllWithOthers);
        }
        return Ok(vec![PauseScope::All]);
    }
    if selection.accounts.is_empty() && selection.campaigns.is_empty() {
        return Err(PauseError::NothingNamed);
    }
    let mut scopes = Vec::new();
    for account in &selection.accounts {
        if !plan.accounts.contains_key(account) {
            return Err(PauseError::UnknownAccount {
                name: account.clone(),
                hint: suggestion(account, plan.accounts.keys()),
            });
        }
        scopes.push(PauseScope::Account(account.clone()));
    }
    for campaign in &selection.campaigns {
        if !plan.campaigns.iter().any(|c| &c.name == campaign) {
            return Err(PauseError::UnknownCampaign {
                name: campaign.clone(),
                hint: suggestion(campaign, plan.campaigns.iter().map(|c| &c.name)),
            });
        }
        scopes.push(PauseScope::Campaign(campaign.clone()));
    }
    Ok(scopes)
}

/// Holds every send `selection` covers until a resume (or `until`).
pub fn pause(
    desk: &Desk,
    by: &Actor,
    selection: &Selection,
    until: Option<DateTime<Utc>>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Paused>, PauseError> {
    let scopes = scopes(desk, selection)?;
    if reason.trim().is_empty() {
        return Err(PauseError::NoReason);
    }
    if let Some(until) = until.filter(|u| *u <= now) {
        return Err(PauseError::UntilInPast { until });
    }
    let mut paused = Vec::new();
    for scope in scopes {
        let id = desk.store.pause(
            &NewPause {
                scope: scope.clone(),
                until: until.map(to_millis),
                reason: reason.to_string(),
                by: by.name().to_string(),
            },
            to_millis(now),
        )?;
        paused.push(Paused { id, scope });
    }
    Ok(paused)
}

/// Lifts the pauses on what `selection` names; refused if none was in force.
pub fn resume(
    desk: &Desk,
    by: &Actor,
    selection: &Selection,
    now: DateTime<Utc>,
) -> Result<Resumed, PauseError> {
    let scopes = scopes(desk, selection)?;
    let now = to_millis(now);
    let mut lifted = 0;
    let mut idle = Vec::new();
    for scope in scopes {
        let count = desk.store.resume(&scope, by.name(), now)?;
        if count == 0 {
            idle.push(scope);
        }
        lifted += count;
    }
    let still_paused = desk.store.pauses(now)?;
    if lifted == 0 {
        return Err(PauseError::NothingToResume {
            idle,
            remaining: still_paused,
        });
    }
    Ok(Resumed {
        lifted,
        idle,
        still_paused,
    })
}
