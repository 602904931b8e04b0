//! `crier incidents` and `crier incident ack|approve|reject|resolve|report`. People's actions
//! are checked here against the stored incident (open, a known person, an approval waiting
//! and this person an approver) and recorded in the store; the running `crier run`, the only
//! writer of incidents, applies them in order within a second and puts them on the timeline.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::engine_commands::{local, valid_plan};
use super::{TableFormat, USAGE};
use crate::crisis::runner::{Action, RunnerState};
use crate::crisis::{IncidentReport, ReportFormat, duration};
use crate::playbook::plan::Plan;
use crate::store::{self, IncidentRow, Store, from_millis, to_millis};

type CommandResult = Result<ExitCode, String>;

/// How long a command waits to see its action applied by a running service.
const WAIT_APPLIED: Duration = Duration::from_secs(3);

/// The valid plan and its store, or the exit code (the diagnostics are printed).
type Opened = Result<(Plan, std::sync::Arc<dyn Store>), ExitCode>;

fn open_store(path: &Path) -> Result<Opened, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(Err(code)),
    };
    let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
    Ok(Ok((plan, store)))
}

fn report_of(row: &IncidentRow) -> Result<IncidentReport, String> {
    serde_json::from_str(&row.report)
        .map_err(|e| format!("incident {} is stored unreadably: {e}", row.id))
}

pub(super) fn list(path: &Path, all: bool, format: TableFormat) -> CommandResult {
    let (plan, store) = match open_store(path)? {
        Ok(parts) => parts,
        Err(code) => return Ok(code),
    };
    let rows = store.incidents().map_err(|e| e.to_string())?;
    let recent = to_millis(Utc::now()) - 30 * 86_400_000;
    let shown: Vec<&IncidentRow> = rows
        .iter()
        .filter(|r| all || r.status == "open" || r.resolved_at.is_some_and(|at| at >= recent))
        .collect();
    match format {
        TableFormat::Json => {
            for row in shown {
                let report = report_of(row)?;
                let mut value = serde_json::to_value(&report).expect("reports serialise");
                if let Some(object) = value.as_object_mut() {
                    object.remove("mentions");
                    object.remove("timeline");
                    object.insert("status".into(), row.status.clone().into());
                }
                println!("{value}");
            }
        }
        TableFormat::Table => {
            if shown.is_empty() {
                println!(
                    "no incidents{}",
                    if all { "" } else { " in the last 30 days" }
                );
            }
            for row in shown {
                let report = report_of(row)?;
                println!(
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
        eprintln!("error: --format is md, html or json, not `{format}`");
        return Ok(ExitCode::from(USAGE));
    };
    let (_, store) = match open_store(path)? {
        Ok(parts) => parts,
        Err(code) => return Ok(code),
    };
    let row = find(store.as_ref(), id)?;
    print!("{}", report_of(&row)?.render(format));
    Ok(ExitCode::SUCCESS)
}

fn find(store: &dyn Store, id: i64) -> Result<IncidentRow, String> {
    if let Some(row) = store.incident(id).map_err(|e| e.to_string())? {
        return Ok(row);
    }
    let known: Vec<String> = store
        .incidents()
        .map_err(|e| e.to_string())?
        .iter()
        .take(5)
        .map(|r| r.id.to_string())
        .collect();
    Err(if known.is_empty() {
        format!("there is no incident {id}: there are no incidents")
    } else {
        format!(
            "there is no incident {id}; the latest are {} (see `crier incidents`)",
            known.join(", ")
        )
    })
}

/// Checks `action` against incident `id` and records it for the service.
pub(super) fn act(path: &Path, id: i64, action: Action) -> CommandResult {
    let (plan, store) = match open_store(path)? {
        Ok(parts) => parts,
        Err(code) => return Ok(code),
    };
    let by = action.by().to_string();
    if !plan.people.contains_key(&by) {
        let hint = crate::diagnostic::did_you_mean(&by, plan.people.keys().map(String::as_str));
        return Err(format!(
            "`{by}` is not one of the people in crier.yaml{}",
            hint.map(|h| format!("; {h}")).unwrap_or_default()
        ));
    }
    let row = find(store.as_ref(), id)?;
    let report = report_of(&row)?;
    if let Some(resolved) = report.resolved_at {
        return Err(format!(
            "incident {id} was resolved at {}; it takes no more actions",
            local(from_millis(resolved), plan.timezone)
        ));
    }
    // The service's view of the open incident: its level, who took it, what waits.
    let open = store
        .crisis_state(&row.plan)
        .map_err(|e| e.to_string())?
        .and_then(|json| serde_json::from_str::<RunnerState>(&json).ok())
        .and_then(|s| s.open)
        .filter(|o| o.report.id == id);
    match &action {
        Action::Ack { .. } => {
            if let Some(who) = open.as_ref().and_then(|o| o.acknowledged_by()) {
                return Err(format!(
                    "incident {id} is already acknowledged at {} by {who}",
                    report.level
                ));
            }
        }
        Action::Decide { .. } => match open.and_then(|o| o.pending) {
            None => return Err(format!("incident {id} has no approval waiting")),
            Some(p) if !p.by.contains(&by) => {
                return Err(format!(
                    "{by} may not decide incident {id}'s approval; the approvers are {}",
                    p.by.join(", ")
                ));
            }
            Some(_) => {}
        },
        Action::Resolve { .. } => {}
    }
    let json = serde_json::to_string(&action).expect("actions serialise");
    let action_id = store
        .add_incident_action(id, &json, to_millis(Utc::now()))
        .map_err(|e| e.to_string())?;
    let what = match &action {
        Action::Ack { .. } => "acknowledgement".to_string(),
        Action::Decide { approve: true, .. } => "approval".into(),
        Action::Decide { approve: false, .. } => "rejection".into(),
        Action::Resolve { .. } => "resolve".into(),
    };
    let deadline = std::time::Instant::now() + WAIT_APPLIED;
    while std::time::Instant::now() < deadline {
        let applied = store
            .incident_action(action_id)
            .map_err(|e| e.to_string())?;
        if let Some(applied) = applied.filter(|a| a.applied_at.is_some()) {
            return match applied.outcome {
                None => {
                    println!("incident {id}: {what} by {by} applied");
                    Ok(ExitCode::SUCCESS)
                }
                Some(reason) => Err(format!("incident {id}: the {what} was refused: {reason}")),
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "incident {id}: {what} by {by} recorded at {}; `crier run` applies it when it next runs",
        local(
            DateTime::<Utc>::from(std::time::SystemTime::now()),
            plan.timezone
        )
    );
    Ok(ExitCode::SUCCESS)
}
