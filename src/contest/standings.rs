//! Where a contest stands for the people running it: every entry with its verdict (the one
//! frozen at the close once entries closed, else the one it would get now), the winners and
//! the reserves in draw order. `crier rehearse` shows it as `crier contest entries` does for a
//! stored contest.

use chrono::{DateTime, Utc};

use super::entries::{Entry, Verdict, judge};
use super::lifecycle::{load_entries, load_state, reply_targets};
use crate::playbook::plan::ContestPlan;
use crate::script::ScriptEngine;
use crate::store::{Store, StoreResult};

/// A contest's entries, verdicts and draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Standings {
    /// In the order of the entries' times.
    pub entries: Vec<(Entry, Verdict)>,
    pub drawn_at: Option<DateTime<Utc>>,
    /// Entry keys, in draw order.
    pub winners: Vec<String>,
    pub reserves: Vec<String>,
}

impl Standings {
    /// The entry a key names.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .map(|(entry, _)| entry)
            .find(|entry| entry.key() == key)
    }
}

/// The stored contest's standings.
pub fn standings(
    store: &dyn Store,
    contest: &ContestPlan,
    scripts: &ScriptEngine,
) -> StoreResult<Standings> {
    let state = load_state(store, &contest.name)?;
    let entries = load_entries(store, &contest.name)?;
    // After the close, the verdicts frozen then are the ones that count.
    let frozen: std::collections::HashMap<String, Verdict> = state
        .committed
        .map(|c| c.verdicts.into_iter().map(|v| (v.key.clone(), v)).collect())
        .unwrap_or_default();
    // Before it, the verdicts the close would give now: judged by the same rules, replies
    // against the same announcement.
    let announcement = reply_targets(store, contest)?;
    let entries = judge(contest, scripts, &entries, &announcement)
        .into_iter()
        .map(|(entry, verdict)| {
            let verdict = frozen.get(&verdict.key).cloned().unwrap_or(verdict);
            (entry, verdict)
        })
        .collect();
    Ok(Standings {
        entries,
        drawn_at: state
            .drawn_at
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&Utc)),
        winners: state.winners,
        reserves: state.reserves,
    })
}
