//! Contests: each contest's phase timeline (announced, entries close, drawn), entry counts by
//! verdict, the entries table with the rule that left each one out, winners and reserves,
//! the commitment, and the proof of the draw to download with the result of verifying it
//! here (`contest::draw::verify`, the check anyone can rerun with `docs/contest_verify.py`).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;

use super::{Viewer, when};
use crate::ops::contests::{self, ContestError};

/// Entries the page lists, at most (the proof and the API have every one).
const ENTRIES: usize = 500;

#[derive(Serialize)]
struct Milestone {
    key: &'static str,
    at: String,
    iso: String,
    done: bool,
}

#[derive(Serialize)]
struct ContestRow {
    name: String,
    phase: &'static str,
    seen: usize,
    eligible: usize,
}

#[derive(Serialize)]
struct ListPage {
    contests: Vec<ContestRow>,
}

fn failed(viewer: &Viewer, error: ContestError) -> Response {
    let status = match &error {
        ContestError::UnknownContest { .. } => StatusCode::NOT_FOUND,
        ContestError::Refused(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    viewer.frame.fail(status, error)
}

pub async fn list(viewer: Viewer) -> Response {
    let mut rows = Vec::new();
    for contest in &viewer.desk.plan.contests {
        match contests::status(&viewer.desk, &contest.name) {
            Ok(status) => rows.push(ContestRow {
                name: contest.name.clone(),
                phase: status.phase,
                seen: status.seen,
                eligible: status.eligible,
            }),
            Err(error) => return failed(&viewer, error),
        }
    }
    viewer.frame.render(
        StatusCode::OK,
        "contests.html",
        "contests.title",
        ListPage { contests: rows },
        None,
        None,
    )
}

#[derive(Serialize)]
struct EntryRow {
    at: String,
    iso: String,
    author: String,
    text: String,
    eligible: bool,
    rule: Option<String>,
    reason: Option<String>,
    winner: bool,
    reserve: bool,
}

#[derive(Serialize)]
struct DetailPage {
    name: String,
    phase: &'static str,
    timeline: Vec<Milestone>,
    seen: usize,
    eligible: usize,
    provisional: bool,
    excluded: Vec<(String, usize)>,
    winners: Vec<String>,
    reserves: Vec<String>,
    substitutions: Vec<String>,
    commitment: Option<(String, String)>,
    entries: Vec<EntryRow>,
    more: usize,
    /// `None` before the draw; else every way the proof does not hold (empty: it holds).
    verified: Option<Vec<String>>,
}

pub async fn detail(viewer: Viewer, Path(name): Path<String>) -> Response {
    let status = match contests::status(&viewer.desk, &name) {
        Ok(status) => status,
        Err(error) => return failed(&viewer, error),
    };
    let judged = match contests::entries(&viewer.desk, &name) {
        Ok(judged) => judged,
        Err(error) => return failed(&viewer, error),
    };
    let Some(plan) = viewer.desk.plan.contests.iter().find(|c| c.name == name) else {
        return viewer
            .frame
            .fail(StatusCode::NOT_FOUND, format!("unknown contest `{name}`"));
    };
    let (brand, viewer_tz) = viewer.zones();
    let now = Utc::now();
    let milestone = |key, at: chrono::DateTime<chrono_tz::Tz>, done: bool| {
        let at = when(at.with_timezone(&Utc), brand, viewer_tz);
        Milestone {
            key,
            at: at.at,
            iso: at.iso,
            done,
        }
    };
    let timeline = vec![
        milestone(
            "contests.announce",
            plan.announce_at,
            status.phase != "scheduled",
        ),
        milestone(
            "contests.closes",
            plan.closes,
            status.commitment.is_some() || plan.closes.with_timezone(&Utc) <= now,
        ),
        milestone("contests.draw", plan.draw_at, status.drawn),
    ];
    let key = |network: &str, id: &str| format!("{network}:{id}");
    let is_in = |list: &[String], entry: &crate::contest::Entry| {
        list.iter()
            .any(|k| *k == key(&entry.network, &entry.id) || *k == entry.author)
    };
    let entries = judged
        .iter()
        .take(ENTRIES)
        .map(|j| {
            let at = when(j.entry.at, brand, viewer_tz);
            EntryRow {
                at: at.at,
                iso: at.iso,
                author: j.entry.author.clone(),
                text: j.entry.text.clone(),
                eligible: j.verdict.eligible,
                rule: j.verdict.rule.clone(),
                reason: j.verdict.reason.clone(),
                winner: is_in(&status.winners, &j.entry),
                reserve: is_in(&status.reserves, &j.entry),
            }
        })
        .collect();
    let verified = if status.drawn {
        match contests::proof(&viewer.desk, &name) {
            Ok(proof) => Some(crate::contest::draw::verify(&proof)),
            Err(error) => Some(vec![error.to_string()]),
        }
    } else {
        None
    };
    let page = DetailPage {
        name: name.clone(),
        phase: status.phase,
        timeline,
        seen: status.seen,
        eligible: status.eligible,
        provisional: status.provisional,
        excluded: status.excluded.into_iter().collect(),
        winners: status.winners,
        reserves: status.reserves,
        substitutions: status
            .substitutions
            .iter()
            .map(|s| serde_json::to_string(s).unwrap_or_default())
            .collect(),
        commitment: status.commitment.map(|c| (c.list_sha256, c.seed_sha256)),
        more: judged.len().saturating_sub(ENTRIES),
        entries,
        verified,
    };
    viewer.frame.render(
        StatusCode::OK,
        "contest.html",
        "contests.title",
        page,
        None,
        None,
    )
}

/// The proof of the draw as a JSON file.
pub async fn proof(viewer: Viewer, Path(name): Path<String>) -> Response {
    match contests::proof(&viewer.desk, &name) {
        Ok(proof) => (
            [
                (header::CONTENT_TYPE, "application/json".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}-proof.json\""),
                ),
            ],
            serde_json::to_string_pretty(&proof).unwrap_or_default(),
        )
            .into_response(),
        Err(error) => failed(&viewer, error),
    }
}
