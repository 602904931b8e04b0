//! The page a decision link in a notice opens, `/decide/{token}`: what waits (the post and
//! its text, or the incident and its timeline) and the buttons its person may press
//! (approve, reject with a note, acknowledge), drawn in the dashboard's layout and style
//! (`decision.html`) in the reader's language from the dashboard's catalog, one column that
//! works on a phone. The link is the person's credential for that one decision
//! (`ops::decision_links` checks signature, expiry and person); a form posts back to the
//! same secret address, which a forged request from another site cannot know.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::dashboard::{Frame, i18n};
use crate::engine::approvals::DecideError;
use crate::ops::Desk;
use crate::ops::approvals::ApprovalError;
use crate::ops::decision_links::{self, Choice, Decided, LinkError, LinkRefused, Opened, Pending};
use crate::store::{ApprovalState, Decision, from_millis};

#[derive(Serialize)]
struct DecisionShown {
    by: String,
    decision: &'static str,
    at: String,
    note: Option<String>,
}

#[derive(Serialize)]
struct ApprovalShown {
    post: String,
    fire_at: String,
    accounts: Vec<String>,
    deadline: String,
    on_timeout: String,
    approvers: Vec<String>,
    need: String,
    state: &'static str,
    text: String,
    decisions: Vec<DecisionShown>,
}

#[derive(Serialize)]
struct IncidentShown {
    id: i64,
    plan: String,
    level: String,
    status: String,
    opened_at: String,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<String>,
    timeline: Vec<String>,
}

/// What was just recorded: an approval's decision (`by`, `decision`) or an incident
/// action's time (`at`).
#[derive(Serialize, Default)]
struct Outcome {
    by: Option<String>,
    decision: Option<&'static str>,
    at: Option<String>,
}

#[derive(Serialize, Default)]
struct Shown {
    person: Option<String>,
    actions: Vec<&'static str>,
    approve_key: &'static str,
    reject_key: &'static str,
    outcome: Option<Outcome>,
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

fn decision_word(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    }
}

fn shown(desk: &Desk, opened: &Opened) -> Shown {
    let tz = desk.plan.timezone;
    match &opened.pending {
        Pending::Approval(a) => {
            let open = a.state == ApprovalState::Pending;
            Shown {
                person: Some(opened.actor.name().to_string()),
                actions: if open { vec!["approve"] } else { vec![] },
                approve_key: "approvals.approve",
                reject_key: "approvals.reject",
                approval: Some(ApprovalShown {
                    post: format!("{}/{}", a.playbook, a.item),
                    fire_at: local(a.fire_at, tz),
                    accounts: a.accounts.clone(),
                    deadline: local(a.deadline, tz),
                    on_timeout: a.on_timeout.clone(),
                    approvers: a.approvers.clone(),
                    need: a.need.clone(),
                    state: match a.state {
                        ApprovalState::Pending => "pending",
                        ApprovalState::Approved => "approved",
                        ApprovalState::Rejected => "rejected",
                    },
                    text: a.text.clone(),
                    decisions: a
                        .decisions
                        .iter()
                        .map(|d| DecisionShown {
                            by: d.by.clone(),
                            decision: decision_word(d.decision),
                            at: local(d.at, tz),
                            note: d.note.clone(),
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
                person: Some(opened.actor.name().to_string()),
                actions,
                approve_key: "incidents.approve",
                reject_key: "incidents.reject",
                incident: Some(IncidentShown {
                    id: row.id,
                    plan: row.plan.clone(),
                    level: report.level.clone(),
                    status: row.status.clone(),
                    opened_at: local(row.opened_at, tz),
                    acknowledged_by: report
                        .acknowledged_at
                        .map(|_| report.acknowledged_by.clone().unwrap_or_else(|| "?".into())),
                    acknowledged_at: report.acknowledged_at.map(|at| local(at, tz)),
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

/// The page's frame: the dashboard's layout in the reader's language, nobody signed in
/// (the link is the credential; the dashboard's navigation is not shown).
fn frame(headers: &HeaderMap, desk: Option<&Desk>, token: &str) -> Frame {
    Frame {
        lang: i18n::choose(headers),
        here: format!("/decide/{token}"),
        brand_tz: desk.map_or(chrono_tz::UTC, |d| d.plan.timezone),
        viewer_tz: None,
        signed_in: None,
    }
}

fn render(frame: &Frame, status: StatusCode, page: &Shown) -> Response {
    let mut response = frame.render(status, "decision.html", "decision.title", page, None, None);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// Why a link decides nothing, in the page's language: the link's own refusals and the
/// common refusals of a decision from the catalog, anything else as the error says it.
fn refusal(frame: &Frame, error: &LinkError) -> String {
    let say = |key: &str, values: &[(&str, &str)]| {
        let mut out = i18n::text(frame.lang, key).unwrap_or(key).to_string();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    };
    match error {
        LinkError::Refused(LinkRefused::Invalid) => say("decision.invalid", &[]),
        LinkError::Refused(LinkRefused::Expired { at }) => say(
            "decision.expired",
            &[("at", &local_time(*at, frame.brand_tz))],
        ),
        LinkError::Refused(LinkRefused::OtherPerson {
            link_for,
            signed_in,
        }) => say(
            "decision.other_person",
            &[("link_for", link_for), ("signed_in", signed_in)],
        ),
        LinkError::Refused(LinkRefused::UnknownPerson { person }) => {
            say("decision.unknown_person", &[("person", person)])
        }
        LinkError::NoSuchApproval => say("decision.no_such_approval", &[]),
        LinkError::Approval(ApprovalError::Decide(DecideError::RejectionWithoutNote)) => {
            say("decision.note_needed", &[])
        }
        LinkError::Approval(ApprovalError::Decide(DecideError::NotAnApprover {
            by,
            post,
            approvers,
        })) => say(
            "decision.not_an_approver",
            &[
                ("by", by),
                ("post", post),
                ("approvers", &approvers.join(", ")),
            ],
        ),
        LinkError::Approval(ApprovalError::Decide(DecideError::AlreadyDecided {
            post, ..
        })) => say("decision.already", &[("post", post)]),
        LinkError::Approval(ApprovalError::Decide(DecideError::AlreadyDecidedBy { by, post })) => {
            say("decision.already_by", &[("by", by), ("post", post)])
        }
        other => other.to_string(),
    }
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

fn refused(frame: &Frame, error: &LinkError) -> Response {
    render(
        frame,
        status_of(error),
        &Shown {
            refused: Some(refusal(frame, error)),
            ..Shown::default()
        },
    )
}

/// Who is signed in to the dashboard in this browser, if anyone (a link opened by someone
/// else signed in is refused).
fn signed_in(headers: &HeaderMap, desk: &Desk) -> Option<String> {
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
    headers: HeaderMap,
) -> Response {
    let desk = match state.desk() {
        Ok(desk) => desk,
        Err(problem) => return problem.into_response(),
    };
    let links = state.links.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let frame = frame(&headers, Some(&desk), &token);
        let person = signed_in(&headers, &desk);
        match decision_links::open(&desk, &links, &token, person.as_deref(), Utc::now()) {
            Ok(opened) => render(&frame, StatusCode::OK, &shown(&desk, &opened)),
            Err(error) => refused(&frame, &error),
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
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    let desk = match state.desk() {
        Ok(desk) => desk,
        Err(problem) => return problem.into_response(),
    };
    let frame = frame(&headers, Some(&desk), &token);
    let note = form.note.filter(|n| !n.trim().is_empty());
    let choice = match form.choice.as_str() {
        "approve" => Choice::Approve { note },
        "reject" => Choice::Reject { note },
        "ack" => Choice::Ack,
        other => {
            return refused(
                &frame,
                &LinkError::Choice(format!(
                    "`{other}` is not a decision: approve, reject or ack"
                )),
            );
        }
    };
    let links = state.links.clone();
    let events = state.events.clone();
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
                events.nudge();
                page.outcome = last.map(|d| Outcome {
                    by: Some(d.by.clone()),
                    decision: Some(decision_word(d.decision)),
                    at: None,
                });
                render(&frame, StatusCode::OK, &page)
            }
            Ok(Decided::Incident(recorded)) => {
                events.nudge();
                page.outcome = Some(Outcome {
                    at: Some(local_time(recorded.at, desk.plan.timezone)),
                    ..Outcome::default()
                });
                render(&frame, StatusCode::OK, &page)
            }
            Err(error) => {
                let status = status_of(&error);
                page.refused = Some(refusal(&frame, &error));
                render(&frame, status, &page)
            }
        }
    })
    .await;
    answer.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
