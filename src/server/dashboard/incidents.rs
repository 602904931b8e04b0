//! Incidents: the open and recent ones with their level; one incident's timeline, its
//! mentions-per-minute chart (the report's own SVG), the forms to acknowledge, decide the
//! waiting approval and resolve (`ops::incidents`, recorded for the service to apply), and
//! its report to download as Markdown, HTML or JSON.

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Viewer, i18n, when};
use crate::crisis::ReportFormat;
use crate::ops::incidents::{self, IncidentAction, IncidentError};
use crate::ops::{Permission, views};
use crate::store::from_millis;

#[derive(Serialize)]
struct IncidentRow {
    id: i64,
    plan: String,
    level: String,
    status: String,
    opened_at: String,
    opened_iso: String,
    acknowledged_by: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct ListPage {
    open: Vec<IncidentRow>,
    recent: Vec<IncidentRow>,
}

pub async fn list(viewer: Viewer) -> Response {
    let listed = match views::incidents(viewer.desk.store.as_ref(), false, Utc::now()) {
        Ok(listed) => listed,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let (brand, viewer_tz) = viewer.zones();
    let mut page = ListPage {
        open: Vec::new(),
        recent: Vec::new(),
    };
    for incident in listed {
        let opened = when(from_millis(incident.row.opened_at), brand, viewer_tz);
        let row = IncidentRow {
            id: incident.row.id,
            plan: incident.row.plan.clone(),
            level: incident.row.level.clone(),
            status: incident.row.status.clone(),
            opened_at: opened.at,
            opened_iso: opened.iso,
            acknowledged_by: incident
                .report
                .as_ref()
                .ok()
                .and_then(|r| r.acknowledged_by.clone()),
            error: incident.report.err(),
        };
        if row.status == "open" {
            page.open.push(row);
        } else {
            page.recent.push(row);
        }
    }
    viewer.frame.render(
        StatusCode::OK,
        "incidents.html",
        "incidents.title",
        page,
        None,
        None,
    )
}

#[derive(Serialize)]
struct Line {
    at: String,
    iso: String,
    actor: String,
    kind: String,
    detail: String,
}

#[derive(Serialize)]
struct DetailPage {
    id: i64,
    plan: String,
    level: String,
    status: String,
    open: bool,
    acknowledged: bool,
    acknowledged_by: Option<String>,
    durations: Vec<(String, Option<String>)>,
    chart: String,
    timeline: Vec<Line>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn failed(viewer: &Viewer, error: IncidentError) -> Response {
    let status = match &error {
        IncidentError::Unknown { .. } => StatusCode::NOT_FOUND,
        IncidentError::Store(_) | IncidentError::Unreadable { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        IncidentError::Refused(crate::crisis::runner::ActionRefused::NotAnApprover { .. }) => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::CONFLICT,
    };
    viewer.frame.fail(status, error)
}

pub async fn detail(viewer: Viewer, Path(id): Path<i64>, Query(done): Query<Done>) -> Response {
    let row = match incidents::find(&viewer.desk, id) {
        Ok(row) => row,
        Err(error) => return failed(&viewer, error),
    };
    let report = match incidents::report_of(&row) {
        Ok(report) => report,
        Err(error) => return failed(&viewer, error),
    };
    let (brand, viewer_tz) = viewer.zones();
    let lang = viewer.frame.lang;
    let page = DetailPage {
        id,
        plan: row.plan.clone(),
        level: report.level.clone(),
        status: row.status.clone(),
        open: row.status == "open",
        acknowledged: report.acknowledged_at.is_some(),
        acknowledged_by: report.acknowledged_by.clone(),
        durations: report
            .durations()
            .iter()
            .map(|(name, ms)| {
                (
                    format!("incidents.{}", name.to_lowercase().replace(' ', "_")),
                    ms.map(crate::crisis::duration),
                )
            })
            .collect(),
        chart: report.svg_chart_labelled(
            i18n::text(lang, "incidents.chart").unwrap_or("Mentions per minute"),
            i18n::text(lang, "incidents.no_mentions").unwrap_or("No mentions"),
        ),
        timeline: report
            .timeline
            .iter()
            .map(|t| {
                let at = when(from_millis(t.at), brand, viewer_tz);
                Line {
                    at: at.at,
                    iso: at.iso,
                    actor: t.actor.clone(),
                    // A kind the catalog does not know yet is shown as stored.
                    kind: i18n::text(lang, &format!("incidents.kind.{}", t.kind))
                        .map_or_else(|| t.kind.clone(), str::to_string),
                    detail: t.detail.clone(),
                }
            })
            .collect(),
    };
    let notice = match done.done.as_deref() {
        Some("recorded") => Some("notice.incident_recorded"),
        _ => None,
    };
    viewer.frame.render(
        StatusCode::OK,
        "incident.html",
        "incidents.title",
        page,
        notice,
        None,
    )
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

/// Acknowledges, decides or resolves incident `id` as the person signed in.
pub async fn act(viewer: Viewer, Path(id): Path<i64>, Form(form): Form<ActForm>) -> Response {
    if let Err(refused) = viewer.check(&form.csrf) {
        return refused;
    }
    if let Err(forbidden) = viewer.actor.may(Permission::Respond) {
        return viewer.frame.fail(StatusCode::FORBIDDEN, forbidden);
    }
    let note = Some(form.note.trim().to_string()).filter(|n| !n.is_empty());
    let action = match form.action.as_str() {
        "ack" => IncidentAction::Ack,
        "approve" => IncidentAction::Decide {
            approve: true,
            note,
        },
        "reject" => IncidentAction::Decide {
            approve: false,
            note,
        },
        "resolve" => IncidentAction::Resolve { note },
        other => {
            return viewer.frame.fail(
                StatusCode::BAD_REQUEST,
                format!("the action is ack, approve, reject or resolve, not `{other}`"),
            );
        }
    };
    match incidents::act(&viewer.desk, &viewer.actor, id, action, Utc::now()) {
        Ok(_) => {
            viewer.state.events.nudge();
            Redirect::to(&format!("/incidents/{id}?done=recorded")).into_response()
        }
        Err(error) => failed(&viewer, error),
    }
}

/// The report of incident `id` as a file: `md`, `html` or `json`.
pub async fn report(viewer: Viewer, Path((id, format)): Path<(i64, String)>) -> Response {
    let (kind, content_type) = match format.as_str() {
        "md" => (ReportFormat::Markdown, "text/markdown; charset=utf-8"),
        "html" => (ReportFormat::Html, "text/html; charset=utf-8"),
        "json" => (ReportFormat::Json, "application/json"),
        _ => {
            return viewer
                .frame
                .fail(StatusCode::NOT_FOUND, "a report is md, html or json");
        }
    };
    match incidents::report(&viewer.desk, id) {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"incident-{id}.{format}\""),
                ),
            ],
            report.render(kind),
        )
            .into_response(),
        Err(error) => failed(&viewer, error),
    }
}
