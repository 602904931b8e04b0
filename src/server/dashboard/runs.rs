//! Runs: the history, newest first, a page at a time (`ops::views::runs_page`), filtered by
//! playbook, account, outcome and date; each send's outcome and reason in plain words. A
//! send crier could not confirm says what to check and offers "send again" to editors
//! (`ops::trigger::send_again`).

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Viewer, query, when};
use crate::engine::events::ServiceEvent;
use crate::ops::Permission;
use crate::ops::trigger::{self, SendAgainRefused, TriggerRefused};
use crate::ops::views::{self, PageError, RunsQuery};
use crate::store::{RunState, from_millis};

/// Runs on a page.
const PAGE: usize = 25;

const STATES: [RunState; 7] = [
    RunState::Running,
    RunState::Waiting,
    RunState::Succeeded,
    RunState::Failed,
    RunState::Skipped,
    RunState::Missed,
    RunState::Rejected,
];

#[derive(Deserialize, Default)]
pub struct RunsParams {
    #[serde(default)]
    playbook: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Serialize)]
struct SendRow {
    account: String,
    state: &'static str,
    attempts: u32,
    detail: Option<String>,
    unconfirmed: bool,
}

#[derive(Serialize)]
struct RunRow {
    id: i64,
    playbook: String,
    item: String,
    state: &'static str,
    at: String,
    viewer_at: Option<String>,
    iso: String,
    reason: Option<String>,
    sends: Vec<SendRow>,
}

#[derive(Serialize)]
struct RunsPage {
    playbook: String,
    account: String,
    state: String,
    since: String,
    playbooks: Vec<String>,
    accounts: Vec<String>,
    states: Vec<&'static str>,
    runs: Vec<RunRow>,
    next_href: Option<String>,
}

fn empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

pub async fn page(viewer: Viewer, Query(params): Query<RunsParams>) -> Response {
    let plan = viewer.desk.plan.clone();
    let tz = plan.timezone;
    let since_day = match empty(&params.since) {
        Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                return viewer.frame.fail(
                    StatusCode::BAD_REQUEST,
                    format!("since `{text}` is not a day written YYYY-MM-DD"),
                );
            }
        },
        None => None,
    };
    let state = empty(&params.state);
    if let Some(state) = &state
        && RunState::parse(state).is_none()
    {
        return viewer.frame.fail(
            StatusCode::BAD_REQUEST,
            format!(
                "outcome `{state}` is not one of {}",
                STATES.map(RunState::as_str).join(", ")
            ),
        );
    }
    let run_query = RunsQuery {
        playbook: empty(&params.playbook),
        since: since_day.and_then(|day| {
            day.and_hms_opt(0, 0, 0)
                .and_then(|m| m.and_local_timezone(tz).earliest())
                .map(|at| at.with_timezone(&Utc))
        }),
        state: state.clone(),
        account: empty(&params.account),
        send_state: None,
        cursor: empty(&params.cursor),
        limit: PAGE,
    };
    let page = match views::runs_page(Some(&viewer.desk.store), &run_query) {
        Ok(page) => page,
        Err(PageError::Cursor(error)) => {
            return viewer.frame.fail(StatusCode::BAD_REQUEST, error);
        }
        Err(PageError::Store(error)) => {
            return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error);
        }
    };
    let (brand, viewer_tz) = viewer.zones();
    let runs = page
        .runs
        .iter()
        .map(|run| {
            let shown = when(from_millis(run.fire_at), brand, viewer_tz);
            RunRow {
                id: run.id,
                playbook: run.playbook.clone(),
                item: run.item.clone(),
                state: run.state.as_str(),
                at: shown.at,
                viewer_at: shown.viewer,
                iso: shown.iso,
                reason: run.reason.clone(),
                sends: run
                    .outbox
                    .iter()
                    .map(|send| SendRow {
                        account: send.account.clone(),
                        state: send.state.as_str(),
                        attempts: send.attempts,
                        detail: send
                            .error
                            .clone()
                            .or_else(|| send.note.clone())
                            .or_else(|| send.remote_id.clone().map(|id| format!("id {id}"))),
                        unconfirmed: trigger::unconfirmed(send),
                    })
                    .collect(),
            }
        })
        .collect();
    let since = since_day
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let filters = |cursor: &str| {
        format!(
            "/runs{}",
            query(&[
                ("playbook", run_query.playbook.as_deref().unwrap_or("")),
                ("account", run_query.account.as_deref().unwrap_or("")),
                ("state", state.as_deref().unwrap_or("")),
                ("since", &since),
                ("cursor", cursor),
            ])
        )
    };
    let page_data = RunsPage {
        playbook: run_query.playbook.clone().unwrap_or_default(),
        account: run_query.account.clone().unwrap_or_default(),
        state: state.clone().unwrap_or_default(),
        since: since.clone(),
        playbooks: plan.campaigns.iter().map(|c| c.name.clone()).collect(),
        accounts: plan.accounts.keys().cloned().collect(),
        states: STATES.map(RunState::as_str).to_vec(),
        runs,
        next_href: page.next.as_deref().map(filters),
    };
    let notice = match params.done.as_deref() {
        Some("sent_again") => Some("notice.sent_again"),
        _ => None,
    };
    viewer.frame.render(
        StatusCode::OK,
        "runs.html",
        "runs.title",
        page_data,
        notice,
        None,
    )
}

#[derive(Deserialize)]
pub struct SendAgainForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
}

/// Sends a run's post again once a person checked its unconfirmed send did not go out.
pub async fn send_again(
    viewer: Viewer,
    Path(run): Path<i64>,
    Form(form): Form<SendAgainForm>,
) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Err(forbidden) = viewer.actor.may(Permission::Trigger) {
        return viewer.frame.fail(StatusCode::FORBIDDEN, forbidden);
    }
    let log: crate::engine::service::Report =
        std::sync::Arc::new(|validated: &crate::playbook::validate::Validated| {
            for diagnostic in validated.diagnostics.iter().filter(|d| d.is_error()) {
                tracing::warn!("{diagnostic}");
            }
        });
    let stop = viewer.state.view.stop_flag();
    let sent = trigger::send_again(
        &viewer.desk,
        log,
        &viewer.actor,
        run,
        &form.account,
        Some(&stop),
    )
    .await;
    match sent {
        Ok(triggered) => {
            if let Some(new_run) = &triggered.run {
                viewer.state.view.emit(ServiceEvent::Triggered {
                    run: new_run.id,
                    playbook: new_run.playbook.clone(),
                    item: new_run.item.clone(),
                    by: viewer.actor.name().to_string(),
                });
            }
            Redirect::to("/runs?done=sent_again").into_response()
        }
        Err(error @ SendAgainRefused::UnknownRun { .. }) => {
            viewer.frame.fail(StatusCode::NOT_FOUND, error)
        }
        Err(error @ SendAgainRefused::Store(_)) => {
            viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error)
        }
        Err(error @ SendAgainRefused::Trigger(TriggerRefused::Stopped)) => {
            viewer.frame.fail(StatusCode::SERVICE_UNAVAILABLE, error)
        }
        Err(error) => viewer.frame.fail(StatusCode::CONFLICT, error),
    }
}
