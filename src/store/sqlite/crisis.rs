//! Crisis plans: their mentions, cursors, incidents and people's actions.

use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use crate::store::model::*;
use crate::store::{CrisisStore, StoreResult};

impl CrisisStore for SqliteStore {
    fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT state FROM crisis_plans WHERE name = ?1")?
            .query_row([plan], |row| row.get(0))
            .optional()?)
    }

    fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT cursor FROM crisis_cursors WHERE plan = ?1 AND account = ?2")?
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
            let mut insert = tx.prepare_cached(
                "INSERT INTO crisis_mentions (plan, key, at, author, text, read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (plan, key) DO NOTHING",
            )?;
            let mut new = 0;
            for mention in mentions {
                new += insert.execute(params![
                    plan,
                    mention.key,
                    mention.at,
                    mention.author,
                    mention.text,
                    now
                ])?;
            }
            if let Some(cursor) = cursor {
                tx.prepare_cached(
                    "INSERT INTO crisis_cursors (plan, account, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (plan, account) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                )?
                .execute(params![plan, account, cursor, now])?;
            }
            Ok(new)
        })
    }

    fn crisis_mentions(
        &self,
        plan: &str,
        after_seq: i64,
        since: Millis,
    ) -> StoreResult<Vec<StoredMention>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            // NOT INDEXED: the service asks every second for the few mentions after `seq`,
            // a seek on the row id; the (plan, at) index would walk eight days of them.
            "SELECT seq, at, author, text FROM crisis_mentions NOT INDEXED
              WHERE plan = ?1 AND seq > ?2 AND at >= ?3 ORDER BY seq",
        )?;
        let rows = query
            .query_map(params![plan, after_seq, since], |row| {
                Ok(StoredMention {
                    seq: row.get(0)?,
                    at: row.get(1)?,
                    author: row.get(2)?,
                    text: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incidents(&self) -> StoreResult<Vec<IncidentRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT id, plan, status, level, opened_at, resolved_at, report FROM incidents ORDER BY id DESC",
        )?;
        let rows = query
            .query_map([], incident_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(
                "SELECT id, plan, status, level, opened_at, resolved_at, report FROM incidents WHERE id = ?1",
            )?
            .query_row([id], incident_row)
            .optional()?)
    }

    fn next_incident_id(&self) -> StoreResult<i64> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM incidents")?
            .query_row([], |row| row.get(0))?)
    }

    fn add_incident_action(&self, incident: i64, action: &str, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| {
            Ok(tx.query_row(
                "INSERT INTO incident_actions (incident, action, at) VALUES (?1, ?2, ?3) RETURNING id",
                params![incident, action, now],
                |row| row.get(0),
            )?)
        })
    }

    fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT a.id, a.incident, a.action, a.at, a.applied_at, a.outcome
               FROM incident_actions a JOIN incidents i ON i.id = a.incident
              WHERE i.plan = ?1 AND a.applied_at IS NULL ORDER BY a.id",
        )?;
        let rows = query
            .query_map([plan], action_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>> {
        let connection = self.lock();
        Ok(connection
            .prepare_cached(
                "SELECT id, incident, action, at, applied_at, outcome FROM incident_actions WHERE id = ?1",
            )?
            .query_row([id], action_row)
            .optional()?)
    }
}

pub(super) fn write_crisis(tx: &Transaction, write: &CrisisWrite, now: Millis) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO crisis_plans (name, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![write.plan, write.state, now])?;
    let mut incident = tx.prepare_cached(
        "INSERT INTO incidents (id, plan, status, level, opened_at, resolved_at, report, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, level = excluded.level,
             resolved_at = excluded.resolved_at, report = excluded.report, updated_at = excluded.updated_at",
    )?;
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
    let mut applied = tx.prepare_cached(
        "UPDATE incident_actions SET applied_at = ?2, outcome = ?3 WHERE id = ?1 AND applied_at IS NULL",
    )?;
    for (id, outcome) in &write.applied {
        applied.execute(params![id, now, outcome])?;
    }
    if let Some(before) = write.forget_mentions_before {
        tx.prepare_cached("DELETE FROM crisis_mentions WHERE plan = ?1 AND at < ?2")?
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
