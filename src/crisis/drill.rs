//! The fire drill: one crisis plan over a stream of mentions and approval decisions on a
//! virtual clock, evaluated every `every`, producing each incident's report. Nothing is sent:
//! notifications, pauses and posts are timeline entries. Deterministic for the same input.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::json;

use super::incident::{IncidentMachine, Transition};
use super::report::{ApprovalRecord, IncidentReport, LevelMark, MinuteCount, TimelineEntry};
use super::{CrisisSignals, duration};
use crate::playbook::plan::{CrisisPlan, StepPlan};
use crate::playbook::raw::OnTimeout;
use crate::script::{ConditionInput, ScriptEngine, Sentiment};
use crate::text::TextTemplates;

/// A mention fed to the drill.
#[derive(Debug, Clone)]
pub struct DrillMention {
    pub at: i64,
    pub author: String,
    pub text: String,
}

/// A person's decision on the incident's pending approval.
#[derive(Debug, Clone)]
pub struct DrillDecision {
    pub at: i64,
    pub by: String,
    pub approve: bool,
    pub note: Option<String>,
}

/// The baseline windows keep: the longest window conditions read in practice.
const RETENTION: Duration = Duration::from_secs(7 * 86_400);

struct Open {
    report: IncidentReport,
    /// Steps still to run, and when the next may run.
    queue: VecDeque<StepPlan>,
    ready_at: i64,
    /// The pending approval: (approvers, deadline, on_timeout, escalated already).
    pending: Option<(Vec<String>, Option<i64>, OnTimeout, bool)>,
}

/// Runs `plan` from `from` to `until` (milliseconds): mentions and decisions must be sorted
/// by time. Returns every incident, open or resolved, oldest first.
pub fn drill(
    plan: &CrisisPlan,
    engine: &ScriptEngine,
    mentions: &[DrillMention],
    decisions: &[DrillDecision],
    from: i64,
    until: i64,
) -> Vec<IncidentReport> {
    let every = plan.every.num_milliseconds().max(1_000);
    let mut signals = CrisisSignals::for_plan(plan, RETENTION);
    let mut machine =
        IncidentMachine::new(plan.resolve.as_ref().map(|r| r.hold_for.num_milliseconds()));
    let texts = TextTemplates::new();
    let actor = format!("crisis:{}", plan.name);
    let mut reports = Vec::new();
    let mut open: Option<Open> = None;
    let mut first_signal: Option<i64> = None;
    let (mut next_mention, mut next_decision) = (0, 0);
    let mut series: Vec<MinuteCount> = Vec::new();
    let ticks = (until - from).max(0) / every + 1;
    for tick in 0..ticks {
        let now = from + tick * every;
        while let Some(m) = mentions.get(next_mention).filter(|m| m.at <= now) {
            if let Some(tone) = signals.observe(m.at, &m.author, &m.text) {
                let minute = m.at - m.at.rem_euclid(60_000);
                match series.last_mut() {
                    Some(last) if last.at == minute => {}
                    _ => series.push(MinuteCount {
                        at: minute,
                        total: 0,
                        negative: 0,
                    }),
                }
                let last = series.last_mut().expect("pushed above");
                last.total += 1;
                last.negative += u64::from(tone == super::Tone::Negative);
            }
            next_mention += 1;
        }
        signals.advance(now);
        let windows = signals.windows();
        let counts = windows.counts(Duration::from_secs(1800));
        let spike = windows.spike_ratio(Sentiment::Negative, Duration::from_secs(1800), RETENTION);
        let signal = json!({
            "total": counts.total, "negative": counts.negative, "positive": counts.positive,
            "neutral": counts.neutral, "authors": counts.authors,
            "spike": (spike * 10.0).round() / 10.0,
        });
        let input = ConditionInput::new()
            .with_json("signal", &signal)
            .with(
                "now",
                crate::script::now_map(
                    &chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now)
                        .unwrap_or_default()
                        .with_timezone(&plan.timezone),
                ),
            )
            .with_signals(signals.source());
        let holds: Vec<bool> = plan
            .levels
            .iter()
            .map(|l| engine.evaluate(&l.when, &input).unwrap_or(false))
            .collect();
        let resolve = plan
            .resolve
            .as_ref()
            .is_some_and(|r| engine.evaluate(&r.when, &input).unwrap_or(false));
        drop(input);
        if holds.first().copied().unwrap_or(false) {
            first_signal.get_or_insert(now);
        } else if open.is_none() {
            first_signal = None;
        }

        // Decisions of people on the pending approval (an approval also acknowledges).
        while let Some(d) = decisions.get(next_decision).filter(|d| d.at <= now) {
            next_decision += 1;
            let Some(incident) = open.as_mut() else {
                continue;
            };
            let Some((by, ..)) = &incident.pending else {
                continue;
            };
            if !by.contains(&d.by) {
                incident.report.timeline.push(entry(
                    d.at,
                    &d.by,
                    "approval",
                    format!("ignored: {} is not an approver", d.by),
                ));
                continue;
            }
            if incident.report.acknowledged_at.is_none() {
                incident.report.acknowledged_at = Some(d.at);
                incident.report.acknowledged_by = Some(d.by.clone());
                incident
                    .report
                    .timeline
                    .push(entry(d.at, &d.by, "ack", "acknowledged".into()));
            }
            let decision = if d.approve { "approved" } else { "rejected" };
            incident.report.approvals.push(ApprovalRecord {
                at: d.at,
                step: "approve".into(),
                decision: decision.into(),
                by: d.by.clone(),
                note: d.note.clone(),
            });
            incident
                .report
                .timeline
                .push(entry(d.at, &d.by, "approval", decision.into()));
            incident.pending = None;
            incident.ready_at = d.at;
            if !d.approve {
                incident.queue.clear();
            }
        }

        match machine.evaluate(now, &holds, resolve) {
            Some(Transition::Opened { level }) => {
                let id = reports.len() as i64 + 1;
                let name = plan.levels[level].name.clone();
                let signal_at = first_signal.unwrap_or(now);
                let mut report = IncidentReport {
                    id,
                    plan: plan.name.clone(),
                    signal_at,
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
                };
                report.timeline.push(entry(
                    now,
                    &actor,
                    "signal",
                    format!("{}: {}", name, plan.levels[level].when.source()),
                ));
                report
                    .timeline
                    .push(entry(now, &actor, "level", format!("opened at {name}")));
                open = Some(Open {
                    report,
                    queue: plan.levels[level].steps.iter().cloned().collect(),
                    ready_at: now,
                    pending: None,
                });
            }
            Some(Transition::Raised { from: old, to }) => {
                let incident = open.as_mut().expect("a raised incident is open");
                let name = plan.levels[to].name.clone();
                incident.report.level = name.clone();
                incident.report.levels.push(LevelMark {
                    at: now,
                    level: name.clone(),
                });
                incident.report.timeline.push(entry(
                    now,
                    &actor,
                    "signal",
                    format!("{}: {}", name, plan.levels[to].when.source()),
                ));
                incident.report.timeline.push(entry(
                    now,
                    &actor,
                    "level",
                    format!("raised from {} to {name}", plan.levels[old].name),
                ));
                for level in &plan.levels[old + 1..=to] {
                    incident.queue.extend(level.steps.iter().cloned());
                }
            }
            Some(Transition::Resolved) => {
                if let Some(mut incident) = open.take() {
                    close(&mut incident, now, None, plan, &texts, &signal, &actor);
                    reports.push(finish(incident.report, &series));
                }
            }
            None => {}
        }
        if let Some(incident) = open.as_mut() {
            run_steps(incident, now, plan, &texts, &signal, &actor, &mut machine);
        }
    }
    if let Some(incident) = open.take() {
        reports.push(finish(incident.report, &series));
    }
    reports
}

fn entry(at: i64, actor: &str, kind: &str, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.into(),
        kind: kind.into(),
        detail,
    }
}

fn finish(mut report: IncidentReport, series: &[MinuteCount]) -> IncidentReport {
    // Every minute from an hour before the signal to the resolve (or the last mention), zero
    // minutes included, so the chart's lines do not bridge quiet gaps.
    let start = report.signal_at - report.signal_at.rem_euclid(60_000) - 60 * 60_000;
    let last = series.last().map_or(start, |m| m.at);
    let end = report
        .resolved_at
        .map_or(last, |r| r - r.rem_euclid(60_000));
    let mut dense = Vec::new();
    let mut source = series.iter().filter(|m| m.at >= start).peekable();
    let mut minute = start;
    while minute <= end {
        match source.peek() {
            Some(m) if m.at == minute => {
                dense.push(**m);
                source.next();
            }
            _ => dense.push(MinuteCount {
                at: minute,
                total: 0,
                negative: 0,
            }),
        }
        minute += 60_000;
    }
    report.mentions = dense;
    report
}

fn render(
    texts: &TextTemplates,
    text: &str,
    signal: &serde_json::Value,
    report: &IncidentReport,
    now: i64,
) -> String {
    let context = json!({
        "signal": signal,
        "incident": {
            "id": report.id, "plan": report.plan, "level": report.level,
            "duration": duration(now - report.opened_at),
            "report_url": format!("crier incident report {}", report.id),
        },
    });
    texts
        .render(text, &context)
        .unwrap_or_else(|_| text.to_owned())
}

fn close(
    incident: &mut Open,
    now: i64,
    by: Option<&str>,
    plan: &CrisisPlan,
    texts: &TextTemplates,
    signal: &serde_json::Value,
    actor: &str,
) {
    let report = &mut incident.report;
    report.resolved_at = Some(now);
    report.resolved_by = by.map(str::to_owned);
    report.timeline.push(entry(
        now,
        by.unwrap_or(actor),
        "resolve",
        "resolved".into(),
    ));
    for step in plan.resolve.iter().flat_map(|r| &r.steps) {
        match step {
            StepPlan::Resume { targets } => report.timeline.push(entry(
                now,
                actor,
                "step",
                format!("resume {}", targets.join(", ")),
            )),
            StepPlan::Notify { people, text } => {
                let text = text
                    .as_deref()
                    .map(|t| render(texts, t, signal, report, now))
                    .unwrap_or_else(|| format!("{} resolved", plan.name));
                report.timeline.push(entry(
                    now,
                    actor,
                    "notify",
                    format!("{}: {text}", people.join(", ")),
                ));
            }
            other => report
                .timeline
                .push(entry(now, actor, "step", format!("{other:?}"))),
        }
    }
}

fn run_steps(
    incident: &mut Open,
    now: i64,
    plan: &CrisisPlan,
    texts: &TextTemplates,
    signal: &serde_json::Value,
    actor: &str,
    machine: &mut IncidentMachine,
) {
    // Bounded: each iteration consumes a step or returns.
    for _ in 0..=incident.queue.len() {
        if let Some((by, deadline, on_timeout, escalated)) = incident.pending.clone() {
            match deadline {
                Some(deadline) if now >= deadline && !escalated => {
                    let outcome = match on_timeout {
                        OnTimeout::Escalate => "escalate",
                        OnTimeout::Proceed => "proceed",
                        OnTimeout::Abort => "abort",
                    };
                    incident.report.approvals.push(ApprovalRecord {
                        at: now,
                        step: "approve".into(),
                        decision: format!("timeout:{outcome}"),
                        by: actor.into(),
                        note: None,
                    });
                    incident.report.timeline.push(entry(
                        now,
                        actor,
                        "approval",
                        format!("no decision from {} in time: {outcome}", by.join(", ")),
                    ));
                    match on_timeout {
                        OnTimeout::Proceed => incident.pending = None,
                        OnTimeout::Abort => {
                            incident.pending = None;
                            incident.queue.clear();
                            return;
                        }
                        OnTimeout::Escalate => {
                            let others = people_of(plan, &by);
                            incident.report.timeline.push(entry(
                                now,
                                actor,
                                "notify",
                                format!(
                                    "{}: approval needed for {} (escalated)",
                                    others.join(", "),
                                    plan.name
                                ),
                            ));
                            let mut widened = by.clone();
                            widened.extend(others);
                            incident.pending = Some((widened, None, on_timeout, true));
                            return;
                        }
                    }
                }
                _ => return,
            }
        }
        if now < incident.ready_at {
            return;
        }
        let Some(step) = incident.queue.pop_front() else {
            return;
        };
        let report = &mut incident.report;
        match step {
            StepPlan::Notify { people, text } => {
                let text = text
                    .as_deref()
                    .map(|t| render(texts, t, signal, report, now))
                    .unwrap_or_else(|| format!("{} is at {}", plan.name, report.level));
                report.timeline.push(entry(
                    now,
                    actor,
                    "notify",
                    format!("{}: {text}", people.join(", ")),
                ));
            }
            StepPlan::Pause { targets } => report.timeline.push(entry(
                now,
                actor,
                "step",
                format!("pause {}", targets.join(", ")),
            )),
            StepPlan::Resume { targets } => report.timeline.push(entry(
                now,
                actor,
                "step",
                format!("resume {}", targets.join(", ")),
            )),
            StepPlan::Approve {
                by,
                timeout,
                on_timeout,
            } => {
                report.timeline.push(entry(
                    now,
                    actor,
                    "notify",
                    format!("{}: approval needed for {}", by.join(", "), plan.name),
                ));
                let deadline = timeout.map(|t| now + t.num_milliseconds());
                incident.pending = Some((by, deadline, on_timeout, false));
            }
            StepPlan::Post { to, text, .. } => {
                let text = render(texts, &text, signal, report, now);
                report.responded_at.get_or_insert(now);
                report.timeline.push(entry(
                    now,
                    actor,
                    "post",
                    format!("{}: {text}", to.join(", ")),
                ));
            }
            StepPlan::Wait { duration: wait } => {
                report.timeline.push(entry(
                    now,
                    actor,
                    "step",
                    format!("wait {}", duration(wait.num_milliseconds())),
                ));
                incident.ready_at = now + wait.num_milliseconds();
            }
            StepPlan::Escalate { to } => {
                let current = plan
                    .levels
                    .iter()
                    .position(|l| l.name == report.level)
                    .unwrap_or(0);
                let target = match &to {
                    Some(name) => plan.levels.iter().position(|l| &l.name == name),
                    None => (current + 1 < plan.levels.len()).then_some(current + 1),
                };
                match target.filter(|t| *t > current) {
                    Some(t) => {
                        let name = plan.levels[t].name.clone();
                        report.level = name.clone();
                        report.levels.push(LevelMark {
                            at: now,
                            level: name.clone(),
                        });
                        report.timeline.push(entry(
                            now,
                            actor,
                            "level",
                            format!("escalated to {name}"),
                        ));
                        machine.state.level = Some(t);
                        for level in &plan.levels[current + 1..=t] {
                            incident.queue.extend(level.steps.iter().cloned());
                        }
                    }
                    None => report.timeline.push(entry(
                        now,
                        actor,
                        "step",
                        "escalate: already at the highest level".into(),
                    )),
                }
            }
        }
    }
}

/// Everyone a plan notifies, except `except`, in plan order.
fn people_of(plan: &CrisisPlan, except: &[String]) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for step in plan.levels.iter().flat_map(|l| &l.steps) {
        if let StepPlan::Notify { people: p, .. } = step {
            for person in p {
                if !except.contains(person) && !people.contains(person) {
                    people.push(person.clone());
                }
            }
        }
    }
    people
}

/// Every crisis plan of `plan` over a rehearsal's events: mentions and replies are mentions,
/// approvals decide the pending approval of the incident of the plan they name.
pub fn drill_events(
    plan: &crate::playbook::plan::Plan,
    events: &[crate::engine::rehearse::RehearsalEvent],
    from: i64,
    until: i64,
) -> Vec<IncidentReport> {
    use crate::engine::rehearse::EventKind;
    let engine = ScriptEngine::new();
    let mut sorted: Vec<_> = events.iter().collect();
    sorted.sort_by_key(|e| e.at.timestamp_millis());
    let mut reports = Vec::new();
    for crisis in &plan.crises {
        let mentions: Vec<DrillMention> = sorted
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Mention | EventKind::Reply))
            .filter(|e| {
                e.account
                    .as_ref()
                    .is_none_or(|a| crisis.watch.is_empty() || crisis.watch.contains(a))
            })
            .map(|e| DrillMention {
                at: e.at.timestamp_millis(),
                author: e.author.clone().unwrap_or_default(),
                text: e.text.clone().unwrap_or_default(),
            })
            .collect();
        let decisions: Vec<DrillDecision> = sorted
            .iter()
            .filter(|e| {
                e.kind == EventKind::Approval && e.incident.as_deref() == Some(crisis.name.as_str())
            })
            .map(|e| DrillDecision {
                at: e.at.timestamp_millis(),
                by: e.by.clone().unwrap_or_default(),
                approve: matches!(e.decision.as_deref(), Some("approve" | "approved" | "yes")),
                note: e.note.clone(),
            })
            .collect();
        reports.extend(drill(crisis, &engine, &mentions, &decisions, from, until));
    }
    for (index, report) in reports.iter_mut().enumerate() {
        report.id = index as i64 + 1;
    }
    reports
}

/// Several reports as one document of `format` (a JSON array for JSON).
pub fn render_reports(reports: &[IncidentReport], format: super::ReportFormat) -> String {
    match format {
        super::ReportFormat::Json => {
            let values: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| serde_json::from_str(&r.render(format)).expect("a report is JSON"))
                .collect();
            serde_json::to_string_pretty(&values).expect("reports serialize") + "\n"
        }
        _ if reports.is_empty() => match format {
            super::ReportFormat::Html => "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>No incidents</title></head><body><p>No incidents.</p></body></html>\n".into(),
            _ => "No incidents.\n".into(),
        },
        _ => reports.iter().map(|r| r.render(format)).collect::<Vec<_>>().join("\n"),
    }
}
