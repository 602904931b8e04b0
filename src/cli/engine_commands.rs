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
use crate::engine::TriggerError;
use crate::engine::rehearse::{
    RehearsalError, RehearsalLine, Tally, read_events, rehearse_into, write_text_line,
};
use crate::engine::service::{self, ServiceError};
use crate::ops::views::{self, PauseHolding};
use crate::ops::{self, trigger::TriggerRefused};
use crate::playbook::plan::Plan;
use crate::playbook::validate::Validated;
use crate::store::{self, HistoryFilter, OutboxState, RunView, Store, from_millis, to_millis};

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

/// The valid plan and its store, for operator actions; or the exit code of an invalid plan
/// (diagnostics printed).
pub(super) fn desk(path: &Path) -> Result<Result<crate::ops::Desk, ExitCode>, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(Err(code)),
    };
    let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
    Ok(Ok(crate::ops::Desk::new(Arc::new(plan), store)))
}

/// A desk for views that only read: the store opened read-only (`existing_store`). Where
/// crier has not run yet it says there is nothing recorded and the command ends there.
pub(super) fn reading_desk(path: &Path) -> Result<Result<crate::ops::Desk, ExitCode>, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(Err(code)),
    };
    let Some(store) = existing_store(&plan)? else {
        outln!(
            "nothing recorded yet: crier has not run here ({})",
            plan.store
        );
        return Ok(Err(ExitCode::SUCCESS));
    };
    Ok(Ok(crate::ops::Desk::new(Arc::new(plan), store)))
}

/// The store file a plan names, opened for reading only, for commands that only read it:
/// nothing is created or changed, so they work beside a starting service and on a
/// read-only file system.
pub(super) fn existing_store(plan: &Plan) -> Result<Option<Arc<dyn Store>>, String> {
    existing_store_at(&plan.store, &plan.root)
}

/// The same for a store URL, a `sqlite://` one relative to `root`.
fn existing_store_at(url: &str, root: &Path) -> Result<Option<Arc<dyn Store>>, String> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return store::open(url, root).map(Some).map_err(|e| e.to_string());
    };
    let file = root.join(path);
    if !file.exists() {
        return Ok(None);
    }
    let store = store::SqliteStore::open_read_only(&file).map_err(|e| e.to_string())?;
    if !store.is_current().map_err(|e| e.to_string())? {
        return Err(format!(
            "the store `{}` is not up to date with this crier; `crier run` brings it up to date",
            file.display()
        ));
    }
    Ok(Some(Arc::new(store)))
}

pub(super) fn run(
    path: PathBuf,
    log_format: LogFormat,
    listen: Option<std::net::SocketAddr>,
) -> CommandResult {
    init_logs(log_format);
    let runtime = runtime()?;
    // Why the service stopped other than as asked: its own error, or no place to serve.
    enum Stopped {
        Service(ServiceError),
        Listen(String),
    }
    let stopped = runtime.block_on(async {
        let signals = service::Signals::listen().map_err(Stopped::Service)?;
        let mut service = service::Service::start_with_links(path, Arc::new(report), |store, plan| {
            early_decision_links(store, plan, listen)
        })
        .await
        .map_err(Stopped::Service)?;
        let mut options = match service.view().plan() {
            Some(plan) => plan.server.clone(),
            None => Default::default(),
        };
        options.listen = listen.or(options.listen);
        if let Some(address) = options.listen {
            match crate::server::start(&mut service, &options, address).await {
                Ok(bound) => {
                    let scheme = if options.tls_enabled() { "https" } else { "http" };
                    outln!("serving the API on {scheme}://{bound}");
                    outln!(
                        "the dashboard: {scheme}://{bound}/ (sign in with the one-time link `crier login PERSON` prints, or an API token of `crier token new PERSON`)"
                    );
                }
                Err(error) => {
                    service.stop().await.map_err(Stopped::Service)?;
                    return Err(Stopped::Listen(format!(
                        "cannot serve the API on {address}: {error}"
                    )));
                }
            }
        }
        service::until_signalled(service, signals)
            .await
            .map_err(Stopped::Service)
    });
    // A worker still inside an engine step does not hold the process: the step is cut
    // short like a crash, and what it did not commit is done after the next start.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match stopped {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Stopped::Service(ServiceError::Invalid)) => Ok(ExitCode::from(INVALID)),
        Err(Stopped::Service(error)) => {
            errln!("error: {error}");
            Ok(ExitCode::from(INVALID))
        }
        Err(Stopped::Listen(message)) => {
            errln!("error: {message}");
            Ok(ExitCode::from(INVALID))
        }
    }
}

/// The links notices carry to a decision's page, made before the engine's first fire when
/// the server's address is known before it binds (`server: url:`, or a `listen` address with
/// its port): the start's own notices carry them. With port 0 and no `url:`, the server sets
/// them once bound.
fn early_decision_links(
    store: &Arc<dyn store::Store>,
    plan: &crate::playbook::plan::Plan,
    listen: Option<std::net::SocketAddr>,
) -> Result<Option<Arc<dyn crate::engine::links::DecisionLinks>>, store::StoreError> {
    let Some(address) = listen.or(plan.server.listen) else {
        return Ok(None);
    };
    let base = match &plan.server.url {
        Some(url) => url.clone(),
        None if address.port() != 0 => format!("http://{address}"),
        None => return Ok(None),
    };
    let signer =
        crate::ops::decision_links::Signer::open(store.as_ref(), &base, chrono::Utc::now())?;
    Ok(Some(Arc::new(signer)))
}

/// Reads `crier.yaml` and the store only: the playbooks are neither read nor validated.
pub(super) fn status(path: &Path) -> CommandResult {
    let config = crate::playbook::load::read_store_config(path)?;
    let store = existing_store_at(&config.store, &config.root)?;
    let status =
        views::status(&config.store, store.as_ref(), Utc::now()).map_err(|e| e.to_string())?;
    let tz = config.timezone;
    outln!(
        "store: {}{}",
        status.store,
        if status.store_exists {
            ""
        } else {
            " (not created yet: crier has not run here; `crier plan` shows what would go out)"
        }
    );
    let Some(counts) = status.store_status else {
        return Ok(ExitCode::SUCCESS);
    };
    outln!("\nwaiting:");
    match status.next_send_due {
        Some(at) => outln!("  next send due {}", local(at, tz)),
        None => outln!("  no send waiting"),
    }
    if let Some(at) = status.next_wake {
        outln!("  next waiting step wakes {}", local(at, tz));
    }
    outln!("\nfired last:");
    if status.last_fired.is_empty() {
        outln!("  nothing yet");
    }
    for fire in &status.last_fired {
        outln!("  {}  {}", local(fire.at, tz), fire.item);
    }
    if status.more > 0 {
        outln!("  … and {} more item(s)", status.more);
    }
    let count_line = |pairs: &[(String, i64)]| {
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
    if !status.open_incidents.is_empty() {
        outln!("\nopen incidents (`crier incident report ID`):");
        for incident in &status.open_incidents {
            let acknowledged = incident
                .acknowledged_by
                .as_ref()
                .map(|by| format!("acknowledged by {by}"))
                .unwrap_or_else(|| "NOT ACKNOWLEDGED".into());
            outln!(
                "  {}  {} at {} since {}, {acknowledged}",
                incident.id,
                incident.plan,
                incident.level,
                local(incident.opened_at, tz)
            );
        }
    }
    // A crisis plan whose conditions keep failing is not quietly "no incident".
    for failure in &status.crisis_failures {
        outln!(
            "\ncrisis plan {} cannot evaluate its conditions ({} failed evaluation(s) in a row since {}): {}",
            failure.plan,
            failure.failures,
            local(failure.since, tz),
            failure.error
        );
    }
    if !status.pauses.is_empty() {
        outln!("\npaused (`crier resume` lifts):");
        for PauseHolding { pause, held } in &status.pauses {
            outln!(
                "  {} by {} since {}{}: {} ({held} post(s) held)",
                pause.scope,
                pause.by,
                local(from_millis(pause.created_at), tz),
                pause
                    .until
                    .map(|u| format!(", until {}", local(from_millis(u), tz)))
                    .unwrap_or_default(),
                pause.reason
            );
        }
    }
    outln!("\nruns: {}", count_line(&counts.runs));
    outln!("sends: {}", count_line(&counts.outbox));
    outln!("\nrunning or waiting:");
    if counts.in_flight.is_empty() {
        outln!("  nothing");
    }
    for run in &counts.in_flight {
        outln!("  {}", run_line(run, tz));
        for line in detail_lines(run, tz) {
            outln!("      {line}");
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
        outln!("no history yet: crier has not run here ({})", plan.store);
        return Ok(ExitCode::SUCCESS);
    };
    let filter = HistoryFilter {
        playbook,
        since,
        limit: Some(limit),
    };
    let runs = views::history(Some(&store), &filter).map_err(|e| e.to_string())?;
    match format {
        TableFormat::Json => {
            for run in &runs {
                outln!("{}", run_json(run, plan.timezone));
            }
        }
        TableFormat::Table => {
            if runs.is_empty() {
                outln!("no runs match");
            }
            for run in &runs {
                outln!("{}", run_line(run, plan.timezone));
                for line in detail_lines(run, plan.timezone) {
                    outln!("    {line}");
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
    // A rehearsal tells the story from its first day, whatever a store says: `day_one:
    // first-run` counts from `--from`, so the same input gives the same output.
    let plan = match plan.day_one {
        Some(day_one) if day_one.first_run => {
            let first_day = from.with_timezone(&plan.timezone).date_naive();
            let validated = crate::playbook::load::load_and_validate_from(
                path,
                &crate::script::ScriptEngine::new(),
                &crate::text::TextTemplates::new(),
                Some(first_day),
            )
            .map_err(|e| e.to_string())?;
            report(&validated);
            match validated.plan {
                Some(plan) => plan,
                None => return Ok(ExitCode::from(INVALID)),
            }
        }
        _ => plan,
    };
    let events = match events {
        Some(file) => read_events(file).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let report_format = match incident_report {
        Some(file) => Some(
            crate::crisis::ReportFormat::parse(
                file.extension().and_then(|e| e.to_str()).unwrap_or(""),
            )
            .ok_or("--incident-report must end in .md, .html or .json")?,
        ),
        None => None,
    };
    // One thread: the rehearsal is a simulation, its order must not depend on scheduling.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Each line is written as soon as the rehearsal passes it: the output's memory does not
    // grow with the window.
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(super::output::stdout());
    let mut tally = Tally::default();
    let mut text = String::new();
    let mut write = |line: RehearsalLine| {
        let written = match format {
            RehearsalFormat::Text => {
                tally.count(&line);
                text.clear();
                write_text_line(&mut text, &line).expect("a String takes every write");
                out.write_all(text.as_bytes())
            }
            RehearsalFormat::Json => serde_json::to_writer(&mut out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
        };
        written.map_err(|e| RehearsalError::Write(e.to_string()))
    };
    let incidents = runtime
        .block_on(rehearse_into(
            Arc::new(plan),
            &events,
            from,
            until,
            &mut write,
        ))
        .map_err(|e| e.to_string())?;
    if format == RehearsalFormat::Text {
        out.write_all(tally.summary().as_bytes())
            .map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    if let (Some(file), Some(report_format)) = (incident_report, report_format) {
        let text = crate::crisis::render_reports(&incidents, report_format);
        std::fs::write(file, text)
            .map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn trigger(
    path: &Path,
    playbook: &str,
    item: &str,
    by: Option<String>,
) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let by = super::kill_switch::actor(&desk, by)?;
    init_logs(LogFormat::Text);
    let runtime = runtime()?;
    // Its diagnostics were printed as the desk was read; the same files load again here.
    let quiet: service::Report = Arc::new(|_: &Validated| {});
    let triggered = match runtime.block_on(ops::trigger::trigger(
        path, quiet, &by, playbook, item, None,
    )) {
        Ok(triggered) => triggered,
        Err(TriggerRefused::Load(ServiceError::Invalid)) => return Ok(ExitCode::from(INVALID)),
        Err(TriggerRefused::Trigger(TriggerError::UnknownItem { item, hint })) => {
            errln!(
                "error: unknown item `{item}`{}",
                hint.map(|h| format!("; {h}")).unwrap_or_default()
            );
            return Ok(ExitCode::from(USAGE));
        }
        Err(error) => return Err(error.to_string()),
    };
    if let Some(run) = &triggered.run {
        outln!("{}", run_line(run, triggered.plan.timezone));
        for line in detail_lines(run, triggered.plan.timezone) {
            outln!("    {line}");
        }
        if triggered.waiting {
            outln!("    (sends still waiting go out when `crier run` is running)");
        }
    }
    Ok(ExitCode::SUCCESS)
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
            OutboxState::Sent => {
                // Beside the due time on the run's line, so a late send is visibly late.
                let late = chrono::TimeDelta::milliseconds(send.updated_at - run.fire_at);
                let mut line = format!(
                    "{}: sent {}",
                    send.account,
                    local(from_millis(send.updated_at), tz)
                );
                if late >= chrono::TimeDelta::minutes(1) {
                    line.push_str(&format!(
                        ", {} after its time",
                        crate::schedule::format_duration(late)
                    ));
                }
                if let Some(note) = &send.note {
                    line.push_str(&format!(" (it waited: {note})"));
                }
                line.push_str(&format!(
                    " (id {})",
                    send.remote_id.as_deref().unwrap_or("?")
                ));
                line
            }
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
    let value = serde_json::to_value(run).expect("runs serialise");
    crate::ops::times::with_rfc3339_times(value, crate::ops::times::RUN_TIMES, tz)
}
