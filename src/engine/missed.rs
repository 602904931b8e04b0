//! The `missed:` policy: what happens to fires that went by unsent, whether crier was down
//! (caught up at start, or woken long after a fire) or a pause held them.

use chrono::{DateTime, TimeDelta, Utc};

use super::core::Engine;
use super::timeline::{ItemRef, fires_between, items, next_fire};
use crate::playbook::plan::{PostPlan, Trigger};
use crate::playbook::raw::Missed;
use crate::store::{Batch, NewRun, RunState, StepSpec, StoreResult, to_millis};

/// A fire later than this after its time is treated as missed (laptop asleep, process
/// paused), so that waking up never causes a burst beyond the item's policy.
pub const LATE_GRACE: TimeDelta = TimeDelta::seconds(60);
/// Missed fires recorded per transaction while catching up after downtime: a month of an
/// every-minute item is recorded in a few bounded commits, never all at once.
const CATCH_UP_CHUNK: usize = 10_000;

impl Engine {
    /// One-off posts whose time had passed before this service first saw them (a new store,
    /// or a post added or moved into the past while it ran) are recorded as missed with the
    /// reason, instead of disappearing; called by the service after `start`. Returns how
    /// many were recorded.
    pub fn record_passed_one_offs(&mut self, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut passed = Vec::new();
        for item in items(&self.plan) {
            let Trigger::At(at) = item.post(&self.plan).trigger else {
                continue;
            };
            if at > now {
                continue;
            }
            let handled = self
                .cursors
                .of(item, &self.plan)
                .is_some_and(|cursor| cursor >= at);
            let would_fire =
                next_fire(&self.plan, item, at - TimeDelta::nanoseconds(1)) == Some(at);
            if !handled && would_fire {
                passed.push((item, at));
            }
        }
        if passed.is_empty() {
            return Ok(0);
        }
        let before = self.cursors.clone();
        let mut batch = Batch {
            now: to_millis(now),
            ..Batch::default()
        };
        for (item, at) in passed {
            let reason = crate::playbook::plan::PASSED_BEFORE_LOADED.to_string();
            batch.runs.push(self.missed_run(item, at, reason));
            self.advance_cursor(item, at, &mut batch);
        }
        let recorded = batch.runs.len();
        if recorded > 0
            && let Err(error) = self.commit(batch)
        {
            self.restore_cursors(before);
            return Err(error);
        }
        Ok(recorded)
    }

    /// Applies the item's `missed:` policy to the fires in `(cursor, now]`, and returns the
    /// next future fire, for the caller to queue. Every missed fire is recorded; after a long outage they are
    /// committed in chunks of `CATCH_UP_CHUNK` (runs with the cursor past them), so each
    /// transaction stays bounded and a crash midway resumes from the last chunk.
    ///
    /// A chunk committed before the others records the engine alive no later than
    /// `alive_floor`: an item not yet caught up, and without a cursor of its own, catches up
    /// from that time after a crash, so the chunk never hides its fires.
    pub(super) fn catch_up(
        &mut self,
        item: ItemRef,
        cursor: DateTime<Utc>,
        now: DateTime<Utc>,
        alive_floor: DateTime<Utc>,
        batch: &mut Batch,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        // Most items missed nothing: their first fire after the cursor is the next one.
        match next_fire(&self.plan, item, cursor) {
            None => return Ok(None),
            Some(first) if first > now => return Ok(Some(first)),
            Some(_) => {}
        }
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
                let mut full = std::mem::replace(
                    batch,
                    Batch {
                        now: batch.now,
                        ..Batch::default()
                    },
                );
                full.now = full.now.min(to_millis(alive_floor));
                self.commit(full)?;
            }
            if complete {
                break;
            }
            from = last;
        }
        Ok(next_fire(&self.plan, item, now.max(cursor)))
    }

    pub(super) fn missed_run(&self, item: ItemRef, at: DateTime<Utc>, reason: String) -> NewRun {
        let post = item.post(&self.plan);
        NewRun {
            key: item.key(&self.plan),
            fire_at: to_millis(at),
            revision: self.revision,
            state: RunState::Missed,
            reason: Some(reason),
            steps: vec![StepSpec::Post {
                to: post.to.to_vec(),
                text: post.text.to_string(),
                media: post.media.to_vec(),
                reply_to: post.reply_to.as_deref().map(String::from),
            }],
            current_step: 0,
            wake_at: None,
            outbox: Vec::new(),
        }
    }
}

/// Why the `missed:` policy does not send a fire that went by unsent (crier was down, or a
/// pause held it), `late` after its time; `None` to send it. `once` sends only an item's
/// latest such fire; `all` sends each; both only within `max_late`. Shared by catching up
/// after downtime and by releasing held sends, so both follow one rule.
pub(super) fn unsent_because(post: &PostPlan, late: TimeDelta, is_latest: bool) -> Option<String> {
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
