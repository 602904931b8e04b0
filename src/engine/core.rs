//! The engine's state and life cycle: its parts, the timer queue filled at start (every
//! item caught up by its `missed:` policy), a plan replaced on reload, and contests ticked.
//! What it does with fires is in `fire` (the pipeline), `missed` (the policy after
//! downtime), `approval_requests`, `held` (sends a pause let go) and `steps` (running and
//! waking steps). It never sends anything itself: a post step becomes outbox rows,
//! committed with the run, that the dispatcher sends. The same engine runs under
//! `crier run` (system clock) and `crier rehearse` (virtual clock).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::timeline::{Cursors, ItemRef, Queue, items};
use crate::contest::lifecycle::Seeds;
use crate::crisis::CrisisSignals;
use crate::crisis::runner::RunnerState;
use crate::playbook::plan::Plan;
use crate::script::{MetricsSource, NoData, ScriptEngine};
use crate::store::{Batch, ItemKey, Store, StoreResult, from_millis, to_millis};
use crate::text::{Renderer, StopFlag, TextTemplates};

/// What the engine needs besides the plan.
#[derive(Clone)]
pub struct EngineParts {
    pub store: Arc<dyn Store>,
    pub scripts: Arc<ScriptEngine>,
    pub texts: Arc<TextTemplates>,
    pub metrics: Arc<dyn MetricsSource>,
    /// The links notices carry to each decision's page, while a server runs.
    pub links: super::links::LinkSlot,
}

impl EngineParts {
    pub fn new(store: Arc<dyn Store>) -> Self {
        EngineParts {
            store,
            scripts: Arc::new(ScriptEngine::new()),
            texts: Arc::new(TextTemplates::new()),
            metrics: Arc::new(NoData),
            links: Default::default(),
        }
    }
}

pub struct Engine {
    pub(super) plan: Arc<Plan>,
    pub(super) revision: i64,
    pub(super) parts: EngineParts,
    pub(super) queue: Queue,
    /// The last fire handled per item, as the store has it.
    pub(super) cursors: Cursors,
    /// The items that need approval, and up to when their requests are open.
    pub(super) needs_approval: Vec<ItemRef>,
    pub(super) asked_until: HashMap<ItemKey, DateTime<Utc>>,
    /// Each crisis plan's runner state and mention windows as last committed (rebuilt from
    /// the store when missing).
    pub(super) crises: HashMap<String, (RunnerState, CrisisSignals)>,
    /// Set under `crier run` (see [`Engine::interrupt_on`]).
    pub(super) interrupt: Option<StopFlag>,
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
            interrupt: None,
        })
    }

    /// From now on, texts render on a thread of their own, and once `stop` is
    /// requested, firing ends at once with `StoreError::Interrupted`: the runs of the chunk
    /// being built (a render in progress included, its result never read) are dropped, not
    /// committed, and their fires are put back, so they fire after the next start as fires
    /// not yet handled do. No template, however slow, holds a stop.
    pub fn interrupt_on(&mut self, stop: StopFlag) {
        self.interrupt = Some(stop);
    }

    /// How this engine renders texts: on the render thread until a stop under `crier run`
    /// (every text: posts, rules' values, approval notices, contest and crisis texts),
    /// inline otherwise.
    pub(super) fn renderer(&self) -> Renderer<'_> {
        Renderer::new(&self.parts.texts, self.interrupt.as_ref())
    }

    /// Whether a stop was requested through [`Engine::interrupt_on`].
    pub(super) fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(StopFlag::requested)
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.parts.store
    }

    /// Takes a new revision of the playbooks: future fires follow it (a deleted post never
    /// goes out); runs already created keep the steps they were created with. If the store
    /// fails, the engine stays on the revision it had (plan, timer queue and cursors), so
    /// it never runs a plan the rest of the service does not.
    pub fn replace_plan(
        &mut self,
        plan: Arc<Plan>,
        digest: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Fires already due belong to the old revision; without this, a reload at the very
        // moment of a fire would count it as missed.
        self.fire_due(now)?;
        let revision = self.parts.store.record_revision(digest, to_millis(now))?;
        let old_plan = std::mem::replace(&mut self.plan, plan);
        let old_revision = std::mem::replace(&mut self.revision, revision);
        let old_queue = self.queue.clone();
        let old_needs_approval = self.needs_approval.clone();
        let old_cursors = self.cursors.clone();
        // Keywords or word lists may have changed: windows are rebuilt from stored mentions.
        self.crises.clear();
        let started = self.start(now);
        if started.is_err() {
            self.plan = old_plan;
            self.revision = old_revision;
            self.queue = old_queue;
            self.needs_approval = old_needs_approval;
            self.restore_cursors(old_cursors);
        }
        started
    }

    /// Puts back the cursors as they were before a batch that did not commit, then takes
    /// the store's where it can be read (a batch may have committed parts of its work).
    pub(super) fn restore_cursors(&mut self, before: Cursors) {
        self.cursors = before;
        self.reread_cursors();
    }

    /// Replaces the cursors in memory with the store's, if it can be read.
    pub(super) fn reread_cursors(&mut self) {
        match self.parts.store.cursors() {
            Ok(cursors) => {
                self.cursors = cursors
                    .into_iter()
                    .map(|(key, at)| (key, from_millis(at)))
                    .collect();
            }
            Err(error) => {
                tracing::warn!(
                    "cannot read the cursors again, keeping the last committed: {error}"
                );
            }
        }
    }

    /// Fills the timer queue. Every item catches up, by its policy, on the fires it missed
    /// since its last fire, or, for an item that never fired, since the engine was last
    /// alive (so a post added while crier was down is treated like one it missed). On the
    /// very first start there is nothing to catch up.
    pub fn start(&mut self, now: DateTime<Utc>) -> StoreResult<()> {
        self.start_seen_at(now, now)
    }

    /// `start`, for a plan this process read at `seen`: on a store that has never run, fires
    /// due since then are caught up (by each item's `missed:` policy) rather than taken as
    /// passed before the plan was loaded, however long loading and opening took.
    pub fn start_seen_at(&mut self, seen: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()> {
        self.queue.clear();
        let alive = self
            .parts
            .store
            .last_alive()?
            .map(from_millis)
            .unwrap_or(seen)
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
            let cursor = self.cursors.of(item, &self.plan).unwrap_or(alive);
            if let Some(next) = self.catch_up(item, cursor, now, alive, &mut batch)? {
                self.queue.push(next, item);
            }
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
            texts: self.renderer(),
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

    pub(super) fn advance_cursor(&mut self, item: ItemRef, at: DateTime<Utc>, batch: &mut Batch) {
        let key = item.key(&self.plan);
        self.cursors.insert(&key, at);
        batch.cursors.push((key, to_millis(at)));
    }

    pub(super) fn commit(&self, batch: Batch) -> StoreResult<()> {
        self.parts.store.commit(&batch).map(|_| ())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unknown item `{item}`")]
    UnknownItem { item: String, hint: Option<String> },
    #[error("this item was already fired at this very millisecond")]
    AlreadyFired,
    #[error(
        "`{item}` is fired by hook `{hook}`, with the event it carries: send one to the hook (`crier rehearse` takes hook events too)"
    )]
    FiredByHook { item: String, hook: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
