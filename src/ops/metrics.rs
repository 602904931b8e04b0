//! `/metrics`: the Prometheus text of a running service. The gauges (runs by state, posts
//! due and waiting, approvals waiting, pauses, open incidents, contest entries by verdict)
//! are read from the store at each scrape; the counters and the lateness histogram are
//! emitted where things happen (see `telemetry`).

use chrono::{DateTime, Utc};

use super::Desk;
use crate::store::{OutboxState, RunState, StoreError, to_millis};
use crate::telemetry::{self, Gauges};

const RUN_STATES: [RunState; 7] = [
    RunState::Running,
    RunState::Waiting,
    RunState::Succeeded,
    RunState::Failed,
    RunState::Skipped,
    RunState::Missed,
    RunState::Rejected,
];

/// The metrics in Prometheus text format, gauges read from `desk`'s store at `now`. Empty
/// when no recorder is installed (see [`telemetry::install`]).
pub fn render(desk: &Desk, now: DateTime<Utc>) -> Result<String, StoreError> {
    telemetry::set_gauges(&gauges(desk, now)?);
    Ok(telemetry::render())
}

/// The gauges' values at `now`.
pub fn gauges(desk: &Desk, now: DateTime<Utc>) -> Result<Gauges, StoreError> {
    let store = desk.store.as_ref();
    let status = store.status()?;
    let count = |rows: &[(String, i64)], state: &str| {
        rows.iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| (*n).max(0) as u64)
    };
    let runs = RUN_STATES
        .iter()
        .map(|state| (state.as_str(), count(&status.runs, state.as_str())))
        .collect();
    let due = status
        .in_flight
        .iter()
        .flat_map(|run| &run.outbox)
        .filter(|send| send.state == OutboxState::Pending && send.next_attempt_at <= to_millis(now))
        .count() as u64;
    let pending = count(&status.outbox, OutboxState::Pending.as_str());
    let held = count(&status.outbox, OutboxState::Held.as_str());
    let mut incidents = Vec::new();
    let open: Vec<_> = store
        .incidents()?
        .into_iter()
        .filter(|incident| incident.status == "open")
        .collect();
    for crisis in &desk.plan.crises {
        for level in &crisis.levels {
            let n = open
                .iter()
                .filter(|i| i.plan == crisis.name && i.level == level.name)
                .count() as u64;
            incidents.push((crisis.name.clone(), level.name.clone(), n));
        }
    }
    let scripts = crate::script::ScriptEngine::new();
    let mut contest_entries = Vec::new();
    for contest in &desk.plan.contests {
        let standings = crate::contest::standings(store, contest, &scripts)?;
        let eligible = standings.entries.iter().filter(|(_, v)| v.eligible).count() as u64;
        let excluded = standings.entries.len() as u64 - eligible;
        contest_entries.push((contest.name.clone(), "eligible", eligible));
        contest_entries.push((contest.name.clone(), "excluded", excluded));
    }
    Ok(Gauges {
        runs,
        posts_due: due,
        posts_waiting: (pending + held).saturating_sub(due),
        approvals_waiting: store.approvals(true)?.len() as u64,
        pauses: store.pauses(to_millis(now))?.len() as u64,
        incidents,
        contest_entries,
    })
}
