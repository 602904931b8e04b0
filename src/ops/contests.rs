//! Disqualifying a contest winner: the next reserve wins instead, and the announcement goes
//! out through the outbox with the service.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::suggestion;
use crate::contest::Substitution;
use crate::contest::lifecycle::{self, Parts, Seeds};
use crate::engine::EngineParts;
use crate::engine::service::{self, ServiceError};
use crate::playbook::validate::Validated;
use crate::store::{self, StoreError, to_millis};

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
}

/// Disqualifies the winner `entry` (`network:id`) of contest `name` for `reason`.
pub fn disqualify(
    path: &Path,
    report: &dyn Fn(&Validated),
    name: &str,
    entry: &str,
    reason: &str,
) -> Result<Substitution, ContestError> {
    let mut parts = EngineParts::new(Arc::new(store::MemoryStore::new()));
    let loaded = service::load(path, &parts, report)?;
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
        texts: &parts.texts,
        revision,
        seeds: Seeds::Random,
        freeze_after: crate::contest::collect::freeze_grace(),
    };
    lifecycle::disqualify(&lifecycle_parts, contest, entry, reason, now)
        .map_err(ContestError::Refused)
}
