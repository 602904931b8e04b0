//! `crier incidents` and `crier incident ack|approve|reject|resolve|report`. People's actions
//! go through `ops::incidents` (checked there, recorded for the service); this waits a
//! moment for a running `crier run` to apply them and says what it made of them.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;

use super::engine_commands::{desk, local, reading_desk};
use super::{TableFormat, USAGE};
use crate::crisis::{IncidentReport, ReportFormat, duration};
use crate::ops::incidents::{self, Applied, IncidentAction, IncidentError};
use crate::ops::views::{self, ListedIncident};
use crate::store::from_millis;

type CommandResult = Result<ExitCode, String>;

/// How long a command waits to see its action applied by a running service.
const WAIT_APPLIED: Duration = Duration::from_secs(3);

pub(super) fn list(path: &Path, all: bool, format: TableFormat) -> CommandResult {
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let plan = &desk.plan;
    let shown =
        views::incidents(desk.store.as_ref(), all, Utc::now()).map_err(|e| e.to_string())?;
    match format {
        TableFormat::Json => {
            for ListedIncident { row, report } in shown {
                let report = report?;
                let mut value = serde_json::to_value(&report).expect("reports serialise");
                if let Some(object) = value.as_object_mut() {
                    object.remove("mentions");
                    object.remove("timeline");
                    object.insert("status".into(), row.status.clone().into());
                }
                let value = crate::ops::times::with_rfc3339_times(
                    value,
                    crate::ops::times::INCIDENT_TIMES,
                    plan.timezone,
                );
                outln!("{value}");
            }
        }
        TableFormat::Table => {
            if shown.is_empty() {
                outln!(
                    "no incidents{}",
                    if all { "" } else { " in the last 30 days" }
                );
            }
            for ListedIncident { row, report } in shown {
                let report = report?;
                outln!(
                    "{}  {}  {}  {}",
                    row.id,
                    row.plan,
                    row.level,
                    status_line(&report, plan.timezone)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status_line(report: &IncidentReport, tz: chrono_tz::Tz) -> String {
    let at = |ms: i64| local(from_millis(ms), tz);
    let mut line = format!("opened {}", at(report.opened_at));
    match (&report.acknowledged_by, report.acknowledged_at) {
        (Some(by), Some(when)) => line.push_str(&format!(", acknowledged by {by} at {}", at(when))),
        _ => line.push_str(", NOT ACKNOWLEDGED"),
    }
    match report.resolved_at {
        Some(when) => line.push_str(&format!(
            ", resolved {}{} after {}",
            at(when),
            report
                .resolved_by
                .as_deref()
                .map(|by| format!(" by {by}"))
                .unwrap_or_default(),
            duration(when - report.opened_at)
        )),
        None => line.push_str(", open"),
    }
    line
}

pub(super) fn report(path: &Path, id: i64, format: &str) -> CommandResult {
    let Some(format) = ReportFormat::parse(format) else {
        errln!("error: --format is md, html or json, not `{format}`");
        return Ok(ExitCode::from(USAGE));
    };
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let report = incidents::report(&desk, id).map_err(|e| refusal(e, desk.plan.timezone))?;
    out!("{}", report.render(format));
    Ok(ExitCode::SUCCESS)
}

/// An incident refusal in the CLI's words.
fn refusal(error: IncidentError, tz: chrono_tz::Tz) -> String {
    match error {
        IncidentError::Unknown { id, latest } if latest.is_empty() => {
            format!("there is no incident {id}: there are no incidents")
        }
        IncidentError::Unknown { id, latest } => format!(
            "there is no incident {id}; the latest are {} (see `crier incidents`)",
            latest
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        IncidentError::Resolved { id, at } => format!(
            "incident {id} was resolved at {}; it takes no more actions",
            local(at, tz)
        ),
        other => other.to_string(),
    }
}

/// Checks the action by `by` on incident `id` and records it for the service, then waits a
/// moment to say what a running service made of it.
pub(super) fn act(path: &Path, id: i64, by: &str, action: IncidentAction) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let tz = desk.plan.timezone;
    let by = desk.actor(by).map_err(|e| e.to_string())?;
    let what = match &action {
        IncidentAction::Ack => "acknowledgement",
        IncidentAction::Decide { approve: true, .. } => "approval",
        IncidentAction::Decide { approve: false, .. } => "rejection",
        IncidentAction::Resolve { .. } => "resolve",
    };
    let recorded =
        incidents::act(&desk, &by, id, action, Utc::now()).map_err(|error| refusal(error, tz))?;
    let deadline = std::time::Instant::now() + WAIT_APPLIED;
    while std::time::Instant::now() < deadline {
        match incidents::applied(&desk, &recorded).map_err(|e| refusal(e, tz))? {
            Some(Applied::Done) => {
                outln!("incident {id}: {what} by {by} applied");
                return Ok(ExitCode::SUCCESS);
            }
            Some(Applied::Refused(reason)) => {
                return Err(format!("incident {id}: the {what} was refused: {reason}"));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    outln!(
        "incident {id}: {what} by {by} recorded at {}; `crier run` applies it when it next runs",
        local(recorded.at, tz)
    );
    Ok(ExitCode::SUCCESS)
}
