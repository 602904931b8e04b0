//! What comes due with time: approval deadlines, reminders and escalations of
//! notifications nobody acknowledged, and the open incident's queued steps.

use super::{AckTimer, EffectKind, PendingApproval, PlanRunner, Purpose, entry};
use crate::crisis::duration;
use crate::crisis::report::ApprovalRecord;
use crate::playbook::plan::{CrisisPlan, StepPlan};
use crate::playbook::raw::OnTimeout;

impl PlanRunner<'_> {
    /// Runs what is due at `now`: approval deadlines, acknowledgement reminders, and the
    /// open incident's next steps (until a wait or an approval stops them).
    pub fn run_due(&mut self, now: i64) {
        self.ack_due(now);
        // Bounded: each pass consumes a step or returns; an `escalate` step can queue every
        // step of the plan once more.
        let planned: usize = self.plan.levels.iter().map(|l| l.steps.len()).sum();
        let steps = self.state.open.as_ref().map_or(0, |o| o.queue.len()) + planned;
        for _ in 0..=steps {
            let waiting = self.approval_due(now);
            let Some(open) = self.state.open.as_mut() else {
                return;
            };
            if now < open.ready_at {
                return;
            }
            // An approval holds the rest of its own level; a higher level's steps go on.
            let next = match waiting {
                Some(held) => open
                    .queue
                    .iter()
                    .position(|(level, _)| *level != held)
                    .and_then(|at| open.queue.remove(at)),
                None => open.queue.pop_front(),
            };
            let Some((level, index)) = next else {
                return;
            };
            let Some(step) = self
                .plan
                .levels
                .get(level)
                .and_then(|l| l.steps.get(index))
                .cloned()
            else {
                continue; // the plan was edited under an open incident
            };
            self.step(now, step, Some(level));
        }
    }

    /// Handles a pending approval's deadline; returns the level whose remaining steps still
    /// wait for a decision, if any.
    pub(super) fn approval_due(&mut self, now: i64) -> Option<usize> {
        let plan = self.plan;
        let actor = self.actor.clone();
        let open = self.state.open.as_mut()?;
        let pending = open.pending.clone()?;
        if !pending
            .deadline
            .is_some_and(|deadline| now >= deadline && !pending.escalated)
        {
            return Some(pending.level);
        }
        self.changed = true;
        let outcome = match pending.on_timeout {
            OnTimeout::Escalate => "escalate",
            OnTimeout::Proceed => "proceed",
            OnTimeout::Abort => "abort",
        };
        open.report.approvals.push(ApprovalRecord {
            at: now,
            step: "approve".into(),
            decision: format!("timeout:{outcome}"),
            by: actor.clone(),
            note: None,
        });
        open.report.timeline.push(entry(
            now,
            &actor,
            "approval",
            format!(
                "no decision from {} in time: {outcome}",
                pending.by.join(", ")
            ),
        ));
        match pending.on_timeout {
            OnTimeout::Proceed => {
                open.pending = None;
                None
            }
            OnTimeout::Abort => {
                open.pending = None;
                open.queue.retain(|(level, _)| *level != pending.level);
                None
            }
            OnTimeout::Escalate => {
                let others = people_of(plan, &pending.by);
                let text = format!("approval needed for {} (escalated)", plan.name);
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "notify",
                    format!("{}: {text}", others.join(", ")),
                ));
                let mut widened = pending.by.clone();
                widened.extend(others.iter().cloned());
                open.pending = Some(PendingApproval {
                    by: widened,
                    deadline: None,
                    on_timeout: pending.on_timeout,
                    escalated: true,
                    level: pending.level,
                });
                if !others.is_empty() {
                    self.emit(
                        now,
                        EffectKind::Notify {
                            people: others,
                            text,
                            purpose: Purpose::Approval,
                        },
                    );
                }
                Some(pending.level)
            }
        }
    }

    /// Reminds, then escalates, notifications nobody acknowledged in time.
    pub(super) fn ack_due(&mut self, now: i64) {
        let plan = self.plan;
        let actor = self.actor.clone();
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        let Some(timer) = open.ack.clone().filter(|t| now >= t.due) else {
            return;
        };
        self.changed = true;
        if open.acknowledged_by().is_some() {
            open.ack = None;
            return;
        }
        let waited = duration(now - open.report.opened_at);
        if timer.reminders_sent < plan.ack_reminders {
            let text = format!(
                "reminder: incident {} ({}, {}) is not acknowledged after {waited}",
                open.report.id, plan.name, open.report.level
            );
            open.report.timeline.push(entry(
                now,
                &actor,
                "notify",
                format!("{}: {text}", timer.people.join(", ")),
            ));
            open.ack = Some(AckTimer {
                people: timer.people.clone(),
                due: now + plan.ack_timeout.num_milliseconds().max(1_000),
                reminders_sent: timer.reminders_sent + 1,
            });
            self.emit(
                now,
                EffectKind::Notify {
                    people: timer.people,
                    text,
                    purpose: Purpose::Reminder,
                },
            );
            return;
        }
        open.ack = None;
        let others = people_of(plan, &open.notified);
        if others.is_empty() {
            open.report.timeline.push(entry(
                now,
                &actor,
                "step",
                format!("not acknowledged after {waited}; nobody else to tell"),
            ));
            return;
        }
        let text = format!(
            "escalated: nobody acknowledged incident {} ({}, {}) in {waited}",
            open.report.id, plan.name, open.report.level
        );
        open.report.timeline.push(entry(
            now,
            &actor,
            "notify",
            format!("{}: {text}", others.join(", ")),
        ));
        open.notified.extend(others.iter().cloned());
        self.emit(
            now,
            EffectKind::Notify {
                people: others,
                text,
                purpose: Purpose::Escalation,
            },
        );
    }
}

/// Everyone a plan notifies, except `except`, in plan order.
pub(super) fn people_of(plan: &CrisisPlan, except: &[String]) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for step in plan.levels.iter().flat_map(|l| &l.steps) {
        let named = match step {
            StepPlan::Notify { people, .. } => people,
            StepPlan::Approve { by, .. } => by,
            _ => continue,
        };
        for person in named {
            if !except.contains(person) && !people.contains(person) {
                people.push(person.clone());
            }
        }
    }
    people
}
