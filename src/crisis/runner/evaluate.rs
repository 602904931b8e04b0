//! The mention stream (windows, the per-minute series a report charts, the minute the
//! signal started) and the levels' conditions: opening, raising and resolving incidents.

use std::time::Duration;

use serde_json::json;

use super::{
    ConditionFailure, HOUR, MINUTE, OpenIncident, PlanRunner, RETENTION, bucket_width, chart_start,
    entry, levels_shape,
};
use crate::crisis::Tone;
use crate::crisis::incident::Transition;
use crate::crisis::report::{IncidentReport, LevelMark, MinuteCount};
use crate::script::{ConditionInput, Sentiment};
use crate::store::{CrisisStore, StoreResult};

/// Stored mentions a restore replays per page: what it holds at once, however many days
/// of mentions the windows keep.
pub const REPLAY_PAGE: usize = 1_000;

impl PlanRunner<'_> {
    /// Rebuilds the windows after a restart from the plan's stored mentions made at or after
    /// `since`, up to the last one the saved state had read, a page at a time.
    pub fn replay_stored(&mut self, store: &dyn CrisisStore, since: i64) -> StoreResult<()> {
        let read = self.state.mentions_read;
        let mut after = 0;
        // Ends: every page moves `after` on, and the stream is finite.
        loop {
            let page = store.crisis_mentions_page(&self.plan.name, after, since, REPLAY_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.seq;
            for mention in &page {
                if mention.seq > read {
                    return Ok(());
                }
                self.replay(mention.at, &mention.author, &mention.text);
            }
            if page.len() < REPLAY_PAGE {
                return Ok(());
            }
        }
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
    pub(super) fn check_minutes_before(&mut self, minute: i64) {
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
    pub(super) fn conditions(
        &mut self,
        now: i64,
    ) -> (Vec<bool>, bool, serde_json::Value, Option<String>) {
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

    pub(super) fn open(&mut self, now: i64, level: usize, id: i64) {
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
    pub(super) fn raise(&mut self, now: i64, from: usize, to: usize, by_signal: bool) {
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

    /// Keeps the chart's minutes an open incident's report needs (an hour before its
    /// signal), or the last two hours when none is open.
    /// A long open incident's minutes are merged into the chart's wider buckets.
    pub(super) fn trim_series(&mut self, now: i64) {
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
