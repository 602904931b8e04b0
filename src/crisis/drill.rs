//! The fire drill: one crisis plan over a stream of mentions and approval decisions on a
//! virtual clock, evaluated every `every`, producing each incident's report. Nothing is sent:
//! notifications, pauses and posts are timeline entries. Deterministic for the same input.

use super::report::IncidentReport;
use super::runner::{Action, PlanRunner, RunnerState};
use crate::playbook::plan::CrisisPlan;
use crate::script::ScriptEngine;
use crate::text::{Renderer, TextTemplates};

/// A mention fed to the drill.
#[derive(Debug, Clone)]
pub struct DrillMention {
    pub at: i64,
    pub author: String,
    pub text: String,
}

/// A person's action on the plan's open incident: an approval decision, an acknowledgement
/// or a resolve.
#[derive(Debug, Clone)]
pub struct DrillDecision {
    pub at: i64,
    pub action: Action,
}

/// Runs `plan` from `from` to `until` (milliseconds), evaluating every `every`: mentions and
/// decisions must be sorted by time. Returns every incident, open or resolved, oldest first.
pub fn drill(
    plan: &CrisisPlan,
    engine: &ScriptEngine,
    mentions: &[DrillMention],
    decisions: &[DrillDecision],
    from: i64,
    until: i64,
) -> Vec<IncidentReport> {
    let every = plan.every.num_milliseconds().max(1_000);
    let texts = TextTemplates::new();
    let renderer = Renderer::Inline(&texts);
    let mut runner = PlanRunner::new(plan, engine, renderer, RunnerState::default());
    let mut reports = Vec::new();
    let (mut next_mention, mut next_decision) = (0, 0);
    let ticks = (until - from).max(0) / every + 1;
    for tick in 0..ticks {
        let now = from + tick * every;
        while let Some(m) = mentions.get(next_mention).filter(|m| m.at <= now) {
            runner.observe(m.at, &m.author, &m.text);
            next_mention += 1;
        }
        while let Some(d) = decisions.get(next_decision).filter(|d| d.at <= now) {
            next_decision += 1;
            // A refused decision is on the timeline where it matters (not an approver).
            let _ = runner.act(d.at, &d.action);
        }
        runner.evaluate(now, reports.len() as i64 + 1);
        runner.run_due(now);
        runner.take_effects();
        reports.extend(runner.take_closed());
    }
    reports.extend(runner.open_report());
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
