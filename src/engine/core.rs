//! The engine: turns due fires into durable runs, catches up after downtime by each item's
//! `missed:` policy, and moves runs through their steps (`post`, `notify`, `wait`,
//! `approve`). It never sends anything itself: a post step becomes outbox rows, committed
//! with the run, that the dispatcher sends. The same engine runs under `crier run` (system
//! clock) and `crier rehearse` (virtual clock).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::timeline::{ItemRef, Queue, fires_between, items, next_fire};
use crate::connectors::OutgoingPost;
use crate::contest::lifecycle::Seeds;
use crate::crisis::CrisisSignals;
use crate::crisis::runner::RunnerState;
use crate::playbook::plan::{ApprovalPlan, Plan, PostPlan};
use crate::playbook::raw::{Missed, PostApprovalTimeout, Then};
use crate::preview::campaign_context;
use crate::script::{ConditionInput, MetricsSource, NoData, ScriptEngine};
use crate::store::{
    ApprovalState, Batch, ItemKey, Millis, NewApproval, NewOutbox, NewRun, Release, RunAdvance,
    RunId, RunState, StepSpec, StepState, Store, StoreResult, WaitingStep, from_millis,
    idempotency_key, to_millis,
};
use crate::text::TextTemplates;

/// A fire later than this after its time is treated as missed (laptop asleep, process
/// paused), so that waking up never causes a burst beyond the item's policy.
pub const LATE_GRACE: TimeDelta = TimeDelta::seconds(60);
/// Missed fires recorded per transaction while catching up after downtime: a month of an
/// every-minute item is recorded in a few bounded commits, never all at once.
const CATCH_UP_CHUNK: usize = 10_000;

/// What the engine needs besides the plan.
#[derive(Clone)]
pub struct EngineParts {
    pub store: Arc<dyn Store>,
    pub scripts: Arc<ScriptEngine>,
    pub texts: Arc<TextTemplates>,
    pub metrics: Arc<dyn MetricsSource>,
}

impl EngineParts {
    pub fn new(store: Arc<dyn Store>) -> Self {
        EngineParts {
            store,
            scripts: Arc::new(ScriptEngine::new()),
            texts: Arc::new(TextTemplates::new()),
            metrics: Arc::new(NoData),
        }
    }
}

pub struct Engine {
    pub(super) plan: Arc<Plan>,
    pub(super) revision: i64,
    pub(super) parts: EngineParts,
    queue: Queue,
    /// The last fire handled per item, as the store has it.
    cursors: HashMap<ItemKey, DateTime<Utc>>,
    /// The items that need approval, and up to when their requests are open.
    needs_approval: Vec<ItemRef>,
    asked_until: HashMap<ItemKey, DateTime<Utc>>,
    /// Each crisis plan's runner state and mention windows as last committed (rebuilt from
    /// the store when missing).
    pub(super) crises: HashMap<String, (RunnerState, CrisisSignals)>,
}

/// The note of a run fired by `crier trigger` (followed by " by NAME" when a person is
/// named): a person's act, which needs no approval.
pub const TRIGGERED_BY_HAND: &str = "triggered by hand";

impl Engine {
    /// An engine for `plan`, whose content digest identifies the revision runs are pinned to.
    pub fn new(
        plan: Arc<Plan>,
        digest: &str,
        parts: EngineParts,
        now: DateTime<Utc>,
    ) -> StoreResult<Engine> {
        let revision = parts.store.record_revision(digest, to_millis(now))?;
        let cursors = parts
            .store
            .cursors()?
            .into_iter()
            .map(|(key, at)| (key, from_millis(at)))
            .collect();
        Ok(Engine {
            plan,
            revision,
            parts,
            queue: Queue::default(),
            cursors,
            needs_approval: Vec::new(),
            asked_until: HashMap::new(),
            crises: HashMap::new(),
        })
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.parts.store
    }

    /// Takes a new revision of the playbooks: future fires follow it (a deleted post never
    /// goes out); runs already created keep the steps they were created with.
    pub fn replace_plan(
        &mut self,
        plan: Arc<Plan>,
        digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Fires already due belong to the old revision; without this, a reload at the very
        // moment of a fire would count it as missed.
        self.fire_due(now)?;
        self.revision = self.parts.store.record_revision(digest, to_millis(now))?;
        self.plan = plan;
        // Keywords or word lists may have changed: windows are rebuilt from stored mentions.
        self.crises.clear();
        self.start(now)
    }

    /// Fills the timer queue. Every item catches up, by its policy, on the fires it missed
    /// since its last fire, or, for an item that never fired, since the engine was last
    /// alive (so a post added while crier was down is treated like one it missed). On the
    /// very first start there is nothing to catch up.
    pub fn start(&mut self, now: DateTime<Utc>) -> StoreResult<()> {
        self.queue.clear();
        let alive = self
            .parts
            .store
            .last_alive()?
            .map(from_millis)
            .unwrap_or(now)
            .min(now);
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        let items = items(&self.plan);
        self.queue.reserve(items.len());
        self.needs_approval = items
            .iter()
            .copied()
            .filter(|item| item.post(&self.plan).approve.is_some())
            .collect();
        for item in items {
            let cursor = self
                .cursors
                .get(&item.key(&self.plan))
                .copied()
                .unwrap_or(alive);
            self.catch_up(item, cursor, now, &mut batch)?;
        }
        self.commit(batch)
    }

    /// When the next fire is due.
    pub fn next_fire(&self) -> Option<DateTime<Utc>> {
        self.queue.peek()
    }

    pub fn scheduled_items(&self) -> usize {
        self.queue.len()
    }

    /// Turns every fire due at `now` into runs, committed together (with the record that
    /// the engine was alive at `now`, even when nothing fired).
    ///
    /// If the store fails, nothing is lost: the fires go back in the queue and the cursors
    /// are read again from the store, so the next call fires them again.
    pub fn fire_due(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        if self.queue.peek().is_none_or(|at| at > now) {
            return self.fire_due_now(now);
        }
        let queue = self.queue.clone();
        self.fire_due_now(now).inspect_err(|_| {
            self.queue = queue;
            if let Ok(cursors) = self.parts.store.cursors() {
                self.cursors = cursors
                    .into_iter()
                    .map(|(key, at)| (key, from_millis(at)))
                    .collect();
            }
        })
    }

    fn fire_due_now(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        while let Some((at, item)) = self.queue.pop_due(now) {
            if now - at > LATE_GRACE {
                // Woken long after the fire (the machine slept): the missed policy decides.
                let cursor = self
                    .cursors
                    .get(&item.key(&self.plan))
                    .copied()
                    .unwrap_or(at - TimeDelta::milliseconds(1));
                self.catch_up(item, cursor, now, &mut batch)?;
                continue;
            }
            self.fire(item, at, now, &mut batch)?;
        }
        let fired = batch.runs.len();
        self.commit(batch)?;
        Ok(fired)
    }

    /// Rehearsals: fires what is due up to `horizon` in one commit, each run as if created
    /// at its own fire time, and returns how far it got. Only valid on a virtual clock, where
    /// nothing happens between two fires but what the engine itself does; so it stops early,
    /// at the last fire handled, before a post that replies to another (the earlier sends
    /// must go out first, to have the id to reply to) and before passing a step's wake time.
    pub fn fire_until(&mut self, horizon: DateTime<Utc>) -> StoreResult<DateTime<Utc>> {
        let mut batch = Batch {
            now: to_millis(horizon),
            ..Batch::default()
        };
        let mut reached = horizon;
        let mut earliest_wake: Option<Millis> = None;
        while let Some(at) = self.queue.peek().filter(|at| *at <= horizon) {
            if let Some(last) = batch.runs.last() {
                let replies = self
                    .queue
                    .peek_item()
                    .is_some_and(|item| item.post(&self.plan).reply_to.is_some());
                let wakes_first = earliest_wake.is_some_and(|wake| wake <= to_millis(at));
                if replies || wakes_first {
                    reached = from_millis(last.fire_at);
                    break;
                }
            }
            let (at, item) = self.queue.pop_due(horizon).expect("peeked");
            self.fire(item, at, at, &mut batch)?;
            if let Some(wake) = batch.runs.last().and_then(|run| run.wake_at) {
                earliest_wake = Some(earliest_wake.map_or(wake, |w| w.min(wake)));
            }
        }
        batch.now = to_millis(reached);
        self.commit(batch)?;
        Ok(reached)
    }

    /// Fires one item now, whatever its schedule (`crier trigger`).
    pub fn trigger(
        &mut self,
        playbook: &str,
        item: &str,
        now: DateTime<Utc>,
    ) -> Result<RunId, TriggerError> {
        self.trigger_as(playbook, item, TRIGGERED_BY_HAND.into(), now)
    }

    /// [`Engine::trigger`], the run noting who fired it ("triggered by hand by NAME").
    pub fn trigger_by(
        &mut self,
        playbook: &str,
        item: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RunId, TriggerError> {
        self.trigger_as(playbook, item, format!("{TRIGGERED_BY_HAND} by {by}"), now)
    }

    fn trigger_as(
        &mut self,
        playbook: &str,
        item: &str,
        note: String,
        now: DateTime<Utc>,
    ) -> Result<RunId, TriggerError> {
        let found = items(&self.plan)
            .into_iter()
            .find(|i| i.campaign(&self.plan).name == playbook && i.post(&self.plan).id == item);
        let Some(item_ref) = found else {
            let known: Vec<String> = items(&self.plan)
                .iter()
                .map(|i| i.key(&self.plan).to_string())
                .collect();
            let wanted = format!("{playbook}/{item}");
            let hint = crate::diagnostic::did_you_mean(&wanted, known.iter().map(String::as_str));
            return Err(TriggerError::UnknownItem { item: wanted, hint });
        };
        let run = self.new_run(item_ref, now, now, Some(note))?;
        let ids = self.parts.store.commit(&Batch {
            now: to_millis(now),
            runs: vec![run],
            ..Batch::default()
        })?;
        ids.first().copied().ok_or(TriggerError::AlreadyFired)
    }

    /// Moves on every run whose waiting step's time has come. A run whose step cannot be
    /// decided because the store failed stays waiting, due, and is tried again next time;
    /// the others move on, and the first such error is returned.
    pub fn resume_waiting(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let due = self.parts.store.waiting_steps_due(to_millis(now))?;
        let mut first_error = None;
        let mut moved = 0;
        for waiting in &due {
            let advanced = self
                .wake(waiting, now)
                .and_then(|advance| self.parts.store.advance_run(&advance, to_millis(now)));
            match advanced {
                Ok(()) => moved += 1,
                Err(error) => {
                    tracing::error!(run = waiting.run_id, "the run stays waiting: {error}");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(moved),
        }
    }

    /// Moves every contest on to where `now` says it should be (announce, freeze and
    /// commit, draw and tell the winners).
    pub fn tick_contests(&self, now: DateTime<Utc>, seeds: Seeds) -> StoreResult<()> {
        let parts = self.contest_parts(seeds);
        for contest in &self.plan.contests {
            crate::contest::lifecycle::tick(&parts, contest, now)?;
        }
        Ok(())
    }

    /// What the contest lifecycle needs from this engine.
    pub fn contest_parts(&self, seeds: Seeds) -> crate::contest::lifecycle::Parts<'_> {
        crate::contest::lifecycle::Parts {
            plan: &self.plan,
            store: self.parts.store.as_ref(),
            scripts: &self.parts.scripts,
            texts: &self.parts.texts,
            revision: self.revision,
            seeds,
            freeze_after: match seeds {
                Seeds::Random => crate::contest::collect::freeze_grace(),
                Seeds::Rehearsal => TimeDelta::zero(),
            },
        }
    }

    /// The next contest milestone (announce, close, draw) after `now` (rehearsals jump there).
    pub fn next_contest_milestone(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.plan
            .contests
            .iter()
            .flat_map(|c| [c.announce_at, c.closes, c.draw_at])
            .map(|at| at.with_timezone(&Utc))
            .filter(|at| *at > now)
            .min()
    }

    /// Opens the approval requests of the fires whose approvers are to be asked by `now`
    /// (`ask` before each deadline), each with a run that notifies the approvers, committed
    /// together: a request is opened and notified exactly once. Returns how many opened.
    pub fn open_approvals(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        for item in self.needs_approval.clone() {
            let post = item.post(&self.plan);
            let Some(approve) = post.approve.clone() else {
                continue;
            };
            let key = item.key(&self.plan);
            let horizon = now + approve.before + approve.ask;
            let after = self.asked_until.get(&key).copied().unwrap_or(now);
            if horizon <= after {
                continue;
            }
            for at in fires_between(&self.plan, item, after, horizon, 1_000) {
                let (request, notify) = self.approval_request(item, &approve, at, now)?;
                batch.approvals.push(request);
                batch.runs.extend(notify);
            }
            self.asked_until.insert(key, horizon);
        }
        let opened = batch.approvals.len();
        if opened > 0 {
            self.commit(batch)?;
        }
        Ok(opened)
    }

    /// When `open_approvals` next has a request to open (rehearsals jump there).
    pub fn next_approval_ask(&self) -> Option<DateTime<Utc>> {
        self.needs_approval
            .iter()
            .filter_map(|item| {
                let approve = item.post(&self.plan).approve.as_ref()?;
                let after = *self.asked_until.get(&item.key(&self.plan))?;
                let at = next_fire(&self.plan, *item, after)?;
                Some(at - approve.before - approve.ask)
            })
            .min()
    }

    /// The request for one fire, and the run that tells its approvers.
    fn approval_request(
        &self,
        item: ItemRef,
        approve: &ApprovalPlan,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(NewApproval, Option<NewRun>)> {
        let campaign = item.campaign(&self.plan);
        let post = item.post(&self.plan);
        let key = item.key(&self.plan);
        let local = at.with_timezone(&campaign.timezone);
        let text = self
            .parts
            .texts
            .render(&post.text, &campaign_context(campaign, &post.id, local))
            .unwrap_or_else(|error| format!("(the text cannot be rendered: {})", error.message));
        let deadline = at - approve.before;
        let request = NewApproval {
            key: key.clone(),
            fire_at: to_millis(at),
            approvers: approve.by.clone(),
            need: approve.need.as_str().into(),
            deadline: to_millis(deadline),
            on_timeout: approve.on_timeout.as_str().into(),
            text: text.clone(),
            accounts: post.to.to_vec(),
        };
        let accounts = self.notify_accounts(&approve.by);
        if accounts.is_empty() {
            return Ok((request, None));
        }
        let fmt = |t: DateTime<Utc>| {
            t.with_timezone(&campaign.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let message = format!(
            "Approval needed ({} of {}): {key} goes out {} on {}:\n{text}\nDecide by {}: `crier approve {key} --by NAME` or `crier reject {key} --by NAME --note WHY`",
            request.need,
            approve.by.join(", "),
            fmt(at),
            post.to.join(", "),
            fmt(deadline),
        );
        let notify_key = ItemKey::new(&key.playbook, format!("{}/approval", key.item));
        let steps = vec![StepSpec::Notify {
            accounts,
            text: message,
        }];
        let progress = self.execute(&notify_key, to_millis(at), &steps, 0, now)?;
        let run = NewRun {
            key: notify_key,
            fire_at: to_millis(at),
            revision: self.revision,
            state: RunState::Running,
            reason: Some(format!("asks for approval of {key}")),
            steps,
            current_step: progress.current_step,
            wake_at: None,
            outbox: progress.outbox,
        };
        Ok((request, Some(run)))
    }

    /// What a post that needs approval does at its time: `None` to go on (approved, or
    /// sent anyway by `on_timeout: send`), or the run's end (rejected, skipped) or wait
    /// (held for a decision).
    fn approval_gate(
        &self,
        key: &ItemKey,
        approve: &ApprovalPlan,
        fire_at: Millis,
        run: &mut NewRun,
    ) -> StoreResult<Option<ApprovalOutcome>> {
        // A store error is not "no decision": the fire fails and is tried again.
        let request = self.parts.store.approval_for(key, fire_at)?;
        Ok(match request.as_ref().map(|r| r.state) {
            Some(ApprovalState::Approved) => {
                run.reason = Some(request.expect("found").summary());
                None
            }
            Some(ApprovalState::Rejected) => {
                Some(ApprovalOutcome::Rejected(request.expect("found").summary()))
            }
            _ => match approve.on_timeout {
                PostApprovalTimeout::Send => {
                    run.reason = Some(
                        "sent without approval: no decision by the deadline (on_timeout: send)"
                            .into(),
                    );
                    None
                }
                PostApprovalTimeout::Skip => Some(ApprovalOutcome::Skipped(
                    "no approval by the deadline (on_timeout: skip)".into(),
                )),
                PostApprovalTimeout::Hold => Some(ApprovalOutcome::Hold),
            },
        })
    }

    /// Lets go of the sends no pause holds any more (lifted by hand, or its `until`
    /// passed). A send released within `LATE_GRACE` of its time goes out; a later one
    /// follows its item's `missed:` policy, as if crier had been down: `skip` drops it,
    /// `once` sends only the latest of an item's held fires, `all` sends each within
    /// `max_late`. Released sends still pass the limits, so a resume never bursts.
    /// Returns how many go out.
    pub fn release_held(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let held = self.parts.store.held_sends()?;
        if held.is_empty() {
            return Ok(0);
        }
        let pauses = self.parts.store.pauses(to_millis(now))?;
        let is_campaign = |playbook: &str| self.plan.campaigns.iter().any(|c| c.name == playbook);
        let free: Vec<_> = held
            .into_iter()
            .filter(|send| {
                !pauses.iter().any(|pause| {
                    pause.scope.covers(
                        &send.account,
                        &send.key.playbook,
                        is_campaign(&send.key.playbook),
                    )
                })
            })
            .collect();
        if free.is_empty() {
            return Ok(0);
        }
        let posts: HashMap<ItemKey, ItemRef> = items(&self.plan)
            .into_iter()
            .map(|item| (item.key(&self.plan), item))
            .collect();
        // The latest held fire of each item, for `missed: once`.
        let mut latest: HashMap<&ItemKey, Millis> = HashMap::new();
        for send in &free {
            let at = latest.entry(&send.key).or_insert(send.fire_at);
            *at = (*at).max(send.fire_at);
        }
        let mut releases = Vec::with_capacity(free.len());
        for send in &free {
            let late = now - from_millis(send.fire_at);
            let release = if !is_campaign(&send.key.playbook) || late <= LATE_GRACE {
                Release::Send
            } else if let Some(item) = posts.get(&send.key) {
                let is_latest = send.fire_at >= latest[&send.key];
                match unsent_because(item.post(&self.plan), late, is_latest) {
                    None => Release::Send,
                    Some(why) => Release::Skip {
                        reason: format!("held by a pause past its time; {why}"),
                    },
                }
            } else {
                Release::Skip {
                    reason: "held by a pause, and its post is no longer in the playbooks".into(),
                }
            };
            releases.push((send.id, release));
        }
        let sent = releases
            .iter()
            .filter(|(_, release)| *release == Release::Send)
            .count();
        self.parts.store.release_held(&releases, to_millis(now))?;
        Ok(sent)
    }

    /// One fire at its time: the run, the cursor moved on, the item's next fire queued.
    fn fire(
        &mut self,
        item: ItemRef,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> StoreResult<()> {
        batch.runs.push(self.new_run(item, at, now, None)?);
        self.advance_cursor(item, at, batch);
        if let Some(next) = next_fire(&self.plan, item, at) {
            self.queue.push(next, item);
        }
        Ok(())
    }

    /// Applies the item's `missed:` policy to the fires in `(cursor, now]`, and queues the
    /// next future fire. Every missed fire is recorded; after a long outage they are
    /// committed in chunks of `CATCH_UP_CHUNK` (runs with the cursor past them), so each
    /// transaction stays bounded and a crash midway resumes from the last chunk.
    fn catch_up(
        &mut self,
        item: ItemRef,
        cursor: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> StoreResult<()> {
        let mut from = cursor;
        loop {
            let missed = fires_between(&self.plan, item, from, now, CATCH_UP_CHUNK);
            let Some(last) = missed.last().copied() else {
                break;
            };
            let complete = missed.len() < CATCH_UP_CHUNK
                || next_fire(&self.plan, item, last).is_none_or(|next| next > now);
            let post = item.post(&self.plan);
            let policy = post.missed;
            for (index, at) in missed.iter().copied().enumerate() {
                let is_latest = complete && index + 1 == missed.len();
                let run = match unsent_because(post, now - at, is_latest) {
                    None => {
                        let late = format!(
                            "sent late: crier was not running at its time (missed: {})",
                            policy_name(policy)
                        );
                        self.new_run(item, at, now, Some(late))?
                    }
                    Some(why) => self.missed_run(
                        item,
                        at,
                        format!("crier was not running at its time; {why}"),
                    ),
                };
                batch.runs.push(run);
            }
            self.advance_cursor(item, last, batch);
            if batch.runs.len() >= CATCH_UP_CHUNK {
                let full = std::mem::replace(
                    batch,
                    Batch {
                        now: batch.now,
                        ..Batch::default()
                    },
                );
                self.commit(full)?;
            }
            if complete {
                break;
            }
            from = last;
        }
        if let Some(next) = next_fire(&self.plan, item, now.max(cursor)) {
            self.queue.push(next, item);
        }
        Ok(())
    }

    fn advance_cursor(&mut self, item: ItemRef, at: DateTime<Utc>, batch: &mut Batch) {
        let key = item.key(&self.plan);
        self.cursors.insert(key.clone(), at);
        batch.cursors.push((key, to_millis(at)));
    }

    fn commit(&self, batch: Batch) -> StoreResult<()> {
        self.parts.store.commit(&batch).map(|_| ())
    }

    fn missed_run(&self, item: ItemRef, at: DateTime<Utc>, reason: String) -> NewRun {
        let post = item.post(&self.plan);
        NewRun {
            key: item.key(&self.plan),
            fire_at: to_millis(at),
            revision: self.revision,
            state: RunState::Missed,
            reason: Some(reason),
            steps: vec![StepSpec::Post {
                to: post.to.to_vec(),
                text: post.text.clone(),
                media: post.media.clone(),
                reply_to: post.reply_to.clone(),
            }],
            current_step: 0,
            wake_at: None,
            outbox: Vec::new(),
        }
    }

    /// A run for one fire: the condition evaluated, the text rendered, the steps pinned.
    fn new_run(
        &self,
        item: ItemRef,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        note: Option<String>,
    ) -> StoreResult<NewRun> {
        let campaign = item.campaign(&self.plan);
        let post = item.post(&self.plan);
        let key = item.key(&self.plan);
        let local = at.with_timezone(&campaign.timezone);
        let mut run = NewRun {
            reason: note,
            ..NewRun::running(key.clone(), to_millis(at), self.revision)
        };
        if let Some(condition) = &post.when {
            let input = ConditionInput::new()
                .with_now(&local)
                .with_json("vars", &serde_json::Value::Object(campaign.vars.clone()))
                .with_json(
                    "post",
                    &serde_json::json!({ "id": post.id, "text": post.text, "to": &post.to[..] }),
                )
                .with_json(
                    "run",
                    &serde_json::json!({
                        "playbook": campaign.name,
                        "item": post.id,
                        "scheduled_at": local.to_rfc3339(),
                        "late_seconds": (now - at).num_seconds().max(0),
                        "reason": run.reason.as_deref().unwrap_or("scheduled"),
                    }),
                )
                .with_metrics(self.parts.metrics.clone());
            let skip = match self.parts.scripts.evaluate(condition, &input) {
                Ok(true) => None,
                Ok(false) => Some(format!("`when` was false: {}", condition.source().trim())),
                Err(error) => Some(format!("`when` could not be evaluated: {}", error.message)),
            };
            if let Some(reason) = skip {
                run.state = RunState::Skipped;
                run.reason = Some(reason);
                return Ok(run);
            }
        }
        let context = campaign_context(campaign, &post.id, local);
        let text = match self.parts.texts.render(&post.text, &context) {
            Ok(text) => text,
            Err(error) => {
                run.state = RunState::Failed;
                run.reason = Some(format!("the text could not be rendered: {}", error.message));
                return Ok(run);
            }
        };
        // The content rules: one post step per distinct text (accounts whose rules leave the
        // text alike share one), or the run fails with the rule named and nothing is sent.
        let versions = crate::rules::check_post(
            &self.plan,
            &self.parts.scripts,
            &self.parts.texts,
            &campaign.name,
            &post.to,
            &text,
            local,
        );
        let versions = match versions {
            Ok(versions) => versions,
            Err(rejection) => {
                run.state = RunState::Rejected;
                run.reason = Some(rejection.to_string());
                return Ok(run);
            }
        };
        run.steps = versions
            .into_iter()
            .map(|version| StepSpec::Post {
                to: version.accounts,
                text: version.text,
                media: post.media.clone(),
                reply_to: post.reply_to.clone(),
            })
            .collect();
        // Approval: decided by now (approved, rejected), or the deadline's policy.
        if let Some(approve) = post.approve.as_deref().filter(|_| {
            !run.reason
                .as_deref()
                .is_some_and(|r| r.starts_with(TRIGGERED_BY_HAND))
        }) {
            match self.approval_gate(&key, approve, run.fire_at, &mut run)? {
                None => {}
                Some(ApprovalOutcome::Rejected(reason)) => {
                    run.state = RunState::Rejected;
                    run.reason = Some(reason);
                    run.steps.clear();
                    return Ok(run);
                }
                Some(ApprovalOutcome::Skipped(reason)) => {
                    run.state = RunState::Skipped;
                    run.reason = Some(reason);
                    run.steps.clear();
                    return Ok(run);
                }
                Some(ApprovalOutcome::Hold) => {
                    run.reason = Some("held until a person decides (on_timeout: hold)".into());
                    run.steps.insert(
                        0,
                        StepSpec::Approve {
                            by: approve.by.clone(),
                            timeout_seconds: None,
                            on_timeout: "hold".into(),
                        },
                    );
                }
            }
        }
        // Quiet hours and blackouts: skip, or wait (a stored step, surviving restarts) until
        // the post may go out.
        if let Some(hold) = crate::rules::hold(&self.plan, &campaign.name, &post.to, at) {
            run.reason = Some(hold.to_string());
            match hold.then {
                Then::Skip => {
                    run.state = RunState::Skipped;
                    run.steps.clear();
                    return Ok(run);
                }
                Then::Delay => run.steps.insert(
                    0,
                    StepSpec::Wait {
                        seconds: (hold.until - now).num_seconds().max(0),
                    },
                ),
            }
        }
        let progress = self.execute(&key, run.fire_at, &run.steps, 0, now)?;
        run.current_step = progress.current_step;
        run.wake_at = progress.wake_at;
        run.outbox = progress.outbox;
        if run.wake_at.is_some() {
            run.state = RunState::Waiting;
        }
        Ok(run)
    }

    /// Runs steps from `start` until one waits or none is left. Post and notify steps
    /// become outbox rows and are done at once; wait and approve set a wake time.
    fn execute(
        &self,
        key: &ItemKey,
        fire_at: Millis,
        steps: &[StepSpec],
        start: usize,
        now: DateTime<Utc>,
    ) -> StoreResult<Progress> {
        let mut progress = Progress {
            current_step: steps.len(),
            passed: Vec::new(),
            wake_at: None,
            outbox: Vec::new(),
        };
        for (index, step) in steps.iter().enumerate().skip(start) {
            match step {
                StepSpec::Post {
                    to,
                    text,
                    media,
                    reply_to,
                } => {
                    for account in to {
                        // A store error is not "no post to reply to": it would go out as a
                        // top-level post. The caller fails and tries again.
                        let reply_to = match reply_to {
                            Some(item) => self
                                .parts
                                .store
                                .latest_remote_id(&ItemKey::new(&key.playbook, item), account)?,
                            None => None,
                        };
                        progress.outbox.push(
                            self.outbox_row(
                                key, fire_at, index, account, text, media, reply_to, now,
                            ),
                        );
                    }
                }
                StepSpec::Notify { accounts, text } => {
                    for account in accounts {
                        let mut row =
                            self.outbox_row(key, fire_at, index, account, text, &[], None, now);
                        row.post.notice = true;
                        progress.outbox.push(row);
                    }
                }
                StepSpec::Wait { seconds } => {
                    progress.current_step = index;
                    progress.wake_at = Some(to_millis(now + TimeDelta::seconds(*seconds)));
                    return Ok(progress);
                }
                StepSpec::Approve {
                    timeout_seconds, ..
                } => {
                    progress.current_step = index;
                    // Without a timeout the approval waits until decided; wake far ahead.
                    let timeout =
                        TimeDelta::seconds(timeout_seconds.unwrap_or(100 * 365 * 24 * 3600));
                    progress.wake_at = Some(to_millis(now + timeout));
                    return Ok(progress);
                }
            }
            progress.passed.push((index, StepState::Done));
        }
        Ok(progress)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn outbox_row(
        &self,
        key: &ItemKey,
        fire_at: Millis,
        step: usize,
        account: &str,
        text: &str,
        media: &[String],
        reply_to: Option<String>,
        now: DateTime<Utc>,
    ) -> NewOutbox {
        NewOutbox {
            step,
            account: account.to_string(),
            post: OutgoingPost {
                idempotency_key: idempotency_key(key, fire_at, step, account),
                text: text.to_string(),
                media: media.iter().map(|m| self.plan.root.join(m)).collect(),
                reply_to,
                playbook: key.playbook.clone(),
                item: key.item.clone(),
                direct_to: None,
                notice: false,
            },
            due: to_millis(now),
        }
    }

    /// A waiting step whose time has come: a wait is over; an approval timed out.
    /// A store error is not "no decision": the step stays waiting, to be woken again.
    fn wake(&self, waiting: &WaitingStep, now: DateTime<Utc>) -> StoreResult<RunAdvance> {
        let step = &waiting.steps[waiting.step];
        let decided = match step {
            StepSpec::Approve { on_timeout, .. } if on_timeout == "hold" => self
                .parts
                .store
                .approval_for(&waiting.key, waiting.fire_at)?,
            _ => None,
        };
        let (outcome, reason, proceed) = match step {
            StepSpec::Approve { on_timeout, .. } if on_timeout == "hold" => match &decided {
                Some(approval) if approval.state == ApprovalState::Approved => {
                    (StepState::Done, Some(approval.summary()), true)
                }
                Some(approval) if approval.state == ApprovalState::Rejected => {
                    (StepState::Failed, Some(approval.summary()), false)
                }
                _ => (
                    StepState::Failed,
                    Some("no decision was ever made".to_string()),
                    false,
                ),
            },
            StepSpec::Approve { on_timeout, .. } if on_timeout == "proceed" => (
                StepState::Done,
                Some("no decision before the timeout; proceeding".to_string()),
                true,
            ),
            StepSpec::Approve { on_timeout, .. } => (
                StepState::Failed,
                Some(format!(
                    "no decision before the timeout (on_timeout: {on_timeout})"
                )),
                false,
            ),
            _ => (StepState::Done, None, true),
        };
        let mut advance = RunAdvance {
            run_id: waiting.run_id,
            step: waiting.step,
            outcome,
            reason: reason.clone(),
            current_step: waiting.steps.len(),
            passed: Vec::new(),
            wake_at: None,
            outbox: Vec::new(),
            finish: None,
        };
        if proceed {
            let progress = self.execute(
                &waiting.key,
                waiting.fire_at,
                &waiting.steps,
                waiting.step + 1,
                now,
            )?;
            advance.current_step = progress.current_step;
            advance.passed = progress.passed;
            advance.wake_at = progress.wake_at;
            advance.outbox = progress.outbox;
        } else {
            let state = match &decided {
                Some(approval) if approval.state == ApprovalState::Rejected => RunState::Rejected,
                _ => RunState::Skipped,
            };
            advance.finish = Some((state, reason.unwrap_or_default()));
        }
        Ok(advance)
    }
}

enum ApprovalOutcome {
    Rejected(String),
    Skipped(String),
    Hold,
}

struct Progress {
    current_step: usize,
    passed: Vec<(usize, StepState)>,
    wake_at: Option<Millis>,
    outbox: Vec<NewOutbox>,
}

/// Why the `missed:` policy does not send a fire that went by unsent (crier was down, or a
/// pause held it), `late` after its time; `None` to send it. `once` sends only an item's
/// latest such fire; `all` sends each; both only within `max_late`. Shared by catching up
/// after downtime and by releasing held sends, so both follow one rule.
fn unsent_because(post: &PostPlan, late: TimeDelta, is_latest: bool) -> Option<String> {
    let within = post.max_late.is_none_or(|max| late <= max);
    match post.missed {
        Missed::Skip => Some("`missed: skip`".into()),
        Missed::Once if !is_latest => Some("`missed: once` sends only the latest".into()),
        Missed::Once | Missed::All if within => None,
        _ => Some(format!(
            "more than `max_late` ({}) late",
            post.max_late
                .map(crate::schedule::format_duration)
                .unwrap_or_default()
        )),
    }
}

fn policy_name(policy: Missed) -> &'static str {
    match policy {
        Missed::Skip => "skip",
        Missed::Once => "once",
        Missed::All => "all",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unknown item `{item}`")]
    UnknownItem { item: String, hint: Option<String> },
    #[error("this item was already fired at this very millisecond")]
    AlreadyFired,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
