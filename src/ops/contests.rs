//! Contests for operators: their status, entries with verdicts, the proof of the draw, and
//! disqualifying a winner (the next reserve wins instead; the announcement goes out through
//! the outbox with the service).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::{Actor, Desk, suggestion};
use crate::contest::lifecycle::{self, DisqualifyError, Parts, Seeds};
use crate::contest::{Entry, Proof, Substitution, Verdict, standings};
use crate::engine::EngineParts;
use crate::engine::service::{self, ServiceError};
use crate::playbook::plan::ContestPlan;
use crate::playbook::validate::Validated;
use crate::script::ScriptEngine;
use crate::store::{self, StoreError, to_millis};
use crate::text::{Renderer, StopFlag};

#[derive(Debug, thiserror::Error)]
pub enum ContestError {
    #[error(transparent)]
    Load(#[from] ServiceError),
    #[error("unknown contest `{name}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownContest { name: String, hint: Option<String> },
    /// The contest's state does not allow it (not drawn yet, not a winner).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The service beside it was asked to stop while the announcement's text rendered:
    /// nothing was changed.
    #[error("crier is stopping: nothing was changed; ask again once it is back")]
    Stopped,
}

/// Disqualifies the winner `entry` (`network:id`) of contest `name` for `reason`, as `by`'s
/// decision (kept with the substitution in the proof). Blocking (it loads the playbooks and
/// renders the announcement); with `stop` (the flag of the service it runs beside), a stop
/// cuts the render short and nothing is changed ([`ContestError::Stopped`]).
pub fn disqualify(
    path: &Path,
    report: &dyn Fn(&Validated),
    by: &Actor,
    name: &str,
    entry: &str,
    reason: &str,
    stop: Option<&StopFlag>,
) -> Result<Substitution, ContestError> {
    if stop.is_some_and(StopFlag::requested) {
        return Err(ContestError::Stopped);
    }
    let mut parts = EngineParts::new(Arc::new(store::SqliteStore::in_memory()?));
    let loaded = service::load_anchored(path, &parts, report)?;
    let plan = loaded.plan;
    let Some(contest) = plan.contests.iter().find(|c| c.name == name) else {
        return Err(ContestError::UnknownContest {
            name: name.to_string(),
            hint: suggestion(name, plan.contests.iter().map(|c| &c.name)),
        });
    };
    let store = store::open(&plan.store, &plan.root)?;
    parts.store = store.clone();
    let now = Utc::now();
    let revision = store.record_revision(&loaded.digest, to_millis(now))?;
    let lifecycle_parts = Parts {
        plan: &plan,
        store: store.as_ref(),
        scripts: &parts.scripts,
        texts: Renderer::new(&parts.texts, stop),
        revision,
        seeds: Seeds::Random,
        freeze_after: crate::contest::collect::freeze_grace(),
    };
    lifecycle::disqualify(
        &lifecycle_parts,
        contest,
        entry,
        reason,
        Some(by.name()),
        now,
    )
    .map_err(|error| match error {
        DisqualifyError::Refused(reason) => ContestError::Refused(reason),
        DisqualifyError::Store(StoreError::Interrupted) => ContestError::Stopped,
        DisqualifyError::Store(error) => ContestError::Store(error),
    })
}

/// A contest's phase and counts, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContestStatus {
    pub phase: &'static str,
    pub seen: usize,
    pub eligible: usize,
    /// Before the close the verdicts are the ones entries would get now; after it, the
    /// frozen ones.
    pub provisional: bool,
    /// Entries left out, by the rule that left them out.
    pub excluded: BTreeMap<String, usize>,
    pub commitment: Option<Commitment>,
    /// Set once drawn.
    pub drawn: bool,
    pub winners: Vec<String>,
    pub reserves: Vec<String>,
    pub substitutions: Vec<Substitution>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commitment {
    pub list_sha256: String,
    pub seed_sha256: String,
}

/// An entry with the verdict that counts for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JudgedEntry {
    pub entry: Entry,
    pub verdict: Verdict,
}

fn contest<'p>(desk: &'p Desk, name: &str) -> Result<&'p ContestPlan, ContestError> {
    desk.plan
        .contests
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ContestError::UnknownContest {
            name: name.to_string(),
            hint: suggestion(name, desk.plan.contests.iter().map(|c| &c.name)),
        })
}

/// The phase, counts, commitment and winners of contest `name`.
pub fn status(desk: &Desk, name: &str) -> Result<ContestStatus, ContestError> {
    let contest = contest(desk, name)?;
    let store = desk.store.as_ref();
    let state = lifecycle::load_state(store, name)?;
    let entries = lifecycle::load_entries(store, name)?;
    let verdicts: Vec<Verdict> = match &state.committed {
        Some(committed) => committed.verdicts.clone(),
        None => standings(store, contest, &ScriptEngine::new())?
            .entries
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
    };
    let mut excluded = BTreeMap::new();
    for verdict in verdicts.iter().filter(|v| !v.eligible) {
        *excluded
            .entry(verdict.rule.clone().unwrap_or_else(|| "?".into()))
            .or_default() += 1;
    }
    Ok(ContestStatus {
        phase: state.phase(),
        seen: entries.len(),
        eligible: verdicts.iter().filter(|v| v.eligible).count(),
        provisional: state.committed.is_none(),
        excluded,
        commitment: state.committed.as_ref().map(|c| Commitment {
            list_sha256: c.list_sha256.clone(),
            seed_sha256: c.seed_sha256.clone(),
        }),
        drawn: state.drawn_at.is_some(),
        winners: state.winners,
        reserves: state.reserves,
        substitutions: state.substitutions,
    })
}

/// Every entry of contest `name` with its verdict: after the close, the one frozen then.
pub fn entries(desk: &Desk, name: &str) -> Result<Vec<JudgedEntry>, ContestError> {
    let contest = contest(desk, name)?;
    Ok(
        standings(desk.store.as_ref(), contest, &ScriptEngine::new())?
            .entries
            .into_iter()
            .map(|(entry, verdict)| JudgedEntry { entry, verdict })
            .collect(),
    )
}

/// The proof of contest `name`'s draw; refused before its list is committed.
pub fn proof(desk: &Desk, name: &str) -> Result<Proof, ContestError> {
    let contest = contest(desk, name)?;
    lifecycle::proof(desk.store.as_ref(), contest).map_err(ContestError::Refused)
}
