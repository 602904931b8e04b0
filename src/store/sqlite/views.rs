//! History, the rehearsal timeline, and status.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, from_json, known, unreadable};
use crate::connectors::OutgoingPost;
use crate::store::model::*;
use crate::store::{StoreResult, ViewStore};

impl ViewStore for SqliteStore {
    fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<RunView>> {
        let connection = self.lock();
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let mut query = connection.prepare_cached(sql!("views/history"))?;
        let runs = query
            .query_map(params![filter.playbook, filter.since, limit], run_view)?
            .collect::<Result<Vec<_>, _>>()?;
        runs.into_iter()
            .map(|run| with_details(&connection, run))
            .collect()
    }

    fn runs_page(&self, filter: &RunsPageFilter) -> StoreResult<Vec<RunView>> {
        let connection = self.lock();
        let (before_at, before_id) = filter.before.unwrap_or((Millis::MAX, RunId::MAX));
        let sql = match filter.playbook {
            Some(_) => sql!("views/runs_page_of_playbook"),
            None => sql!("views/runs_page"),
        };
        let mut query = connection.prepare_cached(sql)?;
        let runs = query
            .query_map(
                params![
                    before_at,
                    before_id,
                    filter.since,
                    filter.playbook,
                    filter.state.map(RunState::as_str),
                    filter.account,
                    filter.send_state.map(OutboxState::as_str),
                    filter.limit as i64,
                ],
                run_view,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        drop(query);
        runs.into_iter()
            .map(|run| with_details(&connection, run))
            .collect()
    }

    fn run_view(&self, id: RunId) -> StoreResult<Option<RunView>> {
        let connection = self.lock();
        let run = connection
            .prepare_cached(sql!("views/run_by_id"))?
            .query_row([id], run_view)
            .optional()?;
        run.map(|run| with_details(&connection, run)).transpose()
    }

    fn run_marks(&self, from: Millis, until: Millis) -> StoreResult<Vec<RunMark>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("views/run_marks"))?;
        let marks = query
            .query_map(params![from, until], |row| {
                let state: String = row.get(3)?;
                Ok(RunMark {
                    playbook: row.get(0)?,
                    item: row.get(1)?,
                    fire_at: row.get(2)?,
                    state: known(3, "run state", &state, RunState::parse)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(marks)
    }

    fn actions_after(&self, after: i64, limit: usize) -> StoreResult<Vec<ActionRecord>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("views/actions_after"))?;
        let rows = query.query_map(params![after, limit as i64], |row| {
            let id: i64 = row.get(0)?;
            let kind: String = row.get(1)?;
            let reference: i64 = row.get(2)?;
            let missing = |what: &str| {
                unreadable(format!(
                    "action {id}: its {what} row {reference} is missing"
                ))
            };
            let scope = |row: &rusqlite::Row| -> rusqlite::Result<PauseScope> {
                let kind: Option<String> = row.get(10)?;
                let name: Option<String> = row.get(11)?;
                kind.as_deref()
                    .and_then(|kind| PauseScope::from_parts(kind, name))
                    .ok_or_else(|| missing("pause"))
            };
            let action = match kind.as_str() {
                "decided" => RecordedAction::Decided {
                    approval: row
                        .get::<_, Option<i64>>(4)?
                        .ok_or_else(|| missing("decision"))?,
                    playbook: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    item: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    by: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    decision: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    state: row.get::<_, Option<String>>(9)?.unwrap_or_default(),
                },
                "paused" => RecordedAction::Paused {
                    pause: reference,
                    scope: scope(row)?,
                    by: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                },
                "resumed" => RecordedAction::Resumed {
                    pause: reference,
                    scope: scope(row)?,
                    by: row.get(13)?,
                },
                "incident" => RecordedAction::Incident {
                    incident: row
                        .get::<_, Option<i64>>(14)?
                        .ok_or_else(|| missing("incident action"))?,
                    action: row.get::<_, Option<String>>(15)?.unwrap_or_default(),
                },
                "triggered" => RecordedAction::Triggered {
                    run: reference,
                    playbook: row
                        .get::<_, Option<String>>(16)?
                        .ok_or_else(|| missing("run"))?,
                    item: row.get::<_, Option<String>>(17)?.unwrap_or_default(),
                    reason: row.get::<_, Option<String>>(18)?.unwrap_or_default(),
                },
                "disqualified" => {
                    let note: Option<String> = row.get(18)?;
                    disqualified(note.as_deref().unwrap_or("")).ok_or_else(|| {
                        unreadable(format!("action {id}: its note is not a disqualification"))
                    })?
                }
                other => {
                    return Err(unreadable(format!(
                        "action {id} is of an unknown kind `{other}`"
                    )));
                }
            };
            Ok(ActionRecord {
                id,
                at: row.get(3)?,
                action,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest_action(&self) -> StoreResult<i64> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("views/latest_action"))?
            .query_row([], |row| row.get(0))?)
    }

    fn timeline_between(&self, from: Millis, until: Millis) -> StoreResult<Vec<TimelineRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("views/timeline"))?;
        let rows = query.query_map(params![from, until], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, Option<String>>(9)?,
                row.get::<_, Option<String>>(10)?,
                row.get::<_, Option<i64>>(11)?,
                row.get::<_, Option<String>>(12)?,
            ))
        })?;
        let mut timeline = Vec::new();
        for row in rows {
            let (
                fire_at,
                playbook,
                item,
                state,
                reason,
                account,
                send_state,
                text,
                error,
                reply_to,
                remote_id,
                updated_at,
                note,
            ) = row?;
            let send = match (account, send_state, text) {
                (Some(account), Some(send_state), Some(text)) => Some(TimelineSend {
                    account,
                    state: known(6, "send state", &send_state, OutboxState::parse)?,
                    text,
                    error,
                    reply_to,
                    remote_id,
                    updated_at: updated_at.unwrap_or_default(),
                    note,
                }),
                _ => None,
            };
            timeline.push(TimelineRow {
                fire_at,
                playbook,
                item,
                state: known(3, "run state", &state, RunState::parse)?,
                reason,
                send,
            });
        }
        Ok(timeline)
    }

    fn status(&self) -> StoreResult<StatusView> {
        let connection = self.lock();
        let counts = |sql: &str| -> StoreResult<Vec<(String, i64)>> {
            let mut query = connection.prepare(sql)?;
            let rows = query.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let runs = counts(sql!("views/count_runs"))?;
        let outbox = counts(sql!("views/count_outbox"))?;
        let mut query = connection.prepare(sql!("views/runs_in_flight"))?;
        let in_flight = query
            .query_map([], run_view)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(query);
        let in_flight = in_flight
            .into_iter()
            .map(|run| with_details(&connection, run))
            .collect::<StoreResult<_>>()?;
        Ok(StatusView {
            runs,
            outbox,
            in_flight,
        })
    }
}

pub(super) fn run_view(row: &rusqlite::Row) -> rusqlite::Result<RunView> {
    let state: String = row.get(5)?;
    Ok(RunView {
        id: row.get(0)?,
        playbook: row.get(1)?,
        item: row.get(2)?,
        fire_at: row.get(3)?,
        revision: row.get(4)?,
        state: known(5, "run state", &state, RunState::parse)?,
        reason: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        steps: Vec::new(),
        outbox: Vec::new(),
    })
}

pub(super) fn with_details(connection: &Connection, mut run: RunView) -> StoreResult<RunView> {
    let mut steps = connection.prepare_cached(sql!("views/steps_of_run"))?;
    run.steps = steps
        .query_map([run.id], |row| {
            let state: String = row.get(2)?;
            Ok(StepView {
                index: row.get::<_, i64>(0)? as usize,
                kind: row.get(1)?,
                state: known(2, "step state", &state, StepState::parse)?,
                wake_at: row.get(3)?,
                reason: row.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut outbox = connection.prepare_cached(sql!("views/sends_of_run"))?;
    let rows = outbox
        .query_map([run.id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, i64>(9)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (
        step,
        account,
        state,
        attempts,
        next_attempt_at,
        remote_id,
        error,
        payload,
        note,
        updated_at,
    ) in rows
    {
        let post: OutgoingPost = from_json(&payload)?;
        run.outbox.push(OutboxView {
            step: step as usize,
            account,
            state: known(2, "send state", &state, OutboxState::parse)?,
            attempts: attempts as u32,
            next_attempt_at,
            remote_id,
            error,
            note,
            text: post.text,
            updated_at,
        });
    }
    Ok(run)
}

/// A `disqualified` journal row's note: `{"contest": …, "substitution": {"out", "in",
/// "by", …}}`, as migration 0019's trigger writes it.
fn disqualified(note: &str) -> Option<RecordedAction> {
    let note: serde_json::Value = serde_json::from_str(note).ok()?;
    let substitution = note.get("substitution")?;
    let text = |value: &serde_json::Value, name: &str| {
        value.get(name).and_then(|v| v.as_str()).map(str::to_string)
    };
    Some(RecordedAction::Disqualified {
        contest: text(&note, "contest")?,
        out: text(substitution, "out")?,
        replacement: text(substitution, "in"),
        by: text(substitution, "by"),
    })
}
