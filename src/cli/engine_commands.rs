//! The engine's commands: `run`, `status`, `history`, `rehearse`, `trigger`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{
    DiagnosticFormat, INVALID, LogFormat, RehearsalFormat, TableFormat, USAGE, parse_instant,
    print_diagnostics,
};
use crate::connectors::http;
use crate::connectors::registry::Connectors;
use crate::engine::clock::{from_millis, to_millis};
use crate::engine::rehearse::{read_events, rehearse as run_rehearsal, render_text};
use crate::engine::service::{self, ServiceError};
use crate::engine::timeline::{items, next_fire};
use crate::engine::{Dispatcher, Engine, EngineParts, RetryPolicy, TriggerError};
use crate::playbook::plan::Plan;
use crate::playbook::validate::Validated;
use crate::store::{self, HistoryFilter, OutboxState, RunView, Store};

type CommandResult = Result<ExitCode, String>;

fn report(validated: &Validated) {
    print_diagnostics(&validated.diagnostics, DiagnosticFormat::Text);
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRIER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or pipes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// A valid plan, or the exit code of an invalid one (diagnostics printed).
pub(super) fn valid_plan(path: &Path) -> Result<Result<Plan, ExitCode>, String> {
    let validated = super::load_and_validate(path)?;
    report(&validated);
    Ok(validated.plan.ok_or(ExitCode::from(INVALID)))
}

/// The store file a plan names, for commands that only read it.
fn existing_store(plan: &Plan) -> Result<Option<Arc<dyn Store>>, String> {
    if let Some(path) = plan.store.strip_prefix("sqlite://") {
        let file = plan.root.join(path);
        if !file.exists() {
            return Ok(None);
        }
    }
    store::open(&plan.store, &plan.root)
        .map(Some)
        .map_err(|e| e.to_string())
}

pub(super) fn run(path: PathBuf, log_format: LogFormat) -> CommandResult {
    init_logs(log_format);
    let runtime = runtime()?;
    match runtime.block_on(service::run(path, &report)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ServiceError::Invalid) => Ok(ExitCode::from(INVALID)),
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(INVALID))
        }
    }
}

pub(super) fn status(path: &Path) -> CommandResult {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let now = Utc::now();
    let store = existing_store(&plan)?;
    let cursors: std::collections::HashMap<_, _> = match &store {
        Some(store) => store
            .cursors()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    println!(
        "store: {}{}",
        plan.store,
        if store.is_none() {
            " (not created yet: crier has not run here)"
        } else {
            ""
        }
    );
    let mut next: Vec<(DateTime<Utc>, String, Vec<String>)> = items(&plan)
        .into_iter()
        .filter_map(|item| {
            let key = item.key(&plan);
            let after = cursors
                .get(&key)
                .map(|c| from_millis(*c))
                .unwrap_or(now)
                .max(now);
            next_fire(&plan, item, after)
                .map(|at| (at, key.to_string(), item.post(&plan).to.to_vec()))
        })
        .collect();
    next.sort();
    println!("\nscheduled next:");
    if next.is_empty() {
        println!("  nothing");
    }
    for (at, key, to) in next.iter().take(10) {
        println!("  {}  {key} → {}", local(*at, plan.timezone), to.join(", "));
    }
    if next.len() > 10 {
        println!("  … and {} more item(s)", next.len() - 10);
    }
    let Some(store) = store else {
        return Ok(ExitCode::SUCCESS);
    };
    let status = store.status().map_err(|e| e.to_string())?;
    let counts = |pairs: &[(String, i64)]| {
        if pairs.is_empty() {
            "none".to_string()
        } else {
            pairs
                .iter()
                .map(|(state, n)| format!("{n} {state}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let open_incidents: Vec<_> = store
        .incidents()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|i| i.status == "open")
        .collect();
    if !open_incidents.is_empty() {
        println!("\nopen incidents (`crier incident report ID`):");
        for incident in &open_incidents {
            let acknowledged =
                serde_json::from_str::<crate::crisis::IncidentReport>(&incident.report)
                    .ok()
                    .and_then(|r| r.acknowledged_by)
                    .map(|by| format!("acknowledged by {by}"))
                    .unwrap_or_else(|| "NOT ACKNOWLEDGED".into());
            println!(
                "  {}  {} at {} since {}, {acknowledged}",
                incident.id,
                incident.plan,
                incident.level,
                local(from_millis(incident.opened_at), plan.timezone)
            );
        }
    }
    for crisis in &plan.crises {
        let failure = store
            .crisis_state(&crisis.name)
            .map_err(|e| e.to_string())?
            .and_then(|json| serde_json::from_str::<crate::crisis::runner::RunnerState>(&json).ok())
            .and_then(|state| state.condition_failure);
        if let Some(failure) = failure {
            println!(
                "\ncrisis plan {} cannot evaluate its conditions ({} failed evaluation(s) in a row since {}): {}",
                crisis.name,
                failure.failures,
                local(from_millis(failure.since), plan.timezone),
                failure.error
            );
        }
    }
    let pauses = store.pauses(to_millis(now)).map_err(|e| e.to_string())?;
    if !pauses.is_empty() {
        let held = store.held_sends().map_err(|e| e.to_string())?;
        println!("\npaused (`crier resume` lifts):");
        for pause in &pauses {
            let is_campaign = |name: &str| plan.campaigns.iter().any(|c| c.name == name);
            let holding = held
                .iter()
                .filter(|h| {
                    pause
                        .scope
                        .covers(&h.account, &h.key.playbook, is_campaign(&h.key.playbook))
                })
                .count();
            println!(
                "  {} by {} since {}{}: {} ({holding} post(s) held)",
                pause.scope,
                pause.by,
                local(from_millis(pause.created_at), plan.timezone),
                pause
                    .until
                    .map(|u| format!(", until {}", local(from_millis(u), plan.timezone)))
                    .unwrap_or_default(),
                pause.reason
            );
        }
    }
    println!("\nruns: {}", counts(&status.runs));
    println!("sends: {}", counts(&status.outbox));
    println!("\nrunning or waiting:");
    if status.in_flight.is_empty() {
        println!("  nothing");
    }
    for run in &status.in_flight {
        println!("  {}", run_line(run, plan.timezone));
        for line in detail_lines(run, plan.timezone) {
            println!("      {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn history(
    path: &Path,
    playbook: Option<String>,
    since: Option<String>,
    limit: usize,
    format: TableFormat,
) -> CommandResult {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let since = match since {
        Some(text) => Some(to_millis(parse_instant(&text, plan.timezone, "--since")?)),
        None => None,
    };
    let Some(store) = existing_store(&plan)? else {
        println!("no history yet: crier has not run here ({})", plan.store);
        return Ok(ExitCode::SUCCESS);
    };
    let runs = store
        .history(&HistoryFilter {
            playbook,
            since,
            limit: Some(limit),
        })
        .map_err(|e| e.to_string())?;
    match format {
        TableFormat::Json => {
            for run in &runs {
                println!("{}", run_json(run, plan.timezone));
            }
        }
        TableFormat::Table => {
            if runs.is_empty() {
                println!("no runs match");
            }
            for run in &runs {
                println!("{}", run_line(run, plan.timezone));
                for line in detail_lines(run, plan.timezone) {
                    println!("    {line}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rehearse(
    path: &Path,
    events: Option<&Path>,
    from: &str,
    until: &str,
    format: RehearsalFormat,
    incident_report: Option<&Path>,
) -> CommandResult {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let from = parse_instant(from, plan.timezone, "--from")?;
    let until = parse_instant(until, plan.timezone, "--until")?;
    if until <= from {
        return Err("--until must be after --from".into());
    }
    let events = match events {
        Some(file) => read_events(file).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    if let Some(file) = incident_report {
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let report_format = crate::crisis::ReportFormat::parse(extension)
            .ok_or("--incident-report must end in .md, .html or .json")?;
        let reports = crate::crisis::drill_events(
            &plan,
            &events,
            from.timestamp_millis(),
            until.timestamp_millis(),
        );
        let text = crate::crisis::render_reports(&reports, report_format);
        std::fs::write(file, text)
            .map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
    }
    // One thread: the rehearsal is a simulation, its order must not depend on scheduling.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let lines = runtime
        .block_on(run_rehearsal(Arc::new(plan), &events, from, until))
        .map_err(|e| e.to_string())?;
    match format {
        RehearsalFormat::Text => print!("{}", render_text(&lines)),
        RehearsalFormat::Json => {
            for line in &lines {
                println!("{}", serde_json::to_string(line).expect("lines serialise"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn trigger(path: &Path, playbook: &str, item: &str) -> CommandResult {
    init_logs(LogFormat::Text);
    // Loaded as `crier run` loads, so the run is pinned to the same revision digest.
    let mut parts = EngineParts::new(Arc::new(store::MemoryStore::new()));
    let loaded = match service::load(path, &parts, &report) {
        Ok(loaded) => loaded,
        Err(ServiceError::Invalid) => return Ok(ExitCode::from(INVALID)),
        Err(error) => return Err(error.to_string()),
    };
    let plan = loaded.plan;
    let runtime = runtime()?;
    runtime.block_on(async {
        let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
        parts.store = store.clone();
        let client =
            http::client(&plan.http).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let connectors = Connectors::build(&plan.accounts, &client).map_err(|errors| {
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let now = Utc::now();
        let mut engine =
            Engine::new(plan.clone(), &loaded.digest, parts, now).map_err(|e| e.to_string())?;
        let run_id = match engine.trigger(playbook, item, now) {
            Ok(id) => id,
            Err(TriggerError::UnknownItem { item, hint }) => {
                eprintln!(
                    "error: unknown item `{item}`{}",
                    hint.map(|h| format!("; {h}")).unwrap_or_default()
                );
                return Ok(ExitCode::from(USAGE));
            }
            Err(error) => return Err(error.to_string()),
        };
        let dispatcher =
            Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
        // A hand-triggered post passes the kill switch and the limits like any other.
        dispatcher.set_plan(plan.clone());
        dispatcher
            .dispatch_due(Utc::now, Some(run_id))
            .await
            .map_err(|e| e.to_string())?;
        let run = store
            .history(&HistoryFilter {
                playbook: Some(playbook.to_string()),
                since: Some(to_millis(now)),
                limit: None,
            })
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|r| r.id == run_id);
        if let Some(run) = run {
            println!("{}", run_line(&run, plan.timezone));
            for line in detail_lines(&run, plan.timezone) {
                println!("    {line}");
            }
            let waiting = run
                .outbox
                .iter()
                .any(|o| matches!(o.state, OutboxState::Pending | OutboxState::Held));
            if waiting {
                println!("    (sends still waiting go out when `crier run` is running)");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub(super) fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

fn run_line(run: &RunView, tz: Tz) -> String {
    let reason = run
        .reason
        .as_deref()
        .map(|r| format!(" — {r}"))
        .unwrap_or_default();
    format!(
        "#{} {}/{} fired {} {}{reason}",
        run.id,
        run.playbook,
        run.item,
        local(from_millis(run.fire_at), tz),
        run.state.as_str()
    )
}

/// One line per send (and per waiting step), in plain words.
fn detail_lines(run: &RunView, tz: Tz) -> Vec<String> {
    let mut lines = Vec::new();
    for step in &run.steps {
        if let Some(wake) = step
            .wake_at
            .filter(|_| step.state == crate::store::StepState::Waiting)
        {
            lines.push(format!(
                "step {} ({}) waits until {}",
                step.index + 1,
                step.kind,
                local(from_millis(wake), tz)
            ));
        } else if let Some(reason) = &step.reason {
            lines.push(format!(
                "step {} ({}) {}: {reason}",
                step.index + 1,
                step.kind,
                step.state.as_str()
            ));
        }
    }
    for send in &run.outbox {
        let line = match send.state {
            OutboxState::Sent => format!(
                "{}: sent (id {})",
                send.account,
                send.remote_id.as_deref().unwrap_or("?")
            ),
            OutboxState::Failed => format!(
                "{}: failed after {} attempt(s): {}",
                send.account,
                send.attempts,
                send.error.as_deref().unwrap_or("unknown error")
            ),
            OutboxState::Pending if send.attempts > 0 => format!(
                "{}: will retry at {} (attempt {} failed: {})",
                send.account,
                local(from_millis(send.next_attempt_at), tz),
                send.attempts,
                send.error.as_deref().unwrap_or("unknown error")
            ),
            OutboxState::Pending => match &send.note {
                Some(note) => format!(
                    "{}: goes out at {} ({note})",
                    send.account,
                    local(from_millis(send.next_attempt_at), tz)
                ),
                None => format!("{}: waiting to be sent", send.account),
            },
            OutboxState::Sending => format!("{}: being sent", send.account),
            OutboxState::Held => format!(
                "{}: held ({})",
                send.account,
                send.note.as_deref().unwrap_or("paused")
            ),
            OutboxState::Skipped => format!(
                "{}: skipped ({})",
                send.account,
                send.note.as_deref().unwrap_or("dropped after a pause")
            ),
        };
        lines.push(line);
    }
    lines
}

fn run_json(run: &RunView, tz: Tz) -> serde_json::Value {
    let mut value = serde_json::to_value(run).expect("runs serialise");
    value["fired_at"] = serde_json::json!(from_millis(run.fire_at).with_timezone(&tz).to_rfc3339());
    value
}
