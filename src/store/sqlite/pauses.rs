//! Pauses, and the sends they hold.

use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::runs::settle;
use crate::store::model::*;
use crate::store::{PauseStore, StoreError, StoreResult};

impl PauseStore for SqliteStore {
    fn pause(&self, pause: &NewPause, now: Millis) -> StoreResult<i64> {
        self.transaction(|tx| insert_pause(tx, pause, now))
    }

    fn resume(&self, scope: &PauseScope, by: &str, now: Millis) -> StoreResult<usize> {
        self.transaction(|tx| lift_pauses(tx, scope, by, None, now))
    }

    fn pauses(&self, now: Millis) -> StoreResult<Vec<PauseView>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT id, scope, name, until, reason, paused_by, created_at FROM pauses
              WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1) ORDER BY id",
        )?;
        let rows = query
            .query_map([now], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, kind, name, until, reason, by, created_at)| {
                let scope = PauseScope::from_parts(&kind, name).ok_or_else(|| {
                    StoreError::Corrupt(format!("pause {id} has an unknown scope `{kind}`"))
                })?;
                Ok(PauseView {
                    id,
                    scope,
                    until,
                    reason,
                    by,
                    created_at,
                })
            })
            .collect()
    }

    fn held_sends(&self) -> StoreResult<Vec<HeldSend>> {
        let connection = self.lock();
        let mut query = connection.prepare_cached(
            "SELECT o.id, o.run_id, r.playbook, r.item, r.fire_at, o.account
               FROM outbox o JOIN runs r ON r.id = o.run_id
              WHERE o.state = 'held' ORDER BY o.id",
        )?;
        let rows = query.query_map([], |row| {
            Ok(HeldSend {
                id: row.get(0)?,
                run_id: row.get(1)?,
                key: ItemKey::new(row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                fire_at: row.get(4)?,
                account: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn release_held(&self, releases: &[(OutboxId, Release)], now: Millis) -> StoreResult<()> {
        if releases.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            let mut runs = Vec::new();
            {
                let mut send = tx.prepare_cached(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, note = NULL, updated_at = ?2
                      WHERE id = ?1 AND state = 'held' RETURNING run_id",
                )?;
                let mut skip = tx.prepare_cached(
                    "UPDATE outbox SET state = 'skipped', note = ?2, updated_at = ?3
                      WHERE id = ?1 AND state = 'held' RETURNING run_id",
                )?;
                for (id, release) in releases {
                    let run_id: Option<i64> = match release {
                        Release::Send => send
                            .query_row(params![id, now], |row| row.get(0))
                            .optional()?,
                        Release::Skip { reason } => skip
                            .query_row(params![id, reason, now], |row| row.get(0))
                            .optional()?,
                    };
                    runs.extend(run_id);
                }
            }
            runs.sort_unstable();
            runs.dedup();
            for run_id in runs {
                settle(tx, run_id, now)?;
            }
            Ok(())
        })
    }
}

pub(super) fn insert_pause(tx: &Transaction, pause: &NewPause, now: Millis) -> StoreResult<i64> {
    Ok(tx.query_row(
        "INSERT INTO pauses (scope, name, until, reason, paused_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![
            pause.scope.kind(),
            pause.scope.name(),
            pause.until,
            pause.reason,
            pause.by,
            now
        ],
        |row| row.get(0),
    )?)
}

/// Lifts the pauses of `scope` in force (every one for `All`), only those `paused_by` set
/// when given.
pub(super) fn lift_pauses(
    tx: &Transaction,
    scope: &PauseScope,
    by: &str,
    paused_by: Option<&str>,
    now: Millis,
) -> StoreResult<usize> {
    let all = *scope == PauseScope::All;
    Ok(tx.execute(
        "UPDATE pauses SET lifted_at = ?1, lifted_by = ?2
          WHERE lifted_at IS NULL AND (until IS NULL OR until > ?1)
            AND (?3 OR (scope = ?4 AND name IS ?5))
            AND (?6 IS NULL OR paused_by = ?6)",
        params![now, by, all, scope.kind(), scope.name(), paused_by],
    )?)
}
