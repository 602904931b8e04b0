//! What operators look at, as data every front end renders its own way: the status of a
//! folder (what fires next, what is paused and held, open incidents, runs in flight), its
//! history, the approvals and incidents, and the plan of a window. Views only read; a store
//! that does not exist yet reads as empty.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::crisis::IncidentReport;
use crate::crisis::runner::RunnerState;
use crate::engine::timeline::{items, next_fire};
use crate::playbook::plan::Plan;
use crate::preview::Planned;
use crate::store::{
    ApprovalView, HistoryFilter, IncidentRow, PauseView, RunView, StatusView, Store, StoreError,
    from_millis, to_millis,
};
use crate::text::TextTemplates;

/// How many of the latest fires a status lists.
pub const NEXT_SHOWN: usize = 10;

/// One item's next fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextFire {
    pub at: DateTime<Utc>,
    /// `PLAYBOOK/ITEM`.
    pub item: String,
    pub to: Vec<String>,
}

/// What a validated `plan` fires next after `now` (after each item's last fire in `store`),
/// soonest first (at most `NEXT_SHOWN`), and how many more items have a next fire. For a
/// front end that holds the plan already (the running service's API); `status` reads no plan.
pub fn next_fires(
    plan: &Plan,
    store: Option<&Arc<dyn Store>>,
    now: DateTime<Utc>,
) -> Result<(Vec<NextFire>, usize), StoreError> {
    let cursors: HashMap<_, _> = match store {
        Some(store) => store.cursors()?.into_iter().collect(),
        None => HashMap::new(),
    };
    let mut next: Vec<NextFire> = items(plan)
        .into_iter()
        .filter_map(|item| {
            let key = item.key(plan);
            let after = cursors
                .get(&key)
                .map(|c| from_millis(*c))
                .unwrap_or(now)
                .max(now);
            next_fire(plan, item, after).map(|at| NextFire {
                at,
                item: key.to_string(),
                to: item.post(plan).to.to_vec(),
            })
        })
        .collect();
    next.sort_by(|a, b| (a.at, &a.item, &a.to).cmp(&(b.at, &b.item, &b.to)));
    let more = next.len().saturating_sub(NEXT_SHOWN);
    next.truncate(NEXT_SHOWN);
    Ok((next, more))
}

/// An item's latest fire recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastFire {
    pub at: DateTime<Utc>,
    /// `PLAYBOOK/ITEM`.
    pub item: String,
}

/// A crisis plan whose conditions keep failing to evaluate: never taken for "no incident".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrisisFailure {
    pub plan: String,
    pub failures: u32,
    pub since: DateTime<Utc>,
    pub error: String,
}

/// An incident still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIncident {
    pub id: i64,
    pub plan: String,
    pub level: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
}

/// A pause in force and how many sends it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseHolding {
    pub pause: PauseView,
    pub held: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The store's address, and whether crier has run here yet.
    pub store: String,
    pub store_exists: bool,
    /// When the soonest send waiting in the outbox is due.
    pub next_send_due: Option<DateTime<Utc>>,
    /// When the soonest step waiting (a `wait:`, a retry) wakes.
    pub next_wake: Option<DateTime<Utc>>,
    /// The latest fires, newest first (at most `NEXT_SHOWN`), and how many more items fired.
    pub last_fired: Vec<LastFire>,
    pub more: usize,
    pub open_incidents: Vec<OpenIncident>,
    pub pauses: Vec<PauseHolding>,
    pub crisis_failures: Vec<CrisisFailure>,
    /// Runs and sends by state, and the runs in flight.
    pub store_status: Option<StatusView>,
}

/// What the store at `store_url` (`None` if crier has not run there) holds: what waits,
/// what fired last, pauses, incidents and runs. Reads only the store, never the playbooks,
/// so it answers at once however large the plan and even while the files are being edited.
pub fn status(
    store_url: &str,
    store: Option<&Arc<dyn Store>>,
    now: DateTime<Utc>,
) -> Result<Status, StoreError> {
    let mut status = Status {
        store: store_url.to_string(),
        store_exists: store.is_some(),
        next_send_due: None,
        next_wake: None,
        last_fired: Vec::new(),
        more: 0,
        open_incidents: Vec::new(),
        pauses: Vec::new(),
        crisis_failures: Vec::new(),
        store_status: None,
    };
    let Some(store) = store else {
        return Ok(status);
    };
    status.next_send_due = store.next_outbox_due()?.map(from_millis);
    status.next_wake = store.next_wake()?.map(from_millis);
    let (latest, fired) = store.latest_fires(NEXT_SHOWN)?;
    status.more = fired.saturating_sub(latest.len());
    status.last_fired = latest
        .into_iter()
        .map(|(key, at)| LastFire {
            at: from_millis(at),
            item: key.to_string(),
        })
        .collect();
    status.open_incidents = store
        .incidents()?
        .into_iter()
        .filter(|i| i.status == "open")
        .map(|incident| {
            let report = serde_json::from_str::<IncidentReport>(&incident.report).map_err(|e| {
                StoreError::Corrupt(format!("the report of incident {}: {e}", incident.id))
            })?;
            Ok(OpenIncident {
                acknowledged_by: report.acknowledged_by,
                id: incident.id,
                plan: incident.plan,
                level: incident.level,
                opened_at: from_millis(incident.opened_at),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    status.crisis_failures = store
        .crisis_states()?
        .into_iter()
        .map(|(plan, json)| {
            let state = serde_json::from_str::<RunnerState>(&json).map_err(|e| {
                StoreError::Corrupt(format!("the saved state of crisis plan `{plan}`: {e}"))
            })?;
            Ok(state.condition_failure.map(|failure| CrisisFailure {
                plan,
                failures: failure.failures,
                since: from_millis(failure.since),
                error: failure.error,
            }))
        })
        .filter_map(Result::transpose)
        .collect::<Result<_, StoreError>>()?;
    let pauses = store.pauses(to_millis(now))?;
    if !pauses.is_empty() {
        let held = store.held_sends()?;
        // A playbook with a contest state is a contest; every other one a campaign.
        let mut contests = HashMap::new();
        let mut is_campaign = |name: &str| -> Result<bool, StoreError> {
            if let Some(known) = contests.get(name) {
                return Ok(!known);
            }
            let contest = store.contest_state(name)?.is_some();
            contests.insert(name.to_string(), contest);
            Ok(!contest)
        };
        let mut holdings = Vec::with_capacity(pauses.len());
        for pause in pauses {
            let mut count = 0;
            for h in &held {
                let campaign = is_campaign(&h.key.playbook)?;
                if pause.scope.covers(&h.account, &h.key.playbook, campaign) {
                    count += 1;
                }
            }
            holdings.push(PauseHolding { held: count, pause });
        }
        status.pauses = holdings;
    }
    status.store_status = Some(store.status()?);
    Ok(status)
}

/// Runs newest first, as `filter` selects them; none if crier has not run here.
pub fn history(
    store: Option<&Arc<dyn Store>>,
    filter: &HistoryFilter,
) -> Result<Vec<RunView>, StoreError> {
    match store {
        Some(store) => store.history(filter),
        None => Ok(Vec::new()),
    }
}

/// An incident as stored, with its report (or why it cannot be read).
#[derive(Debug, Clone)]
pub struct ListedIncident {
    pub row: IncidentRow,
    pub report: Result<IncidentReport, String>,
}

/// Incidents open, or resolved in the last 30 days (every one with `all`), newest first,
/// with their reports.
pub fn incidents(
    store: &dyn Store,
    all: bool,
    now: DateTime<Utc>,
) -> Result<Vec<ListedIncident>, StoreError> {
    let recent = to_millis(now) - 30 * 86_400_000;
    Ok(store
        .incidents()?
        .into_iter()
        .filter(|r| all || r.status == "open" || r.resolved_at.is_some_and(|at| at >= recent))
        .map(|row| {
            let report = serde_json::from_str(&row.report)
                .map_err(|e| format!("incident {} is stored unreadably: {e}", row.id));
            ListedIncident { row, report }
        })
        .collect())
}

/// Posts waiting for a person's decision (`all`: decided ones too), soonest first.
pub fn approvals(store: &dyn Store, all: bool) -> Result<Vec<ApprovalView>, StoreError> {
    store.approvals(!all)
}

/// A preview window that ends before it starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the window must end after it starts ({from} to {until})")]
pub struct EmptyWindow {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Every post and contest milestone of `plan` from `from` until `until`, in time order.
pub fn plan(
    plan: &Plan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Planned>, EmptyWindow> {
    if until <= from {
        return Err(EmptyWindow { from, until });
    }
    Ok(crate::preview::preview(plan, texts, from, until))
}

/// The same lines in the same order, handed to `line` one by one as they are made: memory
/// does not grow with the window. `Ok(Err(_))` is `line`'s own failure.
pub fn plan_streamed(
    plan: &Plan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    line: &mut dyn FnMut(&Planned) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, EmptyWindow> {
    if until <= from {
        return Err(EmptyWindow { from, until });
    }
    Ok(crate::preview::stream(plan, texts, from, until, line))
}

/// Which runs a page of history shows, and where it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsQuery {
    pub playbook: Option<String>,
    /// Only runs fired at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs in this state (`succeeded`, `failed`, `waiting`…).
    pub state: Option<String>,
    /// Only runs with a send to this account (a page of sends: only those sends).
    pub account: Option<String>,
    /// The `next` of the page before; the first page if absent.
    pub cursor: Option<String>,
    pub limit: usize,
}

/// A page of runs, newest first, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct RunsPage {
    pub runs: Vec<RunView>,
    pub next: Option<String>,
}

/// A cursor that is not one a page gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cursor a page gave (pass a page's `next` as it is)")]
pub struct BadCursor(pub String);

/// The cursor after `run`: its fire time and id, the order history is in.
fn cursor_of(run: &RunView) -> String {
    format!("{}.{}", run.fire_at, run.id)
}

fn parse_cursor(text: &str) -> Result<(i64, i64), BadCursor> {
    text.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| BadCursor(text.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Cursor(#[from] BadCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of runs as `query` selects them, newest first (by fire time, then id). The
/// store reads from the cursor on, a chunk at a time, so a page costs the same however many
/// runs the store holds (only an account filter that few runs match reads further).
pub fn runs_page(store: Option<&Arc<dyn Store>>, query: &RunsQuery) -> Result<RunsPage, PageError> {
    let mut before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = query.limit.max(1);
    let Some(store) = store else {
        return Ok(RunsPage {
            runs: Vec::new(),
            next: None,
        });
    };
    let state = match query.state.as_deref() {
        Some(text) => match crate::store::RunState::parse(text) {
            Some(state) => Some(state),
            // No run is in a state that does not exist.
            None => {
                return Ok(RunsPage {
                    runs: Vec::new(),
                    next: None,
                });
            }
        },
        None => None,
    };
    let filter = HistoryFilter {
        playbook: query.playbook.clone(),
        since: query.since.map(to_millis),
        limit: None,
    };
    let chunk = limit + 1;
    let mut selected = Vec::with_capacity(chunk);
    loop {
        let runs = store.history_before(&filter, state, before, chunk)?;
        let exhausted = runs.len() < chunk;
        before = runs.last().map(|r| (r.fire_at, r.id)).or(before);
        selected.extend(runs.into_iter().filter_map(|mut run| match &query.account {
            Some(account) => {
                run.outbox.retain(|send| &send.account == account);
                (!run.outbox.is_empty()).then_some(run)
            }
            None => Some(run),
        }));
        if selected.len() > limit || exhausted {
            break;
        }
    }
    let next = (selected.len() > limit).then(|| {
        selected.truncate(limit);
        cursor_of(selected.last().expect("a full page"))
    });
    Ok(RunsPage {
        runs: selected,
        next,
    })
}

/// Run `id` with its steps and sends; `None` if there is none.
pub fn run(store: Option<&Arc<dyn Store>>, id: i64) -> Result<Option<RunView>, StoreError> {
    Ok(history(store, &HistoryFilter::default())?
        .into_iter()
        .find(|run| run.id == id))
}

/// The pauses in force at `now`, each with how many sends it holds.
pub fn pause_holdings(
    plan: &Plan,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Vec<PauseHolding>, StoreError> {
    let pauses = store.pauses(to_millis(now))?;
    if pauses.is_empty() {
        return Ok(Vec::new());
    }
    let held = store.held_sends()?;
    let is_campaign = |name: &str| plan.campaigns.iter().any(|c| c.name == name);
    Ok(pauses
        .into_iter()
        .map(|pause| PauseHolding {
            held: held
                .iter()
                .filter(|h| {
                    pause
                        .scope
                        .covers(&h.account, &h.key.playbook, is_campaign(&h.key.playbook))
                })
                .count(),
            pause,
        })
        .collect())
}
