//! Step execution: a run's steps from a given one until one waits (post and notify steps
//! become outbox rows), and waking a waiting step when its time comes.

use chrono::{DateTime, TimeDelta, Utc};

use super::core::Engine;
use crate::connectors::OutgoingPost;
use crate::store::{
    ApprovalState, ItemKey, Millis, NewOutbox, RunAdvance, RunState, StepSpec, StepState,
    StoreResult, WaitingStep, idempotency_key, to_millis,
};

impl Engine {
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

    /// Runs steps from `start` until one waits or none is left. Post and notify steps
    /// become outbox rows and are done at once; wait and approve set a wake time.
    pub(super) fn execute(
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
    pub(super) fn wake(
        &self,
        waiting: &WaitingStep,
        now: DateTime<Utc>,
    ) -> StoreResult<RunAdvance> {
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

pub(super) struct Progress {
    pub(super) current_step: usize,
    pub(super) passed: Vec<(usize, StepState)>,
    pub(super) wake_at: Option<Millis>,
    pub(super) outbox: Vec<NewOutbox>,
}
