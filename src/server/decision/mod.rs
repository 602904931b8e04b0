//! The page a decision link in a notice opens, `/decide/{token}`: what waits (the post and
//! its text, or the incident and its timeline) and the buttons its person may press
//! (approve, reject with a note, acknowledge), one small self-contained page that works on a
//! phone. The link is the person's credential for that one decision (`ops::decision_links`
//! checks signature, expiry and person); a form posts back to the same secret address, which
//! a forged request from another site cannot know.

use std::sync::OnceLock;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::engine::events::ServiceEvent;
use crate::ops::Desk;
use crate::ops::decision_links::{self, Choice, Decided, LinkError, LinkRefused, Opened, Pending};
use crate::store::{ApprovalState, from_millis};

const PAGE: &str = include_str!("page.html");

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.add_template("page.html", PAGE)
            .expect("the decision page's template");
        env
    })
}

#[derive(Serialize, Default)]
struct ApprovalShown {
    post: String,
    fire_at: String,
    accounts: String,
    deadline: String,
    on_timeout: String,
    approvers: String,
    need: String,
    state: &'static str,
    text: String,
    decisions: Vec<String>,
}

#[derive(Serialize, Default)]
struct IncidentShown {
    id: i64,
    plan: String,
    level: String,
    status: String,
    opened_at: String,
    acknowledged: Option<String>,
    timeline: Vec<String>,
}

#[derive(Serialize, Default)]
struct Shown {
    title: String,
    person: Option<String>,
    actions: Vec<&'static str>,
    outcome: Option<String>,
    refused: Option<String>,
    approval: Option<ApprovalShown>,
    incident: Option<IncidentShown>,
}

fn local(at: i64, tz: Tz) -> String {
    local_time(from_millis(at), tz)
}

fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn shown(desk: &Desk, opened: &Opened) -> Shown {
    let tz = desk.plan.timezone;
    match &opened.pending {
        Pending::Approval(a) => {
            let open = a.state == ApprovalState::Pending;
            Shown {
                title: format!("Approve {}/{}?", a.playbook, a.item),
                person: Some(opened.actor.name().to_string()),
                actions: if open { vec!["approve"] } else { vec![] },
                approval: Some(ApprovalShown {
                    post: format!("{}/{}", a.playbook, a.item),
                    fire_at: local(a.fire_at, tz),
                    accounts: a.accounts.join(", "),
                    deadline: local(a.deadline, tz),
                    on_timeout: a.on_timeout.clone(),
                    approvers: a.approvers.join(", "),
                    need: a.need.clone(),
                    state: match a.state {
                        ApprovalState::Pending => "waiting for a decision",
                        ApprovalState::Approved => "approved",
                        ApprovalState::Rejected => "rejected",
                    },
                    text: a.text.clone(),
                    decisions: a
                        .decisions
                        .iter()
                        .map(|d| {
                            format!(
                                "{} {} at {}{}",
                                d.by,
                                match d.decision {
                                    crate::store::Decision::Approve => "approved",
                                    crate::store::Decision::Reject => "rejected",
                                },
                                local(d.at, tz),
                                d.note
                                    .as_deref()
                                    .map(|n| format!(": {n}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect(),
                }),
                ..Shown::default()
            }
        }
        Pending::Incident { row, report } => {
            let open = row.status == "open";
            let mut actions = Vec::new();
            if open {
                if report.acknowledged_at.is_none() {
                    actions.push("ack");
                }
                actions.push("approve");
            }
            Shown {
                title: format!("Incident {} ({})", row.id, report.level),
                person: Some(opened.actor.name().to_string()),
                actions,
                incident: Some(IncidentShown {
                    id: row.id,
                    plan: row.plan.clone(),
                    level: report.level.clone(),
                    status: row.status.clone(),
                    opened_at: local(row.opened_at, tz),
                    acknowledged: report.acknowledged_at.map(|at| {
                        format!(
                            "{} by {}",
                            local(at, tz),
                            report.acknowledged_by.as_deref().unwrap_or("?")
                        )
                    }),
                    timeline: report
                        .timeline
                        .iter()
                        .rev()
                        .take(20)
                        .map(|t| format!("{} {}: {}", local(t.at, tz), t.actor, t.detail))
                        .collect(),
                }),
                ..Shown::default()
            }
        }
    }
}

fn render(status: StatusCode, page: &Shown) -> Response {
    let html = environment()
        .get_template("page.html")
        .and_then(|t| t.render(page));
    let mut response = match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the decision page cannot be shown: {error}"),
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// The status a refusal is answered with.
fn status_of(error: &LinkError) -> StatusCode {
    match error {
        LinkError::Refused(LinkRefused::Invalid) | LinkError::NoSuchApproval => {
            StatusCode::NOT_FOUND
        }
        LinkError::Refused(LinkRefused::Expired { .. }) => StatusCode::GONE,
        LinkError::Refused(_) => StatusCode::FORBIDDEN,
        LinkError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    }
}

fn refused(error: &LinkError) -> Response {
    render(
        status_of(error),
        &Shown {
            title: "This link does not decide anything".into(),
            refused: Some(error.to_string()),
            ..Shown::default()
        },
    )
}

/// Who is signed in to the dashboard in this browser, if anyone (a link opened by someone
/// else signed in is refused).
fn signed_in(headers: &axum::http::HeaderMap, desk: &Desk) -> Option<String> {
    let secret =
        super::dashboard::session::cookie(headers, super::dashboard::session::SESSION_COOKIE);
    match crate::ops::sessions::authenticate(desk, secret.as_deref(), Utc::now()) {
        Ok(Ok(signed)) => Some(signed.actor.name().to_string()),
        _ => None,
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let desk = match state.desk() {
        Ok(desk) => desk,
        Err(problem) => return problem.into_response(),
    };
    let links = state.links.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let person = signed_in(&headers, &desk);
        match decision_links::open(&desk, &links, &token, person.as_deref(), Utc::now()) {
            Ok(opened) => render(StatusCode::OK, &shown(&desk, &opened)),
            Err(error) => refused(&error),
        }
    })
    .await;
    answer.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    choice: String,
    #[serde(default)]
    note: Option<String>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    let desk = match state.desk() {
        Ok(desk) => desk,
        Err(problem) => return problem.into_response(),
    };
    let note = form.note.filter(|n| !n.trim().is_empty());
    let what = form.choice.clone();
    let choice = match form.choice.as_str() {
        "approve" => Choice::Approve { note },
        "reject" => Choice::Reject { note },
        "ack" => Choice::Ack,
        other => {
            return refused(&LinkError::Choice(format!(
                "`{other}` is not a decision: approve, reject or ack"
            )));
        }
    };
    let links = state.links.clone();
    let view = state.view.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let person = signed_in(&headers, &desk);
        let decided = decision_links::decide(&desk, &links, &token, person.as_deref(), choice, now);
        // Shown again as it is now, with what was done (or why not) on top.
        let reopened = decision_links::open(&desk, &links, &token, person.as_deref(), now);
        let mut page = match &reopened {
            Ok(opened) => shown(&desk, opened),
            Err(_) => Shown::default(),
        };
        match decided {
            Ok(Decided::Approval(approval)) => {
                let last = approval.decisions.last();
                view.emit(ServiceEvent::ApprovalDecided {
                    approval: approval.id,
                    playbook: approval.playbook.clone(),
                    item: approval.item.clone(),
                    by: last.map(|d| d.by.clone()).unwrap_or_default(),
                    decision: match last.map(|d| d.decision) {
                        Some(crate::store::Decision::Reject) => "reject".into(),
                        _ => "approve".into(),
                    },
                    state: serde_json::to_value(approval.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                });
                page.outcome = Some(format!(
                    "Recorded: {}",
                    approval
                        .decisions
                        .last()
                        .map(|d| format!(
                            "{} {}",
                            d.by,
                            match d.decision {
                                crate::store::Decision::Approve => "approved",
                                crate::store::Decision::Reject => "rejected",
                            }
                        ))
                        .unwrap_or_default()
                ));
                render(StatusCode::OK, &page)
            }
            Ok(Decided::Incident(recorded)) => {
                view.emit(ServiceEvent::IncidentAction {
                    incident: recorded.incident,
                    action: what,
                    by: page.person.clone().unwrap_or_default(),
                });
                page.outcome = Some(format!(
                    "Recorded at {}; the service applies it within seconds.",
                    local_time(recorded.at, desk.plan.timezone)
                ));
                render(StatusCode::OK, &page)
            }
            Err(error) => {
                let status = status_of(&error);
                page.refused = Some(error.to_string());
                if page.title.is_empty() {
                    page.title = "This link does not decide anything".into();
                }
                render(status, &page)
            }
        }
    })
    .await;
    answer.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
