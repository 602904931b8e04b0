//! A store that keeps everything in plain Rust collections behind one mutex, for
//! rehearsals (`crier rehearse`, where a year of fires must take seconds) and tests. It
//! keeps nothing after the process ends: never use it where a run must survive a restart.
//!
//! It behaves exactly like [`SqliteStore`](super::SqliteStore), which is the reference:
//! ids are assigned the same way (1, 2, 3… per table; a run or send ignored as a duplicate
//! takes no id), rows come back in the same order, claims follow the same rules, a call
//! that fails changes nothing, and the `history`, `timeline` and `status` views are the
//! same. `tests/store.rs` runs one suite of behaviours against both. Where SQLite would
//! refuse a write (an unknown revision, an unknown send), this store refuses it with the
//! same error.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::model::*;
use super::*;
use crate::connectors::OutgoingPost;

/// The in-memory store. `MemoryStore::new()` starts empty.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every method validates before it writes, so a panic leaves no half-done change.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The tables, and the indexes the queries need. A rehearsal holds a year of runs here, so
/// the records avoid small allocations: item keys, accounts and idempotency keys are
/// shared, a run's steps are one vector and its sends a chain through the outbox.
#[derive(Default)]
struct Inner {
    /// digest → id; ids are 1..=len.
    revisions: HashMap<String, i64>,
    /// When the first revision was recorded.
    first_started: Option<Millis>,
    alive: Option<Millis>,
    cursors: BTreeMap<ItemKey, Millis>,
    /// Every (playbook, item) that has a run, numbered in `item_ids`.
    items: Vec<ItemKey>,
    item_ids: HashMap<ItemKey, usize>,
    /// By item number: fire time → run (the unique key, and an item's runs by time).
    by_item: Vec<BTreeMap<Millis, RunId>>,
    /// Run `id` is `runs[id - 1]`.
    runs: Vec<Run>,
    /// (fire time, run) of every run.
    by_fire: BTreeSet<(Millis, RunId)>,
    /// Send `id` is `outbox[id - 1]`.
    outbox: Vec<Outbox>,
    idempotency_keys: HashSet<Arc<str>>,
    accounts: HashSet<Arc<str>>,
    /// (next attempt, id) of every pending send.
    pending: BTreeSet<(Millis, OutboxId)>,
    /// Every send claimed (`sending`).
    sending: BTreeSet<OutboxId>,
    /// (wake time, run, step) of every waiting step that has a wake time.
    waking: BTreeSet<(Millis, RunId, usize)>,
    /// Every failed attempt and why (as SQLite's `attempts` table).
    attempts: Vec<Attempt>,
    /// account → taken at → snapshot.
    metrics: HashMap<String, BTreeMap<Millis, AccountMetrics>>,
    /// Pause `id` is `pauses[id - 1]`, lifted ones included.
    pauses: Vec<Pause>,
    /// Approval `id` is `approvals[id - 1]`.
    approvals: Vec<ApprovalView>,
    approval_ids: HashMap<(ItemKey, Millis), i64>,
    contest_states: HashMap<String, String>,
    contest_entries: HashMap<String, ContestEntries>,
    crisis_states: HashMap<String, String>,
    crisis_cursors: HashMap<(String, String), String>,
    /// Mention `seq` is `crisis_mentions[seq - 1]` (its plan and key), `None` once forgotten.
    crisis_mentions: Vec<Option<(String, String, StoredMention)>>,
    crisis_mention_keys: HashSet<(String, String)>,
    /// Incident `id` is `incidents[&id]`.
    incidents: BTreeMap<i64, IncidentRow>,
    /// Action `id` is `incident_actions[id - 1]`.
    incident_actions: Vec<IncidentActionRow>,
    /// (hook, key) → what the inbound event fired.
    hook_events: HashMap<(String, String), HookReceipt>,
    /// Token `id` is `tokens[id - 1]`.
    tokens: Vec<TokenRow>,
    server_keys: HashMap<String, Vec<u8>>,
    reply_cursors: HashMap<String, String>,
    /// Session `id` is `sessions[id - 1]`.
    sessions: Vec<SessionRow>,
    /// Login link `id` is `login_links[id - 1]`.
    login_links: Vec<LoginLinkRow>,
}

impl Inner {
    fn insert_pause(&mut self, pause: &NewPause, now: Millis) -> i64 {
        let id = self.pauses.len() as i64 + 1;
        self.pauses.push(Pause {
            view: PauseView {
                id,
                scope: pause.scope.clone(),
                until: pause.until,
                reason: pause.reason.clone(),
                by: pause.by.clone(),
                created_at: now,
            },
            lifted: None,
        });
        id
    }

    fn lift_pauses(
        &mut self,
        scope: &PauseScope,
        by: &str,
        paused_by: Option<&str>,
        now: Millis,
    ) -> usize {
        let mut lifted = 0;
        for pause in &mut self.pauses {
            if pause.in_force(now)
                && (*scope == PauseScope::All || pause.view.scope == *scope)
                && paused_by.is_none_or(|p| pause.view.by == p)
            {
                pause.lifted = Some((now, by.to_string()));
                lifted += 1;
            }
        }
        lifted
    }

    fn write_crisis(&mut self, write: &CrisisWrite, now: Millis) {
        self.crisis_states
            .insert(write.plan.clone(), write.state.clone());
        for row in &write.incidents {
            self.incidents.insert(row.id, row.clone());
        }
        for (id, outcome) in &write.applied {
            if let Some(action) = self
                .incident_actions
                .get_mut((*id - 1).max(0) as usize)
                .filter(|a| a.applied_at.is_none())
            {
                action.applied_at = Some(now);
                action.outcome = outcome.clone();
            }
        }
        if let Some(before) = write.forget_mentions_before {
            for slot in &mut self.crisis_mentions {
                if let Some((plan, key, mention)) = slot
                    && *plan == write.plan
                    && mention.at < before
                {
                    self.crisis_mention_keys
                        .remove(&(plan.clone(), key.clone()));
                    *slot = None;
                }
            }
        }
    }
}

/// A contest's entries `(key, entry)` in the order first seen, and key → position.
type ContestEntries = (Vec<(String, String)>, HashMap<String, usize>);

struct Pause {
    view: PauseView,
    lifted: Option<(Millis, String)>,
}

impl Pause {
    fn in_force(&self, now: Millis) -> bool {
        self.lifted.is_none() && self.view.until.is_none_or(|until| until > now)
    }
}

struct Run {
    /// Its number in `Inner::items`.
    item: usize,
    fire_at: Millis,
    revision: i64,
    state: RunState,
    reason: Option<String>,
    current_step: usize,
    created_at: Millis,
    updated_at: Millis,
    /// The pinned specs, each with its row, by index.
    steps: Vec<Step>,
    /// This run's first and last send; the others follow `Outbox::next_in_run`.
    first_send: Option<OutboxId>,
    last_send: Option<OutboxId>,
}

struct Step {
    spec: StepSpec,
    state: StepState,
    wake_at: Option<Millis>,
    reason: Option<String>,
    updated_at: Millis,
}

struct Outbox {
    run_id: RunId,
    /// The run's next send, by id.
    next_in_run: Option<OutboxId>,
    step: usize,
    account: Arc<str>,
    /// The `OutgoingPost`, kept in parts: its playbook and item are the run's unless
    /// `origin` says otherwise.
    idempotency_key: Arc<str>,
    text: String,
    media: Vec<PathBuf>,
    reply_to: Option<String>,
    direct_to: Option<String>,
    notice: bool,
    origin: Option<Box<ItemKey>>,
    state: OutboxState,
    attempts: u32,
    check_first: bool,
    next_attempt_at: Millis,
    remote_id: Option<String>,
    error: Option<String>,
    note: Option<String>,
    claimed_at: Option<Millis>,
    /// Who holds it while `sending`.
    claim: Option<Box<ClaimHeld>>,
    first_attempt_at: Option<Millis>,
    updated_at: Millis,
}

/// A claim on one send, as SQLite's `claimed_by`, `lease_until` and `in_flight_at`.
struct ClaimHeld {
    owner: Arc<str>,
    lease_until: Millis,
    in_flight_at: Option<Millis>,
}

#[allow(dead_code)] // the audit log: written like SQLite's, read by no view yet
struct Attempt {
    outbox_id: OutboxId,
    at: Millis,
    outcome: &'static str,
    detail: String,
}

/// The error SQLite gives when a row names a parent that does not exist.
fn foreign_key_failed() -> StoreError {
    StoreError::Backend("FOREIGN KEY constraint failed".into())
}

/// SQLite's `LIMIT ?` with a usize bound as i64: a value past i64::MAX is negative, which
/// SQLite reads as "no limit".
fn sql_limit(limit: usize) -> usize {
    if (limit as i64) < 0 {
        usize::MAX
    } else {
        limit
    }
}

impl Inner {
    fn run(&self, id: RunId) -> Option<&Run> {
        usize::try_from(id - 1).ok().and_then(|i| self.runs.get(i))
    }

    fn run_mut(&mut self, id: RunId) -> Option<&mut Run> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.runs.get_mut(i))
    }

    fn send(&self, id: OutboxId) -> &Outbox {
        &self.outbox[(id - 1) as usize]
    }

    fn send_mut(&mut self, id: OutboxId) -> &mut Outbox {
        &mut self.outbox[(id - 1) as usize]
    }

    fn knows_send(&self, id: OutboxId) -> bool {
        (1..=self.outbox.len() as OutboxId).contains(&id)
    }

    /// Takes back the claimed sends whose claim `which` selects, as SQLite's `recover`.
    fn recover(&mut self, now: Millis, which: impl Fn(Option<&ClaimHeld>) -> bool) -> Recovered {
        let mut recovered = Recovered::default();
        let taken: Vec<OutboxId> = self
            .sending
            .iter()
            .copied()
            .filter(|id| which(self.send(*id).claim.as_deref()))
            .collect();
        for id in taken {
            let left = self
                .send(id)
                .claim
                .as_ref()
                .is_none_or(|claim| claim.in_flight_at.is_some());
            self.set_send_state(id, OutboxState::Pending, now);
            let send = self.send_mut(id);
            if left {
                send.check_first = true;
                recovered.in_doubt += 1;
            } else {
                send.attempts -= 1;
                recovered.unstarted += 1;
            }
            send.updated_at = now;
        }
        recovered
    }

    /// Whether `owner` holds the claim on send `id`.
    fn claimed_by(&self, id: OutboxId, owner: &str) -> bool {
        self.knows_send(id)
            && self.send(id).state == OutboxState::Sending
            && self
                .send(id)
                .claim
                .as_ref()
                .is_some_and(|claim| &*claim.owner == owner)
    }

    fn key(&self, run: &Run) -> &ItemKey {
        &self.items[run.item]
    }

    /// A run's sends in id order.
    fn sends<'a>(&'a self, run: &Run) -> impl Iterator<Item = (OutboxId, &'a Outbox)> + 'a {
        std::iter::successors(run.first_send, |id| self.send(*id).next_in_run)
            .map(|id| (id, self.send(id)))
    }

    /// A run's sends ordered by (step, id), as every view lists them.
    fn sends_in_order<'a>(&'a self, run: &Run) -> Vec<&'a Outbox> {
        let mut sends: Vec<(OutboxId, &Outbox)> = self.sends(run).collect();
        if !sends.is_sorted_by_key(|(id, send)| (send.step, *id)) {
            sends.sort_by_key(|(id, send)| (send.step, *id));
        }
        sends.into_iter().map(|(_, send)| send).collect()
    }

    fn post(&self, send: &Outbox) -> OutgoingPost {
        let key = match &send.origin {
            Some(origin) => origin,
            None => &self.items[self.runs[(send.run_id - 1) as usize].item],
        };
        OutgoingPost {
            idempotency_key: send.idempotency_key.to_string(),
            text: send.text.clone(),
            media: send.media.clone(),
            reply_to: send.reply_to.clone(),
            playbook: key.playbook.clone(),
            item: key.item.clone(),
            direct_to: send.direct_to.clone(),
            notice: send.notice,
        }
    }

    fn item_id(&self, key: &ItemKey) -> Option<usize> {
        self.item_ids.get(key).copied()
    }

    fn shared_account(&mut self, account: &str) -> Arc<str> {
        if let Some(shared) = self.accounts.get(account) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(account);
        self.accounts.insert(shared.clone());
        shared
    }

    /// Sets a send's state, keeping the index of pending sends in step.
    fn set_send_state(&mut self, id: OutboxId, state: OutboxState, next_attempt_at: Millis) {
        let send = &mut self.outbox[(id - 1) as usize];
        if send.state == OutboxState::Pending {
            self.pending.remove(&(send.next_attempt_at, id));
        }
        if send.state == OutboxState::Sending && state != OutboxState::Sending {
            self.sending.remove(&id);
            send.claim = None;
        }
        send.state = state;
        send.next_attempt_at = next_attempt_at;
        match state {
            OutboxState::Pending => {
                self.pending.insert((next_attempt_at, id));
            }
            OutboxState::Sending => {
                self.sending.insert(id);
            }
            _ => {}
        }
    }

    /// Sets a step's state and wake time, keeping the index of waiting steps in step.
    /// A step that does not exist is left alone (an `UPDATE` that matches no row).
    fn set_step(
        &mut self,
        run_id: RunId,
        index: usize,
        state: StepState,
        reason: Option<String>,
        wake_at: Option<Millis>,
        now: Millis,
    ) {
        let Some(step) = self
            .run_mut(run_id)
            .and_then(|run| run.steps.get_mut(index))
        else {
            return;
        };
        let old = (step.state == StepState::Waiting)
            .then_some(step.wake_at)
            .flatten();
        step.state = state;
        step.reason = reason;
        step.wake_at = wake_at;
        step.updated_at = now;
        if let Some(old) = old {
            self.waking.remove(&(old, run_id, index));
        }
        if let (StepState::Waiting, Some(at)) = (state, wake_at) {
            self.waking.insert((at, run_id, index));
        }
    }

    /// Appends sends to a run; a send whose idempotency key exists already is ignored.
    fn insert_outbox(&mut self, run_id: RunId, rows: &[NewOutbox], now: Millis) {
        for row in rows {
            if self
                .idempotency_keys
                .contains(row.post.idempotency_key.as_str())
            {
                continue;
            }
            let idempotency_key: Arc<str> = Arc::from(row.post.idempotency_key.as_str());
            self.idempotency_keys.insert(idempotency_key.clone());
            let id = self.outbox.len() as OutboxId + 1;
            let run = &self.runs[(run_id - 1) as usize];
            let key = &self.items[run.item];
            let origin = (row.post.playbook != key.playbook || row.post.item != key.item)
                .then(|| Box::new(ItemKey::new(&row.post.playbook, &row.post.item)));
            let previous = run.last_send;
            let account = self.shared_account(&row.account);
            self.outbox.push(Outbox {
                run_id,
                next_in_run: None,
                step: row.step,
                account,
                idempotency_key,
                text: row.post.text.clone(),
                media: row.post.media.clone(),
                reply_to: row.post.reply_to.clone(),
                direct_to: row.post.direct_to.clone(),
                notice: row.post.notice,
                origin,
                state: OutboxState::Pending,
                attempts: 0,
                check_first: false,
                next_attempt_at: row.due,
                remote_id: None,
                error: None,
                note: None,
                claimed_at: None,
                claim: None,
                first_attempt_at: None,
                updated_at: now,
            });
            self.pending.insert((row.due, id));
            match previous {
                Some(previous) => self.send_mut(previous).next_in_run = Some(id),
                None => self.runs[(run_id - 1) as usize].first_send = Some(id),
            }
            self.runs[(run_id - 1) as usize].last_send = Some(id);
        }
    }

    /// `settle_run.sql`: a running run whose steps have all run and whose sends are all
    /// settled is finished, failed if any send failed (the first failure, by id, becomes
    /// its reason), skipped if none was sent and some were dropped (the first one's note
    /// becomes its reason), succeeded otherwise.
    fn settle(&mut self, run_id: RunId, now: Millis) {
        let Some(run) = self.run(run_id) else { return };
        if run.state != RunState::Running || run.current_step < run.steps.len() {
            return;
        }
        let mut failed = None;
        let mut skipped = None;
        let mut sent = false;
        for (_, send) in self.sends(run) {
            match send.state {
                OutboxState::Pending | OutboxState::Sending | OutboxState::Held => return,
                OutboxState::Failed if failed.is_none() => failed = Some(send),
                OutboxState::Skipped if skipped.is_none() => skipped = Some(send),
                OutboxState::Sent => sent = true,
                _ => {}
            }
        }
        let (state, reason) = match (failed, skipped) {
            // `account || ': ' || error` is NULL when the error is.
            (Some(send), _) => (
                RunState::Failed,
                send.error
                    .as_ref()
                    .map(|error| format!("{}: {error}", send.account)),
            ),
            (None, Some(send)) if !sent => (RunState::Skipped, send.note.clone()),
            _ => (RunState::Succeeded, None),
        };
        let run = &mut self.runs[(run_id - 1) as usize];
        run.state = state;
        if reason.is_some() {
            run.reason = reason;
        }
        run.updated_at = now;
    }

    fn view(&self, id: RunId) -> RunView {
        let run = self.run(id).expect("indexed runs exist");
        let key = self.key(run);
        RunView {
            id,
            playbook: key.playbook.clone(),
            item: key.item.clone(),
            fire_at: run.fire_at,
            revision: run.revision,
            state: run.state,
            reason: run.reason.clone(),
            created_at: run.created_at,
            updated_at: run.updated_at,
            steps: run
                .steps
                .iter()
                .enumerate()
                .map(|(index, step)| StepView {
                    index,
                    kind: step.spec.kind().to_string(),
                    state: step.state,
                    wake_at: step.wake_at,
                    reason: step.reason.clone(),
                })
                .collect(),
            outbox: self
                .sends_in_order(run)
                .into_iter()
                .map(|send| OutboxView {
                    step: send.step,
                    account: send.account.to_string(),
                    state: send.state,
                    attempts: send.attempts,
                    next_attempt_at: send.next_attempt_at,
                    remote_id: send.remote_id.clone(),
                    error: send.error.clone(),
                    note: send.note.clone(),
                    text: send.text.clone(),
                    updated_at: send.updated_at,
                })
                .collect(),
        }
    }
}

impl RunStore for MemoryStore {
    fn hook_receipt(&self, hook: &str, key: &str) -> StoreResult<Option<HookReceipt>> {
        Ok(self
            .lock()
            .hook_events
            .get(&(hook.to_string(), key.to_string()))
            .cloned())
    }

    fn commit(&self, batch: &Batch) -> StoreResult<Vec<RunId>> {
        let now = batch.now;
        let mut inner = self.lock();
        if let Some(event) = &batch.hook_event
            && inner
                .hook_events
                .contains_key(&(event.hook.clone(), event.key.clone()))
        {
            return Ok(Vec::new());
        }
        // First which runs are new (the first of several with one key wins), and refuse the
        // whole batch, as SQLite's rollback does, if a new one names an unknown revision.
        let mut seen = HashSet::new();
        let mut new = Vec::with_capacity(batch.runs.len());
        for run in &batch.runs {
            let exists = inner
                .item_id(&run.key)
                .is_some_and(|item| inner.by_item[item].contains_key(&run.fire_at));
            let is_new = !exists && seen.insert((&run.key, run.fire_at));
            if is_new && !(1..=inner.revisions.len() as i64).contains(&run.revision) {
                return Err(foreign_key_failed());
            }
            new.push(is_new);
        }
        let mut ids = Vec::with_capacity(batch.runs.len());
        for (run, _) in batch.runs.iter().zip(new).filter(|(_, new)| *new) {
            let id = inner.runs.len() as RunId + 1;
            let item = match inner.item_id(&run.key) {
                Some(item) => item,
                None => {
                    let item = inner.items.len();
                    inner.items.push(run.key.clone());
                    inner.item_ids.insert(run.key.clone(), item);
                    inner.by_item.push(BTreeMap::new());
                    item
                }
            };
            let steps = run
                .steps
                .iter()
                .enumerate()
                .map(|(index, spec)| {
                    let (state, wake_at) = if index < run.current_step {
                        (StepState::Done, None)
                    } else if index == run.current_step && run.wake_at.is_some() {
                        (StepState::Waiting, run.wake_at)
                    } else if matches!(run.state, RunState::Skipped | RunState::Missed) {
                        (StepState::Skipped, None)
                    } else {
                        (StepState::Pending, None)
                    };
                    if let (StepState::Waiting, Some(at)) = (state, wake_at) {
                        inner.waking.insert((at, id, index));
                    }
                    Step {
                        spec: spec.clone(),
                        state,
                        wake_at,
                        reason: None,
                        updated_at: now,
                    }
                })
                .collect();
            inner.runs.push(Run {
                item,
                fire_at: run.fire_at,
                revision: run.revision,
                state: run.state,
                reason: run.reason.clone(),
                current_step: run.current_step,
                created_at: now,
                updated_at: now,
                steps,
                first_send: None,
                last_send: None,
            });
            inner.by_item[item].insert(run.fire_at, id);
            inner.by_fire.insert((run.fire_at, id));
            inner.insert_outbox(id, &run.outbox, now);
            if run.outbox.is_empty() {
                inner.settle(id, now);
            }
            ids.push(id);
        }
        inner.alive = Some(inner.alive.map_or(now, |at| at.max(now)));
        for (key, at) in &batch.cursors {
            match inner.cursors.get_mut(key) {
                Some(cursor) => *cursor = (*cursor).max(*at),
                None => {
                    inner.cursors.insert(key.clone(), *at);
                }
            }
        }
        for request in &batch.approvals {
            let unique = (request.key.clone(), request.fire_at);
            if inner.approval_ids.contains_key(&unique) {
                continue;
            }
            let id = inner.approvals.len() as i64 + 1;
            inner.approval_ids.insert(unique, id);
            inner.approvals.push(ApprovalView {
                id,
                playbook: request.key.playbook.clone(),
                item: request.key.item.clone(),
                fire_at: request.fire_at,
                approvers: request.approvers.clone(),
                need: request.need.clone(),
                deadline: request.deadline,
                on_timeout: request.on_timeout.clone(),
                text: request.text.clone(),
                accounts: request.accounts.clone(),
                state: ApprovalState::Pending,
                created_at: now,
                decisions: Vec::new(),
            });
        }
        for pause in &batch.pauses {
            inner.insert_pause(pause, now);
        }
        for resume in &batch.resumes {
            inner.lift_pauses(&resume.scope, &resume.by, resume.paused_by.as_deref(), now);
        }
        for write in &batch.crisis {
            inner.write_crisis(write, now);
        }
        if let Some(event) = &batch.hook_event {
            inner.hook_events.insert(
                (event.hook.clone(), event.key.clone()),
                HookReceipt {
                    hook: event.hook.clone(),
                    key: event.key.clone(),
                    received_at: now,
                    runs: ids.clone(),
                },
            );
        }
        Ok(ids)
    }

    fn recover_in_doubt(&self, now: Millis) -> StoreResult<Recovered> {
        Ok(self.lock().recover(now, |claim| {
            claim.is_none_or(|claim| claim.lease_until <= now)
        }))
    }

    fn recover_claims_of(&self, owner_prefix: &str, now: Millis) -> StoreResult<Recovered> {
        Ok(self.lock().recover(now, |claim| {
            claim.is_some_and(|claim| claim.owner.starts_with(owner_prefix))
        }))
    }

    fn claim_outbox(&self, claim: &Claim, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let mut inner = self.lock();
        let mut due: Vec<OutboxId> = inner
            .pending
            .iter()
            .take_while(|(at, _)| *at <= claim.now)
            .map(|(_, id)| *id)
            .filter(|id| {
                let send = inner.send(*id);
                claim.run.is_none_or(|run| send.run_id == run)
                    && !claim.skip_accounts.iter().any(|a| **a == *send.account)
            })
            .take(sql_limit(limit))
            .collect();
        due.sort_unstable();
        let owner: Arc<str> = Arc::from(claim.owner);
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let at = inner.send(id).next_attempt_at;
            inner.set_send_state(id, OutboxState::Sending, at);
            let send = inner.send_mut(id);
            send.attempts += 1;
            send.claimed_at = Some(claim.now);
            send.claim = Some(Box::new(ClaimHeld {
                owner: owner.clone(),
                lease_until: claim.lease_until,
                in_flight_at: None,
            }));
            send.updated_at = claim.now;
            let send = inner.send(id);
            claimed.push(OutboxRow {
                id,
                run_id: send.run_id,
                step: send.step,
                account: send.account.to_string(),
                post: inner.post(send),
                attempts: send.attempts,
                check_first: send.check_first,
                reserved: send.note.is_some(),
                first_attempt_at: send.first_attempt_at,
            });
        }
        Ok(claimed)
    }

    fn mark_in_flight(
        &self,
        owner: &str,
        ids: &[OutboxId],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        let mut inner = self.lock();
        let mut marked = Vec::with_capacity(ids.len());
        for id in ids {
            if !inner.claimed_by(*id, owner) {
                continue;
            }
            let send = inner.send_mut(*id);
            if let Some(claim) = send.claim.as_mut() {
                claim.in_flight_at = Some(now);
            }
            send.first_attempt_at.get_or_insert(now);
            send.updated_at = now;
            marked.push(*id);
        }
        Ok(marked)
    }

    fn renew_claims(
        &self,
        owner: &str,
        ids: &[OutboxId],
        lease_until: Millis,
        now: Millis,
    ) -> StoreResult<usize> {
        let mut inner = self.lock();
        let mut renewed = 0;
        for id in ids {
            if !inner.claimed_by(*id, owner) {
                continue;
            }
            let send = inner.send_mut(*id);
            if let Some(claim) = send.claim.as_mut() {
                claim.lease_until = lease_until;
            }
            send.updated_at = now;
            renewed += 1;
        }
        Ok(renewed)
    }

    fn finish_outbox(
        &self,
        owner: &str,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        let mut inner = self.lock();
        let mut not_ours = Vec::new();
        let mut runs = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            let id = *id;
            // Each send is touched only while `owner` still holds its claim (an earlier
            // outcome in the same call may have finished it).
            if !inner.claimed_by(id, owner) {
                not_ours.push(id);
                continue;
            }
            match outcome {
                OutboxOutcome::Sent { remote_id } => {
                    let at = inner.send(id).next_attempt_at;
                    inner.set_send_state(id, OutboxState::Sent, at);
                    let send = inner.send_mut(id);
                    send.remote_id = Some(remote_id.clone());
                    send.error = None;
                    send.check_first = false;
                    send.updated_at = now;
                }
                OutboxOutcome::Retry {
                    at,
                    error,
                    check_first,
                } => {
                    inner.attempts.push(Attempt {
                        outbox_id: id,
                        at: now,
                        outcome: "retry",
                        detail: error.clone(),
                    });
                    inner.set_send_state(id, OutboxState::Pending, *at);
                    let send = inner.send_mut(id);
                    send.error = Some(error.clone());
                    send.check_first = *check_first;
                    send.updated_at = now;
                }
                OutboxOutcome::Failed { error } => {
                    inner.attempts.push(Attempt {
                        outbox_id: id,
                        at: now,
                        outcome: "failed",
                        detail: error.clone(),
                    });
                    let at = inner.send(id).next_attempt_at;
                    inner.set_send_state(id, OutboxState::Failed, at);
                    let send = inner.send_mut(id);
                    send.error = Some(error.clone());
                    send.updated_at = now;
                }
                OutboxOutcome::Held { note } => {
                    let at = inner.send(id).next_attempt_at;
                    inner.set_send_state(id, OutboxState::Held, at);
                    let send = inner.send_mut(id);
                    send.attempts -= 1;
                    send.note = Some(note.clone());
                    send.updated_at = now;
                }
                OutboxOutcome::Deferred { at, note } => {
                    inner.set_send_state(id, OutboxState::Pending, *at);
                    let send = inner.send_mut(id);
                    send.attempts -= 1;
                    send.note = Some(note.clone());
                    send.updated_at = now;
                }
            }
            runs.push(inner.send(id).run_id);
        }
        runs.sort_unstable();
        runs.dedup();
        for run_id in runs {
            inner.settle(run_id, now);
        }
        Ok(not_ours)
    }

    fn latest_remote_id(&self, key: &ItemKey, account: &str) -> StoreResult<Option<String>> {
        let inner = self.lock();
        let Some(item) = inner.item_id(key) else {
            return Ok(None);
        };
        // The latest run that sent with the account; within it, the first such send by id.
        for run_id in inner.by_item[item].values().rev() {
            let run = inner.run(*run_id).expect("indexed runs exist");
            let sent = inner
                .sends(run)
                .map(|(_, send)| send)
                .find(|send| &*send.account == account && send.state == OutboxState::Sent);
            if let Some(send) = sent {
                return Ok(send.remote_id.clone());
            }
        }
        Ok(None)
    }

    fn next_outbox_due(&self) -> StoreResult<Option<Millis>> {
        Ok(self.lock().pending.first().map(|(at, _)| *at))
    }

    fn waiting_steps_due(&self, now: Millis) -> StoreResult<Vec<WaitingStep>> {
        let inner = self.lock();
        Ok(inner
            .waking
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .map(|(_, run_id, step)| {
                let run = inner.run(*run_id).expect("indexed runs exist");
                WaitingStep {
                    run_id: *run_id,
                    key: inner.key(run).clone(),
                    fire_at: run.fire_at,
                    step: *step,
                    steps: run.steps.iter().map(|step| step.spec.clone()).collect(),
                }
            })
            .collect())
    }

    fn next_wake(&self) -> StoreResult<Option<Millis>> {
        Ok(self.lock().waking.first().map(|(at, _, _)| *at))
    }

    fn advance_run(&self, advance: &RunAdvance, now: Millis) -> StoreResult<()> {
        let mut inner = self.lock();
        let run_id = advance.run_id;
        let open = inner
            .run(run_id)
            .and_then(|run| run.steps.get(advance.step))
            .is_some_and(|step| matches!(step.state, StepState::Waiting | StepState::Pending));
        if !open {
            return Ok(()); // already moved on (a decision and a timeout raced)
        }
        inner.set_step(
            run_id,
            advance.step,
            advance.outcome,
            advance.reason.clone(),
            None,
            now,
        );
        for (index, state) in &advance.passed {
            inner.set_step(run_id, *index, *state, None, None, now);
        }
        if let Some(wake_at) = advance.wake_at {
            inner.set_step(
                run_id,
                advance.current_step,
                StepState::Waiting,
                None,
                Some(wake_at),
                now,
            );
        }
        let (state, reason) = match (&advance.finish, advance.wake_at) {
            (Some((state, reason)), _) => (*state, Some(reason.clone())),
            (None, Some(_)) => (RunState::Waiting, None),
            (None, None) => (RunState::Running, None),
        };
        let run = inner.run_mut(run_id).expect("checked above");
        run.current_step = advance.current_step;
        run.state = state;
        if reason.is_some() {
            run.reason = reason;
        }
        run.updated_at = now;
        inner.insert_outbox(run_id, &advance.outbox, now);
        inner.settle(run_id, now);
        Ok(())
    }

    fn send_slots(&self, since: Millis, now: Millis) -> StoreResult<Vec<SendSlot>> {
        let inner = self.lock();
        let mut slots = Vec::new();
        for id in 1..=inner.outbox.len() as OutboxId {
            let send = inner.send(id);
            // Direct messages and notices to the team are not posts: no limit counts them.
            if send.direct_to.is_some() || send.notice {
                continue;
            }
            let at = match (send.state, send.claimed_at) {
                (OutboxState::Sent | OutboxState::Sending, Some(claimed)) if claimed >= since => {
                    claimed
                }
                (OutboxState::Pending, _) if send.next_attempt_at > now => send.next_attempt_at,
                _ => continue,
            };
            let run = inner.run(send.run_id).expect("sends belong to runs");
            slots.push(SendSlot {
                id,
                account: send.account.to_string(),
                playbook: inner.key(run).playbook.clone(),
                at,
            });
        }
        Ok(slots)
    }
}

impl ScheduleStore for MemoryStore {
    fn record_revision(&self, digest: &str, now: Millis) -> StoreResult<i64> {
        let mut inner = self.lock();
        if let Some(id) = inner.revisions.get(digest) {
            return Ok(*id);
        }
        inner.first_started.get_or_insert(now);
        let id = inner.revisions.len() as i64 + 1;
        inner.revisions.insert(digest.to_string(), id);
        Ok(id)
    }

    fn last_alive(&self) -> StoreResult<Option<Millis>> {
        Ok(self.lock().alive)
    }

    fn first_started(&self) -> StoreResult<Option<Millis>> {
        Ok(self.lock().first_started)
    }

    fn cursors(&self) -> StoreResult<Vec<(ItemKey, Millis)>> {
        Ok(self
            .lock()
            .cursors
            .iter()
            .map(|(key, at)| (key.clone(), *at))
            .collect())
    }

    fn latest_fires(&self, limit: usize) -> StoreResult<(Vec<(ItemKey, Millis)>, usize)> {
        let inner = self.lock();
        let mut latest: Vec<(ItemKey, Millis)> = inner
            .cursors
            .iter()
            .map(|(key, at)| (key.clone(), *at))
            .collect();
        latest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        latest.truncate(limit);
        Ok((latest, inner.cursors.len()))
    }
}

impl ApprovalStore for MemoryStore {
    fn approval_for(&self, key: &ItemKey, fire_at: Millis) -> StoreResult<Option<ApprovalView>> {
        let inner = self.lock();
        Ok(inner
            .approval_ids
            .get(&(key.clone(), fire_at))
            .map(|id| inner.approvals[(*id - 1) as usize].clone()))
    }

    fn approval(&self, id: i64) -> StoreResult<Option<ApprovalView>> {
        let inner = self.lock();
        Ok(usize::try_from(id - 1)
            .ok()
            .and_then(|index| inner.approvals.get(index))
            .cloned())
    }

    fn approvals(&self, pending_only: bool) -> StoreResult<Vec<ApprovalView>> {
        let inner = self.lock();
        let mut list: Vec<ApprovalView> = inner
            .approvals
            .iter()
            .filter(|a| !pending_only || a.state == ApprovalState::Pending)
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.fire_at, a.id));
        Ok(list)
    }

    fn decide(
        &self,
        id: i64,
        by: &str,
        decision: Decision,
        note: Option<&str>,
        now: Millis,
    ) -> StoreResult<ApprovalView> {
        let mut inner = self.lock();
        let Some(index) = usize::try_from(id - 1)
            .ok()
            .filter(|index| *index < inner.approvals.len())
        else {
            return Err(foreign_key_failed());
        };
        let approval = &mut inner.approvals[index];
        approval.decisions.push(DecisionView {
            by: by.to_string(),
            decision,
            note: note.map(str::to_string),
            at: now,
        });
        let state = approval.state_from_decisions();
        let changed = state != approval.state;
        approval.state = state;
        let view = approval.clone();
        if changed {
            let key = ItemKey::new(&view.playbook, &view.item);
            let run_id = inner
                .item_id(&key)
                .and_then(|item| inner.by_item[item].get(&view.fire_at).copied());
            if let Some(run_id) = run_id {
                let waiting: Vec<(usize, Option<String>)> = inner
                    .run(run_id)
                    .map(|run| {
                        run.steps
                            .iter()
                            .enumerate()
                            .filter(|(_, step)| {
                                step.state == StepState::Waiting && step.spec.kind() == "approve"
                            })
                            .map(|(index, step)| (index, step.reason.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                for (index, reason) in waiting {
                    inner.set_step(run_id, index, StepState::Waiting, reason, Some(now), now);
                }
            }
        }
        Ok(view)
    }
}

impl PauseStore for MemoryStore {
    fn pause(&self, pause: &NewPause, now: Millis) -> StoreResult<i64> {
        Ok(self.lock().insert_pause(pause, now))
    }

    fn resume(&self, scope: &PauseScope, by: &str, now: Millis) -> StoreResult<usize> {
        Ok(self.lock().lift_pauses(scope, by, None, now))
    }

    fn pauses(&self, now: Millis) -> StoreResult<Vec<PauseView>> {
        Ok(self
            .lock()
            .pauses
            .iter()
            .filter(|pause| pause.in_force(now))
            .map(|pause| pause.view.clone())
            .collect())
    }

    fn held_sends(&self) -> StoreResult<Vec<HeldSend>> {
        let inner = self.lock();
        Ok((1..=inner.outbox.len() as OutboxId)
            .filter(|id| inner.send(*id).state == OutboxState::Held)
            .map(|id| {
                let send = inner.send(id);
                let run = inner.run(send.run_id).expect("sends belong to runs");
                HeldSend {
                    id,
                    run_id: send.run_id,
                    key: inner.key(run).clone(),
                    fire_at: run.fire_at,
                    account: send.account.to_string(),
                }
            })
            .collect())
    }

    fn release_held(&self, releases: &[(OutboxId, Release)], now: Millis) -> StoreResult<()> {
        let mut inner = self.lock();
        let mut runs = Vec::new();
        for (id, release) in releases {
            let id = *id;
            if !inner.knows_send(id) || inner.send(id).state != OutboxState::Held {
                continue;
            }
            match release {
                Release::Send => {
                    inner.set_send_state(id, OutboxState::Pending, now);
                    inner.send_mut(id).note = None;
                }
                Release::Skip { reason } => {
                    let at = inner.send(id).next_attempt_at;
                    inner.set_send_state(id, OutboxState::Skipped, at);
                    inner.send_mut(id).note = Some(reason.clone());
                }
            }
            inner.send_mut(id).updated_at = now;
            runs.push(inner.send(id).run_id);
        }
        runs.sort_unstable();
        runs.dedup();
        for run_id in runs {
            inner.settle(run_id, now);
        }
        Ok(())
    }
}

impl ContestStore for MemoryStore {
    fn contest_state(&self, contest: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().contest_states.get(contest).cloned())
    }

    fn put_contest_state(&self, contest: &str, state: &str, _now: Millis) -> StoreResult<()> {
        self.lock()
            .contest_states
            .insert(contest.to_string(), state.to_string());
        Ok(())
    }

    fn contest_entries(&self, contest: &str) -> StoreResult<Vec<(String, String)>> {
        // SQLite orders by (first_seen, key); here, the order first seen within one call
        // is the order given, which the callers keep sorted by key.
        Ok(self
            .lock()
            .contest_entries
            .get(contest)
            .map(|(entries, _)| entries.clone())
            .unwrap_or_default())
    }

    fn contest_entries_of(
        &self,
        contest: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        let inner = self.lock();
        let Some((list, index)) = inner.contest_entries.get(contest) else {
            return Ok(Vec::new());
        };
        Ok(keys
            .iter()
            .filter_map(|key| index.get(key).map(|at| list[*at].clone()))
            .collect())
    }

    fn put_contest_entries(
        &self,
        contest: &str,
        entries: &[(String, String)],
        _now: Millis,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let (list, index) = inner
            .contest_entries
            .entry(contest.to_string())
            .or_default();
        for (key, entry) in entries {
            match index.get(key) {
                Some(position) => list[*position].1 = entry.clone(),
                None => {
                    index.insert(key.clone(), list.len());
                    list.push((key.clone(), entry.clone()));
                }
            }
        }
        Ok(())
    }
}

impl CrisisStore for MemoryStore {
    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().crisis_states.get(plan).cloned())
    }

    fn crisis_states(&self) -> StoreResult<Vec<(String, String)>> {
        let mut states: Vec<_> = self
            .lock()
            .crisis_states
            .iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect();
        states.sort();
        Ok(states)
    }

    fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>> {
        Ok(self
            .lock()
            .crisis_cursors
            .get(&(plan.to_string(), account.to_string()))
            .cloned())
    }

    fn add_crisis_mentions(
        &self,
        plan: &str,
        account: &str,
        mentions: &[NewMention],
        cursor: Option<&str>,
        _now: Millis,
    ) -> StoreResult<usize> {
        let mut inner = self.lock();
        let mut new = 0;
        for mention in mentions {
            if !inner
                .crisis_mention_keys
                .insert((plan.to_string(), mention.key.clone()))
            {
                continue;
            }
            let seq = inner.crisis_mentions.len() as i64 + 1;
            inner.crisis_mentions.push(Some((
                plan.to_string(),
                mention.key.clone(),
                StoredMention {
                    seq,
                    at: mention.at,
                    author: mention.author.clone(),
                    text: mention.text.clone(),
                },
            )));
            new += 1;
        }
        if let Some(cursor) = cursor {
            inner
                .crisis_cursors
                .insert((plan.to_string(), account.to_string()), cursor.to_string());
        }
        Ok(new)
    }

    fn crisis_mentions_page(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredMention>> {
        let inner = self.lock();
        Ok(inner
            .crisis_mentions
            .iter()
            .skip(after_seq.max(0) as usize)
            .flatten()
            .filter(|(p, _, m)| p == plan && m.at >= since)
            .take(sql_limit(limit))
            .map(|(_, _, m)| m.clone())
            .collect())
    }

    fn incidents(&self) -> StoreResult<Vec<IncidentRow>> {
        Ok(self.lock().incidents.values().rev().cloned().collect())
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
        Ok(self.lock().incidents.get(&id).cloned())
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        Ok(self
            .lock()
            .incidents
            .keys()
            .next_back()
            .map_or(1, |id| id + 1))
    }

    fn add_incident_action(&self, incident: i64, action: &str, now: Millis) -> StoreResult<i64> {
        let mut inner = self.lock();
        if !inner.incidents.contains_key(&incident) {
            return Err(foreign_key_failed());
        }
        let id = inner.incident_actions.len() as i64 + 1;
        inner.incident_actions.push(IncidentActionRow {
            id,
            incident,
            action: action.to_string(),
            at: now,
            applied_at: None,
            outcome: None,
        });
        Ok(id)
    }

    fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>> {
        let inner = self.lock();
        Ok(inner
            .incident_actions
            .iter()
            .filter(|a| a.applied_at.is_none())
            .filter(|a| {
                inner
                    .incidents
                    .get(&a.incident)
                    .is_some_and(|i| i.plan == plan)
            })
            .cloned()
            .collect())
    }

    fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>> {
        Ok(self
            .lock()
            .incident_actions
            .get((id - 1).max(0) as usize)
            .filter(|a| a.id == id)
            .cloned())
    }
}

impl MetricsStore for MemoryStore {
    fn record_metrics(
        &self,
        account: &str,
        metrics: &AccountMetrics,
        at: Millis,
    ) -> StoreResult<()> {
        self.lock()
            .metrics
            .entry(account.to_owned())
            .or_default()
            .insert(at, *metrics);
        Ok(())
    }

    fn latest_metrics(&self, account: &str) -> StoreResult<Option<(Millis, AccountMetrics)>> {
        Ok(self
            .lock()
            .metrics
            .get(account)
            .and_then(|snapshots| snapshots.last_key_value())
            .map(|(at, metrics)| (*at, *metrics)))
    }

    fn recent_remote_ids(
        &self,
        account: &str,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let inner = self.lock();
        let mut sent: Vec<(Millis, usize, &str)> = inner
            .outbox
            .iter()
            .enumerate()
            .filter(|(_, send)| {
                &*send.account == account
                    && send.state == OutboxState::Sent
                    && send.updated_at >= since
            })
            .filter_map(|(index, send)| {
                send.remote_id
                    .as_deref()
                    .map(|remote_id| (send.updated_at, index, remote_id))
            })
            .collect();
        // As SQLite orders them: newest first, then by id, descending.
        sent.sort_by_key(|&(at, index, _)| std::cmp::Reverse((at, index)));
        Ok(sent
            .into_iter()
            .take(limit)
            .map(|(_, _, remote_id)| remote_id.to_owned())
            .collect())
    }
}

impl ViewStore for MemoryStore {
    fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<RunView>> {
        let inner = self.lock();
        let limit = filter.limit.map_or(usize::MAX, sql_limit);
        Ok(inner
            .by_fire
            .iter()
            .rev()
            .take_while(|(fire_at, _)| filter.since.is_none_or(|since| *fire_at >= since))
            .map(|(_, id)| *id)
            .filter(|id| {
                filter.playbook.as_ref().is_none_or(|playbook| {
                    inner.key(&inner.runs[(*id - 1) as usize]).playbook == *playbook
                })
            })
            .take(limit)
            .map(|id| inner.view(id))
            .collect())
    }

    fn timeline(&self) -> StoreResult<Vec<TimelineRow>> {
        let inner = self.lock();
        let mut timeline = Vec::with_capacity(inner.runs.len().max(inner.outbox.len()));
        for (_, id) in &inner.by_fire {
            let run = inner.run(*id).expect("indexed runs exist");
            let key = inner.key(run);
            let row = |send| TimelineRow {
                fire_at: run.fire_at,
                playbook: key.playbook.clone(),
                item: key.item.clone(),
                state: run.state,
                reason: run.reason.clone(),
                send,
            };
            if run.first_send.is_none() {
                timeline.push(row(None));
                continue;
            }
            for send in inner.sends_in_order(run) {
                timeline.push(row(Some(TimelineSend {
                    account: send.account.to_string(),
                    state: send.state,
                    text: send.text.clone(),
                    error: send.error.clone(),
                    reply_to: send.reply_to.clone(),
                    remote_id: send.remote_id.clone(),
                    updated_at: send.updated_at,
                    note: send.note.clone(),
                })));
            }
        }
        Ok(timeline)
    }

    fn status(&self) -> StoreResult<StatusView> {
        let inner = self.lock();
        // GROUP BY state ORDER BY state: the states present, by name.
        let mut runs: BTreeMap<&'static str, i64> = BTreeMap::new();
        for run in &inner.runs {
            *runs.entry(run.state.as_str()).or_default() += 1;
        }
        let mut outbox: BTreeMap<&'static str, i64> = BTreeMap::new();
        for send in &inner.outbox {
            *outbox.entry(send.state.as_str()).or_default() += 1;
        }
        let in_flight = inner
            .by_fire
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| {
                matches!(
                    inner.runs[(*id - 1) as usize].state,
                    RunState::Running | RunState::Waiting
                )
            })
            .take(100)
            .map(|id| inner.view(id))
            .collect();
        let counts = |map: BTreeMap<&str, i64>| {
            map.into_iter()
                .map(|(state, count)| (state.to_string(), count))
                .collect()
        };
        Ok(StatusView {
            runs: counts(runs),
            outbox: counts(outbox),
            in_flight,
        })
    }
}
impl TokenStore for MemoryStore {
    fn add_token(&self, token: &NewToken, now: Millis) -> StoreResult<i64> {
        let mut inner = self.lock();
        if inner.tokens.iter().any(|t| t.sha256 == token.sha256) {
            return Err(StoreError::Corrupt(
                "UNIQUE constraint failed: tokens.sha256".into(),
            ));
        }
        let id = inner.tokens.len() as i64 + 1;
        inner.tokens.push(TokenRow {
            id,
            person: token.person.clone(),
            name: token.name.clone(),
            sha256: token.sha256.clone(),
            created_at: now,
            expires_at: token.expires_at,
            revoked_at: None,
        });
        Ok(id)
    }

    fn token_by_sha256(&self, sha256: &str) -> StoreResult<Option<TokenRow>> {
        Ok(self
            .lock()
            .tokens
            .iter()
            .find(|t| t.sha256 == sha256)
            .cloned())
    }

    fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        Ok(self.lock().tokens.clone())
    }

    fn revoke_token(&self, id: i64, now: Millis) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner
            .tokens
            .iter_mut()
            .find(|t| t.id == id && t.revoked_at.is_none())
        {
            Some(token) => {
                token.revoked_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl crate::store::LinkStore for MemoryStore {
    fn server_key(&self, name: &str, fresh: &[u8], _now: Millis) -> StoreResult<Vec<u8>> {
        Ok(self
            .lock()
            .server_keys
            .entry(name.to_string())
            .or_insert_with(|| fresh.to_vec())
            .clone())
    }

    fn reply_cursor(&self, account: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().reply_cursors.get(account).cloned())
    }

    fn put_reply_cursor(&self, account: &str, cursor: &str, _now: Millis) -> StoreResult<()> {
        self.lock()
            .reply_cursors
            .insert(account.to_string(), cursor.to_string());
        Ok(())
    }
}

impl SessionStore for MemoryStore {
    fn add_session(&self, new: &NewSession, now: Millis) -> StoreResult<i64> {
        let mut inner = self.lock();
        if inner.sessions.iter().any(|s| s.sha256 == new.sha256) {
            return Err(StoreError::Corrupt(
                "UNIQUE constraint failed: sessions.sha256".into(),
            ));
        }
        let id = inner.sessions.len() as i64 + 1;
        inner.sessions.push(SessionRow {
            id,
            person: new.person.clone(),
            sha256: new.sha256.clone(),
            csrf: new.csrf.clone(),
            created_at: now,
            expires_at: new.expires_at,
            ended_at: None,
        });
        Ok(id)
    }

    fn session_by_sha256(&self, sha256: &str) -> StoreResult<Option<SessionRow>> {
        Ok(self
            .lock()
            .sessions
            .iter()
            .find(|s| s.sha256 == sha256)
            .cloned())
    }

    fn end_session(&self, sha256: &str, now: Millis) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner
            .sessions
            .iter_mut()
            .find(|s| s.sha256 == sha256 && s.ended_at.is_none())
        {
            Some(session) => {
                session.ended_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn add_login_link(&self, new: &NewLoginLink, now: Millis) -> StoreResult<i64> {
        let mut inner = self.lock();
        if inner.login_links.iter().any(|l| l.sha256 == new.sha256) {
            return Err(StoreError::Corrupt(
                "UNIQUE constraint failed: login_links.sha256".into(),
            ));
        }
        let id = inner.login_links.len() as i64 + 1;
        inner.login_links.push(LoginLinkRow {
            id,
            person: new.person.clone(),
            sha256: new.sha256.clone(),
            created_at: now,
            expires_at: new.expires_at,
            used_at: None,
        });
        Ok(id)
    }

    fn use_login_link(&self, sha256: &str, now: Millis) -> StoreResult<Option<LoginLinkRow>> {
        let mut inner = self.lock();
        let Some(link) = inner.login_links.iter_mut().find(|l| l.sha256 == sha256) else {
            return Ok(None);
        };
        let found = link.clone();
        if link.used_at.is_none() && link.expires_at > now {
            link.used_at = Some(now);
        }
        Ok(Some(found))
    }
}
