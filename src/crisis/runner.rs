//! One crisis plan running over time: its mention stream (keywords, tone, windows, and the
//! per-minute series a report charts), its incident machine, and the open incident's steps,
//! approvals, acknowledgements and reminders. The runner decides and its caller acts: the
//! `Effect`s it returns are what must be sent, paused or resumed. `crier run` commits them as
//! outbox runs together with the runner's state; the fire drill only records them. All the
//! runner keeps between calls is `RunnerState`, which serialises, so a restart resumes the
//! open incident, its pending approval and its timers where they were.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::incident::{IncidentMachine, IncidentState, Transition};
use super::report::{ApprovalRecord, IncidentReport, LevelMark, MinuteCount, TimelineEntry};
use super::{CrisisSignals, Tone, duration};
use crate::playbook::plan::{CrisisPlan, StepPlan};
use crate::playbook::raw::OnTimeout;
use crate::script::{ConditionInput, ScriptEngine, Sentiment};
use crate::text::TextTemplates;

/// The baseline windows keep: the longest window conditions read in practice.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// At most this many points in a report's chart (a day of minutes): a longer incident is
/// counted per 2, 4, 8… minutes, so what an open incident rewrites each tick stays bounded
/// however long it stays open.
pub const CHART_POINTS: i64 = 1_440;

/// What a plan's runner keeps between calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunnerState {
    pub machine: IncidentState,
    /// When the signal started: the start of the first minute whose counts met a level's
    /// condition (the incident's signal time, which the time to detect measures from).
    pub first_signal: Option<i64>,
    /// Matching mentions per minute, from an hour before the open incident's signal (or the
    /// last two hours when none is open): what the report's chart draws.
    pub series: Vec<MinuteCount>,
    pub open: Option<OpenIncident>,
    /// When the levels were last evaluated.
    pub evaluated_at: Option<i64>,
    /// The signal at the last evaluation; texts render with it.
    #[serde(default)]
    pub signal: serde_json::Value,
    /// How far the stored mention stream has been read (the service's intake sequence).
    #[serde(default)]
    pub mentions_read: i64,
    /// The conditions could not be evaluated at the last evaluations (none while they can).
    #[serde(default)]
    pub condition_failure: Option<ConditionFailure>,
}

/// Conditions that failed to evaluate, in a row: never taken for "false". While they fail
/// the incident state stays as it was; after `CONDITION_FAILURES_TO_ALERT` the plan's people
/// are told (once per streak).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionFailure {
    /// The first failed evaluation of the streak.
    pub since: i64,
    pub failures: u32,
    /// The last error, with the condition it came from.
    pub error: String,
    pub notified: bool,
}

/// Failed evaluations in a row before the plan's people are told.
pub const CONDITION_FAILURES_TO_ALERT: u32 = 3;

/// The open incident and what it still has to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub report: IncidentReport,
    /// Steps still to run, as (level, step) indexes into the plan.
    pub queue: VecDeque<(usize, usize)>,
    /// The next step may not run before this (a `wait`).
    pub ready_at: i64,
    pub pending: Option<PendingApproval>,
    pub ack: Option<AckTimer>,
    /// Everyone notified so far, in order.
    pub notified: Vec<String>,
    /// Effects so far; numbers the next one, so each has a stable identity.
    pub effects: u32,
    /// The level last acknowledged, and by whom.
    #[serde(default)]
    pub acked: Option<(String, String)>,
    /// The plan's levels and their steps when the queue was made (see `levels_shape`).
    #[serde(default)]
    pub plan_shape: Option<String>,
}

/// An approval step waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingApproval {
    pub by: Vec<String>,
    pub deadline: Option<i64>,
    pub on_timeout: OnTimeout,
    /// Already widened to more people after a timeout.
    pub escalated: bool,
    /// The level whose remaining steps wait for the decision.
    #[serde(default)]
    pub level: usize,
}

/// Notifications nobody has acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckTimer {
    pub people: Vec<String>,
    pub due: i64,
    pub reminders_sent: u32,
}

/// Why people are notified (the service adds the matching instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// A level's `notify` step.
    Alert,
    /// An approval step asks its approvers.
    Approval,
    /// Nobody acknowledged: the same people again.
    Reminder,
    /// Nobody acknowledged after the reminders: the plan's other people.
    Escalation,
    /// The incident resolved.
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectKind {
    Notify {
        people: Vec<String>,
        text: String,
        purpose: Purpose,
    },
    Post {
        to: Vec<String>,
        text: String,
        media: Vec<String>,
    },
    Pause {
        targets: Vec<String>,
    },
    Resume {
        targets: Vec<String>,
    },
}

/// Something the caller must do, numbered within its incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub incident: i64,
    pub seq: u32,
    pub at: i64,
    pub level: String,
    pub kind: EffectKind,
}

/// What a person does to the open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Ack {
        by: String,
    },
    Decide {
        by: String,
        approve: bool,
        note: Option<String>,
    },
    Resolve {
        by: String,
        note: Option<String>,
    },
}

impl Action {
    pub fn by(&self) -> &str {
        match self {
            Action::Ack { by } | Action::Decide { by, .. } | Action::Resolve { by, .. } => by,
        }
    }
}

/// A plan, its signals, and its state.
pub struct PlanRunner<'a> {
    plan: &'a CrisisPlan,
    engine: &'a ScriptEngine,
    texts: &'a TextTemplates,
    signals: CrisisSignals,
    machine: IncidentMachine,
    pub state: RunnerState,
    effects: Vec<Effect>,
    closed: Vec<IncidentReport>,
    actor: String,
    /// The state changed since `take_changed` (it must be saved).
    changed: bool,
}

impl<'a> PlanRunner<'a> {
    /// A runner starting from `state` (a fresh one, or one saved by an earlier process, maybe
    /// under another revision of the plan), with empty windows.
    pub fn new(
        plan: &'a CrisisPlan,
        engine: &'a ScriptEngine,
        texts: &'a TextTemplates,
        state: RunnerState,
    ) -> PlanRunner<'a> {
        let signals = CrisisSignals::for_plan(plan, RETENTION);
        let mut runner = PlanRunner::with_signals(plan, engine, texts, state, signals);
        runner.forget_steps_of_an_edited_plan();
        runner
    }

    /// A runner that goes on with the state and signals of one this process made for the
    /// same revision of the plan (see `into_parts`): nothing is rebuilt.
    pub fn resume(
        plan: &'a CrisisPlan,
        engine: &'a ScriptEngine,
        texts: &'a TextTemplates,
        state: RunnerState,
        signals: CrisisSignals,
    ) -> PlanRunner<'a> {
        PlanRunner::with_signals(plan, engine, texts, state, signals)
    }

    fn with_signals(
        plan: &'a CrisisPlan,
        engine: &'a ScriptEngine,
        texts: &'a TextTemplates,
        state: RunnerState,
        signals: CrisisSignals,
    ) -> PlanRunner<'a> {
        let resolve_for = plan.resolve.as_ref().map(|r| r.hold_for.num_milliseconds());
        PlanRunner {
            plan,
            engine,
            texts,
            signals,
            machine: IncidentMachine::restore(resolve_for, state.machine.clone()),
            state,
            effects: Vec::new(),
            closed: Vec::new(),
            actor: format!("crisis:{}", plan.name),
            changed: false,
        }
    }

    /// Queued steps are (level, step) positions in the plan: if its levels changed under an
    /// open incident, they may point at other steps, so they are dropped (said on the
    /// timeline) rather than run; the incident, its level and its approval stay.
    fn forget_steps_of_an_edited_plan(&mut self) {
        let shape = levels_shape(self.plan);
        let actor = self.actor.clone();
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        if open.plan_shape.as_deref().is_none_or(|old| old == shape) {
            open.plan_shape = Some(shape);
            return;
        }
        let dropped = open.queue.len();
        open.queue.clear();
        open.plan_shape = Some(shape);
        open.report.timeline.push(entry(
            open.ready_at
                .max(self.state.evaluated_at.unwrap_or_default()),
            &actor,
            "step",
            format!("the plan's levels changed: {dropped} queued step(s) dropped"),
        ));
        // Levels may have moved: the machine follows the incident's level by name.
        self.machine.state.level = self
            .plan
            .levels
            .iter()
            .position(|l| l.name == open.report.level)
            .or(self
                .machine
                .state
                .level
                .map(|l| l.min(self.plan.levels.len().saturating_sub(1))));
        self.state.machine = self.machine.state.clone();
        self.changed = true;
    }

    /// The state and the signals, to go on later with `resume`.
    pub fn into_parts(self) -> (RunnerState, CrisisSignals) {
        (self.state, self.signals)
    }

    /// Counts a mention seen at `at` (windows and chart) when it matches the keywords.
    pub fn observe(&mut self, at: i64, author: &str, text: &str) -> Option<Tone> {
        let minute = at - at.rem_euclid(MINUTE);
        let idle = self.state.open.is_none() && self.state.first_signal.is_none();
        if idle
            && self.state.series.last().is_some_and(|m| minute > m.at)
            && self.signals.matches(text)
        {
            self.check_minutes_before(minute);
        }
        let tone = self.signals.observe(at, author, text)?;
        let series = &mut self.state.series;
        let index = match series.binary_search_by_key(&minute, |m| m.at) {
            Ok(index) => index,
            Err(index) => {
                series.insert(
                    index,
                    MinuteCount {
                        at: minute,
                        total: 0,
                        negative: 0,
                    },
                );
                index
            }
        };
        series[index].total += 1;
        series[index].negative += u64::from(tone == Tone::Negative);
        Some(tone)
    }

    /// Between evaluations, while no incident is open: whether the counts up to `minute` met a
    /// level's condition, so the signal's start is known to the minute (levels are evaluated
    /// only every `every`). Once per minute with mentions, and not once the signal started.
    fn check_minutes_before(&mut self, minute: i64) {
        let Some(last) = self.state.series.last().map(|m| m.at) else {
            return;
        };
        if minute <= last
            || self.state.open.is_some()
            || self.state.first_signal.is_some()
            || self.state.evaluated_at.is_some_and(|at| at >= minute)
        {
            return;
        }
        let (holds, _, _, _) = self.conditions(minute);
        if holds.contains(&true) {
            self.state.first_signal = Some(last);
            self.changed = true;
        }
    }

    /// Counts a mention already in the saved series (rebuilding the windows after a restart).
    pub fn replay(&mut self, at: i64, author: &str, text: &str) {
        self.signals.observe(at, author, text);
    }

    /// The open incident's id.
    pub fn open_incident(&self) -> Option<i64> {
        self.state.open.as_ref().map(|o| o.report.id)
    }

    /// The open incident's report so far, its chart filled in.
    pub fn open_report(&self) -> Option<IncidentReport> {
        let open = self.state.open.as_ref()?;
        Some(finish(open.report.clone(), &self.state.series))
    }

    /// Whether the levels are due for evaluation at `now` (every `every`).
    pub fn evaluation_due(&self, now: i64) -> bool {
        self.state
            .evaluated_at
            .is_none_or(|last| now - last >= self.plan.every.num_milliseconds().max(1_000))
    }

    /// Evaluates the levels and `resolve.when` at `now`; an incident that opens takes
    /// `next_id`. Returns whether one opened.
    pub fn evaluate(&mut self, now: i64, next_id: i64) -> bool {
        let (holds, resolve, signal, failed) = self.conditions(now);
        self.changed = true;
        self.state.signal = signal;
        self.state.evaluated_at = Some(now);
        if let Some(error) = failed {
            // Not "false": nothing opens, rises, falls or resolves on a condition that
            // could not be evaluated. It is said, kept, and told after a few in a row.
            tracing::error!(plan = %self.plan.name, "a crisis condition failed: {error}");
            let failure = self
                .state
                .condition_failure
                .get_or_insert(ConditionFailure {
                    since: now,
                    failures: 0,
                    error: String::new(),
                    notified: false,
                });
            failure.failures += 1;
            failure.error = error;
            return false;
        }
        self.state.condition_failure = None;
        if holds.contains(&true) {
            // The last minute with mentions tipped it, unless an earlier one already had.
            let last_minute = self.state.series.last().map_or(now, |m| m.at.min(now));
            self.state.first_signal.get_or_insert(last_minute);
        } else if self.state.open.is_none() {
            self.state.first_signal = None;
        }
        let opened = match self.machine.evaluate(now, &holds, resolve) {
            Some(Transition::Opened { level }) => {
                self.open(now, level, next_id);
                true
            }
            Some(Transition::Raised { from, to }) => {
                self.raise(now, from, to, true);
                false
            }
            Some(Transition::Resolved) => {
                self.close(now, None);
                false
            }
            None => false,
        };
        self.state.machine = self.machine.state.clone();
        self.trim_series(now);
        opened
    }

    /// The windows moved to `now`: whether each level's `when:` holds, whether `resolve.when`
    /// does, the signal texts render with, and the error of a condition that failed.
    /// A condition that could not be evaluated counts as not holding here, and is named in
    /// the last value, so the caller never takes it for "false".
    fn conditions(&mut self, now: i64) -> (Vec<bool>, bool, serde_json::Value, Option<String>) {
        self.signals.advance(now);
        let windows = self.signals.windows();
        let counts = windows.counts(Duration::from_secs(1800));
        let spike = windows.spike_ratio(Sentiment::Negative, Duration::from_secs(1800), RETENTION);
        let signal = json!({
            "total": counts.total, "negative": counts.negative, "positive": counts.positive,
            "neutral": counts.neutral, "authors": counts.authors,
            "spike": (spike * 10.0).round() / 10.0,
        });
        let local = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now)
            .unwrap_or_default()
            .with_timezone(&self.plan.timezone);
        let input = ConditionInput::new()
            .with_json("signal", &signal)
            .with("now", crate::script::now_map(&local))
            .with_signals(self.signals.source());
        let mut failed: Option<String> = None;
        let mut holds = Vec::with_capacity(self.plan.levels.len());
        for level in &self.plan.levels {
            match self.engine.evaluate(&level.when, &input) {
                Ok(holds_now) => holds.push(holds_now),
                Err(error) => {
                    failed = Some(format!("level `{}`: {}", level.name, error.message));
                    holds.push(false);
                }
            }
        }
        let resolve = match self.plan.resolve.as_ref() {
            Some(resolve) => match self.engine.evaluate(&resolve.when, &input) {
                Ok(holds_now) => holds_now,
                Err(error) => {
                    failed = Some(format!("`resolve`: {}", error.message));
                    false
                }
            },
            None => false,
        };
        drop(input);
        (holds, resolve, signal, failed)
    }

    fn open(&mut self, now: i64, level: usize, id: i64) {
        let plan = self.plan;
        let name = plan.levels[level].name.clone();
        let mut report = IncidentReport {
            id,
            plan: plan.name.clone(),
            signal_at: self.state.first_signal.unwrap_or(now),
            opened_at: now,
            acknowledged_at: None,
            acknowledged_by: None,
            responded_at: None,
            resolved_at: None,
            resolved_by: None,
            level: name.clone(),
            levels: vec![LevelMark {
                at: now,
                level: name.clone(),
            }],
            approvals: Vec::new(),
            timeline: Vec::new(),
            mentions: Vec::new(),
            timezone: plan.timezone.name().to_string(),
        };
        report.timeline.push(entry(
            now,
            &self.actor,
            "signal",
            format!("{}: {}", name, plan.levels[level].when.source()),
        ));
        report.timeline.push(entry(
            now,
            &self.actor,
            "level",
            format!("opened at {name}"),
        ));
        self.state.open = Some(OpenIncident {
            report,
            queue: (0..plan.levels[level].steps.len())
                .map(|step| (level, step))
                .collect(),
            ready_at: now,
            pending: None,
            ack: None,
            notified: Vec::new(),
            effects: 0,
            acked: None,
            plan_shape: Some(levels_shape(plan)),
        });
    }

    /// Moves the open incident from level `from` up to `to` and queues the steps of every
    /// level passed; `by_signal` when the level's condition did it (else an `escalate` step).
    fn raise(&mut self, now: i64, from: usize, to: usize, by_signal: bool) {
        let plan = self.plan;
        let actor = self.actor.clone();
        let Some(open) = self.state.open.as_mut() else {
            return;
        };
        let name = plan.levels[to].name.clone();
        open.report.level = name.clone();
        open.report.levels.push(LevelMark {
            at: now,
            level: name.clone(),
        });
        if by_signal {
            open.report.timeline.push(entry(
                now,
                &actor,
                "signal",
                format!("{}: {}", name, plan.levels[to].when.source()),
            ));
            open.report.timeline.push(entry(
                now,
                &actor,
                "level",
                format!("raised from {} to {name}", plan.levels[from].name),
            ));
        } else {
            open.report
                .timeline
                .push(entry(now, &actor, "level", format!("escalated to {name}")));
        }
        for level in from + 1..=to {
            open.queue
                .extend((0..plan.levels[level].steps.len()).map(|step| (level, step)));
        }
    }

    /// A person's action on the open incident at `at`. Refused (and, for a decision by
    /// someone who may not decide, recorded as ignored) with the reason.
    pub fn act(&mut self, at: i64, action: &Action) -> Result<(), String> {
        self.changed = true;
        let Some(open) = self.state.open.as_mut() else {
            return Err(format!("{} has no open incident", self.plan.name));
        };
        let by = action.by().to_string();
        if let Err(refused) = open.check(action) {
            if let ActionRefused::NotAnApprover { .. } = refused {
                open.report.timeline.push(entry(
                    at,
                    &by,
                    "approval",
                    format!("ignored: {by} is not an approver"),
                ));
            }
            return Err(refused.to_string());
        }
        match action {
            Action::Ack { .. } => {
                acknowledge(open, at, &by);
                Ok(())
            }
            Action::Decide { approve, note, .. } => {
                let Some(pending) = open.pending.clone() else {
                    let id = open.report.id;
                    return Err(ActionRefused::NoApprovalWaiting { id }.to_string());
                };
                if open.acknowledged_by().is_none() {
                    acknowledge(open, at, &by);
                }
                let decision = if *approve { "approved" } else { "rejected" };
                open.report.approvals.push(ApprovalRecord {
                    at,
                    step: "approve".into(),
                    decision: decision.into(),
                    by: by.clone(),
                    note: note.clone(),
                });
                let detail = match note {
                    Some(note) => format!("{decision}: {note}"),
                    None => decision.to_string(),
                };
                open.report
                    .timeline
                    .push(entry(at, &by, "approval", detail));
                let level = pending.level;
                open.pending = None;
                open.ready_at = open.ready_at.max(at);
                if !approve {
                    // The rest of the approval's level is dropped; higher levels go on.
                    open.queue.retain(|(l, _)| *l != level);
                }
                Ok(())
            }
            Action::Resolve { note, .. } => {
                if let Some(note) = note {
                    open.report
                        .timeline
                        .push(entry(at, &by, "note", note.clone()));
                }
                self.machine.resolve_by_hand(at);
                self.state.machine = self.machine.state.clone();
                self.close(at, Some(&by));
                Ok(())
            }
        }
    }

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
    fn approval_due(&mut self, now: i64) -> Option<usize> {
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
    fn ack_due(&mut self, now: i64) {
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

    /// Runs one step of `level`, or of `resolve:` (`None`: the incident has just been
    /// resolved, so nothing waits or asks any more).
    fn step(&mut self, now: i64, step: StepPlan, level: Option<usize>) {
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
    fn close(&mut self, now: i64, by: Option<&str>) {
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

    fn emit(&mut self, now: i64, kind: EffectKind) {
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

    /// Whether the state changed since the last call (a step ran, a timer fired, a person
    /// acted, the levels were evaluated).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The effects decided since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The incidents resolved since the last call.
    pub fn take_closed(&mut self) -> Vec<IncidentReport> {
        std::mem::take(&mut self.closed)
    }

    /// Keeps the chart's minutes an open incident's report needs (an hour before its
    /// signal), or the last two hours when none is open.
    /// A long open incident's minutes are merged into the chart's wider buckets.
    fn trim_series(&mut self, now: i64) {
        let keep_from = match &self.state.open {
            Some(open) => chart_start(open.report.signal_at),
            None => now - 2 * HOUR,
        };
        let drop = self.state.series.partition_point(|m| m.at < keep_from);
        self.state.series.drain(..drop);
        let width = bucket_width(keep_from, now);
        if self.state.open.is_some() && width > MINUTE {
            let series = std::mem::take(&mut self.state.series);
            let mut merged: Vec<MinuteCount> = Vec::with_capacity(series.len());
            for m in series {
                let at = keep_from + (m.at - keep_from) / width * width;
                match merged.last_mut() {
                    Some(last) if last.at == at => {
                        last.total += m.total;
                        last.negative += m.negative;
                    }
                    _ => merged.push(MinuteCount { at, ..m }),
                }
            }
            self.state.series = merged;
        }
    }
}

/// `by` takes the incident at its current level (the report keeps the first acknowledgement:
/// the time to acknowledge); reminders for it stop.
fn acknowledge(open: &mut OpenIncident, at: i64, by: &str) {
    let detail = if open.report.acknowledged_at.is_none() {
        open.report.acknowledged_at = Some(at);
        open.report.acknowledged_by = Some(by.to_string());
        "acknowledged".to_string()
    } else {
        format!("acknowledged at {}", open.report.level)
    };
    open.report.timeline.push(entry(at, by, "ack", detail));
    open.acked = Some((open.report.level.clone(), by.to_string()));
    open.ack = None;
}

/// Why a person's action cannot be applied to the open incident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionRefused {
    #[error("incident {id} is already acknowledged at {level} by {by}")]
    AlreadyAcknowledged { id: i64, level: String, by: String },
    #[error("incident {id} has no approval waiting")]
    NoApprovalWaiting { id: i64 },
    #[error("{by} may not decide incident {id}'s approval; the approvers are {}", approvers.join(", "))]
    NotAnApprover {
        id: i64,
        by: String,
        approvers: Vec<String>,
    },
}

impl OpenIncident {
    /// Whether `action` may be applied now: the one check of who may act on an incident,
    /// made when a person asks and again when the service applies it.
    pub fn check(&self, action: &Action) -> Result<(), ActionRefused> {
        let id = self.report.id;
        match action {
            Action::Ack { .. } => match self.acknowledged_by() {
                Some(by) => Err(ActionRefused::AlreadyAcknowledged {
                    id,
                    level: self.report.level.clone(),
                    by: by.to_string(),
                }),
                None => Ok(()),
            },
            Action::Decide { by, .. } => match &self.pending {
                None => Err(ActionRefused::NoApprovalWaiting { id }),
                Some(pending) if !pending.by.contains(by) => Err(ActionRefused::NotAnApprover {
                    id,
                    by: by.clone(),
                    approvers: pending.by.clone(),
                }),
                Some(_) => Ok(()),
            },
            Action::Resolve { .. } => Ok(()),
        }
    }

    /// Who acknowledged the incident at its current level, if anyone did: a higher level's
    /// notifications need acknowledging again.
    pub fn acknowledged_by(&self) -> Option<&str> {
        self.acked
            .as_ref()
            .filter(|(level, _)| *level == self.report.level)
            .map(|(_, by)| by.as_str())
    }
}

fn entry(at: i64, actor: &str, kind: &str, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.into(),
        kind: kind.into(),
        detail,
    }
}

/// Where a report's chart starts: the minute an hour before the signal's.
fn chart_start(signal_at: i64) -> i64 {
    signal_at - signal_at.rem_euclid(MINUTE) - HOUR
}

/// A chart's bucket from `start` to `end`: a minute, or the fewest minutes (a power of two,
/// so narrower buckets merge into wider ones exactly) that keep it within [`CHART_POINTS`].
fn bucket_width(start: i64, end: i64) -> i64 {
    let minutes = (end - start).max(0) / MINUTE + 1;
    let mut width = 1;
    while minutes > CHART_POINTS * width {
        width *= 2;
    }
    width * MINUTE
}

/// The report with its chart: every minute (or bucket, see [`CHART_POINTS`]) from an hour
/// before the signal to the resolve (or the last mention), empty ones included, so the
/// chart's lines do not bridge gaps.
fn finish(mut report: IncidentReport, series: &[MinuteCount]) -> IncidentReport {
    let start = chart_start(report.signal_at);
    let last = series.last().map_or(start, |m| m.at);
    let end = report
        .resolved_at
        .map_or(last, |r| r - r.rem_euclid(MINUTE));
    let width = bucket_width(start, end);
    let mut dense = Vec::new();
    let mut source = series.iter().filter(|m| m.at >= start).peekable();
    let mut bucket = start;
    while bucket <= end {
        let mut count = MinuteCount {
            at: bucket,
            total: 0,
            negative: 0,
        };
        while let Some(m) = source.next_if(|m| m.at < bucket + width) {
            count.total += m.total;
            count.negative += m.negative;
        }
        dense.push(count);
        bucket += width;
    }
    report.mentions = dense;
    report
}

/// A step's text with the plan's `vars`, `signal`, `incident`, `level` and `plan`.
fn render(
    texts: &TextTemplates,
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
    texts
        .render(text, &serde_json::Value::Object(context))
        .map_err(|e| e.message)
}

/// The plan's levels and their steps, as text: queued positions stay valid while it is the same.
fn levels_shape(plan: &CrisisPlan) -> String {
    let mut shape = String::new();
    for level in &plan.levels {
        shape.push_str(&level.name);
        shape.push('[');
        for step in &level.steps {
            shape.push_str(&format!("{step:?};"));
        }
        shape.push(']');
    }
    shape
}

/// Everyone a plan notifies, except `except`, in plan order.
fn people_of(plan: &CrisisPlan, except: &[String]) -> Vec<String> {
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
