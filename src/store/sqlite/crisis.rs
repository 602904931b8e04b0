//! Crisis plans: their mentions, cursors, incidents and people's actions.

use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{CrisisStore, StoreResult};

impl CrisisStore for SqliteStore {
    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("crisis/crisis_state"))?
            .query_row([plan], |row| row.get(0))
            .optional()?)
    }

    fn crisis_states(&self) -> StoreResult<Vec<(String, String)>> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(sql!("crisis/crisis_states"))?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("crisis/crisis_cursor"))?
            .query_row([plan, account], |row| row.get(0))
            .optional()?)
    }

    fn add_crisis_mentions(
        &self,
        plan: &str,
        account: &str,
        mentions: &[NewMention],
        cursor: Option<&str>,
        now: Millis,
    ) -> StoreResult<usize> {
        self.transaction(|tx| {
            let mut new = 0;
            let mut rest = mentions;
            for (rows, sql) in MENTION_CHUNKS.iter().zip(insert_mentions()) {
                if rest.len() < *rows {
                    continue;
                }
                let mut insert = tx.prepare_cached(sql)?;
                insert.raw_bind_parameter(1, plan)?;
                insert.raw_bind_parameter(2, now)?;
                while let Some((chunk, after)) = rest.split_at_checked(*rows) {
                    for (row, mention) in chunk.iter().enumerate() {
                        let first = 3 + 4 * row;
                        insert.raw_bind_parameter(first, &mention.key)?;
                        insert.raw_bind_parameter(first + 1, mention.at)?;
                        insert.raw_bind_parameter(first + 2, &mention.author)?;
                        insert.raw_bind_parameter(first + 3, &mention.text)?;
                    }
                    // The rows inserted: a key skipped on conflict is not counted.
                    new += insert.raw_execute()?;
                    rest = after;
                }
            }
            if let Some(cursor) = cursor {
                tx.prepare_cached(sql!("crisis/put_cursor"))?
                    .execute(params![plan, account, cursor, now])?;
            }
            Ok(new)
        })
    }

    fn crisis_mentions_page(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
        limit: usize,
    ) -> StoreResult<Vec<StoredMention>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("crisis/mentions_page"))?;
        let rows = query
            .query_map(
                params![plan, after_seq, since, i64::try_from(limit).unwrap_or(-1)],
                stored_mention,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incidents(&self) -> StoreResult<Vec<IncidentRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("crisis/incidents"))?;
        let rows = query
            .query_map([], incident_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("crisis/incident"))?
            .query_row([id], incident_row)
            .optional()?)
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("crisis/next_incident_id"))?
            .query_row([], |row| row.get(0))?)
    }

    fn add_incident_action(&self, incident: i64, action: &str, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            Ok(tx.query_row(
                sql!("crisis/insert_action"),
                params![incident, action, now],
                |row| row.get(0),
            )?)
        })
    }

    fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(sql!("crisis/pending_actions"))?;
        let rows = query
            .query_map([plan], action_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(sql!("crisis/action"))?
            .query_row([id], action_row)
            .optional()?)
    }
}

/// Rows per statement that stores mentions, largest first: a call's mentions go in as few
/// statements as these sizes make (500 as 7 × 64, 6 × 8 and 4 × 1), so AUTOINCREMENT's
/// sequence row is written once per statement, not once per mention, and the statement's
/// own cost is shared by its rows. Each size is one statement in the cache.
const MENTION_CHUNKS: [usize; 3] = [64, 8, 1];

/// `crisis/insert_mentions` for each of [`MENTION_CHUNKS`], made once.
fn insert_mentions() -> &'static [String; 3] {
    static STATEMENTS: OnceLock<[String; 3]> = OnceLock::new();
    STATEMENTS.get_or_init(|| {
        MENTION_CHUNKS.map(|rows| {
            let values: Vec<String> = (0..rows)
                .map(|row| {
                    let k = 3 + 4 * row;
                    format!("(?1, ?{k}, ?{}, ?{}, ?{}, ?2)", k + 1, k + 2, k + 3)
                })
                .collect();
            sql!("crisis/insert_mentions").replace("{rows}", &values.join(", "))
        })
    })
}

pub(super) fn write_crisis(tx: &Connection, write: &CrisisWrite, now: Millis) -> StoreResult<()> {
    tx.prepare_cached(sql!("crisis/put_plan_state"))?
        .execute(params![write.plan, write.state, now])?;
    let mut incident = tx.prepare_cached(sql!("crisis/put_incident"))?;
    for row in &write.incidents {
        incident.execute(params![
            row.id,
            row.plan,
            row.status,
            row.level,
            row.opened_at,
            row.resolved_at,
            row.report,
            now
        ])?;
    }
    let mut applied = tx.prepare_cached(sql!("crisis/mark_action_applied"))?;
    for (id, outcome) in &write.applied {
        applied.execute(params![id, now, outcome])?;
    }
    if let Some(before) = write.forget_mentions_before {
        tx.prepare_cached(sql!("crisis/forget_mentions_before"))?
            .execute(params![write.plan, before])?;
    }
    Ok(())
}

pub(super) fn incident_row(row: &rusqlite::Row) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: row.get(0)?,
        plan: row.get(1)?,
        status: row.get(2)?,
        level: row.get(3)?,
        opened_at: row.get(4)?,
        resolved_at: row.get(5)?,
        report: row.get(6)?,
    })
}

pub(super) fn action_row(row: &rusqlite::Row) -> rusqlite::Result<IncidentActionRow> {
    Ok(IncidentActionRow {
        id: row.get(0)?,
        incident: row.get(1)?,
        action: row.get(2)?,
        at: row.get(3)?,
        applied_at: row.get(4)?,
        outcome: row.get(5)?,
    })
}

fn stored_mention(row: &rusqlite::Row) -> rusqlite::Result<StoredMention> {
    Ok(StoredMention {
        seq: row.get(0)?,
        at: row.get(1)?,
        author: row.get(2)?,
        text: row.get(3)?,
    })
}
