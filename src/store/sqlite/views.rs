//! History, the rehearsal timeline, and status.

use rusqlite::{Connection, params};

use super::{SqliteStore, from_json, known};
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

    fn history_before(
        &self,
        filter: &HistoryFilter,
        state: Option<RunState>,
        before: Option<(Millis, RunId)>,
        limit: usize,
    ) -> StoreResult<Vec<RunView>> {
        let connection = self.lock();
        let (at, id) = before.unwrap_or((Millis::MAX, RunId::MAX));
        let mut query = connection.prepare_cached(sql!("views/history_before"))?;
        let runs = query
            .query_map(
                params![
                    filter.playbook,
                    filter.since,
                    state.map(RunState::as_str),
                    at,
                    id,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                run_view,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        runs.into_iter()
            .map(|run| with_details(&connection, run))
            .collect()
    }

    fn timeline(&self) -> StoreResult<Vec<TimelineRow>> {
        let connection = self.lock();
        let mut query = connection.prepare(sql!("views/timeline"))?;
        let rows = query.query_map([], |row| {
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
