//! The fire pipeline: due fires popped from the timer queue become runs (`when:`
//! evaluated, text rendered, content rules, approval, quiet hours), committed with their
//! outbox rows and the items' cursors; `crier trigger` fires one item by hand.

use chrono::{DateTime, TimeDelta, Utc};

use super::approval_requests::ApprovalOutcome;
use super::core::{Engine, TRIGGERED_BY_HAND, TriggerError};
use super::missed::LATE_GRACE;
use super::timeline::{ItemRef, items, next_fire};
use crate::playbook::raw::Then;
use crate::preview::campaign_context;
use crate::script::ConditionInput;
use crate::store::{
    Batch, ItemKey, Millis, NewRun, RunId, RunState, StepSpec, StoreError, StoreResult,
    from_millis, to_millis,
};

/// Due fires built and committed per transaction: the first posts of a burst are claimable
/// after the first chunk's commit, and a burst's memory is bounded by the chunk.
pub const FIRE_CHUNK: usize = 1_000;

impl Engine {
    /// Turns every fire due at `now` into runs, committed in chunks of `FIRE_CHUNK` (each
    /// with the record that the engine was alive at `now`; one commit even when nothing
    /// fired). Returns how many runs were created.
    pub fn fire_due(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        self.fire_due_in_chunks(now, &mut |_| {})
    }

    /// `fire_due`, calling `committed` after each chunk's commit with the ids of the runs it
    /// created: the service wakes its dispatcher there, so the first posts of a burst go out
    /// while the later ones are still being built, and memory is bounded by the chunk.
    ///
    /// If the store fails, nothing is lost: the chunks committed stay committed, the fires
    /// of the failed chunk go back in the queue and their cursors back to where they were
    /// (then read again from the store, when it can be read), so the next call fires them
    /// again.
    pub fn fire_due_in_chunks(
        &mut self,
        now: DateTime<Utc>,
        committed: &mut dyn FnMut(&[RunId]),
    ) -> StoreResult<usize> {
        let mut fired = 0;
        loop {
            let mut popped = Vec::new();
            let mut next = Vec::new();
            let mut before = Vec::new();
            let chunk = self.fire_chunk(now, &mut popped, &mut next, &mut before);
            let (runs, created) = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    for (at, item) in popped {
                        self.queue.push(at, item);
                    }
                    // Latest first, so an item popped twice ends at its cursor before both.
                    for (key, cursor) in before.into_iter().rev() {
                        match cursor {
                            Some(at) => self.cursors.insert(&key, at),
                            None => self.cursors.remove(&key),
                        };
                    }
                    self.reread_cursors();
                    return Err(error);
                }
            };
            for (at, item) in next {
                self.queue.push(at, item);
            }
            if runs > 0 {
                fired += runs;
                committed(&created);
            }
            if popped.is_empty() || self.queue.peek().is_none_or(|at| at > now) {
                return Ok(fired);
            }
        }
    }

    /// Pops up to `FIRE_CHUNK` due fires (into `popped`), builds their runs and commits
    /// them; the items' next fires go to `next`, to be queued once the commit holds.
    fn fire_chunk(
        &mut self,
        now: DateTime<Utc>,
        popped: &mut Vec<(DateTime<Utc>, ItemRef)>,
        next: &mut Vec<(DateTime<Utc>, ItemRef)>,
        before: &mut Vec<(ItemKey, Option<DateTime<Utc>>)>,
    ) -> StoreResult<(usize, Vec<RunId>)> {
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        while batch.runs.len() < FIRE_CHUNK
            && let Some((at, item)) = self.queue.pop_due(now)
        {
            if self.interrupted() {
                popped.push((at, item));
                return Err(StoreError::Interrupted);
            }
            popped.push((at, item));
            let key = item.key(&self.plan);
            let cursor = self.cursors.get(&key);
            before.push((key, cursor));
            let following = if now - at > LATE_GRACE {
                // Woken long after the fire (the machine slept): the missed policy decides.
                let cursor = self
                    .cursors
                    .of(item, &self.plan)
                    .unwrap_or(at - TimeDelta::milliseconds(1));
                // Fires due now that wait in the queue must stay after the recorded time.
                let alive_floor = self
                    .queue
                    .peek()
                    .filter(|waiting| *waiting <= now)
                    .map_or(now, |waiting| waiting - TimeDelta::milliseconds(1));
                self.catch_up(item, cursor, now, alive_floor, &mut batch)?
            } else {
                self.fire(item, at, now, &mut batch)?
            };
            if let Some(following) = following {
                next.push((following, item));
            }
        }
        if self.interrupted() {
            return Err(StoreError::Interrupted);
        }
        // The commit records the engine alive at `batch.now`, and an item that never fired
        // catches up only on fires after that: while fires due now wait for a later chunk,
        // the record stops short of the earliest, so a crash or stop before that chunk's
        // commit leaves them to fire after the next start instead of losing them.
        if let Some(waiting) = self.queue.peek().filter(|at| *at <= now) {
            batch.now = batch.now.min(to_millis(waiting) - 1);
        }
        let runs = batch.runs.len();
        let created = self.parts.store.commit(&batch)?;
        Ok((runs, created))
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
            if let Some(next) = self.fire(item, at, at, &mut batch)? {
                self.queue.push(next, item);
            }
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
        // Its text and `when:` need an event.
        if let crate::playbook::plan::Trigger::Hook(hook) = &item_ref.post(&self.plan).trigger {
            return Err(TriggerError::FiredByHook {
                item: item_ref.key(&self.plan).to_string(),
                hook: hook.to_string(),
            });
        }
        let run = self.new_run(item_ref, now, now, Some(note))?;
        let ids = self.parts.store.commit(&Batch {
            now: to_millis(now),
            runs: vec![run],
            ..Batch::default()
        })?;
        ids.first().copied().ok_or(TriggerError::AlreadyFired)
    }

    /// One fire at its time: the run, the cursor moved on; returns the item's next fire.
    pub(super) fn fire(
        &mut self,
        item: ItemRef,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        batch.runs.push(self.new_run(item, at, now, None)?);
        crate::telemetry::fire_lateness((now - at).num_milliseconds() as f64 / 1000.0);
        self.advance_cursor(item, at, batch);
        Ok(next_fire(&self.plan, item, at))
    }

    /// A run for one fire: the condition evaluated, the text rendered, the steps pinned.
    pub(super) fn new_run(
        &self,
        item: ItemRef,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        note: Option<String>,
    ) -> StoreResult<NewRun> {
        self.new_run_for(item, at, now, note, None)
    }

    /// `new_run`, where the fire is an inbound `event` (a hook's JSON body) that the
    /// post's `when:` and text see as `event`.
    pub(super) fn new_run_for(
        &self,
        item: ItemRef,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        note: Option<String>,
        event: Option<&serde_json::Value>,
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
            // Only what the condition reads is built: an event's condition (`event.stars
            // >= 1`) needs none of the rest, and building it was most of its cost.
            let mut input = ConditionInput::new().with_metrics(self.parts.metrics.clone());
            if condition.reads("now") {
                input = input.with_now(&local);
            }
            if condition.reads("vars") {
                input.set_json("vars", &serde_json::Value::Object(campaign.vars.clone()));
            }
            if condition.reads("post") {
                input.set_json(
                    "post",
                    &serde_json::json!({ "id": post.id.as_str(), "text": post.text.as_str(), "to": &post.to[..] }),
                );
            }
            if condition.reads("run") {
                input.set_json(
                    "run",
                    &serde_json::json!({
                        "playbook": campaign.name,
                        "item": post.id.as_str(),
                        "scheduled_at": local.to_rfc3339(),
                        "late_seconds": (now - at).num_seconds().max(0),
                        "reason": run.reason.as_deref().unwrap_or("scheduled"),
                    }),
                );
            }
            if let Some(event) = event.filter(|_| condition.reads("event")) {
                input.set_json("event", event);
            }
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
        // A text without template syntax is itself: no context to build (most calendar
        // rows, and a burst's worth of them).
        let rendered = if crate::text::is_literal(&post.text) {
            Ok(post.text.to_string())
        } else {
            let mut context = campaign_context(campaign, &post.id, local);
            if let (Some(event), Some(fields)) = (event, context.as_object_mut()) {
                fields.insert("event".into(), event.clone());
            }
            self.renderer().render(&post.text, &context)?
        };
        let text = match rendered {
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
            self.renderer(),
            &campaign.name,
            &post.to,
            &text,
            local,
        )?;
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
                media: post.media.to_vec(),
                reply_to: post.reply_to.as_deref().map(String::from),
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
}
