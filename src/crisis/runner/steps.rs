//! Running one step of a level (or of `resolve:`), resolving the open incident, and the
//! effects they emit.

use serde_json::json;

use super::{AckTimer, Effect, EffectKind, PendingApproval, PlanRunner, Purpose, entry, finish};
use crate::crisis::duration;
use crate::crisis::report::IncidentReport;
use crate::playbook::plan::{CrisisPlan, StepPlan};
use crate::text::Renderer;

impl PlanRunner<'_> {
    /// Runs one step of `level`, or of `resolve:` (`None`: the incident has just been
    /// resolved, so nothing waits or asks any more).
    pub(super) fn step(&mut self, now: i64, step: StepPlan, level: Option<usize>) {
        let resolving = level.is_none();
        self.changed = true;
        let plan = self.plan;
        let actor = self.actor.clone();
        let signal = self.state.signal.clone();
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        match step {
            StepPlan::Approve { .. } | StepPlan::Wait { .. } | StepPlan::Escalate { .. }
                if resolving =>
            {
                let name = match step {
                    StepPlan::Approve { .. } => "approve",
                    StepPlan::Wait { .. } => "wait",
                    _ => "escalate",
                };
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "step",
                    format!("`{name}` does nothing once resolved"),
                ));
            }
            StepPlan::Notify { people, text } => {
                let text = match text.as_deref() {
                    // The team is told even when the text cannot be rendered.
                    Some(t) => render(self.texts, plan, t, &signal, &open.report, now)
                        .unwrap_or_else(|error| format!("{t} (cannot be rendered: {error})")),
                    None if resolving => format!("{} resolved", plan.name),
                    None => format!("{} is at {}", plan.name, open.report.level),
                };
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "notify",
                    format!("{}: {text}", people.join(", ")),
                ));
                for person in &people {
                    if !open.notified.contains(person) {
                        open.notified.push(person.clone());
                    }
                }
                if open.acknowledged_by().is_none() && !resolving {
                    let due = now + plan.ack_timeout.num_milliseconds().max(1_000);
                    match open.ack.as_mut() {
                        Some(timer) => {
                            for person in &people {
                                if !timer.people.contains(person) {
                                    timer.people.push(person.clone());
                                }
                            }
                        }
                        None => {
                            open.ack = Some(AckTimer {
                                people: people.clone(),
                                due,
                                reminders_sent: 0,
                            })
                        }
                    }
                }
                let purpose = match resolving {
                    true => Purpose::Resolved,
                    false => Purpose::Alert,
                };
                self.emit(
                    now,
                    EffectKind::Notify {
                        people,
                        text,
                        purpose,
                    },
                );
            }
            StepPlan::Pause { targets } => {
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "step",
                    format!("pause {}", targets.join(", ")),
                ));
                self.emit(now, EffectKind::Pause { targets });
            }
            StepPlan::Resume { targets } => {
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "step",
                    format!("resume {}", targets.join(", ")),
                ));
                self.emit(now, EffectKind::Resume { targets });
            }
            StepPlan::Approve {
                by,
                timeout,
                on_timeout,
            } => {
                let text = format!("approval needed for {}", plan.name);
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "notify",
                    format!("{}: {text}", by.join(", ")),
                ));
                open.pending = Some(PendingApproval {
                    by: by.clone(),
                    deadline: timeout.map(|t| now + t.num_milliseconds()),
                    on_timeout,
                    escalated: false,
                    level: level.unwrap_or_default(),
                });
                self.emit(
                    now,
                    EffectKind::Notify {
                        people: by,
                        text,
                        purpose: Purpose::Approval,
                    },
                );
            }
            StepPlan::Post { to, text, media } => {
                // A public post that cannot be rendered is never sent as raw template text.
                let text = match render(self.texts, plan, &text, &signal, &open.report, now) {
                    Ok(text) => text,
                    Err(error) => {
                        open.report.timeline.push(entry(
                            now,
                            &actor,
                            "step",
                            format!(
                                "post to {} not sent: its text cannot be rendered: {error}",
                                to.join(", ")
                            ),
                        ));
                        self.changed = true;
                        return;
                    }
                };
                if !resolving {
                    open.report.responded_at.get_or_insert(now);
                }
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "post",
                    format!("{}: {text}", to.join(", ")),
                ));
                self.emit(now, EffectKind::Post { to, text, media });
            }
            StepPlan::Wait { duration: wait } => {
                open.report.timeline.push(entry(
                    now,
                    &actor,
                    "step",
                    format!("wait {}", duration(wait.num_milliseconds())),
                ));
                open.ready_at = now + wait.num_milliseconds();
            }
            StepPlan::Escalate { to } => {
                let current = plan
                    .levels
                    .iter()
                    .position(|l| l.name == open.report.level)
                    .unwrap_or(0);
                let target = match &to {
                    Some(name) => plan.levels.iter().position(|l| &l.name == name),
                    None => (current + 1 < plan.levels.len()).then_some(current + 1),
                };
                match target.filter(|t| *t > current) {
                    Some(target) => {
                        self.machine.state.level = Some(target);
                        self.state.machine = self.machine.state.clone();
                        self.raise(now, current, target, false);
                    }
                    None => open.report.timeline.push(entry(
                        now,
                        &actor,
                        "step",
                        "escalate: already at the highest level".into(),
                    )),
                }
            }
        }
    }

    /// Resolves the open incident at `now` (by a person, or by `resolve.when`) and runs the
    /// plan's resolve steps.
    pub(super) fn close(&mut self, now: i64, by: Option<&str>) {
        let plan = self.plan;
        let actor = self.actor.clone();
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        open.report.resolved_at = Some(now);
        open.report.resolved_by = by.map(str::to_owned);
        open.report.timeline.push(entry(
            now,
            by.unwrap_or(&actor),
            "resolve",
            "resolved".into(),
        ));
        open.queue.clear();
        open.pending = None;
        open.ack = None;
        for step in plan.resolve.iter().flat_map(|r| &r.steps) {
            self.step(now, step.clone(), None);
        }
        if let Some(open) = self.state.open.take() {
            self.closed.push(finish(open.report, &self.state.series));
        }
        self.state.first_signal = None;
    }

    pub(super) fn emit(&mut self, now: i64, kind: EffectKind) {
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        open.effects += 1;
        self.effects.push(Effect {
            incident: open.report.id,
            seq: open.effects,
            at: now,
            level: open.report.level.clone(),
            kind,
        });
    }
}

/// A step's text with the plan's `vars`, `signal`, `incident`, `level` and `plan`.
pub(super) fn render(
    texts: Renderer<'_>,
    plan: &CrisisPlan,
    text: &str,
    signal: &serde_json::Value,
    report: &IncidentReport,
    now: i64,
) -> Result<String, String> {
    let mut context = plan.vars.clone();
    context.insert("signal".into(), signal.clone());
    context.insert(
        "incident".into(),
        json!({
            "id": report.id, "plan": report.plan, "level": report.level,
            "duration": duration(now - report.opened_at),
            "report_url": format!("crier incident report {}", report.id),
        }),
    );
    context.insert("level".into(), report.level.clone().into());
    context.insert("plan".into(), plan.name.clone().into());
    match texts.render(text, &serde_json::Value::Object(context)) {
        Ok(rendered) => rendered.map_err(|e| e.message),
        Err(stopped) => Err(stopped.to_string()),
    }
}
