//! The endpoints under `/api/v1`: each one reads its caller (`auth`), calls one function of
//! `ops`, and answers a body of `model` or a `Problem`. The `#[utoipa::path]` on each is
//! what the OpenAPI document (`openapi.rs`) is made from.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{TimeDelta, Utc};
use serde::de::DeserializeOwned;

use super::AppState;
use super::auth::{Caller, ToDisqualify, ToManageTokens, ToPause, ToRead, ToRespond, ToTrigger};
use super::model::*;
use super::problem::Problem;
use crate::crisis::ReportFormat;
use crate::engine::TriggerError;
use crate::engine::approvals::{DecideError, FindError};
use crate::engine::service::ServiceError;
use crate::ops::approvals::ApprovalError;
use crate::ops::contests::ContestError;
use crate::ops::incidents::{IncidentAction, IncidentError};
use crate::ops::pauses::{PauseError, Selection};
use crate::ops::tokens::TokenError;
use crate::ops::trigger::TriggerRefused;
use crate::ops::views::{self, PageError, RunsQuery};
use crate::ops::{self, Desk};
use crate::playbook::validate::Validated;
use crate::store::Decision;

/// Runs on a page when the caller names no `limit`, and the most a page holds.
const PAGE: usize = 50;
const PAGE_MAX: usize = 500;
/// The longest plan window one request may ask for.
const PLAN_DAYS_MAX: i64 = 366;

/// A JSON body; a malformed one is a problem, not axum's plain text.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Body(value))
    }
}

/// Query parameters; malformed ones are a problem.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

/// A path parameter; a malformed one is a problem.
pub struct Segment<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segment<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Segment(value))
    }
}

type Answer<T> = Result<Json<T>, Problem>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/plan", get(plan))
        .route("/status", get(status))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/sends", get(sends))
        .route("/approvals", get(approvals))
        .route("/approvals/{reference}/approve", post(approve))
        .route("/approvals/{reference}/reject", post(reject))
        .route("/pauses", get(pauses).post(pause))
        .route("/pauses/resume", post(resume))
        .route("/trigger", post(trigger))
        .route("/incidents", get(incidents))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/report", get(incident_report))
        .route("/incidents/{id}/ack", post(incident_ack))
        .route("/incidents/{id}/approve", post(incident_approve))
        .route("/incidents/{id}/reject", post(incident_reject))
        .route("/incidents/{id}/resolve", post(incident_resolve))
        .route("/contests", get(contests))
        .route("/contests/{name}", get(contest))
        .route("/contests/{name}/entries", get(contest_entries))
        .route("/contests/{name}/proof", get(contest_proof))
        .route("/contests/{name}/disqualify", post(disqualify))
        .route("/accounts/check", get(accounts_check))
        .route("/mentions", post(super::inbound::mentions))
        .route("/tokens", get(tokens).post(new_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/openapi.json", get(super::openapi::serve))
        .route("/events", get(super::events::stream))
}

fn instant(desk: &Desk, text: &str, field: &str) -> Result<chrono::DateTime<Utc>, Problem> {
    ops::times::parse_instant(text, desk.plan.timezone)
        .map_err(|e| Problem::bad_request(format!("{field} `{text}`: {e}")))
}

/// Diagnostics of a load an action makes (trigger, disqualify) go to the log.
fn log_diagnostics(validated: &Validated) {
    for diagnostic in &validated.diagnostics {
        if diagnostic.is_error() {
            tracing::warn!("{diagnostic}");
        }
    }
}

#[utoipa::path(get, path = "/api/v1/plan", tag = "views", params(PlanQuery),
    description = "Every post and contest milestone in a window, in time order: the content of `crier plan --format json`.",
    responses((status = 200, body = Vec<PlannedItem>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 503, body = Problem, description = "crier is stopping")),
    security(("bearer" = [])))]
pub async fn plan(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Params(query): Params<PlanQuery>,
) -> Answer<Vec<PlannedItem>> {
    let desk = state.desk()?;
    let from = match &query.from {
        Some(text) => instant(&desk, text, "from")?,
        None => Utc::now(),
    };
    let until = match (&query.until, query.days) {
        (Some(text), _) => instant(&desk, text, "until")?,
        (None, days) => TimeDelta::try_days(i64::from(days.unwrap_or(14)))
            .and_then(|length| from.checked_add_signed(length))
            .ok_or_else(|| Problem::bad_request("days is too many"))?,
    };
    if until - from > TimeDelta::days(PLAN_DAYS_MAX) {
        return Err(Problem::bad_request(format!(
            "a window is at most {PLAN_DAYS_MAX} days long; ask for the rest in another"
        )));
    }
    let plan = desk.plan.clone();
    let planned = state
        .render_off_the_runtime(move || {
            views::plan(&plan, &crate::text::TextTemplates::new(), from, until)
        })
        .await?
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(Json(
        planned
            .into_iter()
            .map(|p| PlannedItem {
                at: p.at.to_rfc3339(),
                kind: match serde_json::to_value(p.kind) {
                    Ok(serde_json::Value::String(kind)) => kind,
                    _ => String::new(),
                },
                playbook: p.playbook,
                item: p.item,
                to: p.to,
                text: p.text,
                rule: p.rule,
                approval: p.approval,
                condition: p.condition,
                rejected: p.rejected,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/status", tag = "views",
    description = "What fires next, open incidents, pauses, runs and sends by state, runs in flight: `crier status`.",
    responses((status = 200, body = Status), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn status(_caller: Caller<ToRead>, State(state): State<AppState>) -> Answer<Status> {
    let desk = state.desk()?;
    let tz = desk.plan.timezone;
    let now = Utc::now();
    let status = views::status(&desk.plan.store, Some(&desk.store), now)?;
    // The service holds the validated plan: its next fires cost no validation here.
    let (next, more) = views::next_fires(&desk.plan, Some(&desk.store), now)?;
    let counts = status.store_status.unwrap_or_default();
    Ok(Json(Status {
        store: status.store,
        store_exists: status.store_exists,
        next: next.iter().map(|n| Next::of(n, tz)).collect(),
        more: more as u64,
        open_incidents: status
            .open_incidents
            .iter()
            .map(|i| OpenIncidentSummary::of(i, tz))
            .collect(),
        pauses: status
            .pauses
            .iter()
            .map(|p| Pause::holding(p, tz))
            .collect(),
        runs: counts.runs.into_iter().collect::<BTreeMap<_, _>>(),
        sends: counts.outbox.into_iter().collect::<BTreeMap<_, _>>(),
        in_flight: counts.in_flight.iter().map(|r| Run::of(r, tz)).collect(),
    }))
}

fn runs_query(desk: &Desk, params: RunsParams) -> Result<RunsQuery, Problem> {
    let limit = params.limit.unwrap_or(PAGE);
    if limit == 0 || limit > PAGE_MAX {
        return Err(Problem::bad_request(format!(
            "limit must be from 1 to {PAGE_MAX}, not {limit}"
        )));
    }
    Ok(RunsQuery {
        playbook: params.playbook,
        since: match &params.since {
            Some(text) => Some(instant(desk, text, "since")?),
            None => None,
        },
        state: params.state,
        account: params.account,
        send_state: None,
        cursor: params.cursor,
        limit,
    })
}

fn page_problem(error: PageError) -> Problem {
    match error {
        PageError::Cursor(error) => Problem::bad_request(error.to_string()),
        PageError::Store(error) => error.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "views", params(RunsParams),
    description = "Runs with their steps and sends, newest first, a page at a time: `crier history`.",
    responses((status = 200, body = RunPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn runs(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Params(params): Params<RunsParams>,
) -> Answer<RunPage> {
    let desk = state.desk()?;
    let query = runs_query(&desk, params)?;
    let page = views::runs_page(Some(&desk.store), &query).map_err(page_problem)?;
    let tz = desk.plan.timezone;
    Ok(Json(RunPage {
        runs: page.runs.iter().map(|r| Run::of(r, tz)).collect(),
        next: page.next,
    }))
}

#[utoipa::path(get, path = "/api/v1/sends", tag = "views", params(RunsParams),
    description = "Sends, of runs newest first, a page of runs at a time; `state` selects sends by their state (and the runs that have one).",
    responses((status = 200, body = SendPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn sends(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Params(mut params): Params<RunsParams>,
) -> Answer<SendPage> {
    let desk = state.desk()?;
    // `state` is a send's state here, not its run's.
    let send_state = params.state.take();
    let mut query = runs_query(&desk, params)?;
    query.send_state = send_state.clone();
    let page = views::runs_page(Some(&desk.store), &query).map_err(page_problem)?;
    Ok(Json(SendPage::of(
        &page.runs,
        page.next,
        send_state.as_deref(),
        desk.plan.timezone,
    )))
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "views", params(("id" = i64, Path, description = "The run's id")),
    responses((status = 200, body = Run), (status = 404, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn run(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
) -> Answer<Run> {
    let desk = state.desk()?;
    match views::run(Some(&desk.store), id)? {
        Some(run) => Ok(Json(Run::of(&run, desk.plan.timezone))),
        None => Err(Problem::not_found(format!("there is no run {id}"))),
    }
}

#[utoipa::path(get, path = "/api/v1/approvals", tag = "views", params(AllParams),
    description = "Posts waiting for a person's approval (`all`: decided ones too), soonest first.",
    responses((status = 200, body = Vec<Approval>), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn approvals(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Params(params): Params<AllParams>,
) -> Answer<Vec<Approval>> {
    let desk = state.desk()?;
    let list = views::approvals(desk.store.as_ref(), params.all)?;
    Ok(Json(
        list.iter()
            .map(|a| Approval::of(a, desk.plan.timezone))
            .collect(),
    ))
}

fn approval_problem(error: ApprovalError) -> Problem {
    match error {
        ApprovalError::Find(FindError::Store(error))
        | ApprovalError::Decide(DecideError::Store(error)) => error.into(),
        ApprovalError::Find(error @ FindError::Malformed { .. }) => {
            Problem::bad_request(error.to_string())
        }
        ApprovalError::Find(error) => Problem::not_found(error.to_string()),
        ApprovalError::Decide(error @ DecideError::NotAnApprover { .. }) => {
            Problem::new(StatusCode::FORBIDDEN, error.to_string())
        }
        ApprovalError::Decide(error @ DecideError::RejectionWithoutNote) => {
            Problem::unprocessable(error.to_string())
        }
        ApprovalError::Decide(error) => Problem::conflict(error.to_string()),
    }
}

async fn decide(
    caller: Caller<ToRespond>,
    state: AppState,
    reference: String,
    decision: Decision,
    note: Option<String>,
) -> Answer<Approval> {
    let desk = state.desk()?;
    let decided = ops::approvals::decide(
        &desk,
        &caller.actor,
        &reference,
        decision,
        note.as_deref(),
        Utc::now(),
    )
    .map_err(approval_problem)?;
    state.events.nudge();
    Ok(Json(Approval::of(&decided, desk.plan.timezone)))
}

#[utoipa::path(post, path = "/api/v1/approvals/{reference}/approve", tag = "actions",
    params(("reference" = String, Path, description = "The approval's id, or `PLAYBOOK/ITEM` (its slash written `%2F`)")),
    request_body = DecisionRequest,
    description = "Approves a post, as the token's person (one of its approvers).",
    responses((status = 200, body = Approval), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(reference): Segment<String>,
    Body(body): Body<DecisionRequest>,
) -> Answer<Approval> {
    decide(caller, state, reference, Decision::Approve, body.note).await
}

#[utoipa::path(post, path = "/api/v1/approvals/{reference}/reject", tag = "actions",
    params(("reference" = String, Path, description = "The approval's id, or `PLAYBOOK/ITEM` (its slash written `%2F`)")),
    request_body = DecisionRequest,
    description = "Rejects a post (it never goes out), as the token's person; `note` says why.",
    responses((status = 200, body = Approval), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn reject(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(reference): Segment<String>,
    Body(body): Body<DecisionRequest>,
) -> Answer<Approval> {
    decide(caller, state, reference, Decision::Reject, body.note).await
}

#[utoipa::path(get, path = "/api/v1/pauses", tag = "views",
    description = "The pauses in force, each with how many sends it holds.",
    responses((status = 200, body = Vec<Pause>), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn pauses(_caller: Caller<ToRead>, State(state): State<AppState>) -> Answer<Vec<Pause>> {
    let desk = state.desk()?;
    let holdings = views::pause_holdings(&desk.plan, desk.store.as_ref(), Utc::now())?;
    Ok(Json(
        holdings
            .iter()
            .map(|h| Pause::holding(h, desk.plan.timezone))
            .collect(),
    ))
}

fn pause_problem(error: PauseError) -> Problem {
    match error {
        PauseError::Store(error) => error.into(),
        error @ (PauseError::UnknownAccount { .. } | PauseError::UnknownCampaign { .. }) => {
            Problem::not_found(error.to_string())
        }
        error @ PauseError::NothingToResume { .. } => Problem::conflict(error.to_string()),
        error => Problem::unprocessable(error.to_string()),
    }
}

#[utoipa::path(post, path = "/api/v1/pauses", tag = "actions", request_body = PauseRequest,
    description = "The kill switch: holds every post of the accounts, campaigns, or everything named, until a resume (or `until`). Admins only.",
    responses((status = 201, body = Vec<Pause>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn pause(
    caller: Caller<ToPause>,
    State(state): State<AppState>,
    Body(body): Body<PauseRequest>,
) -> Result<(StatusCode, Json<Vec<Pause>>), Problem> {
    let desk = state.desk()?;
    let until = match &body.until {
        Some(text) => Some(instant(&desk, text, "until")?),
        None => None,
    };
    let selection = Selection {
        accounts: body.accounts,
        campaigns: body.campaigns,
        all: body.all,
    };
    let now = Utc::now();
    let paused = ops::pauses::pause(&desk, &caller.actor, &selection, until, &body.reason, now)
        .map_err(pause_problem)?;
    // The pauses reach the event stream through the store's journal of actions.
    state.events.nudge();
    let in_force = desk.store.pauses(crate::store::to_millis(now))?;
    let tz = desk.plan.timezone;
    Ok((
        StatusCode::CREATED,
        Json(
            paused
                .iter()
                .filter_map(|made| in_force.iter().find(|p| p.id == made.id))
                .map(|p| Pause::of(p, None, tz))
                .collect(),
        ),
    ))
}

#[utoipa::path(post, path = "/api/v1/pauses/resume", tag = "actions", request_body = ResumeRequest,
    description = "Lifts the pauses on what is named: held posts go out by their `missed:` policy. Admins only.",
    responses((status = 200, body = Resumed), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn resume(
    caller: Caller<ToPause>,
    State(state): State<AppState>,
    Body(body): Body<ResumeRequest>,
) -> Answer<Resumed> {
    let desk = state.desk()?;
    let selection = Selection {
        accounts: body.accounts,
        campaigns: body.campaigns,
        all: body.all,
    };
    let resumed =
        ops::pauses::resume(&desk, &caller.actor, &selection, Utc::now()).map_err(pause_problem)?;
    state.events.nudge();
    let tz = desk.plan.timezone;
    Ok(Json(Resumed {
        lifted: resumed.lifted as u64,
        idle: resumed.idle.iter().map(Scope::of).collect(),
        still_paused: resumed
            .still_paused
            .iter()
            .map(|p| Pause::of(p, None, tz))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/trigger", tag = "actions", request_body = TriggerRequest,
    description = "Fires one campaign post now, whatever its schedule, and sends it: `crier trigger`. Editors and admins.",
    responses((status = 200, body = Triggered), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem, description = "the item is fired by a hook, with the event it carries"), (status = 503, body = Problem, description = "crier is stopping: nothing was fired")),
    security(("bearer" = [])))]
pub async fn trigger(
    caller: Caller<ToTrigger>,
    State(state): State<AppState>,
    Body(body): Body<TriggerRequest>,
) -> Answer<Triggered> {
    let desk = state.desk()?;
    let triggered = ops::trigger::trigger(
        &desk.plan.root,
        Arc::new(log_diagnostics),
        &caller.actor,
        &body.playbook,
        &body.item,
        Some(&state.view.stop_flag()),
    )
    .await
    .map_err(|error| match error {
        TriggerRefused::Stopped => Problem::stopping(),
        TriggerRefused::Trigger(TriggerError::UnknownItem { item, hint }) => {
            Problem::not_found(format!(
                "unknown item `{item}`{}",
                hint.map(|h| format!("; {h}")).unwrap_or_default()
            ))
        }
        TriggerRefused::Trigger(error @ TriggerError::AlreadyFired) => {
            Problem::conflict(error.to_string())
        }
        TriggerRefused::Trigger(error @ TriggerError::FiredByHook { .. }) => {
            Problem::unprocessable(error.to_string())
        }
        TriggerRefused::Load(error @ ServiceError::Invalid) => Problem::conflict(error.to_string()),
        error => Problem::internal(error),
    })?;
    state.events.nudge();
    let tz = triggered.plan.timezone;
    Ok(Json(Triggered {
        run: triggered.run.as_ref().map(|r| Run::of(r, tz)),
        waiting: triggered.waiting,
    }))
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "views", params(AllParams),
    description = "Incidents open or resolved in the last 30 days (`all`: every one), newest first.",
    responses((status = 200, body = Vec<Incident>), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn incidents(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Params(params): Params<AllParams>,
) -> Answer<Vec<Incident>> {
    let desk = state.desk()?;
    let listed = views::incidents(desk.store.as_ref(), params.all, Utc::now())?;
    Ok(Json(
        listed
            .iter()
            .map(|l| Incident::of(&l.row, desk.plan.timezone))
            .collect(),
    ))
}

fn incident_problem(error: IncidentError) -> Problem {
    match error {
        IncidentError::Store(error) => error.into(),
        error @ IncidentError::Unknown { .. } => Problem::not_found(error.to_string()),
        error @ IncidentError::Unreadable { .. } => Problem::internal(error),
        IncidentError::Refused(
            error @ crate::crisis::runner::ActionRefused::NotAnApprover { .. },
        ) => Problem::new(StatusCode::FORBIDDEN, error.to_string()),
        error => Problem::conflict(error.to_string()),
    }
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "views", params(("id" = i64, Path, description = "The incident's id")),
    responses((status = 200, body = IncidentDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
) -> Answer<IncidentDetail> {
    let desk = state.desk()?;
    let row = ops::incidents::find(&desk, id).map_err(incident_problem)?;
    let report = ops::incidents::report_of(&row).map_err(incident_problem)?;
    let report = serde_json::to_value(&report).map_err(Problem::internal)?;
    Ok(Json(IncidentDetail {
        incident: Incident::of(&row, desk.plan.timezone),
        report: ops::times::with_rfc3339_times(
            report,
            ops::times::INCIDENT_TIMES,
            desk.plan.timezone,
        ),
    }))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/report", tag = "views",
    params(("id" = i64, Path, description = "The incident's id"), ReportParams),
    description = "The incident's report as `crier incident report` writes it: Markdown, one self-contained HTML page, or JSON.",
    responses(
        (status = 200, content(
            (String = "text/markdown"),
            (String = "text/html"),
            (Object = "application/json"),
        )),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident_report(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
    Params(params): Params<ReportParams>,
) -> Result<Response, Problem> {
    let name = params.format.as_deref().unwrap_or("md");
    let Some(format) = ReportFormat::parse(name) else {
        return Err(Problem::bad_request(format!(
            "format is md, html or json, not `{name}`"
        )));
    };
    let desk = state.desk()?;
    let report = ops::incidents::report(&desk, id).map_err(incident_problem)?;
    let content_type = match format {
        ReportFormat::Markdown => "text/markdown; charset=utf-8",
        ReportFormat::Html => "text/html; charset=utf-8",
        ReportFormat::Json => "application/json",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        report.render(format),
    )
        .into_response())
}

async fn act(
    caller: Caller<ToRespond>,
    state: AppState,
    id: i64,
    action: IncidentAction,
) -> Result<(StatusCode, Json<IncidentRecorded>), Problem> {
    let desk = state.desk()?;
    let recorded = ops::incidents::act(&desk, &caller.actor, id, action, Utc::now())
        .map_err(incident_problem)?;
    state.events.nudge();
    Ok((
        StatusCode::ACCEPTED,
        Json(IncidentRecorded {
            incident: recorded.incident,
            action_id: recorded.action_id,
            at: time(recorded.at, desk.plan.timezone),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/ack", tag = "actions",
    params(("id" = i64, Path, description = "The incident's id")),
    description = "Takes the incident: stops its reminders and escalation. Recorded for the service to apply.",
    responses((status = 202, body = IncidentRecorded), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident_ack(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
) -> Result<(StatusCode, Json<IncidentRecorded>), Problem> {
    act(caller, state, id, IncidentAction::Ack).await
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/approve", tag = "actions",
    params(("id" = i64, Path, description = "The incident's id")), request_body = IncidentNote,
    description = "Approves the step waiting for approval, as one of its approvers.",
    responses((status = 202, body = IncidentRecorded), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident_approve(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
    Body(body): Body<IncidentNote>,
) -> Result<(StatusCode, Json<IncidentRecorded>), Problem> {
    let action = IncidentAction::Decide {
        approve: true,
        note: body.note,
    };
    act(caller, state, id, action).await
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/reject", tag = "actions",
    params(("id" = i64, Path, description = "The incident's id")), request_body = IncidentNote,
    description = "Rejects the step waiting for approval (`note` says why): the level's remaining steps are dropped.",
    responses((status = 202, body = IncidentRecorded), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident_reject(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
    Body(body): Body<IncidentNote>,
) -> Result<(StatusCode, Json<IncidentRecorded>), Problem> {
    let Some(note) = body.note.filter(|n| !n.trim().is_empty()) else {
        return Err(Problem::unprocessable(
            "a rejection needs a note saying why",
        ));
    };
    let action = IncidentAction::Decide {
        approve: false,
        note: Some(note),
    };
    act(caller, state, id, action).await
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "actions",
    params(("id" = i64, Path, description = "The incident's id")), request_body = IncidentNote,
    description = "Resolves the incident by hand: the plan's resolve steps run.",
    responses((status = 202, body = IncidentRecorded), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn incident_resolve(
    caller: Caller<ToRespond>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
    Body(body): Body<IncidentNote>,
) -> Result<(StatusCode, Json<IncidentRecorded>), Problem> {
    act(
        caller,
        state,
        id,
        IncidentAction::Resolve { note: body.note },
    )
    .await
}

fn contest_problem(error: ContestError) -> Problem {
    match error {
        ContestError::Store(error) => error.into(),
        error @ ContestError::UnknownContest { .. } => Problem::not_found(error.to_string()),
        ContestError::Refused(reason) => Problem::conflict(reason),
        ContestError::Stopped => Problem::stopping(),
        ContestError::Load(error @ ServiceError::Invalid) => Problem::conflict(error.to_string()),
        error => Problem::internal(error),
    }
}

fn contest_body(desk: &Desk, name: &str) -> Result<Contest, Problem> {
    let status = ops::contests::status(desk, name).map_err(contest_problem)?;
    let plan = desk
        .plan
        .contests
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Problem::not_found(format!("unknown contest `{name}`")))?;
    let tz = desk.plan.timezone;
    let at = |t: chrono::DateTime<chrono_tz::Tz>| time(t.with_timezone(&Utc), tz);
    Ok(Contest {
        name: name.to_string(),
        phase: status.phase.into(),
        announce_at: at(plan.announce_at),
        closes_at: at(plan.closes),
        draw_at: at(plan.draw_at),
        seen: status.seen as u64,
        eligible: status.eligible as u64,
        provisional: status.provisional,
        excluded: status
            .excluded
            .into_iter()
            .map(|(rule, n)| (rule, n as u64))
            .collect(),
        commitment: status.commitment.map(|c| Commitment {
            list_sha256: c.list_sha256,
            seed_sha256: c.seed_sha256,
        }),
        drawn: status.drawn,
        winners: status.winners,
        reserves: status.reserves,
        substitutions: status.substitutions.iter().map(Substitution::of).collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/contests", tag = "views",
    description = "Every contest's phase, times, counts, commitment and winners.",
    responses((status = 200, body = Vec<Contest>), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn contests(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
) -> Answer<Vec<Contest>> {
    let desk = state.desk()?;
    let names: Vec<String> = desk.plan.contests.iter().map(|c| c.name.clone()).collect();
    Ok(Json(
        names
            .iter()
            .map(|name| contest_body(&desk, name))
            .collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(get, path = "/api/v1/contests/{name}", tag = "views",
    params(("name" = String, Path, description = "The contest's name")),
    responses((status = 200, body = Contest), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn contest(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(name): Segment<String>,
) -> Answer<Contest> {
    let desk = state.desk()?;
    Ok(Json(contest_body(&desk, &name)?))
}

#[utoipa::path(get, path = "/api/v1/contests/{name}/entries", tag = "views",
    params(("name" = String, Path, description = "The contest's name")),
    description = "Every entry with its verdict and, if left out, the rule and why.",
    responses((status = 200, body = Vec<ContestEntry>), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn contest_entries(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(name): Segment<String>,
) -> Answer<Vec<ContestEntry>> {
    let desk = state.desk()?;
    let rows = ops::contests::entries(&desk, &name).map_err(contest_problem)?;
    let tz = desk.plan.timezone;
    Ok(Json(
        rows.into_iter()
            .map(|judged| ContestEntry {
                key: judged.verdict.key,
                author: judged.entry.author,
                at: time(judged.entry.at, tz),
                text: judged.entry.text,
                eligible: judged.verdict.eligible,
                rule: judged.verdict.rule,
                reason: judged.verdict.reason,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/contests/{name}/proof", tag = "views",
    params(("name" = String, Path, description = "The contest's name")),
    description = "The proof of the draw, as `crier contest proof` writes it (`crier contest verify` checks it).",
    responses((status = 200, body = Object), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn contest_proof(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
    Segment(name): Segment<String>,
) -> Answer<serde_json::Value> {
    let desk = state.desk()?;
    let proof = ops::contests::proof(&desk, &name).map_err(contest_problem)?;
    Ok(Json(
        serde_json::to_value(&proof).map_err(Problem::internal)?,
    ))
}

#[utoipa::path(post, path = "/api/v1/contests/{name}/disqualify", tag = "actions",
    params(("name" = String, Path, description = "The contest's name")), request_body = DisqualifyRequest,
    description = "Disqualifies a winner: the next reserve wins instead. Editors and admins.",
    responses((status = 200, body = Substitution), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem, description = "crier is stopping: nothing was changed")),
    security(("bearer" = [])))]
pub async fn disqualify(
    caller: Caller<ToDisqualify>,
    State(state): State<AppState>,
    Segment(name): Segment<String>,
    Body(body): Body<DisqualifyRequest>,
) -> Answer<Substitution> {
    let desk = state.desk()?;
    if body.reason.trim().is_empty() {
        return Err(Problem::unprocessable(
            "a disqualification needs a reason (it is kept in the proof of the draw)",
        ));
    }
    let (root, actor) = (desk.plan.root.clone(), caller.actor.clone());
    let substitution = state
        .act_off_the_runtime(move |stop| {
            ops::contests::disqualify(
                &root,
                &log_diagnostics,
                &actor,
                &name,
                &body.entry,
                &body.reason,
                Some(stop),
            )
        })
        .await?
        .map_err(contest_problem)?;
    // The journal tells the stream (migration 0019), as for a disqualification from the CLI.
    state.events.nudge();
    Ok(Json(Substitution::of(&substitution)))
}

#[utoipa::path(get, path = "/api/v1/accounts/check", tag = "views",
    description = "Resolves every account's secrets and runs its network's health check; nothing is posted.",
    responses((status = 200, body = Vec<AccountCheck>), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn accounts_check(
    _caller: Caller<ToRead>,
    State(state): State<AppState>,
) -> Answer<Vec<AccountCheck>> {
    let desk = state.desk()?;
    let checked = ops::accounts::check(&desk.plan)
        .await
        .map_err(Problem::internal)?;
    Ok(Json(
        checked
            .into_iter()
            .map(|c| AccountCheck {
                account: c.account,
                network: c.network.into(),
                ok: c.ok,
                detail: c.detail,
                data_access_expires_at: c
                    .data_access_expires_at
                    .map(|at| time(at, desk.plan.timezone)),
                warning: c.warning,
            })
            .collect(),
    ))
}

fn token_problem(error: TokenError) -> Problem {
    match error {
        TokenError::Store(error) => error.into(),
        error @ TokenError::Unknown { .. } => Problem::not_found(error.to_string()),
        error @ TokenError::RevokedAlready { .. } => Problem::conflict(error.to_string()),
        error => Problem::unprocessable(error.to_string()),
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    description = "Every API token (never its secret). Admins only.",
    responses((status = 200, body = Vec<Token>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn tokens(
    _caller: Caller<ToManageTokens>,
    State(state): State<AppState>,
) -> Answer<Vec<Token>> {
    let desk = state.desk()?;
    let listed = ops::tokens::list(&desk).map_err(token_problem)?;
    Ok(Json(
        listed
            .iter()
            .map(|t| Token::of(t, desk.plan.timezone))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenRequest,
    description = "Makes a token for a person: its secret is in this answer only. Admins only.",
    responses((status = 201, body = IssuedToken), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn new_token(
    _caller: Caller<ToManageTokens>,
    State(state): State<AppState>,
    Body(body): Body<NewTokenRequest>,
) -> Result<(StatusCode, Json<IssuedToken>), Problem> {
    let desk = state.desk()?;
    let person = desk
        .actor(&body.person)
        .map_err(|e| Problem::not_found(e.to_string()))?;
    let lifetime = match &body.expires {
        Some(text) => Some(
            crate::schedule::parse_duration(text.trim())
                .map_err(|e| Problem::bad_request(format!("expires `{text}`: {}", e.message)))?,
        ),
        None => None,
    };
    let issued = ops::tokens::issue(
        &desk,
        &person,
        body.name.as_deref().unwrap_or("token"),
        lifetime,
        Utc::now(),
    )
    .map_err(token_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token: issued.secret,
            info: Token::of(&issued.token, desk.plan.timezone),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "tokens",
    params(("id" = i64, Path, description = "The token's id")),
    description = "Revokes a token: it is refused from then on. Admins only.",
    responses((status = 200, body = Token), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    _caller: Caller<ToManageTokens>,
    State(state): State<AppState>,
    Segment(id): Segment<i64>,
) -> Answer<Token> {
    let desk = state.desk()?;
    let token = ops::tokens::revoke(&desk, id, Utc::now()).map_err(token_problem)?;
    Ok(Json(Token::of(&token, desk.plan.timezone)))
}
