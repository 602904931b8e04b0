//! One crisis plan running over time: its mention stream (keywords, tone, windows, and the
//! per-minute series a report charts), its incident machine, and the open incident's steps,
//! approvals, acknowledgements and reminders. The runner decides and its caller acts: the
//! `Effect`s it returns are what must be sent, paused or resumed. `crier run` commits them as
//! outbox runs together with the runner's state; the fire drill only records them. All the
//! runner keeps between calls is `RunnerState`, which serialises, so a restart resumes the
//! open incident, its pending approval and its timers where they were.
//!
//! The runner is split by what it does: `state` (what it keeps, its effects and people's
//! actions), `evaluate` (the mention stream and the levels' conditions), `act` (people's
//! actions), `due` (timers: approval deadlines, acknowledgement reminders, queued steps),
//! `steps` (running one step, resolving, emitting effects).

mod act;
mod due;
mod evaluate;
mod state;
mod steps;

pub use evaluate::REPLAY_PAGE;
pub use state::*;

use std::time::Duration;

use super::CrisisSignals;
use super::incident::IncidentMachine;
use super::report::{IncidentReport, MinuteCount, TimelineEntry};
use crate::playbook::plan::CrisisPlan;
use crate::script::ScriptEngine;
use crate::text::Renderer;

/// The baseline windows keep: the longest window conditions read in practice.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// At most this many points in a report's chart (a day of minutes): a longer incident is
/// counted per 2, 4, 8… minutes, so what an open incident rewrites each tick stays bounded
/// however long it stays open.
pub const CHART_POINTS: i64 = 1_440;

/// A plan, its signals, and its state.
pub struct PlanRunner<'a> {
    plan: &'a CrisisPlan,
    engine: &'a ScriptEngine,
    /// Under `crier run`, cut short by a stop: a text that was stopped reads as one that
    /// could not be rendered, and the engine commits nothing of that tick.
    texts: Renderer<'a>,
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
        texts: Renderer<'a>,
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
        texts: Renderer<'a>,
        state: RunnerState,
        signals: CrisisSignals,
    ) -> PlanRunner<'a> {
        PlanRunner::with_signals(plan, engine, texts, state, signals)
    }

    fn with_signals(
        plan: &'a CrisisPlan,
        engine: &'a ScriptEngine,
        texts: Renderer<'a>,
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
}

pub(super) fn entry(at: i64, actor: &str, kind: &str, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.into(),
        kind: kind.into(),
        detail,
    }
}

/// Where a report's chart starts: the minute an hour before the signal's.
pub(super) fn chart_start(signal_at: i64) -> i64 {
    signal_at - signal_at.rem_euclid(MINUTE) - HOUR
}

/// A chart's bucket from `start` to `end`: a minute, or the fewest minutes (a power of two,
/// so narrower buckets merge into wider ones exactly) that keep it within [`CHART_POINTS`].
pub(super) fn bucket_width(start: i64, end: i64) -> i64 {
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
pub(super) fn finish(mut report: IncidentReport, series: &[MinuteCount]) -> IncidentReport {
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

/// The plan's levels and their steps, as text: queued positions stay valid while it is the same.
pub(super) fn levels_shape(plan: &CrisisPlan) -> String {
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
