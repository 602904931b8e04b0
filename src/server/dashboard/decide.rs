//! The decisions a person takes in the dashboard: approvals (what waits, for whom, by when,
//! what happens without a decision, the text; approve or reject with a note as the person
//! signed in; decided ones with every decision) and the kill switch (pause everything, or an
//! account or a campaign, with a reason and an optional end; what is paused, by whom, how
//! many posts are held; resume). Both call `ops`, as the API does, and announce the act on
//! the event stream.

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Viewer, When, when};
use crate::engine::approvals::{DecideError, FindError};
use crate::ops::approvals::ApprovalError;
use crate::ops::pauses::{PauseError, Selection};
use crate::ops::{self, Permission, views};
use crate::store::{ApprovalState, ApprovalView, Decision, PauseScope, from_millis};

/// Decided approvals the page lists, latest first.
const DECIDED: usize = 50;

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn notice(done: &Done) -> Option<&'static str> {
    match done.done.as_deref() {
        Some("approved") => Some("notice.approved"),
        Some("rejected") => Some("notice.rejected"),
        Some("paused") => Some("notice.paused"),
        Some("resumed") => Some("notice.resumed"),
        _ => None,
    }
}

#[derive(Serialize)]
struct DecisionRow {
    by: String,
    decision: &'static str,
    note: Option<String>,
    at: String,
    iso: String,
}

#[derive(Serialize)]
struct ApprovalRow {
    id: i64,
    playbook: String,
    item: String,
    state: &'static str,
    fire_at: String,
    fire_viewer: Option<String>,
    fire_iso: String,
    approvers: Vec<String>,
    need: String,
    deadline: String,
    deadline_viewer: Option<String>,
    deadline_iso: String,
    on_timeout: String,
    text: String,
    accounts: Vec<String>,
    decisions: Vec<DecisionRow>,
    /// The person signed in is one of its approvers and has not decided yet.
    mine: bool,
}

#[derive(Serialize)]
struct ApprovalsPage {
    waiting: Vec<ApprovalRow>,
    decided: Vec<ApprovalRow>,
}

fn row(viewer: &Viewer, approval: &ApprovalView) -> ApprovalRow {
    let (brand, viewer_tz) = viewer.zones();
    let fire: When = when(from_millis(approval.fire_at), brand, viewer_tz);
    let deadline = when(from_millis(approval.deadline), brand, viewer_tz);
    let me = viewer.actor.name();
    ApprovalRow {
        id: approval.id,
        playbook: approval.playbook.clone(),
        item: approval.item.clone(),
        state: approval.state.as_str(),
        fire_at: fire.at,
        fire_viewer: fire.viewer,
        fire_iso: fire.iso,
        approvers: approval.approvers.clone(),
        need: approval.need.clone(),
        deadline: deadline.at,
        deadline_viewer: deadline.viewer,
        deadline_iso: deadline.iso,
        on_timeout: approval.on_timeout.clone(),
        text: approval.text.clone(),
        accounts: approval.accounts.clone(),
        decisions: approval
            .decisions
            .iter()
            .map(|d| {
                let at = when(from_millis(d.at), brand, viewer_tz);
                DecisionRow {
                    by: d.by.clone(),
                    decision: d.decision.as_str(),
                    note: d.note.clone(),
                    at: at.at,
                    iso: at.iso,
                }
            })
            .collect(),
        mine: approval.state == ApprovalState::Pending
            && approval.approvers.iter().any(|a| a == me)
            && !approval.decisions.iter().any(|d| d.by == me),
    }
}

pub async fn approvals(viewer: Viewer, Query(done): Query<Done>) -> Response {
    let all = match views::approvals(viewer.desk.store.as_ref(), true) {
        Ok(all) => all,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let waiting = all
        .iter()
        .filter(|a| a.state == ApprovalState::Pending)
        .map(|a| row(&viewer, a))
        .collect();
    let mut decided: Vec<&ApprovalView> = all
        .iter()
        .filter(|a| a.state != ApprovalState::Pending)
        .collect();
    decided.sort_by_key(|a| std::cmp::Reverse((a.fire_at, a.id)));
    let page = ApprovalsPage {
        waiting,
        decided: decided
            .into_iter()
            .take(DECIDED)
            .map(|a| row(&viewer, a))
            .collect(),
    };
    viewer.frame.render(
        StatusCode::OK,
        "approvals.html",
        "approvals.title",
        page,
        notice(&done),
        None,
    )
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// Approves or rejects approval `id` as the person signed in.
pub async fn decide(viewer: Viewer, Path(id): Path<i64>, Form(form): Form<DecideForm>) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Err(forbidden) = viewer.actor.may(Permission::Respond) {
        return viewer.frame.fail(StatusCode::FORBIDDEN, forbidden);
    }
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return viewer.frame.fail(
                StatusCode::BAD_REQUEST,
                format!("decision is approve or reject, not `{other}`"),
            );
        }
    };
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    let decided = ops::approvals::decide(
        &viewer.desk,
        &viewer.actor,
        &id.to_string(),
        decision,
        note,
        Utc::now(),
    );
    match decided {
        Ok(_) => {
            viewer.state.events.nudge();
            let done = match decision {
                Decision::Approve => "approved",
                Decision::Reject => "rejected",
            };
            Redirect::to(&format!("/approvals?done={done}")).into_response()
        }
        Err(error) => {
            let status = match &error {
                ApprovalError::Find(FindError::Store(_))
                | ApprovalError::Decide(DecideError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
                ApprovalError::Find(FindError::Malformed { .. }) => StatusCode::BAD_REQUEST,
                ApprovalError::Find(_) => StatusCode::NOT_FOUND,
                ApprovalError::Decide(DecideError::NotAnApprover { .. }) => StatusCode::FORBIDDEN,
                ApprovalError::Decide(DecideError::RejectionWithoutNote) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                ApprovalError::Decide(_) => StatusCode::CONFLICT,
            };
            viewer.frame.fail(status, error)
        }
    }
}

#[derive(Serialize)]
struct PauseRow {
    kind: &'static str,
    name: String,
    /// The scope as the resume form names it.
    scope: String,
    by: String,
    since: String,
    since_iso: String,
    until: Option<String>,
    until_iso: Option<String>,
    reason: String,
    held: usize,
}

#[derive(Serialize)]
struct KillSwitchPage {
    everything: bool,
    pauses: Vec<PauseRow>,
    accounts: Vec<String>,
    campaigns: Vec<String>,
}

fn scope_field(scope: &PauseScope) -> String {
    match scope {
        PauseScope::All => "all".into(),
        PauseScope::Campaigns => "campaigns".into(),
        PauseScope::Account(name) => format!("account:{name}"),
        PauseScope::Campaign(name) => format!("campaign:{name}"),
    }
}

pub async fn kill_switch(viewer: Viewer, Query(done): Query<Done>) -> Response {
    let plan = viewer.desk.plan.clone();
    let holdings = match views::pause_holdings(&plan, viewer.desk.store.as_ref(), Utc::now()) {
        Ok(holdings) => holdings,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let (brand, viewer_tz) = viewer.zones();
    let page = KillSwitchPage {
        everything: holdings.iter().any(|h| h.pause.scope == PauseScope::All),
        pauses: holdings
            .iter()
            .map(|h| {
                let since = when(from_millis(h.pause.created_at), brand, viewer_tz);
                let until = h
                    .pause
                    .until
                    .map(|u| when(from_millis(u), brand, viewer_tz));
                PauseRow {
                    kind: h.pause.scope.kind(),
                    name: h.pause.scope.name().unwrap_or("").to_string(),
                    scope: scope_field(&h.pause.scope),
                    by: h.pause.by.clone(),
                    since: since.at,
                    since_iso: since.iso,
                    until: until.as_ref().map(|u| u.at.clone()),
                    until_iso: until.map(|u| u.iso),
                    reason: h.pause.reason.clone(),
                    held: h.held,
                }
            })
            .collect(),
        accounts: plan.accounts.keys().cloned().collect(),
        campaigns: plan.campaigns.iter().map(|c| c.name.clone()).collect(),
    };
    viewer.frame.render(
        StatusCode::OK,
        "kill_switch.html",
        "kill.title",
        page,
        notice(&done),
        None,
    )
}

#[derive(Deserialize)]
pub struct PauseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
}

/// A form's `scope`: `all`, `account:NAME` or `campaign:NAME`.
fn selection(scope: &str) -> Result<Selection, String> {
    let mut selection = Selection::default();
    match scope.split_once(':') {
        None if scope == "all" => selection.all = true,
        Some(("account", name)) => selection.accounts.push(name.to_string()),
        Some(("campaign", name)) => selection.campaigns.push(name.to_string()),
        _ => {
            return Err(format!(
                "scope is `all`, `account:NAME` or `campaign:NAME`, not `{scope}`"
            ));
        }
    }
    Ok(selection)
}

fn pause_status(error: &PauseError) -> StatusCode {
    match error {
        PauseError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        PauseError::UnknownAccount { .. } | PauseError::UnknownCampaign { .. } => {
            StatusCode::NOT_FOUND
        }
        PauseError::NothingToResume { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub async fn pause(viewer: Viewer, Form(form): Form<PauseForm>) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Err(forbidden) = viewer.actor.may(Permission::Pause) {
        return viewer.frame.fail(StatusCode::FORBIDDEN, forbidden);
    }
    let selection = match selection(&form.scope) {
        Ok(selection) => selection,
        Err(message) => return viewer.frame.fail(StatusCode::BAD_REQUEST, message),
    };
    let tz = viewer.desk.plan.timezone;
    let until = match form.until.trim() {
        "" => None,
        text => match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
            Ok(local) => match local.and_local_timezone(tz).earliest() {
                Some(at) => Some(at.with_timezone(&Utc)),
                None => {
                    return viewer.frame.fail(
                        StatusCode::BAD_REQUEST,
                        format!("until `{text}` does not exist in {tz} (a clock change skips it)"),
                    );
                }
            },
            Err(_) => {
                return viewer.frame.fail(
                    StatusCode::BAD_REQUEST,
                    format!("until `{text}` is not a time written YYYY-MM-DDTHH:MM"),
                );
            }
        },
    };
    let made = ops::pauses::pause(
        &viewer.desk,
        &viewer.actor,
        &selection,
        until,
        &form.reason,
        Utc::now(),
    );
    match made {
        Ok(paused) => {
            if !paused.is_empty() {
                viewer.state.events.nudge();
            }
            Redirect::to("/pauses?done=paused").into_response()
        }
        Err(error) => viewer.frame.fail(pause_status(&error), error),
    }
}

#[derive(Deserialize)]
pub struct ResumeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope: String,
}

pub async fn resume(viewer: Viewer, Form(form): Form<ResumeForm>) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Err(forbidden) = viewer.actor.may(Permission::Pause) {
        return viewer.frame.fail(StatusCode::FORBIDDEN, forbidden);
    }
    let selection = match selection(&form.scope) {
        Ok(selection) => selection,
        Err(message) => return viewer.frame.fail(StatusCode::BAD_REQUEST, message),
    };
    match ops::pauses::resume(&viewer.desk, &viewer.actor, &selection, Utc::now()) {
        Ok(_) => {
            viewer.state.events.nudge();
            Redirect::to("/pauses?done=resumed").into_response()
        }
        Err(error) => viewer.frame.fail(pause_status(&error), error),
    }
}
